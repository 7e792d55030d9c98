//! The hotspot's web front (reference §7.2–§7.3): each simulated phone ([`HotspotDevice`]) gets an HTTP
//! listener of its own, so every request on it comes from that MAC and IP, and the servlet answers it like
//! RouterOS does: MAC login, `login.html` from the `/file` store with its variables, `/login` (CHAP or PAP
//! through the NAS to RADIUS), `/status`, `/logout`, and the other files of the HTML directory.

mod page;

use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use broadnet_radius::Packet;
use broadnet_radius::dict::attr;
use tokio_util::sync::DropGuard;

use super::model::{Attrs, format_uptime};
use super::nas::{self, Auth, Credentials, DEFAULT_MAC_FORMAT, LoginError, NasSession, format_mac};
use super::{ActiveKind, RouterSim, lock};

/// The router's own servlet files: copied into `hotspot/` of the `/file` store when the router is new, and
/// served from here when the HTML directory has no such file.
pub(crate) const BUILT_IN: &[(&str, &str)] = &[
    ("login.html", include_str!("files/login.html")),
    ("status.html", include_str!("files/status.html")),
    ("logout.html", include_str!("files/logout.html")),
    ("md5.js", include_str!("files/md5.js")),
];

// The messages of RouterOS's default `errors.txt`.
const ERR_INVALID: &str = "invalid username or password";
const ERR_CHAP_MISSING: &str = "web browser did not send challenge response (try refreshing login page)";
const ERR_RADIUS_TIMEOUT: &str = "RADIUS server is not responding";
const ERR_IN_PROGRESS: &str = "already authorizing, retry later";

/// The first enabled `/ip/hotspot` server and its profile, as configured now.
struct Hotspot {
    server: Attrs,
    profile: Attrs,
}

impl Hotspot {
    fn load(sim: &RouterSim) -> Option<Hotspot> {
        let state = sim.state();
        let server =
            state.model.entries("/ip/hotspot").into_iter().find(|s| s.get("disabled").is_none_or(|d| d != "true"))?;
        let name = server.get("profile").cloned().unwrap_or_else(|| "default".into());
        let profile = state.model.entries("/ip/hotspot/profile").into_iter().find(|p| p.get("name") == Some(&name))?;
        Some(Hotspot { server, profile })
    }

    fn get(&self, key: &str) -> &str {
        self.profile.get(key).map_or("", String::as_str)
    }

    /// Does the profile's `login-by` include `method`?
    fn allows(&self, method: &str) -> bool {
        self.profile.get("login-by").map_or("cookie,http-chap", String::as_str).split(',').any(|m| m.trim() == method)
    }

    /// Where the servlet's files live: `html-directory-override` when set, else `html-directory`.
    fn html_directory(&self) -> String {
        let dir = [self.get("html-directory-override"), self.get("html-directory")]
            .into_iter()
            .find(|d| !d.is_empty())
            .unwrap_or("hotspot");
        dir.trim_matches('/').to_owned()
    }

    fn server_name(&self) -> &str {
        self.server.get("name").map_or("hotspot1", String::as_str)
    }

    /// `dns-name` when set, else `hotspot-address`: the name the router's own links would use.
    fn hostname(&self) -> &str {
        let dns = self.get("dns-name");
        if dns.is_empty() { self.get("hotspot-address") } else { dns }
    }
}

#[derive(Debug, Default)]
struct DeviceState {
    /// The CHAP ident and challenge of the last login page shown to the device.
    chap: Option<(u8, [u8; 16])>,
    /// MAC login was tried since the device appeared or its last session ended.
    mac_tried: bool,
    /// A login is under way (a second one gets "already authorizing").
    authorizing: bool,
    session: Option<NasSession>,
}

#[derive(Debug)]
struct Device {
    sim: RouterSim,
    /// `AA:BB:CC:DD:EE:FF`.
    mac: String,
    ip: Ipv4Addr,
    /// `http://127.0.0.1:<port>`, where the device's requests reach the servlet.
    base: String,
    state: Mutex<DeviceState>,
}

