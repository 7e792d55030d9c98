//! Reading the audit log (entries are written by each change, in its transaction).

use crate::entities::audit::{self, Column, Entity};
use crate::{SqlStore, db_err, from_db};
use async_trait::async_trait;
use broadnet_store::{Actor, AuditEntry, AuditQuery, AuditRepo, Page, StoreResult};
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

fn parse_json(s: Option<String>) -> Option<serde_json::Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn to_record(m: audit::Model) -> AuditEntry {
    AuditEntry {
        id: m.id,
        at: from_db(m.at),
        admin_id: m.admin_id,
        admin_username: m.admin_username,
        ip: m.ip,
        action: m.action,
        entity_type: m.entity_type,
        entity_id: m.entity_id,
        before: parse_json(m.before_json),
        after: parse_json(m.after_json),
    }
}

#[async_trait]
impl AuditRepo for SqlStore {
    async fn record_event(
        &self,
        actor: &Actor,
        action: &str,
        entity_type: &str,
        entity_id: Option<String>,
        detail: serde_json::Value,
    ) -> StoreResult<()> {
        crate::audit(&self.write, actor, action, entity_type, entity_id, None, Some(detail)).await
    }

    async fn list_audit(&self, q: &AuditQuery) -> StoreResult<Page<AuditEntry>> {
        let mut cond = Condition::all();
        if let Some(v) = &q.entity_type {
            cond = cond.add(Column::EntityType.eq(v.as_str()))
        }
        if let Some(v) = &q.entity_id {
            cond = cond.add(Column::EntityId.eq(v.as_str()))
        }
        if let Some(v) = q.admin_id {
            cond = cond.add(Column::AdminId.eq(v))
        }
        if let Some(v) = &q.action {
            cond = cond.add(Column::Action.eq(v.as_str()))
        }
        let per_page = q.per_page.clamp(1, 500);
        // Bounded like `page_of`, so the OFFSET below fits an i64.
        let page = q.page.clamp(1, broadnet_store::MAX_PAGE);
        let filtered = Entity::find().filter(cond);
        let total = filtered.clone().count(&self.read).await.map_err(db_err)?;
        let items = filtered
            .order_by_desc(Column::Id)
            .offset((page - 1) * per_page)
            .limit(per_page)
            .all(&self.read)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_record)
            .collect();
        Ok(Page { items, total, page, per_page })
    }
}
