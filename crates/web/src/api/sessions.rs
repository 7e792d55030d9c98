//! `/api/sessions` (RADIUS accounting), `/api/radius/auth-log` (every decision) and
//! disconnecting sessions through their router.

use super::Params;
use crate::extract::Auth;
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions", get(list))
        .route("/sessions/{id}/disconnect", post(disconnect))
        .route("/customers/{id}/disconnect", post(disconnect_customer))
        .route("/radius/auth-log", get(auth_log))
}

fn params(p: Params) -> BTreeMap<String, String> {
    p.0.into_iter().collect()
}

async fn list(State(st): State<AppState>, Auth(_s): Auth, p: Params) -> Result<Json<Value>, WebError> {
    Ok(Json(st.app.list_sessions(&params(p)).await?))
}

async fn auth_log(State(st): State<AppState>, Auth(_s): Auth, p: Params) -> Result<Json<Value>, WebError> {
    Ok(Json(st.app.auth_log(&params(p)).await?))
}

async fn disconnect(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<Json<Value>, WebError> {
    Ok(Json(st.app.disconnect_session(&s, id).await?))
}

async fn disconnect_customer(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Value>, WebError> {
    Ok(Json(st.app.disconnect_customer(&s, id).await?))
}
