//! `/api/customers`.

use super::Params;
use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use broadnet_app::customers::customer_json;
use broadnet_app::{App, AppError};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers", get(list).post(create))
        .route("/customers/{id}", get(read).patch(update).put(update).delete(remove))
}

async fn list(State(st): State<AppState>, Auth(_s): Auth, params: Params) -> Result<Json<Value>, WebError> {
    let q = App::customer_query(&params.0)?;
    let page = st.app.store.list_customers(&q).await?;
    let items: Vec<Value> = page.items.iter().map(|c| customer_json(c, false)).collect();
    Ok(Json(json!({"items": items, "total": page.total, "page": page.page, "per_page": page.per_page})))
}

async fn create(State(st): State<AppState>, Auth(s): Auth, JsonBody(body): JsonBody) -> Result<Response, WebError> {
    let c = st.app.create_customer(&s, body).await?;
    Ok((StatusCode::CREATED, Json(customer_json(&c, true))).into_response())
}

async fn read(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<Json<Value>, WebError> {
    let c = st.app.store.get_customer(id).await.map_err(AppError::from_store("customer"))?;
    Ok(Json(customer_json(&c, s.admin.role.can_write())))
}

async fn update(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, WebError> {
    let c = st.app.update_customer(&s, id, body).await?;
    Ok(Json(customer_json(&c, true)))
}

async fn remove(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<StatusCode, WebError> {
    st.app.delete_customer(&s, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
