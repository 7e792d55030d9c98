//! `/api`: JSON for the dashboard and for scripts.

mod admins;
mod audit;
mod auth;
mod billing;
mod customers;
mod packages;
mod payments;
mod routers;
mod sessions;
mod settings;
mod vouchers;

use crate::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(customers::router())
        .merge(billing::router())
        .merge(packages::router())
        .merge(settings::router())
        .merge(admins::router())
        .merge(audit::router())
        .merge(sessions::router())
        .merge(payments::router())
        .merge(routers::router())
        .merge(vouchers::router())
}

/// Query parameters in order, as pairs (repeated keys kept).
pub(crate) type Params = axum::extract::Query<Vec<(String, String)>>;
