//! BroadNet's built-in RADIUS server: Access-Request on the auth port, Accounting-Request
//! on the accounting port, clients are the routers in the database.
//!
//! Every datagram is decoded and checked before anything else happens; anything
//! malformed, from an unknown address, with a bad authenticator, or (by default)
//! an Access-Request without Message-Authenticator is dropped and counted.
//! Retransmissions get the cached reply, never a second decision.

pub mod decide;

use broadnet_radius::dict::{self, attr};
use broadnet_radius::{Avp, Code, Packet, encode_response, verify_request};
use broadnet_store::{AcctEvent, AcctKind, DynStore, PostAuth, RadiusClient, StoreError};
use chrono::{DateTime, Utc};
use decide::{Decision, Input, Policy};
use md5::{Digest, Md5};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

/// Counters, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub access_requests: AtomicU64,
    pub accepts: AtomicU64,
    pub rejects: AtomicU64,
    pub accounting_requests: AtomicU64,
    pub duplicates: AtomicU64,
    pub dropped_malformed: AtomicU64,
    pub dropped_unknown_client: AtomicU64,
    pub dropped_bad_authenticator: AtomicU64,
    pub dropped_no_message_authenticator: AtomicU64,
    pub dropped_wrong_port: AtomicU64,
    pub errors: AtomicU64,
    pub post_auth_dropped: AtomicU64,
}

impl Stats {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// Prometheus text lines.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let rows: [(&str, &AtomicU64); 12] = [
            ("access_requests", &self.access_requests),
            ("accepts", &self.accepts),
            ("rejects", &self.rejects),
            ("accounting_requests", &self.accounting_requests),
            ("duplicates", &self.duplicates),
            ("dropped_malformed", &self.dropped_malformed),
            ("dropped_unknown_client", &self.dropped_unknown_client),
            ("dropped_bad_authenticator", &self.dropped_bad_authenticator),
            ("dropped_no_message_authenticator", &self.dropped_no_message_authenticator),
            ("dropped_wrong_port", &self.dropped_wrong_port),
            ("errors", &self.errors),
            ("post_auth_log_dropped", &self.post_auth_dropped),
        ];
        s.push_str("# TYPE broadnet_radius_packets_total counter\n");
        for (name, c) in rows {
            s.push_str(&format!("broadnet_radius_packets_total{{kind=\"{name}\"}} {}\n", Stats::get(c)));
        }
        s
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub auth_addr: SocketAddr,
    pub acct_addr: SocketAddr,
    pub policy: Policy,
    /// How often the client table is re-read from the routers table.
    pub client_refresh: Duration,
    /// RADIUS_SHARED_SECRET: the secret of a router stored without its own.
    pub default_secret: String,
}

/// The routers, by source address, re-read periodically and on an unknown source.
struct Clients {
    by_ip: HashMap<IpAddr, RadiusClient>,
    loaded_at: Option<Instant>,
}

/// Cached replies by (source, identifier, request authenticator).
type DedupKey = (SocketAddr, u8, [u8; 16]);

enum Cached {
    /// A decision is being made: a retransmission now is dropped (the NAS retries).
    Pending(Instant),
    Done(Vec<u8>, Instant),
}

type AcctJob = (AcctKind, AcctEvent, tokio::sync::oneshot::Sender<Result<(), StoreError>>);
const ACCT_QUEUE: usize = 10_000;
const ACCT_BATCH: usize = 256;

/// The one task that writes accounting: whatever arrived while the previous batch
/// was committing goes in the next transaction, so a burst costs one commit per
/// batch instead of one per packet, and authentication reads are never queued
/// behind a line of writers. Each packet is answered only after its batch commits.
async fn accounting_writer(
    store: DynStore,
    rx: Option<tokio::sync::mpsc::Receiver<AcctJob>>,
    shutdown: CancellationToken,
) {
    let Some(mut rx) = rx else { return };
    let mut jobs = Vec::with_capacity(ACCT_BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut jobs, ACCT_BATCH) => if n == 0 { return },
            _ = shutdown.cancelled() => return,
        }
        let (items, waiters): (Vec<_>, Vec<_>) = jobs.drain(..).map(|(k, e, tx)| ((k, e), tx)).unzip();
        let result = store.record_accounting_batch(items).await;
        for tx in waiters {
            let _ = tx.send(result.clone());
        }
    }
}

