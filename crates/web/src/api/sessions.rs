//! `/api/sessions` (RADIUS accounting), `/api/radius/auth-log` (every decision) and
//! disconnecting sessions through their router.

use super::Params;
use crate::extract::Auth;
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use broadnet_app::sessions::{AuthLogQuery, CustomerDisconnect, NasOutcome, SessionListQuery};
use broadnet_store::{Page, PostAuth, RadSession};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions", get(list))
        .route("/sessions/{id}/disconnect", post(disconnect))
        .route("/customers/{id}/disconnect", post(disconnect_customer))
        .route("/radius/auth-log", get(auth_log))
        .route("/radius/freeradius-setup.sh", get(freeradius_setup))
}

async fn list(State(st): State<AppState>, Auth(_s): Auth, p: Params) -> Result<Json<Page<RadSession>>, WebError> {
    Ok(Json(st.app.list_sessions(&SessionListQuery::from_pairs(p.0)).await?))
}

async fn auth_log(State(st): State<AppState>, Auth(_s): Auth, p: Params) -> Result<Json<Page<PostAuth>>, WebError> {
    Ok(Json(st.app.auth_log(&AuthLogQuery::from_pairs(p.0)).await?))
}

async fn disconnect(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
) -> Result<Json<NasOutcome>, WebError> {
    Ok(Json(st.app.disconnect_session(&s, id).await?))
}

async fn disconnect_customer(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
) -> Result<Json<CustomerDisconnect>, WebError> {
    Ok(Json(st.app.disconnect_customer(&s, id).await?))
}

async fn freeradius_setup(State(st): State<AppState>, Auth(s): Auth) -> Result<axum::response::Response, WebError> {
    use axum::response::IntoResponse;
    let script = st.app.freeradius_setup_script(&s)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"freeradius-setup.sh\""),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        script,
    )
        .into_response())
}
