//! `broadnet bench customers`: seeds customers and times the customer list API
//! with a search filter, through the real router and storage; `bench callbacks`,
//! `bench radius`, and `bench login-flood` (RADIUS latency during a login flood).

use crate::config::Config;
use crate::server::{build_app, ensure_first_admin, state};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use broadnet_domain::{CustomerStatus, CustomerType, Phone, SystemClock, Username};
use broadnet_store::{CustomerQuery, DynStore, NewCustomer};
use broadnet_store_sql::SqlStore;
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const FIRST: &[&str] = &[
    "John", "Mary", "Peter", "Grace", "James", "Faith", "David", "Joy", "Brian", "Mercy", "Kevin", "Ann", "Dennis",
    "Esther", "Collins", "Wanjiru",
];
const LAST: &[&str] = &[
    "Otieno", "Wanjiku", "Kamau", "Achieng", "Mwangi", "Njeri", "Kiptoo", "Chebet", "Omondi", "Mutua", "Kariuki",
    "Wambui", "Ouma", "Nyambura",
];

pub struct Report {
    pub backend: &'static str,
    pub customers: u64,
    pub runs: usize,
    pub median: Duration,
    pub p95: Duration,
    pub max: Duration,
    /// Per search term: (term, median, max).
    pub per_search: Vec<(String, Duration, Duration)>,
}

