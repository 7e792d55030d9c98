//! What every page shares (the layout's context) and the error pages.

use super::extract::Page;
use super::urls;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use broadnet_app::AppError;

/// The sections of the admin panel, in nav order: `(label, path)`.
pub const SECTIONS: &[(&str, &str)] = &[
    ("Dashboard", urls::HOME),
    ("Customers", urls::CUSTOMERS),
    ("Packages", urls::PACKAGES),
    ("Vouchers", urls::VOUCHERS),
    ("Routers", urls::ROUTERS),
    ("Payments", urls::PAYMENTS),
    ("Invoices", urls::INVOICES),
    ("Sessions", urls::SESSIONS),
    ("Notifications", urls::NOTIFICATIONS),
    ("Settings", urls::SETTINGS),
    ("Admins", urls::ADMINS),
    ("Audit log", urls::AUDIT),
    ("System", urls::SYSTEM),
];

/// One entry of the nav as the layout draws it.
pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

/// The layout's context: who is logged in, what they may do, the CSRF token for
/// the forms, and the nav.
pub struct Layout {
    pub title: String,
    pub username: String,
    pub role: String,
    pub can_write: bool,
    pub csrf: String,
    pub nav: Vec<NavItem>,
}

impl Layout {
    /// `current` is the label of the section the page belongs to.
    pub fn new(p: &Page, title: impl Into<String>, current: &str) -> Self {
        Layout {
            title: title.into(),
            username: p.session.admin.username.clone(),
            role: p.session.admin.role.to_string(),
            can_write: p.session.admin.role.can_write(),
            csrf: p.csrf.clone(),
            nav: SECTIONS
                .iter()
                // Admins are a superadmin's business only (the use cases refuse others).
                .filter(|(label, _)| *label != "Admins" || p.session.admin.role == broadnet_domain::Role::Superadmin)
                .map(|&(label, href)| NavItem { label, href, current: label == current })
                .collect(),
        }
    }
}

/// Renders a template with a status; a rendering failure is logged and becomes a 500.
pub fn html(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => {
            let mut r = (status, Html(body)).into_response();
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "admin page: template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log").into_response()
        }
    }
}

/// A page with a heading and a sentence, outside the layout (no session needed).
#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    status: u16,
    heading: &'a str,
    message: &'a str,
}

pub fn message_page(status: StatusCode, heading: &str, message: &str) -> Response {
    html(status, &MessagePage { status: status.as_u16(), heading, message })
}

/// The page for a use case's refusal, with the status the JSON API gives it.
pub fn error_page(e: AppError) -> Response {
    let msg = e.to_string();
    let (status, heading) = match &e {
        AppError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Some fields are invalid"),
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
        AppError::Conflict { .. } | AppError::InUse(_) => (StatusCode::CONFLICT, "Not possible"),
        AppError::Upstream(_) => (StatusCode::BAD_GATEWAY, "The provider failed"),
        AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "Log in first"),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
        AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "Too many attempts"),
        AppError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "Busy"),
        AppError::Internal(detail) => {
            tracing::error!(%detail, "internal error");
            return message_page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "See the server log.");
        }
    };
    let mut r = message_page(status, heading, &msg);
    if let AppError::RateLimited { retry_after_secs } = e
        && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}
