//! The simulator as a NAS: PPPoE and hotspot clients that authenticate and account against the RADIUS
//! servers configured in the router's own model (`/radius`, `/ppp aaa`, hotspot profiles), and the
//! `/radius incoming` listener answering RFC 5176 Disconnect-Request and CoA-Request.
//!
//! What it does, like RouterOS (reference §3–§5):
//! - Users found in `/ppp secret` / `/ip hotspot user` are authenticated locally; RADIUS is asked only
//!   for the others, and only when `/ppp aaa use-radius` / the hotspot profile's `use-radius` is on.
//! - `/radius` entries whose `service` includes `ppp` / `hotspot` are tried in order; each gets three
//!   tries of `timeout` (same Identifier and authenticator), then the next entry is tried.
//! - Replies are checked (Response Authenticator, Message-Authenticator); entries with
//!   `require-message-auth=yes-for-request-resp` (7.15+ default) discard Access replies without one.
//! - Accounting (Start, Interim-Update, Stop) goes to the same entries, waits for the
//!   Accounting-Response and retransmits the same way.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use broadnet_radius::dict::{VENDOR_MIKROTIK, acct_status, attr, mikrotik, nas_port_type, service_type};
use broadnet_radius::{Avp, Code, Packet, crypto, encode_request, encode_response, verify_request, verify_response};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::interp::parse_duration;
use super::model::{Attrs, format_uptime};
use super::{ActiveKind, RouterSim, SimState};

/// Tries per `/radius` entry (the first send and two retransmissions) before moving to the next one.
const TRIES: usize = 3;
/// How long answered CoA/Disconnect requests are remembered (duplicates get the same reply).
const REPLY_CACHE: Duration = Duration::from_secs(30);
/// Acct-Terminate-Cause values.
const CAUSE_USER_REQUEST: u32 = 1;
const CAUSE_ADMIN_RESET: u32 = 6;
/// `radius-mac-format` default: how RouterOS spells a MAC in RADIUS.
pub(crate) const DEFAULT_MAC_FORMAT: &str = "XX:XX:XX:XX:XX:XX";
/// Error-Cause values (RFC 5176).
const ERROR_MISSING_ATTRIBUTE: u32 = 402;
const ERROR_NAS_MISMATCH: u32 = 403;
const ERROR_NO_SESSION: u32 = 503;

/// How a simulated PPPoE client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// User-Password.
    Pap,
    /// CHAP-Password + CHAP-Challenge.
    Chap,
}

/// What a client proves who it is with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Credentials<'a> {
    /// A cleartext password the NAS sends as PAP, or as CHAP with a challenge of its own (`None`: the
    /// service's default, for the hotspot CHAP when the profile's `login-by` has `http-chap`).
    Password(&'a str, Option<Auth>),
    /// A CHAP response the client computed for a challenge the NAS gave it (hotspot `http-chap`: the login
    /// page's JavaScript hashes `chap-id ‖ password ‖ chap-challenge`).
    Chap { ident: u8, response: [u8; 16], challenge: [u8; 16] },
}

/// Why a simulated login (or accounting for it) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// No enabled `/radius` entry for the service, or RADIUS is off for it (`/ppp aaa use-radius=no`,
    /// hotspot profile `use-radius=no`), and the user is not a local one.
    #[error("no RADIUS server configured for this service")]
    NoRadius,
    /// Access-Reject (with its Reply-Message, possibly empty), or a wrong local password.
    #[error("login rejected: {0}")]
    Rejected(String),
    /// No valid reply from any `/radius` entry after all retransmissions.
    #[error("RADIUS server timed out")]
    Timeout,
    /// The session was already ended (logout, Disconnect-Request, removed via the API).
    #[error("the session is no longer active")]
    NotActive,
    /// A local problem (socket, encoding).
    #[error("{0}")]
    Io(String),
}

/// One `/radius` entry, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    auth: SocketAddr,
    acct: SocketAddr,
    secret: String,
    timeout: Duration,
    require_ma: bool,
    nas_ip: Ipv4Addr,
}

/// What the NAS remembers about a live session.
#[derive(Debug, Clone)]
pub(crate) struct SessionRecord {
    kind: ActiveKind,
    row_id: String,
    user: String,
    session_id: String,
    nas_port: u32,
    address: Option<Ipv4Addr>,
    mac: String,
    called: String,
    port_id: String,
    port_type: u32,
    class: Vec<Vec<u8>>,
    accounting: bool,
    radius_auth: bool,
    servers: Vec<Server>,
    started: Instant,
    octets_in: u64,
    octets_out: u64,
    limit: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Incoming {
    /// The configured port the listener was set up for.
    port: Option<u16>,
    addr: Option<SocketAddr>,
    error: Option<String>,
    token: Option<CancellationToken>,
}

#[derive(Debug)]
struct CachedReply {
    from: SocketAddr,
    id: u8,
    authenticator: [u8; 16],
    bytes: Vec<u8>,
    at: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct NasState {
    sessions: BTreeMap<String, SessionRecord>,
    next_session: u32,
    next_id: u8,
    pub(crate) coa_log: Vec<(Code, String)>,
    pub(crate) log: Vec<String>,
    incoming: Incoming,
    replies: VecDeque<CachedReply>,
}

impl NasState {
    pub(crate) fn incoming_addr(&self) -> Option<SocketAddr> {
        self.incoming.addr
    }

    pub(crate) fn incoming_error(&self) -> Option<String> {
        self.incoming.error.clone()
    }

