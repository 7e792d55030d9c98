//! An in-process RouterOS simulator speaking the API protocol (plain TCP, or TLS with a built-in
//! self-signed certificate).
//!
//! It keeps an in-memory configuration (menus → entries with `.id`s) covering what the provisioning recipe
//! touches, answers `print` (queries, `.proplist`, `count-only`), `add` (`!done =ret=*N`), `set`, `unset`,
//! `remove`, `enable`, `disable`, `/login` (6.43+ plain, or the pre-6.43 challenge), `/cancel` and `/quit`,
//! and sends `!empty` for empty prints when the configured version is 7.18 or later.
//!
//! Tests steer it with [`RouterSim::fail_next`], [`RouterSim::stall_next`], [`RouterSim::delay_next`],
//! [`RouterSim::drop_next`], [`RouterSim::disconnect_all`] and [`RouterSim::shutdown`], and inspect it with
//! [`RouterSim::entries`] and [`RouterSim::command_log`]. A script interpreter can share the model through
//! [`RouterSim::apply`], [`RouterSim::print`] and [`RouterSim::find`].
//!
//! Scripts: [`RouterSim::run_script`], [`RouterSim::terminal`] and [`RouterSim::import`] run a subset of the
//! RouterOS CLI language (menu commands, `[find]`/`get` substitution, `:local`/`:global`/`:if`/`:do`,
//! `/tool fetch` with real HTTP, `/import` from the simulated `/file` store); everything they change goes
//! through [`RouterSim::apply`].
//!
//! NAS: [`RouterSim::pppoe_login`] and [`RouterSim::hotspot_login`] authenticate and account against the
//! RADIUS servers configured in the model, and while `/radius incoming accept=yes` the simulator answers
//! Disconnect-Request and CoA-Request on `127.0.0.1:<port>` ([`RouterSim::radius_incoming_addr`]).
//!
//! Hotspot web front (reference §7.2–§7.3): [`RouterSim::hotspot_device`] puts a phone with a MAC and an IP
//! on the hotspot and gives it an HTTP listener of its own (`127.0.0.1:<port>`, [`HotspotDevice::base_url`]);
//! a test browser opens [`HotspotDevice::login_url`] and every request on that port comes from that phone.
//! The servlet uses the first enabled `/ip hotspot` server and its profile (`login-by`, `html-directory`,
//! `mac-auth-mode`, `mac-auth-password`, `radius-mac-format`):
//! - `GET /login` (or any page) from a phone not logged in: with `mac` in `login-by`, MAC login first (once,
//!   and again after each session ends); on Accept a 302 to `dst` or the status page, on Reject the plain
//!   login page (no `$(error)`). Otherwise
//!   `<html-directory>/login.html` from the `/file` store (the built-in page when absent), with `$(var)`,
//!   `$(var-esc)` and `$(if)…$(elif)…$(else)…$(endif)` filled in; with `http-chap` each view draws a fresh
//!   `$(chap-id)`/`$(chap-challenge)` (octal escapes), remembered per phone ([`HotspotDevice::chap_challenge`]).
//! - `POST /login` (or `GET` with query fields) `username`, `password`, `dst`, `popup`: 32 hex digits answering
//!   the phone's outstanding challenge go out as CHAP-Password + CHAP-Challenge, otherwise (with `http-pap`)
//!   the password as User-Password; the Accept starts the session ([`HotspotDevice::session`]: rate limit,
//!   Session-Timeout, Mikrotik-Total-Limit(-Gigawords)); a Reject shows `login.html` again with `$(error)`.
//! - `GET /status`, `GET|POST /logout` (Accounting-Request Stop), the other files of the HTML directory
//!   (`/md5.js`), and any other path as "the Internet": a redirect to the login page, or, once logged in,
//!   an "online" page. Links point at the phone's listener rather than the profile's `dns-name`, so a test
//!   browser can follow them.

mod hotspot;
mod interp;
mod model;
mod nas;
mod script;
mod tls;

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use broadnet_radius::Code;
use broadnet_routeros::codec::{Decoder, Reply, ReplyKind, Request};
use broadnet_routeros::{legacy_login_response, menu_path};
pub use hotspot::HotspotDevice;
use model::Model;
pub use model::{Attrs, SimTrap};
pub use nas::{Auth, HotspotSession, LoginError, NasSession, PppSession};
pub use script::{ScriptError, ScriptErrorKind};
pub use tls::SIM_CERT_DER;

