//! The embedded CSS, JS and icon (memory-serve, embedded by `build.rs` in every
//! build): served at content-hashed URLs cached for a year (`immutable`), gzip or
//! brotli as the browser accepts, ETag/304 on the plain URLs.

use std::sync::OnceLock;

/// The route of each file (`/admin.css`) → the route it is served at.
static MANIFEST: OnceLock<memory_serve::Manifest> = OnceLock::new();
/// memory-serve leaks its options on `into_router`: build the router once.
static ROUTER: OnceLock<axum::Router<crate::AppState>> = OnceLock::new();

fn serve() -> memory_serve::MemoryServe {
    memory_serve::load!()
        .enable_hashed_routes(true)
        .enable_gzip(true)
        .enable_brotli(true)
        .index_file(None)
        .cache_control(memory_serve::CacheControl::NoCache)
}

/// `/assets/...` and `/favicon.ico`.
pub fn router() -> axum::Router<crate::AppState> {
    ROUTER
        .get_or_init(|| {
            let s = serve();
            let _ = MANIFEST.set(s.manifest());
            let favicon = asset("/favicon.svg");
            axum::Router::new().nest("/assets", s.into_router()).route(
                "/favicon.ico",
                axum::routing::get(move || async move { axum::response::Redirect::permanent(&favicon) }),
            )
        })
        .clone()
}

/// `asset("/htmx-2.0.11.min.js")` → `/assets/htmx-2.0.11.min.<hash>.js`.
pub fn asset(route: &str) -> String {
    let m = MANIFEST.get_or_init(|| serve().manifest());
    format!("/assets{}", m.get(route).unwrap_or(route))
}
