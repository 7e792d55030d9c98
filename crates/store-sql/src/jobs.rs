//! Job leases (one node runs each job) and the expiry sweep.

use crate::entities::{customer, package};
use crate::{SqlStore, audit, corrupt, db_err, to_db};
use async_trait::async_trait;
use broadnet_domain::{CustomerStatus, Money, billing};
use broadnet_store::{Actor, Customer, JobRepo, StoreError, StoreResult};
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
}
