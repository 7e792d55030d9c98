//! `/api/packages`.

use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use broadnet_app::packages::{PackageRequest, PackageView};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/packages", get(list).post(create))
        .route("/packages/{id}", get(read).put(update).delete(remove))
}

/// `{"items": [...]}`.
#[derive(serde::Serialize)]
struct Items<T> {
    items: Vec<T>,
}

async fn list(State(st): State<AppState>, Auth(_s): Auth) -> Result<Json<Items<PackageView>>, WebError> {
    Ok(Json(Items { items: st.app.list_packages().await? }))
}

async fn create(
    State(st): State<AppState>,
    Auth(s): Auth,
    JsonBody(req): JsonBody<PackageRequest>,
) -> Result<Response, WebError> {
    let p = st.app.create_package(&s, req).await?;
    Ok((StatusCode::CREATED, Json(PackageView::from(&p))).into_response())
}

async fn read(State(st): State<AppState>, Auth(_s): Auth, Path(id): Path<i64>) -> Result<Json<PackageView>, WebError> {
    Ok(Json(st.app.get_package(id).await?))
}

async fn update(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<PackageRequest>,
) -> Result<Json<PackageView>, WebError> {
    Ok(Json(PackageView::from(&st.app.update_package(&s, id, req).await?)))
}

async fn remove(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<StatusCode, WebError> {
    st.app.delete_package(&s, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
