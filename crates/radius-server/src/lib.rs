//! BroadNet's built-in RADIUS server: Access-Request on the auth port, Accounting-Request
//! on the accounting port, clients are the routers in the database.
//!
//! Every datagram is decoded and checked before anything else happens; anything
//! malformed, from an unknown address, with a bad authenticator, or (by default)
//! an Access-Request without Message-Authenticator is dropped and counted.
//! Retransmissions get the cached reply, never a second decision.
//!
//! - `transport`: sockets, receive loop, packet checks, duplicate/reply cache
//! - `clients`: routers by source address and their secrets
//! - `access` and [`authorization`]: an Access-Request, and the pure decision it asks for
//! - `accounting`: Accounting-Request, the batching writer, stale sessions
//! - `bundles`: data bundles used up → Disconnect-Request to the account's sessions
//! - [`coa`]: Disconnect/CoA to a router, [`Nas`] for the use cases

mod access;
mod accounting;
pub mod authorization;
mod bundles;
mod clients;
pub mod coa;
mod stats;
mod transport;

pub use accounting::{close_stale_sessions_job, unique_id};
pub use coa::Nas;
pub use stats::Stats;
pub use transport::Bound;

use access::{POST_AUTH_QUEUE, post_auth_writer};
use accounting::{ACCT_QUEUE, AcctJob, accounting_writer};
use authorization::Policy;
use broadnet_domain::Clock;
use broadnet_store::{DynStore, PostAuth};
use clients::{Clients, UNKNOWN_LOG_INTERVAL, UNKNOWN_LOG_SOURCES, UnknownSources};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use transport::{Cached, DedupKey};

#[derive(Debug, Clone)]
pub struct Config {
    pub auth_addr: SocketAddr,
    pub acct_addr: SocketAddr,
    pub policy: Policy,
    /// How often the client table is re-read from the routers table.
    pub client_refresh: Duration,
    /// RADIUS_SHARED_SECRET: the secret of a router stored without its own.
    pub default_secret: String,
    /// The routers' Dynamic Authorization port (RADIUS_COA_PORT): where a used-up data
    /// bundle's sessions are disconnected.
    pub coa_port: u16,
}

/// A string from the network (a User-Name, a router name an admin typed) as it may
/// appear in a text log line: control characters (newlines, ANSI escapes) are
/// written escaped, so a hotspot user cannot forge or recolour log lines.
pub struct Printable<'a>(pub &'a str);

impl std::fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for c in self.0.chars() {
            if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}')
            {
                write!(f, "{}", c.escape_unicode())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Where the "how to pay" text comes from: the app's Settings, the same text its SMS
/// use. Read again every `client_refresh`, so decisions never wait on it.
#[async_trait::async_trait]
pub trait HowToPaySource: Send + Sync {
    /// The text with `{username}` and `{price}` left for each customer; `None` when it
    /// cannot be read now (the last one is kept).
    async fn how_to_pay_template(&self) -> Option<String>;
}

#[async_trait::async_trait]
impl HowToPaySource for broadnet_app::App {
    async fn how_to_pay_template(&self) -> Option<String> {
        match broadnet_app::App::how_to_pay_template(self).await {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the how-to-pay text; keeping the last one");
                None
            }
        }
    }
}

/// The server: shared by the socket tasks; each concern adds its methods in its own module.
pub struct Server {
    store: DynStore,
    /// Decisions read the time from here, never the wall clock directly.
    clock: Arc<dyn Clock>,
    /// The current "how to pay" template (see [`HowToPaySource`]).
    how_to_pay: std::sync::RwLock<Arc<str>>,
    how_to_pay_source: Option<Arc<dyn HowToPaySource>>,
    /// Decisions on their way to the log, written in batches by one task.
    post_auth: tokio::sync::mpsc::Sender<PostAuth>,
    post_auth_rx: Mutex<Option<tokio::sync::mpsc::Receiver<PostAuth>>>,
    /// Accounting packets on their way to the single writer (group commit).
    acct: tokio::sync::mpsc::Sender<AcctJob>,
    acct_rx: Mutex<Option<tokio::sync::mpsc::Receiver<AcctJob>>>,
    /// Accounts whose accounting was just stored, for the data bundle check.
    bundles: tokio::sync::mpsc::Sender<String>,
    bundles_rx: Mutex<Option<tokio::sync::mpsc::Receiver<String>>>,
    /// Disconnects the sessions of a used-up bundle.
    nas: Arc<Nas>,
    /// When each device's last-seen time was last written (see `access::TOUCH_EVERY`).
    touched: Mutex<HashMap<broadnet_domain::Mac, std::time::Instant>>,
    cfg: Config,
    pub stats: Arc<Stats>,
    clients: tokio::sync::RwLock<Clients>,
    dedup: Mutex<HashMap<DedupKey, Cached>>,
    unknown_sources: UnknownSources,
}

