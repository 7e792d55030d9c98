//! Async RouterOS API client: TCP 8728 or TLS 8729, tagged concurrent commands on one connection.
//!
//! Every command is sent with its own `.tag`; a reader task routes each reply to the caller waiting for that
//! tag, so clones of one [`Client`] can run commands at the same time. A writer task owns the socket's write
//! half, so a caller that gives up (timeout, dropped future) never leaves half a sentence on the wire.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::codec::{CodecError, Decoder, Reply, ReplyKind, Sentence, encode_sentence};
use crate::{RosError, menu_path, tls};

/// One row of a `print`: property name → value (RouterOS sends every value as a string).
pub type Row = BTreeMap<String, String>;

/// Plain API port.
pub const API_PORT: u16 = 8728;
/// API-SSL port.
pub const API_SSL_PORT: u16 = 8729;
/// Default connect / login / per-command timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// API-SSL settings for one router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlsMode {
    /// Accept any certificate (self-signed, expired, wrong name). Off: verify against the webpki roots.
    pub accept_invalid: bool,
}

/// Where and how to connect.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// `host:port`, `ip:port`, `[v6]:port`, or a bare host / IP (then 8728, or 8729 with TLS).
    pub addr: String,
    /// `Some` for API-SSL.
    pub tls: Option<TlsMode>,
    /// Router user.
    pub username: String,
    /// Router password.
    pub password: String,
    /// Bound on connecting, the TLS handshake, login, and (by default) each command.
    pub timeout: Duration,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ConnectOptions {
    /// Plain API, [`DEFAULT_TIMEOUT`].
    pub fn new(addr: impl Into<String>, username: impl Into<String>, password: impl Into<String>) -> Self {
        ConnectOptions {
            addr: addr.into(),
            tls: None,
            username: username.into(),
            password: password.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Use API-SSL.
    pub fn with_tls(mut self, accept_invalid: bool) -> Self {
        self.tls = Some(TlsMode { accept_invalid });
        self
    }

    /// Change the timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Host and port to connect to (default port 8728, or 8729 with TLS).
    pub fn host_port(&self) -> Result<(String, u16), RosError> {
        let default_port = if self.tls.is_some() { API_SSL_PORT } else { API_PORT };
        let addr = self.addr.trim();
        if let Ok(sock) = addr.parse::<std::net::SocketAddr>() {
            return Ok((sock.ip().to_string(), sock.port()));
        }
        if let Ok(ip) = addr.parse::<std::net::IpAddr>() {
            return Ok((ip.to_string(), default_port));
        }
        let bad = || RosError::Io(format!("invalid router address {addr:?}"));
        if let Some(rest) = addr.strip_prefix('[') {
            let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
            let port = match tail.strip_prefix(':') {
                Some(port) => port.parse().map_err(|_| bad())?,
                None if tail.is_empty() => default_port,
                None => return Err(bad()),
            };
            return Ok((host.to_owned(), port));
        }
        match addr.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && !host.contains(':') => {
                Ok((host.to_owned(), port.parse().map_err(|_| bad())?))
            }
            Some(_) => Err(bad()),
            None if addr.is_empty() => Err(bad()),
            None => Ok((addr.to_owned(), default_port)),
        }
    }
}

/// Everything a command answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// `!re` rows in order.
    pub rows: Vec<Row>,
    /// `=ret=` of the final `!done` (new `.id` of an `add`, `count-only` count, login challenge).
    pub ret: Option<String>,
    /// The router sent `!empty` (RouterOS 7.18+: no data).
    pub empty: bool,
}

/// Outcome of [`Client::ensure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    /// No entry carried the comment; one was added with this `.id`.
    Added(String),
    /// The entry existed and some attributes were changed.
    Updated(String),
    /// The entry existed with every attribute already as wanted.
    Unchanged(String),
}

impl Ensured {
    /// The entry's `.id`.
    pub fn id(&self) -> &str {
        match self {
            Ensured::Added(id) | Ensured::Updated(id) | Ensured::Unchanged(id) => id,
        }
    }

    /// True for `Added` and `Updated`.
    pub fn changed(&self) -> bool {
        !matches!(self, Ensured::Unchanged(_))
    }
}

