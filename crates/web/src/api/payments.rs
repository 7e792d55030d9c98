//! Payment provider callbacks. They carry no credentials (Daraja signs nothing), so
//! they are trusted only as far as they match a payment we started.

use crate::extract::{ClientIp, JsonBody};
use crate::{AppState, WebError};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new().route("/payments/mpesa/callback", post(mpesa_callback))
}

async fn mpesa_callback(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, WebError> {
    tracing::info!(%ip, "M-Pesa callback");
    Ok(Json(st.app.mpesa_stk_callback(body).await?))
}
