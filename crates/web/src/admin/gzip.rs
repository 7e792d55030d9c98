//! Gzip for the admin pages' HTML (the assets come precompressed from
//! memory-serve): a cheap phone on a slow link gets a 60 KB list page as ~8 KB.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;

/// Below this, gzip's header costs more than it saves.
const MIN_SIZE: usize = 1024;
/// Pages are far smaller; anything bigger is passed through as it is.
const MAX_SIZE: usize = 8 * 1024 * 1024;

fn accepts_gzip(req: &Request) -> bool {
    req.headers().get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|e| {
            let mut parts = e.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "").eq_ignore_ascii_case("q=0"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
    })
}

fn is_html(r: &Response) -> bool {
    r.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"))
}

pub async fn gzip_html(req: Request, next: Next) -> Response {
    let gzip = accepts_gzip(&req);
    let resp = next.run(req).await;
    if !is_html(&resp) || resp.headers().contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    parts.headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    if !gzip {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_SIZE).await else {
        tracing::error!("admin page: body unreadable or over {MAX_SIZE} bytes");
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    if bytes.len() < MIN_SIZE {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::new(6));
    match enc.write_all(&bytes).and_then(|()| enc.finish()) {
        Ok(zipped) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            Response::from_parts(parts, Body::from(zipped))
        }
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::response::Html;
    use axum::routing::get;
    use flate2::read::GzDecoder;
    use std::io::Read;
    use tower::ServiceExt;

    async fn get_page(path: &str, accept: Option<&str>) -> Response {
        let app = Router::new()
            .route("/big", get(|| async { Html("<p>row</p>".repeat(500)) }))
            .route("/small", get(|| async { Html("<p>hi</p>") }))
            .route("/json", get(|| async { "x".repeat(5000) }))
            .layer(axum::middleware::from_fn(gzip_html));
        let mut req = Request::get(path);
        if let Some(a) = accept {
            req = req.header(header::ACCEPT_ENCODING, a);
        }
        app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn html_is_gzipped_for_browsers_that_ask() {
        let r = get_page("/big", Some("gzip, deflate, br")).await;
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(r.headers()[header::VARY], "accept-encoding");
        let zipped = axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap();
        let mut text = String::new();
        GzDecoder::new(&zipped[..]).read_to_string(&mut text).unwrap();
        assert_eq!(text, "<p>row</p>".repeat(500));
        assert!(zipped.len() < 200, "{}", zipped.len());

        for (path, accept) in
            [("/big", None), ("/big", Some("gzip;q=0")), ("/big", Some("br")), ("/small", Some("gzip"))]
        {
            let r = get_page(path, accept).await;
            assert!(r.headers().get(header::CONTENT_ENCODING).is_none(), "{path} {accept:?}");
        }
        let r = get_page("/json", Some("gzip")).await;
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none(), "only HTML");
    }
}
