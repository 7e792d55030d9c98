//! Wiring: store + use cases + HTTP, the first superadmin, and graceful shutdown.

use crate::config::{Config, HttpLimits};
use anyhow::Context;
use broadnet_app::App;
use broadnet_app::auth::{TokenKey, random_password};
use broadnet_app::crypto::SecretBox;
use broadnet_domain::{Clock, Role, SystemClock};
use broadnet_store::{Actor, DynStore};
use broadnet_store_sql::SqlStore;
use broadnet_web::{AppState, Metrics};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub async fn open_store(cfg: &Config) -> anyhow::Result<SqlStore> {
    let url = cfg.database_url.expose();
    SqlStore::open(url).await.with_context(|| format!("opening the database {}", broadnet_store_sql::redact_url(url)))
}

pub fn build_app(cfg: &Config, store: DynStore, clock: Arc<dyn Clock>) -> App {
    let nas = broadnet_radius_server::Nas::new(
        store.clone(),
        Default::default(),
        cfg.radius_coa_port,
        cfg.radius_shared_secret.expose().to_string(),
    );
    App::new(
        store,
        clock,
        TokenKey::new(cfg.jwt_secret.expose().as_bytes(), cfg.jwt_expires_in),
        match &cfg.encryption_previous {
            Some(previous) => {
                SecretBox::from_key_material(cfg.encryption_key.expose()).with_previous(previous.expose())
            }
            None => SecretBox::from_key_material(cfg.encryption_key.expose()),
        },
    )
    .with_nas(Arc::new(nas))
    .with_retention(cfg.retention)
    .with_freeradius_db(cfg.radius_db_url.expose())
    .with_gateway(cfg.gateway_env())
    .with_router_env(broadnet_app::routers::RouterEnv {
        provision_base_url: cfg.provision_base_url.clone().or_else(|| Some(format!("{}/provision", cfg.app_url))),
        provision_secret: if cfg.provision_secret.is_empty() {
            // Development: derived from the install's key, so tokens survive a restart.
            format!("provision:{}", cfg.jwt_secret.expose())
        } else {
            cfg.provision_secret.expose().to_string()
        },
        radius_ip: cfg.radius_ip.map(|ip| ip.to_string()),
        bridge_gateway: cfg.bridge_gateway.clone(),
        dhcp_range: (cfg.dhcp_range.0.to_string(), cfg.dhcp_range.1.to_string()),
        coa_port: cfg.radius_coa_port,
        auth_port: cfg.radius_auth_port,
        acct_port: cfg.radius_acct_port,
        public_url: cfg.app_url.clone(),
        allow_loopback: cfg.router_allow_loopback,
    })
}

/// The built-in simulators `serve` mounts under `/simulator/{mpesa,airtel,sms}` when a
/// provider's environment is `simulator`: the whole payment flow with no accounts.
pub fn simulators(cfg: &Config, callback_base: &str) -> axum::Router {
    use broadnet_app::gateway::{SIM_AIRTEL, SIM_MPESA, SIM_SMS};
    use broadnet_sim as sim;
    let mut r = axum::Router::new();
    for name in cfg.simulators() {
        r = match name {
            "mpesa" => {
                let s = sim::mpesa::MpesaSim::new(
                    SIM_MPESA.consumer_key,
                    SIM_MPESA.consumer_secret,
                    SIM_MPESA.shortcode,
                    SIM_MPESA.passkey,
                );
                r.nest("/simulator/mpesa", s.router())
            }
            "airtel" => {
                let s = sim::airtel::AirtelSim::new(
                    SIM_AIRTEL.client_id,
                    SIM_AIRTEL.client_secret,
                    Some(callback_base.to_string()),
                    Some(cfg.airtel.callback_key.expose().to_string()).filter(|k| !k.is_empty()),
                );
                r.nest("/simulator/airtel", s.router())
            }
            _ => r.nest("/simulator/sms", sim::sms::SmsSim::new(SIM_SMS.username, SIM_SMS.api_key).router()),
        };
    }
    r
}