impl Device {
    /// The device's session while it lasts. One ended elsewhere (Disconnect-Request, removed through the
    /// API) is forgotten, and the next page view tries MAC login again, as after a logout.
    fn session(&self) -> Option<NasSession> {
        let mut state = lock(&self.state);
        let active = state.session.as_ref().map(NasSession::is_active)?;
        if active {
            return state.session.clone();
        }
        state.session = None;
        state.mac_tried = false;
        None
    }

    fn link_login(&self, dst: &str) -> String {
        if dst.is_empty() {
            return format!("{}/login", self.base);
        }
        let dst: String = url::form_urlencoded::byte_serialize(dst.as_bytes()).collect();
        format!("{}/login?dst={dst}", self.base)
    }

    /// A file of the HTML directory from the `/file` store, else the built-in one.
    fn file(&self, hotspot: &Hotspot, name: &str) -> Option<String> {
        let path = format!("{}/{name}", hotspot.html_directory());
        self.sim
            .file_text(&path)
            .or_else(|| BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, text)| (*text).to_owned()))
    }

    /// The variables every page has (reference §7.3).
    fn vars(&self, hotspot: &Hotspot, dst: &str) -> BTreeMap<String, String> {
        let identity = self
            .sim
            .entries("/system/identity")
            .into_iter()
            .next()
            .and_then(|r| r.get("name").cloned())
            .unwrap_or_default();
        let mut vars = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            vars.insert(k.to_owned(), v);
        };
        put("mac", self.mac.clone());
        put("ip", self.ip.to_string());
        put("host-ip", self.ip.to_string());
        put("identity", identity);
        put("server-name", hotspot.server_name().to_owned());
        put("interface-name", hotspot.server.get("interface").cloned().unwrap_or_default());
        put("hostname", hotspot.hostname().to_owned());
        put("server-address", hotspot.get("hotspot-address").to_owned());
        put("link-login", self.link_login(dst));
        put("link-login-only", format!("{}/login", self.base));
        put("link-orig", dst.to_owned());
        put("link-redirect", dst.to_owned());
        put("link-status", format!("{}/status", self.base));
        put("link-logout", format!("{}/logout", self.base));
        put("plain-passwd", if hotspot.allows("http-pap") { "yes" } else { "no" }.to_owned());
        put("ssl-login", "no".to_owned());
        put("logged-in", "no".to_owned());
        vars
    }

    /// The status-page variables of a live session (uptime, time and data left, counters, reply
    /// attributes as `$(radius<id>)`).
    fn session_vars(&self, session: &NasSession, vars: &mut BTreeMap<String, String>) {
        let uptime = session.uptime().unwrap_or_default();
        let (octets_in, octets_out) = session.octets().unwrap_or_default();
        let mut put = |k: &str, v: String| {
            vars.insert(k.to_owned(), v);
        };
        put("logged-in", "yes".to_owned());
        put("username", session.user().to_owned());
        put("user", session.user().to_owned());
        put("login-by", session.login_by().to_owned());
        put("uptime", format_uptime(uptime.as_secs()));
        put("uptime-secs", uptime.as_secs().to_string());
        put("bytes-in", octets_in.to_string());
        put("bytes-out", octets_out.to_string());
        put("bytes-in-nice", nice_bytes(octets_in));
        put("bytes-out-nice", nice_bytes(octets_out));
        if let Some(timeout) = session.session_timeout() {
            let left = Duration::from_secs(u64::from(timeout)).saturating_sub(uptime);
            put("session-timeout", format_uptime(u64::from(timeout)));
            put("session-time-left", format_uptime(left.as_secs()));
            put("session-time-left-secs", left.as_secs().to_string());
        }
        if let Some(total) = session.total_limit() {
            let left = total.saturating_sub(octets_in.saturating_add(octets_out));
            put("limit-bytes-total", total.to_string());
            put("remain-bytes-total", left.to_string());
        }
        if let Some(reply) = session.reply() {
            radius_vars(reply, vars);
        }
    }
}