const POST_AUTH_QUEUE: usize = 50_000;
const POST_AUTH_BATCH: usize = 500;

/// Writes the authentication log in batches: one INSERT per batch instead of one
/// transaction per decision, so logging never becomes the bottleneck of auth.
async fn post_auth_writer(
    store: DynStore,
    rx: Option<tokio::sync::mpsc::Receiver<PostAuth>>,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) {
    let Some(mut rx) = rx else { return };
    let mut batch = Vec::with_capacity(POST_AUTH_BATCH);
    loop {
        let stopping = tokio::select! {
            n = rx.recv_many(&mut batch, POST_AUTH_BATCH) => n == 0,
            _ = shutdown.cancelled() => {
                // Write out what is queued, then stop.
                while let Ok(e) = rx.try_recv() {
                    batch.push(e);
                }
                true
            }
        };
        for chunk in std::mem::take(&mut batch).chunks(POST_AUTH_BATCH) {
            if let Err(e) = store.record_post_auth(chunk.to_vec()).await {
                Stats::bump(&stats.errors);
                tracing::error!(error = %e, "cannot write the authentication log");
            }
        }
        if stopping {
            return;
        }
    }
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

const UNKNOWN_LOG_INTERVAL: Duration = Duration::from_secs(60);
const UNKNOWN_LOG_SOURCES: usize = 1024;

/// Rate limit for the "unknown address" warning: each source is logged at most once
/// per interval, with how many packets were dropped unlogged since. Source addresses
/// of UDP are trivially spoofed, so the map is bounded: once full (after forgetting
/// quiet sources) every further new source shares one overflow entry.
struct UnknownSources {
    interval: Duration,
    max: usize,
    /// Last logged at, and packets dropped since without a log line. `None` is the
    /// overflow entry.
    seen: Mutex<HashMap<Option<IpAddr>, (Instant, u64)>>,
}

impl UnknownSources {
    fn new(interval: Duration, max: usize) -> Self {
        UnknownSources { interval, max, seen: Mutex::new(HashMap::new()) }
    }

    /// A packet from `ip` was dropped at `now`: `Some(suppressed)` if it should be
    /// logged (with the count of packets not logged since the last line), else `None`.
    fn note(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = Some(ip);
        if !seen.contains_key(&key) && seen.len() >= self.max {
            let interval = self.interval;
            seen.retain(|k, (at, _)| k.is_none() || now.saturating_duration_since(*at) < interval);
            if seen.len() >= self.max {
                key = None;
            }
        }
        match seen.get_mut(&key) {
            Some((at, suppressed)) if now.saturating_duration_since(*at) < self.interval => {
                *suppressed += 1;
                None
            }
            Some((at, suppressed)) => {
                let n = *suppressed;
                *at = now;
                *suppressed = 0;
                Some(n)
            }
            None => {
                seen.insert(key, (now, 0));
                Some(0)
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or_default()
    }
}

const DEDUP_TTL: Duration = Duration::from_secs(30);
const DEDUP_MAX: usize = 100_000;

pub struct Server {
    store: DynStore,
    /// Decisions on their way to the log, written in batches by one task.
    post_auth: tokio::sync::mpsc::Sender<PostAuth>,
    post_auth_rx: Mutex<Option<tokio::sync::mpsc::Receiver<PostAuth>>>,
    /// Accounting packets on their way to the single writer (group commit).
    acct: tokio::sync::mpsc::Sender<AcctJob>,
    acct_rx: Mutex<Option<tokio::sync::mpsc::Receiver<AcctJob>>>,
    cfg: Config,
    pub stats: Arc<Stats>,
    clients: tokio::sync::RwLock<Clients>,
    dedup: Mutex<HashMap<DedupKey, Cached>>,
    unknown_sources: UnknownSources,
}

pub struct Bound {
    pub auth: UdpSocket,
    pub acct: UdpSocket,
}

impl Server {
    pub fn new(store: DynStore, cfg: Config) -> Arc<Server> {
        let (post_auth, rx) = tokio::sync::mpsc::channel(POST_AUTH_QUEUE);
        let (acct, acct_rx) = tokio::sync::mpsc::channel(ACCT_QUEUE);
        Arc::new(Server {
            store,
            post_auth,
            post_auth_rx: Mutex::new(Some(rx)),
            acct,
            acct_rx: Mutex::new(Some(acct_rx)),
            cfg,
            stats: Arc::new(Stats::default()),
            clients: tokio::sync::RwLock::new(Clients { by_ip: HashMap::new(), loaded_at: None }),
            dedup: Mutex::new(HashMap::new()),
            unknown_sources: UnknownSources::new(UNKNOWN_LOG_INTERVAL, UNKNOWN_LOG_SOURCES),
        })
    }

    pub async fn bind(&self) -> std::io::Result<Bound> {
        let auth = UdpSocket::bind(self.cfg.auth_addr).await?;
        let acct = UdpSocket::bind(self.cfg.acct_addr).await?;
        Ok(Bound { auth, acct })
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
        let e = tokio::spawn(accounting_writer(self.store.clone(), arx, shutdown.clone()));
        let c = tokio::spawn(self.clone().housekeeping(shutdown));
        let _ = tokio::join!(a, b, c, d, e);
    }

    async fn serve_socket(self: Arc<Self>, sock: Arc<UdpSocket>, auth_port: bool, shutdown: CancellationToken) {
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, src) = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = sock.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "RADIUS receive failed");
                        continue;
                    }
                },
            };
            let data = buf[..n].to_vec();
            let this = self.clone();
            let sock = sock.clone();
            tokio::spawn(async move {
                if let Some(reply) = this.handle(&data, src, auth_port).await
                    && let Err(e) = sock.send_to(&reply, src).await
                {
                    tracing::warn!(error = %e, %src, "RADIUS send failed");
                }
            });
        }
    }

    async fn housekeeping(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Ok(mut d) = self.dedup.lock() {
                let now = Instant::now();
                d.retain(|_, v| match v {
                    Cached::Pending(t) | Cached::Done(_, t) => now.duration_since(*t) < DEDUP_TTL,
                });
            }
        }
    }

    async fn client(&self, ip: IpAddr) -> Option<RadiusClient> {
        {
            let c = self.clients.read().await;
            let fresh = c.loaded_at.is_some_and(|t| t.elapsed() < self.cfg.client_refresh);
            if let Some(found) = c.by_ip.get(&ip) {
                if fresh {
                    return Some(found.clone());
                }
            } else if c.loaded_at.is_some_and(|t| t.elapsed() < Duration::from_secs(5)) {
                // Unknown source and the table was just read: don't let a flood hit the database.
                return None;
            }
        }
        let mut c = self.clients.write().await;
        match self.store.radius_clients().await {
            Ok(list) => {
                let mut by_ip = HashMap::new();
                for mut cl in list {
                    if cl.secret.is_empty() {
                        if self.cfg.default_secret.is_empty() {
                            tracing::warn!(router = %Printable(&cl.name), "router has no RADIUS secret and RADIUS_SHARED_SECRET is not set: ignored");
                            continue;
                        }
                        cl.secret = self.cfg.default_secret.clone();
                    }
                    if let Ok(addr) = cl.nas_ip.parse::<IpAddr>() {
                        // Several routers behind one NAT share an address: the first one wins.
                        by_ip.entry(addr).or_insert(cl);
                    }
                }
                c.by_ip = by_ip;
                c.loaded_at = Some(Instant::now());
            }
            Err(e) => tracing::error!(error = %e, "cannot read RADIUS clients"),
        }
        c.by_ip.get(&ip).cloned()
    }

    /// One datagram in, at most one datagram out.
    pub async fn handle(&self, data: &[u8], src: SocketAddr, auth_port: bool) -> Option<Vec<u8>> {
        let req = match Packet::decode(data) {
            Ok(p) => p,
            Err(e) => {
                Stats::bump(&self.stats.dropped_malformed);
                tracing::debug!(%src, error = %e, "dropped malformed RADIUS packet");
                return None;
            }
        };
        let Some(client) = self.client(src.ip()).await else {
            Stats::bump(&self.stats.dropped_unknown_client);
            if let Some(suppressed) = self.unknown_sources.note(src.ip(), Instant::now()) {
                tracing::warn!(
                    %src,
                    suppressed,
                    "dropped RADIUS packet from an unknown address (add the router, with this NAS address); \
                     further packets from it are counted, not logged, for a minute"
                );
            }
            return None;
        };
        let expected = if auth_port {
            matches!(req.code, Code::AccessRequest | Code::StatusServer)
        } else {
            matches!(req.code, Code::AccountingRequest | Code::StatusServer)
        };
        if !expected {
            Stats::bump(&self.stats.dropped_wrong_port);
            return None;
        }
        let has_ma = match verify_request(data, &req, client.secret.as_bytes()) {
            Ok(ma) => ma,
            Err(e) => {
                Stats::bump(&self.stats.dropped_bad_authenticator);
                tracing::warn!(%src, router = %Printable(&client.name), error = %e, "dropped RADIUS packet");
                return None;
            }
        };
        if req.code == Code::AccessRequest && !has_ma {
            // BlastRADIUS (CVE-2024-3596): without Message-Authenticator a forged
            // Accept can be built; Proxy-State is how the attack carries its collision.
            if client.require_message_authenticator || req.has(attr::PROXY_STATE) {
                Stats::bump(&self.stats.dropped_no_message_authenticator);
                tracing::warn!(%src, router = %Printable(&client.name), "dropped Access-Request without Message-Authenticator (BlastRADIUS protection; turn off per router only for old firmware)");
                return None;
            }
        }
        if req.code == Code::StatusServer {
            let code = if auth_port { Code::AccessAccept } else { Code::AccountingResponse };
            return encode_response(code, &req, &[], client.secret.as_bytes(), true).ok();
        }

        let key = (src, req.id, req.authenticator);
        {
            let Ok(mut d) = self.dedup.lock() else { return None };
            match d.get(&key) {
                Some(Cached::Done(bytes, _)) => {
                    Stats::bump(&self.stats.duplicates);
                    return Some(bytes.clone());
                }
                Some(Cached::Pending(_)) => {
                    Stats::bump(&self.stats.duplicates);
                    return None;
                }
                None => {
                    if d.len() >= DEDUP_MAX {
                        d.retain(|_, v| matches!(v, Cached::Done(_, t) if t.elapsed() < Duration::from_secs(5)));
                    }
                    d.insert(key, Cached::Pending(Instant::now()));
                }
            }
        }
        let reply = if req.code == Code::AccessRequest {
            Stats::bump(&self.stats.access_requests);
            self.authenticate(&req, &client, src).await
        } else {
            Stats::bump(&self.stats.accounting_requests);
            self.account(&req, &client, src).await
        };
        if let Ok(mut d) = self.dedup.lock() {
            match &reply {
                Some(bytes) => {
                    d.insert(key, Cached::Done(bytes.clone(), Instant::now()));
                }
                None => {
                    d.remove(&key);
                }
            }
        }
        reply
    }

    async fn authenticate(&self, req: &Packet, client: &RadiusClient, src: SocketAddr) -> Option<Vec<u8>> {
        let now = Utc::now();
        let username = req.text(attr::USER_NAME).unwrap_or_default();
        let (customer, package, open_sessions) = if username.is_empty() {
            (None, None, 0)
        } else {
            match self.store.auth_lookup(&username).await {
                Ok(Some((c, p, n))) => (Some(c), p, n),
                Ok(None) => (None, None, 0),
                Err(e) => {
                    // No answer: the NAS retries, or fails over to its second server.
                    Stats::bump(&self.stats.errors);
                    tracing::error!(error = %e, "RADIUS auth: database error");
                    return None;
                }
            }
        };
        let mut salts = [[0u8; 2]; 2];
        let r: u16 = rand::random();
        salts[0] = [0x80 | (r as u8 & 0x07), rand::random()];
        salts[1] = [0x88 | (r as u8 & 0x07), rand::random()];
        let input = Input {
            req,
            client,
            customer: customer.as_ref(),
            package: package.as_ref(),
            open_sessions,
            now,
            policy: &self.cfg.policy,
            salts,
        };
        let decision = decide::decide(&input);
        let calling = req.text(attr::CALLING_STATION_ID);
        let (code, attrs, reply, reason) = match decision {
            Decision::Accept { attrs, method } => {
                Stats::bump(&self.stats.accepts);
                tracing::info!(user = %Printable(&username), router = %Printable(&client.name), method = method.name(), "Access-Accept");
                (Code::AccessAccept, attrs, "Access-Accept", format!("accepted ({})", method.name()))
            }
            Decision::Reject { reason, message, mut attrs } => {
                Stats::bump(&self.stats.rejects);
                tracing::info!(user = %Printable(&username), router = %Printable(&client.name), reason = %Printable(&reason), "Access-Reject");
                if let Some(m) = message {
                    attrs.push(Avp::text(attr::REPLY_MESSAGE, &m));
                }
                (Code::AccessReject, attrs, "Access-Reject", reason)
            }
        };
        let entry = PostAuth {
            username: username.clone(),
            reply: reply.into(),
            reason: Some(reason),
            router_id: Some(client.router_id),
            nas_ip: Some(src.ip().to_string()),
            calling_station_id: calling,
            at: now,
        };
        if self.post_auth.try_send(entry).is_err() {
            // The log is behind by a whole queue: keep answering routers, count the gap.
            Stats::bump(&self.stats.post_auth_dropped);
        }
        match encode_response(code, req, &attrs, client.secret.as_bytes(), true) {
            Ok(b) => Some(b),
            Err(e) => {
                Stats::bump(&self.stats.errors);
                tracing::error!(error = %e, "cannot encode RADIUS reply");
                None
            }
        }
    }

    async fn account(&self, req: &Packet, client: &RadiusClient, src: SocketAddr) -> Option<Vec<u8>> {
        let status = req.int(attr::ACCT_STATUS_TYPE);
        let at = req
            .int(attr::EVENT_TIMESTAMP)
            .and_then(|t| DateTime::<Utc>::from_timestamp(t as i64, 0))
            .unwrap_or_else(Utc::now);
        let nas_ip = src.ip().to_string();
        let result = match status {
            Some(dict::acct_status::ACCOUNTING_ON) | Some(dict::acct_status::ACCOUNTING_OFF) => {
                let cause = if status == Some(dict::acct_status::ACCOUNTING_ON) { "NAS-Reboot" } else { "NAS-Request" };
                self.store.close_nas_sessions(&nas_ip, at, cause).await.map(|n| {
                    tracing::info!(router = %Printable(&client.name), closed = n, "Accounting-On/Off: closed the router's open sessions");
                })
            }
            Some(s @ (dict::acct_status::START | dict::acct_status::STOP | dict::acct_status::INTERIM_UPDATE)) => {
                let kind = match s {
                    dict::acct_status::START => AcctKind::Start,
                    dict::acct_status::STOP => AcctKind::Stop,
                    _ => AcctKind::Interim,
                };
                let Some(session_id) = req.text(attr::ACCT_SESSION_ID).filter(|s| !s.is_empty()) else {
                    Stats::bump(&self.stats.dropped_malformed);
                    tracing::warn!(router = %Printable(&client.name), "accounting without Acct-Session-Id dropped");
                    return None;
                };
                let username = req.text(attr::USER_NAME).unwrap_or_default();
                let octets = |lo: u8, hi: u8| req.int(lo).map(|l| ((req.int(hi).unwrap_or(0) as i64) << 32) | l as i64);
                let event = AcctEvent {
                    unique_id: unique_id(&nas_ip, &session_id, &username),
                    session_id: session_id.chars().take(64).collect(),
                    username: username.chars().take(64).collect(),
                    nas_ip: nas_ip.clone(),
                    router_id: Some(client.router_id),
                    // Looked up by the store when the session row is created.
                    customer_id: None,
                    nas_port_id: req.text(attr::NAS_PORT_ID).map(|s| s.chars().take(32).collect()),
                    nas_port_type: req.int(attr::NAS_PORT_TYPE).map(|v| port_type_name(v).to_string()),
                    at,
                    session_time: req.int(attr::ACCT_SESSION_TIME).map(i64::from),
                    input_octets: octets(attr::ACCT_INPUT_OCTETS, attr::ACCT_INPUT_GIGAWORDS),
                    output_octets: octets(attr::ACCT_OUTPUT_OCTETS, attr::ACCT_OUTPUT_GIGAWORDS),
                    framed_ip: req.ipv4(attr::FRAMED_IP_ADDRESS).map(|i| i.to_string()),
                    calling_station_id: req.text(attr::CALLING_STATION_ID).map(|s| s.chars().take(50).collect()),
                    called_station_id: req.text(attr::CALLED_STATION_ID).map(|s| s.chars().take(50).collect()),
                    terminate_cause: req
                        .int(attr::ACCT_TERMINATE_CAUSE)
                        .map(|v| dict::terminate_cause_name(v).map(str::to_string).unwrap_or_else(|| v.to_string())),
                    service_type: req.int(attr::SERVICE_TYPE).map(|v| v.to_string()),
                    framed_protocol: req.int(attr::FRAMED_PROTOCOL).map(|v| v.to_string()),
                    class: req.get(attr::CLASS).map(|c| String::from_utf8_lossy(c).chars().take(64).collect()),
                };
                let (tx, rx) = tokio::sync::oneshot::channel();
                if self.acct.send((kind, event, tx)).await.is_err() {
                    return None;
                }
                match rx.await {
                    Ok(r) => r,
                    Err(_) => return None,
                }
            }
            // Failed and unknown status types are acknowledged and not stored.
            _ => Ok(()),
        };
        if let Err(e) = result {
            // Never acknowledge what was not stored: the NAS will retransmit.
            Stats::bump(&self.stats.errors);
            tracing::error!(error = %e, router = %Printable(&client.name), "accounting not stored; not acknowledged");
            return None;
        }
        encode_response(Code::AccountingResponse, req, &[], client.secret.as_bytes(), false).ok()
    }
}