/// `/system/resource` essentials. Missing or unparsable numbers read as 0.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Resource {
    /// As the router prints it, e.g. `1w2d3h4m5s` (see [`parse_uptime`]).
    pub uptime: String,
    /// e.g. `7.16.2 (stable)`.
    pub version: String,
    /// Percent.
    pub cpu_load: u32,
    /// Bytes.
    pub free_memory: u64,
    /// Bytes.
    pub total_memory: u64,
    /// e.g. `hEX`.
    pub board_name: String,
}

/// Parse a RouterOS duration such as `1w2d3h4m5s`, `5m`, `300ms`, `01:22:53` or `3d01:22:53`.
pub fn parse_uptime(text: &str) -> Option<Duration> {
    broadnet_domain::duration::parse(text, broadnet_domain::duration::Bare::Seconds)
}

/// Response to the pre-6.43 login challenge: `"00" + hex(md5(0x00 ‖ password ‖ unhex(challenge)))`.
pub fn legacy_login_response(password: &str, challenge_hex: &str) -> Result<String, RosError> {
    let challenge = hex::decode(challenge_hex.trim())
        .map_err(|_| RosError::Login(format!("router sent an invalid login challenge {challenge_hex:?}")))?;
    let mut md5 = Md5::new();
    md5.update([0u8]);
    md5.update(password.as_bytes());
    md5.update(&challenge);
    Ok(format!("00{}", hex::encode(md5.finalize())))
}

enum Outgoing {
    Sentence(Vec<u8>),
    Close,
}

#[derive(Default)]
struct State {
    waiters: HashMap<String, mpsc::UnboundedSender<Reply>>,
    dead: Option<RosError>,
}

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fail(&self, err: RosError) {
        let mut state = self.lock();
        if state.dead.is_none() {
            tracing::debug!(error = %err, "RouterOS connection closed");
            state.dead = Some(err);
        }
        state.waiters.clear();
    }

    fn dead(&self) -> Option<RosError> {
        self.lock().dead.clone()
    }

    /// Route one sentence; `Some` ends the connection.
    fn dispatch(&self, words: &Sentence) -> Option<RosError> {
        let reply = match Reply::parse(words) {
            Ok(reply) => reply,
            Err(CodecError::EmptySentence) => return None,
            Err(err) => {
                tracing::warn!(error = %err, "ignoring a RouterOS reply this client does not know");
                return None;
            }
        };
        if reply.kind == ReplyKind::Fatal {
            let reason = reply.get("message").filter(|m| !m.is_empty()).unwrap_or("no reason given");
            return Some(RosError::Fatal(reason.to_owned()));
        }
        match &reply.tag {
            Some(tag) => {
                let state = self.lock();
                if let Some(tx) = state.waiters.get(tag) {
                    let _ = tx.send(reply);
                }
            }
            None => tracing::debug!(kind = %reply.kind, "ignoring an untagged RouterOS reply"),
        }
        None
    }
}

struct Inner {
    shared: Arc<Shared>,
    out: mpsc::UnboundedSender<Outgoing>,
    reader: AbortHandle,
    next_tag: AtomicU64,
    timeout: Duration,
    peer: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.out.send(Outgoing::Close);
        self.reader.abort();
    }
}

/// A logged-in API session. Cheap to clone; clones share the connection. The connection closes when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("peer", &self.inner.peer).field("closed", &self.is_closed()).finish()
    }
}

fn attr_words(attrs: &[(&str, &str)]) -> Vec<String> {
    attrs.iter().map(|(k, v)| format!("={k}={v}")).collect()
}

/// RouterOS prints booleans as `true`/`false` whatever was written (`yes`/`no`).
fn same_value(actual: Option<&String>, wanted: &str) -> bool {
    fn canon(v: &str) -> &str {
        match v {
            "yes" => "true",
            "no" => "false",
            other => other,
        }
    }
    actual.is_some_and(|a| a == wanted || canon(a) == canon(wanted))
}

async fn reader_task<R: AsyncRead + Unpin>(mut reader: R, shared: Arc<Shared>) {
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 16 * 1024];
    let err = 'outer: loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => break RosError::Io("the router closed the connection".into()),
            Ok(n) => n,
            Err(e) => break RosError::Io(format!("reading from the router failed: {e}")),
        };
        decoder.feed(&buf[..n]);
        loop {
            match decoder.next_sentence() {
                Ok(Some(sentence)) => {
                    if let Some(err) = shared.dispatch(&sentence) {
                        break 'outer err;
                    }
                }
                Ok(None) => break,
                Err(e) => break 'outer RosError::Protocol(e.to_string()),
            }
        }
    };
    shared.fail(err);
}