/// `$(radius<id>)` (text), `$(radius<id>u)` (integer) and `$(radius<id>-<vendor>)` from a reply.
fn radius_vars(reply: &Packet, vars: &mut BTreeMap<String, String>) {
    let mut put = |name: String, value: &[u8]| {
        if let Ok(int) = <[u8; 4]>::try_from(value) {
            vars.entry(format!("{name}u")).or_insert_with(|| u32::from_be_bytes(int).to_string());
        }
        vars.entry(name).or_insert_with(|| String::from_utf8_lossy(value).into_owned());
    };
    for avp in &reply.attrs {
        if avp.typ == attr::VENDOR_SPECIFIC {
            for (vendor, typ, value) in avp.vendor_parts() {
                put(format!("radius{typ}-{vendor}"), value);
            }
        } else if avp.typ != attr::MESSAGE_AUTHENTICATOR {
            put(format!("radius{}", avp.typ), &avp.value);
        }
    }
}

/// `1.5 MiB`, like the status page's `-nice` counters.
fn nice_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A phone on the hotspot ([`RouterSim::hotspot_device`]). Every request on [`HotspotDevice::base_url`]
/// comes "from" its MAC and IP. Cheap to clone; the listener stops when the last clone is dropped or the
/// router shuts down.
#[derive(Clone)]
pub struct HotspotDevice {
    device: Arc<Device>,
    _stop: Arc<DropGuard>,
}

impl std::fmt::Debug for HotspotDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotspotDevice")
            .field("mac", &self.device.mac)
            .field("ip", &self.device.ip)
            .field("base", &self.device.base)
            .finish()
    }
}

impl HotspotDevice {
    /// The device's MAC, `AA:BB:CC:DD:EE:FF`.
    pub fn mac(&self) -> &str {
        &self.device.mac
    }

    /// The device's address on the hotspot network.
    pub fn ip(&self) -> Ipv4Addr {
        self.device.ip
    }

    /// `http://127.0.0.1:<port>`: the router as this device reaches it. Paths the servlet does not own
    /// stand for the Internet: redirected to the login page before login, an "online" page after.
    pub fn base_url(&self) -> &str {
        &self.device.base
    }

    /// `$(link-login)`: `<base>/login?dst=<dst, URL-escaped>` (just `<base>/login` for an empty `dst`),
    /// where a captive browser lands after asking for `dst`.
    pub fn login_url(&self, dst: &str) -> String {
        self.device.link_login(dst)
    }

    /// `$(link-status)`.
    pub fn status_url(&self) -> String {
        format!("{}/status", self.device.base)
    }

    /// `$(link-logout)`.
    pub fn logout_url(&self) -> String {
        format!("{}/logout", self.device.base)
    }

    /// The device's hotspot session while it is up: user, limits received, reply; `None` before login and
    /// after a logout, a Disconnect-Request or a removal through the API.
    pub fn session(&self) -> Option<NasSession> {
        self.device.session()
    }

    /// Who the device is logged in as.
    pub fn logged_in_user(&self) -> Option<String> {
        self.session().map(|s| s.user().to_owned())
    }

    /// The CHAP ident and challenge of the last login page this device was shown (what `$(chap-id)` and
    /// `$(chap-challenge)` held); `None` before one was shown, after a login used it, or without
    /// `http-chap`.
    pub fn chap_challenge(&self) -> Option<(u8, [u8; 16])> {
        lock(&self.device.state).chap
    }

    /// The device used `octets_in` / `octets_out` so far: Accounting-Request Interim-Update (see
    /// [`NasSession::interim`]). [`LoginError::NotActive`] when not logged in.
    pub async fn interim(&self, octets_in: u64, octets_out: u64) -> Result<(), LoginError> {
        let session = self.session().ok_or(LoginError::NotActive)?;
        session.interim(octets_in, octets_out).await
    }

    /// Log out as the status page's button does: the session ends with Accounting-Request Stop
    /// (User-Request), and the next page view tries MAC login again. [`LoginError::NotActive`] when not
    /// logged in.
    pub async fn logout(&self) -> Result<(), LoginError> {
        let session = self.session().ok_or(LoginError::NotActive)?;
        end_session(&self.device, session).await
    }
}

async fn end_session(device: &Device, session: NasSession) -> Result<(), LoginError> {
    {
        let mut state = lock(&device.state);
        state.session = None;
        state.mac_tried = false;
    }
    session.logout().await
}

