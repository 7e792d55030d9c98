//! The outbox: side effects waiting for delivery, claimed by the delivery job.

use crate::entities::outbox;
use crate::{SqlStore, corrupt, db_err, from_db, to_db};
use async_trait::async_trait;
use broadnet_store::{
    NewOutbox, OutboxItem, OutboxKind, OutboxQuery, OutboxRepo, OutboxResult, OutboxStatus, Page, StoreError,
    StoreResult,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

pub(crate) fn to_record(m: outbox::Model) -> StoreResult<OutboxItem> {
    Ok(OutboxItem {
        id: m.id,
        kind: OutboxKind::parse(&m.kind).map_err(|_| corrupt("outbox kind", &m.kind))?,
        payload: serde_json::from_str(&m.payload).map_err(|_| corrupt("outbox payload", &m.payload))?,
        status: OutboxStatus::parse(&m.status).map_err(|_| corrupt("outbox status", &m.status))?,
        attempts: m.attempts,
        next_attempt_at: from_db(m.next_attempt_at),
        last_error: m.last_error,
        dedupe_key: m.dedupe_key,
        created_at: from_db(m.created_at),
        delivered_at: m.delivered_at.map(from_db),
    })
}

pub(crate) fn new_row(item: &NewOutbox) -> outbox::ActiveModel {
    let at = to_db(item.at);
    outbox::ActiveModel {
        kind: Set(item.kind.as_str().to_string()),
        payload: Set(item.payload.to_string()),
        status: Set(OutboxStatus::Pending.as_str().to_string()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        last_error: Set(None),
        dedupe_key: Set(item.dedupe_key.clone()),
        created_at: Set(at),
        delivered_at: Set(None),
        customer_id: Set(item.payload.get("customer_id").and_then(serde_json::Value::as_i64)),
        ..Default::default()
    }
}

/// Error texts are kept readable, not whole HTML pages from a failing gateway.
fn clip(s: &str) -> String {
    s.chars().take(500).collect()
}

#[async_trait]
impl OutboxRepo for SqlStore {
    async fn enqueue(&self, item: NewOutbox) -> StoreResult<bool> {
        match new_row(&item).insert(&self.write).await.map_err(db_err) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<OutboxItem>> {
        let due = outbox::Entity::find()
            .filter(outbox::Column::Status.is_in([OutboxStatus::Pending.as_str(), OutboxStatus::Sending.as_str()]))
            .filter(outbox::Column::NextAttemptAt.lte(to_db(now)))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .order_by_asc(outbox::Column::Id)
            .limit(limit)
            .all(&self.read)
            .await
            .map_err(db_err)?;
        let mut claimed = Vec::with_capacity(due.len());
        for m in due {
            // Guarded on what we read, so two nodes never both take a row.
            let res = outbox::Entity::update_many()
                .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Sending.as_str()))
                .col_expr(outbox::Column::NextAttemptAt, Expr::value(to_db(claim_until)))
                .col_expr(outbox::Column::Attempts, Expr::col(outbox::Column::Attempts).add(1))
                .filter(outbox::Column::Id.eq(m.id))
                .filter(outbox::Column::Status.eq(m.status.clone()))
                .filter(outbox::Column::NextAttemptAt.eq(m.next_attempt_at))
                .exec(&self.write)
                .await
                .map_err(db_err)?;
            if res.rows_affected == 1 {
                let mut item = to_record(m)?;
                item.status = OutboxStatus::Sending;
                item.attempts += 1;
                item.next_attempt_at = claim_until;
                claimed.push(item);
            }
        }
        Ok(claimed)
    }

    async fn finish_outbox(&self, id: i64, result: OutboxResult, now: DateTime<Utc>) -> StoreResult<()> {
        let mut q = outbox::Entity::update_many().filter(outbox::Column::Id.eq(id));
        q = match result {
            OutboxResult::Delivered => q
                .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Delivered.as_str()))
                .col_expr(outbox::Column::DeliveredAt, Expr::value(to_db(now)))
                .col_expr(outbox::Column::LastError, Expr::value(Option::<String>::None)),
            OutboxResult::Retry { at, error } => q
                .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Pending.as_str()))
                .col_expr(outbox::Column::NextAttemptAt, Expr::value(to_db(at)))
                .col_expr(outbox::Column::LastError, Expr::value(clip(&error))),
            OutboxResult::Failed { error } => q
                .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Failed.as_str()))
                .col_expr(outbox::Column::LastError, Expr::value(clip(&error))),
        };
        q.exec(&self.write).await.map_err(db_err)?;
        Ok(())
    }

    async fn release_outbox_claims(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let res = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Pending.as_str()))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(to_db(now)))
            .filter(outbox::Column::Status.eq(OutboxStatus::Sending.as_str()))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected)
    }

    async fn list_outbox(&self, q: &OutboxQuery) -> StoreResult<Page<OutboxItem>> {
        let mut cond = Condition::all();
        if let Some(k) = &q.kind {
            cond = cond.add(outbox::Column::Kind.eq(k.as_str()));
        }
        if let Some(s) = &q.status {
            cond = cond.add(outbox::Column::Status.eq(s.as_str()));
        }
        if let Some(c) = q.customer_id {
            cond = cond.add(outbox::Column::CustomerId.eq(c));
        }
        let find = outbox::Entity::find().filter(cond).order_by_desc(outbox::Column::Id);
        crate::fetch_page(&self.read, find, q.page, q.per_page, to_record).await
    }

    async fn retry_outbox(&self, id: i64, now: DateTime<Utc>) -> StoreResult<OutboxItem> {
        // Guarded on the status, so an entry the delivery job has just claimed is not
        // sent twice.
        let res = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Pending.as_str()))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(to_db(now)))
            .filter(outbox::Column::Id.eq(id))
            .filter(outbox::Column::Status.is_in([OutboxStatus::Failed.as_str(), OutboxStatus::Pending.as_str()]))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        let m = outbox::Entity::find_by_id(id).one(&self.write).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
        if res.rows_affected == 0 && m.status != OutboxStatus::Pending.as_str() {
            return Err(StoreError::InUse(format!(
                "it is {}: only a failed or waiting message can be retried",
                m.status
            )));
        }
        to_record(m)
    }
}
