//! Routers as RADIUS clients, sessions (`radacct`) and the authentication log (`radpostauth`).

use crate::entities::{customer, package, radacct, radpostauth, router};
use crate::{SqlStore, audit, db_err, from_db, page_of, to_db};
use async_trait::async_trait;
use broadnet_domain::ServiceType;
use broadnet_store::{
    AcctEvent, AcctKind, Actor, Customer, NewRouter, Package, Page, PostAuth, PostAuthQuery, RadSession, RadiusClient,
    RadiusRepo, RouterRepo, SessionQuery, StoreError, StoreResult,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, IdenStatic,
    IntoActiveModel, Iterable, PaginatorTrait, QueryFilter, QueryOrder, Set, Statement, TransactionTrait,
};

#[async_trait]
impl RouterRepo for SqlStore {
    async fn router_exists(&self, id: i64) -> StoreResult<bool> {
        let n = router::Entity::find_by_id(id).count(&self.read).await.map_err(db_err)?;
        Ok(n > 0)
    }

    async fn create_router(&self, actor: &Actor, new: NewRouter) -> StoreResult<i64> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let now = to_db(actor.at);
        let m = router::ActiveModel {
            name: Set(new.name.clone()),
            nas_ip: Set(new.nas_ip.clone()),
            radius_secret: Set(new.radius_secret),
            service_types: Set(new.service_types.as_str().to_string()),
            bridge_ports: Set(String::new()),
            anti_sharing: Set(false),
            require_message_authenticator: Set(new.require_message_authenticator),
            api_tls: Set(false),
            api_tls_insecure: Set(false),
            state: Set(broadnet_domain::RouterState::Unprovisioned.as_str().to_string()),
            online: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(db_err)?;
        let after = serde_json::json!({"name": new.name, "nas_ip": new.nas_ip, "radius_secret": "(secret)",
            "service_types": new.service_types.as_str(), "require_message_authenticator": new.require_message_authenticator});
        audit(&txn, actor, "router.create", "router", Some(m.id.to_string()), None, Some(after)).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(m.id)
    }

    async fn get_router(&self, id: i64) -> StoreResult<broadnet_store::Router> {
        crate::routers::get(&self.read, id).await
    }

    async fn list_routers(&self) -> StoreResult<Vec<broadnet_store::Router>> {
        crate::routers::list(&self.read).await
    }

    async fn update_router(
        &self,
        actor: &Actor,
        id: i64,
        patch: broadnet_store::RouterPatch,
    ) -> StoreResult<broadnet_store::Router> {
        crate::routers::update(self, actor, id, patch).await
    }

    async fn delete_router(&self, actor: &Actor, id: i64) -> StoreResult<()> {
        crate::routers::delete(self, actor, id).await
    }

    async fn record_router_health(&self, id: i64, health: broadnet_store::RouterHealth) -> StoreResult<()> {
        crate::routers::record_health(&self.write, id, health).await
    }

    async fn create_provision_token(
        &self,
        router_id: i64,
        jti: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        crate::routers::create_token(&self.write, router_id, jti, expires_at, now).await
    }

    async fn use_provision_token(
        &self,
        jti: &str,
        now: DateTime<Utc>,
        fetched_by: Option<&str>,
    ) -> StoreResult<Result<i64, broadnet_store::TokenRefusal>> {
        crate::routers::use_token(&self.write, jti, now, fetched_by).await
    }

    async fn callback_provision_token(
        &self,
        jti: &str,
        now: DateTime<Utc>,
        from: &str,
    ) -> StoreResult<Result<i64, broadnet_store::TokenRefusal>> {
        crate::routers::callback_token(&self.write, jti, now, from).await
    }

