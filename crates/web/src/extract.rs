//! Request extractors: the authenticated session, the client IP, and JSON bodies
//! that fail in our error shape.

use crate::{AppState, WebError};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use broadnet_app::{AppError, Session};
use std::net::{IpAddr, SocketAddr};

pub const SESSION_COOKIE: &str = "broadnet_session";

/// The client's address. Behind Nginx on the same host (a loopback peer), the
/// `X-Real-IP` / `X-Forwarded-For` the proxy sets is believed; from anyone else not.
pub fn client_ip(parts: &Parts) -> String {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if peer.is_none_or(|p| p.is_loopback())
        && let Some(ip) = forwarded_ip(&parts.headers)
    {
        return ip.to_string();
    }
    peer.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into())
}

fn forwarded_ip(h: &HeaderMap) -> Option<IpAddr> {
    let real = h.get("x-real-ip").and_then(|v| v.to_str().ok()).and_then(|s| s.trim().parse().ok());
    real.or_else(|| {
        h.get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.trim().parse().ok())
    })
}

pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
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
        let ip = client_ip(parts);
        Ok(Auth(st.app.authenticate(&tok, Some(ip)).await?))
    }
}

/// A JSON body as a `serde_json::Value`; malformed JSON is a 400 in our shape, and
/// field checks (422) are left to the use case.
pub struct JsonBody(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                WebError::too_large()
            } else {
                WebError::bad_request("request body unreadable")
            }
        })?;
        if bytes.is_empty() {
            return Ok(JsonBody(serde_json::json!({})));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| WebError::bad_request(&format!("malformed JSON: {e}")).into_response())
    }
}