/// The session key: Acct-Session-Id is unique only per NAS and may repeat after a reboot.
pub fn unique_id(nas_ip: &str, session_id: &str, username: &str) -> String {
    let mut h = Md5::new();
    for part in [nas_ip, session_id, username] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn port_type_name(v: u32) -> &'static str {
    match v {
        0 => "Async",
        5 => "Virtual",
        15 => "Ethernet",
        17 => "Cable",
        18 => "Wireless-Other",
        19 => "Wireless-802.11",
        _ => "Other",
    }
}

pub mod coa;

/// Sessions acted on through their router's Dynamic Authorization port.
pub struct Nas {
    store: DynStore,
    client: coa::CoaClient,
    coa_port: u16,
    default_secret: String,
}

impl Nas {
    pub fn new(store: DynStore, client: coa::CoaClient, coa_port: u16, default_secret: String) -> Nas {
        Nas { store, client, coa_port, default_secret }
    }

    async fn target(&self, session: &broadnet_store::RadSession) -> Result<(SocketAddr, String), String> {
        let clients = self.store.radius_clients().await.map_err(|e| e.to_string())?;
        let client = clients
            .iter()
            .find(|c| Some(c.router_id) == session.router_id)
            .or_else(|| clients.iter().find(|c| c.nas_ip == session.nas_ip))
            .ok_or_else(|| format!("no router for NAS {}", session.nas_ip))?;
        let ip: IpAddr = client.nas_ip.parse().map_err(|_| format!("router {} has no valid address", client.name))?;
        let secret = if client.secret.is_empty() { self.default_secret.clone() } else { client.secret.clone() };
        if secret.is_empty() {
            return Err(format!("router {} has no RADIUS secret (set RADIUS_SHARED_SECRET)", client.name));
        }
        Ok((SocketAddr::new(ip, self.coa_port), secret))
    }