async fn writer_task<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    shared: Arc<Shared>,
) {
    while let Some(msg) = rx.recv().await {
        match msg {
            Outgoing::Sentence(bytes) => {
                let written = async {
                    writer.write_all(&bytes).await?;
                    writer.flush().await
                }
                .await;
                if let Err(e) = written {
                    shared.fail(RosError::Io(format!("writing to the router failed: {e}")));
                    break;
                }
            }
            Outgoing::Close => {
                let _ = writer.shutdown().await;
                shared.fail(RosError::Io("connection closed by this client".into()));
                break;
            }
        }
    }
}

async fn collect(mut rx: mpsc::UnboundedReceiver<Reply>) -> Option<Result<Response, RosError>> {
    let mut response = Response::default();
    let mut trap: Option<RosError> = None;
    while let Some(reply) = rx.recv().await {
        match reply.kind {
            ReplyKind::Re => response.rows.push(reply.attrs.into_iter().collect()),
            ReplyKind::Empty => response.empty = true,
            ReplyKind::Trap => {
                if trap.is_none() {
                    trap = Some(RosError::Trap {
                        category: reply.get("category").and_then(|c| c.trim().parse().ok()),
                        message: reply.get("message").unwrap_or("(no message)").to_owned(),
                    });
                }
            }
            ReplyKind::Done => {
                response.ret = reply.get("ret").map(str::to_owned);
                return Some(match trap {
                    Some(err) => Err(err),
                    None => Ok(response),
                });
            }
            ReplyKind::Fatal => {}
        }
    }
    None
}

/// Removes a command's waiter however the call ends.
struct WaiterGuard<'a> {
    shared: &'a Shared,
    tag: String,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().waiters.remove(&self.tag);
    }
}

impl Client {
    /// Connect (TCP or TLS), log in (plain 6.43+ login, falling back to the pre-6.43 MD5 challenge when the
    /// router answers with `=ret=`), and return the session.
    pub async fn connect(opts: ConnectOptions) -> Result<Client, RosError> {
        let (host, port) = opts.host_port()?;
        let peer = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let tcp = tokio::time::timeout(opts.timeout, TcpStream::connect((host.as_str(), port)))
            .await
            .map_err(|_| RosError::Io(format!("connecting to {peer} timed out")))?
            .map_err(|e| RosError::Io(format!("cannot connect to {peer}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        match opts.tls {
            None => Self::start_and_login(tcp, peer, &opts).await,
            Some(mode) => {
                let config = tls::client_config(mode.accept_invalid)?;
                let name = ServerName::try_from(host.clone())
                    .map_err(|_| RosError::Io(format!("{host:?} is not a valid TLS server name")))?;
                let stream = tokio::time::timeout(opts.timeout, TlsConnector::from(config).connect(name, tcp))
                    .await
                    .map_err(|_| RosError::Io(format!("TLS handshake with {peer} timed out")))?
                    .map_err(|e| RosError::Io(format!("TLS handshake with {peer} failed: {e}")))?;
                Self::start_and_login(stream, peer, &opts).await
            }
        }
    }

    /// Log in over an already connected stream (a tunnel, a test pipe…).
    pub async fn connect_stream<S>(
        stream: S,
        username: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<Client, RosError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let client = Self::start(stream, "stream".into(), timeout);
        client.login(username, password).await?;
        Ok(client)
    }

    async fn start_and_login<S>(stream: S, peer: String, opts: &ConnectOptions) -> Result<Client, RosError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let client = Self::start(stream, peer, opts.timeout);
        client.login(&opts.username, &opts.password).await?;
        Ok(client)
    }

    fn start<S>(stream: S, peer: String, timeout: Duration) -> Client
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read_half, write_half) = tokio::io::split(stream);
        let shared = Arc::new(Shared { state: Mutex::new(State::default()) });
        let (out, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(reader_task(read_half, shared.clone())).abort_handle();
        tokio::spawn(writer_task(write_half, rx, shared.clone()));
        Client { inner: Arc::new(Inner { shared, out, reader, next_tag: AtomicU64::new(1), timeout, peer }) }
    }

