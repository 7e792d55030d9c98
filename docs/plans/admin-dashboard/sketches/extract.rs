// Sketch of crates/web/src/admin/extract.rs + render.rs (not compiled).
// Page: a logged-in admin from the session cookie (never Bearer).
// Form<T>: Page + same-origin + CSRF + urlencoded body into a use case's request type.
// Mode: full page or htmx fragment (kanidm's HxRequest pattern, hardened for history).

use crate::extract::{SESSION_COOKIE, check_same_origin, client_ip, cookie_value};
use crate::{AppState, WebError};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_htmx::{HxBoosted, HxHistoryRestoreRequest, HxRequest};
use broadnet_app::{AppError, Session};

pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
const FORM_LIMIT: usize = 64 * 1024;

pub struct Page {
    pub session: Session,
    pub csrf: String,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = PageError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, PageError> {
        let Some(tok) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(PageError::Login { next: parts.uri.path().to_string(), htmx: is_htmx(parts) });
        };
        let ip = client_ip(parts, &st.trusted_proxies);
        match st.app.authenticate(&tok, Some(ip)).await {
            Ok(session) => Ok(Page { csrf: st.app.csrf_token(&session), session }),
            Err(AppError::Unauthorized(_)) => {
                Err(PageError::Login { next: parts.uri.path().to_string(), htmx: is_htmx(parts) })
            }
            Err(e) => Err(PageError::App(e)),
        }
    }
}

/// A state-changing form: the only way a page handler reads a body.
pub struct Form<T> {
    pub page: Page,
    pub data: T,
}

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for Form<T> {
    type Rejection = PageError;
    async fn from_request(req: Request, st: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let page = Page::from_request_parts(&mut parts, st).await?;
        check_same_origin(&parts, &st.app.gateway_env().public_url).map_err(|e| PageError::App(e.0))?;
        let header_token = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
        let urlencoded = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| PageError::TooLarge)?;
        if !urlencoded && !bytes.is_empty() {
            return Err(PageError::UnsupportedMedia);
        }
        let mut token = header_token;
        let mut pairs = Vec::new();
        for (k, v) in url::form_urlencoded::parse(&bytes).into_owned() {
            if k == CSRF_FIELD { token = Some(v) } else { pairs.push((k, v)) }
        }
        st.app.check_csrf(&page.session, token.as_deref().unwrap_or("")).map_err(PageError::App)?;
        let data = broadnet_app::input::from_pairs(pairs).map_err(PageError::App)?;
        Ok(Form { page, data })
    }
}

/// Full page or fragment. A boosted navigation and a history restore want the whole page.
#[derive(Clone, Copy)]
pub struct Mode {
    pub fragment: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Mode {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let HxRequest(hx) = HxRequest::from_request_parts(parts, s).await?;
        let HxBoosted(boosted) = HxBoosted::from_request_parts(parts, s).await?;
        let HxHistoryRestoreRequest(restore) = HxHistoryRestoreRequest::from_request_parts(parts, s).await?;
        Ok(Mode { fragment: hx && !boosted && !restore })
    }
}

fn is_htmx(parts: &Parts) -> bool {
    parts.headers.get("hx-request").is_some_and(|v| v == "true")
}

/// Errors rendered for people: never JSON, never internals.
pub enum PageError {
    Login { next: String, htmx: bool },
    App(AppError),
    TooLarge,
    UnsupportedMedia,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Login { htmx: true, .. } => {
                ([("hx-redirect", HeaderValue::from_static("/login"))], StatusCode::OK).into_response()
            }
            PageError::Login { next, .. } => {
                Redirect::to(&format!("/login?next={}", urlencode_path(&next))).into_response() // 303
            }
            // Validation is handled by the handler (it re-renders its own form, 422);
            // reaching here means a request no form of ours sends.
            PageError::App(e) => crate::admin::render::error_page(e), // 403/404/409/429/502/500 pages, logged
            PageError::TooLarge => crate::admin::render::status_page(StatusCode::PAYLOAD_TOO_LARGE),
            PageError::UnsupportedMedia => crate::admin::render::status_page(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        }
    }
}

// ---- a handler, to show the shape ------------------------------------------------------
#[derive(askama::Template)]
#[template(path = "customers/list.html", blocks = ["rows"])]
struct CustomersList {
    layout: crate::admin::render::Layout, // admin, can_write, csrf, nav, flash, asset()
    page: broadnet_store::Page<broadnet_app::customers::CustomerView>,
    query: Vec<(String, String)>,
}

async fn list(
    axum::extract::State(st): axum::extract::State<AppState>,
    p: Page,
    mode: Mode,
    q: axum::extract::Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let page = st.app.list_customers(&q.0).await.map_err(PageError::App)?; // same params as /api/customers
    let tpl = CustomersList { layout: crate::admin::render::Layout::new(&st, &p, Nav::Customers), page, query: q.0 };
    let mut resp = if mode.fragment {
        askama_web::WebTemplate(tpl.as_rows()).into_response()
    } else {
        askama_web::WebTemplate(tpl).into_response()
    };
    resp.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(resp)
}

async fn create(
    axum::extract::State(st): axum::extract::State<AppState>,
    Form { page, data }: Form<broadnet_app::customers::CustomerRequest>,
) -> Result<Response, PageError> {
    let errors = match st.app.create_customer(&page.session, data.clone()).await {
        Ok(c) => return Ok(Redirect::to(&crate::admin::urls::customer(c.id)).into_response()), // 303
        Err(AppError::Validation(errors)) => errors,
        // A unique field taken: shown at that field, as the API's 409 names it.
        Err(AppError::Conflict { field }) => [(field.to_string(), vec!["is already taken".to_string()])].into(),
        Err(e) => return Err(PageError::App(e)),
    };
    // Same form, the values as typed and one message per field, 422 (htmx swaps 422: see
    // the responseHandling meta config).
    Ok((StatusCode::UNPROCESSABLE_ENTITY, CustomerForm::with_errors(&st, &page, data, errors)).into_response())
}
