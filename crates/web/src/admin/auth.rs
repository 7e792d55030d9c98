//! `/login` and `/logout`.

use super::extract::{Form, PageError, PublicForm};
use super::render::html;
use super::urls;
use crate::AppState;
use crate::extract::{ClientIp, cookie_value, session_cookie};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use broadnet_app::AppError;
use std::sync::atomic::Ordering;

pub fn router() -> Router<AppState> {
    Router::new().route(urls::LOGIN, get(login_page).post(login)).route(urls::LOGOUT, post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    /// Matches the nonce cookie set with the page (double-submit login CSRF check).
    proof: String,
    username: String,
    next: String,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
struct Next {
    #[serde(default)]
    next: String,
}

/// Only a path of this site (`/packages`), never `//evil.example` or a full URL.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        urls::HOME.to_string()
    }
}

/// The cookie that carries the login form's nonce.
const LOGIN_COOKIE: &str = "broadnet_login";

/// The login page with a fresh nonce: in a cookie only this site's forms see, and
/// its proof in the form.
fn login_form(st: &AppState, status: StatusCode, username: &str, next: &str, error: Option<String>) -> Response {
    let (nonce, proof) = st.app.login_nonce();
    let page = LoginPage { proof, username: username.to_string(), next: next.to_string(), error };
    let mut resp = html(status, &page);
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    let cookie =
        format!("{LOGIN_COOKIE}={nonce}; Path={}; HttpOnly; SameSite=Strict; Max-Age=3600{secure}", urls::LOGIN);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
    resp
}

async fn login_page(State(st): State<AppState>, Query(q): Query<Next>) -> Response {
    login_form(&st, StatusCode::OK, "", &safe_next(&q.next), None)
}

async fn login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    PublicForm(fields): PublicForm,
) -> Response {
    let get = |k: &str| fields.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let (username, password, next) = (get("username"), get("password"), safe_next(&get("next")));
    let again = |status: StatusCode, error: String| login_form(&st, status, &username, &next, Some(error));
    let nonce = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    if let Err(e) = st.app.check_login_proof(&nonce, &get("_proof")) {
        return again(StatusCode::FORBIDDEN, e.to_string());
    }
    if username.trim().is_empty() || password.is_empty() {
        return again(StatusCode::UNPROCESSABLE_ENTITY, "Enter your username and password.".to_string());
    }
    match st.app.login(username.trim(), &password, &ip).await {
        Ok(out) => {
            st.metrics.logins_ok.fetch_add(1, Ordering::Relaxed);
            let max_age = (out.expires_at - st.app.now()).num_seconds().max(0);
            let mut resp = Redirect::to(&next).into_response();
            if let Some(c) = session_cookie(&st, &out.token, max_age) {
                resp.headers_mut().insert(SET_COOKIE, c);
            }
            resp
        }
        Err(e @ AppError::Unauthorized(_)) => {
            st.metrics.logins_failed.fetch_add(1, Ordering::Relaxed);
            again(StatusCode::UNAUTHORIZED, e.to_string())
        }
        Err(e @ AppError::RateLimited { retry_after_secs }) => {
            let mut r = again(StatusCode::TOO_MANY_REQUESTS, e.to_string());
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                r.headers_mut().insert(RETRY_AFTER, v);
            }
            r
        }
        Err(e) => PageError::App(e).into_response(),
    }
}

/// A bodyless form: only the CSRF token.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

async fn logout(State(st): State<AppState>, f: Form<NoFields>) -> Result<Response, PageError> {
    st.app.logout(&f.page.session).await?;
    let mut resp = Redirect::to(urls::LOGIN).into_response();
    if let Some(c) = session_cookie(&st, "", 0) {
        resp.headers_mut().insert(SET_COOKIE, c);
    }
    Ok(resp)
}
