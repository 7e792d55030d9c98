//! One JSON error shape for every failure:
//! `{"error": {"code": "...", "message": "...", "fields": {...}}}`.
//! Internal details are logged, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use broadnet_app::AppError;
use serde_json::json;

#[derive(Debug)]
pub struct WebError(pub AppError);

impl From<AppError> for WebError {
    fn from(e: AppError) -> Self {
        WebError(e)
    }
}

impl From<broadnet_store::StoreError> for WebError {
    fn from(e: broadnet_store::StoreError) -> Self {
        WebError(e.into())
    }
}

impl WebError {
    pub fn bad_request(msg: &str) -> Response {
        body(StatusCode::BAD_REQUEST, "bad_request", msg, None)
    }

    pub fn payload_too_large(msg: &str) -> Response {
        body(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", msg, None)
    }

    pub fn unsupported_media_type(msg: &str) -> Response {
        body(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", msg, None)
    }

    /// For refusals made outside a handler (timeouts, the connection limit).
    pub fn unavailable(msg: &str) -> Response {
        body(StatusCode::SERVICE_UNAVAILABLE, "unavailable", msg, None)
    }
}

fn body(status: StatusCode, code: &str, message: &str, fields: Option<serde_json::Value>) -> Response {
    let mut err = json!({"code": code, "message": message});
    if let Some(f) = fields {
        err["fields"] = f;
    }
    (status, Json(json!({"error": err}))).into_response()
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let msg = self.0.to_string();
        match self.0 {
            AppError::Validation(fields) => body(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "some fields are invalid",
                Some(json!(fields)),
            ),
            AppError::NotFound(_) => body(StatusCode::NOT_FOUND, "not_found", &msg, None),
            AppError::Conflict { field } => {
                body(StatusCode::CONFLICT, "conflict", &msg, Some(json!({ field: ["is already taken"] })))
            }
            AppError::InUse(_) => body(StatusCode::CONFLICT, "in_use", &msg, None),
            AppError::Upstream(_) => body(StatusCode::BAD_GATEWAY, "provider_error", &msg, None),
            AppError::Unauthorized(_) => body(StatusCode::UNAUTHORIZED, "unauthorized", &msg, None),
            AppError::Forbidden(_) => body(StatusCode::FORBIDDEN, "forbidden", &msg, None),
            AppError::RateLimited { retry_after_secs } => {
                let mut r = body(StatusCode::TOO_MANY_REQUESTS, "rate_limited", &msg, None);
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            AppError::Busy(_) => {
                let mut r = body(StatusCode::SERVICE_UNAVAILABLE, "busy", &msg, None);
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                body(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log", None)
            }
        }
    }
}
