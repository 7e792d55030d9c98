//! Helpers shared by the integration tests: a tiny axum server that records every request it gets.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Generous wait for anything asynchronous.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// One request the catcher received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone)]
struct CatcherState {
    tx: mpsc::UnboundedSender<Hit>,
    replies: Arc<Mutex<HashMap<String, Value>>>,
}

/// Records every request (any method, any path) and answers 200 with JSON: the reply set for that path, or
/// `{"ResultCode":0,"ResultDesc":"Accepted"}`.
pub struct Catcher {
    pub url: String,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Hit>>,
    replies: Arc<Mutex<HashMap<String, Value>>>,
}

async fn record(State(st): State<CatcherState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let hit = Hit {
        path: path.clone(),
        content_type: headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string),
        body: body.to_vec(),
    };
    let _ = st.tx.send(hit);
    let reply = st.replies.lock().unwrap().get(&path).cloned();
    axum::Json(reply.unwrap_or_else(|| json!({ "ResultCode": 0, "ResultDesc": "Accepted" }))).into_response()
}

impl Catcher {
    pub async fn start() -> Catcher {
        let (tx, rx) = mpsc::unbounded_channel();
        let replies = Arc::new(Mutex::new(HashMap::new()));
        let app = Router::new().fallback(record).with_state(CatcherState { tx, replies: replies.clone() });
        let listener = tokio::net::TcpListener::bind(any_port()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Catcher { url: format!("http://{addr}"), rx: tokio::sync::Mutex::new(rx), replies }
    }

    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub fn reply(&self, path: &str, body: Value) {
        self.replies.lock().unwrap().insert(path.to_string(), body);
    }

    /// The next request, waiting up to [`WAIT`].
    pub async fn next(&self) -> Hit {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(WAIT, rx.recv()).await.expect("no request within the wait").expect("catcher closed")
    }

    /// True if no request arrives within `d`.
    pub async fn quiet_for(&self, d: Duration) -> bool {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(d, rx.recv()).await.is_err()
    }
}

/// Polls `f` every 20 ms until it is true, up to [`WAIT`].
pub async fn eventually<F: FnMut() -> bool>(mut f: F) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "condition not met within the wait");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
