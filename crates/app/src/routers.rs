//! MikroTik routers: the three-step wizard (record, signed provisioning script,
//! service configuration with a live log) and health monitoring.

use crate::input::{Fields, Input, Unknown};
use crate::{App, AppError, AppResult, Session};
use broadnet_domain::RouterState;
use broadnet_domain::ServiceType;
use broadnet_routeros::{Client, ConnectOptions, RosError};
use broadnet_store::{NewRouter, Router, RouterHealth, RouterPatch, TokenRefusal};
use chrono::Duration;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Settings the wizard takes from the environment.
#[derive(Debug, Clone, Default)]
pub struct RouterEnv {
    /// e.g. `https://billing.isp.co.ke/provision`
    pub provision_base_url: Option<String>,
    pub provision_secret: String,
    /// The address routers send RADIUS to (RADIUS_IP).
    pub radius_ip: Option<String>,
    /// `10.10.10.1/24`
    pub bridge_gateway: String,
    pub dhcp_range: (String, String),
    pub coa_port: u16,
    /// RADIUS_AUTH_PORT / RADIUS_ACCT_PORT, told to routers when not 1812/1813.
    pub auth_port: u16,
    pub acct_port: u16,
    /// Where the billing server is reached (walled garden, firewall).
    pub public_url: String,
    /// Whether a router's `api_host` may be a loopback address (ROUTER_ALLOW_LOOPBACK,
    /// or development mode): for a RouterOS simulator on this machine, never for a
    /// real router, where it would turn the health check into a local port probe.
    pub allow_loopback: bool,
}

pub const BRIDGE: &str = "billing-bridge";
const TAG: &str = "broadnet";

/// One line of the configuration log.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConfigEvent {
    pub step: String,
    /// started, ok, failed, done
    pub status: String,
    pub detail: String,
}

/// The configuration log of each router: the events of the current or last run, and
/// a channel for whoever is watching.
#[derive(Default)]
pub struct ConfigLog {
    runs: Mutex<HashMap<i64, Run>>,
}

/// One router's run: its events so far, the channel to watchers, and whether it is
/// still going.
type Run = (Vec<ConfigEvent>, broadcast::Sender<ConfigEvent>, bool);

impl ConfigLog {
    fn start(&self, router: i64) -> Result<(), AppError> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, true)) = runs.get(&router) {
            return Err(AppError::InUse("a configuration run for this router is in progress".into()));
        }
        let (tx, _) = broadcast::channel(256);
        runs.insert(router, (Vec::new(), tx, true));
        Ok(())
    }

    fn emit(&self, router: i64, e: ConfigEvent) {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((events, tx, running)) = runs.get_mut(&router) {
            if e.status == "done" {
                *running = false;
            }
            events.push(e.clone());
            let _ = tx.send(e);
        }
    }

    /// The events so far and, while a run is going, a receiver for the rest.
    pub fn watch(&self, router: i64) -> (Vec<ConfigEvent>, Option<broadcast::Receiver<ConfigEvent>>) {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        match runs.get(&router) {
            Some((events, tx, running)) => (events.clone(), running.then(|| tx.subscribe())),
            None => (Vec::new(), None),
        }
    }

    /// Whether a configuration run of this router is going on (on this node).
    pub fn running(&self, router: i64) -> bool {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        matches!(runs.get(&router), Some((_, _, true)))
    }
}

fn random_secret(len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

fn parse_services(v: &str) -> Result<ServiceType, broadnet_domain::ParseError> {
    match v.to_ascii_lowercase().replace(' ', "").as_str() {
        "pppoe" => Ok(ServiceType::Pppoe),
        "hotspot" => Ok(ServiceType::Hotspot),
        "both" | "pppoe,hotspot" | "hotspot,pppoe" => Ok(ServiceType::Both),
        _ => Err(broadnet_domain::ParseError::new("must be pppoe, hotspot or both")),
    }
}

/// A list of names, or one text with the names separated by commas (as a form sends it).
fn parse_ports(v: &Input) -> Result<Vec<String>, String> {
    let items: Vec<String> = match v {
        Input::List(a) => a
            .iter()
            .map(|p| match p {
                Input::Text(s) => Ok(s.clone()),
                _ => Err("ports must be names"),
            })
            .collect::<Result<_, _>>()?,
        Input::Text(s) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        _ => return Err("must be a list of port names such as [\"ether2\", \"ether3\"]".into()),
    };
    for p in &items {
        if p.is_empty() || p.len() > 32 || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("{p:?} is not an interface name such as ether2"));
        }
    }
    if items.iter().any(|p| p == "ether1") {
        return Err("ether1 is the uplink; the billing bridge takes the other ports".into());
    }
    Ok(items)
}

