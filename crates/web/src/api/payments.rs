//! Payment provider callbacks. They carry no credentials (Daraja signs nothing), so
//! they are trusted only as far as they match a payment we started.

use crate::extract::{Auth, ClientIp, JsonBody};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/payments/mpesa/callback", post(mpesa_callback))
        // Daraja refuses URLs containing "mpesa" for C2B registration; the token is the secret.
        .route("/payments/cb/c2b/{token}/validate", post(c2b_validate))
        .route("/payments/cb/c2b/{token}/confirm", post(c2b_confirm))
        .route("/payments/mpesa/c2b-urls", axum::routing::get(c2b_urls))
        .route("/payments", axum::routing::get(list))
        .route("/customers/{id}/payments", post(cash))
}

async fn mpesa_callback(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, WebError> {
    tracing::info!(%ip, "M-Pesa callback");
    Ok(Json(st.app.mpesa_stk_callback(body).await?))
}

async fn c2b_validate(
    State(st): State<AppState>,
    Path(token): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, WebError> {
    Ok(Json(st.app.mpesa_c2b_validate(&token, body).await?))
}

async fn c2b_confirm(
    State(st): State<AppState>,
    Path(token): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, WebError> {
    Ok(Json(st.app.mpesa_c2b_confirm(&token, body).await?))
}

/// The paths to register with Safaricom (prefix them with the server's public HTTPS address).
async fn c2b_urls(State(st): State<AppState>, Auth(s): Auth) -> Result<Json<Value>, WebError> {
    s.require_write()?;
    let t = st.app.c2b_token();
    Ok(Json(serde_json::json!({
        "confirmation_path": format!("/api/payments/cb/c2b/{t}/confirm"),
        "validation_path": format!("/api/payments/cb/c2b/{t}/validate"),
    })))
}

async fn list(State(st): State<AppState>, Auth(_s): Auth, p: super::Params) -> Result<Json<Value>, WebError> {
    let params: std::collections::BTreeMap<String, String> = p.0.into_iter().collect();
    Ok(Json(st.app.list_payments(&params).await?))
}

async fn cash(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody,
) -> Result<(axum::http::StatusCode, Json<Value>), WebError> {
    Ok((axum::http::StatusCode::CREATED, Json(st.app.record_cash_payment(&s, id, body).await?)))
}
