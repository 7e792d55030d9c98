//! `/api/admins`: superadmin only.

use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use broadnet_app::AppError;
use broadnet_app::admins::{AdminPatchRequest, NewAdminRequest};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admins", get(list).post(create))
        .route("/admins/{id}", get(read).patch(update).put(update).delete(remove))
}

async fn list(State(st): State<AppState>, Auth(s): Auth) -> Result<Json<Value>, WebError> {
    s.require_superadmin()?;
    Ok(Json(json!({"items": st.app.store.list_admins().await?})))
}

async fn create(
    State(st): State<AppState>,
    Auth(s): Auth,
    JsonBody(req): JsonBody<NewAdminRequest>,
) -> Result<Response, WebError> {
    let a = st.app.create_admin(&s, req).await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

async fn read(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<Json<Value>, WebError> {
    s.require_superadmin()?;
    Ok(Json(json!(st.app.store.get_admin(id).await.map_err(AppError::from_store("admin"))?)))
}

async fn update(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<AdminPatchRequest>,
) -> Result<Json<broadnet_store::Admin>, WebError> {
    Ok(Json(st.app.update_admin(&s, id, req).await?))
}

async fn remove(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<StatusCode, WebError> {
    st.app.delete_admin(&s, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
