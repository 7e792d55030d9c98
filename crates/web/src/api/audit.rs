//! `/api/audit-log`: who changed what, newest first.

use super::Params;
use crate::extract::Auth;
use crate::{AppState, WebError};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use broadnet_app::AppError;
use broadnet_store::AuditQuery;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new().route("/audit-log", get(list))
}

async fn list(State(st): State<AppState>, Auth(_s): Auth, params: Params) -> Result<Json<Value>, WebError> {
    let mut q = AuditQuery { page: 1, per_page: 50, ..Default::default() };
    let mut errors = broadnet_app::FieldErrors::new();
    for (k, v) in &params.0 {
        match k.as_str() {
            "action" => q.action = Some(v.clone()),
            "entity_type" => q.entity_type = Some(v.clone()),
            "entity_id" => q.entity_id = Some(v.clone()),
            // Parsed as the i64 the store keeps, not cast from a u64 (which would wrap).
            "admin_id" => match v.trim().parse::<i64>() {
                Ok(n) => q.admin_id = Some(n),
                Err(_) => errors.entry(k.clone()).or_default().push("must be a whole number".into()),
            },
            _ => {
                broadnet_app::fields::page_param(&mut errors, k, v, (&mut q.page, &mut q.per_page));
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors).into());
    }
    let page = st.app.store.list_audit(&q).await?;
    Ok(Json(json!(page)))
}
