//! Job leases (one node runs each job) and the expiry sweep.

use crate::entities::{customer, package};
use crate::{SqlStore, audit, corrupt, db_err, to_db};
use async_trait::async_trait;
use broadnet_domain::{CustomerStatus, Money, billing};
use broadnet_store::{Actor, Customer, JobRepo, JobRun, JobStatus, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

impl SqlStore {
    /// At expiry, credit that covers the customer's package pays the next period(s)
    /// (rule 6), audited, with a `customer.renewed` outbox entry. False when the
    /// credit does not cover it.
    async fn renew_from_credit(
        &self,
        txn: &DatabaseTransaction,
        actor: &Actor,
        c: &Customer,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let Some(pid) = c.package_id else { return Ok(false) };
        let Some(pkg) = package::Entity::find_by_id(pid).one(txn).await.map_err(db_err)? else { return Ok(false) };
        let price = Money::from_minor(pkg.price_minor).map_err(|_| corrupt("price", &pkg.price_minor.to_string()))?;
        let Some(r) = billing::renew_from_credit(c.balance, price, pkg.duration_minutes, c.expires_at, now) else {
            return Ok(false);
        };
        let Some(until) = r.until else { return Ok(false) };
        customer::Entity::update_many()
            .col_expr(customer::Column::ExpiresAt, Expr::value(to_db(until)))
            .col_expr(customer::Column::BalanceMinor, Expr::value(r.balance_after.minor()))
            .col_expr(customer::Column::UpdatedAt, Expr::value(to_db(now)))
            .filter(customer::Column::Id.eq(c.id))
            .exec(txn)
            .await
            .map_err(db_err)?;
        let detail = |expires: Option<DateTime<Utc>>, balance: Money| serde_json::json!({"expires_at": expires, "balance": balance.minor()});
        let mut after = detail(Some(until), r.balance_after);
        if let serde_json::Value::Object(o) = &mut after {
            o.insert("periods".into(), r.periods.into());
            o.insert("applied_minor".into(), r.applied.minor().into());
        }
        audit(
            txn,
            actor,
            "customer.renew_from_credit",
            "customer",
            Some(c.id.to_string()),
            Some(detail(c.expires_at, c.balance)),
            Some(after),
        )
        .await?;
        crate::outbox::new_row(&broadnet_store::NewOutbox {
            kind: broadnet_store::OutboxKind::CustomerRenewed,
            payload: serde_json::json!({"customer_id": c.id, "expires_at": until, "periods": r.periods,
                "applied_minor": r.applied.minor(), "balance_minor": r.balance_after.minor()}),
            dedupe_key: Some(format!("customer.renewed:{}:{}", c.id, until.timestamp())),
            at: now,
        })
        .insert(txn)
        .await
        .map_err(db_err)?;
        Ok(true)
    }
}

#[async_trait]
impl JobRepo for SqlStore {
    async fn try_lease(&self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<bool> {
        let table = Alias::new("job_leases");
        let update = Query::update()
            .table(table.clone())
            .value(Alias::new("holder"), holder)
            .value(Alias::new("lease_until"), to_db(until))
            .and_where(Expr::col(Alias::new("name")).eq(name))
            .and_where(
                Expr::col(Alias::new("lease_until")).lt(to_db(now)).or(Expr::col(Alias::new("holder")).eq(holder)),
            )
            .to_owned();
        let res = self.write.execute(&update).await.map_err(db_err)?;
        if res.rows_affected() == 1 {
            return Ok(true);
        }
        let insert = Query::insert()
            .into_table(table)
            .columns([Alias::new("name"), Alias::new("holder"), Alias::new("lease_until")])
            .values_panic([name.into(), holder.into(), to_db(until).into()])
            .to_owned();
        match self.write.execute(&insert).await.map_err(db_err) {
            Ok(_) => Ok(true),
            // The row exists and someone else holds it.
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn expire_customers(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<Customer>> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let due = customer::Entity::find()
            .filter(customer::Column::Status.eq(CustomerStatus::Active.as_str()))
            .filter(customer::Column::ExpiresAt.lte(to_db(now)))
            .order_by_asc(customer::Column::ExpiresAt)
            .limit(limit)
            .all(&txn)
            .await
            .map_err(db_err)?;
        let actor = Actor::system("expiry", now);
        let mut out = Vec::with_capacity(due.len());
        for m in due {
            let before = crate::customers::to_record(m.clone())?;
            if self.renew_from_credit(&txn, &actor, &before, now).await? {
                continue;
            }
            let mut am = m.into_active_model();
            am.status = Set(CustomerStatus::Expired.as_str().to_string());
            am.updated_at = Set(to_db(now));
            let after = crate::customers::to_record(am.update(&txn).await.map_err(db_err)?)?;
            let detail = |c: &Customer| serde_json::json!({"status": c.status, "expires_at": c.expires_at});
            audit(
                &txn,
                &actor,
                "customer.expire",
                "customer",
                Some(after.id.to_string()),
                Some(detail(&before)),
                Some(detail(&after)),
            )
            .await?;
            // Rule 2: disconnecting live sessions and telling the customer go out through
            // the outbox, committed with the change.
            crate::outbox::new_row(&broadnet_store::NewOutbox {
                kind: broadnet_store::OutboxKind::CustomerExpired,
                payload: serde_json::json!({"customer_id": after.id, "expires_at": before.expires_at}),
                dedupe_key: Some(format!(
                    "customer.expired:{}:{}",
                    after.id,
                    before.expires_at.map(|e| e.timestamp()).unwrap_or_default()
                )),
                at: now,
            })
            .insert(&txn)
            .await
            .map_err(db_err)?;
            out.push(after);
        }
        txn.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn customers_expiring(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        after_id: i64,
        limit: u64,
    ) -> StoreResult<Vec<Customer>> {
        let rows = customer::Entity::find()
            .filter(customer::Column::Status.eq(CustomerStatus::Active.as_str()))
            .filter(customer::Column::ExpiresAt.gt(to_db(after)))
            .filter(customer::Column::ExpiresAt.lte(to_db(until)))
            .filter(customer::Column::Id.gt(after_id))
            .order_by_asc(customer::Column::Id)
            .limit(limit)
            .all(&self.read)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(crate::customers::to_record).collect()
    }

    async fn record_job_run(&self, run: &JobRun) -> StoreResult<()> {
        let table = Alias::new("job_runs");
        let error = run.error.as_deref().map(|e| e.chars().take(2000).collect::<String>());
        let mut update = Query::update();
        update
            .table(table.clone())
            .value(Alias::new("holder"), run.holder.as_str())
            .value(Alias::new("last_run_at"), to_db(run.at))
            .value(Alias::new("next_run_at"), to_db(run.next_at))
            .value(Alias::new("last_run_ok"), error.is_none())
            .and_where(Expr::col(Alias::new("name")).eq(run.name.as_str()));
        if let Some(e) = &error {
            update.value(Alias::new("last_error"), e.as_str()).value(Alias::new("last_error_at"), to_db(run.at));
        }
        if self.write.execute(&update).await.map_err(db_err)?.rows_affected() == 1 {
            return Ok(());
        }
        let insert = Query::insert()
            .into_table(table)
            .columns(
                ["name", "holder", "last_run_at", "next_run_at", "last_run_ok", "last_error", "last_error_at"]
                    .map(Alias::new),
            )
            .values_panic([
                run.name.as_str().into(),
                run.holder.as_str().into(),
                to_db(run.at).into(),
                to_db(run.next_at).into(),
                error.is_none().into(),
                error.clone().into(),
                error.as_ref().map(|_| to_db(run.at)).into(),
            ])
            .to_owned();
        match self.write.execute(&insert).await.map_err(db_err) {
            Ok(_) => Ok(()),
            // Another node inserted it first (MySQL reports an unchanged row as 0 affected too).
            Err(StoreError::Conflict(_)) => self.write.execute(&update).await.map(|_| ()).map_err(db_err),
            Err(e) => Err(e),
        }
    }

    async fn list_jobs(&self) -> StoreResult<Vec<JobStatus>> {
        let ts = |row: &sea_orm::QueryResult, col: &str| -> StoreResult<Option<DateTime<Utc>>> {
            row.try_get::<Option<chrono::NaiveDateTime>>("", col).map(|t| t.map(crate::from_db)).map_err(db_err)
        };
        let text = |row: &sea_orm::QueryResult, col: &str| -> StoreResult<Option<String>> {
            row.try_get::<Option<String>>("", col).map_err(db_err)
        };
        let leases = Query::select()
            .columns(["name", "holder", "lease_until"].map(Alias::new))
            .from(Alias::new("job_leases"))
            .to_owned();
        let mut jobs: std::collections::BTreeMap<String, JobStatus> = std::collections::BTreeMap::new();
        for row in self.read.query_all(&leases).await.map_err(db_err)? {
            let name = text(&row, "name")?.unwrap_or_default();
            let j = jobs.entry(name.clone()).or_insert_with(|| JobStatus { name, ..JobStatus::default() });
            j.holder = text(&row, "holder")?;
            j.lease_until = ts(&row, "lease_until")?;
        }
        let runs = Query::select()
            .columns(
                ["name", "holder", "last_run_at", "next_run_at", "last_run_ok", "last_error", "last_error_at"]
                    .map(Alias::new),
            )
            .from(Alias::new("job_runs"))
            .to_owned();
        for row in self.read.query_all(&runs).await.map_err(db_err)? {
            let name = text(&row, "name")?.unwrap_or_default();
            let j = jobs.entry(name.clone()).or_insert_with(|| JobStatus { name, ..JobStatus::default() });
            j.last_run_at = ts(&row, "last_run_at")?;
            j.next_run_at = ts(&row, "next_run_at")?;
            j.last_run_ok = Some(row.try_get::<bool>("", "last_run_ok").map_err(db_err)?);
            j.last_error = text(&row, "last_error")?;
            j.last_error_at = ts(&row, "last_error_at")?;
            if j.holder.is_none() {
                j.holder = text(&row, "holder")?;
            }
        }
        Ok(jobs.into_values().collect())
    }
}
