//! `/api/customers`.

use super::Params;
use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use broadnet_app::customers::{CustomerRequest, CustomerView};
use broadnet_store::Page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers", get(list).post(create))
        .route("/customers/{id}", get(read).patch(update).put(update).delete(remove))
}

async fn list(
    State(st): State<AppState>,
    Auth(_s): Auth,
    params: Params,
) -> Result<Json<Page<CustomerView>>, WebError> {
    Ok(Json(st.app.list_customers(&params.0).await?))
}

async fn create(
    State(st): State<AppState>,
    Auth(s): Auth,
    JsonBody(req): JsonBody<CustomerRequest>,
) -> Result<Response, WebError> {
    let c = st.app.create_customer(&s, req).await?;
    Ok((StatusCode::CREATED, Json(CustomerView::new(c, true))).into_response())
}

async fn read(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<Json<CustomerView>, WebError> {
    Ok(Json(st.app.get_customer(&s, id).await?))
}

async fn update(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<CustomerRequest>,
) -> Result<Json<CustomerView>, WebError> {
    let c = st.app.update_customer(&s, id, req).await?;
    Ok(Json(CustomerView::new(c, true)))
}

async fn remove(State(st): State<AppState>, Auth(s): Auth, Path(id): Path<i64>) -> Result<StatusCode, WebError> {
    st.app.delete_customer(&s, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
