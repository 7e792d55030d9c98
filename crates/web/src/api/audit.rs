//! `/api/audit-log`: who changed what, newest first.

use super::Params;
use crate::extract::Auth;
use crate::{AppState, WebError};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use broadnet_app::audit::AuditLogQuery;
use broadnet_store::{AuditEntry, Page};

pub fn router() -> Router<AppState> {
    Router::new().route("/audit-log", get(list))
}

async fn list(State(st): State<AppState>, Auth(_s): Auth, params: Params) -> Result<Json<Page<AuditEntry>>, WebError> {
    Ok(Json(st.app.audit_log(&AuditLogQuery::from_pairs(params.0)).await?))
}