/// The package the RADIUS benchmarks' users are on: 10M/10M, any number of sessions.
pub(crate) fn bench_package(name: String) -> anyhow::Result<broadnet_store::NewPackage> {
    Ok(broadnet_store::NewPackage {
        name,
        description: None,
        service_type: broadnet_domain::ServiceType::Both,
        price: broadnet_domain::Money::parse_major("1000").map_err(|e| anyhow::anyhow!("{e}"))?,
        download_bps: 10_000_000,
        upload_bps: 10_000_000,
        burst: None,
        duration_minutes: 43200,
        data_limit_mb: None,
        shared_users: 1_000_000,
        framed_pool: None,
        active: true,
    })
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub async fn customers(cfg: &Config, count: u64, runs: usize) -> anyhow::Result<Report> {
    let store = SqlStore::open(cfg.database_url.expose()).await?;
    let dyn_store: DynStore = Arc::new(store.clone());
    let existing = seed_customers(&store, count).await?;
    let app = build_app(cfg, dyn_store.clone(), Arc::new(SystemClock));
    let mut bench_cfg = cfg.clone();
    bench_cfg.admin_username = "bench-admin".into();
    bench_cfg.admin_password = crate::config::Secret::new("bench-Pass-8472");
    ensure_first_admin(&bench_cfg, &app).await?;
    let username = dyn_store.list_admins().await?.first().map(|a| a.username.clone()).unwrap_or_default();
    let admin = dyn_store.get_admin_by_username(&username).await?;
    let (token, _) = app.tokens.issue(admin.id, &admin.username, admin.session_epoch, app.now());
    let router = broadnet_web::router(state(cfg, app));

    let searches = ["kamau", "grace", "0700012", "wanjiru otieno", "njeri 99", "254700000123", "mercy"];
    let mut times = Vec::with_capacity(runs);
    let mut by_search: Vec<Vec<Duration>> = vec![Vec::new(); searches.len()];
    let mut rng = rand::thread_rng();
    for r in 0..runs + 10 {
        let q = searches[r % searches.len()].replace(' ', "%20");
        let page = rng.gen_range(1..=3);
        let status = if r % 2 == 0 { "&status=active" } else { "" };
        let uri = format!("/api/customers?q={q}&page={page}&per_page=25{status}");
        let req = Request::get(&uri).header("authorization", format!("Bearer {token}")).body(Body::empty())?;
        let t = Instant::now();
        let resp = router.clone().oneshot(req).await?;
        let status_code = resp.status();
        let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
        let took = t.elapsed();
        anyhow::ensure!(status_code == StatusCode::OK, "list returned {status_code}");
        if r >= 10 {
            times.push(took);
            by_search[r % searches.len()].push(took);
        }
    }
    times.sort();
    let per_search = searches
        .iter()
        .zip(by_search.iter_mut())
        .map(|(term, t)| {
            t.sort();
            (term.to_string(), percentile(t, 0.5), t.last().copied().unwrap_or_default())
        })
        .collect();
    use broadnet_store::Store;
    let report = Report {
        backend: store.backend_name(),
        customers: count.max(existing),
        runs: times.len(),
        median: percentile(&times, 0.5),
        p95: percentile(&times, 0.95),
        max: times.last().copied().unwrap_or_default(),
        per_search,
    };
    store.close().await;
    Ok(report)
}

/// Seeds customers up to `count` (5,000 a statement) and returns how many there
/// were before.
pub(crate) async fn seed_customers(store: &SqlStore, count: u64) -> anyhow::Result<u64> {
    let dyn_store: DynStore = Arc::new(store.clone());
    let existing = dyn_store.list_customers(&CustomerQuery { per_page: 1, ..Default::default() }).await?.total;
    if existing < count {
        let started = Instant::now();
        let mut rng = rand::thread_rng();
        let now = chrono::Utc::now();
        let mut i = existing;
        while i < count {
            let batch: Vec<NewCustomer> = (i..(i + 5_000).min(count))
                .map(|n| {
                    let first = FIRST[rng.gen_range(0..FIRST.len())];
                    let last = LAST[rng.gen_range(0..LAST.len())];
                    NewCustomer {
                        full_name: format!("{first} {last} {n}"),
                        username: Username::parse(&format!("{}{}{n}", first.to_lowercase(), last.to_lowercase()))
                            .unwrap_or_else(|_| unreachable!()),
                        password: "pass1234".into(),
                        phone: Phone::parse(&format!("07{:08}", n % 100_000_000)).unwrap_or_else(|_| unreachable!()),
                        email: None,
                        customer_type: if n % 3 == 0 { CustomerType::Hotspot } else { CustomerType::Pppoe },
                        package_id: None,
                        router_id: None,
                        status: if n % 5 == 0 { CustomerStatus::Expired } else { CustomerStatus::Active },
                        expires_at: Some(now + chrono::Duration::days((n % 60) as i64 - 10)),
                        mac_address: None,
                        static_ip: None,
                        location: None,
                        notes: None,
                        // Spread over about a year at 100k, for the new-customers chart.
                        created_at: now - chrono::Duration::minutes(((count - n) * 5) as i64),
                    }
                })
                .collect();
            let n = batch.len() as u64;
            dyn_store.insert_customers_bulk(batch).await?;
            i += n;
        }
        eprintln!("seeded {} customers in {:.1}s", count - existing, started.elapsed().as_secs_f64());
        // A database in service has planner statistics; a fresh bulk load has none.
        store.analyze().await?;
    }
    Ok(existing)
}

/// The router the RADIUS benchmarks send from (127.0.0.1, secret `testing123`), once.
pub(crate) async fn bench_router(store: &DynStore, actor: &broadnet_store::Actor) -> anyhow::Result<()> {
    if store.radius_clients().await?.iter().all(|c| c.nas_ip != "127.0.0.1") {
        store
            .create_router(
                actor,
                broadnet_store::NewRouter {
                    name: "bench".into(),
                    nas_ip: Some("127.0.0.1".into()),
                    radius_secret: "testing123".into(),
                    service_types: broadnet_domain::ServiceType::Both,
                    require_message_authenticator: true,
                },
            )
            .await?;
    }
    Ok(())
}

/// Seeds the FreeRADIUS benchmark's population and serves RADIUS until a signal.
pub async fn radius(cfg: &Config, users: u32, auth_port: u16, acct_port: u16) -> anyhow::Result<()> {
    use broadnet_store::Actor;
    let store = SqlStore::open(cfg.database_url.expose()).await?;
    let dyn_store: DynStore = Arc::new(store.clone());
    let now = chrono::Utc::now();
    let actor = Actor::system("bench", now);
    bench_router(&dyn_store, &actor).await?;
    let existing = dyn_store.list_customers(&CustomerQuery { per_page: 1, ..Default::default() }).await?.total;
    if existing == 0 {
        let pkg = dyn_store.create_package(&actor, bench_package("Bench 10M".into())?).await?;
        let started = Instant::now();
        let mut batch = Vec::new();
        for n in 1..=users {
            batch.push(NewCustomer {
                full_name: format!("Bench User {n}"),
                username: Username::parse(&format!("user{n:05}")).map_err(|e| anyhow::anyhow!("{e}"))?,
                password: format!("pass{n:05}"),
                phone: Phone::parse(&format!("07{:08}", n)).map_err(|e| anyhow::anyhow!("{e}"))?,
                email: None,
                customer_type: CustomerType::Pppoe,
                package_id: Some(pkg.id),
                router_id: None,
                status: CustomerStatus::Active,
                expires_at: Some(now + chrono::Duration::days(30)),
                mac_address: None,
                static_ip: None,
                location: None,
                notes: None,
                created_at: now,
            });
            if batch.len() == 5000 || n == users {
                dyn_store.insert_customers_bulk(std::mem::take(&mut batch)).await?;
            }
        }
        store.analyze().await?;
        eprintln!("seeded {users} RADIUS users in {:.1}s", started.elapsed().as_secs_f64());
    }
    let mut rcfg = crate::server::radius_config(cfg)?;
    rcfg.auth_addr = std::net::SocketAddr::from(([127, 0, 0, 1], auth_port));
    rcfg.acct_addr = std::net::SocketAddr::from(([127, 0, 0, 1], acct_port));
    let server = broadnet_radius_server::Server::new(dyn_store, rcfg);
    let bound = server.bind().await?;
    println!(
        "RADIUS bench server: auth 127.0.0.1:{auth_port}, acct 127.0.0.1:{acct_port}, secret testing123 (Ctrl-C to stop)"
    );
    let shutdown = tokio_util::sync::CancellationToken::new();
    crate::server::cancel_on_signal(shutdown.clone());
    let stats = server.stats.clone();
    server.run(bound, shutdown).await;
    print!("{}", stats.render());
    store.close().await;
    Ok(())
}

/// What `bench callbacks` measured.
pub struct CallbackReport {
    pub backend: &'static str,
    pub callbacks: usize,
    pub concurrency: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// M-Pesa success callbacks over real HTTP, `concurrency` at a time, each for its own
/// pending payment: the response is sent after the renewal has committed, so its
/// latency is the time from callback to committed renewal.
pub async fn callbacks(cfg: &Config, count: usize, concurrency: usize) -> anyhow::Result<CallbackReport> {
    use broadnet_domain::{Money, PaymentProvider};
    use broadnet_store::{NewPackage, NewPayment};
    let store = SqlStore::open(cfg.database_url.expose()).await?;
    let dyn_store: DynStore = Arc::new(store.clone());
    let app = build_app(cfg, dyn_store.clone(), Arc::new(SystemClock));
    ensure_first_admin(cfg, &app).await?;
    let actor = broadnet_store::Actor::system("bench", chrono::Utc::now());
    let run = rand::random::<u32>();
    let pkg = dyn_store
        .create_package(
            &actor,
            NewPackage {
                name: format!("Bench {run:08x}"),
                description: None,
                service_type: broadnet_domain::ServiceType::Both,
                price: Money::parse_major("1500").map_err(|e| anyhow::anyhow!("{e}"))?,
                download_bps: 10_000_000,
                upload_bps: 5_000_000,
                burst: None,
                duration_minutes: 43_200,
                data_limit_mb: None,
                shared_users: 1,
                framed_pool: None,
                active: true,
            },
        )
        .await?;
    // One customer per 10 payments, so renewals of the same customer also contend.
    let now = chrono::Utc::now();
    let customers: Vec<NewCustomer> = (0..count.div_ceil(10))
        .map(|n| NewCustomer {
            full_name: format!("Bench Payer {n}"),
            username: Username::parse(&format!("cb{run:08x}x{n}")).unwrap_or_else(|_| unreachable!()),
            password: "pass1234".into(),
            phone: Phone::parse(&format!("07{:08}", n % 100_000_000)).unwrap_or_else(|_| unreachable!()),
            email: None,
            customer_type: CustomerType::Pppoe,
            package_id: Some(pkg.id),
            router_id: None,
            status: CustomerStatus::Active,
            expires_at: Some(now),
            mac_address: None,
            static_ip: None,
            location: None,
            notes: None,
            created_at: now,
        })
        .collect();
    dyn_store.insert_customers_bulk(customers).await?;
    let mut payments = Vec::with_capacity(count);
    for n in 0..count {
        let c = dyn_store.get_customer_by_username(&format!("cb{run:08x}x{}", n / 10)).await?;
        let checkout = format!("ws_CO_bench{run:08x}{n:07}");
        dyn_store
            .create_payment(NewPayment {
                customer_id: c.id,
                package_id: pkg.id,
                provider: PaymentProvider::Mpesa,
                amount: pkg.price,
                currency: "KES".into(),
                phone: Some(c.phone.clone()),
                checkout_request_id: Some(checkout.clone()),
                merchant_request_id: None,
                account_reference: None,
                initiated_by_admin_id: None,
                created_at: now,
            })
            .await?;
        payments.push((checkout, c.phone.as_str().to_string()));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/api/payments/cb/stk/{}", listener.local_addr()?, app.callback_token());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(crate::server::serve_http(
        listener,
        state(cfg, app),
        axum::Router::new(),
        cfg.http,
        shutdown.clone(),
    ));
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let queue = Arc::new(tokio::sync::Mutex::new(payments.into_iter().enumerate()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, url, queue) = (http.clone(), url.clone(), queue.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let Some((n, (checkout, phone))) = queue.lock().await.next() else { break };
                let body = serde_json::json!({"Body": {"stkCallback": {
                    "MerchantRequestID": format!("m-{n}"), "CheckoutRequestID": checkout, "ResultCode": 0,
                    "ResultDesc": "The service request is processed successfully.",
                    "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 1500.0},
                        {"Name": "MpesaReceiptNumber", "Value": format!("B{run:08X}{n:07}")}, {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20261125120000u64},
                        {"Name": "PhoneNumber", "Value": phone.parse::<u64>().unwrap_or_default()}]}}}});
                let t = Instant::now();
                let ok = http.post(&url).json(&body).send().await.map(|r| r.status().is_success()).unwrap_or(false);
                lat.push(t.elapsed());
                if !ok {
                    return Err(anyhow::anyhow!("callback {n} was not acknowledged"));
                }
            }
            Ok(lat)
        }));
    }
    let mut lat = Vec::with_capacity(count);
    for w in workers {
        lat.extend(w.await??);
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    let _ = server.await;
    let completed = dyn_store
        .list_payments(&broadnet_store::PaymentQuery {
            status: Some(broadnet_domain::PaymentStatus::Completed),
            per_page: 1,
            page: 1,
            ..Default::default()
        })
        .await?
        .total;
    anyhow::ensure!(completed as usize >= count, "only {completed} of {count} payments completed");
    lat.sort();
    let report = CallbackReport {
        backend: store_backend_name(&store),
        callbacks: count,
        concurrency,
        elapsed,
        p50: percentile(&lat, 0.50),
        p99: percentile(&lat, 0.99),
        max: lat.last().copied().unwrap_or_default(),
    };
    store.close().await;
    Ok(report)
}

