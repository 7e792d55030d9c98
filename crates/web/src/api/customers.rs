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
use broadnet_app::{App, AppError};
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
    let q = App::customer_query(&params.0)?;
    let page = st.app.store.list_customers(&q).await?;
    let items = page.items.into_iter().map(|c| CustomerView::new(c, false)).collect();
    Ok(Json(Page { items, total: page.total, page: page.page, per_page: page.per_page }))
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
    let c = st.app.store.get_customer(id).await.map_err(AppError::from_store("customer"))?;
    Ok(Json(CustomerView::new(c, s.admin.role.can_write())))
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