    /// Stop the `/radius incoming` listener (the router went away).
    pub(crate) fn stop_incoming(&mut self) {
        if let Some(token) = self.incoming.token.take() {
            token.cancel();
        }
        self.incoming = Incoming::default();
    }
}

/// A session of a simulated client ([`RouterSim::pppoe_login`], [`RouterSim::hotspot_login`]). Cheap to
/// clone; clones refer to the same session.
#[derive(Debug, Clone)]
pub struct NasSession {
    sim: RouterSim,
    kind: ActiveKind,
    session_id: String,
    row_id: String,
    user: String,
    address: Option<Ipv4Addr>,
    session_timeout: Option<u32>,
    total_limit: Option<u64>,
    login_by: String,
    reply: Option<Packet>,
}

/// A PPPoE session (row in `/ppp/active`).
pub type PppSession = NasSession;
/// A hotspot session (row in `/ip/hotspot/active`).
pub type HotspotSession = NasSession;

impl NasSession {
    /// `/ppp/active` or `/ip/hotspot/active`.
    pub fn kind(&self) -> ActiveKind {
        self.kind
    }

    /// The login name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Acct-Session-Id (also the row's `session-id` for PPP), e.g. `81a00001`.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// `.id` of the active row.
    pub fn row_id(&self) -> &str {
        &self.row_id
    }

    /// The client's address (PPP: Framed-IP-Address or from the pool; hotspot: the client IP).
    pub fn address(&self) -> Option<Ipv4Addr> {
        self.address
    }

    /// The current rate limit (Mikrotik-Rate-Limit from the Access-Accept or a later CoA, else the
    /// profile's `rate-limit`); `None` once the session ended.
    pub fn rate_limit(&self) -> Option<String> {
        self.sim.state().nas.sessions.get(&self.session_id).and_then(|r| r.limit.clone())
    }

    /// Session-Timeout from the Access-Accept.
    pub fn session_timeout(&self) -> Option<u32> {
        self.session_timeout
    }

    /// The byte limit (in + out) from Mikrotik-Total-Limit and Mikrotik-Total-Limit-Gigawords in the
    /// Access-Accept (`Gigawords × 2³² + Limit`); `None` when neither was sent.
    pub fn total_limit(&self) -> Option<u64> {
        self.total_limit
    }

    /// How the client logged in: the hotspot's `login-by` method (`http-chap`, `http-pap`, `mac`), empty for
    /// PPP.
    pub fn login_by(&self) -> &str {
        &self.login_by
    }

    /// The Access-Accept (`None` for local users).
    pub fn reply(&self) -> Option<&Packet> {
        self.reply.as_ref()
    }

    /// How long the session has been up; `None` once it ended.
    pub fn uptime(&self) -> Option<Duration> {
        self.sim.state().nas.sessions.get(&self.session_id).map(|r| r.started.elapsed())
    }

    /// The octet counters last reported with [`NasSession::interim`] (from the client, to the client);
    /// `None` once the session ended.
    pub fn octets(&self) -> Option<(u64, u64)> {
        self.sim.state().nas.sessions.get(&self.session_id).map(|r| (r.octets_in, r.octets_out))
    }

    /// Is the session still up?
    pub fn is_active(&self) -> bool {
        self.sim.state().nas.sessions.contains_key(&self.session_id)
    }

    /// Send an Accounting-Request Interim-Update with these session totals (`octets_in` = from the
    /// client, as RADIUS counts). Without accounting it only updates the counters.
    pub async fn interim(&self, octets_in: u64, octets_out: u64) -> Result<(), LoginError> {
        let record = {
            let mut state = self.sim.state();
            let Some(record) = state.nas.sessions.get_mut(&self.session_id) else {
                return Err(LoginError::NotActive);
            };
            record.octets_in = octets_in;
            record.octets_out = octets_out;
            let record = record.clone();
            if record.kind == ActiveKind::Hotspot {
                state.model.update_row(
                    record.kind.menu(),
                    &record.row_id,
                    &[("bytes-in", octets_in.to_string()), ("bytes-out", octets_out.to_string())],
                );
            }
            record
        };
        if record.accounting {
            account(&self.sim, &record, acct_status::INTERIM_UPDATE, None).await?;
        }
        Ok(())
    }