fn store_backend_name(s: &SqlStore) -> &'static str {
    use broadnet_store::Store;
    s.backend_name()
}

/// What `bench login-flood` measured.
pub struct FloodReport {
    pub backend: &'static str,
    pub logins: usize,
    pub concurrency: usize,
    /// HTTP status of each login attempt, counted.
    pub login_statuses: std::collections::BTreeMap<u16, usize>,
    pub flood_elapsed: Duration,
    /// RADIUS Access-Request round trips with no flood, then during it.
    pub idle: Latencies,
    pub flood: Latencies,
    /// Requests with no answer within 5 s (a NAS would have retried or failed over).
    pub radius_lost: usize,
    pub health_max: Duration,
}

#[derive(Default)]
pub struct Latencies {
    pub n: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

fn latencies(mut v: Vec<Duration>) -> Latencies {
    v.sort();
    Latencies {
        n: v.len(),
        p50: percentile(&v, 0.50),
        p99: percentile(&v, 0.99),
        max: v.last().copied().unwrap_or_default(),
    }
}

/// One PAP Access-Request for the probe user, timed until its answer.
async fn radius_probe(sock: &tokio::net::UdpSocket, id: u8) -> anyhow::Result<Option<Duration>> {
    use broadnet_radius::dict::attr;
    use broadnet_radius::{Avp, Code, crypto, encode_request};
    let ra: [u8; 16] = rand::random();
    let hidden = crypto::hide_password(b"flood-probe-pw", b"testing123", &ra).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let attrs = [
        Avp::text(attr::USER_NAME, "floodprobe"),
        Avp::new(attr::USER_PASSWORD, hidden),
        Avp::ipv4(attr::NAS_IP_ADDRESS, std::net::Ipv4Addr::LOCALHOST),
    ];
    let req = encode_request(Code::AccessRequest, id, &attrs, b"testing123", true, ra)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let t = Instant::now();
    sock.send(&req).await?;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5).saturating_sub(t.elapsed()), sock.recv(&mut buf)).await {
            Err(_) => return Ok(None),
            Ok(r) => {
                let n = r?;
                if n > 1 && buf[1] == id {
                    return Ok(Some(t.elapsed()));
                }
            }
        }
    }
}

