//! Hotspot accounts: the devices bound to each (slots in a unique index, so racing
//! binds need no lock), and the data used of a bundle's allowance.

use crate::entities::{hotspot_device, radacct};
use crate::{SqlStore, corrupt, db_err, from_db, to_db};
use async_trait::async_trait;
use broadnet_domain::Mac;
use broadnet_store::{
    BindOutcome, CustomerLookup, DataUse, HotspotDevice, HotspotRepo, RadSession, StoreError, StoreResult, account_key,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement, TransactionTrait, Value,
};

fn to_device(m: hotspot_device::Model) -> StoreResult<HotspotDevice> {
    Ok(HotspotDevice {
        id: m.id,
        mac: Mac::parse(&m.mac).map_err(|_| corrupt("device MAC", &m.mac))?,
        slot: u32::try_from(m.slot).map_err(|_| corrupt("device slot", &m.slot.to_string()))?,
        username_key: m.username_key,
        created_at: from_db(m.created_at),
        last_seen_at: m.last_seen_at.map(from_db),
    })
}

/// `?`, or `$n` on PostgreSQL.
fn ph(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres { format!("${n}") } else { "?".into() }
}

/// The sessions of an account: those under its name (as stored, or typed in lower or
/// upper case: `radacct` keeps the User-Name the router sent) and those of its devices
/// that logged in by MAC (their User-Name is the MAC).
pub(crate) fn account_sessions(username: &str, canonical: Option<&str>) -> Condition {
    let key = account_key(username);
    let mut names = vec![username.trim().to_string(), key.clone(), key.to_uppercase()];
    names.extend(canonical.map(str::to_string));
    names.sort();
    names.dedup();
    let macs = Query::select()
        .column(hotspot_device::Column::Mac)
        .from(hotspot_device::Entity)
        .and_where(hotspot_device::Column::UsernameKey.eq(key))
        .to_owned();
    Condition::any().add(radacct::Column::Username.is_in(names)).add(radacct::Column::Username.in_subquery(macs))
}

/// In + out octets of the account's sessions that had not stopped by `since` (every
/// session with `None`); only the open ones with `open_only`.
pub(crate) async fn account_octets<C: ConnectionTrait>(
    conn: &C,
    username: &str,
    canonical: Option<&str>,
    since: Option<DateTime<Utc>>,
    open_only: bool,
) -> StoreResult<u64> {
    let mut q = radacct::Entity::find()
        .select_only()
        .column(radacct::Column::Acctinputoctets)
        .column(radacct::Column::Acctoutputoctets)
        .filter(account_sessions(username, canonical));
    if open_only {
        q = q.filter(radacct::Column::Acctstoptime.is_null());
    } else if let Some(t) = since {
        q = q.filter(
            Condition::any()
                .add(radacct::Column::Acctstoptime.is_null())
                .add(radacct::Column::Acctstoptime.gte(to_db(t))),
        );
    }
    let rows: Vec<(Option<i64>, Option<i64>)> = q.into_tuple().all(conn).await.map_err(db_err)?;
    // Counters are absolute per session (see `apply_one`): a retransmitted interim
    // rewrites the same row, so summing rows counts each session once.
    Ok(rows.into_iter().map(|(i, o)| i.unwrap_or(0).max(0) as u64 + o.unwrap_or(0).max(0) as u64).sum())
}

/// What an account's allowance is read from.
struct Allowance {
    canonical: String,
    limit_mb: Option<i64>,
    start: Option<DateTime<Utc>>,
    offset: i64,
}

