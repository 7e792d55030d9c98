//! `/api/customers/{id}/activate` and `/api/payments/unmatched`: access without
//! payment, and the queue of money that fits no customer.

use super::Params;
use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use broadnet_app::billing::{ActivateRequest, AssignRequest, AssignResult, UnmatchedListRequest};
use broadnet_app::customers::CustomerView;
use broadnet_store::{Page, UnmatchedPayment};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers/{id}/activate", post(activate))
        .route("/payments/unmatched", get(list))
        .route("/payments/unmatched/{id}", get(detail))
        .route("/payments/unmatched/{id}/assign", post(assign))
}

async fn activate(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<ActivateRequest>,
) -> Result<Json<CustomerView>, WebError> {
    let c = st.app.activate_customer(&s, id, &req).await?;
    Ok(Json(CustomerView::new(c, true)))
}

async fn list(
    State(st): State<AppState>,
    Auth(_s): Auth,
    params: Params,
) -> Result<Json<Page<UnmatchedPayment>>, WebError> {
    let mut req = UnmatchedListRequest::default();
    for (k, v) in params.0 {
        match k.as_str() {
            "status" => req.status = Some(v),
            "page" => req.page = Some(v),
            "per_page" => req.per_page = Some(v),
            _ => {}
        }
    }
    Ok(Json(st.app.list_unmatched(&req).await?))
}

async fn detail(
    State(st): State<AppState>,
    Auth(_s): Auth,
    Path(id): Path<i64>,
) -> Result<Json<UnmatchedPayment>, WebError> {
    Ok(Json(st.app.get_unmatched(id).await?))
}

async fn assign(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<AssignRequest>,
) -> Result<Json<AssignResult>, WebError> {
    Ok(Json(st.app.assign_unmatched(&s, id, &req).await?))
}