pub fn state(cfg: &Config, app: App) -> AppState {
    AppState {
        app,
        metrics: Arc::new(Metrics::default()),
        secure_cookies: cfg.is_production(),
        trusted_proxies: cfg.trusted_proxies.clone(),
        request_timeout: cfg.http.request_timeout,
    }
}

/// The superadmin created on first start.
pub struct FirstAdmin {
    pub username: String,
    /// Present when generated (to be printed once); `None` when it came from ADMIN_PASSWORD.
    pub generated_password: Option<String>,
}

/// Creates the first superadmin when there is no admin at all.
pub async fn ensure_first_admin(cfg: &Config, app: &App) -> anyhow::Result<Option<FirstAdmin>> {
    if app.store.count_admins().await? > 0 {
        return Ok(None);
    }
    let (password, generated) = if cfg.admin_password.is_empty() {
        (random_password(16), true)
    } else {
        (cfg.admin_password.expose().to_string(), false)
    };
    let actor = Actor::system("first-start", app.now());
    app.create_admin_as(&actor, &cfg.admin_username, &password, Role::Superadmin, Some("Superadmin".into()), None)
        .await
        .map_err(|e| anyhow::anyhow!("creating the first admin: {e}"))?;
    Ok(Some(FirstAdmin { username: cfg.admin_username.clone(), generated_password: generated.then_some(password) }))
}

/// Runs the HTTP server on a bound listener until `shutdown` is cancelled, then lets
/// the requests in flight finish.
///
/// Served through hyper directly rather than `axum::serve`, for what that lacks
/// (review D4): a deadline for request headers, which also ends idle keep-alive
/// connections, and a cap on open connections, so stalled sockets cannot use up the
/// process's file descriptors and shut out `/health` and the payment callbacks.
pub async fn serve_http(
    listener: TcpListener,
    state: AppState,
    extra: axum::Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let trusted = state.trusted_proxies.clone();
    let router = extra.merge(broadnet_web::router(state));
    let mut http = hyper::server::conn::http1::Builder::new();
    // A request head is a few KB; hyper's default buffer (~400 KB) let stalled clients
    // hold that much memory each.
    http.max_buf_size(MAX_HEAD_BYTES);
    let per_client = Arc::new(PerClient::new(limits.max_per_client));
    // hyper restarts this deadline whenever it waits for a request head, so it bounds
    // both a slowly sent header and the idle time between keep-alive requests.
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Refusing takes a descriptor for up to a second too; past this many at once, over-limit
    // connections are closed without an answer.
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors (EMFILE) or a connection reset before accept: the
                // listener is fine. Pause, so a full descriptor table is not a busy loop.
                tracing::warn!(error = %e, "cannot accept an HTTP connection");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => continue,
                }
            }
        };
        // IPv4 clients of a dual-stack listener arrive as ::ffff:a.b.c.d.
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        // One client (an address, or a /64 for IPv6) cannot take every slot; a trusted
        // proxy carries everyone's connections and is not counted.
        let client_turn = if trusted.contains(peer.ip()) { None } else { per_client.enter(peer.ip()) };
        if !trusted.contains(peer.ip()) && client_turn.is_none() {
            if let Ok(turn) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(turn);
                });
            }
            tracing::debug!(%peer, "HTTP connections per client limit reached; refused");
            continue;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if let Ok(turn) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(turn);
                });
            }
            tracing::debug!(%peer, "HTTP connection limit reached; refused");
            continue;
        };
        // Handlers read the peer as axum's `ConnectInfo`, as under `axum::serve`.
        let service = router.clone().map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            req
        });
        let conn = http.serve_connection(TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(service));
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = shutdown.cancelled() => {
                    // Finish the request in flight, then close; idle connections close now.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // Header timeouts and clients that hang up: routine, not worth a warning.
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
            drop(slot);
            drop(client_turn);
        });
    }
    drop(listener);
    // Every slot back means every connection has closed. Requests are cut at the request
    // timeout, so this ends; the margin covers writing the last answers.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let drain = limits.request_timeout + limits.header_timeout;
    if tokio::time::timeout(drain, slots.acquire_many(all)).await.is_err() {
        tracing::warn!("HTTP connections still open at shutdown; closing them");
    }
    Ok(())
}