    async fn radius_clients(&self) -> StoreResult<Vec<RadiusClient>> {
        let rows = router::Entity::find()
            .filter(router::Column::NasIp.is_not_null())
            .order_by_asc(router::Column::Id)
            .all(&self.read)
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(RadiusClient {
                    router_id: r.id,
                    name: r.name,
                    nas_ip: r.nas_ip?,
                    secret: r.radius_secret,
                    service_types: ServiceType::parse(&r.service_types).unwrap_or(ServiceType::Both),
                    require_message_authenticator: r.require_message_authenticator,
                })
            })
            .collect())
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn new_row(kind: AcctKind, e: &AcctEvent) -> radacct::ActiveModel {
    let at = to_db(e.at);
    // A session first heard of mid-way started `session_time` before this event.
    let start = match kind {
        AcctKind::Start => e.at,
        _ => e.at - chrono::Duration::seconds(e.session_time.unwrap_or(0)),
    };
    radacct::ActiveModel {
        acctsessionid: Set(e.session_id.clone()),
        acctuniqueid: Set(e.unique_id.clone()),
        username: Set(e.username.clone()),
        nasipaddress: Set(e.nas_ip.clone()),
        nasportid: Set(e.nas_port_id.clone()),
        nasporttype: Set(e.nas_port_type.clone()),
        acctstarttime: Set(Some(to_db(start))),
        acctupdatetime: Set(Some(at)),
        acctstoptime: Set((kind == AcctKind::Stop).then_some(at)),
        acctsessiontime: Set(Some(e.session_time.unwrap_or(0))),
        acctinputoctets: Set(Some(e.input_octets.unwrap_or(0))),
        acctoutputoctets: Set(Some(e.output_octets.unwrap_or(0))),
        calledstationid: Set(e.called_station_id.clone()),
        callingstationid: Set(e.calling_station_id.clone()),
        acctterminatecause: Set(e.terminate_cause.clone()),
        servicetype: Set(e.service_type.clone()),
        framedprotocol: Set(e.framed_protocol.clone()),
        framedipaddress: Set(e.framed_ip.clone()),
        class: Set(e.class.clone()),
        router_id: Set(e.router_id),
        customer_id: Set(e.customer_id),
        ..Default::default()
    }
}

pub(crate) fn to_session(m: radacct::Model) -> RadSession {
    RadSession {
        id: m.radacctid,
        unique_id: m.acctuniqueid,
        session_id: m.acctsessionid,
        username: m.username,
        nas_ip: m.nasipaddress,
        router_id: m.router_id,
        customer_id: m.customer_id,
        started_at: m.acctstarttime.map(from_db),
        updated_at: m.acctupdatetime.map(from_db),
        stopped_at: m.acctstoptime.map(from_db),
        session_time: m.acctsessiontime,
        input_octets: m.acctinputoctets,
        output_octets: m.acctoutputoctets,
        framed_ip: m.framedipaddress,
        calling_station_id: m.callingstationid,
        terminate_cause: m.acctterminatecause,
    }
}

