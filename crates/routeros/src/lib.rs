//! MikroTik RouterOS API for BroadNet.
//!
//! - [`codec`]: the wire format (length-prefixed words, sentences, replies) with an incremental decoder.
//! - [`Client`]: async, tagged, concurrent API client over TCP (8728) or TLS (8729), with typed helpers
//!   for what the router wizard needs ([`Client::ensure`] makes re-running configuration safe).
//! - [`Pool`] / [`Reconnecting`]: reconnect on the next call after a connection died.
//!
//! Protocol and client only: the RouterOS simulator lives in `broadnet_sim::routeros`.

mod client;
pub mod codec;
mod error;
mod pool;
pub mod tls;

pub use client::{
    API_PORT, API_SSL_PORT, Client, ConnectOptions, DEFAULT_TIMEOUT, Ensured, Resource, Response, Row, TlsMode,
    legacy_login_response, parse_uptime,
};
pub use error::RosError;
pub use pool::{Pool, Reconnecting};

/// Normalise a menu path: `/ip address`, `ip/address`, `/ip/address/` → `/ip/address`.
pub fn menu_path(menu: &str) -> String {
    let mut out = String::with_capacity(menu.len() + 1);
    for part in menu.split(|c: char| c == '/' || c.is_whitespace()).filter(|p| !p.is_empty()) {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn menu_paths() {
        assert_eq!(super::menu_path("/ip address"), "/ip/address");
        assert_eq!(super::menu_path("ip/address/"), "/ip/address");
        assert_eq!(super::menu_path("/interface bridge port"), "/interface/bridge/port");
        assert_eq!(super::menu_path(""), "/");
    }
}