    fn identify(session: &broadnet_store::RadSession) -> Vec<Avp> {
        let mut attrs =
            vec![Avp::text(attr::USER_NAME, &session.username), Avp::text(attr::ACCT_SESSION_ID, &session.session_id)];
        if let Some(ip) = session.framed_ip.as_deref().and_then(|s| s.parse::<std::net::Ipv4Addr>().ok()) {
            attrs.push(Avp::ipv4(attr::FRAMED_IP_ADDRESS, ip));
        }
        attrs
    }

    async fn send(
        &self,
        session: &broadnet_store::RadSession,
        code: Code,
        extra: Vec<Avp>,
    ) -> Result<broadnet_app::sessions::NasResult, String> {
        let (target, secret) = self.target(session).await?;
        let mut attrs = Nas::identify(session);
        attrs.extend(extra);
        let outcome = self.client.send(target, &secret, code, &attrs).await.map_err(|e| format!("{target}: {e}"))?;
        Ok(broadnet_app::sessions::NasResult { ok: outcome == coa::Outcome::Ack, detail: outcome.describe() })
    }
}

#[async_trait::async_trait]
impl broadnet_app::sessions::NasControl for Nas {
    async fn disconnect(
        &self,
        session: &broadnet_store::RadSession,
    ) -> Result<broadnet_app::sessions::NasResult, String> {
        self.send(session, Code::DisconnectRequest, Vec::new()).await
    }