impl SqlStore {
    /// `SELECT c.* AS c_…, p.* AS p_…, (open sessions)`, quoted for the backend.
    /// By the username as typed, by its lower-case key, or by a bound device's MAC.
    pub(crate) fn auth_lookup_sql(&self, by: LookupBy) -> &'static str {
        static SQL: [std::sync::OnceLock<String>; 9] = [const { std::sync::OnceLock::new() }; 9];
        let slot = match self.backend {
            DbBackend::MySql => 0,
            DbBackend::Postgres => 1,
            _ => 2,
        } + 3 * by as usize;
        SQL[slot].get_or_init(|| self.build_auth_lookup_sql(by))
    }

    fn build_auth_lookup_sql(&self, by: LookupBy) -> String {
        let q = if self.backend == DbBackend::MySql { '`' } else { '"' };
        let mut cols = Vec::new();
        for c in customer::Column::iter() {
            let n = c.as_str();
            cols.push(format!("c.{q}{n}{q} AS {q}c_{n}{q}"));
        }
        for c in package::Column::iter() {
            let n = c.as_str();
            cols.push(format!("p.{q}{n}{q} AS {q}p_{n}{q}"));
        }
        let param = if self.backend == DbBackend::Postgres { "$1" } else { "?" };
        let open = "(SELECT COUNT(*) FROM radacct a WHERE a.username = c.username AND a.acctstoptime IS NULL) AS open_sessions";
        let cols = cols.join(", ");
        match by {
            LookupBy::Name | LookupBy::Key => format!(
                "SELECT {cols}, {open} FROM customers c LEFT JOIN packages p ON p.id = c.package_id WHERE c.{} = {param}",
                if by == LookupBy::Key { "username_key" } else { "username" }
            ),
            // One round trip for a MAC login: the device's account, and the customer if it is one.
            LookupBy::Device => format!(
                "SELECT d.username_key AS d_key, {cols}, {open} FROM hotspot_devices d \
                 LEFT JOIN customers c ON c.username_key = d.username_key \
                 LEFT JOIN packages p ON p.id = c.package_id WHERE d.mac = {param}"
            ),
        }
    }

    /// Applies a batch in one transaction (one commit, one fsync): group commit.
    async fn apply_accounting(&self, items: &[(AcctKind, AcctEvent)]) -> StoreResult<()> {
        let txn = self.write.begin().await.map_err(db_err)?;
        for (kind, e) in items {
            apply_one(&txn, *kind, e).await?;
        }
        txn.commit().await.map_err(db_err)
    }
}

async fn apply_one(txn: &sea_orm::DatabaseTransaction, kind: AcctKind, e: &AcctEvent) -> StoreResult<()> {
    {
        let existing = radacct::Entity::find()
            .filter(radacct::Column::Acctuniqueid.eq(e.unique_id.as_str()))
            .one(txn)
            .await
            .map_err(db_err)?;
        let Some(row) = existing else {
            let mut am = new_row(kind, e);
            if e.customer_id.is_none() {
                // Linked once, when the session row is created; later packets only update it.
                let c = customer::Entity::find()
                    .filter(customer::Column::Username.eq(e.username.as_str()))
                    .one(txn)
                    .await
                    .map_err(db_err)?;
                am.customer_id = Set(c.map(|c| c.id));
            }
            am.insert(txn).await.map_err(db_err)?;
            return Ok(());
        };
        let at = to_db(e.at);
        let stopped = row.acctstoptime.is_some();
        // Counters are cumulative: a late or repeated packet never moves them back.
        let newer = e.session_time.unwrap_or(0) >= row.acctsessiontime.unwrap_or(0);
        let mut am = row.clone().into_active_model();
        match kind {
            AcctKind::Start => {
                // A Start after interim/stop (reordered) only fills what is missing.
                if row.framedipaddress.is_none() {
                    am.framedipaddress = Set(e.framed_ip.clone());
                }
                if row.callingstationid.is_none() {
                    am.callingstationid = Set(e.calling_station_id.clone());
                }
                if row.acctstarttime.is_none_or(|s| at < s) {
                    am.acctstarttime = Set(Some(at));
                }
            }
            AcctKind::Interim => {
                if !stopped && newer {
                    if let (Some(prev), true) = (row.acctupdatetime, at > row.acctupdatetime.unwrap_or(at)) {
                        am.acctinterval = Set(Some((at - prev).num_seconds().clamp(0, i32::MAX as i64) as i32));
                    }
                    am.acctupdatetime = Set(Some(at));
                    am.acctsessiontime = Set(max_opt(row.acctsessiontime, e.session_time));
                    am.acctinputoctets = Set(max_opt(row.acctinputoctets, e.input_octets));
                    am.acctoutputoctets = Set(max_opt(row.acctoutputoctets, e.output_octets));
                    if e.framed_ip.is_some() {
                        am.framedipaddress = Set(e.framed_ip.clone());
                    }
                }
            }
            AcctKind::Stop => {
                if !stopped {
                    am.acctstoptime = Set(Some(at));
                    am.acctupdatetime = Set(Some(at));
                    am.acctterminatecause = Set(e.terminate_cause.clone());
                }
                am.acctsessiontime = Set(max_opt(row.acctsessiontime, e.session_time));
                am.acctinputoctets = Set(max_opt(row.acctinputoctets, e.input_octets));
                am.acctoutputoctets = Set(max_opt(row.acctoutputoctets, e.output_octets));
            }
        }
        if am.is_changed() {
            am.update(txn).await.map_err(db_err)?;
        }
        Ok(())
    }
}