/// What the simulated router is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// `/system identity` name.
    pub identity: String,
    /// RouterOS version, e.g. `7.16.2`; 7.18+ sends `!empty`; below 7 new DHCP servers start disabled.
    pub version: String,
    /// `board-name`, e.g. `hEX`.
    pub board: String,
    /// Router users: `(name, password, group)`; group is `read`, `write` or `full`.
    pub users: Vec<(String, String, String)>,
    /// Behave like RouterOS before 6.43: `/login` answers with a challenge (`=ret=`), then expects
    /// `=response=`.
    pub legacy_login: bool,
    /// The router's own address as a NAS: NAS-IP-Address in RADIUS requests (unless the `/radius` entry
    /// has a `src-address`), and what Disconnect/CoA requests naming a NAS-IP-Address must match.
    pub nas_ip: Ipv4Addr,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            identity: "MikroTik".into(),
            version: "7.16.2".into(),
            board: "hEX".into(),
            users: vec![("admin".into(), String::new(), "full".into())],
            legacy_login: false,
            nas_ip: Ipv4Addr::LOCALHOST,
        }
    }
}

/// Which runtime session table [`RouterSim::set_active`] fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveKind {
    /// `/ppp/active` (PPPoE sessions).
    Ppp,
    /// `/ip/hotspot/active`.
    Hotspot,
}

impl ActiveKind {
    /// The menu path.
    pub fn menu(self) -> &'static str {
        match self {
            ActiveKind::Ppp => "/ppp/active",
            ActiveKind::Hotspot => "/ip/hotspot/active",
        }
    }
}

#[derive(Debug, Clone)]
enum FaultAction {
    Trap(SimTrap),
    Stall,
    Delay(Duration),
    Drop,
}

#[derive(Debug)]
struct Fault {
    prefix: String,
    action: FaultAction,
}

struct SimState {
    model: Model,
    log: Vec<Vec<String>>,
    faults: Vec<Fault>,
    /// `:global` variables (they outlive scripts, like on a router until reboot).
    globals: BTreeMap<String, interp::Value>,
    /// The terminal's current menu (`/ip address` typed alone changes it).
    terminal_menu: String,
    /// `:log` lines: (level, message).
    script_log: Vec<(String, String)>,
    nas: nas::NasState,
}

struct SimInner {
    config: SimConfig,
    state: Mutex<SimState>,
    listeners: Mutex<CancellationToken>,
    connections: Mutex<CancellationToken>,
    live: AtomicUsize,
}

/// The simulator. Cheap to clone (clones share the router). Listeners run until [`RouterSim::shutdown`]
/// or until the tokio runtime ends.
#[derive(Clone)]
pub struct RouterSim {
    inner: Arc<SimInner>,
}

impl std::fmt::Debug for RouterSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterSim")
            .field("identity", &self.inner.config.identity)
            .field("version", &self.inner.config.version)
            .field("connections", &self.connection_count())
            .finish()
    }
}

enum Out {
    Bytes(Vec<u8>),
    Close,
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    /// Flush what was queued, then close (after `!fatal`).
    Close,
    /// Close at once (a simulated crash).
    Kill,
}

#[derive(Default)]
struct Session {
    user: Option<String>,
    challenge: Option<[u8; 16]>,
    stalled: Vec<Option<String>>,
}

struct LiveGuard(Arc<SimInner>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn done(tag: &Option<String>) -> Reply {
    Reply::new(ReplyKind::Done, tag.clone())
}

fn trap_done(tag: &Option<String>, trap: SimTrap) -> Vec<Reply> {
    let mut reply = Reply::new(ReplyKind::Trap, tag.clone());
    if let Some(category) = trap.category {
        reply = reply.with("category", category.to_string());
    }
    vec![reply.with("message", trap.message), done(tag)]
}

fn fatal(reason: &str) -> Reply {
    Reply::new(ReplyKind::Fatal, None).with("message", reason)
}

/// `/ip/address/print` → (`/ip/address`, `print`).
fn split_command(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some((menu, command)) => (menu, command),
        None => ("", path),
    }
}