/// RADIUS Access-Requests, one every 20 ms, until `stop`: (round trips, unanswered).
async fn radius_prober(
    target: std::net::SocketAddr,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    sock.connect(target).await?;
    let (mut times, mut lost, mut id) = (Vec::new(), 0, 0u8);
    while !stop.is_cancelled() {
        id = id.wrapping_add(1);
        match radius_probe(&sock, id).await? {
            Some(t) => times.push(t),
            None => lost += 1,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((times, lost))
}

/// Starts the HTTP API and the RADIUS server as `serve` does, then measures RADIUS
/// Access-Request latency idle and while `logins` wrong admin logins arrive,
/// `concurrency` at a time, each from its own forwarded address and for its own
/// username (so every one reaches the password check instead of the rate limiter).
/// The load generators run on a runtime of their own, so that only the server's
/// runtime is measured.
pub async fn login_flood(cfg: &Config, logins: usize, concurrency: usize) -> anyhow::Result<FloodReport> {
    use broadnet_store::Actor;
    let store = SqlStore::open(cfg.database_url.expose()).await?;
    let dyn_store: DynStore = Arc::new(store.clone());
    let now = chrono::Utc::now();
    let actor = Actor::system("bench", now);
    bench_router(&dyn_store, &actor).await?;
    if dyn_store.get_customer_by_username("floodprobe").await.is_err() {
        let pkg = dyn_store
            .create_package(&actor, bench_package(format!("Flood probe {:08x}", rand::random::<u32>()))?)
            .await?;
        dyn_store
            .insert_customers_bulk(vec![NewCustomer {
                full_name: "Flood Probe".into(),
                username: Username::parse("floodprobe").map_err(|e| anyhow::anyhow!("{e}"))?,
                password: "flood-probe-pw".into(),
                phone: Phone::parse("0799000001").map_err(|e| anyhow::anyhow!("{e}"))?,
                email: None,
                customer_type: CustomerType::Pppoe,
                package_id: Some(pkg.id),
                router_id: None,
                status: CustomerStatus::Active,
                expires_at: Some(now + chrono::Duration::days(30)),
                mac_address: None,
                static_ip: None,
                location: None,
                notes: None,
                created_at: now,
            }])
            .await?;
    }
    let app = build_app(cfg, dyn_store.clone(), Arc::new(SystemClock));
    ensure_first_admin(cfg, &app).await?;

    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut rcfg = crate::server::radius_config(cfg)?;
    rcfg.auth_addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    rcfg.acct_addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let radius = broadnet_radius_server::Server::new(dyn_store.clone(), rcfg);
    let bound = radius.bind().await?;
    let radius_addr = bound.auth.local_addr()?;
    let radius_task = tokio::spawn(radius.clone().run(bound, shutdown.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let http_task = tokio::spawn(crate::server::serve_http(
        listener,
        state(cfg, app),
        axum::Router::new(),
        cfg.http,
        shutdown.clone(),
    ));

    // The load runs on its own threads; its results come back through a channel.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
        let result = match rt {
            Ok(rt) => rt.block_on(flood_load(base, radius_addr, logins, concurrency)),
            Err(e) => Err(e.into()),
        };
        let _ = tx.send(result);
    });
    let load = rx.await.map_err(|_| anyhow::anyhow!("the load thread died"))??;
    shutdown.cancel();
    let _ = radius_task.await;
    let _ = http_task.await;
    let report = FloodReport { backend: store_backend_name(&store), logins, concurrency, ..load };
    store.close().await;
    Ok(report)
}

async fn flood_load(
    base: String,
    radius_addr: std::net::SocketAddr,
    logins: usize,
    concurrency: usize,
) -> anyhow::Result<FloodReport> {
    // Idle: two seconds of probes with nothing else going on.
    let stop = tokio_util::sync::CancellationToken::new();
    let idle = tokio::spawn(radius_prober(radius_addr, stop.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    let (idle_times, idle_lost) = idle.await??;

    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let stop = tokio_util::sync::CancellationToken::new();
    let prober = tokio::spawn(radius_prober(radius_addr, stop.clone()));
    let health = {
        let (http, url, stop) = (http.clone(), format!("{base}/health"), stop.clone());
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            while !stop.is_cancelled() {
                let t = Instant::now();
                let _ = http.get(&url).send().await;
                worst = worst.max(t.elapsed());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            worst
        })
    };
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, url, next) = (http.clone(), format!("{base}/api/auth/login"), next.clone());
        workers.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= logins {
                    return statuses;
                }
                let ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
                let body = serde_json::json!({"username": format!("flood{n}"), "password": "wrong password"});
                let status = match http.post(&url).header("x-real-ip", ip).json(&body).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                statuses.push(status);
            }
        }));
    }
    let mut login_statuses = std::collections::BTreeMap::new();
    for w in workers {
        for s in w.await? {
            *login_statuses.entry(s).or_insert(0) += 1;
        }
    }
    let flood_elapsed = started.elapsed();
    stop.cancel();
    let (times, lost) = prober.await??;
    let health_max = health.await?;
    Ok(FloodReport {
        backend: "",
        logins,
        concurrency,
        login_statuses,
        flood_elapsed,
        idle: latencies(idle_times),
        flood: latencies(times),
        radius_lost: lost + idle_lost,
        health_max,
    })
}