    /// End the session: the active row goes away and Accounting-Request Stop (User-Request) is sent.
    pub async fn logout(self) -> Result<(), LoginError> {
        let record = {
            let mut state = self.sim.state();
            let Some(record) = state.nas.sessions.remove(&self.session_id) else {
                return Err(LoginError::NotActive);
            };
            state.model.remove_row(record.kind.menu(), &record.row_id);
            record
        };
        if record.accounting {
            account(&self.sim, &record, acct_status::STOP, Some(CAUSE_USER_REQUEST)).await?;
        }
        Ok(())
    }
}

fn enabled(entry: &Attrs) -> bool {
    entry.get("disabled").is_none_or(|d| d != "true")
}

fn is_true(entry: &Attrs, key: &str) -> bool {
    entry.get(key).is_some_and(|v| v == "true" || v == "yes")
}

fn note(sim: &RouterSim, message: String) {
    tracing::debug!(target: "broadnet_routeros::sim::nas", "{message}");
    let mut state = sim.state();
    if state.nas.log.len() >= 1000 {
        state.nas.log.remove(0);
    }
    state.nas.log.push(message);
}

/// The enabled `/radius` entries whose `service` includes `service`, in order.
fn servers(state: &SimState, service: &str, default_nas_ip: Ipv4Addr) -> Vec<Server> {
    state
        .model
        .entries("/radius")
        .into_iter()
        .filter(enabled)
        .filter(|e| e.get("service").is_some_and(|s| s.split(',').any(|x| x.trim() == service)))
        .filter_map(|e| {
            let ip: IpAddr = e.get("address")?.split('@').next()?.parse().ok()?;
            let port = |key: &str, default: u16| e.get(key).and_then(|p| p.parse().ok()).unwrap_or(default);
            let src = e.get("src-address").and_then(|s| s.parse::<Ipv4Addr>().ok()).filter(|a| !a.is_unspecified());
            Some(Server {
                auth: SocketAddr::new(ip, port("authentication-port", 1812)),
                acct: SocketAddr::new(ip, port("accounting-port", 1813)),
                secret: e.get("secret").cloned().unwrap_or_default(),
                timeout: e
                    .get("timeout")
                    .and_then(|t| parse_duration(t))
                    .filter(|t| !t.is_zero())
                    .unwrap_or(Duration::from_millis(300)),
                require_ma: e.get("require-message-auth").is_some_and(|v| v.starts_with("yes")),
                nas_ip: src.unwrap_or(default_nas_ip),
            })
        })
        .collect()
}

fn identity(state: &SimState) -> String {
    state.model.entries("/system/identity").into_iter().next().and_then(|r| r.get("name").cloned()).unwrap_or_default()
}

fn next_id(sim: &RouterSim) -> u8 {
    let mut state = sim.state();
    let id = state.nas.next_id;
    state.nas.next_id = id.wrapping_add(1);
    id
}

/// Send `code` to each server in turn until one answers validly.
async fn exchange<F>(
    sim: &RouterSim,
    servers: &[Server],
    code: Code,
    accounting: bool,
    build: F,
) -> Result<Packet, LoginError>
where
    F: Fn(&Server, &[u8; 16]) -> Result<Vec<Avp>, LoginError>,
{
    for server in servers {
        let dest = if accounting { server.acct } else { server.auth };
        let random: [u8; 16] = rand::random();
        let id = next_id(sim);
        let attrs = build(server, &random)?;
        let secret = server.secret.as_bytes();
        let raw = encode_request(code, id, &attrs, secret, code == Code::AccessRequest, random)
            .map_err(|e| LoginError::Io(e.to_string()))?;
        let mut request_auth = [0u8; 16];
        request_auth.copy_from_slice(&raw[4..20]);
        let bind: SocketAddr = match dest.ip() {
            IpAddr::V4(ip) if ip.is_loopback() => (Ipv4Addr::LOCALHOST, 0).into(),
            IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            IpAddr::V6(ip) if ip.is_loopback() => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
            IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(bind).await.map_err(|e| LoginError::Io(e.to_string()))?;
        let mut buf = vec![0u8; 4096];
        for attempt in 0..TRIES {
            if let Err(err) = socket.send_to(&raw, dest).await {
                note(sim, format!("{} to {dest} failed: {err}", code.name()));
                break;
            }
            let deadline = tokio::time::Instant::now() + server.timeout;
            loop {
                let received = match tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                    Err(_) => break,
                    Ok(Err(_)) => continue,
                    Ok(Ok(received)) => received,
                };
                let (n, from) = received;
                let data = &buf[..n];
                if from != dest {
                    continue;
                }
                let Ok(packet) = Packet::decode(data) else { continue };
                if packet.id != id {
                    continue;
                }
                let expected = if accounting {
                    matches!(packet.code, Code::AccountingResponse)
                } else {
                    matches!(packet.code, Code::AccessAccept | Code::AccessReject | Code::AccessChallenge)
                };
                match verify_response(data, &request_auth, secret) {
                    Ok(has_ma) if expected && (accounting || has_ma || !server.require_ma) => return Ok(packet),
                    Ok(_) => note(
                        sim,
                        format!("bad reply from {dest}: {} without Message-Authenticator", packet.code.name()),
                    ),
                    Err(err) => note(sim, format!("bad reply from {dest}: {err}")),
                }
            }
            if attempt + 1 < TRIES {
                note(sim, format!("{} to {dest} timed out, resending", code.name()));
            }
        }
        note(sim, format!("{} to {dest}: no answer after {TRIES} tries", code.name()));
    }
    Err(LoginError::Timeout)
}

/// Send one Accounting-Request for a session.
async fn account(sim: &RouterSim, record: &SessionRecord, status: u32, cause: Option<u32>) -> Result<(), LoginError> {
    let identity = identity(&sim.state());
    let result = exchange(sim, &record.servers, Code::AccountingRequest, true, |server, _| {
        let mut attrs = vec![
            Avp::int(attr::ACCT_STATUS_TYPE, status),
            Avp::text(attr::USER_NAME, &record.user),
            Avp::text(attr::ACCT_SESSION_ID, &record.session_id),
            Avp::text(attr::NAS_IDENTIFIER, &identity),
            Avp::ipv4(attr::NAS_IP_ADDRESS, server.nas_ip),
            Avp::int(attr::NAS_PORT, record.nas_port),
            Avp::int(attr::NAS_PORT_TYPE, record.port_type),
            Avp::text(attr::CALLING_STATION_ID, &record.mac),
            Avp::text(attr::CALLED_STATION_ID, &record.called),
        ];
        if !record.port_id.is_empty() {
            attrs.push(Avp::text(attr::NAS_PORT_ID, &record.port_id));
        }
        if record.kind == ActiveKind::Ppp {
            attrs.push(Avp::int(attr::SERVICE_TYPE, service_type::FRAMED_USER));
            attrs.push(Avp::int(attr::FRAMED_PROTOCOL, 1));
        }
        if let Some(ip) = record.address {
            attrs.push(Avp::ipv4(attr::FRAMED_IP_ADDRESS, ip));
        }
        attrs.push(Avp::int(attr::ACCT_AUTHENTIC, if record.radius_auth { 1 } else { 2 }));
        for class in &record.class {
            attrs.push(Avp::new(attr::CLASS, class.clone()));
        }
        attrs.push(Avp::int(attr::ACCT_DELAY_TIME, 0));
        if status != acct_status::START {
            let secs = u32::try_from(record.started.elapsed().as_secs()).unwrap_or(u32::MAX);
            let split = |v: u64| ((v & 0xFFFF_FFFF) as u32, (v >> 32) as u32);
            let (in_lo, in_hi) = split(record.octets_in);
            let (out_lo, out_hi) = split(record.octets_out);
            let packets = |v: u64| u32::try_from(v.div_ceil(1500)).unwrap_or(u32::MAX);
            attrs.extend([
                Avp::int(attr::ACCT_SESSION_TIME, secs),
                Avp::int(attr::ACCT_INPUT_OCTETS, in_lo),
                Avp::int(attr::ACCT_INPUT_GIGAWORDS, in_hi),
                Avp::int(attr::ACCT_OUTPUT_OCTETS, out_lo),
                Avp::int(attr::ACCT_OUTPUT_GIGAWORDS, out_hi),
                Avp::int(attr::ACCT_INPUT_PACKETS, packets(record.octets_in)),
                Avp::int(attr::ACCT_OUTPUT_PACKETS, packets(record.octets_out)),
            ]);
        }
        if let Some(cause) = cause {
            attrs.push(Avp::int(attr::ACCT_TERMINATE_CAUSE, cause));
        }
        Ok(attrs)
    })
    .await;
    if result.is_err() {
        let kind = match status {
            acct_status::START => "Start",
            acct_status::STOP => "Stop",
            _ => "Interim-Update",
        };
        note(sim, format!("accounting {kind} for {} ({}) got no response", record.user, record.session_id));
    }
    result.map(|_| ())
}

/// Where a login happens: the service's settings as configured on the router.
struct Context {
    service: &'static str,
    use_radius: bool,
    accounting: bool,
    called: String,
    port_id: String,
    port_type: u32,
    /// PPP profile (PPP) or hotspot user profile (hotspot) giving defaults.
    profile: String,
    local: Option<Attrs>,
    login_by: &'static str,
    auth: Auth,
    /// How Calling-Station-Id (and a MAC login's User-Name) spell the MAC: the hotspot profile's
    /// `radius-mac-format`.
    mac_format: String,
}

fn first_enabled(rows: Vec<Attrs>) -> Option<Attrs> {
    rows.iter().find(|r| enabled(r)).cloned().or_else(|| rows.into_iter().next())
}

fn context(state: &SimState, kind: ActiveKind, user: &str, auth: Option<Auth>) -> Context {
    let model = &state.model;
    let local_in =
        |menu: &str| model.entries(menu).into_iter().find(|e| e.get("name").is_some_and(|n| n == user) && enabled(e));
    match kind {
        ActiveKind::Ppp => {
            let aaa = model.entries("/ppp/aaa").into_iter().next().unwrap_or_default();
            let server = first_enabled(model.entries("/interface/pppoe-server/server")).unwrap_or_default();
            Context {
                service: "ppp",
                use_radius: is_true(&aaa, "use-radius"),
                accounting: is_true(&aaa, "accounting"),
                called: server.get("service-name").cloned().unwrap_or_else(|| "service1".into()),
                port_id: server.get("interface").cloned().unwrap_or_default(),
                port_type: nas_port_type::ETHERNET,
                profile: server.get("default-profile").cloned().unwrap_or_else(|| "default".into()),
                local: local_in("/ppp/secret"),
                login_by: "",
                auth: auth.unwrap_or(Auth::Pap),
                mac_format: DEFAULT_MAC_FORMAT.into(),
            }
        }
        ActiveKind::Hotspot => {
            let server = first_enabled(model.entries("/ip/hotspot")).unwrap_or_default();
            let profile_name = server.get("profile").cloned().unwrap_or_else(|| "default".into());
            let profile = model
                .entries("/ip/hotspot/profile")
                .into_iter()
                .find(|p| p.get("name") == Some(&profile_name))
                .unwrap_or_default();
            let port_type = match profile.get("nas-port-type").map(String::as_str) {
                Some("ethernet") => nas_port_type::ETHERNET,
                Some("cable") => 17,
                Some(n) => n.parse().unwrap_or(nas_port_type::WIRELESS_802_11),
                None => nas_port_type::WIRELESS_802_11,
            };
            let chap = profile.get("login-by").is_none_or(|l| l.split(',').any(|m| m.trim() == "http-chap"));
            let auth = auth.unwrap_or(if chap { Auth::Chap } else { Auth::Pap });
            Context {
                service: "hotspot",
                use_radius: is_true(&profile, "use-radius"),
                accounting: profile.get("radius-accounting").is_none_or(|v| v == "true" || v == "yes"),
                called: server.get("name").cloned().unwrap_or_else(|| "hotspot1".into()),
                port_id: server.get("interface").cloned().unwrap_or_default(),
                port_type,
                profile: "default".into(),
                local: local_in("/ip/hotspot/user"),
                login_by: if auth == Auth::Chap { "http-chap" } else { "http-pap" },
                auth,
                mac_format: profile.get("radius-mac-format").cloned().unwrap_or_else(|| DEFAULT_MAC_FORMAT.into()),
            }
        }
    }
}

/// The first free address of `/ip/pool` `pool` (not used by an active session).
fn allocate(state: &SimState, pool: &str) -> Option<Ipv4Addr> {
    let model = &state.model;
    let entry = model.entries("/ip/pool").into_iter().find(|p| p.get("name").is_some_and(|n| n == pool))?;
    let used: BTreeSet<Ipv4Addr> = ["/ppp/active", "/ip/hotspot/active"]
        .iter()
        .flat_map(|m| model.entries(m))
        .filter_map(|r| r.get("address").and_then(|a| a.parse().ok()))
        .collect();
    for range in entry.get("ranges")?.split(',').map(str::trim) {
        let (first, last) = if let Some((a, b)) = range.split_once('-') {
            (u32::from(a.trim().parse::<Ipv4Addr>().ok()?), u32::from(b.trim().parse::<Ipv4Addr>().ok()?))
        } else if let Some((net, len)) = range.split_once('/') {
            let net = u32::from(net.parse::<Ipv4Addr>().ok()?);
            let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            let base = net & mask;
            let top = base | !mask;
            if len >= 31 { (base, top) } else { (base + 1, top - 1) }
        } else {
            let ip = u32::from(range.parse::<Ipv4Addr>().ok()?);
            (ip, ip)
        };
        if let Some(ip) = (first..=last).map(Ipv4Addr::from).find(|ip| !used.contains(ip)) {
            return Some(ip);
        }
    }
    let next = entry.get("next-pool").filter(|n| *n != "none" && !n.is_empty() && *n != pool)?;
    allocate(state, next)
}

/// Log in a simulated client (shared by PPPoE and hotspot).
pub(crate) async fn login(
    sim: &RouterSim,
    kind: ActiveKind,
    user: &str,
    password: &str,
    mac: &str,
    client_ip: Option<Ipv4Addr>,
    auth: Option<Auth>,
) -> Result<NasSession, LoginError> {
    login_with(sim, kind, user, mac, client_ip, Credentials::Password(password, auth), None).await
}

/// Log in a simulated client with any kind of credentials; `login_by` overrides the hotspot method recorded
/// in the active row (`mac` for a MAC login).
pub(crate) async fn login_with(
    sim: &RouterSim,
    kind: ActiveKind,
    user: &str,
    mac: &str,
    client_ip: Option<Ipv4Addr>,
    credentials: Credentials<'_>,
    login_by: Option<&'static str>,
) -> Result<NasSession, LoginError> {
    let mac = mac.to_ascii_uppercase();
    let (ctx, servers, identity, n) = {
        let mut state = sim.state();
        let auth = match credentials {
            Credentials::Password(_, auth) => auth,
            Credentials::Chap { .. } => Some(Auth::Chap),
        };
        let mut ctx = context(&state, kind, user, auth);
        if let Some(login_by) = login_by {
            ctx.login_by = login_by;
        }
        let servers = servers(&state, ctx.service, sim.config().nas_ip);
        let identity = identity(&state);
        state.nas.next_session = state.nas.next_session.wrapping_add(1);
        (ctx, servers, identity, state.nas.next_session)
    };
    let session_id = format!("{:08x}", 0x81a0_0000u32.wrapping_add(n));

    let calling = format_mac(&mac, &ctx.mac_format).unwrap_or_else(|| mac.clone());
    let reply = match &ctx.local {
        Some(local) => {
            let secret = local.get("password").map_or("", String::as_str);
            let good = match credentials {
                Credentials::Password(password, _) => password == secret,
                Credentials::Chap { ident, response, challenge } => {
                    let mut value = vec![ident];
                    value.extend_from_slice(&response);
                    crypto::chap_verify(&value, &challenge, secret.as_bytes())
                }
            };
            if !good {
                return Err(LoginError::Rejected("invalid username or password".into()));
            }
            None
        }
        None => {
            if !ctx.use_radius || servers.is_empty() {
                return Err(LoginError::NoRadius);
            }
            let ident: u8 = rand::random();
            let challenge: [u8; 16] = rand::random();
            let reply = exchange(sim, &servers, Code::AccessRequest, false, |server, authenticator| {
                let mut attrs = vec![Avp::text(attr::USER_NAME, user)];
                let chap = |ident: u8, response: &[u8; 16], challenge: &[u8; 16]| {
                    let mut value = vec![ident];
                    value.extend_from_slice(response);
                    [Avp::new(attr::CHAP_PASSWORD, value), Avp::new(attr::CHAP_CHALLENGE, challenge.to_vec())]
                };
                match credentials {
                    Credentials::Password(password, _) if ctx.auth == Auth::Pap => {
                        let hidden =
                            crypto::hide_password(password.as_bytes(), server.secret.as_bytes(), authenticator)
                                .map_err(|e| LoginError::Io(e.to_string()))?;
                        attrs.push(Avp::new(attr::USER_PASSWORD, hidden));
                    }
                    Credentials::Password(password, _) => {
                        let response = crypto::chap_response(ident, password.as_bytes(), &challenge);
                        attrs.extend(chap(ident, &response, &challenge));
                    }
                    Credentials::Chap { ident, response, challenge } => {
                        attrs.extend(chap(ident, &response, &challenge));
                    }
                }
                // reference §3.1: PPP sends Service-Type Framed and Framed-Protocol PPP; the hotspot neither
                if kind == ActiveKind::Ppp {
                    attrs.push(Avp::int(attr::SERVICE_TYPE, service_type::FRAMED_USER));
                    attrs.push(Avp::int(attr::FRAMED_PROTOCOL, 1));
                }
                attrs.extend([
                    Avp::text(attr::NAS_IDENTIFIER, &identity),
                    Avp::ipv4(attr::NAS_IP_ADDRESS, server.nas_ip),
                    Avp::int(attr::NAS_PORT, n),
                    Avp::int(attr::NAS_PORT_TYPE, ctx.port_type),
                    Avp::text(attr::CALLING_STATION_ID, &calling),
                    Avp::text(attr::CALLED_STATION_ID, &ctx.called),
                    Avp::text(attr::ACCT_SESSION_ID, &session_id),
                ]);
                if !ctx.port_id.is_empty() {
                    attrs.push(Avp::text(attr::NAS_PORT_ID, &ctx.port_id));
                }
                if let Some(ip) = client_ip {
                    attrs.push(Avp::ipv4(attr::FRAMED_IP_ADDRESS, ip));
                    attrs.push(Avp::vsa(VENDOR_MIKROTIK, mikrotik::HOST_IP, &ip.octets()));
                }
                Ok(attrs)
            })
            .await?;
            if reply.code != Code::AccessAccept {
                let message = reply.text(attr::REPLY_MESSAGE).unwrap_or_default();
                note(sim, format!("{user} rejected: {message:?}"));
                return Err(LoginError::Rejected(message));
            }
            Some(reply)
        }
    };

    let rate_vsa = reply
        .as_ref()
        .and_then(|r| r.vsa(VENDOR_MIKROTIK, mikrotik::RATE_LIMIT))
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let group = reply
        .as_ref()
        .and_then(|r| r.vsa(VENDOR_MIKROTIK, mikrotik::GROUP))
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let session_timeout = reply.as_ref().and_then(|r| r.int(attr::SESSION_TIMEOUT));
    let total_limit = reply.as_ref().and_then(total_limit);
    let class: Vec<Vec<u8>> =
        reply.as_ref().map(|r| r.get_all(attr::CLASS).map(<[u8]>::to_vec).collect()).unwrap_or_default();

    let record = {
        let mut state = sim.state();
        let profile_name = group.clone().unwrap_or_else(|| {
            ctx.local.as_ref().and_then(|l| l.get("profile").cloned()).unwrap_or_else(|| ctx.profile.clone())
        });
        let profile_menu = if kind == ActiveKind::Ppp { "/ppp/profile" } else { "/ip/hotspot/user/profile" };
        let profile = state
            .model
            .entries(profile_menu)
            .into_iter()
            .find(|p| p.get("name") == Some(&profile_name))
            .unwrap_or_default();
        let limit = rate_vsa.or_else(|| profile.get("rate-limit").cloned()).filter(|l| !l.is_empty());
        let address = match kind {
            ActiveKind::Hotspot => client_ip,
            ActiveKind::Ppp => {
                let framed = reply
                    .as_ref()
                    .and_then(|r| r.ipv4(attr::FRAMED_IP_ADDRESS))
                    .filter(|ip| !ip.is_loopback() && ip.octets()[0] < 224);
                let local_ip = ctx.local.as_ref().and_then(|l| l.get("remote-address")).and_then(|a| a.parse().ok());
                let pool = reply
                    .as_ref()
                    .and_then(|r| r.text(attr::FRAMED_POOL))
                    .or_else(|| ctx.local.as_ref().and_then(|l| l.get("remote-address").cloned()))
                    .or_else(|| profile.get("remote-address").cloned());
                framed.or(local_ip).or_else(|| {
                    let pool = pool?;
                    pool.parse::<Ipv4Addr>().ok().or_else(|| allocate(&state, &pool))
                })
            }
        };
        let mut row = Attrs::new();
        let mut put = |k: &str, v: String| {
            row.insert(k.to_owned(), v);
        };
        let radius = if ctx.local.is_none() { "true" } else { "false" };
        match kind {
            ActiveKind::Ppp => {
                put("name", user.to_owned());
                put("service", "pppoe".into());
                put("caller-id", mac.clone());
                put("address", address.map(|a| a.to_string()).unwrap_or_default());
                put("encoding", String::new());
                put("session-id", session_id.clone());
                put("limit-bytes-in", "0".into());
                put("limit-bytes-out", "0".into());
                put("radius", radius.into());
            }
            ActiveKind::Hotspot => {
                put("server", ctx.called.clone());
                put("user", user.to_owned());
                put("domain", String::new());
                put("address", address.map(|a| a.to_string()).unwrap_or_default());
                put("mac-address", mac.clone());
                put("login-by", ctx.login_by.into());
                put("idle-time", "0s".into());
                put("bytes-in", "0".into());
                put("bytes-out", "0".into());
                put("packets-in", "0".into());
                put("packets-out", "0".into());
                put("radius", radius.into());
                if let Some(t) = session_timeout {
                    put("session-time-left", format_uptime(u64::from(t)));
                }
                if let Some(total) = total_limit {
                    put("limit-bytes-total", total.to_string());
                }
            }
        }
        if let Some(limit) = &limit {
            put("limit", limit.clone());
        }
        if let Some(t) = session_timeout {
            put("session-timeout", format_uptime(u64::from(t)));
        }
        let Some(row_id) = state.model.add_active(kind.menu(), row) else {
            return Err(LoginError::Io("no active-session table".into()));
        };
        let record = SessionRecord {
            kind,
            row_id,
            user: user.to_owned(),
            session_id: session_id.clone(),
            nas_port: n,
            address,
            mac: calling,
            called: ctx.called.clone(),
            port_id: ctx.port_id.clone(),
            port_type: ctx.port_type,
            class,
            accounting: ctx.accounting && !servers.is_empty(),
            radius_auth: ctx.local.is_none(),
            servers,
            started: Instant::now(),
            octets_in: 0,
            octets_out: 0,
            limit,
        };
        state.nas.sessions.insert(session_id.clone(), record.clone());
        record
    };
    note(sim, format!("{user} logged in ({}, session {session_id})", kind.menu()));
    if record.accounting {
        // RouterOS keeps the session up when accounting gets no answer; so does the simulator (noted in
        // the log)
        let _ = account(sim, &record, acct_status::START, None).await;
    }
    Ok(NasSession {
        sim: sim.clone(),
        kind,
        session_id,
        row_id: record.row_id,
        user: user.to_owned(),
        address: record.address,
        session_timeout,
        total_limit,
        login_by: ctx.login_by.to_owned(),
        reply,
    })
}

/// Mikrotik-Total-Limit + Mikrotik-Total-Limit-Gigawords (reference §1: `Gigawords × 2³² + Limit`).
fn total_limit(reply: &Packet) -> Option<u64> {
    let int = |t: u8| reply.vsa(VENDOR_MIKROTIK, t).and_then(|v| <[u8; 4]>::try_from(v).ok()).map(u32::from_be_bytes);
    let (low, high) = (int(mikrotik::TOTAL_LIMIT), int(mikrotik::TOTAL_LIMIT_GIGAWORDS));
    if low.is_none() && high.is_none() {
        return None;
    }
    Some((u64::from(high.unwrap_or(0)) << 32) | u64::from(low.unwrap_or(0)))
}

/// `mac` (any spelling with 12 hex digits) in a `radius-mac-format` pattern: each `X` takes the next digit
/// in capitals, each `x` in small letters, anything else is copied (`XX:XX:XX:XX:XX:XX`,
/// `xxxx.xxxx.xxxx`, `XXXXXXXXXXXX`, …). `None` when `mac` or the pattern do not have 12 digits.
pub(crate) fn format_mac(mac: &str, pattern: &str) -> Option<String> {
    let digits: Vec<char> = mac.chars().filter(char::is_ascii_hexdigit).collect();
    let slots = pattern.chars().filter(|c| matches!(c, 'X' | 'x')).count();
    if digits.len() != 12 || slots != 12 || mac.chars().any(|c| c.is_ascii_alphanumeric() && !c.is_ascii_hexdigit()) {
        return None;
    }
    let mut next = digits.into_iter();
    Some(
        pattern
            .chars()
            .map(|c| match c {
                'X' => next.next().map_or(c, |d| d.to_ascii_uppercase()),
                'x' => next.next().map_or(c, |d| d.to_ascii_lowercase()),
                other => other,
            })
            .collect(),
    )
}

/// Sessions whose active row disappeared (API or script `remove`, `set_active`) end with an
/// Accounting-Request Stop (Admin-Reset), like RouterOS kicking a user.
pub(crate) fn reap(sim: &RouterSim) {
    let gone: Vec<SessionRecord> = {
        let mut state = sim.state();
        if state.nas.sessions.is_empty() {
            return;
        }
        let ppp = state.model.ids(ActiveKind::Ppp.menu());
        let hotspot = state.model.ids(ActiveKind::Hotspot.menu());
        let dead: Vec<String> = state
            .nas
            .sessions
            .values()
            .filter(|r| !(if r.kind == ActiveKind::Ppp { &ppp } else { &hotspot }).contains(&r.row_id))
            .map(|r| r.session_id.clone())
            .collect();
        dead.iter().filter_map(|id| state.nas.sessions.remove(id)).collect()
    };
    stop_all(sim, gone, CAUSE_ADMIN_RESET);
}

fn stop_all(sim: &RouterSim, records: Vec<SessionRecord>, cause: u32) {
    for record in records {
        note(sim, format!("{} ({}) disconnected", record.user, record.session_id));
        if !record.accounting {
            continue;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let sim = sim.clone();
                handle.spawn(async move {
                    let _ = account(&sim, &record, acct_status::STOP, Some(cause)).await;
                });
            }
            Err(_) => note(sim, format!("no runtime to send accounting Stop for {}", record.user)),
        }
    }
}

/// Start, move or stop the `/radius incoming` listener to match the model.
pub(crate) fn sync_incoming(sim: &RouterSim) {
    let mut state = sim.state();
    let settings = state.model.entries("/radius/incoming").into_iter().next().unwrap_or_default();
    let port: Option<u16> = settings.get("port").and_then(|p| p.parse().ok());
    let (true, Some(port)) = (is_true(&settings, "accept"), port) else {
        state.nas.stop_incoming();
        return;
    };
    let incoming = &mut state.nas.incoming;
    if incoming.port == Some(port) && incoming.addr.is_some() {
        return;
    }
    if let Some(token) = incoming.token.take() {
        token.cancel();
    }
    *incoming = Incoming { port: Some(port), ..Incoming::default() };
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        incoming.error = Some("no tokio runtime to listen in".into());
        return;
    };
    let bound = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).and_then(|s| {
        s.set_nonblocking(true)?;
        let _guard = handle.enter();
        UdpSocket::from_std(s)
    });
    let socket = match bound {
        Ok(socket) => socket,
        Err(err) => {
            let message = format!("cannot listen on 127.0.0.1:{port} for /radius incoming: {err}");
            tracing::warn!("{message}");
            incoming.error = Some(message);
            return;
        }
    };
    let token = CancellationToken::new();
    incoming.addr = socket.local_addr().ok();
    incoming.token = Some(token.clone());
    drop(state);
    handle.spawn(serve_incoming(sim.clone(), socket, token));
}

