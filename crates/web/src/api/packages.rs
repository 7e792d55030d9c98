//! `/api/packages`.

use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use broadnet_app::AppError;
use broadnet_app::packages::package_json;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/packages", get(list).post(create))
        .route("/packages/{id}", get(read).put(update).delete(remove))
}

async fn list(State(st): State<AppState>, Auth(_s): Auth) -> Result<Json<Value>, WebError> {
    let items: Vec<Value> = st.app.store.list_packages().await?.iter().map(package_json).collect();
    Ok(Json(json!({"items": items})))
}

async fn create(State(st): State<AppState>, Auth(s): Auth, JsonBody(body): JsonBody) -> Result<Response, WebError> {
    let p = st.app.create_package(&s, body).await?;
    Ok((StatusCode::CREATED, Json(package_json(&p))).into_response())
}

async fn read(State(st): State<AppState>, Auth(_s): Auth, Path(id): Path<i64>) -> Result<Json<Value>, WebError> {
    let p = st.app.store.get_package(id).await.map_err(AppError::from_store("package"))?;
    Ok(Json(package_json(&p)))
}

async fn update(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, WebError> {
    Ok(Json(package_json(&st.app.update_package(&s, id, body).await?)))
}

async fn remove(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<StatusCode, WebError> {
    st.app.delete_package(&s, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