/// Where the billing server reaches a router's API: an IP address or a DNS host name,
/// nothing else (no scheme, port, path or white space). Loopback, link-local (cloud
/// metadata at 169.254.169.254), unspecified and multicast addresses are refused,
/// loopback unless `allow_loopback`, and so are digits-only names like `2130706433`,
/// which resolvers may read as an IPv4 address.
pub fn parse_api_host(input: &str, allow_loopback: bool) -> Result<String, broadnet_domain::ParseError> {
    use broadnet_domain::ParseError;
    use std::net::IpAddr;
    let s = input.trim();
    if s.is_empty() || s.len() > 253 {
        return Err(ParseError::new("must be an IP address or a host name of at most 253 characters"));
    }
    let ip = s.parse::<IpAddr>().ok().or_else(|| {
        s.strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .and_then(|v| v.parse::<std::net::Ipv6Addr>().ok())
            .map(IpAddr::V6)
    });
    if let Some(ip) = ip {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let link_local = match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        };
        if ip.is_loopback() && !allow_loopback {
            return Err(ParseError::new("must not be a loopback address (set ROUTER_ALLOW_LOOPBACK for a simulator)"));
        }
        if link_local || ip.is_unspecified() || ip.is_multicast() {
            return Err(ParseError::new(
                "must be the router's address, not a link-local, unspecified or multicast one",
            ));
        }
        return Ok(ip.to_string());
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !name.split('.').all(label_ok) {
        return Err(ParseError::new(
            "must be an IP address or a host name (letters, digits, dots and hyphens; no scheme, port or path)",
        ));
    }
    // `2130706433`, `0x7f.1`, `127.1`: inet_aton reads these as IPv4 addresses.
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.chars().all(|c| c.is_ascii_digit()) || last.starts_with("0x") || last.starts_with("0X") {
        return Err(ParseError::new("must be a dotted IP address or a host name whose last label is not a number"));
    }
    let lower = name.to_ascii_lowercase();
    if (lower == "localhost" || lower.ends_with(".localhost")) && !allow_loopback {
        return Err(ParseError::new("must not be a loopback address (set ROUTER_ALLOW_LOOPBACK for a simulator)"));
    }
    Ok(lower)
}

/// What a router reports about itself (identity, version, board), kept as plain
/// text: at most `max` characters and no control characters, so it cannot break a
/// log line, a page or a script it is shown in.
fn reported_text(value: Option<&String>, max: usize) -> Result<Option<String>, String> {
    let Some(v) = value.map(|v| v.trim()).filter(|v| !v.is_empty()) else { return Ok(None) };
    if v.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".into());
    }
    Ok(Some(v.to_string()))
}

/// Step 1 of the wizard: a new router record.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CreateRouter {
    pub name: Input,
    /// `pppoe`, `hotspot` or `both` (the default).
    pub service_types: Input,
    /// A list, or names separated by commas; `ether2` by default.
    pub ethernet_ports: Input,
    pub anti_sharing: Input,
    pub nas_ip: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A change to a router record, including how to reach its API; only the fields
/// sent change.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RouterPatchRequest {
    pub name: Input,
    pub service_types: Input,
    pub anti_sharing: Input,
    pub api_host: Input,
    pub api_port: Input,
    pub api_tls: Input,
    pub api_tls_insecure: Input,
    pub api_username: Input,
    pub ethernet_ports: Input,
    /// Write-only: stored encrypted, never shown.
    pub api_password: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// The router as the API shows it: never its secrets, but whether an API password is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterView {
    #[serde(flatten)]
    pub router: Router,
    pub api_password_set: bool,
}

impl From<Router> for RouterView {
    fn from(r: Router) -> Self {
        RouterView { api_password_set: r.api_password_enc.is_some(), router: r }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterList {
    pub items: Vec<RouterView>,
    pub total: usize,
}

/// Step 2: the command to paste into the router's terminal, valid for an hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvisionCommand {
    pub command: String,
    pub expires_at: DateTime<Utc>,
    pub router_id: i64,
}

/// Step 3 has started; its log streams from `events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigureStarted {
    pub started: bool,
    pub events: String,
}

/// What a provisioned router reports about itself when it calls back (a form).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProvisionReport {
    pub identity: Option<String>,
    pub version: Option<String>,
    pub board: Option<String>,
}

/// The answer to a router's provisioning call back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProvisionDone {
    pub ok: bool,
}

/// What a health check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    pub online: bool,
    pub error: Option<String>,
}

impl App {
    fn router_env(&self) -> &RouterEnv {
        &self.router_env
    }