fn encode_all(replies: &[Reply]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for reply in replies {
        match reply.encode() {
            Ok(encoded) => bytes.extend(encoded),
            Err(err) => tracing::warn!(error = %err, "simulator could not encode a reply"),
        }
    }
    bytes
}

impl RouterSim {
    /// A router with `config`, not yet listening.
    pub fn new(config: SimConfig) -> Self {
        let model = Model::new(&config);
        RouterSim {
            inner: Arc::new(SimInner {
                config,
                state: Mutex::new(SimState {
                    model,
                    log: Vec::new(),
                    faults: Vec::new(),
                    globals: BTreeMap::new(),
                    terminal_menu: String::new(),
                    script_log: Vec::new(),
                    nas: nas::NasState::default(),
                }),
                listeners: Mutex::new(CancellationToken::new()),
                connections: Mutex::new(CancellationToken::new()),
                live: AtomicUsize::new(0),
            }),
        }
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        lock(&self.inner.state)
    }

    /// Listen for plain API connections on `addr` (use port 0 for any free port); returns the bound
    /// address. May be called several times (several listeners share one router).
    pub async fn spawn(&self, addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
        nas::sync_incoming(self);
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let token = lock(&self.inner.listeners).clone();
        let sim = self.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = token.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        let conn_token = lock(&sim.inner.connections).clone();
                        tokio::spawn(sim.clone().serve(stream, conn_token));
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "simulator accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        });
        Ok(local)
    }

    /// Listen for API-SSL connections on `addr` with the built-in self-signed certificate
    /// ([`tls::SIM_CERT_DER`]); clients need `accept_invalid` (or to trust that certificate).
    pub async fn spawn_tls(&self, addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
        nas::sync_incoming(self);
        let config = tls::server_config().map_err(io::Error::other)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let token = lock(&self.inner.listeners).clone();
        let sim = self.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = token.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, _peer)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let sim = sim.clone();
                let conn_token = lock(&sim.inner.connections).clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => sim.serve(tls, conn_token).await,
                        Ok(Err(err)) => tracing::debug!(error = %err, "simulator TLS handshake failed"),
                        Err(_) => tracing::debug!("simulator TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(local)
    }

    /// Stop listening (API, API-SSL and `/radius incoming`) and drop every connection (a router that went
    /// away). Later `spawn` calls work again (and bring `/radius incoming` back).
    pub fn shutdown(&self) {
        let old = std::mem::replace(&mut *lock(&self.inner.listeners), CancellationToken::new());
        old.cancel();
        self.state().nas.stop_incoming();
        self.disconnect_all();
    }

    /// Drop every open connection at once, without replies; listeners keep accepting.
    pub fn disconnect_all(&self) {
        let old = std::mem::replace(&mut *lock(&self.inner.connections), CancellationToken::new());
        old.cancel();
    }

    /// Open API connections.
    pub fn connection_count(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }

    /// Every menu the simulator knows.
    pub fn menus(&self) -> Vec<&'static str> {
        Model::menu_paths()
    }

    /// Entries of `menu` (`/ip/address` or `/ip address`), with `.id` for list menus; settings menus give
    /// one row. Unlike an API `print`, hidden properties (`/user` passwords) are included.
    pub fn entries(&self, menu: &str) -> Vec<BTreeMap<String, String>> {
        self.state().model.entries(&menu_path(menu))
    }

    /// Replace the active sessions of `kind` (rows without `.id` get one).
    pub fn set_active(&self, kind: ActiveKind, rows: Vec<BTreeMap<String, String>>) {
        self.state().model.set_rows(kind.menu(), rows);
        nas::reap(self);
    }

    /// Replace all entries of any menu (runtime tables like `/ip/hotspot/host`). False if unknown.
    pub fn set_rows(&self, menu: &str, rows: Vec<BTreeMap<String, String>>) -> bool {
        let known = self.state().model.set_rows(&menu_path(menu), rows);
        nas::reap(self);
        known
    }

    /// Change a `/system/resource` value (`cpu-load`, `free-memory`, …).
    pub fn set_resource(&self, key: &str, value: &str) {
        self.state().model.poke("/system/resource", key, value);
    }

    /// Every sentence received, in order, as words (including `/login` with its password).
    pub fn command_log(&self) -> Vec<Vec<String>> {
        self.state().log.clone()
    }

    /// Forget the command log.
    pub fn clear_command_log(&self) {
        self.state().log.clear();
    }

    fn push_fault(&self, prefix: &str, action: FaultAction) {
        self.state().faults.push(Fault { prefix: menu_path(prefix), action });
    }

    /// The next command whose path starts with `path_prefix` (`/ip/address`, `/ip address add`, `/` for
    /// any) fails with `!trap =message=<message>` and changes nothing.
    pub fn fail_next(&self, path_prefix: &str, message: &str) {
        self.push_fault(path_prefix, FaultAction::Trap(SimTrap::new(None, message)));
    }

    /// Like [`RouterSim::fail_next`] with a trap category.
    pub fn fail_next_with_category(&self, path_prefix: &str, category: u32, message: &str) {
        self.push_fault(path_prefix, FaultAction::Trap(SimTrap::new(Some(category), message)));
    }

    /// The next matching command is never answered (until `/cancel`ed or the connection closes).
    pub fn stall_next(&self, path_prefix: &str) {
        self.push_fault(path_prefix, FaultAction::Stall);
    }

    /// The next matching command is carried out at once but answered only after `delay` (other commands
    /// on the connection are answered meanwhile).
    pub fn delay_next(&self, path_prefix: &str, delay: Duration) {
        self.push_fault(path_prefix, FaultAction::Delay(delay));
    }

    /// The next matching command makes the router drop that connection without answering.
    pub fn drop_next(&self, path_prefix: &str) {
        self.push_fault(path_prefix, FaultAction::Drop);
    }

    /// Carry out `add`, `set`, `unset`, `remove`, `enable` or `disable` on `path` (`/ip/address` or
    /// `/ip address`) exactly as the API would. `add` returns the new `.id`. Item selectors are `.id` or
    /// `numbers` (ids like `*1A` or names, comma separated); settings menus take `set` without one.
    pub fn apply<K: AsRef<str>, V: AsRef<str>>(
        &self,
        path: &str,
        command: &str,
        attrs: &[(K, V)],
    ) -> Result<Option<String>, SimTrap> {
        let attrs: Vec<(String, String)> =
            attrs.iter().map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())).collect();
        let path = menu_path(path);
        let result = self.state().model.apply(&path, command, &attrs);
        self.after_change(&path);
        result
    }

    /// Side effects of a configuration change: `/radius incoming` (re)binds its listener; sessions whose
    /// active row was removed end (Accounting Stop).
    fn after_change(&self, path: &str) {
        if path.starts_with("/radius/incoming") {
            nas::sync_incoming(self);
        }
        if path.starts_with("/ppp/active") || path.starts_with("/ip/hotspot/active") {
            nas::reap(self);
        }
    }

    /// `print` as the API would (hidden properties left out), with API query words without their `?`
    /// (`name=x`, `-disabled`, `#|`).
    pub fn print(&self, menu: &str, queries: &[&str]) -> Result<Vec<BTreeMap<String, String>>, SimTrap> {
        let queries: Vec<String> = queries.iter().map(|q| q.trim_start_matches('?').to_owned()).collect();
        self.state().model.print(&menu_path(menu), &[], &queries)
    }

    /// Ids of the entries whose properties equal every `(key, value)` of `filter` (`[find name=x]`).
    pub fn find<K: AsRef<str>, V: AsRef<str>>(&self, menu: &str, filter: &[(K, V)]) -> Vec<String> {
        let filter: Vec<(String, String)> =
            filter.iter().map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())).collect();
        self.state().model.find(&menu_path(menu), &filter)
    }

    /// Run a script (the contents of an `.rsc` file, or a pasted block) and return what it printed.
    ///
    /// The whole script is parsed first (a syntax error runs nothing); the first failing command stops it
    /// (non-verbose `/import` semantics). `:local` variables live in the script; `:global` ones stay in
    /// the simulator.
    ///
    /// The subset (anything else is refused with `syntax error`, `bad command name x` or
    /// `expected end of command`, with line and column):
    /// - `# comments`, blank lines, a trailing `\` continuing a line (also inside strings, where the next
    ///   line's indentation is dropped), `;` between commands;
    /// - menu paths with spaces (`/ip dhcp-server network add …`) or slashes (`/ip/address/add …`), `..`,
    ///   and a line holding only a path setting the current menu for the following lines;
    /// - `add`, `set`, `remove`, `enable`, `disable`, `unset` (through [`RouterSim::apply`]; items by
    ///   `.id`, name or `[find …]`, an empty `[find]` changes nothing), `print` (`detail`/`terse` accepted,
    ///   `count-only`, `as-value`, `proplist=`, `where …`), `get` (`[/system identity get name]`,
    ///   `[/ip hotspot profile get [find name=x] html-directory]`, without a property: a map), `find`
    ///   (`name=x`, `comment="x"`, `default=yes`, `where a=b and c!=d and !disabled`);
    /// - values: bare words, `"strings"` with `\"` `\\` `\n` `\r` `\t` `\$` `\?` `\_` `\XX` escapes and
    ///   `$var` / `$(…)` / `$[…]` interpolation, `$var`, `$map->"key"`, `[command]`, and `( … )`
    ///   expressions with `.` `->` `=` `!=` `<` `>` `<=` `>=` `&&` `||` `and` `or` `!` `+` `-` `*` `/`,
    ///   numbers, `true`/`false`;
    /// - `:local`, `:global`, `:set`, `:put`, `:error`, `:len`, `:delay` (does not wait), `:log <level>`
    ///   ([`RouterSim::script_log`]), `:if (…) do={…} else={…}`, `:do {…} on-error={…}`, `{ … }` blocks;
    /// - `/tool fetch url=… [dst-path=] [http-method=] [http-data=] [http-header-field=] [output=]
    ///   [as-value] [check-certificate=] [keep-result=] [user=] [password=] [http-max-redirect-count=]
    ///   [idle-timeout=]` over real HTTP(S) (10 s timeout; certificates unchecked unless
    ///   `check-certificate=yes`); a non-2xx answer fails with `failure: Fetch failed with status 404`
    ///   (RouterOS 7.13+) or `failure: closing connection: <404 Not Found> ip:port (4)` (older);
    /// - `/import file-name=x.rsc` / `/import x.rsc` from the `/file` store;
    /// - every menu of the simulated configuration (see [`RouterSim::menus`]), `/system scheduler` just
    ///   stores its entries.
    pub async fn run_script(&self, source: &str) -> Result<String, ScriptError> {
        let (stmts, _) = script::parse(source, "")?;
        let mut exec = interp::Exec::new(self, 0);
        exec.block(&stmts).await?;
        Ok(exec.out)
    }

    /// What an admin pasting `line` into the terminal gets: commands separated by `;`, run like
    /// [`RouterSim::run_script`]. A line holding only a menu path (`/ip address`) changes the terminal's
    /// current menu for the following calls, like the prompt does.
    pub async fn terminal(&self, line: &str) -> Result<String, ScriptError> {
        let menu = self.state().terminal_menu.clone();
        let (stmts, menu) = script::parse(line, &menu)?;
        self.state().terminal_menu = menu;
        let mut exec = interp::Exec::new(self, 0);
        exec.block(&stmts).await?;
        Ok(exec.out)
    }

    /// `/import file-name=<file_name>`: run a file from the simulated `/file` store (`no such file` when
    /// it is not there). The output ends with RouterOS's `Script file loaded and executed successfully`.
    pub async fn import(&self, file_name: &str) -> Result<String, ScriptError> {
        let quoted = file_name.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$");
        self.run_script(&format!("/import file-name=\"{quoted}\"")).await
    }

    /// The simulated `/file` store: name → contents (directories left out). Files written by `/tool fetch`
    /// are stored as text (invalid UTF-8 is replaced).
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        self.entries("/file")
            .into_iter()
            .filter(|f| f.get("type").is_none_or(|t| t != "directory"))
            .filter_map(|f| Some((f.get("name")?.clone(), f.get("contents").cloned().unwrap_or_default().into_bytes())))
            .collect()
    }

    /// Create or overwrite a file in `/file` (like an FTP upload), through [`RouterSim::apply`].
    pub fn put_file(&self, name: &str, contents: &[u8]) -> Result<(), SimTrap> {
        self.write_file(name, contents)
    }

    /// `:log` lines scripts wrote: (level, message).
    pub fn script_log(&self) -> Vec<(String, String)> {
        self.state().script_log.clone()
    }

    /// A `:global` variable as text (`None` when never declared).
    pub fn global(&self, name: &str) -> Option<String> {
        self.global_value(name).map(|v| v.text())
    }

    /// A PPPoE client dials in: Access-Request to the `/radius` entries for `ppp` (or a local `/ppp secret`),
    /// then a `/ppp/active` row and, with `/ppp aaa accounting=yes`, Accounting-Request Start.
    pub async fn pppoe_login(
        &self,
        user: &str,
        password: &str,
        mac: &str,
        auth: Auth,
    ) -> Result<PppSession, LoginError> {
        nas::login(self, ActiveKind::Ppp, user, password, mac, None, Some(auth)).await
    }

    /// A hotspot client logs in from `ip`: Access-Request (CHAP when the hotspot profile's `login-by` has
    /// `http-chap`, the default; else PAP) to the `/radius` entries for `hotspot` (or a local
    /// `/ip hotspot user`), then an `/ip/hotspot/active` row and, with the profile's `radius-accounting`,
    /// Accounting-Request Start.
    pub async fn hotspot_login(
        &self,
        user: &str,
        password: &str,
        mac: &str,
        ip: Ipv4Addr,
    ) -> Result<HotspotSession, LoginError> {
        nas::login(self, ActiveKind::Hotspot, user, password, mac, Some(ip), None).await
    }

    /// A phone joins the hotspot with `mac` (any spelling with 12 hex digits) and `ip`: it gets an HTTP
    /// listener of its own on `127.0.0.1:0`, and every request on it reaches the hotspot servlet as coming
    /// from that MAC and IP (see [`HotspotDevice`] and the module docs). Needs a tokio runtime; the listener
    /// lives until the last clone of the device is dropped or [`RouterSim::shutdown`].
    pub fn hotspot_device(&self, mac: &str, ip: Ipv4Addr) -> io::Result<HotspotDevice> {
        hotspot::spawn_device(self, mac, ip)
    }

    /// Every Disconnect/CoA request answered on `/radius incoming`: (the reply code sent, User-Name).
    /// Requests with a wrong secret or from an unknown address get no reply and are not listed.
    pub fn coa_log(&self) -> Vec<(Code, String)> {
        self.state().nas.coa_log.clone()
    }

    /// Where `/radius incoming` listens (`127.0.0.1:<port>`) while `accept=yes`; `port=0` picks a free
    /// port (a simulator extension).
    pub fn radius_incoming_addr(&self) -> Option<SocketAddr> {
        self.state().nas.incoming_addr()
    }

    /// Why `/radius incoming` could not listen (port in use), if it could not.
    pub fn radius_incoming_error(&self) -> Option<String> {
        self.state().nas.incoming_error()
    }

    /// What the NAS side did and what went wrong (timeouts, bad replies, ignored CoA requests), in order.
    pub fn nas_log(&self) -> Vec<String> {
        self.state().nas.log.clone()
    }

    pub(crate) fn global_value(&self, name: &str) -> Option<interp::Value> {
        self.state().globals.get(name).cloned()
    }

    pub(crate) fn set_global_value(&self, name: &str, value: interp::Value) {
        self.state().globals.insert(name.to_owned(), value);
    }

    pub(crate) fn declare_global(&self, name: &str) {
        self.state().globals.entry(name.to_owned()).or_insert(interp::Value::Nil);
    }

    pub(crate) fn push_script_log(&self, level: &str, message: &str) {
        self.state().script_log.push((level.to_owned(), message.to_owned()));
    }

    pub(crate) fn model_version(&self) -> (u32, u32, u32) {
        self.state().model.version()
    }

    /// Contents of a (non-directory) file.
    pub(crate) fn file_text(&self, name: &str) -> Option<String> {
        self.entries("/file")
            .into_iter()
            .find(|f| f.get("name").is_some_and(|n| n == name) && f.get("type").is_none_or(|t| t != "directory"))
            .map(|f| f.get("contents").cloned().unwrap_or_default())
    }

    pub(crate) fn write_file(&self, name: &str, contents: &[u8]) -> Result<(), SimTrap> {
        let contents = String::from_utf8_lossy(contents).into_owned();
        match self.find("/file", &[("name", name)]).first() {
            Some(id) => self.apply("/file", "set", &[(".id", id.as_str()), ("contents", contents.as_str())]),
            None => self.apply("/file", "add", &[("name", name), ("contents", contents.as_str())]),
        }
        .map(|_| ())
    }

    async fn serve<S>(self, stream: S, token: CancellationToken)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        self.inner.live.fetch_add(1, Ordering::SeqCst);
        let _live = LiveGuard(self.inner.clone());
        let (mut reader, mut writer) = tokio::io::split(stream);
        let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
        let writer_token = token.clone();
        let writer_task = tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    () = writer_token.cancelled() => break,
                    msg = rx.recv() => msg,
                };
                match msg {
                    Some(Out::Bytes(bytes)) => {
                        if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
                            break;
                        }
                    }
                    Some(Out::Close) | None => {
                        let _ = writer.shutdown().await;
                        break;
                    }
                }
            }
        });

        let mut session = Session::default();
        let mut decoder = Decoder::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut flow = Flow::Continue;
        'conn: loop {
            let n = tokio::select! {
                () = token.cancelled() => { flow = Flow::Kill; break }
                read = reader.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
            };
            decoder.feed(&buf[..n]);
            loop {
                match decoder.next_sentence() {
                    Ok(Some(sentence)) => {
                        flow = self.handle(&sentence, &mut session, &tx);
                        if flow != Flow::Continue {
                            break 'conn;
                        }
                    }
                    Ok(None) => break,
                    Err(err) => {
                        tracing::debug!(error = %err, "simulator dropping a connection with a broken API stream");
                        break 'conn;
                    }
                }
            }
        }
        if flow == Flow::Kill {
            writer_task.abort();
        } else {
            let _ = tx.send(Out::Close);
            drop(tx);
            let _ = writer_task.await;
        }
    }

    fn handle(&self, sentence: &[Vec<u8>], session: &mut Session, tx: &mpsc::UnboundedSender<Out>) -> Flow {
        let words: Vec<String> = sentence.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect();
        if words.is_empty() {
            return Flow::Continue;
        }
        let mut state = self.state();
        state.log.push(words.clone());
        let req = match Request::parse(sentence) {
            Ok(req) => req,
            Err(_) => {
                let tag = words.iter().find_map(|w| w.strip_prefix(".tag=")).map(str::to_owned);
                let _ = tx.send(Out::Bytes(encode_all(&trap_done(&tag, SimTrap::no_such_prefix()))));
                return Flow::Continue;
            }
        };
        let tag = req.tag.clone();

        let mut delay = None;
        if req.path != "/cancel"
            && let Some(pos) = state.faults.iter().position(|f| req.path.starts_with(&f.prefix))
        {
            match state.faults.remove(pos).action {
                FaultAction::Trap(trap) => {
                    let _ = tx.send(Out::Bytes(encode_all(&trap_done(&tag, trap))));
                    return Flow::Continue;
                }
                FaultAction::Stall => {
                    session.stalled.push(tag);
                    return Flow::Continue;
                }
                FaultAction::Drop => return Flow::Kill,
                FaultAction::Delay(d) => delay = Some(d),
            }
        }

        if req.path == "/tool/fetch" && session.user.is_some() {
            // A real download takes time: run it like the terminal would, off the lock,
            // and answer with the progress row RouterOS ends with.
            drop(state);
            let mut line = String::from("/tool fetch");
            for (k, v) in &req.attrs {
                let escaped = v.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$");
                line.push_str(&format!(" {k}=\"{escaped}\""));
            }
            let (sim, tx) = (self.clone(), tx.clone());
            tokio::spawn(async move {
                let replies = match sim.run_script(&line).await {
                    Ok(_) => vec![Reply::new(ReplyKind::Re, tag.clone()).with("status", "finished"), done(&tag)],
                    Err(e) => trap_done(&tag, SimTrap::new(None, &e.message)),
                };
                let _ = tx.send(Out::Bytes(encode_all(&replies)));
            });
            return Flow::Continue;
        }
        let replies = if req.path == "/login" {
            self.login(&req, session, &state.model)
        } else if session.user.is_none() {
            let _ = tx.send(Out::Bytes(encode_all(&[fatal("not logged in")])));
            return Flow::Close;
        } else if req.path == "/quit" {
            let _ = tx.send(Out::Bytes(encode_all(&[fatal("session terminated on request")])));
            return Flow::Close;
        } else if req.path == "/cancel" {
            cancel(&req, session)
        } else {
            dispatch(&mut state.model, &req)
        };
        drop(state);
        self.after_change(&req.path);

        let bytes = encode_all(&replies);
        match delay {
            Some(delay) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(Out::Bytes(bytes));
                });
            }
            None => {
                let _ = tx.send(Out::Bytes(bytes));
            }
        }
        Flow::Continue
    }

    fn login(&self, req: &Request, session: &mut Session, model: &Model) -> Vec<Reply> {
        let tag = &req.tag;
        let name = req.get("name");
        if self.inner.config.legacy_login {
            let Some(response) = req.get("response") else {
                let challenge: [u8; 16] = rand::random();
                session.challenge = Some(challenge);
                return vec![done(tag).with("ret", hex::encode(challenge))];
            };
            let expected = match (session.challenge.take(), name.and_then(|n| model.user_password(n))) {
                (Some(challenge), Some(password)) => legacy_login_response(&password, &hex::encode(challenge)).ok(),
                _ => None,
            };
            if expected.is_some_and(|e| e.eq_ignore_ascii_case(response)) {
                session.user = name.map(str::to_owned);
                return vec![done(tag)];
            }
            return trap_done(tag, SimTrap::new(None, "cannot log in"));
        }
        match (name, req.get("password")) {
            (Some(name), Some(password)) if model.check_login(name, password) => {
                session.user = Some(name.to_owned());
                vec![done(tag)]
            }
            _ => trap_done(tag, SimTrap::new(None, "invalid user name or password (6)")),
        }
    }
}