    async fn login(&self, username: &str, password: &str) -> Result<(), RosError> {
        let name = format!("=name={username}");
        let first = self.execute(&["/login", &name, &format!("=password={password}")]).await;
        let challenge = match first {
            Ok(Response { ret: None, .. }) => return Ok(()),
            Ok(Response { ret: Some(challenge), .. }) => challenge,
            Err(RosError::Trap { message, .. }) => return Err(RosError::Login(message)),
            Err(err) => return Err(err),
        };
        tracing::debug!(peer = %self.inner.peer, "router asked for the pre-6.43 challenge login");
        let response = legacy_login_response(password, &challenge)?;
        match self.execute(&["/login", &name, &format!("=response={response}")]).await {
            Ok(_) => Ok(()),
            Err(RosError::Trap { message, .. }) => Err(RosError::Login(message)),
            Err(err) => Err(err),
        }
    }

    /// The router's address as connected.
    pub fn peer(&self) -> &str {
        &self.inner.peer
    }

    /// The default per-command timeout.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// True once the connection is gone (closed by either side, `!fatal`, I/O error).
    pub fn is_closed(&self) -> bool {
        self.inner.shared.dead().is_some()
    }

    /// Close the connection now; pending and later commands fail.
    pub fn close(&self) {
        let _ = self.inner.out.send(Outgoing::Close);
        self.inner.shared.fail(RosError::Io("connection closed by this client".into()));
    }

    fn dead_error(&self) -> RosError {
        self.inner.shared.dead().unwrap_or_else(|| RosError::Io("the connection to the router was lost".into()))
    }

    /// Run one command and return its rows (`!re`) — `!done` or `!empty` end it successfully.
    ///
    /// `words` is the command path and its attribute / query words, e.g.
    /// `["/ip/address/print", "?interface=bridge"]`. A `.tag` is added; empty words are dropped.
    pub async fn run<S: AsRef<str>>(&self, words: &[S]) -> Result<Vec<Row>, RosError> {
        Ok(self.execute(words).await?.rows)
    }

    /// Like [`Client::run`], returning everything (rows, `=ret=`, whether `!empty` was seen).
    pub async fn execute<S: AsRef<str>>(&self, words: &[S]) -> Result<Response, RosError> {
        self.execute_with_timeout(words, self.inner.timeout).await
    }