async fn serve_incoming(sim: RouterSim, socket: UdpSocket, token: CancellationToken) {
    let mut buf = vec![0u8; 4096];
    loop {
        let received = tokio::select! {
            () = token.cancelled() => break,
            received = socket.recv_from(&mut buf) => received,
        };
        let (n, from) = match received {
            Ok(received) => received,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (reply, stopped) = dynamic_request(&sim, &buf[..n], from);
        if let Some(reply) = reply {
            let _ = socket.send_to(&reply, from).await;
        }
        stop_all(&sim, stopped, CAUSE_ADMIN_RESET);
    }
}

/// Answer one datagram sent to `/radius incoming`: the reply (if any) and the sessions it ended.
fn dynamic_request(sim: &RouterSim, raw: &[u8], from: SocketAddr) -> (Option<Vec<u8>>, Vec<SessionRecord>) {
    let Ok(packet) = Packet::decode(raw) else { return (None, Vec::new()) };
    let disconnect = match packet.code {
        Code::DisconnectRequest => true,
        Code::CoaRequest => false,
        _ => return (None, Vec::new()),
    };
    let mut state = sim.state();
    state.nas.replies.retain(|r| r.at.elapsed() < REPLY_CACHE);
    if let Some(cached) = state
        .nas
        .replies
        .iter()
        .find(|r| r.from == from && r.id == packet.id && r.authenticator == packet.authenticator)
    {
        return (Some(cached.bytes.clone()), Vec::new());
    }
    let secret = state
        .model
        .entries("/radius")
        .into_iter()
        .filter(enabled)
        .filter(|e| {
            e.get("address").and_then(|a| a.split('@').next()).and_then(|a| a.parse::<IpAddr>().ok()) == Some(from.ip())
        })
        .filter_map(|e| e.get("secret").cloned())
        .find(|secret| verify_request(raw, &packet, secret.as_bytes()).is_ok());
    let Some(secret) = secret else {
        drop(state);
        note(sim, format!("ignored {} from {from}: unknown client or bad authenticator", packet.code.name()));
        return (None, Vec::new());
    };
    let user = packet.text(attr::USER_NAME).unwrap_or_default();
    let (ack, nak) = if disconnect { (Code::DisconnectAck, Code::DisconnectNak) } else { (Code::CoaAck, Code::CoaNak) };
    let session_id = packet.text(attr::ACCT_SESSION_ID);
    let framed = packet.ipv4(attr::FRAMED_IP_ADDRESS);
    let calling = packet.text(attr::CALLING_STATION_ID);
    let identity = identity(&state);
    let wrong_nas = packet.ipv4(attr::NAS_IP_ADDRESS).is_some_and(|ip| ip != sim.config().nas_ip)
        || packet.text(attr::NAS_IDENTIFIER).is_some_and(|id| id != identity);

    let mut stopped = Vec::new();
    let (code, cause) = if wrong_nas {
        (nak, Some(ERROR_NAS_MISMATCH))
    } else if user.is_empty() && session_id.is_none() && framed.is_none() && calling.is_none() {
        (nak, Some(ERROR_MISSING_ATTRIBUTE))
    } else {
        let matched: Vec<String> = state
            .nas
            .sessions
            .values()
            .filter(|r| {
                (user.is_empty() || r.user == user)
                    && session_id.as_ref().is_none_or(|s| *s == r.session_id)
                    && framed.is_none_or(|ip| r.address == Some(ip))
                    && calling.as_ref().is_none_or(|c| c.eq_ignore_ascii_case(&r.mac))
            })
            .map(|r| r.session_id.clone())
            .collect();
        // rows put there by `set_active` (no simulated client behind them) can be kicked too
        let registered: BTreeSet<(&'static str, String)> =
            state.nas.sessions.values().map(|r| (r.kind.menu(), r.row_id.clone())).collect();
        let mut bare_rows: Vec<(&'static str, String)> = Vec::new();
        for kind in [ActiveKind::Ppp, ActiveKind::Hotspot] {
            let (name_key, mac_key) =
                if kind == ActiveKind::Ppp { ("name", "caller-id") } else { ("user", "mac-address") };
            for row in state.model.entries(kind.menu()) {
                let Some(id) = row.get(".id") else { continue };
                if registered.contains(&(kind.menu(), id.clone())) {
                    continue;
                }
                let same = |key: &str, wanted: &str| row.get(key).is_none_or(|v| v.eq_ignore_ascii_case(wanted));
                let hit = (user.is_empty() || row.get(name_key) == Some(&user))
                    && session_id.as_ref().is_none_or(|s| same("session-id", s))
                    && framed.is_none_or(|ip| row.get("address") == Some(&ip.to_string()))
                    && calling.as_ref().is_none_or(|c| row.get(mac_key).is_some_and(|m| m.eq_ignore_ascii_case(c)));
                if hit {
                    bare_rows.push((kind.menu(), id.clone()));
                }
            }
        }
        if matched.is_empty() && bare_rows.is_empty() {
            (nak, Some(ERROR_NO_SESSION))
        } else if disconnect {
            for id in matched {
                if let Some(record) = state.nas.sessions.remove(&id) {
                    state.model.remove_row(record.kind.menu(), &record.row_id);
                    stopped.push(record);
                }
            }
            for (menu, id) in bare_rows {
                state.model.remove_row(menu, &id);
            }
            (ack, None)
        } else {
            let limit =
                packet.vsa(VENDOR_MIKROTIK, mikrotik::RATE_LIMIT).map(|v| String::from_utf8_lossy(v).into_owned());
            let timeout = packet.int(attr::SESSION_TIMEOUT);
            let mut changes = Vec::new();
            if let Some(limit) = &limit {
                changes.push(("limit", limit.clone()));
            }
            if let Some(t) = timeout {
                changes.push(("session-timeout", format_uptime(u64::from(t))));
            }
            for id in matched {
                let Some(record) = state.nas.sessions.get_mut(&id) else { continue };
                if let Some(limit) = &limit {
                    record.limit = Some(limit.clone());
                }
                let (menu, row) = (record.kind.menu(), record.row_id.clone());
                state.model.update_row(menu, &row, &changes);
            }
            for (menu, id) in bare_rows {
                state.model.update_row(menu, &id, &changes);
            }
            (ack, None)
        }
    };
    let mut attrs = Vec::new();
    if let Some(cause) = cause {
        attrs.push(Avp::int(attr::ERROR_CAUSE, cause));
    }
    attrs.extend(packet.attrs.iter().filter(|a| a.typ == attr::STATE).cloned());
    let reply = encode_response(code, &packet, &attrs, secret.as_bytes(), true).ok();
    if let Some(bytes) = &reply {
        if state.nas.replies.len() >= 64 {
            state.nas.replies.pop_front();
        }
        state.nas.replies.push_back(CachedReply {
            from,
            id: packet.id,
            authenticator: packet.authenticator,
            bytes: bytes.clone(),
            at: Instant::now(),
        });
    }
    state.nas.coa_log.push((code, user.clone()));
    drop(state);
    note(sim, format!("{} for {user:?} from {from}: {}", packet.code.name(), code.name()));
    (reply, stopped)
}