/// The largest request head (request line and headers) a connection may send.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Open connections per client address.
struct PerClient {
    max: usize,
    open: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

/// One open connection of a client; gives its place back when dropped.
struct ClientTurn {
    owner: Arc<PerClient>,
    key: std::net::IpAddr,
}

impl PerClient {
    fn new(max: usize) -> Self {
        PerClient { max, open: std::sync::Mutex::new(std::collections::HashMap::new()) }
    }

    /// IPv6 clients usually hold a whole /64: count them by it.
    fn key(ip: std::net::IpAddr) -> std::net::IpAddr {
        match ip {
            std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let s = v6.segments();
                std::net::IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
            other => other,
        }
    }

    fn enter(self: &Arc<Self>, ip: std::net::IpAddr) -> Option<ClientTurn> {
        let key = Self::key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(ClientTurn { owner: self.clone(), key })
    }
}

impl Drop for ClientTurn {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// How many over-limit connections are answered at once (see `refuse`).
const REFUSALS_AT_ONCE: usize = 64;

/// Answers a connection over the limit with a short 503 and closes it, so its
/// descriptor is free again within a second instead of held by a stalled client.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const BODY: &str = r#"{"error":{"code":"unavailable","message":"too many connections; try again shortly"}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 5\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        // Closing with the request still unread would send a reset, which can destroy
        // the answer before the client reads it: read what it sent (briefly) first.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// Cancels `token` on Ctrl-C or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
        tracing::info!("shutting down");
        token.cancel();
    });
}

/// `broadnet serve`: everything, until a signal.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let mut cfg = cfg;
    // DATA_DIR holds the embedded database and generated secrets: owner only, also
    // when an older version created it readable by everyone.
    if cfg.data_dir.is_dir() {
        broadnet_store_sql::private_dir(&cfg.data_dir)
            .with_context(|| format!("making {} private (mode 0700)", cfg.data_dir.display()))?;
    }
    let store = open_store(&cfg).await?;
    let dyn_store: DynStore = Arc::new(store.clone());
    let addr = format!("{}:{}", cfg.app_host, cfg.app_port);
    let listener =
        TcpListener::bind(&addr).await.with_context(|| format!("listening on {addr} (is APP_PORT in use?)"))?;
    let local = listener.local_addr()?;
    if cfg.app_port == 0 {
        // Any free port: callbacks must name the one we got.
        cfg.app_url = cfg.app_url.replace(":0", &format!(":{}", local.port()));
    }
    let app = build_app(&cfg, dyn_store, Arc::new(SystemClock));
    if cfg.encryption_previous.is_some()
        && let Err(e) = app.reencrypt_secrets().await
    {
        tracing::error!(error = %e, "could not move stored secrets to ENCRYPTION_KEY; they stay readable, will try at the next start");
    }
    let first = ensure_first_admin(&cfg, &app).await?;
    let st = state(&cfg, app);
    let radius = if cfg.radius_enabled {
        // RADIUS tells customers how to pay in the words Settings give SMS, and decides
        // on the app's clock.
        let radius = broadnet_radius_server::Server::with_sources(
            st.app.store.clone(),
            radius_config(&cfg)?,
            st.app.clock.clone(),
            Some(Arc::new(st.app.clone())),
        );
        let bound = radius.bind().await.with_context(|| {
            format!(
                "listening for RADIUS on UDP {} and {} (is FreeRADIUS running on them? then set RADIUS_ENABLED=false)",
                cfg.radius_auth_port, cfg.radius_acct_port
            )
        })?;
        let stats = radius.stats.clone();
        st.metrics.add_source(Arc::new(move || stats.render()));
        Some((radius, bound))
    } else {
        None
    };
    let shown_host =
        if cfg.app_host == "0.0.0.0" || cfg.app_host == "::" { "localhost".to_string() } else { cfg.app_host.clone() };
    let base = format!("http://{shown_host}:{}", local.port());
    println!("BroadNet Billing {} is running ({} database)", env!("CARGO_PKG_VERSION"), store_backend(&store));
    println!("  Admin URL:  {base}/  (open it in a browser and log in)");
    println!("  JSON API:   {base}/api  (log in: POST {base}/api/auth/login)");
    println!("  Health:     {base}/health");
    match &radius {
        Some((_, b)) => println!(
            "  RADIUS:     auth UDP {}, accounting UDP {}",
            b.auth.local_addr()?.port(),
            b.acct.local_addr()?.port()
        ),
        None => println!("  RADIUS:     built-in server off (RADIUS_ENABLED=false); FreeRADIUS reads the database"),
    }
    if let Some(first) = &first {
        match &first.generated_password {
            Some(pw) => {
                println!("  First start: superadmin created. Save this password now; it is shown only once:");
                println!("    username: {}", first.username);
                println!("    password: {pw}");
            }
            None => println!("  First start: superadmin {:?} created with ADMIN_PASSWORD.", first.username),
        }
    }
    tracing::info!(%local, "listening");
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    // The node's name in job leases: stable across restarts, so a restarted node takes
    // its own leases back at once instead of waiting for them to run out.
    let node = std::env::var("NODE_ID").unwrap_or_else(|_| format!("{}:{}", hostname(), local.port()));
    let jobs = spawn_jobs(st.app.clone(), &node, shutdown.clone());
    let radius_task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            if let Some((radius, bound)) = radius {
                radius.run(bound, shutdown).await;
            }
        }
    });
    let stale_job = tokio::spawn(broadnet_radius_server::close_stale_sessions_job(
        st.app.store.clone(),
        radius_config(&cfg)?.policy.interim_interval_secs,
        shutdown.clone(),
    ));
    let sims = simulators(&cfg, &format!("{}/api/payments/cb/airtel/{}", cfg.app_url, st.app.callback_token()));
    for name in cfg.simulators() {
        println!("  Simulator:  {name} at {}/simulator/{name}", cfg.app_url);
    }
    serve_http(listener, st, sims, cfg.http, shutdown.clone()).await?;
    shutdown.cancel();
    let _ = tokio::join!(radius_task, stale_job);
    for job in jobs {
        let _ = job.await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn store_backend(s: &SqlStore) -> &'static str {
    use broadnet_store::Store;
    s.backend_name()
}