/// One kind of login measured by `bench radius-logins`.
pub struct LoginMode {
    pub name: &'static str,
    pub requests: usize,
    pub accepts: usize,
    /// Requests with no answer within 2 s.
    pub lost: usize,
    pub elapsed: Duration,
    pub latencies: Latencies,
}

/// What `bench radius-logins` measured.
pub struct LoginReport {
    pub backend: &'static str,
    pub accounts: usize,
    pub inflight: usize,
    pub modes: Vec<LoginMode>,
}

/// The MAC of bench device `n`.
fn bench_mac(tag: u8, n: usize) -> String {
    format!("02:{tag:02X}:{:02X}:{:02X}:{:02X}:{:02X}", (n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

/// Access-Requests from `inflight` clients at once (the server's own process, its own
/// runtime), `total` of them, request `n` made by `make(n)` (attributes, password).
async fn login_load(
    target: std::net::SocketAddr,
    total: usize,
    inflight: usize,
    make: Arc<dyn Fn(usize) -> (Vec<broadnet_radius::Avp>, String) + Send + Sync>,
) -> anyhow::Result<(usize, usize, Duration, Vec<Duration>)> {
    use broadnet_radius::dict::attr;
    use broadnet_radius::{Avp, Code, crypto, encode_request};
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..inflight.max(1) {
        let (next, make) = (next.clone(), make.clone());
        workers.push(tokio::spawn(async move {
            let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
            sock.connect(target).await?;
            let (mut times, mut accepts, mut lost) = (Vec::new(), 0usize, 0usize);
            let mut buf = [0u8; 4096];
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= total {
                    return anyhow::Ok((times, accepts, lost));
                }
                let (mut attrs, password) = make(n);
                let ra: [u8; 16] = rand::random();
                let hidden = crypto::hide_password(password.as_bytes(), b"testing123", &ra)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                attrs.push(Avp::new(attr::USER_PASSWORD, hidden));
                let id = (n & 255) as u8;
                let req = encode_request(Code::AccessRequest, id, &attrs, b"testing123", true, ra)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let t = Instant::now();
                sock.send(&req).await?;
                loop {
                    match tokio::time::timeout(Duration::from_secs(2).saturating_sub(t.elapsed()), sock.recv(&mut buf))
                        .await
                    {
                        Err(_) => {
                            lost += 1;
                            break;
                        }
                        Ok(r) => {
                            let len = r?;
                            if len > 1 && buf[1] == id {
                                times.push(t.elapsed());
                                if buf[0] == Code::AccessAccept.as_u8() {
                                    accepts += 1;
                                }
                                break;
                            }
                        }
                    }
                }
            }
        }));
    }
    let (mut times, mut accepts, mut lost) = (Vec::new(), 0, 0);
    for w in workers {
        let (t, a, l) = w.await??;
        times.extend(t);
        accepts += a;
        lost += l;
    }
    Ok((accepts, lost, started.elapsed(), times))
}

/// RADIUS auth throughput by kind of login, on one server and one load generator:
/// PAP (PPPoE customers, the `bench radius` population), a code-mode voucher's first
/// use (activation and its sale), an active voucher, and MAC login of a bound device.
/// Each kind is `accounts` accounts, asked `total` times (first use: once each).
pub async fn radius_logins(
    cfg: &Config,
    accounts: usize,
    total: usize,
    inflight: usize,
) -> anyhow::Result<LoginReport> {
    use broadnet_domain::{VoucherCharset, VoucherMode, VoucherValidity};
    use broadnet_radius::Avp;
    use broadnet_radius::dict::attr;
    use broadnet_store::{Actor, NewVoucherBatch};
    let store = SqlStore::open(cfg.database_url.expose()).await?;
    let dyn_store: DynStore = Arc::new(store.clone());
    let now = chrono::Utc::now();
    let actor = Actor::system("bench", now);
    bench_router(&dyn_store, &actor).await?;
    let run = rand::random::<u32>();
    let mut pkg = bench_package(format!("Logins {run:08x}"))?;
    pkg.duration_minutes = 60 * 24;
    let pkg = dyn_store.create_package(&actor, pkg).await?;
    let started = Instant::now();
    let customer = |name: String, ctype: CustomerType, n: usize| -> anyhow::Result<NewCustomer> {
        Ok(NewCustomer {
            full_name: format!("Bench Login {n}"),
            username: Username::parse(&name).map_err(|e| anyhow::anyhow!("{e}"))?,
            password: format!("pass{n:05}"),
            phone: Phone::parse(&format!("07{:08}", n % 100_000_000)).map_err(|e| anyhow::anyhow!("{e}"))?,
            email: None,
            customer_type: ctype,
            package_id: Some(pkg.id),
            router_id: None,
            status: CustomerStatus::Active,
            expires_at: Some(now + chrono::Duration::days(30)),
            mac_address: None,
            static_ip: None,
            location: None,
            notes: None,
            created_at: now,
        })
    };
    let mut rows = Vec::with_capacity(accounts * 2);
    for n in 0..accounts {
        rows.push(customer(format!("p{run:08x}x{n}"), CustomerType::Pppoe, n)?);
        rows.push(customer(format!("h{run:08x}x{n}"), CustomerType::Hotspot, n)?);
    }
    for chunk in rows.chunks(5000) {
        dyn_store.insert_customers_bulk(chunk.to_vec()).await?;
    }
    for n in 0..accounts {
        let mac = broadnet_domain::Mac::parse(&bench_mac(1, n)).map_err(|e| anyhow::anyhow!("{e}"))?;
        dyn_store.bind_device(&format!("h{run:08x}x{n}"), &mac, 1, now).await?;
    }
    let code = move |n: usize| format!("V{run:08X}{n:06}");
    dyn_store
        .create_voucher_batch(
            &actor,
            NewVoucherBatch {
                name: format!("Bench {run:08x}"),
                package_id: pkg.id,
                prefix: String::new(),
                code_length: 15,
                charset: VoucherCharset::Mixed,
                mode: VoucherMode::Code,
                validity: VoucherValidity::FirstUse,
                valid_until: None,
                max_devices: 1,
                price: broadnet_domain::Money::parse_major("20").map_err(|e| anyhow::anyhow!("{e}"))?,
                codes: (0..accounts).map(|n| (code(n), None)).collect(),
                created_at: now,
            },
        )
        .await?;
    store.analyze().await?;
    eprintln!("seeded {accounts} accounts of each kind in {:.1}s", started.elapsed().as_secs_f64());

    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut rcfg = crate::server::radius_config(cfg)?;
    rcfg.auth_addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    rcfg.acct_addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let radius = broadnet_radius_server::Server::new(dyn_store.clone(), rcfg);
    let bound = radius.bind().await?;
    let target = bound.auth.local_addr()?;
    let radius_task = tokio::spawn(radius.clone().run(bound, shutdown.clone()));

    type Make = Arc<dyn Fn(usize) -> (Vec<Avp>, String) + Send + Sync>;
    let hotspot = |user: String, mac: String| {
        vec![
            Avp::text(attr::USER_NAME, &user),
            Avp::text(attr::CALLING_STATION_ID, &mac),
            Avp::int(attr::NAS_PORT_TYPE, 19),
        ]
    };
    let pap: Make = Arc::new(move |n| {
        let n = n % accounts;
        let attrs = vec![
            Avp::text(attr::USER_NAME, &format!("p{run:08x}x{n}")),
            Avp::int(attr::SERVICE_TYPE, 2),
            Avp::int(attr::FRAMED_PROTOCOL, 1),
        ];
        (attrs, format!("pass{n:05}"))
    });
    let voucher: Make = Arc::new(move |n| {
        let n = n % accounts;
        (hotspot(code(n), bench_mac(2, n)), code(n))
    });
    let mac_login: Make = Arc::new(move |n| {
        let mac = bench_mac(1, n % accounts);
        (hotspot(mac.clone(), mac.clone()), mac)
    });
    let plan: [(&'static str, usize, Make); 4] = [
        ("PAP (PPPoE customer)", total, pap),
        ("voucher, first use", accounts, voucher.clone()),
        ("voucher, active", total, voucher),
        ("MAC login", total, mac_login),
    ];
    // The load runs on its own threads, so that only the server's runtime is measured.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
        let result = match rt {
            Ok(rt) => rt.block_on(async move {
                let mut modes = Vec::new();
                for (name, requests, make) in plan {
                    let (accepts, lost, elapsed, times) = login_load(target, requests, inflight, make).await?;
                    modes.push(LoginMode { name, requests, accepts, lost, elapsed, latencies: latencies(times) });
                }
                anyhow::Ok(modes)
            }),
            Err(e) => Err(e.into()),
        };
        let _ = tx.send(result);
    });
    let modes = rx.await.map_err(|_| anyhow::anyhow!("the load thread died"))??;
    shutdown.cancel();
    let _ = radius_task.await;
    let report = LoginReport { backend: store_backend_name(&store), accounts, inflight, modes };
    store.close().await;
    Ok(report)
}
