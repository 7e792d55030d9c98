//! What an admin page reads from a request: the logged-in admin from the session
//! cookie ([`Page`]), and a state-changing form checked for same origin and the
//! session's CSRF token ([`Form`]). Failures become pages ([`PageError`]), never JSON.

use super::render;
use crate::AppState;
use crate::extract::{SESSION_COOKIE, check_same_origin, client_ip, cookie_value};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use broadnet_app::{AppError, Session};

/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
/// The header htmx requests may carry it in instead.
pub const CSRF_HEADER: &str = "x-csrf-token";
const FORM_LIMIT: usize = 64 * 1024;

/// A logged-in admin, from the session cookie only (never a Bearer token).
pub struct Page {
    pub session: Session,
    pub csrf: String,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = PageError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, PageError> {
        // An htmx request (a poll, a fragment) sends the browser to the login page
        // whole, coming back to the page it was on, not to the fragment's URL.
        let htmx = parts.headers.get("hx-request").is_some_and(|v| v.as_bytes() == b"true");
        let current = parts
            .headers
            .get("hx-current-url")
            .and_then(|v| v.to_str().ok())
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.path().to_string());
        let login = || PageError::Login {
            next: current.clone().filter(|_| htmx).unwrap_or_else(|| parts.uri.path().to_string()),
            htmx,
        };
        let Some(tok) = cookie_value(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(login());
        };
        let ip = client_ip(parts, &st.trusted_proxies);
        match st.app.authenticate(&tok, Some(ip)).await {
            Ok(session) => Ok(Page { csrf: st.app.csrf_token(&session), session }),
            Err(AppError::Unauthorized(_)) => Err(login()),
            Err(e) => Err(PageError::App(e)),
        }
    }
}

/// A state-changing form: the only way an admin page reads a body. Same origin, an
/// urlencoded body, and this session's token in `_csrf` (or `X-CSRF-Token`), else
/// 403. `data` is the use case's request type read with `input::from_pairs` (the
/// token taken out, so it never reaches the request's unknown fields); `raw` keeps
/// the fields as typed, to show the form again with its errors.
pub struct Form<T> {
    pub page: Page,
    pub data: T,
    pub raw: Vec<(String, String)>,
}

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for Form<T> {
    type Rejection = PageError;
    async fn from_request(req: Request, st: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let page = Page::from_request_parts(&mut parts, st).await?;
        let raw = read_form(&parts, body, st).await?;
        let mut token =
            parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string).unwrap_or_default();
        let mut pairs = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            if k == CSRF_FIELD { token = v } else { pairs.push((k, v)) }
        }
        st.app.check_csrf(&page.session, &token).map_err(PageError::App)?;
        let data = broadnet_app::input::from_pairs(pairs.clone()).map_err(PageError::App)?;
        Ok(Form { page, data, raw: pairs })
    }
}

/// A form posted before any session exists (the login form): same origin and
/// urlencoded, no token.
pub struct PublicForm(pub Vec<(String, String)>);

impl FromRequest<AppState> for PublicForm {
    type Rejection = PageError;
    async fn from_request(req: Request, st: &AppState) -> Result<Self, PageError> {
        let (parts, body) = req.into_parts();
        Ok(PublicForm(read_form(&parts, body, st).await?))
    }
}

async fn read_form(parts: &Parts, body: axum::body::Body, st: &AppState) -> Result<Vec<(String, String)>, PageError> {
    check_same_origin(parts, &st.app.gateway_env().public_url).map_err(|e| PageError::App(e.0))?;
    let urlencoded = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| PageError::TooLarge)?;
    if !urlencoded && !bytes.is_empty() {
        return Err(PageError::UnsupportedMedia);
    }
    Ok(url::form_urlencoded::parse(&bytes).into_owned().collect())
}

/// Errors shown to people: a page, never JSON, never internals.
#[derive(Debug)]
pub enum PageError {
    /// Not logged in: 303 to the login page, which comes back to `next`.
    Login {
        next: String,
        /// Answer with `HX-Redirect`, which htmx follows as a full navigation (a 303
        /// would swap the login page into the fragment's place).
        htmx: bool,
    },
    App(AppError),
    TooLarge,
    UnsupportedMedia,
}

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError::App(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Login { next, htmx: false } => Redirect::to(&super::urls::login_then(&next)).into_response(),
            PageError::Login { next, htmx: true } => {
                let mut r = StatusCode::NO_CONTENT.into_response();
                if let Ok(v) = axum::http::HeaderValue::from_str(&super::urls::login_then(&next)) {
                    r.headers_mut().insert("hx-redirect", v);
                }
                r
            }
            PageError::App(e) => render::error_page(e),
            PageError::TooLarge => {
                render::message_page(StatusCode::PAYLOAD_TOO_LARGE, "Too large", "The form sent too much data.")
            }
            PageError::UnsupportedMedia => render::message_page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Not a form",
                "Send this page's form as it is (application/x-www-form-urlencoded).",
            ),
        }
    }
}