impl SqlStore {
    async fn allowance(&self, username: &str) -> StoreResult<Option<Allowance>> {
        let key = account_key(username);
        let b = self.backend;
        let sql = format!(
            "SELECT c.username, c.expires_at, c.data_start_at, c.data_offset_bytes, p.data_limit_mb, p.duration_minutes \
             FROM customers c JOIN packages p ON p.id = c.package_id WHERE c.username_key = {}",
            ph(b, 1)
        );
        let row = self.read.query_one_raw(Statement::from_sql_and_values(b, sql, [key.clone().into()])).await;
        if let Some(row) = row.map_err(db_err)? {
            let canonical: String = row.try_get("", "username").map_err(db_err)?;
            let expires: Option<NaiveDateTime> = row.try_get("", "expires_at").map_err(db_err)?;
            let start: Option<NaiveDateTime> = row.try_get("", "data_start_at").map_err(db_err)?;
            let offset: i64 = row.try_get("", "data_offset_bytes").map_err(db_err)?;
            let limit_mb: Option<i64> = row.try_get("", "data_limit_mb").map_err(db_err)?;
            let minutes: i64 = row.try_get("", "duration_minutes").map_err(db_err)?;
            // Never renewed since bundles existed: the current period, from the expiry back.
            let start = start
                .map(from_db)
                .or_else(|| expires.map(|e| from_db(e) - chrono::Duration::minutes(minutes.clamp(0, 1 << 31))));
            return Ok(Some(Allowance { canonical, limit_mb, start, offset }));
        }
        let sql = format!(
            "SELECT v.code, v.used_at, p.data_limit_mb FROM vouchers v JOIN packages p ON p.id = v.package_id \
             WHERE v.code = {}",
            ph(b, 1)
        );
        let row = self.read.query_one_raw(Statement::from_sql_and_values(b, sql, [key.to_uppercase().into()])).await;
        let Some(row) = row.map_err(db_err)? else { return Ok(None) };
        let canonical: String = row.try_get("", "code").map_err(db_err)?;
        let used_at: Option<NaiveDateTime> = row.try_get("", "used_at").map_err(db_err)?;
        let limit_mb: Option<i64> = row.try_get("", "data_limit_mb").map_err(db_err)?;
        Ok(Some(Allowance { canonical, limit_mb, start: used_at.map(from_db), offset: 0 }))
    }

    /// One attempt of [`HotspotRepo::bind_device`]: `None` when the transaction must be
    /// run again (the MAC was bound by someone else meanwhile).
    async fn try_bind(&self, key: &str, mac: &Mac, max: u32, at: DateTime<Utc>) -> StoreResult<Option<BindOutcome>> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let existing = hotspot_device::Entity::find()
            .filter(hotspot_device::Column::Mac.eq(mac.as_str()))
            .one(&txn)
            .await
            .map_err(db_err)?;
        if let Some(e) = &existing
            && e.username_key == key
        {
            txn.rollback().await.map_err(db_err)?;
            return Ok(Some(BindOutcome::AlreadyBound));
        }
        let taken: Vec<i64> = hotspot_device::Entity::find()
            .select_only()
            .column(hotspot_device::Column::Slot)
            .filter(hotspot_device::Column::UsernameKey.eq(key))
            .into_tuple()
            .all(&txn)
            .await
            .map_err(db_err)?;
        let free: Vec<u32> = (1..=max).filter(|s| !taken.contains(&i64::from(*s))).collect();
        if free.is_empty() {
            txn.rollback().await.map_err(db_err)?;
            let bound = taken.iter().filter(|s| (1..=i64::from(max)).contains(*s)).count();
            return Ok(Some(BindOutcome::Full { bound: u32::try_from(bound).unwrap_or(u32::MAX) }));
        }
        if let Some(e) = existing {
            // One device, one account: the MAC leaves its old account in this transaction.
            hotspot_device::Entity::delete_by_id(e.id).exec(&txn).await.map_err(db_err)?;
        }
        for slot in free {
            // A savepoint per attempt: on PostgreSQL a failed statement spoils the
            // whole transaction otherwise.
            let sp = txn.begin().await.map_err(db_err)?;
            let row = hotspot_device::ActiveModel {
                username_key: Set(key.to_string()),
                slot: Set(i64::from(slot)),
                mac: Set(mac.as_str().to_string()),
                created_at: Set(to_db(at)),
                last_seen_at: Set(Some(to_db(at))),
                ..Default::default()
            };
            match row.insert(&sp).await.map_err(db_err) {
                Ok(_) => {
                    sp.commit().await.map_err(db_err)?;
                    txn.commit().await.map_err(db_err)?;
                    return Ok(Some(BindOutcome::Bound { slot }));
                }
                Err(StoreError::Conflict(_)) => {
                    sp.rollback().await.map_err(db_err)?;
                    let mac_taken = hotspot_device::Entity::find()
                        .filter(hotspot_device::Column::Mac.eq(mac.as_str()))
                        .one(&txn)
                        .await
                        .map_err(db_err)?;
                    if mac_taken.is_some() {
                        // Someone bound this very MAC meanwhile: decide again from scratch.
                        txn.rollback().await.map_err(db_err)?;
                        return Ok(None);
                    }
                    // Someone took this slot: try the next.
                }
                Err(e) => return Err(e),
            }
        }
        txn.rollback().await.map_err(db_err)?;
        let bound = hotspot_device::Entity::find()
            .filter(hotspot_device::Column::UsernameKey.eq(key))
            .filter(hotspot_device::Column::Slot.between(1, i64::from(max)))
            .all(&self.read)
            .await
            .map_err(db_err)?
            .len();
        Ok(Some(BindOutcome::Full { bound: u32::try_from(bound).unwrap_or(u32::MAX) }))
    }
}