    async fn change_rate_limit(
        &self,
        session: &broadnet_store::RadSession,
        rate_limit: &str,
    ) -> Result<broadnet_app::sessions::NasResult, String> {
        let rate = Avp::mikrotik_text(dict::mikrotik::RATE_LIMIT, rate_limit);
        self.send(session, Code::CoaRequest, vec![rate]).await
    }
}

/// Closes sessions that stopped sending interim updates (a lost Stop, a dead router):
/// no update for three interim intervals plus a minute.
pub async fn close_stale_sessions_job(store: DynStore, interim_secs: u32, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let grace = chrono::Duration::seconds(i64::from(interim_secs) * 3 + 60);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Utc::now();
        match store.close_stale_sessions(now - grace, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(closed = n, "closed sessions with no accounting update"),
            Err(e) => tracing::error!(error = %e, "closing stale sessions failed"),
        }
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

    #[test]
    fn unknown_sources_are_logged_once_per_interval_with_a_count() {
        let u = UnknownSources::new(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        let a = IpAddr::from([192, 0, 2, 1]);
        let b = IpAddr::from([192, 0, 2, 2]);
        assert_eq!(u.note(a, t0), Some(0));
        for i in 1..=9_999u64 {
            assert_eq!(u.note(a, t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(u.note(b, t0), Some(0), "another source is logged on its own");
        assert_eq!(u.note(a, t0 + Duration::from_secs(60)), Some(9_999));
        assert_eq!(u.note(a, t0 + Duration::from_secs(61)), None);
    }

    #[test]
    fn unknown_sources_memory_is_bounded() {
        let u = UnknownSources::new(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        let mut logged = 0;
        for i in 0..10_000u32 {
            if u.note(IpAddr::from(i.to_be_bytes()), t0).is_some() {
                logged += 1;
            }
        }
        // Three sources and the overflow entry: four lines, not ten thousand.
        assert_eq!(logged, 4);
        assert!(u.len() <= 4);
        // After the interval quiet sources are forgotten and new ones get their own line.
        assert_eq!(u.note(IpAddr::from([10, 0, 0, 1]), t0 + Duration::from_secs(61)), Some(0));
        assert!(u.len() <= 4);
    }
}
