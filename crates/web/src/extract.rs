//! Request extractors: the authenticated session, the client IP, and JSON bodies
//! that fail in our error shape.

use crate::proxies::TrustedProxies;
use crate::{AppState, WebError};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
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

/// Where a session token came from: browsers send the cookie on their own, so only
/// cookie-authenticated writes need the same-origin check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Bearer,
    Cookie,
}

fn token(h: &HeaderMap) -> Option<(String, Carrier)> {
    if let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))
    {
        return Some((t.trim().to_string(), Carrier::Bearer));
    }
    cookie_value(h, SESSION_COOKIE).map(|v| (v, Carrier::Cookie))
}

/// The value of the cookie `name`, if the request carries it.
pub(crate) fn cookie_value(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The session cookie, as both the JSON login and the admin pages set it (an empty
/// value with `max_age` 0 clears it).
pub(crate) fn session_cookie(st: &AppState, value: &str, max_age: i64) -> Option<axum::http::HeaderValue> {
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    axum::http::HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// CSRF defence for cookie-authenticated writes. `SameSite=Strict` keeps the cookie
/// from other sites, but not from a sibling subdomain (same site) nor from browsers
/// without SameSite; a forged form or `fetch` does carry `Origin` and, in current
/// browsers, `Sec-Fetch-Site`, which a page cannot set.
pub(crate) fn check_same_origin(parts: &Parts, public_url: &str) -> Result<(), WebError> {
    if parts.method.is_safe() {
        return Ok(());
    }
    let h = &parts.headers;
    let fetch_site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()).unwrap_or("");
    // `same-site` too: that is exactly the sibling-subdomain case SameSite lets through.
    if fetch_site.eq_ignore_ascii_case("cross-site") || fetch_site.eq_ignore_ascii_case("same-site") {
        return Err(AppError::Forbidden("cross-site request refused").into());
    }
    if let Some(origin) = h.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
        if !is_own_origin(origin, host, public_url) {
            return Err(AppError::Forbidden("cross-origin request refused").into());
        }
    }
    Ok(())
}

/// Whether `origin` is this server: the one in APP_URL, or the host the browser
/// addressed (the Host header, for installs reached under several names).
fn is_own_origin(origin: &str, host: Option<&str>, public_url: &str) -> bool {
    let Ok(o) = url::Url::parse(origin) else {
        // Includes `null` (sandboxed frames, some redirects): never ours.
        return false;
    };
    if url::Url::parse(public_url).is_ok_and(|p| p.origin() == o.origin()) {
        return true;
    }
    host.and_then(|h| url::Url::parse(&format!("{}://{h}", o.scheme())).ok()).is_some_and(|h| {
        h.host_str().is_some_and(|hh| o.host_str().is_some_and(|oh| oh.eq_ignore_ascii_case(hh)))
            && h.port_or_known_default() == o.port_or_known_default()
    })
}

/// An admin session from `Authorization: Bearer …` or the session cookie.
pub struct Auth(pub Session);

impl FromRequestParts<AppState> for Auth {
    type Rejection = WebError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let Some((tok, carrier)) = token(&parts.headers) else {
            return Err(AppError::Unauthorized("log in first (Bearer token or session cookie)").into());
        };
        if carrier == Carrier::Cookie {
            check_same_origin(parts, &st.app.gateway_env().public_url)?;
        }
        let ip = client_ip(parts, &st.trusted_proxies);
        Ok(Auth(st.app.authenticate(&tok, Some(ip)).await?))
    }
}

/// `application/json` as received, for the provider callbacks, which the provider's
/// own lenient parser reads once (in the use case): 413 over the limit, 415 if it is
/// not JSON; an empty body is `{}`.
pub struct RawJson(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawJson {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (is_json, bytes) = json_bytes(req, state).await?;
        if bytes.is_empty() {
            return Ok(RawJson(axum::body::Bytes::from_static(b"{}")));
        }
        if !is_json {
            return Err(WebError::unsupported_media_type("the body must be JSON (Content-Type: application/json)"));
        }
        Ok(RawJson(bytes))
    }
}

/// Whether the request says it is JSON, and its body (413 past the limit).
async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<(bool, axum::body::Bytes), Response> {
    let is_json =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(';').next().is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
        });
    let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            WebError::payload_too_large("request body too large")
        } else {
            WebError::bad_request("request body unreadable")
        }
    })?;
    Ok((is_json, bytes))
}

/// A JSON body read into a use case's request type (whose fields are lenient
/// [`broadnet_app::input::Input`]s, so field checks with their messages are left to
/// the use case). Refusals come in our error shape: a body over the limit is 413, one
/// that is not `application/json` is 415 (so a plain HTML form cannot post to the
/// API), malformed JSON is 400, and JSON that is not an object is 422. An empty body
/// is `{}`, for bodyless POSTs.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (is_json, bytes) = json_bytes(req, state).await?;
        if !is_json && !bytes.is_empty() {
            return Err(WebError::unsupported_media_type("the body must be JSON (Content-Type: application/json)"));
        }
        let bytes = if bytes.is_empty() { axum::body::Bytes::from_static(b"{}") } else { bytes };
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            if e.classify() != serde_json::error::Category::Data {
                return WebError::bad_request(&format!("malformed JSON: {e}")).into_response();
            }
            let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            let message = if object { e.to_string() } else { "must be a JSON object".to_string() };
            WebError(AppError::field("body", message)).into_response()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{JsonBody, is_own_origin};
    use axum::extract::{FromRequest, Request};
    use broadnet_app::customers::CustomerRequest;

    async fn read(ctype: &str, body: &'static str) -> Result<CustomerRequest, u16> {
        let req = Request::builder().header("content-type", ctype).body(axum::body::Body::from(body)).unwrap();
        JsonBody::<CustomerRequest>::from_request(req, &()).await.map(|b| b.0).map_err(|r| r.status().as_u16())
    }

    #[tokio::test]
    async fn json_bodies_are_refused_in_our_shape() {
        assert_eq!(read("application/json", r#"{"full_name": "Jane"}"#).await.unwrap().full_name, "Jane".into());
        assert_eq!(read("text/plain", "").await.unwrap(), CustomerRequest::default(), "an empty body is {{}}");
        assert_eq!(read("application/json", "{\"full_name\": ").await, Err(400), "malformed");
        assert_eq!(read("application/json", "[1, 2]").await, Err(422), "not an object");
        assert_eq!(read("application/json", "null").await, Err(422), "not an object");
        assert_eq!(read("application/x-www-form-urlencoded", "full_name=Jane").await, Err(415));
    }

    #[test]
    fn own_origins() {
        let app = "https://billing.isp.co.ke";
        assert!(is_own_origin("https://billing.isp.co.ke", None, app));
        assert!(is_own_origin("https://billing.isp.co.ke:443", None, app));
        assert!(!is_own_origin("https://portal.isp.co.ke", None, app));
        assert!(!is_own_origin("http://billing.isp.co.ke", None, app));
        assert!(!is_own_origin("null", Some("billing.isp.co.ke"), app));
        // Reached by another name: the Host header the browser sent.
        assert!(is_own_origin("http://10.0.0.5:3000", Some("10.0.0.5:3000"), app));
        assert!(is_own_origin("http://Router.LAN", Some("router.lan:80"), app));
        assert!(!is_own_origin("http://10.0.0.5:3001", Some("10.0.0.5:3000"), app));
        assert!(!is_own_origin("https://evil.example", Some("10.0.0.5:3000"), app));
    }
}