/// Start a device's listener (see [`RouterSim::hotspot_device`]).
pub(crate) fn spawn_device(sim: &RouterSim, mac: &str, ip: Ipv4Addr) -> io::Result<HotspotDevice> {
    let canonical = format_mac(mac, DEFAULT_MAC_FORMAT)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("not a MAC address: {mac:?}")))?;
    let handle = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    let listener = {
        let _runtime = handle.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let device = Arc::new(Device {
        sim: sim.clone(),
        mac: canonical,
        ip,
        base: format!("http://{}", listener.local_addr()?),
        state: Mutex::new(DeviceState::default()),
    });
    let token = lock(&sim.inner.listeners).child_token();
    let app = Router::new().fallback(servlet).with_state(device.clone());
    let stop = token.clone();
    handle.spawn(async move {
        if let Err(err) = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await {
            tracing::warn!(error = %err, "hotspot device listener stopped");
        }
    });
    Ok(HotspotDevice { device, _stop: Arc::new(token.drop_guard()) })
}

/// Form fields from the query string and, for a POST, the urlencoded body (which wins).
fn fields(uri: &Uri, body: &[u8]) -> BTreeMap<String, String> {
    let mut fields: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    fields.extend(url::form_urlencoded::parse(body).into_owned());
    fields
}

async fn servlet(State(device): State<Arc<Device>>, method: Method, uri: Uri, body: Bytes) -> Response {
    let Some(hotspot) = Hotspot::load(&device.sim) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no hotspot server is enabled on this router\n").into_response();
    };
    let fields = if method == Method::POST { fields(&uri, &body) } else { fields(&uri, &[]) };
    match uri.path() {
        "/login" => login(&device, &hotspot, &fields).await,
        "/status" => match device.session() {
            Some(session) => status_page(&device, &hotspot, &session),
            None => redirect(&device.link_login("")),
        },
        "/logout" => match device.session() {
            Some(session) => logout_page(&device, &hotspot, session).await,
            None => redirect(&device.link_login("")),
        },
        path => match static_file(&device, &hotspot, path) {
            Some(response) => response,
            None if device.session().is_some() => {
                let path = path.replace('&', "&amp;").replace('<', "&lt;");
                html(format!("<!DOCTYPE html><html><body><p>online: {path}</p></body></html>\n"))
            }
            None => redirect(&device.link_login(&format!("{}{uri}", device.base))),
        },
    }
}