impl Server {
    /// A server on the system clock whose "how to pay" text is the policy's.
    pub fn new(store: DynStore, cfg: Config) -> Arc<Server> {
        Self::with_sources(store, cfg, Arc::new(broadnet_domain::SystemClock), None)
    }

    pub fn with_sources(
        store: DynStore,
        cfg: Config,
        clock: Arc<dyn Clock>,
        how_to_pay_source: Option<Arc<dyn HowToPaySource>>,
    ) -> Arc<Server> {
        let (post_auth, rx) = tokio::sync::mpsc::channel(POST_AUTH_QUEUE);
        let (acct, acct_rx) = tokio::sync::mpsc::channel(ACCT_QUEUE);
        let (bundles, bundles_rx) = tokio::sync::mpsc::channel(bundles::BUNDLE_QUEUE);
        let nas =
            Arc::new(Nas::new(store.clone(), coa::CoaClient::default(), cfg.coa_port, cfg.default_secret.clone()));
        Arc::new(Server {
            how_to_pay: std::sync::RwLock::new(Arc::from(cfg.policy.how_to_pay.as_str())),
            how_to_pay_source,
            clock,
            store,
            post_auth,
            post_auth_rx: Mutex::new(Some(rx)),
            acct,
            acct_rx: Mutex::new(Some(acct_rx)),
            bundles,
            bundles_rx: Mutex::new(Some(bundles_rx)),
            nas,
            touched: Mutex::new(HashMap::new()),
            cfg,
            stats: Arc::new(Stats::default()),
            clients: tokio::sync::RwLock::new(Clients { by_ip: HashMap::new(), loaded_at: None }),
            dedup: Mutex::new(HashMap::new()),
            unknown_sources: UnknownSources::new(UNKNOWN_LOG_INTERVAL, UNKNOWN_LOG_SOURCES),
        })
    }

    /// Serves until `shutdown`; each datagram is handled in its own task.
    pub async fn run(self: Arc<Self>, bound: Bound, shutdown: CancellationToken) {
        let auth = Arc::new(bound.auth);
        let acct = Arc::new(bound.acct);
        let a = tokio::spawn(self.clone().serve_socket(auth, true, shutdown.clone()));
        let b = tokio::spawn(self.clone().serve_socket(acct, false, shutdown.clone()));
        let rx = self.post_auth_rx.lock().ok().and_then(|mut r| r.take());
        let d = tokio::spawn(post_auth_writer(self.store.clone(), rx, self.stats.clone(), shutdown.clone()));
        let arx = self.acct_rx.lock().ok().and_then(|mut r| r.take());
        let e = tokio::spawn(accounting_writer(self.store.clone(), arx, self.bundles.clone(), shutdown.clone()));
        let brx = self.bundles_rx.lock().ok().and_then(|mut r| r.take());
        let g = tokio::spawn(self.clone().enforce_bundles(brx, shutdown.clone()));
        let f = tokio::spawn(self.clone().refresh_how_to_pay(shutdown.clone()));
        let c = tokio::spawn(self.clone().housekeeping(shutdown));
        let _ = tokio::join!(a, b, c, d, e, f, g);
    }

    /// Reads the "how to pay" text now and then every `client_refresh`.
    async fn refresh_how_to_pay(self: Arc<Self>, shutdown: CancellationToken) {
        let Some(source) = self.how_to_pay_source.clone() else { return };
        let mut tick = tokio::time::interval(self.cfg.client_refresh.max(Duration::from_secs(1)));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Some(t) = source.how_to_pay_template().await {
                // No paybill configured yet: the configuration's own words.
                let t = if t.trim().is_empty() { self.cfg.policy.how_to_pay.as_str() } else { t.as_str() };
                if let Ok(mut current) = self.how_to_pay.write() {
                    *current = Arc::from(t);
                }
            }
        }
    }

    /// The "how to pay" template decisions use now.
    pub fn how_to_pay(&self) -> Arc<str> {
        self.how_to_pay.read().map(|t| t.clone()).unwrap_or_else(|_| Arc::from(self.cfg.policy.how_to_pay.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_what_could_forge_a_log_line() {
        let forged = "hacker\n\u{1b}[32m INFO admin logged in admin=\"admin\"\r\t\0";
        let out = Printable(forged).to_string();
        assert!(!out.chars().any(|c| c.is_control()), "{out:?}");
        assert!(out.starts_with("hacker\\u{a}\\u{1b}[32m INFO"), "{out}");
        assert_eq!(Printable("alice@isp 07").to_string(), "alice@isp 07");
        assert_eq!(Printable("Jos\u{e9}").to_string(), "Jos\u{e9}");
    }
}
