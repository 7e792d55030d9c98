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
    for (k, v) in &params.0 {
        let num = |v: &str| v.parse::<u64>().map_err(|_| AppError::field(k, "must be a whole number"));
        match k.as_str() {
            "action" => q.action = Some(v.clone()),
            "entity_type" => q.entity_type = Some(v.clone()),
            "entity_id" => q.entity_id = Some(v.clone()),
            "admin_id" => q.admin_id = Some(num(v)? as i64),
            "page" => q.page = num(v)?.max(1),
            "per_page" => q.per_page = num(v)?.clamp(1, 500),
            _ => {}
        }
    }
    let page = st.app.store.list_audit(&q).await?;
    Ok(Json(json!(page)))
}
