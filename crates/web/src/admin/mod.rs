//! The admin panel: server-rendered pages (askama templates in `templates/`) that
//! call the same use cases as the JSON API. Forms work without JavaScript (POST,
//! then 303); htmx, embedded with the other assets, only enhances them.

mod account;
mod admins;
pub(crate) mod assets;
mod audit;
mod auth;
mod collect;
mod customers;
mod dashboard;
mod extract;
mod fmt;
mod form;
pub(crate) mod gzip;
mod invoices;
mod notifications;
mod packages;
mod pager;
mod payments;
mod render;
mod routers;
mod sessions;
mod settings;
mod system;
mod urls;
mod vouchers;

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
        .merge(routers::router())
        .merge(customers::router())
        .merge(payments::router())
        .merge(invoices::router())
        .merge(sessions::router())
        .merge(notifications::router())
        .merge(settings::router())
        .merge(admins::router())
        .merge(audit::router())
        .merge(system::router())
        .merge(account::router())
        .merge(vouchers::router())
        // Last, so it wraps every page above.
        .layer(axum::middleware::from_fn(gzip::gzip_html))
}
