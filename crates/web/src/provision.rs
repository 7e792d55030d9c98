//! What a router asks for during provisioning (no admin session: the signed,
//! single-use token in the path is the credential).

use crate::extract::ClientIp;
use crate::{AppState, WebError};
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use broadnet_app::routers::{ProvisionDone, ProvisionReport};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/provision/hotspot/login.html", get(login_page))
        .route("/provision/{file}", get(script))
        .route("/provision/{token}/callback", post(callback))
}

/// `GET /provision/<token>.rsc`: always a script (refusals are scripts that say why).
/// The script carries a password for a full-rights RouterOS user: never cached, and a
/// `HEAD` (a link preview, a checker) does not use up the single-use token.
async fn script(
    State(st): State<AppState>,
    method: axum::http::Method,
    ClientIp(ip): ClientIp,
    Path(file): Path<String>,
) -> impl IntoResponse {
    let headers = [
        (axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        (axum::http::header::CACHE_CONTROL, "no-store"),
    ];
    if method == axum::http::Method::HEAD {
        return (headers, String::new());
    }
    let token = file.strip_suffix(".rsc").unwrap_or(&file);
    let body = st.app.provision_script(token, Some(ip)).await;
    (headers, body)
}

async fn callback(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<ProvisionDone>, WebError> {
    // Form-encoded, as `/tool fetch http-data=` sends it (a repeated field: the last).
    let mut form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let report = ProvisionReport {
        identity: form.remove("identity"),
        version: form.remove("version"),
        board: form.remove("board"),
    };
    Ok(Json(st.app.provision_callback(&token, &report, &ip).await?))
}

/// The hotspot login page routers fetch into their HTML directory.
async fn login_page(State(st): State<AppState>) -> Result<impl IntoResponse, WebError> {
    let isp = st.app.isp_name().await?;
    let portal = st.app.gateway_env().public_url.clone();
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        broadnet_app::routers::hotspot_login_page(&isp, &portal),
    ))
}