#[async_trait]
impl RadiusRepo for SqlStore {
    async fn record_accounting(&self, kind: AcctKind, event: AcctEvent) -> StoreResult<()> {
        self.record_accounting_batch(vec![(kind, event)]).await
    }

    async fn record_accounting_batch(&self, items: Vec<(AcctKind, AcctEvent)>) -> StoreResult<()> {
        let mut attempt = 0u64;
        loop {
            match self.apply_accounting(&items).await {
                // Two nodes inserting the same new session at once (the loser's retry
                // updates), or a deadlock victim: the batch was rolled back whole.
                Err(StoreError::Conflict(_)) if attempt < 3 => {}
                Err(e) if e.is_retryable() && attempt < 5 => {
                    tokio::time::sleep(std::time::Duration::from_millis(5 * (attempt + 1))).await;
                }
                other => return other,
            }
            attempt += 1;
        }
    }

    async fn close_nas_sessions(&self, nas_ip: &str, at: DateTime<Utc>, cause: &str) -> StoreResult<u64> {
        let res = radacct::Entity::update_many()
            .col_expr(radacct::Column::Acctstoptime, Expr::value(to_db(at)))
            .col_expr(radacct::Column::Acctterminatecause, Expr::value(cause))
            .filter(radacct::Column::Acctstoptime.is_null())
            .filter(radacct::Column::Nasipaddress.eq(nas_ip))
            .filter(radacct::Column::Acctstarttime.lte(to_db(at)))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected)
    }

    async fn close_stale_sessions(&self, stale_before: DateTime<Utc>, at: DateTime<Utc>) -> StoreResult<u64> {
        let res = radacct::Entity::update_many()
            .col_expr(radacct::Column::Acctstoptime, Expr::value(to_db(at)))
            .col_expr(radacct::Column::Acctterminatecause, Expr::value("Lost-Service"))
            .filter(radacct::Column::Acctstoptime.is_null())
            .filter(
                Condition::any()
                    .add(radacct::Column::Acctupdatetime.lt(to_db(stale_before)))
                    .add(radacct::Column::Acctupdatetime.is_null()),
            )
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected)
    }

    async fn open_session_count(&self, username: &str) -> StoreResult<u64> {
        radacct::Entity::find()
            .filter(radacct::Column::Username.eq(username))
            .filter(radacct::Column::Acctstoptime.is_null())
            .count(&self.read)
            .await
            .map_err(db_err)
    }

    async fn auth_lookup(&self, username: &str) -> StoreResult<Option<(Customer, Option<Package>, u64)>> {
        self.auth_lookup_with(username, LookupBy::Name).await
    }

    async fn list_sessions(&self, q: &SessionQuery) -> StoreResult<Page<RadSession>> {
        let mut find = radacct::Entity::find();
        if let Some(u) = &q.username {
            find = find.filter(radacct::Column::Username.eq(u.as_str()));
        }
        if let Some(r) = q.router_id {
            find = find.filter(radacct::Column::RouterId.eq(r));
        }
        if q.open_only {
            find = find.filter(radacct::Column::Acctstoptime.is_null());
        }
        if let Some(t) = q.customer_type {
            // The login key: usernames are unique regardless of case.
            use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
            let keys = Query::select()
                .column(customer::Column::UsernameKey)
                .from(customer::Entity)
                .and_where(customer::Column::CustomerType.eq(t.as_str()))
                .to_owned();
            find = find.filter(Expr::expr(Func::lower(Expr::col(radacct::Column::Username))).in_subquery(keys));
        }
        let (page, per_page) = page_of(q.page, q.per_page);
        let total = find.clone().count(&self.read).await.map_err(db_err)?;
        let rows = find
            .order_by_desc(radacct::Column::Acctstarttime)
            .order_by_desc(radacct::Column::Radacctid)
            .paginate(&self.read, per_page)
            .fetch_page(page - 1)
            .await
            .map_err(db_err)?;
        Ok(Page { items: rows.into_iter().map(to_session).collect(), total, page, per_page })
    }

    async fn get_session(&self, id: i64) -> StoreResult<RadSession> {
        let m = radacct::Entity::find_by_id(id).one(&self.read).await.map_err(db_err)?;
        m.map(to_session).ok_or(StoreError::NotFound)
    }

    async fn record_post_auth(&self, entries: Vec<PostAuth>) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows = entries.into_iter().map(|e| radpostauth::ActiveModel {
            username: Set(e.username.chars().take(64).collect()),
            pass: Set(None),
            reply: Set(e.reply),
            authdate: Set(to_db(e.at)),
            class: Set(None),
            router_id: Set(e.router_id),
            nasipaddress: Set(e.nas_ip),
            callingstationid: Set(e.calling_station_id.map(|c| c.chars().take(50).collect())),
            reason: Set(e.reason.map(|r| r.chars().take(255).collect())),
            ..Default::default()
        });
        radpostauth::Entity::insert_many(rows).exec(&self.write).await.map_err(db_err)?;
        Ok(())
    }

    async fn list_post_auth(&self, q: &PostAuthQuery) -> StoreResult<Page<PostAuth>> {
        let mut find = radpostauth::Entity::find();
        if let Some(u) = &q.username {
            find = find.filter(radpostauth::Column::Username.eq(u.as_str()));
        }
        if let Some(r) = q.router_id {
            find = find.filter(radpostauth::Column::RouterId.eq(r));
        }
        if let Some(r) = &q.reply {
            find = find.filter(radpostauth::Column::Reply.eq(r.as_str()));
        }
        let (page, per_page) = page_of(q.page, q.per_page);
        let total = find.clone().count(&self.read).await.map_err(db_err)?;
        let rows = find
            .order_by_desc(radpostauth::Column::Authdate)
            .order_by_desc(radpostauth::Column::Id)
            .paginate(&self.read, per_page)
            .fetch_page(page - 1)
            .await
            .map_err(db_err)?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(|m| PostAuth {
                    username: m.username,
                    reply: m.reply,
                    reason: m.reason,
                    router_id: m.router_id,
                    nas_ip: m.nasipaddress,
                    calling_station_id: m.callingstationid,
                    at: from_db(m.authdate),
                })
                .collect(),
            total,
            page,
            per_page,
        })
    }
}

