//! `/api/payments`: collecting (prompts, cash), the list and detail, invoices, and the
//! provider callbacks. Callbacks carry no credentials (Daraja signs nothing), so they
//! are trusted only as far as they match a payment we started.

use crate::extract::{Auth, ClientIp, JsonBody, RawJson};
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use broadnet_app::airtel_callbacks::AirtelAck;
use broadnet_app::callbacks::CallbackPath;
use broadnet_app::collect::{
    C2bRegistration, CashPayment, CashReceipt, InitiatePayment, PaymentDetail, PaymentListQuery, PaymentPrompt,
};
use broadnet_app::gateway::CallbackUrls;
use broadnet_app::mpesa_callbacks::{C2bValidation, DarajaAck};
use broadnet_app::notify::NotificationListQuery;
use broadnet_store::{Page, Payment};

/// A provider callback is a few hundred bytes; anything near this is not one.
const CALLBACK_BODY_LIMIT: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    let callbacks = Router::new()
        .route("/payments/mpesa/callback", post(mpesa_callback))
        .route("/payments/cb/stk/{token}", post(mpesa_callback_at))
        .route("/payments/airtel/callback", post(airtel_callback))
        .route("/payments/cb/airtel/{token}", post(airtel_callback_at))
        .route("/payments/cb/c2b/{token}/validate", post(c2b_validate))
        .route("/payments/cb/c2b/{token}/confirm", post(c2b_confirm))
        .layer(axum::extract::DefaultBodyLimit::max(CALLBACK_BODY_LIMIT));
    Router::new()
        .merge(callbacks)
        .route("/payments/callback-urls", get(callback_urls))
        .route("/payments/mpesa/register-c2b", post(register_c2b))
        .route("/payments/initiate", post(initiate))
        .route("/payments", get(list))
        .route("/payments/{id}", get(detail))
        .route("/payments/{id}/invoice.pdf", get(invoice_pdf))
        .route("/customers/{id}/payments", post(cash))
        .route("/notifications", get(notifications))
}

async fn mpesa_callback(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    RawJson(body): RawJson,
) -> Result<Json<DarajaAck>, WebError> {
    tracing::info!(%ip, "M-Pesa callback (plain path)");
    Ok(Json(st.app.mpesa_stk_callback_plain(&body).await?))
}

async fn mpesa_callback_at(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    RawJson(body): RawJson,
) -> Result<Json<DarajaAck>, WebError> {
    tracing::info!(%ip, "M-Pesa callback");
    Ok(Json(st.app.mpesa_stk_callback_at(&token, &body).await?))
}

async fn airtel_callback(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    body: axum::body::Bytes,
) -> Result<Json<AirtelAck>, WebError> {
    tracing::info!(%ip, "Airtel callback (plain path)");
    if !st.app.plain_callbacks_allowed() {
        return Err(broadnet_app::AppError::NotFound("page").into());
    }
    Ok(Json(st.app.airtel_callback(&body, CallbackPath::Plain).await?))
}

async fn airtel_callback_at(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<AirtelAck>, WebError> {
    tracing::info!(%ip, "Airtel callback");
    st.app.check_callback_path(&token)?;
    Ok(Json(st.app.airtel_callback(&body, CallbackPath::Secret).await?))
}

async fn c2b_validate(
    State(st): State<AppState>,
    Path(token): Path<String>,
    RawJson(body): RawJson,
) -> Result<Json<C2bValidation>, WebError> {
    Ok(Json(st.app.mpesa_c2b_validate(&token, &body).await?))
}

async fn c2b_confirm(
    State(st): State<AppState>,
    Path(token): Path<String>,
    RawJson(body): RawJson,
) -> Result<Json<DarajaAck>, WebError> {
    Ok(Json(st.app.mpesa_c2b_confirm(&token, &body).await?))
}

/// The callback URLs to give Safaricom and Airtel.
async fn callback_urls(State(st): State<AppState>, Auth(s): Auth) -> Result<Json<CallbackUrls>, WebError> {
    Ok(Json(st.app.callback_urls(&s).await?))
}

async fn register_c2b(State(st): State<AppState>, Auth(s): Auth) -> Result<Json<C2bRegistration>, WebError> {
    Ok(Json(st.app.register_c2b_urls(&s).await?))
}

async fn initiate(
    State(st): State<AppState>,
    Auth(s): Auth,
    JsonBody(req): JsonBody<InitiatePayment>,
) -> Result<(axum::http::StatusCode, Json<PaymentPrompt>), WebError> {
    Ok((axum::http::StatusCode::CREATED, Json(st.app.initiate_payment(&s, req).await?)))
}

async fn detail(
    State(st): State<AppState>,
    Auth(_s): Auth,
    Path(id): Path<i64>,
) -> Result<Json<PaymentDetail>, WebError> {
    Ok(Json(st.app.get_payment_detail(id).await?))
}

async fn invoice_pdf(
    State(st): State<AppState>,
    Auth(_s): Auth,
    Path(id): Path<i64>,
) -> Result<axum::response::Response, WebError> {
    use axum::response::IntoResponse;
    let (number, pdf) = st.app.invoice_pdf(id).await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.pdf\"", safe_file_name(&number)),
            ),
        ],
        pdf,
    )
        .into_response())
}

async fn notifications(
    State(st): State<AppState>,
    Auth(s): Auth,
    p: super::Params,
) -> Result<Json<broadnet_store::Page<broadnet_store::OutboxItem>>, WebError> {
    Ok(Json(st.app.list_notifications(&s, &NotificationListQuery::from_pairs(p.0)).await?))
}

async fn list(State(st): State<AppState>, Auth(_s): Auth, p: super::Params) -> Result<Json<Page<Payment>>, WebError> {
    Ok(Json(st.app.list_payments(&PaymentListQuery::from_pairs(p.0)).await?))
}

async fn cash(
    State(st): State<AppState>,
    Auth(s): Auth,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<CashPayment>,
) -> Result<(axum::http::StatusCode, Json<CashReceipt>), WebError> {
    Ok((axum::http::StatusCode::CREATED, Json(st.app.record_cash_payment(&s, id, req).await?)))
}

/// An invoice number as a file name: invoices numbered before prefixes were checked
/// may hold quotes or line breaks, which must never reach a header.
fn safe_file_name(number: &str) -> String {
    let name: String =
        number.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).collect();
    if name.is_empty() { "invoice".into() } else { name }
}
