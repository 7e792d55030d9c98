//! Request extractors: the authenticated session, the client IP, and JSON bodies
//! that fail in our error shape.

use crate::proxies::TrustedProxies;
use crate::{AppState, WebError};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use broadnet_app::{AppError, Session};
use std::net::{IpAddr, SocketAddr};

pub const SESSION_COOKIE: &str = "broadnet_session";

/// The client's address under the `TRUSTED_PROXIES` rule (see `proxies`). A request
/// without `ConnectInfo` was handed to the router in-process (tests, `oneshot`), not
/// accepted from the network: it is treated as coming from loopback, like the local
/// reverse proxy.
pub fn client_ip(parts: &Parts, trusted: &TrustedProxies) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    trusted.client_ip(peer, &parts.headers).to_string()
}

pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, &st.trusted_proxies)))
    }
}

fn token(h: &HeaderMap) -> Option<String> {
    if let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))
    {
        return Some(t.trim().to_string());
    }
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// An admin session from `Authorization: Bearer …` or the session cookie.
pub struct Auth(pub Session);

impl FromRequestParts<AppState> for Auth {
    type Rejection = WebError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let Some(tok) = token(&parts.headers) else {
            return Err(AppError::Unauthorized("log in first (Bearer token or session cookie)").into());
        };
        let ip = client_ip(parts, &st.trusted_proxies);
        Ok(Auth(st.app.authenticate(&tok, Some(ip)).await?))
    }
}

/// A JSON body as a `serde_json::Value`; malformed JSON is a 400 in our shape, and
/// field checks (422) are left to the use case.
pub struct JsonBody(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| WebError::bad_request("request body too large or unreadable"))?;
        if bytes.is_empty() {
            return Ok(JsonBody(serde_json::json!({})));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| WebError::bad_request(&format!("malformed JSON: {e}")).into_response())
    }
}
