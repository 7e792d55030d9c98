//! The admin panel: server-rendered pages (askama templates in `templates/`) that
//! call the same use cases as the JSON API. Forms work without JavaScript (POST,
//! then 303); htmx, embedded with the other assets, only enhances them.

mod account;
mod admins;
mod assets;
mod audit;
mod auth;
mod dashboard;
mod extract;
#[allow(dead_code)] // until every screen uses it (issue #12)
mod fmt;
#[allow(dead_code)] // until every screen uses it (issue #12)
mod form;
mod packages;
#[allow(dead_code)] // until every screen uses it (issue #12)
mod pager;
mod render;
mod settings;
mod system;
#[allow(dead_code)] // until every screen uses it (issue #12)
mod urls;

use crate::AppState;
use axum::Router;

/// The page for a path that matches no route.
pub fn not_found() -> axum::response::Response {
    render::message_page(axum::http::StatusCode::NOT_FOUND, "Not found", "There is no page at this address.")
}

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(assets::router())
        .merge(auth::router())
        .merge(dashboard::router())
        .merge(packages::router())
        .merge(settings::router())
        .merge(admins::router())
        .merge(audit::router())
        .merge(system::router())
        .merge(account::router())
}
