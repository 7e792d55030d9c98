//! `/api/customers/{id}/activate` and `/api/payments/unmatched`: access without
//! payment, and the queue of money that fits no customer.

use super::Params;
use crate::extract::{Auth, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use broadnet_app::billing::{ActivateRequest, AssignRequest, AssignResult, UnmatchedListRequest};
use broadnet_app::{AppError, customers::customer_json};
use broadnet_store::{Page, UnmatchedPayment};
use serde::de::DeserializeOwned;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers/{id}/activate", post(activate))
        .route("/payments/unmatched", get(list))
        .route("/payments/unmatched/{id}", get(detail))
        .route("/payments/unmatched/{id}/assign", post(assign))
}

/// A JSON body as a typed request; a field of the wrong type or an unknown field is
/// a 422 that names it.
pub(crate) fn typed<T: DeserializeOwned>(body: serde_json::Value) -> Result<T, WebError> {
    serde_json::from_value(body).map_err(|e| AppError::field("body", e.to_string()).into())
}

async fn activate(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody,
) -> Result<Json<serde_json::Value>, WebError> {
    let req: ActivateRequest = typed(body)?;
    let c = st.app.activate_customer(&s, id, &req).await?;
    Ok(Json(customer_json(&c, true)))
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
    JsonBody(body): JsonBody,
) -> Result<Json<AssignResult>, WebError> {
    let req: AssignRequest = typed(body)?;
    Ok(Json(st.app.assign_unmatched(&s, id, &req).await?))
}
