// Sketch (not compiled): embedded assets with memory-serve 2.4.
//
// crates/web/Cargo.toml
//   [dependencies]        memory-serve.workspace = true
//   [build-dependencies]  memory-serve.workspace = true
//
// ---- crates/web/build.rs -----------------------------------------------------------------
fn main() {
    // Always embed, in debug builds too: the tests then serve the very bytes the release
    // binary serves (memory-serve's default reads the files from disk in debug builds).
    // It prints `rerun-if-changed` for the folder itself.
    memory_serve::load_directory_with_embed("assets", true);
}

// ---- crates/web/src/admin/assets.rs ------------------------------------------------------
//! The embedded CSS, JS and icons: served at content-hashed URLs that never change
//! (`Cache-Control: max-age=31536000, immutable`), gzip or brotli as the browser accepts,
//! ETag/304 on the plain URLs.

use std::sync::OnceLock;

/// Route of each file (`/admin.css`) → the hashed route under `/assets`.
static MANIFEST: OnceLock<memory_serve::Manifest> = OnceLock::new();

/// The router for `/assets/...`. memory-serve leaks its options: build it once, when the
/// app's router is built.
pub fn router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    let serve = memory_serve::load!()
        .enable_hashed_routes(true)
        .enable_gzip(true)
        .enable_brotli(true)
        .index_file(None)
        .cache_control(memory_serve::CacheControl::NoCache); // plain (unhashed) URLs revalidate
    let _ = MANIFEST.set(serve.manifest());
    axum::Router::new()
        .nest("/assets", serve.into_router())
        // Chromium asks for it on every page; a 404 would be a console error in the tests.
        .route("/favicon.ico", axum::routing::get(|| async { axum::response::Redirect::permanent(&asset("/favicon.svg")) }))
}

/// `asset("/htmx-2.0.11.min.js")` → `/assets/htmx-2.0.11.min.<hash16>.js`. Templates call it.
/// An unknown name is a bug caught by the in-process test that loads every page.
pub fn asset(route: &str) -> String {
    let hashed = MANIFEST.get().and_then(|m| m.get(route)).unwrap_or(route);
    format!("/assets{hashed}")
}

// In templates (askama can call free functions through a path):
//   <link rel="stylesheet" href="{{ crate::admin::assets::asset("/admin.css") }}">
//   <script src="{{ crate::admin::assets::asset("/htmx-2.0.11.min.js") }}" defer></script>
//
// Tests (in-process, tower::ServiceExt::oneshot):
//   - every asset() route answers 200 with `immutable`, and the body's sha256 matches;
//   - Accept-Encoding: gzip → Content-Encoding: gzip, Vary: accept-encoding;
//   - If-None-Match: <etag> on the plain route → 304;
//   - the layout references only hashed routes (no `/assets/x.js` without a hash).
//
// Alternative considered: rust-embed 8.13 gives `Assets::get(path)` + `metadata.sha256_hash()`
// but no serving, compression or ETag: ~150 lines of our own + flate2. memory-serve is chosen.