    /// Step 1: the router record. It gets its own RADIUS secret.
    pub async fn create_router(&self, s: &Session, req: CreateRouter) -> AppResult<RouterView> {
        s.require_write()?;
        let mut f = Fields::new(&req.unknown);
        let name = f.line("name", &req.name, 128);
        let name = f.required("name", name);
        let services =
            f.parsed("service_types", &req.service_types, parse_services).value().unwrap_or(ServiceType::Both);
        let ports = match &req.ethernet_ports {
            Input::Absent | Input::Null => None,
            v => Some(parse_ports(v)),
        };
        let anti_sharing = f.boolean("anti_sharing", &req.anti_sharing).value().unwrap_or(false);
        let nas_ip = f
            .parsed("nas_ip", &req.nas_ip, |v: &str| {
                v.parse::<std::net::IpAddr>()
                    .map(|ip| ip.to_string())
                    .map_err(|_| broadnet_domain::ParseError::new("must be an IP address"))
            })
            .value();
        let ports = match ports {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                f.error("ethernet_ports", e);
                Vec::new()
            }
            None => vec!["ether2".into()],
        };
        f.finish()?;
        let Some(name) = name else { return Err(AppError::Internal("name missing after validation".into())) };
        let now = self.now();
        let actor = s.actor(now);
        let id = self
            .store
            .create_router(
                &actor,
                NewRouter {
                    name,
                    nas_ip,
                    radius_secret: random_secret(24),
                    service_types: services,
                    require_message_authenticator: true,
                },
            )
            .await
            .map_err(AppError::from_store("router"))?;
        let patch = RouterPatch { bridge_ports: Some(ports), anti_sharing: Some(anti_sharing), ..Default::default() };
        let r = self.store.update_router(&actor, id, patch).await?;
        Ok(r.into())
    }

    pub async fn list_routers(&self) -> AppResult<RouterList> {
        let routers = self.store.list_routers().await?;
        let total = routers.len();
        Ok(RouterList { items: routers.into_iter().map(RouterView::from).collect(), total })
    }

    pub async fn get_router(&self, id: i64) -> AppResult<RouterView> {
        Ok(self.store.get_router(id).await.map_err(AppError::from_store("router"))?.into())
    }

    /// Edits the record, including how to reach the router's API (a port-forward, say).
    pub async fn update_router(&self, s: &Session, id: i64, req: RouterPatchRequest) -> AppResult<RouterView> {
        s.require_write()?;
        let allow_loopback = self.router_env().allow_loopback;
        let mut f = Fields::new(&req.unknown);
        let mut p = RouterPatch {
            name: f.line("name", &req.name, 128).value(),
            service_types: f.parsed("service_types", &req.service_types, parse_services).value(),
            anti_sharing: f.boolean("anti_sharing", &req.anti_sharing).value(),
            api_host: f.parsed("api_host", &req.api_host, |v: &str| parse_api_host(v, allow_loopback)).patch(),
            api_port: f.int("api_port", &req.api_port, 1, 65535).patch().map(|o| o.map(|v| v as i32)),
            api_tls: f.boolean("api_tls", &req.api_tls).value(),
            api_tls_insecure: f.boolean("api_tls_insecure", &req.api_tls_insecure).value(),
            api_username: f.text("api_username", &req.api_username, 64).patch(),
            ..Default::default()
        };
        if !matches!(req.ethernet_ports, Input::Absent | Input::Null) {
            match parse_ports(&req.ethernet_ports) {
                Ok(ports) => p.bridge_ports = Some(ports),
                Err(e) => f.error("ethernet_ports", e),
            }
        }
        let password = f.text("api_password", &req.api_password, 128).patch();
        f.finish()?;
        if let Some(pw) = password {
            p.api_password_enc = Some(pw.map(|pw| self.secrets.encrypt(&pw)));
        } else {
            // The stored password goes only where it was given for: pointing the router
            // at another address (or turning TLS off) forgets it, or anyone allowed to
            // edit a router could have it sent to a server of their choosing. A new port
            // on the same address stays with the router that owns that address.
            let current = self.store.get_router(id).await.map_err(AppError::from_store("router"))?;
            let moved = p.api_host.as_ref().is_some_and(|h| *h != current.api_host)
                || p.api_tls.is_some_and(|tls| !tls && current.api_tls);
            if moved && current.api_password_enc.is_some() {
                p.api_password_enc = Some(None);
            }
        }
        let r = self.store.update_router(&s.actor(self.now()), id, p).await.map_err(AppError::from_store("router"))?;
        Ok(r.into())
    }

    pub async fn delete_router(&self, s: &Session, id: i64) -> AppResult<()> {
        s.require_write()?;
        self.store.delete_router(&s.actor(self.now()), id).await.map_err(AppError::from_store("router"))
    }

    fn sign_provision(&self, payload: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.router_env().provision_secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(payload.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// `<router>.<jti>.<expiry>.<signature>`; the signature covers the rest.
    fn verify_provision(&self, token: &str) -> Option<(i64, String)> {
        let (body, sig) = token.rsplit_once('.')?;
        let want = self.sign_provision(body);
        use subtle::ConstantTimeEq;
        if !bool::from(sig.as_bytes().ct_eq(want.as_bytes())) {
            return None;
        }
        let mut parts = body.split('.');
        let router = parts.next()?.parse().ok()?;
        let jti = parts.next()?.to_string();
        Some((router, jti))
    }

    /// Step 2: the one-line command to paste into the MikroTik terminal.
    pub async fn provision_command(&self, s: &Session, id: i64) -> AppResult<ProvisionCommand> {
        s.require_write()?;
        let r = self.store.get_router(id).await.map_err(AppError::from_store("router"))?;
        let Some(base) = self.router_env().provision_base_url.clone() else {
            return Err(AppError::field("router", "set PROVISION_BASE_URL to the public URL of /provision first"));
        };
        let now = self.now();
        let expires = now + Duration::hours(1);
        let jti = random_secret(20);
        let body = format!("{}.{jti}.{}", r.id, expires.timestamp());
        let token = format!("{body}.{}", self.sign_provision(&body));
        self.store.create_provision_token(r.id, &jti, expires, now).await?;
        let base = base.trim_end_matches('/');
        let command = format!(
            "/tool fetch url=\"{base}/{token}.rsc\" dst-path=broadnet.rsc; :delay 2s; /import file-name=broadnet.rsc"
        );
        Ok(ProvisionCommand { command, expires_at: expires, router_id: r.id })
    }

    /// The script the router fetches. Never an error page: a router shows only what a
    /// script prints, so refusals are scripts that say what to do.
    pub async fn provision_script(&self, token: &str, caller: Option<String>) -> String {
        let say = |m: &str| format!(":put \"{m}\"\n:error \"{m}\"\n");
        let Some((router_id, jti)) = self.verify_provision(token) else {
            return say("invalid provisioning token: click Generate Command again");
        };
        let now = self.now();
        let used = match self.store.use_provision_token(&jti, now, caller.as_deref()).await {
            Ok(Ok(id)) if id == router_id => id,
            Ok(Ok(_)) | Ok(Err(TokenRefusal::Unknown)) => {
                return say("invalid provisioning token: click Generate Command again");
            }
            Ok(Err(TokenRefusal::Expired)) => return say("token expired: click Generate Command again"),
            Ok(Err(
                TokenRefusal::Used | TokenRefusal::NotFetched | TokenRefusal::CalledBack | TokenRefusal::WrongAddress,
            )) => {
                return say("token already used: click Generate Command again");
            }
            Err(e) => {
                tracing::error!(error = %e, "provisioning token lookup failed");
                return say("the billing server had an error; try again in a minute");
            }
        };
        let password = random_secret(24);
        let actor = broadnet_store::Actor::system("provision", now);
        let patch = RouterPatch {
            api_username: Some(Some("broadnet-api".into())),
            api_password_enc: Some(Some(self.secrets.encrypt(&password))),
            ..Default::default()
        };
        if let Err(e) = self.store.update_router(&actor, used, patch).await {
            tracing::error!(error = %e, "cannot store the router's API credentials");
            return say("the billing server had an error; try again in a minute");
        }
        tracing::info!(router = used, from = ?caller, "provisioning script served");
        let base = self.router_env().provision_base_url.clone().unwrap_or_default();
        let callback = format!("{}/{token}/callback", base.trim_end_matches('/'));
        format!(
            "# BroadNet provisioning: an API user for the billing server, the API service on,\n\
             # then a call back with this router's identity, version and board.\n\
             /user remove [find name=\"broadnet-api\"]\n\
             /user add name=broadnet-api group=full password=\"{password}\" comment={TAG}\n\
             /ip service set api disabled=no port=8728\n\
             /tool fetch url=\"{callback}\" http-method=post http-header-field=\"Content-Type: application/x-www-form-urlencoded\" \
             http-data=(\"identity=\" . [/system identity get name] . \"&version=\" . [/system resource get version] . \"&board=\" . [/system resource get board-name] . \"&username=broadnet-api\") output=none\n\
             :put \"BroadNet: router provisioned; continue in the dashboard\"\n"
        )
    }

    /// The provisioned router calls back: Unprovisioned → Provisioned, and its address
    /// becomes where we reach its API and where its RADIUS comes from.
    pub async fn provision_callback(
        &self,
        token: &str,
        report: &ProvisionReport,
        from: &str,
    ) -> AppResult<ProvisionDone> {
        let Some((router_id, jti)) = self.verify_provision(token) else {
            return Err(AppError::NotFound("provisioning token"));
        };
        // Checked before the token is spent, so a router that reports something odd
        // can be fixed and call back again.
        let mut errors = crate::FieldErrors::new();
        let mut reported = |k: &str, v: &Option<String>, max: usize| match reported_text(v.as_ref(), max) {
            Ok(v) => v,
            Err(e) => {
                errors.insert(k.to_string(), vec![e]);
                None
            }
        };
        let (identity, version, board) = (
            reported("identity", &report.identity, 128),
            reported("version", &report.version, 32),
            reported("board", &report.board, 64),
        );
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let ip: Option<String> = from.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string());
        // Once, from the address that fetched the script (the token was used within
        // its hour by that address): a replay, or anyone else holding the token, is
        // refused without changing anything.
        match self.store.callback_provision_token(&jti, self.now(), from).await? {
            Ok(id) if id == router_id => {}
            Ok(_) | Err(TokenRefusal::Unknown | TokenRefusal::Expired | TokenRefusal::NotFetched) => {
                return Err(AppError::NotFound("provisioning token"));
            }
            Err(TokenRefusal::Used | TokenRefusal::CalledBack) => {
                return Err(AppError::InUse("this provisioning token has already been called back".into()));
            }
            Err(TokenRefusal::WrongAddress) => {
                tracing::warn!(router = router_id, from = ?from, "provisioning callback from another address than the script's; refused");
                return Err(AppError::Forbidden("call back from the router that fetched the script"));
            }
        }
        let r = self.store.get_router(router_id).await.map_err(AppError::from_store("router"))?;
        let patch = RouterPatch {
            state: Some(if r.state == RouterState::Unprovisioned { RouterState::Provisioned } else { r.state }),
            identity: Some(identity),
            ros_version: Some(version),
            board: Some(board),
            nas_ip: r.nas_ip.is_none().then(|| ip.clone()),
            api_host: Some(r.api_host.clone().or(ip)),
            ..Default::default()
        };
        let actor = broadnet_store::Actor::system("provision", self.now());
        let r = self.store.update_router(&actor, router_id, patch).await?;
        tracing::info!(router = r.id, identity = ?r.identity, version = ?r.ros_version, "router provisioned");
        Ok(ProvisionDone { ok: true })
    }

    async fn connect_router(&self, r: &Router) -> Result<Client, String> {
        let host =
            r.api_host.clone().or(r.nas_ip.clone()).ok_or("the router has no address yet; provision it first")?;
        let user = r.api_username.clone().ok_or("the router has no API user yet; provision it first")?;
        let pw = match &r.api_password_enc {
            Some(enc) => self.secrets.decrypt(enc).map_err(|e| format!("cannot decrypt the API password: {e}"))?,
            None => return Err("the router has no API password yet; provision it first".into()),
        };
        let port = r.api_port.map(|p| p as u16).unwrap_or(if r.api_tls { 8729 } else { 8728 });
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut opts = ConnectOptions::new(addr, user, pw).with_timeout(std::time::Duration::from_secs(10));
        if r.api_tls {
            opts = opts.with_tls(r.api_tls_insecure);
        }
        Client::connect(opts).await.map_err(|e| e.to_string())
    }

    /// Step 3: configure services. Runs in the background; the log is at
    /// `configure/events`. Safe to re-run: every entry is found by its comment tag.
    pub async fn configure_router(&self, s: &Session, id: i64) -> AppResult<ConfigureStarted> {
        s.require_write()?;
        let r = self.store.get_router(id).await.map_err(AppError::from_store("router"))?;
        if r.state == RouterState::Unprovisioned {
            return Err(AppError::field("router", "provision the router first (step 2)"));
        }
        self.config_log.start(id)?;
        let actor = s.actor(self.now());
        let app = self.clone();
        tokio::spawn(async move { app.run_configuration(r, actor).await });
        Ok(ConfigureStarted { started: true, events: format!("/api/routers/{id}/configure/events") })
    }

    async fn run_configuration(&self, r: Router, actor: broadnet_store::Actor) {
        let id = r.id;
        let emit = |step: &str, status: &str, detail: String| {
            self.config_log.emit(id, ConfigEvent { step: step.into(), status: status.into(), detail })
        };
        let _ = self
            .store
            .update_router(&actor, id, RouterPatch { state: Some(RouterState::Configuring), ..Default::default() })
            .await;
        emit("connect", "started", "connecting to the RouterOS API".into());
        let client = match self.connect_router(&r).await {
            Ok(c) => {
                emit("connect", "ok", format!("connected to {}", c.peer()));
                c
            }
            Err(e) => {
                emit("connect", "failed", e);
                self.finish_configuration(&actor, id, false).await;
                return;
            }
        };
        let mut ok = true;
        for step in self.configuration_steps(&r) {
            emit(&step.name, "started", step.describe());
            match step.apply(&client).await {
                Ok(detail) => emit(&step.name, "ok", detail),
                Err(e) => {
                    let msg = match &e {
                        RosError::Trap { message, .. } => format!("router refused: {message}"),
                        other => other.to_string(),
                    };
                    emit(&step.name, "failed", msg);
                    ok = false;
                    break;
                }
            }
        }
        client.close();
        self.finish_configuration(&actor, id, ok).await;
    }

    async fn finish_configuration(&self, actor: &broadnet_store::Actor, id: i64, ok: bool) {
        let state = if ok { RouterState::Configured } else { RouterState::Partial };
        // The result must land, or the router stays "configuring" for good: a busy
        // database (SQLite under load, a deadlock victim) is asked again.
        for attempt in 1..=5u64 {
            match self.store.update_router(actor, id, RouterPatch { state: Some(state), ..Default::default() }).await {
                Ok(_) => break,
                Err(e) if e.is_retryable() && attempt < 5 => {
                    tracing::warn!(router = id, error = %e, attempt, "recording the configuration result: retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => {
                    tracing::error!(router = id, error = %e, "cannot record the configuration result");
                    break;
                }
            }
        }
        self.config_log.emit(
            id,
            ConfigEvent {
                step: "finish".into(),
                status: "done".into(),
                detail: if ok {
                    "configured".into()
                } else {
                    "partially configured: fix the failed step and run again".into()
                },
            },
        );
    }

    /// Every element of the configuration, in order (reference §10 and the seed's list).
    fn configuration_steps(&self, r: &Router) -> Vec<Step> {
        let env = self.router_env();
        let gw_cidr = env.bridge_gateway.clone();
        let gw = gw_cidr.split('/').next().unwrap_or("10.10.10.1").to_string();
        let network = network_of(&gw_cidr).unwrap_or_else(|| "10.10.10.0/24".into());
        let server = env.radius_ip.clone().unwrap_or_else(|| "127.0.0.1".into());
        let portal_host =
            url::Url::parse(&env.public_url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let mut radius = vec![
            ("address", server.as_str()),
            ("secret", r.radius_secret.as_str()),
            ("service", "ppp,hotspot"),
            ("timeout", "3s"),
        ];
        let (auth_port, acct_port) = (env.auth_port.to_string(), env.acct_port.to_string());
        if env.auth_port != 0 && env.auth_port != 1812 {
            radius.push(("authentication-port", &auth_port));
        }
        if env.acct_port != 0 && env.acct_port != 1813 {
            radius.push(("accounting-port", &acct_port));
        }
        let mut steps = vec![Step::item("bridge", "/interface/bridge", "broadnet:bridge", &[("name", BRIDGE)])];
        for p in &r.bridge_ports {
            steps.push(Step::item(
                &format!("bridge port {p}"),
                "/interface/bridge/port",
                &format!("broadnet:port:{p}"),
                &[("bridge", BRIDGE), ("interface", p)],
            ));
        }
        steps.extend([
            Step::item(
                "gateway address",
                "/ip/address",
                "broadnet:address",
                &[("address", &gw_cidr), ("interface", BRIDGE)],
            ),
            Step::item(
                "DHCP pool",
                "/ip/pool",
                "broadnet:pool",
                &[("name", "bn-pool"), ("ranges", &format!("{}-{}", env.dhcp_range.0, env.dhcp_range.1))],
            ),
            Step::item(
                "DHCP server",
                "/ip/dhcp-server",
                "broadnet:dhcp",
                &[
                    ("name", "bn-dhcp"),
                    ("interface", BRIDGE),
                    ("address-pool", "bn-pool"),
                    ("lease-time", "1h"),
                    ("disabled", "no"),
                ],
            ),
            Step::item(
                "DHCP network",
                "/ip/dhcp-server/network",
                "broadnet:dhcp-network",
                &[("address", &network), ("gateway", &gw), ("dns-server", &gw)],
            ),
            Step::item("RADIUS client", "/radius", "broadnet:radius", &radius),
            Step::settings(
                "RADIUS incoming (CoA/Disconnect)",
                "/radius/incoming",
                &[("accept", "yes"), ("port", &env.coa_port.to_string())],
            ),
        ]);
        if matches!(r.service_types, ServiceType::Pppoe | ServiceType::Both) {
            steps.extend([
                Step::item(
                    "PPPoE pool",
                    "/ip/pool",
                    "broadnet:pppoe-pool",
                    &[("name", "bn-pppoe-pool"), ("ranges", "10.20.0.2-10.20.255.254")],
                ),
                Step::item(
                    "PPPoE profile",
                    "/ppp/profile",
                    "broadnet:pppoe-profile",
                    &[
                        ("name", "bn-pppoe"),
                        ("local-address", "10.20.0.1"),
                        ("remote-address", "bn-pppoe-pool"),
                        ("dns-server", "10.20.0.1"),
                        ("change-tcp-mss", "yes"),
                    ],
                ),
                Step::settings(
                    "PPP uses RADIUS",
                    "/ppp/aaa",
                    &[("use-radius", "yes"), ("accounting", "yes"), ("interim-update", "5m")],
                ),
                Step::item(
                    "PPPoE server",
                    "/interface/pppoe-server/server",
                    "broadnet:pppoe",
                    &[
                        ("service-name", "broadnet"),
                        ("interface", BRIDGE),
                        ("default-profile", "bn-pppoe"),
                        ("authentication", "pap,chap,mschap1,mschap2"),
                        ("one-session-per-host", "yes"),
                        ("disabled", "no"),
                    ],
                ),
            ]);
        }
        if matches!(r.service_types, ServiceType::Hotspot | ServiceType::Both) {
            steps.extend([
                Step::item(
                    "hotspot profile",
                    "/ip/hotspot/profile",
                    "broadnet:hotspot-profile",
                    &[
                        ("name", "bn-hsprof"),
                        ("hotspot-address", &gw),
                        // `mac`: a returning phone whose MAC is bound to a live entitlement is let in
                        // at once (the RADIUS server checks User-Name = User-Password = the MAC)
                        ("login-by", "mac,http-chap,http-pap,mac-cookie"),
                        ("mac-auth-mode", "mac-as-username-and-password"),
                        ("use-radius", "yes"),
                        ("radius-accounting", "yes"),
                        ("radius-interim-update", "received"),
                    ],
                ),
                Step::item(
                    "hotspot server",
                    "/ip/hotspot",
                    "broadnet:hotspot",
                    &[
                        ("name", "bn-hotspot"),
                        ("interface", BRIDGE),
                        ("address-pool", "bn-pool"),
                        ("profile", "bn-hsprof"),
                        ("disabled", "no"),
                    ],
                ),
                Step {
                    name: "hotspot login page".into(),
                    menu: "/ip/hotspot/profile",
                    kind: StepKind::LoginPage(format!(
                        "{}/hotspot/login.html",
                        env.provision_base_url.clone().unwrap_or_default().trim_end_matches('/')
                    )),
                    attrs: Vec::new(),
                },
                Step::item(
                    "walled garden (portal)",
                    "/ip/hotspot/walled-garden",
                    "broadnet:walled-garden",
                    &[("dst-host", &portal_host), ("action", "allow")],
                ),
                Step::item(
                    "walled garden (server IP)",
                    "/ip/hotspot/walled-garden/ip",
                    "broadnet:walled-garden-ip",
                    &[("dst-address", &server), ("action", "accept")],
                ),
            ]);
        }
        steps.extend([
            Step::item(
                "NAT",
                "/ip/firewall/nat",
                "broadnet:nat",
                &[("chain", "srcnat"), ("out-interface", "ether1"), ("action", "masquerade")],
            ),
            Step::item(
                "firewall: established",
                "/ip/firewall/filter",
                "broadnet:fw-established",
                &[("chain", "input"), ("connection-state", "established,related"), ("action", "accept")],
            ),
            Step::item(
                "firewall: CoA from the billing server",
                "/ip/firewall/filter",
                "broadnet:fw-coa",
                &[
                    ("chain", "input"),
                    ("protocol", "udp"),
                    ("dst-port", &env.coa_port.to_string()),
                    ("src-address", &server),
                    ("action", "accept"),
                ],
            ),
            Step::item(
                "firewall: API from the billing server",
                "/ip/firewall/filter",
                "broadnet:fw-api",
                &[
                    ("chain", "input"),
                    ("protocol", "tcp"),
                    ("dst-port", "8728,8729"),
                    ("src-address", &server),
                    ("action", "accept"),
                ],
            ),
        ]);
        let ttl = [
            ("chain", "postrouting"),
            ("out-interface", BRIDGE),
            ("action", "change-ttl"),
            ("new-ttl", "set:1"),
            ("passthrough", "yes"),
        ];
        steps.push(if r.anti_sharing {
            Step::item("anti-sharing (TTL=1 to clients)", "/ip/firewall/mangle", "broadnet:ttl", &ttl)
        } else {
            Step::absent("anti-sharing off", "/ip/firewall/mangle", "broadnet:ttl")
        });
        steps
    }

    /// Polls one router's health; an unreachable one is flagged offline.
    pub async fn poll_router(&self, r: &Router) -> AppResult<RouterHealth> {
        let now = self.now();
        let health = match self.connect_router(r).await {
            Ok(c) => {
                let res = async {
                    let res = c.system_resource().await?;
                    let (ppp, hs) = c.active_counts().await?;
                    Ok::<_, RosError>((res, ppp, hs))
                }
                .await;
                c.close();
                match res {
                    Ok((res, ppp, hs)) => RouterHealth {
                        online: true,
                        at: now,
                        uptime_secs: broadnet_routeros::parse_uptime(&res.uptime).map(|d| d.as_secs() as i64),
                        cpu_load: Some(res.cpu_load as i32),
                        free_memory: Some(res.free_memory as i64),
                        total_memory: Some(res.total_memory as i64),
                        ros_version: reported_text(Some(&res.version), 32).ok().flatten(),
                        active_pppoe: Some(ppp as i32),
                        active_hotspot: Some(hs as i32),
                        error: None,
                    },
                    Err(e) => RouterHealth { online: false, at: now, error: Some(e.to_string()), ..Default::default() },
                }
            }
            Err(e) => RouterHealth { online: false, at: now, error: Some(e), ..Default::default() },
        };
        if !health.online && r.online {
            tracing::warn!(router = ?r.name, error = ?health.error, "router went offline");
        }
        self.store.record_router_health(r.id, health.clone()).await?;
        Ok(health)
    }

    /// The monitoring job: every provisioned router, one poll each.
    pub async fn run_router_monitor(&self) -> AppResult<usize> {
        let routers = self.store.list_routers().await?;
        // Sixteen at a time: an offline router costs a connect timeout, and a run must
        // fit well inside the job's lease.
        let mut set = tokio::task::JoinSet::new();
        let mut n = 0;
        for r in routers.into_iter().filter(|r| r.state != RouterState::Unprovisioned && r.api_password_enc.is_some()) {
            if set.len() >= 16 {
                set.join_next().await;
            }
            let app = self.clone();
            set.spawn(async move {
                if let Err(e) = app.poll_router(&r).await {
                    tracing::error!(router = r.id, error = %e, "cannot record router health");
                }
            });
            n += 1;
        }
        while set.join_next().await.is_some() {}
        Ok(n)
    }

    /// An admin's health check now (a write: it records what it finds). The
    /// monitoring job polls without a session through [`App::poll_router`].
    pub async fn router_health(&self, s: &Session, id: i64) -> AppResult<HealthCheck> {
        s.require_write()?;
        let r = self.store.get_router(id).await.map_err(AppError::from_store("router"))?;
        let h = self.poll_router(&r).await?;
        Ok(HealthCheck { online: h.online, error: h.error })
    }
}

fn network_of(cidr: &str) -> Option<String> {
    let (ip, len) = cidr.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some(format!("{}/{len}", std::net::Ipv4Addr::from(u32::from(ip) & mask)))
}

/// One element of the configuration.
struct Step {
    name: String,
    menu: &'static str,
    kind: StepKind,
    attrs: Vec<(String, String)>,
}

enum StepKind {
    /// A list entry found by its comment tag: added, or updated where it differs.
    Item(String),
    /// A settings menu: set where it differs.
    Settings,
    /// No entry with this tag may exist (a feature turned off).
    Absent(String),
    /// Our `login.html` fetched by the router from this URL into the hotspot profile's
    /// HTML directory, replacing only that file (md5.js and the rest stay).
    LoginPage(String),
}

impl Step {
    fn item(name: &str, menu: &'static str, tag: &str, attrs: &[(&str, &str)]) -> Step {
        Step { name: name.into(), menu, kind: StepKind::Item(tag.into()), attrs: own(attrs) }
    }
    fn settings(name: &str, menu: &'static str, attrs: &[(&str, &str)]) -> Step {
        Step { name: name.into(), menu, kind: StepKind::Settings, attrs: own(attrs) }
    }
    fn absent(name: &str, menu: &'static str, tag: &str) -> Step {
        Step { name: name.into(), menu, kind: StepKind::Absent(tag.into()), attrs: Vec::new() }
    }

    fn describe(&self) -> String {
        if let StepKind::LoginPage(url) = &self.kind {
            return format!("/tool fetch url={url}");
        }
        let shown: Vec<String> = self
            .attrs
            .iter()
            .map(|(k, v)| if k == "secret" { format!("{k}=(secret)") } else { format!("{k}={v}") })
            .collect();
        format!("{} {}", self.menu, shown.join(" "))
    }

    async fn apply(&self, c: &Client) -> Result<String, RosError> {
        let attrs: Vec<(&str, &str)> = self.attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        match &self.kind {
            StepKind::Item(tag) => Ok(match c.ensure(self.menu, tag, &attrs).await? {
                broadnet_routeros::Ensured::Added(id) => format!("added {id}"),
                broadnet_routeros::Ensured::Updated(id) => format!("updated {id}"),
                broadnet_routeros::Ensured::Unchanged(id) => format!("already in place ({id})"),
            }),
            StepKind::Settings => {
                Ok(if c.ensure_settings(self.menu, &attrs).await? { "set".into() } else { "already in place".into() })
            }
            StepKind::LoginPage(url) => {
                let dir = c
                    .find_one(self.menu, &[("name", "bn-hsprof")])
                    .await?
                    .and_then(|p| p.get("html-directory").cloned())
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| "hotspot".into());
                let dst = format!("{}/login.html", dir.trim_end_matches('/'));
                c.run(&["/tool/fetch".to_string(), format!("=url={url}"), format!("=dst-path={dst}")]).await?;
                Ok(format!("{dst} fetched from {url}"))
            }
            StepKind::Absent(tag) => match c.find_by_comment(self.menu, tag).await? {
                Some(row) => {
                    let id = row.get(".id").cloned().unwrap_or_default();
                    c.remove(self.menu, &id).await?;
                    Ok(format!("removed {id}"))
                }
                None => Ok("nothing to remove".into()),
            },
        }
    }
}

fn own(attrs: &[(&str, &str)]) -> Vec<(String, String)> {
    attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The hotspot `login.html` routers download (reference §7.4): it hands the phone to our
/// portal at once, a POST of what the router knows about it (`mac`, `ip`, `username`,
/// `link-login-only`, `link-orig`, the CHAP id and challenge turned into hex, `identity`,
/// `error`), with a "Continue" button where JavaScript is off. Below it, the router's own
/// login form (CHAP through the router's md5.js, else PAP) still takes a username or a
/// voucher code.
pub fn hotspot_login_page(isp: &str, portal: &str) -> String {
    let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let (isp, portal) = (esc(isp), esc(portal.trim_end_matches('/')));
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{isp} WiFi</title></head><body onload="toPortal()">
<h1>{isp}</h1>
<form name="portal" action="{portal}/hotspot" method="post">
  <input type="hidden" name="mac" value="$(mac)"/><input type="hidden" name="ip" value="$(ip)"/>
  <input type="hidden" name="username" value="$(username)"/>
  <input type="hidden" name="link-login-only" value="$(link-login-only)"/>
  <input type="hidden" name="link-orig" value="$(link-orig)"/>
  <input type="hidden" name="chap-id" value=""/><input type="hidden" name="chap-challenge" value=""/>
  <input type="hidden" name="identity" value="$(identity)"/><input type="hidden" name="error" value="$(error)"/>
  <input type="submit" value="Continue"/>
</form>
<script>
function hx(s) {{
  var o = '';
  for (var i = 0; i < s.length; i++) {{ o += ('0' + s.charCodeAt(i).toString(16)).slice(-2); }}
  return o;
}}
function toPortal() {{
  var f = document.portal.elements;
  f['chap-id'].value = hx('$(chap-id)');
  f['chap-challenge'].value = hx('$(chap-challenge)');
  document.portal.submit();
}}
</script>
$(if chap-id)
<form name="sendin" action="$(link-login-only)" method="post" style="display:none">
  <input type="hidden" name="username"/><input type="hidden" name="password"/>
  <input type="hidden" name="dst" value="$(link-orig)"/><input type="hidden" name="popup" value="true"/>
</form>
<script src="/md5.js"></script>
<script>
function doLogin() {{
  document.sendin.username.value = document.login.username.value;
  document.sendin.password.value = hexMD5('$(chap-id)' + document.login.password.value + '$(chap-challenge)');
  document.sendin.submit();
  return false;
}}
</script>
$(endif)
<p>Or log in with a username or voucher:</p>
<form name="login" action="$(link-login-only)" method="post" $(if chap-id)onSubmit="return doLogin()"$(endif)>
  <input type="hidden" name="dst" value="$(link-orig)"/><input type="hidden" name="popup" value="true"/>
  <label>Username or voucher <input name="username" value="$(username)" autocomplete="username"/></label>
  <label>Password <input name="password" type="password" autocomplete="current-password"/></label>
  <input type="submit" value="Log in"/>
</form>
$(if error)<p class="error">$(error)</p>$(endif)
</body></html>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_host_refuses_loopback_unless_allowed() {
        for host in ["127.0.0.1", "::1", "[::1]", "::ffff:127.0.0.1", "localhost", "a.localhost", "127.1"] {
            assert!(parse_api_host(host, false).is_err(), "{host}");
        }
        assert_eq!(parse_api_host("127.0.0.1", true).ok().as_deref(), Some("127.0.0.1"));
        assert_eq!(parse_api_host("[2001:db8::1]", false).ok().as_deref(), Some("2001:db8::1"));
        for host in ["169.254.169.254", "fe80::1", "::ffff:169.254.169.254", "0.0.0.0", "::", "224.0.0.1"] {
            assert!(parse_api_host(host, true).is_err(), "{host}");
        }
    }

    #[test]
    fn reported_text_is_plain_and_short() {
        let v = |s: &str| s.to_string();
        assert_eq!(reported_text(Some(&v(" MikroTik ")), 10), Ok(Some(v("MikroTik"))));
        assert_eq!(reported_text(Some(&v("")), 10), Ok(None));
        assert!(reported_text(Some(&v("a\u{1b}[31m")), 10).is_err());
        assert!(reported_text(Some(&v("a\nb")), 10).is_err());
        assert!(reported_text(Some(&v("x".repeat(11).as_str())), 10).is_err());
    }
}
