//! The HTTP face of BroadNet Billing: `/api` (JSON), `/health` and `/metrics`.
//! Handlers are thin: they read the request, call `broadnet_app`, and shape JSON.

mod api;
mod error;
mod extract;
pub mod metrics;
mod provision;
pub mod proxies;

pub use error::WebError;
pub use metrics::Metrics;
pub use proxies::TrustedProxies;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use broadnet_app::App;
use std::sync::Arc;
use std::time::Instant;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub metrics: Arc<Metrics>,
    /// Mark the session cookie `Secure` (production, behind HTTPS).
    pub secure_cookies: bool,
    /// Peers whose `X-Forwarded-For` / `X-Real-IP` are believed (TRUSTED_PROXIES).
    pub trusted_proxies: TrustedProxies,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api", api::router())
        .merge(provision::router())
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .fallback(|| async { WebError::from(broadnet_app::AppError::NotFound("page")) })
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

async fn health(State(st): State<AppState>) -> Response {
    match st.app.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok", "database": "ok", "backend": st.app.store.backend_name()})),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    serde_json::json!({"status": "unavailable", "database": "unreachable", "reason": e.to_string()}),
                ),
            )
                .into_response()
        }
    }
}

async fn metrics_text(State(st): State<AppState>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], st.metrics.render(st.app.store.backend_name()))
        .into_response()
}

async fn track(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let resp = next.run(req).await;
    st.metrics.observe_http(&method, &route, resp.status().as_u16(), start.elapsed());
    resp
}
