//! Login, logout and the current admin.

use crate::extract::{Auth, ClientIp, JsonBody, session_cookie as cookie};
use crate::{AppState, WebError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use broadnet_app::AppError;
use broadnet_app::input::Input;
use broadnet_store::Admin;
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering;

pub fn router() -> Router<AppState> {
    Router::new().route("/auth/login", post(login)).route("/auth/logout", post(logout)).route("/auth/me", get(me))
}

/// `{"username": …, "password": …}`; other fields are ignored.
#[derive(serde::Deserialize)]
struct LoginRequest {
    #[serde(default)]
    username: Input,
    #[serde(default)]
    password: Input,
}

/// A successful login: the token also comes as the session cookie.
#[derive(serde::Serialize)]
struct LoggedIn {
    token: String,
    token_type: &'static str,
    expires_at: DateTime<Utc>,
    admin: Admin,
}

#[derive(serde::Serialize)]
struct Me {
    admin: Admin,
    session_expires_at: DateTime<Utc>,
}

async fn login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, WebError> {
    // Only strings count; anything else is as good as missing.
    let field = |v: Input| match v {
        Input::Text(s) => s,
        _ => String::new(),
    };
    let (username, password) = (field(body.username), field(body.password));
    let mut missing = broadnet_app::FieldErrors::new();
    for (k, v) in [("username", &username), ("password", &password)] {
        if v.is_empty() {
            missing.insert(k.to_string(), vec!["is required".to_string()]);
        }
    }
    if !missing.is_empty() {
        return Err(AppError::Validation(missing).into());
    }
    let out = match st.app.login(&username, &password, &ip).await {
        Ok(o) => o,
        Err(e) => {
            if matches!(e, AppError::Unauthorized(_)) {
                st.metrics.logins_failed.fetch_add(1, Ordering::Relaxed);
            }
            return Err(e.into());
        }
    };
    st.metrics.logins_ok.fetch_add(1, Ordering::Relaxed);
    let max_age = (out.expires_at - st.app.now()).num_seconds().max(0);
    let mut resp =
        Json(LoggedIn { token: out.token.clone(), token_type: "Bearer", expires_at: out.expires_at, admin: out.admin })
            .into_response();
    if let Some(c) = cookie(&st, &out.token, max_age) {
        resp.headers_mut().insert(SET_COOKIE, c);
    }
    Ok(resp)
}

async fn logout(State(st): State<AppState>, Auth(s): Auth) -> Result<Response, WebError> {
    st.app.logout(&s).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Some(c) = cookie(&st, "", 0) {
        resp.headers_mut().insert(SET_COOKIE, c);
    }
    Ok(resp)
}

async fn me(Auth(s): Auth) -> Json<Me> {
    Json(Me { admin: s.admin, session_expires_at: s.expires_at })
}