/// A file of the HTML directory other than the servlet's pages (`md5.js`, images, CSS).
fn static_file(device: &Device, hotspot: &Hotspot, path: &str) -> Option<Response> {
    let name = path.trim_start_matches('/');
    if name.is_empty() || name.ends_with(".html") || name.split('/').any(|p| p == "..") {
        return None;
    }
    let text = device.file(hotspot, name)?;
    let kind = match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "application/javascript",
        Some("css") => "text/css",
        Some("txt") => "text/plain",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    Some(([(header::CONTENT_TYPE, kind)], text).into_response())
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// A servlet page rendered with `vars`; `$(if http-status …)`/`$(if http-header …)` blocks set the answer.
fn page(device: &Device, hotspot: &Hotspot, name: &str, vars: &BTreeMap<String, String>) -> Response {
    let template = device.file(hotspot, name).unwrap_or_default();
    let rendered = page::render(&template, &|k: &str| vars.get(k).cloned());
    let mut response = html(rendered.body);
    if let Some((code, _reason)) = rendered.status
        && let Ok(status) = StatusCode::from_u16(code)
    {
        *response.status_mut() = status;
    }
    for (name, value) in rendered.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(&value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// `login.html` with the device's CHAP challenge (when `http-chap` is on): a new one
/// once the last was used by a login, else the same, so a page the browser fetches on
/// the side (a favicon redirected to the login page) does not void the one an
/// external portal was given.
fn login_page(device: &Device, hotspot: &Hotspot, fields: &BTreeMap<String, String>, error: &str) -> Response {
    let dst = fields.get("dst").map_or("", String::as_str);
    let mut vars = device.vars(hotspot, dst);
    let chap = hotspot
        .allows("http-chap")
        .then(|| *lock(&device.state).chap.get_or_insert_with(|| (rand::random::<u8>(), rand::random::<[u8; 16]>())));
    if chap.is_none() {
        lock(&device.state).chap = None;
    }
    if let Some((ident, challenge)) = chap {
        vars.insert("chap-id".into(), page::octal_escapes(&[ident]));
        vars.insert("chap-challenge".into(), page::octal_escapes(&challenge));
    }
    let username = fields.get("username").cloned().unwrap_or_default();
    vars.insert("user".into(), username.clone());
    vars.insert("username".into(), username);
    vars.insert("popup".into(), fields.get("popup").cloned().unwrap_or_else(|| "true".into()));
    vars.insert("error".into(), error.to_owned());
    vars.insert("error-orig".into(), error.to_owned());
    page(device, hotspot, "login.html", &vars)
}

fn status_page(device: &Device, hotspot: &Hotspot, session: &NasSession) -> Response {
    let mut vars = device.vars(hotspot, "");
    device.session_vars(session, &mut vars);
    page(device, hotspot, "status.html", &vars)
}

async fn logout_page(device: &Device, hotspot: &Hotspot, session: NasSession) -> Response {
    let mut vars = device.vars(hotspot, "");
    device.session_vars(&session, &mut vars);
    if let Err(err) = end_session(device, session).await {
        // the session is gone either way; RouterOS does not wait for accounting either
        tracing::debug!(error = %err, "hotspot logout accounting");
    }
    vars.insert("logged-in".into(), "no".into());
    page(device, hotspot, "logout.html", &vars)
}

/// Logged in: to `dst` when the login asked for it, else the status page.
fn logged_in(device: &Device, hotspot: &Hotspot, session: &NasSession, dst: &str) -> Response {
    if dst.is_empty() { status_page(device, hotspot, session) } else { redirect(dst) }
}

/// `/login`: a page view (MAC login first, then `login.html`) or, with a `username` field, a login.
async fn login(device: &Arc<Device>, hotspot: &Hotspot, fields: &BTreeMap<String, String>) -> Response {
    let dst = fields.get("dst").map_or("", String::as_str);
    if let Some(session) = device.session() {
        return logged_in(device, hotspot, &session, dst);
    }
    let Some(username) = fields.get("username").filter(|u| !u.is_empty()) else {
        if fields.contains_key("username") {
            return login_page(device, hotspot, fields, ERR_INVALID);
        }
        if let Some(session) = mac_login(device, hotspot).await {
            return logged_in(device, hotspot, &session, dst);
        }
        return login_page(device, hotspot, fields, "");
    };
    let password = fields.get("password").map_or("", String::as_str);
    let challenge = if hotspot.allows("http-chap") { lock(&device.state).chap.take() } else { None };
    let response = challenge.and_then(|_| hex_response(password));
    let (secret, method) = match (challenge, response) {
        (Some((ident, challenge)), Some(response)) => (Secret::Chap { ident, response, challenge }, "http-chap"),
        _ if hotspot.allows("http-pap") => (Secret::Pap(password.to_owned()), "http-pap"),
        _ => return login_page(device, hotspot, fields, ERR_CHAP_MISSING),
    };
    match authorize(device, LoginRequest { user: username.clone(), secret, method }).await {
        Ok(session) => logged_in(device, hotspot, &session, dst),
        Err(err) => login_page(device, hotspot, fields, &error_text(&err)),
    }
}

/// The text `$(error)` shows for a failed login (RouterOS's `errors.txt`).
fn error_text(err: &AuthError) -> String {
    match err {
        AuthError::InProgress => ERR_IN_PROGRESS.into(),
        AuthError::Login(LoginError::Rejected(message)) if !message.is_empty() => message.clone(),
        AuthError::Login(LoginError::Rejected(_) | LoginError::NoRadius | LoginError::NotActive) => ERR_INVALID.into(),
        AuthError::Login(LoginError::Timeout) => ERR_RADIUS_TIMEOUT.into(),
        AuthError::Login(LoginError::Io(e)) => format!("internal error ({e})"),
    }
}

/// 32 hex digits → the 16-octet CHAP response.
fn hex_response(password: &str) -> Option<[u8; 16]> {
    let bytes = hex::decode(password).ok()?;
    <[u8; 16]>::try_from(bytes).ok()
}

/// MAC login (reference §7.1 `mac-auth-mode`), tried once per device until its next session ends.
async fn mac_login(device: &Arc<Device>, hotspot: &Hotspot) -> Option<NasSession> {
    if !hotspot.allows("mac") {
        return None;
    }
    {
        let mut state = lock(&device.state);
        if state.mac_tried {
            return None;
        }
        state.mac_tried = true;
    }
    let user = format_mac(&device.mac, hotspot.get("radius-mac-format")).unwrap_or_else(|| device.mac.clone());
    let password = match hotspot.get("mac-auth-mode") {
        "mac-as-username-and-password" if !hotspot.get("mac-auth-password").is_empty() => {
            hotspot.get("mac-auth-password").to_owned()
        }
        "mac-as-username-and-password" => user.clone(),
        _ => String::new(),
    };
    authorize(device, LoginRequest { user, secret: Secret::Pap(password), method: "mac" }).await.ok()
}

/// What the device sent, owned so that it can travel into a task.
enum Secret {
    /// A cleartext password (the form without CHAP, or a MAC login's).
    Pap(String),
    /// The page's `hexMD5(chap-id + password + chap-challenge)`, decoded, and the challenge it answers.
    Chap { ident: u8, response: [u8; 16], challenge: [u8; 16] },
}

struct LoginRequest {
    user: String,
    secret: Secret,
    /// `login-by` of the session: `http-chap`, `http-pap` or `mac`.
    method: &'static str,
}

enum AuthError {
    InProgress,
    Login(LoginError),
}

/// Run one login for the device through the NAS. It runs in its own task, like on the router: a browser
/// that gives up does not cut a RADIUS exchange (and its accounting) in half.
async fn authorize(device: &Arc<Device>, request: LoginRequest) -> Result<NasSession, AuthError> {
    {
        let mut state = lock(&device.state);
        if state.authorizing {
            return Err(AuthError::InProgress);
        }
        state.authorizing = true;
    }
    let device = device.clone();
    let task = tokio::spawn(async move {
        let credentials = match &request.secret {
            Secret::Pap(password) => Credentials::Password(password, Some(Auth::Pap)),
            Secret::Chap { ident, response, challenge } => {
                Credentials::Chap { ident: *ident, response: *response, challenge: *challenge }
            }
        };
        let result = nas::login_with(
            &device.sim,
            ActiveKind::Hotspot,
            &request.user,
            &device.mac,
            Some(device.ip),
            credentials,
            Some(request.method),
        )
        .await;
        let mut state = lock(&device.state);
        state.authorizing = false;
        if let Ok(session) = &result {
            state.session = Some(session.clone());
        }
        result
    });
    match task.await {
        Ok(result) => result.map_err(AuthError::Login),
        Err(err) => Err(AuthError::Login(LoginError::Io(err.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counters_read_like_the_status_page() {
        assert_eq!(nice_bytes(512), "512 B");
        assert_eq!(nice_bytes(1536), "1.5 KiB");
        assert_eq!(nice_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn macs_follow_radius_mac_format() {
        let mac = "aa:bb:cc:0d:0e:0f";
        assert_eq!(format_mac(mac, DEFAULT_MAC_FORMAT).as_deref(), Some("AA:BB:CC:0D:0E:0F"));
        assert_eq!(format_mac(mac, "xx-xx-xx-xx-xx-xx").as_deref(), Some("aa-bb-cc-0d-0e-0f"));
        assert_eq!(format_mac("AABB.CC0D.0E0F", "XXXXXXXXXXXX").as_deref(), Some("AABBCC0D0E0F"));
        assert_eq!(format_mac(mac, "xxxx.xxxx.xxxx").as_deref(), Some("aabb.cc0d.0e0f"));
        assert_eq!(format_mac("aa:bb:cc:0d:0e", DEFAULT_MAC_FORMAT), None, "eleven digits");
        assert_eq!(format_mac("aa:bb:cc:0d:0e:zz", DEFAULT_MAC_FORMAT), None);
        assert_eq!(format_mac(mac, "XX:XX"), None, "a pattern without twelve places");
    }

    #[test]
    fn chap_responses_are_32_hex_digits() {
        assert_eq!(hex_response("d4de9ac3407cb72de95f601797b91377").map(|r| r[0]), Some(0xd4));
        assert_eq!(hex_response("D4DE9AC3407CB72DE95F601797B91377").map(|r| r[15]), Some(0x77));
        assert_eq!(hex_response("d4de9ac3"), None);
        assert_eq!(hex_response("secret-password-of-32-characters"), None);
    }
}