/// The RADIUS server's settings from the configuration.
pub fn radius_config(cfg: &Config) -> anyhow::Result<broadnet_radius_server::Config> {
    let host: std::net::IpAddr = cfg.app_host.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let how_to_pay = match &cfg.mpesa.shortcode {
        Some(code) => format!("Pay with M-Pesa paybill {code} to reconnect."),
        None => "Pay with M-Pesa to reconnect.".to_string(),
    };
    Ok(broadnet_radius_server::Config {
        auth_addr: SocketAddr::new(host, cfg.radius_auth_port),
        acct_addr: SocketAddr::new(host, cfg.radius_acct_port),
        policy: broadnet_radius_server::authorization::Policy { how_to_pay, ..Default::default() },
        client_refresh: std::time::Duration::from_secs(30),
        default_secret: cfg.radius_shared_secret.expose().to_string(),
        coa_port: cfg.radius_coa_port,
    })
}

/// The background jobs, each run by the one node holding its lease: expiry sweep,
/// reminders, pending-payment reconciliation and outbox delivery.
pub fn spawn_jobs(app: App, node: &str, shutdown: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
    use std::time::Duration;
    let mut v = Vec::new();
    let node = node.to_string();
    let leased_job = move |app, name, every, shutdown, work| leased_job(app, node.clone(), name, every, shutdown, work);
    v.push(tokio::spawn(leased_job(app.clone(), "expiry", Duration::from_secs(60), shutdown.clone(), |a| {
        Box::pin(async move { a.run_expiry().await })
    })));
    v.push(tokio::spawn(leased_job(app.clone(), "reminders", Duration::from_secs(600), shutdown.clone(), |a| {
        Box::pin(async move { a.run_reminders().await })
    })));
    v.push(tokio::spawn(leased_job(app.clone(), "reconcile", Duration::from_secs(30), shutdown.clone(), |a| {
        Box::pin(async move { a.run_reconciliation().await })
    })));
    v.push(tokio::spawn(leased_job(app.clone(), "retention", Duration::from_secs(3600), shutdown.clone(), |a| {
        Box::pin(async move { a.run_retention().await })
    })));
    v.push(tokio::spawn(leased_job(app.clone(), "routers", Duration::from_secs(60), shutdown.clone(), |a| {
        Box::pin(async move { a.run_router_monitor().await })
    })));
    v.push(tokio::spawn(leased_job(app, "outbox", Duration::from_secs(5), shutdown, |a| {
        Box::pin(async move { a.run_outbox().await })
    })));
    v
}