#[async_trait]
impl HotspotRepo for SqlStore {
    async fn bind_device(&self, username: &str, mac: &Mac, max: u32, at: DateTime<Utc>) -> StoreResult<BindOutcome> {
        let key = account_key(username);
        if key.is_empty() {
            return Err(StoreError::NotFound);
        }
        // The common case, a device coming back, is a read: the writer is not asked.
        let bound = hotspot_device::Entity::find()
            .select_only()
            .column(hotspot_device::Column::UsernameKey)
            .filter(hotspot_device::Column::Mac.eq(mac.as_str()))
            .into_tuple::<String>()
            .one(&self.read)
            .await
            .map_err(db_err)?;
        if bound.as_deref() == Some(key.as_str()) {
            return Ok(BindOutcome::AlreadyBound);
        }
        let mut attempt = 0u64;
        loop {
            match self.try_bind(&key, mac, max, at).await {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) if attempt < 5 => {}
                Err(e) if e.is_retryable() && attempt < 5 => {
                    tokio::time::sleep(std::time::Duration::from_millis(5 * (attempt + 1))).await;
                }
                Ok(None) => return Err(StoreError::Backend("the device kept moving between accounts".into())),
                Err(e) => return Err(e),
            }
            attempt += 1;
        }
    }

    async fn devices_of(&self, username: &str) -> StoreResult<Vec<HotspotDevice>> {
        hotspot_device::Entity::find()
            .filter(hotspot_device::Column::UsernameKey.eq(account_key(username)))
            .order_by_asc(hotspot_device::Column::Slot)
            .all(&self.read)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_device)
            .collect()
    }

    async fn release_device(&self, username: &str, mac: &Mac) -> StoreResult<bool> {
        let res = hotspot_device::Entity::delete_many()
            .filter(hotspot_device::Column::UsernameKey.eq(account_key(username)))
            .filter(hotspot_device::Column::Mac.eq(mac.as_str()))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected > 0)
    }

    async fn device_account(&self, mac: &Mac) -> StoreResult<Option<String>> {
        let key: Option<String> = hotspot_device::Entity::find()
            .select_only()
            .column(hotspot_device::Column::UsernameKey)
            .filter(hotspot_device::Column::Mac.eq(mac.as_str()))
            .into_tuple()
            .one(&self.read)
            .await
            .map_err(db_err)?;
        Ok(key)
    }

    async fn touch_device(&self, mac: &Mac, at: DateTime<Utc>) -> StoreResult<()> {
        hotspot_device::Entity::update_many()
            .col_expr(hotspot_device::Column::LastSeenAt, Expr::value(Value::from(Some(to_db(at)))))
            .filter(hotspot_device::Column::Mac.eq(mac.as_str()))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn data_used(&self, username: &str) -> StoreResult<Option<DataUse>> {
        let Some(a) = self.allowance(username).await? else { return Ok(None) };
        let Some(limit_mb) = a.limit_mb else { return Ok(None) };
        let limit = u64::try_from(limit_mb).unwrap_or(0).saturating_mul(1_000_000);
        let octets = account_octets(&self.read, username, Some(&a.canonical), a.start, false).await?;
        let used = octets.saturating_sub(u64::try_from(a.offset).unwrap_or(0));
        Ok(Some(DataUse { limit, used, start: a.start }))
    }

    async fn open_account_sessions(&self, username: &str) -> StoreResult<Vec<RadSession>> {
        let canonical = self.allowance(username).await?.map(|a| a.canonical);
        let rows = radacct::Entity::find()
            .filter(account_sessions(username, canonical.as_deref()))
            .filter(radacct::Column::Acctstoptime.is_null())
            .order_by_asc(radacct::Column::Radacctid)
            .all(&self.read)
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(crate::radius::to_session).collect())
    }

    async fn auth_lookup_by_key(
        &self,
        key: &str,
    ) -> StoreResult<Option<(broadnet_store::Customer, Option<broadnet_store::Package>, u64)>> {
        self.auth_lookup_with(&account_key(key), crate::radius::LookupBy::Key).await
    }

    async fn voucher_auth_lookup(
        &self,
        code: &str,
    ) -> StoreResult<Option<(broadnet_store::Voucher, Option<broadnet_store::Package>, u64)>> {
        self.voucher_lookup(code).await
    }

    async fn device_auth_lookup(&self, mac: &Mac) -> StoreResult<Option<(String, Option<CustomerLookup>)>> {
        self.device_lookup(mac.as_str()).await
    }
}
