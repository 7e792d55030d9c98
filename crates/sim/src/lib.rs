//! Every simulator BroadNet ships, so tests and demos run without provider accounts or routers.
//! They follow `reference/` exactly and are built on the protocol crates, never the other way round.
//!
//! - [`mpesa`], [`airtel`], [`sms`]: M-Pesa Daraja, Airtel Money and Africa's Talking SMS. Each one is an
//!   axum [`Router`](axum::Router) that speaks the provider's wire format as the reference files describe it
//!   (and refuses what the provider refuses), plus in-process control methods and a small HTTP control
//!   surface under `/simulator/…` so a demo can be driven from outside (e.g. with curl).
//! - [`routeros`]: a MikroTik router: RouterOS API (TCP/TLS), script interpreter, and a NAS that speaks
//!   RADIUS to the built-in server and answers CoA/Disconnect.

pub mod airtel;
pub mod mpesa;
pub mod routeros;
pub mod sms;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng as _;
use rand::distributions::Alphanumeric;

/// Locks a mutex, ignoring poisoning (simulator state stays usable after a panicking test thread).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Binds `addr` (port 0 = any), serves `router` in a tokio task and returns `http://IP:PORT`
/// (an unspecified bind address is reported as 127.0.0.1).
pub(crate) async fn serve(router: axum::Router, addr: SocketAddr) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let mut local = listener.local_addr()?;
    if local.ip().is_unspecified() {
        local.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "simulator server stopped");
        }
    });
    Ok(format!("http://{local}"))
}

/// HTTP client the simulators use to deliver callbacks.
pub(crate) fn callback_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).build().unwrap_or_else(|_| reqwest::Client::new())
}

/// How a payment simulator answers the next pushes; `O` is its provider's outcome.
#[derive(Debug, Clone)]
pub struct Behaviour<O> {
    pub outcome: O,
    /// callbacks sent per push: 0 = never, 2 = duplicate
    pub deliveries: u32,
    /// Time the customer takes: the outcome is decided (and callbacks sent) this long after the push.
    pub delay: Duration,
}

/// `POST /simulator/behaviour`: any of the three fields.
#[derive(serde::Deserialize)]
struct BehaviourUpdate<O> {
    outcome: Option<O>,
    deliveries: Option<u32>,
    delay_ms: Option<u64>,
}

impl<O: serde::Serialize + serde::de::DeserializeOwned> Behaviour<O> {
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "outcome": self.outcome, "deliveries": self.deliveries, "delay_ms": self.delay.as_millis() as u64 })
    }

    /// Applies a control request's JSON; the answer is the behaviour now in force, or a 400.
    pub(crate) fn update_from(&mut self, body: &[u8]) -> axum::response::Response {
        use axum::response::IntoResponse;
        let update: BehaviourUpdate<O> = match serde_json::from_slice(body) {
            Ok(u) => u,
            Err(e) => {
                let error = serde_json::json!({ "error": e.to_string() });
                return (axum::http::StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
            }
        };
        if let Some(o) = update.outcome {
            self.outcome = o;
        }
        if let Some(d) = update.deliveries {
            self.deliveries = d;
        }
        if let Some(ms) = update.delay_ms {
            self.delay = Duration::from_millis(ms);
        }
        axum::Json(self.to_json()).into_response()
    }
}

pub(crate) fn random_alnum(n: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(n).map(char::from).collect()
}

pub(crate) fn random_upper_alnum(n: usize) -> String {
    const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..n).map(|_| char::from(SET[rng.gen_range(0..SET.len())])).collect()
}

pub(crate) fn random_letter() -> char {
    char::from(b'A' + rand::thread_rng().gen_range(0..26u8))
}

pub(crate) fn random_digits(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

pub(crate) fn random_hex(n: usize) -> String {
    const SET: &[u8] = b"0123456789abcdef";
    let mut rng = rand::thread_rng();
    (0..n).map(|_| char::from(SET[rng.gen_range(0..SET.len())])).collect()
}

/// True if `s` is an absolute http(s) URL with a host.
pub(crate) fn is_http_url(s: &str) -> bool {
    url::Url::parse(s.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// `1500` => `"1,500"`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(thousands(1500), "1,500");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert!(is_http_url("https://billing.example.co.ke/cb/x"));
        assert!(is_http_url("http://127.0.0.1:8080/cb"));
        assert!(!is_http_url("ftp://x/y"));
        assert!(!is_http_url("not a url"));
        assert_eq!(random_upper_alnum(10).len(), 10);
        assert!(random_digits(6).bytes().all(|b| b.is_ascii_digit()));
    }
}
