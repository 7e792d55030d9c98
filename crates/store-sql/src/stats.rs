//! The dashboard's figures: each one aggregate statement, portable across SQLite,
//! PostgreSQL and MySQL (time buckets are `SUM(CASE …)` columns over bounds the
//! caller chose in the ISP's zone, so no dialect's date functions are needed).

use crate::{SqlStore, corrupt, db_err, to_db};
use async_trait::async_trait;
use broadnet_domain::{PaymentChannel, PaymentProvider, PaymentStatus};
use broadnet_store::{DashboardStats, OutboxKind, OutboxStatus, RevenueRow, StatsQuery, StatsRepo, StoreResult};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};

/// A statement being written: `?` placeholders become `$n` on PostgreSQL. Values
/// must be pushed in the order their placeholders appear in the text (SQLite's and
/// MySQL's `?` are positional).
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Sql {
        Sql { backend, text: String::new(), values: Vec::new() }
    }

    /// A placeholder for `v`.
    fn p(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_string(),
        }
    }

    fn t(&mut self, t: DateTime<Utc>) -> String {
        self.p(to_db(t))
    }

    /// A sum as a 64-bit integer on every backend (PostgreSQL's SUM of BIGINT is
    /// NUMERIC, MySQL's DECIMAL).
    fn int(&self, expr: &str) -> String {
        match self.backend {
            DbBackend::Postgres => format!("CAST({expr} AS BIGINT)"),
            DbBackend::MySql => format!("CAST({expr} AS SIGNED)"),
            _ => expr.to_string(),
        }
    }

    /// (Statements that use it group by position, `GROUP BY 1, 2`: its placeholders
    /// are written once.)
    ///
    /// The index of the bucket `col` falls in, as a balanced tree of `CASE`s (five
    /// comparisons a row for 30 buckets, where one `SUM(CASE …)` column per bucket
    /// costs 60): `bounds[i] <= col < bounds[i+1]` gives `i`; rows before
    /// `bounds[0]` must be filtered out by the caller.
    fn bucket_key(&mut self, col: &str, bounds: &[DateTime<Utc>], first: usize) -> String {
        if bounds.len() <= 1 {
            return first.to_string();
        }
        let mid = bounds.len() / 2;
        let at = self.t(bounds[mid]);
        let left = self.bucket_key(col, &bounds[..mid], first);
        let right = self.bucket_key(col, &bounds[mid..], first + mid);
        format!("CASE WHEN {col} < {at} THEN {left} ELSE {right} END")
    }

    fn statement(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

fn int(row: &QueryResult, col: &str) -> StoreResult<i64> {
    row.try_get::<Option<i64>>("", col).map(Option::unwrap_or_default).map_err(db_err)
}

fn count(row: &QueryResult, col: &str) -> StoreResult<u64> {
    Ok(u64::try_from(int(row, col)?).unwrap_or(0))
}

fn text(row: &QueryResult, col: &str) -> StoreResult<String> {
    row.try_get::<Option<String>>("", col).map(Option::unwrap_or_default).map_err(db_err)
}

fn buckets_of(row: &QueryResult, n: usize) -> StoreResult<Vec<i64>> {
    (0..n).map(|i| int(row, &format!("b{i}"))).collect()
}

impl SqlStore {
    async fn rows(&self, sql: Sql) -> StoreResult<Vec<QueryResult>> {
        self.read.query_all_raw(sql.statement()).await.map_err(db_err)
    }

    async fn one(&self, sql: Sql) -> StoreResult<QueryResult> {
        let mut rows = self.rows(sql).await?;
        rows.pop().ok_or_else(|| corrupt("aggregate", "no row"))
    }

    fn sql(&self, text: &str) -> Sql {
        let mut s = Sql::new(self.backend);
        s.text = text.to_string();
        s
    }
}

#[async_trait]
impl StatsRepo for SqlStore {
    async fn dashboard_stats(&self, q: &StatsQuery) -> StoreResult<DashboardStats> {
        let mut out = DashboardStats::default();

        let sql = self.sql("SELECT status, COUNT(*) AS n FROM customers GROUP BY status ORDER BY status");
        for row in self.rows(sql).await? {
            out.customers_by_status.push((text(&row, "status")?, count(&row, "n")?));
        }

        let mut sql = Sql::new(self.backend);
        let (now, until) = (sql.t(q.now), sql.t(q.expiring_until));
        sql.text = format!(
            "SELECT COUNT(*) AS n FROM customers WHERE status = 'active' AND expires_at > {now} AND expires_at <= {until}"
        );
        out.expiring = count(&self.one(sql).await?, "n")?;

        // A session's customer by the login key (usernames are unique regardless of case).
        let sql = self.sql(
            "SELECT COALESCE(c.customer_type, 'other') AS t, COUNT(*) AS n FROM radacct r \
             LEFT JOIN customers c ON c.username_key = LOWER(r.username) \
             WHERE r.acctstoptime IS NULL GROUP BY COALESCE(c.customer_type, 'other') ORDER BY 1",
        );
        for row in self.rows(sql).await? {
            out.online_by_type.push((text(&row, "t")?, count(&row, "n")?));
        }

        if let Some(&first) = q.days.first() {
            // Grouped by day (a bucket key per row), not one SUM column per day. The
            // month may begin before the first day: its own sum, over its own rows.
            let mut sql = Sql::new(self.backend);
            let paybill = format!(
                "CASE WHEN checkout_request_id LIKE '{}%' OR checkout_request_id LIKE 'unmatched:%' THEN 1 ELSE 0 END",
                PaymentChannel::PAYBILL_KEY_PREFIX
            );
            let flag = sql.int(&paybill);
            let from = first.min(q.month_start);
            let mut bounds = vec![from];
            bounds.extend(q.days.iter().copied().filter(|d| *d > from));
            // Bucket 0 is [from, days[0]) when the month began earlier.
            let offset = usize::from(from < first);
            let key = sql.bucket_key("completed_at", &bounds, 0);
            let key = sql.int(&key);
            let month = sql.t(q.month_start);
            let month = sql.int(&format!("SUM(CASE WHEN completed_at >= {month} THEN amount_minor ELSE 0 END)"));
            let sum = sql.int("SUM(amount_minor)");
            let since = sql.t(from);
            sql.text = format!(
                "SELECT provider, {flag} AS paybill, {key} AS bucket, {sum} AS total, {month} AS month FROM payments \
                 WHERE status = 'completed' AND completed_at >= {since} GROUP BY 1, 2, 3"
            );
            let rows = self.rows(sql).await?;
            for row in rows {
                let p = text(&row, "provider")?;
                let provider = PaymentProvider::parse(&p).map_err(|_| corrupt("payment provider", &p))?;
                let paybill = int(&row, "paybill")? == 1;
                let r = match out.revenue.iter_mut().find(|r| r.provider == provider && r.paybill == paybill) {
                    Some(r) => r,
                    None => {
                        out.revenue.push(RevenueRow { provider, paybill, per_day: vec![0; q.days.len()], month: 0 });
                        out.revenue.last_mut().ok_or_else(|| corrupt("revenue", "row"))?
                    }
                };
                let bucket = usize::try_from(int(&row, "bucket")?).unwrap_or(0);
                if let Some(day) = bucket.checked_sub(offset).and_then(|i| r.per_day.get_mut(i)) {
                    *day += int(&row, "total")?;
                }
                r.month += int(&row, "month")?;
            }
        }

        if let Some(&today) = q.days.last() {
            // Filtered by time only, so the created_at index is the one used; the
            // provider and the paybill keys are told apart per group.
            let mut sql = Sql::new(self.backend);
            let prompt = format!(
                "CASE WHEN provider = 'mpesa' AND checkout_request_id NOT LIKE '{}%' \
                 AND checkout_request_id NOT LIKE 'unmatched:%' THEN 1 ELSE 0 END",
                PaymentChannel::PAYBILL_KEY_PREFIX
            );
            let flag = sql.int(&prompt);
            let from = sql.t(today);
            sql.text = format!(
                "SELECT {flag} AS prompt, status, result_code, COUNT(*) AS n FROM payments WHERE created_at >= {from} \
                 AND checkout_request_id IS NOT NULL GROUP BY 1, 2, 3"
            );
            for row in self.rows(sql).await? {
                if int(&row, "prompt")? != 1 {
                    continue;
                }
                let s = text(&row, "status")?;
                let status = PaymentStatus::parse(&s).map_err(|_| corrupt("payment status", &s))?;
                let code = row.try_get::<Option<String>>("", "result_code").map_err(db_err)?;
                out.stk_today.push((status, code, count(&row, "n")?));
            }

            let mut sql = Sql::new(self.backend);
            let (kind, from) = (sql.p(OutboxKind::Sms.as_str()), sql.t(today));
            sql.text = format!(
                "SELECT status, COUNT(*) AS n FROM outbox WHERE kind = {kind} AND created_at >= {from} GROUP BY status"
            );
            for row in self.rows(sql).await? {
                let s = text(&row, "status")?;
                let status = OutboxStatus::parse(&s).map_err(|_| corrupt("outbox status", &s))?;
                out.sms_today.push((status, count(&row, "n")?));
            }
        }

        let mut sql = Sql::new(self.backend);
        let from = sql.t(q.now - chrono::Duration::hours(1));
        sql.text =
            format!("SELECT COUNT(*) AS n FROM radpostauth WHERE authdate >= {from} AND reply = 'Access-Reject'");
        out.rejects_last_hour = count(&self.one(sql).await?, "n")?;

        if let Some(&first) = q.months.first() {
            let mut sql = Sql::new(self.backend);
            let key = sql.bucket_key("created_at", &q.months, 0);
            let key = sql.int(&key);
            let from = sql.t(first);
            sql.text =
                format!("SELECT {key} AS bucket, COUNT(*) AS n FROM customers WHERE created_at >= {from} GROUP BY 1");
            let rows = self.rows(sql).await?;
            out.new_customers = vec![0; q.months.len()];
            for row in rows {
                let bucket = usize::try_from(int(&row, "bucket")?).unwrap_or(0);
                if let Some(n) = out.new_customers.get_mut(bucket) {
                    *n += count(&row, "n")?;
                }
            }
        }

        if let Some(&first) = q.hours.first() {
            // Open at some moment of an hour: started before its end, not stopped
            // before its start. Only sessions open now or stopped since the first
            // hour are read (both through the acctstoptime index).
            let mut sql = Sql::new(self.backend);
            let mut cols = Vec::with_capacity(q.hours.len());
            for (i, start) in q.hours.iter().enumerate() {
                // (Placeholders are pushed in the order they appear: MySQL's `?` are positional.)
                let started = match q.hours.get(i + 1) {
                    Some(stop) => format!("acctstarttime < {}", sql.t(*stop)),
                    None => "1 = 1".to_string(),
                };
                let a = sql.t(*start);
                let sum = sql.int(&format!(
                    "SUM(CASE WHEN {started} AND (acctstoptime IS NULL OR acctstoptime >= {a}) THEN 1 ELSE 0 END)"
                ));
                cols.push(format!("{sum} AS b{i}"));
            }
            let from = sql.t(first);
            sql.text =
                format!("SELECT {} FROM radacct WHERE acctstoptime IS NULL OR acctstoptime >= {from}", cols.join(", "));
            let row = self.one(sql).await?;
            out.sessions_per_hour = buckets_of(&row, q.hours.len())?.into_iter().map(|n| n.max(0) as u64).collect();
        }
        Ok(out)
    }
}
