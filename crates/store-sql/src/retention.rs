//! Retention: removing what only grows, in bounded batches, on every backend with the
//! same portable statements (ids first, then `DELETE … WHERE id IN (…)`).

use crate::entities::{audit, radacct, radpostauth, usage_monthly};
use crate::{SqlStore, db_err, to_db};
use async_trait::async_trait;
use broadnet_store::{MonthlyUsage, RetentionRepo, StoreResult};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait};
use std::collections::BTreeMap;

/// Deletes at most `limit` rows matching `cond`, oldest first: ids are read first, so
/// the statement is the same on every backend (MySQL refuses `LIMIT` in a subquery).
async fn delete_oldest<E: EntityTrait>(
    store: &SqlStore,
    id: E::Column,
    cond: Condition,
    limit: u64,
) -> StoreResult<u64> {
    let ids: Vec<i64> = E::find()
        .select_only()
        .column(id)
        .filter(cond.clone())
        .order_by_asc(id)
        .limit(limit)
        .into_tuple()
        .all(&store.read)
        .await
        .map_err(db_err)?;
    if ids.is_empty() {
        return Ok(0);
    }
    let done = E::delete_many().filter(cond.add(id.is_in(ids))).exec(&store.write).await.map_err(db_err)?;
    Ok(done.rows_affected)
}

#[async_trait]
impl RetentionRepo for SqlStore {
    async fn purge_audit_action(&self, action: &str, before: DateTime<Utc>, limit: u64) -> StoreResult<u64> {
        let cond = Condition::all().add(audit::Column::Action.eq(action)).add(audit::Column::At.lt(to_db(before)));
        delete_oldest::<audit::Entity>(self, audit::Column::Id, cond, limit).await
    }

    async fn purge_post_auth(&self, before: DateTime<Utc>, limit: u64) -> StoreResult<u64> {
        let cond = Condition::all().add(radpostauth::Column::Authdate.lt(to_db(before)));
        delete_oldest::<radpostauth::Entity>(self, radpostauth::Column::Id, cond, limit).await
    }

    async fn fold_old_sessions(&self, before: DateTime<Utc>, limit: u64) -> StoreResult<u64> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let rows = radacct::Entity::find()
            .filter(radacct::Column::Acctstoptime.is_not_null())
            .filter(radacct::Column::Acctstoptime.lt(to_db(before)))
            .order_by_asc(radacct::Column::Radacctid)
            .limit(limit)
            .all(&txn)
            .await
            .map_err(db_err)?;
        if rows.is_empty() {
            txn.rollback().await.map_err(db_err)?;
            return Ok(0);
        }
        // (username, month) -> usage to add.
        let mut sums: BTreeMap<(String, String), MonthlyUsage> = BTreeMap::new();
        for r in &rows {
            let when = r.acctstarttime.or(r.acctstoptime).unwrap_or_default();
            let month = when.format("%Y-%m").to_string();
            let u = sums.entry((r.username.clone(), month.clone())).or_insert_with(|| MonthlyUsage {
                username: r.username.clone(),
                customer_id: r.customer_id,
                month,
                sessions: 0,
                session_time: 0,
                input_octets: 0,
                output_octets: 0,
            });
            u.customer_id = u.customer_id.or(r.customer_id);
            u.sessions += 1;
            u.session_time = u.session_time.saturating_add(r.acctsessiontime.unwrap_or(0).max(0));
            u.input_octets = u.input_octets.saturating_add(r.acctinputoctets.unwrap_or(0).max(0));
            u.output_octets = u.output_octets.saturating_add(r.acctoutputoctets.unwrap_or(0).max(0));
        }
        for ((username, month), add) in sums {
            let existing = usage_monthly::Entity::find()
                .filter(usage_monthly::Column::Username.eq(username.as_str()))
                .filter(usage_monthly::Column::Month.eq(month.as_str()))
                .one(&txn)
                .await
                .map_err(db_err)?;
            match existing {
                Some(m) => {
                    usage_monthly::Entity::update_many()
                        .col_expr(usage_monthly::Column::Sessions, Expr::value(m.sessions.saturating_add(add.sessions)))
                        .col_expr(
                            usage_monthly::Column::SessionTime,
                            Expr::value(m.session_time.saturating_add(add.session_time)),
                        )
                        .col_expr(
                            usage_monthly::Column::InputOctets,
                            Expr::value(m.input_octets.saturating_add(add.input_octets)),
                        )
                        .col_expr(
                            usage_monthly::Column::OutputOctets,
                            Expr::value(m.output_octets.saturating_add(add.output_octets)),
                        )
                        .col_expr(usage_monthly::Column::CustomerId, Expr::value(m.customer_id.or(add.customer_id)))
                        .filter(usage_monthly::Column::Id.eq(m.id))
                        .exec(&txn)
                        .await
                        .map_err(db_err)?;
                }
                None => {
                    usage_monthly::Entity::insert(usage_monthly::ActiveModel {
                        username: Set(username),
                        customer_id: Set(add.customer_id),
                        month: Set(month),
                        sessions: Set(add.sessions),
                        session_time: Set(add.session_time),
                        input_octets: Set(add.input_octets),
                        output_octets: Set(add.output_octets),
                        ..Default::default()
                    })
                    .exec(&txn)
                    .await
                    .map_err(db_err)?;
                }
            }
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.radacctid).collect();
        let done = radacct::Entity::delete_many()
            .filter(radacct::Column::Radacctid.is_in(ids))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(done.rows_affected)
    }

    async fn monthly_usage(&self, username: &str) -> StoreResult<Vec<MonthlyUsage>> {
        let rows = usage_monthly::Entity::find()
            .filter(usage_monthly::Column::Username.eq(username))
            .order_by_desc(usage_monthly::Column::Month)
            .all(&self.read)
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|m| MonthlyUsage {
                username: m.username,
                customer_id: m.customer_id,
                month: m.month,
                sessions: m.sessions,
                session_time: m.session_time,
                input_octets: m.input_octets,
                output_octets: m.output_octets,
            })
            .collect())
    }
}
