//! `/api/admins`: superadmin only.

use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use broadnet_app::admins::{AdminPatchRequest, NewAdminRequest};
use broadnet_store::Admin;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admins", get(list).post(create))
        .route("/admins/{id}", get(read).patch(update).put(update).delete(remove))
}

/// `{"items": [...]}`.
#[derive(serde::Serialize)]
struct Items {
    items: Vec<Admin>,
}

async fn list(State(st): State<AppState>, Auth(s): Auth) -> Result<Json<Items>, WebError> {
    Ok(Json(Items { items: st.app.list_admins(&s).await? }))
}

async fn create(
    State(st): State<AppState>,
    Auth(s): Auth,
    JsonBody(req): JsonBody<NewAdminRequest>,
) -> Result<Response, WebError> {
    let a = st.app.create_admin(&s, req).await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

async fn read(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<Json<Admin>, WebError> {
    Ok(Json(st.app.get_admin(&s, id).await?))
}

async fn update(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<AdminPatchRequest>,
) -> Result<Json<Admin>, WebError> {
    Ok(Json(st.app.update_admin(&s, id, req).await?))
}

async fn remove(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<StatusCode, WebError> {
    st.app.delete_admin(&s, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