    /// Like [`Client::execute`] with an explicit timeout. On timeout the command is cancelled on the
    /// router (`/cancel`) and the connection stays usable.
    pub async fn execute_with_timeout<S: AsRef<str>>(
        &self,
        words: &[S],
        timeout: Duration,
    ) -> Result<Response, RosError> {
        let mut sentence: Vec<&str> =
            words.iter().map(AsRef::as_ref).filter(|w| !w.is_empty() && !w.starts_with(".tag=")).collect();
        match sentence.first() {
            Some(first) if first.starts_with('/') => {}
            _ => return Err(RosError::Protocol("a command must start with its path, like /ip/address/print".into())),
        }
        let tag = self.inner.next_tag.fetch_add(1, Ordering::Relaxed).to_string();
        let tag_word = format!(".tag={tag}");
        sentence.push(&tag_word);
        let bytes = encode_sentence(&sentence)?;

        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut state = self.inner.shared.lock();
            if let Some(err) = &state.dead {
                return Err(err.clone());
            }
            state.waiters.insert(tag.clone(), tx);
        }
        let _guard = WaiterGuard { shared: &self.inner.shared, tag: tag.clone() };
        if self.inner.out.send(Outgoing::Sentence(bytes)).is_err() {
            return Err(self.dead_error());
        }
        match tokio::time::timeout(timeout, collect(rx)).await {
            Ok(Some(result)) => result,
            Ok(None) => Err(self.dead_error()),
            Err(_) => {
                if let Ok(cancel) = encode_sentence(&["/cancel", &format!("=tag={tag}")]) {
                    let _ = self.inner.out.send(Outgoing::Sentence(cancel));
                }
                Err(RosError::Timeout)
            }
        }
    }

    /// `print` a menu (`/ip/address` or `/ip address`) with `?key=value` queries.
    pub async fn print(&self, menu: &str, query: &[(&str, &str)]) -> Result<Vec<Row>, RosError> {
        let mut words = vec![format!("{}/print", menu_path(menu))];
        words.extend(query.iter().map(|(k, v)| format!("?{k}={v}")));
        self.run(&words).await
    }

    /// `add` an entry; returns its `.id` (`=ret=`; empty if the router sent none).
    pub async fn add(&self, menu: &str, attrs: &[(&str, &str)]) -> Result<String, RosError> {
        let mut words = vec![format!("{}/add", menu_path(menu))];
        words.extend(attr_words(attrs));
        Ok(self.execute(&words).await?.ret.unwrap_or_default())
    }

    /// `set` attributes of the entry `id` (an `.id` such as `*1A`, or a name where the menu allows it).
    pub async fn set(&self, menu: &str, id: &str, attrs: &[(&str, &str)]) -> Result<(), RosError> {
        let mut words = vec![format!("{}/set", menu_path(menu)), format!("=.id={id}")];
        words.extend(attr_words(attrs));
        self.execute(&words).await.map(|_| ())
    }

    /// `set` on a settings menu without entries (`/radius/incoming`, `/ppp/aaa`, `/system/identity`).
    pub async fn set_settings(&self, menu: &str, attrs: &[(&str, &str)]) -> Result<(), RosError> {
        let mut words = vec![format!("{}/set", menu_path(menu))];
        words.extend(attr_words(attrs));
        self.execute(&words).await.map(|_| ())
    }

    /// `remove` the entry `id`.
    pub async fn remove(&self, menu: &str, id: &str) -> Result<(), RosError> {
        self.execute(&[format!("{}/remove", menu_path(menu)), format!("=.id={id}")]).await.map(|_| ())
    }

    /// The first entry matching all `query` pairs exactly.
    pub async fn find_one(&self, menu: &str, query: &[(&str, &str)]) -> Result<Option<Row>, RosError> {
        Ok(self.print(menu, query).await?.into_iter().next())
    }

    /// The first entry whose `comment` equals `comment`.
    pub async fn find_by_comment(&self, menu: &str, comment: &str) -> Result<Option<Row>, RosError> {
        self.find_one(menu, &[("comment", comment)]).await
    }

    /// Make sure an entry tagged with `comment` exists with `attrs`: add it if missing, otherwise `set`
    /// only the attributes that differ (`yes`/`no` equal `true`/`false`). Re-running is safe.
    ///
    /// The comment must identify one object (e.g. `broadnet:bridge-port:ether2`); if several entries carry
    /// it, the first is used. Attributes the router never prints (a `/user` password) always count as
    /// different and are re-sent.
    pub async fn ensure(&self, menu: &str, comment: &str, attrs: &[(&str, &str)]) -> Result<Ensured, RosError> {
        let Some(row) = self.find_by_comment(menu, comment).await? else {
            let mut all: Vec<(&str, &str)> = attrs.iter().filter(|(k, _)| *k != "comment").copied().collect();
            all.push(("comment", comment));
            let mut id = self.add(menu, &all).await?;
            if id.is_empty() {
                id = self.find_by_comment(menu, comment).await?.and_then(|r| r.get(".id").cloned()).unwrap_or_default();
            }
            return Ok(Ensured::Added(id));
        };
        let id = row
            .get(".id")
            .cloned()
            .ok_or_else(|| RosError::Protocol(format!("{} entry {comment:?} has no .id", menu_path(menu))))?;
        let diff: Vec<(&str, &str)> =
            attrs.iter().filter(|(k, v)| *k != "comment" && !same_value(row.get(*k), v)).copied().collect();
        if diff.is_empty() {
            return Ok(Ensured::Unchanged(id));
        }
        self.set(menu, &id, &diff).await?;
        Ok(Ensured::Updated(id))
    }

    /// Settings-menu counterpart of [`Client::ensure`]: `set` only what differs. Returns true if it set.
    pub async fn ensure_settings(&self, menu: &str, attrs: &[(&str, &str)]) -> Result<bool, RosError> {
        let current = self.print(menu, &[]).await?.into_iter().next().unwrap_or_default();
        let diff: Vec<(&str, &str)> = attrs.iter().filter(|(k, v)| !same_value(current.get(*k), v)).copied().collect();
        if diff.is_empty() {
            return Ok(false);
        }
        self.set_settings(menu, &diff).await?;
        Ok(true)
    }

    /// Number of entries matching `query` (`print count-only=`, falling back to counting rows).
    pub async fn count(&self, menu: &str, query: &[(&str, &str)]) -> Result<u64, RosError> {
        let mut words = vec![format!("{}/print", menu_path(menu)), "=count-only=".to_owned()];
        words.extend(query.iter().map(|(k, v)| format!("?{k}={v}")));
        let response = self.execute(&words).await?;
        if let Some(n) = response.ret.as_deref().and_then(|r| r.trim().parse().ok()) {
            return Ok(n);
        }
        if !response.rows.is_empty() {
            return Ok(response.rows.len() as u64);
        }
        words[1] = "=.proplist=.id".to_owned();
        Ok(self.run(&words).await?.len() as u64)
    }

    /// `/system/resource/print`.
    pub async fn system_resource(&self) -> Result<Resource, RosError> {
        let row = self.print("/system/resource", &[]).await?.into_iter().next().unwrap_or_default();
        let text = |k: &str| row.get(k).cloned().unwrap_or_default();
        let num = |k: &str| row.get(k).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
        Ok(Resource {
            uptime: text("uptime"),
            version: text("version"),
            cpu_load: u32::try_from(num("cpu-load")).unwrap_or(u32::MAX),
            free_memory: num("free-memory"),
            total_memory: num("total-memory"),
            board_name: text("board-name"),
        })
    }

    /// `/system/identity` name.
    pub async fn identity(&self) -> Result<String, RosError> {
        let rows = self.print("/system/identity", &[]).await?;
        Ok(rows.into_iter().next().and_then(|mut r| r.remove("name")).unwrap_or_default())
    }

    /// Active sessions: `(PPP incl. PPPoE, hotspot)`.
    pub async fn active_counts(&self) -> Result<(u64, u64), RosError> {
        let (ppp, hotspot) = tokio::join!(self.count("/ppp/active", &[]), self.count("/ip/hotspot/active", &[]));
        Ok((ppp?, hotspot?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_challenge_vectors() {
        // MikroTik's documented example (empty password).
        assert_eq!(
            legacy_login_response("", "856780b7411eefd3abadee2058c149a3").unwrap(),
            "005062f7a5ef124d34675bf3e81f56c556"
        );
        // Computed independently: md5(b"\x00" + b"secret" + bytes.fromhex("0123456789abcdef0123456789abcdef"))
        assert_eq!(
            legacy_login_response("secret", "0123456789abcdef0123456789abcdef").unwrap(),
            "00ebbe7c3df6b3d902bfd1f355c6e63289"
        );
        assert!(matches!(legacy_login_response("x", "not hex"), Err(RosError::Login(_))));
    }

    #[test]
    fn addresses() {
        let o = |a: &str| ConnectOptions::new(a, "u", "p").host_port();
        assert_eq!(o("10.0.0.1").unwrap(), ("10.0.0.1".into(), 8728));
        assert_eq!(o("10.0.0.1:9999").unwrap(), ("10.0.0.1".into(), 9999));
        assert_eq!(o("router.example").unwrap(), ("router.example".into(), 8728));
        assert_eq!(o("router.example:1").unwrap(), ("router.example".into(), 1));
        assert_eq!(o("::1").unwrap(), ("::1".into(), 8728));
        assert_eq!(o("[::1]:8729").unwrap(), ("::1".into(), 8729));
        assert_eq!(o("[fe80::1]").unwrap(), ("fe80::1".into(), 8728));
        assert!(o("host:notaport").is_err());
        assert!(o("").is_err());
        let tls = ConnectOptions::new("10.0.0.1", "u", "p").with_tls(true);
        assert_eq!(tls.host_port().unwrap().1, 8729);
        assert!(!format!("{tls:?}").contains("\"p\""));
    }

    #[test]
    fn uptime_parsing() {
        assert_eq!(parse_uptime("1w2d3h4m5s"), Some(Duration::from_secs(604_800 + 2 * 86_400 + 3 * 3600 + 245)));
        assert_eq!(parse_uptime("01:22:53"), Some(Duration::from_secs(3600 + 22 * 60 + 53)));
        assert_eq!(parse_uptime("3d01:00:00"), Some(Duration::from_secs(3 * 86_400 + 3600)));
        assert_eq!(parse_uptime("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_uptime("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_uptime("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_uptime(""), None);
        assert_eq!(parse_uptime("abc"), None);
    }

    #[test]
    fn boolean_spellings_compare_equal() {
        let t = "true".to_owned();
        assert!(same_value(Some(&t), "yes"));
        assert!(same_value(Some(&t), "true"));
        assert!(!same_value(Some(&t), "no"));
        assert!(!same_value(None, ""));
    }
}