type JobFuture = std::pin::Pin<Box<dyn std::future::Future<Output = broadnet_app::AppResult<usize>> + Send>>;

/// Runs `work` every `every` (the outbox also when woken) while this node holds the
/// named lease; the lease outlives a run by a margin, so a dead node is replaced.
pub async fn leased_job(
    app: App,
    holder: String,
    name: &'static str,
    every: std::time::Duration,
    shutdown: CancellationToken,
    work: fn(App) -> JobFuture,
) {
    let mut holding = false;
    let lease = if name == "outbox" {
        // Outlives a whole delivery run (at most 2 minutes plus one slow SMTP server), so
        // the entries a live holder has claimed are never released to another node.
        chrono::Duration::minutes(5)
    } else {
        chrono::Duration::seconds(90).max(chrono::Duration::from_std(every * 3).unwrap_or_default())
    };
    let wake = app.outbox_wake.clone();
    loop {
        let now = app.now();
        match app.store.try_lease(name, &holder, now, now + lease).await {
            Ok(true) => {
                if !holding && name == "outbox" {
                    // Claims of the previous holder (perhaps this node before a crash)
                    // are orphaned: deliver them now, not when their claim runs out.
                    match app.store.release_outbox_claims(now).await {
                        Ok(0) => {}
                        Ok(n) => tracing::warn!(entries = n, "took over outbox entries claimed before a crash"),
                        Err(e) => tracing::error!(error = %e, "cannot release outbox claims"),
                    }
                }
                holding = true;
                let outcome = work(app.clone()).await;
                let error = outcome.as_ref().err().map(ToString::to_string);
                match outcome {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(job = name, handled = n, "job ran"),
                    Err(e) => tracing::error!(job = name, error = %e, "job failed; will run again"),
                }
                // For the System page: when it ran, when it runs next, how it went.
                let at = app.now();
                let next_at = at + chrono::Duration::from_std(every).unwrap_or_default();
                let run = broadnet_store::JobRun { name: name.to_string(), holder: holder.clone(), at, next_at, error };
                if let Err(e) = app.store.record_job_run(&run).await {
                    tracing::warn!(job = name, error = %e, "cannot record the job's run");
                }
            }
            Ok(false) => holding = false,
            Err(e) => tracing::error!(job = name, error = %e, "cannot take the job lease"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
            _ = wake.notified(), if name == "outbox" => {}
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_string()).unwrap_or_else(|_| "node".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_client_cannot_take_every_connection() {
        let p = Arc::new(PerClient::new(2));
        let a: std::net::IpAddr = "203.0.113.9".parse().unwrap();
        let (t1, t2) = (p.enter(a).unwrap(), p.enter(a).unwrap());
        assert!(p.enter(a).is_none(), "third connection from one address");
        assert!(p.enter("203.0.113.10".parse().unwrap()).is_some(), "another address is not affected");
        // An IPv6 client owns its /64.
        let (v1, v2) = ("2001:db8:1:2::1".parse().unwrap(), "2001:db8:1:2:ffff::9".parse().unwrap());
        let _k = (p.enter(v1).unwrap(), p.enter(v2).unwrap());
        assert!(p.enter("2001:db8:1:2::77".parse().unwrap()).is_none());
        drop(t1);
        assert!(p.enter(a).is_some(), "a place is given back when a connection closes");
        drop(t2);
    }
}
