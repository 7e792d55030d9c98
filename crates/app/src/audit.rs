//! The audit log as admins read it: who changed what, newest first, filtered by
//! action, entity or admin.

use crate::{App, AppError, AppResult};
use broadnet_store::{AuditEntry, AuditQuery, Page};
use serde::Deserialize;

/// The audit log's query string: `action`, `entity_type`, `entity_id`, `admin_id`,
/// `page`, `per_page`, as text until checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuditLogQuery {
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub admin_id: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

impl AuditLogQuery {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut m = crate::sessions::last_of(pairs);
        AuditLogQuery {
            action: m.remove("action"),
            entity_type: m.remove("entity_type"),
            entity_id: m.remove("entity_id"),
            admin_id: m.remove("admin_id"),
            page: m.remove("page"),
            per_page: m.remove("per_page"),
        }
    }
}

impl App {
    pub async fn audit_log(&self, params: &AuditLogQuery) -> AppResult<Page<AuditEntry>> {
        let mut q = AuditQuery {
            page: 1,
            per_page: 50,
            action: params.action.clone(),
            entity_type: params.entity_type.clone(),
            entity_id: params.entity_id.clone(),
            ..Default::default()
        };
        let mut errors = crate::FieldErrors::new();
        // Parsed as the i64 the store keeps, not cast from a u64 (which would wrap).
        if let Some(v) = &params.admin_id {
            match v.trim().parse::<i64>() {
                Ok(n) => q.admin_id = Some(n),
                Err(_) => errors.entry("admin_id".into()).or_default().push("must be a whole number".into()),
            }
        }
        crate::sessions::paging(&mut errors, &params.page, &params.per_page, (&mut q.page, &mut q.per_page));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(self.store.list_audit(&q).await?)
    }
}
