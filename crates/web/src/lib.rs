//! The HTTP face of BroadNet Billing: `/api` (JSON), the admin pages (`/`, HTML),
//! `/health` and `/metrics`.
//! Handlers are thin: they read the request, call `broadnet_app`, and shape JSON.

mod admin;
mod api;
mod error;
mod extract;
pub mod metrics;
mod portal;
mod provision;
pub mod proxies;

pub use error::WebError;
pub use extract::SESSION_COOKIE;
pub use metrics::Metrics;
pub use proxies::TrustedProxies;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use broadnet_app::App;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub metrics: Arc<Metrics>,
    /// Mark the session cookie `Secure` (production, behind HTTPS).
    pub secure_cookies: bool,
    /// Peers whose `X-Forwarded-For` / `X-Real-IP` are believed (TRUSTED_PROXIES).
    pub trusted_proxies: TrustedProxies,
    /// How long a request may take, reading its body included (HTTP_REQUEST_TIMEOUT_SECS).
    pub request_timeout: Duration,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api", api::router())
        .merge(provision::router())
        .merge(admin::router())
        .merge(portal::router())
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// A browser asking for a page that does not exist gets a page; everyone else, and
/// anything under `/api`, the JSON error.
async fn not_found(req: Request) -> Response {
    let api = req.uri().path() == "/api" || req.uri().path().starts_with("/api/");
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"));
    if wants_html && !api {
        admin::not_found()
    } else {
        WebError::from(broadnet_app::AppError::NotFound("page")).into_response()
    }
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

/// A slow client (a body trickled in) or a stuck handler gives its connection back
/// after `request_timeout` with a 503 instead of holding it indefinitely.
async fn deadline(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    match tokio::time::timeout(st.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(%path, timeout_secs = st.request_timeout.as_secs(), "request timed out");
            let mut resp = WebError::unavailable("the request took too long; try again");
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            resp
        }
    }
}

/// The CSP for HTML. The hotspot login page we serve is a template the routers copy
/// into their own HTML directory and serve themselves (our headers do not follow it);
/// viewed here, its inline script may stay blocked.
const HTML_CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
/// Everything else (JSON, scripts, metrics) loads nothing and is framed by no one.
const DATA_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Headers for every answer: no MIME sniffing, no framing (clickjacking), no
/// referrer leaking paths with tokens, and `/api` answers (which can carry customer
/// RADIUS passwords) kept out of caches unless a handler says otherwise.
async fn security_headers(req: Request, next: Next) -> Response {
    let api = req.uri().path() == "/api" || req.uri().path().starts_with("/api/");
    let provision = req.uri().path().starts_with("/provision/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The admin pages: `same-origin`, because under `no-referrer` a browser sends
    // `Origin: null` with a page's own form POSTs, and the same-origin check refuses
    // them. Nothing leaves for another site either way. (The provisioning paths carry
    // tokens: never.)
    let policy = if html && !provision { "same-origin" } else { "no-referrer" };
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static(policy));
    // A page may set its own (the portal's login form goes to the router).
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(if html {
        HTML_CSP
    } else {
        DATA_CSP
    }));
    if api {
        h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    }
    resp
}