impl SqlStore {
    /// [`RadiusRepo::auth_lookup`], or by the account key (`HotspotRepo::auth_lookup_by_key`).
    pub(crate) async fn auth_lookup_with(
        &self,
        username: &str,
        by: LookupBy,
    ) -> StoreResult<Option<(Customer, Option<Package>, u64)>> {
        let sql = self.auth_lookup_sql(by);
        let stmt = Statement::from_sql_and_values(self.backend, sql, [username.into()]);
        let Some(row) = self.read.query_one_raw(stmt).await.map_err(db_err)? else {
            return Ok(None);
        };
        let c = customer::Model::from_query_result(&row, "c_").map_err(db_err)?;
        let p = package::Model::from_query_result_optional(&row, "p_").map_err(db_err)?;
        let open: i64 = row.try_get("", "open_sessions").map_err(db_err)?;
        let customer = crate::customers::to_record(c)?;
        let package = p.map(crate::packages::to_record).transpose()?;
        Ok(Some((customer, package, u64::try_from(open).unwrap_or(0))))
    }
}

/// What `auth_lookup` finds a customer by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LookupBy {
    Name = 0,
    Key = 1,
    Device = 2,
}

impl SqlStore {
    /// The account a device is bound to and, when that is a customer, what
    /// `auth_lookup` reads for them: one round trip.
    pub(crate) async fn device_lookup(
        &self,
        mac: &str,
    ) -> StoreResult<Option<(String, Option<(Customer, Option<Package>, u64)>)>> {
        let sql = self.auth_lookup_sql(LookupBy::Device);
        let stmt = Statement::from_sql_and_values(self.backend, sql, [mac.into()]);
        let Some(row) = self.read.query_one_raw(stmt).await.map_err(db_err)? else {
            return Ok(None);
        };
        let key: String = row.try_get("", "d_key").map_err(db_err)?;
        let Some(c) = customer::Model::from_query_result_optional(&row, "c_").map_err(db_err)? else {
            return Ok(Some((key, None)));
        };
        let p = package::Model::from_query_result_optional(&row, "p_").map_err(db_err)?;
        let open: i64 = row.try_get("", "open_sessions").map_err(db_err)?;
        let customer = crate::customers::to_record(c)?;
        let package = p.map(crate::packages::to_record).transpose()?;
        Ok(Some((key, Some((customer, package, u64::try_from(open).unwrap_or(0))))))
    }
}