fn cancel(req: &Request, session: &mut Session) -> Vec<Reply> {
    let cancelled: Vec<Option<String>> = match req.get("tag") {
        Some(target) => {
            let before = session.stalled.len();
            session.stalled.retain(|t| t.as_deref() != Some(target));
            if session.stalled.len() < before { vec![Some(target.to_owned())] } else { Vec::new() }
        }
        None => std::mem::take(&mut session.stalled),
    };
    let mut out = Vec::new();
    for tag in cancelled {
        out.extend(trap_done(&tag, SimTrap::new(Some(2), "interrupted")));
    }
    out.push(done(&req.tag));
    out
}

fn dispatch(model: &mut Model, req: &Request) -> Vec<Reply> {
    let tag = &req.tag;
    let (menu, command) = split_command(&req.path);
    if !model.has_menu(menu) {
        let trap = if model.is_menu_prefix(menu) {
            SimTrap::new(Some(0), format!("no such command or directory ({command})"))
        } else {
            SimTrap::no_such_prefix()
        };
        return trap_done(tag, trap);
    }
    if command == "print" || command == "getall" {
        let rows = match model.print(menu, &req.attrs, &req.queries) {
            Ok(rows) => rows,
            Err(trap) => return trap_done(tag, trap),
        };
        if req.attrs.iter().any(|(k, _)| k == "count-only") {
            return vec![done(tag).with("ret", rows.len().to_string())];
        }
        let mut out: Vec<Reply> = rows
            .into_iter()
            .map(|row| Reply { kind: ReplyKind::Re, tag: tag.clone(), attrs: row.into_iter().collect() })
            .collect();
        if out.is_empty() && model.version() >= (7, 18, 0) {
            out.push(Reply::new(ReplyKind::Empty, tag.clone()));
        }
        out.push(done(tag));
        return out;
    }
    match model.apply(menu, command, &req.attrs) {
        Ok(Some(id)) => vec![done(tag).with("ret", id)],
        Ok(None) => vec![done(tag)],
        Err(trap) => trap_done(tag, trap),
    }
}