impl SqlStore {
    /// `SELECT v.* AS v_…, p.* AS p_…, (open sessions under the code)` by code.
    fn voucher_lookup_sql(&self) -> &'static str {
        static SQL: [std::sync::OnceLock<String>; 3] = [const { std::sync::OnceLock::new() }; 3];
        let slot = match self.backend {
            DbBackend::MySql => 0,
            DbBackend::Postgres => 1,
            _ => 2,
        };
        SQL[slot].get_or_init(|| {
            let q = if self.backend == DbBackend::MySql { '`' } else { '"' };
            let mut cols = Vec::new();
            for c in crate::entities::voucher::Column::iter() {
                let n = c.as_str();
                cols.push(format!("v.{q}{n}{q} AS {q}v_{n}{q}"));
            }
            for c in package::Column::iter() {
                let n = c.as_str();
                cols.push(format!("p.{q}{n}{q} AS {q}p_{n}{q}"));
            }
            let param = if self.backend == DbBackend::Postgres { "$1" } else { "?" };
            format!(
                "SELECT {}, (SELECT COUNT(*) FROM radacct a WHERE a.username = v.code AND a.acctstoptime IS NULL) \
                 AS open_sessions FROM vouchers v LEFT JOIN packages p ON p.id = v.package_id WHERE v.code = {param}",
                cols.join(", ")
            )
        })
    }

    /// A voucher, its package and the open sessions under its code, in one round trip.
    pub(crate) async fn voucher_lookup(
        &self,
        code: &str,
    ) -> StoreResult<Option<(broadnet_store::Voucher, Option<Package>, u64)>> {
        let stmt = Statement::from_sql_and_values(self.backend, self.voucher_lookup_sql(), [code.into()]);
        let Some(row) = self.read.query_one_raw(stmt).await.map_err(db_err)? else {
            return Ok(None);
        };
        let v = crate::entities::voucher::Model::from_query_result(&row, "v_").map_err(db_err)?;
        let p = package::Model::from_query_result_optional(&row, "p_").map_err(db_err)?;
        let open: i64 = row.try_get("", "open_sessions").map_err(db_err)?;
        let package = p.map(crate::packages::to_record).transpose()?;
        Ok(Some((crate::vouchers::voucher_record(v)?, package, u64::try_from(open).unwrap_or(0))))
    }
}
