//! `broadnet bench pages`: seeds an ISP at scale (customers, accounting rows,
//! payments through the real completion), then times every admin page through the
//! real router in process, and weighs each page with its assets, gzipped.

use crate::bench::{bench_package, bench_router, percentile, seed_customers};
use crate::config::Config;
use crate::server::{build_app, ensure_first_admin, state};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use broadnet_domain::{Money, PaymentProvider, SystemClock};
use broadnet_store::{
    AcctEvent, AcctKind, Actor, Completion, CustomerQuery, DynStore, NewPayment, PaymentQuery, SessionQuery,
};
use broadnet_store_sql::SqlStore;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

pub struct PagesReport {
    pub backend: &'static str,
    pub customers: u64,
    pub sessions: u64,
    pub payments: u64,
    pub pages: Vec<PageTiming>,
}

pub struct PageTiming {
    pub path: String,
    pub status: u16,
    pub p50: Duration,
    pub p95: Duration,
    /// The HTML gzipped, and the page with every asset it loads (gzipped as sent).
    pub html_gzip: usize,
    pub total_gzip: usize,
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
    let _ = enc.write_all(bytes);
    enc.finish().map(|v| v.len()).unwrap_or(bytes.len())
}

async fn seed_sessions(store: &DynStore, count: u64, users: &[String]) -> anyhow::Result<u64> {
    let existing = store.list_sessions(&SessionQuery { per_page: 1, ..Default::default() }).await?.total;
    let now = chrono::Utc::now();
    let started = Instant::now();
    let mut n = existing;
    while n < count {
        let batch: Vec<(AcctKind, AcctEvent)> = (n..(n + 2_000).min(count))
            .map(|i| {
                let user = &users[(i as usize) % users.len()];
                // One in 200 still open; the rest stopped, spread over 90 days.
                let open = i % 200 == 0;
                let at = now - chrono::Duration::minutes((i % 129_600) as i64);
                let ev = AcctEvent {
                    unique_id: format!("bench-{i}"),
                    session_id: format!("{i:08x}"),
                    username: user.clone(),
                    nas_ip: "127.0.0.1".into(),
                    at,
                    session_time: Some(if open { 0 } else { 3_600 }),
                    input_octets: Some(((i * 7_919) % 900_000_000) as i64),
                    output_octets: Some(((i * 104_729) % 4_000_000_000) as i64),
                    framed_ip: Some(format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)),
                    terminate_cause: (!open).then(|| "User-Request".to_string()),
                    ..Default::default()
                };
                (if open { AcctKind::Start } else { AcctKind::Stop }, ev)
            })
            .collect();
        n += batch.len() as u64;
        store.record_accounting_batch(batch).await?;
    }
    if count > existing {
        eprintln!("seeded {} accounting rows in {:.1}s", count - existing, started.elapsed().as_secs_f64());
    }
    Ok(n.max(existing))
}

/// Payments made and completed through the real path (invoice, renewal, outbox),
/// `concurrency` at a time; spread over the last 90 days by provider.
async fn seed_payments(store: &DynStore, count: u64, concurrency: usize) -> anyhow::Result<u64> {
    let existing = store.list_payments(&PaymentQuery { page: 1, per_page: 1, ..Default::default() }).await?.total;
    if existing >= count {
        return Ok(existing);
    }
    let actor = Actor::system("bench", chrono::Utc::now());
    let pkg = store.create_package(&actor, bench_package(format!("Pages {:08x}", rand::random::<u32>()))?).await?;
    let ids: Vec<i64> = store
        .list_customers(&CustomerQuery { per_page: 500, ..Default::default() })
        .await?
        .items
        .into_iter()
        .map(|c| c.id)
        .collect();
    anyhow::ensure!(!ids.is_empty(), "seed customers first");
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(existing));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (store, next, ids, pkg) = (store.clone(), next.clone(), ids.clone(), pkg.clone());
        tasks.push(tokio::spawn(async move {
            let now = chrono::Utc::now();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    return anyhow::Ok(());
                }
                let (provider, key) = match i % 10 {
                    0..=5 => (PaymentProvider::Mpesa, Some(format!("ws_CO_pages{i:09}"))),
                    6 | 7 => (PaymentProvider::Mpesa, Some(format!("C2B-PG{i:09}"))),
                    8 => (PaymentProvider::Airtel, Some(format!("AT-pages{i:09}"))),
                    _ => (PaymentProvider::Cash, None),
                };
                let at = now - chrono::Duration::minutes((i % 129_600) as i64);
                let p = store
                    .create_payment(NewPayment {
                        customer_id: ids[(i as usize) % ids.len()],
                        package_id: pkg.id,
                        provider,
                        amount: Money::from_minor(100_000).map_err(|e| anyhow::anyhow!("{e}"))?,
                        currency: "KES".into(),
                        phone: None,
                        checkout_request_id: key,
                        merchant_request_id: None,
                        account_reference: None,
                        initiated_by_admin_id: None,
                        created_at: at,
                    })
                    .await?;
                // Three in four complete; the rest stay as the prompts that failed.
                if i % 4 != 3 {
                    let c = Completion {
                        payment_id: p.id,
                        provider_receipt: format!("PG{i:010}"),
                        amount: p.amount,
                        phone: None,
                        result_desc: "The service request is processed successfully.".into(),
                        at,
                        provider_confirmed: false,
                    };
                    store.complete_payment(c).await?;
                } else {
                    store
                        .close_payment(
                            p.id,
                            broadnet_domain::PaymentStatus::Failed,
                            "1032",
                            "Request cancelled by user",
                            at,
                        )
                        .await?;
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    eprintln!("seeded {} payments in {:.1}s", count - existing, started.elapsed().as_secs_f64());
    Ok(count)
}

/// One GET through the router in process: status, whether the body came encoded,
/// and the body.
pub(crate) async fn get_page(
    router: &axum::Router,
    cookie: &str,
    path: &str,
    gzip: bool,
) -> anyhow::Result<(StatusCode, bool, axum::body::Bytes)> {
    let mut req = Request::get(path).header(header::COOKIE, cookie);
    if gzip {
        req = req.header(header::ACCEPT_ENCODING, "gzip");
    }
    let resp = router.clone().oneshot(req.body(Body::empty())?).await?;
    let status = resp.status();
    let encoded = resp.headers().contains_key(header::CONTENT_ENCODING);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
    Ok((status, encoded, body))
}

/// Each page `runs` times (gzip asked for, as browsers do): p50/p95 server time, and
/// its weight gzipped, alone and with every asset it loads.
pub(crate) async fn time_pages(
    router: &axum::Router,
    cookie: &str,
    paths: &[String],
    runs: usize,
) -> anyhow::Result<Vec<PageTiming>> {
    let mut asset_sizes: BTreeMap<String, usize> = BTreeMap::new();
    let mut pages = Vec::new();
    for path in paths {
        let (status, _, body) = get_page(router, cookie, path, false).await?;
        let html = String::from_utf8_lossy(&body).to_string();
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let (st, _, _) = get_page(router, cookie, path, true).await?;
            times.push(t.elapsed());
            anyhow::ensure!(st == status, "{path}: {st} then {status}");
        }
        times.sort();
        let mut total = gzip_len(&body);
        let assets: std::collections::BTreeSet<&str> = html.split('"').filter(|s| s.starts_with("/assets/")).collect();
        for a in assets {
            if !asset_sizes.contains_key(a) {
                let (st, encoded, bytes) = get_page(router, cookie, a, true).await?;
                anyhow::ensure!(st == StatusCode::OK, "{a}: {st}");
                asset_sizes.insert(a.to_string(), if encoded { bytes.len() } else { gzip_len(&bytes) });
            }
            total += asset_sizes[a];
        }
        pages.push(PageTiming {
            path: path.clone(),
            status: status.as_u16(),
            p50: percentile(&times, 0.5),
            p95: percentile(&times, 0.95),
            html_gzip: gzip_len(&body),
            total_gzip: total,
        });
    }
    Ok(pages)
}

/// The timings as a table, for the bench commands.
pub fn print_pages(pages: &[PageTiming]) {
    println!("{:<44} {:>6} {:>9} {:>9} {:>10} {:>12}", "page", "status", "p50 ms", "p95 ms", "HTML gz", "with assets");
    for p in pages {
        println!(
            "{:<44} {:>6} {:>9.2} {:>9.2} {:>8.1}KB {:>10.1}KB",
            p.path,
            p.status,
            p.p50.as_secs_f64() * 1000.0,
            p.p95.as_secs_f64() * 1000.0,
            p.html_gzip as f64 / 1024.0,
            p.total_gzip as f64 / 1024.0
        );
    }
}

pub async fn pages(
    cfg: &Config,
    customers: u64,
    sessions: u64,
    payments: u64,
    runs: usize,
) -> anyhow::Result<PagesReport> {
    let store = SqlStore::open(cfg.database_url.expose()).await?;
    let dyn_store: DynStore = Arc::new(store.clone());
    seed_customers(&store, customers).await?;
    let actor = Actor::system("bench", chrono::Utc::now());
    bench_router(&dyn_store, &actor).await?;
    let users: Vec<String> = dyn_store
        .list_customers(&CustomerQuery { per_page: 500, ..Default::default() })
        .await?
        .items
        .into_iter()
        .map(|c| c.username.as_str().to_string())
        .collect();
    let sessions = seed_sessions(&dyn_store, sessions, &users).await?;
    let payments = seed_payments(&dyn_store, payments, 16).await?;
    store.analyze().await?;

    let app = build_app(cfg, dyn_store.clone(), Arc::new(SystemClock));
    let mut bench_cfg = cfg.clone();
    bench_cfg.admin_username = "bench-admin".into();
    bench_cfg.admin_password = crate::config::Secret::new("bench-Pass-8472");
    ensure_first_admin(&bench_cfg, &app).await?;
    let username = dyn_store.list_admins().await?.first().map(|a| a.username.clone()).unwrap_or_default();
    let admin = dyn_store.get_admin_by_username(&username).await?;
    let (token, _) = app.tokens.issue(admin.id, &admin.username, admin.session_epoch, app.now());
    let cookie = format!("{}={token}", broadnet_web::SESSION_COOKIE);
    let router = broadnet_web::router(state(cfg, app));

    let customer = dyn_store.list_customers(&CustomerQuery { per_page: 1, ..Default::default() }).await?.items;
    let customer = customer.first().map_or(1, |c| c.id);
    let payment = dyn_store.list_payments(&PaymentQuery { page: 1, per_page: 1, ..Default::default() }).await?.items;
    let payment = payment.first().map_or(1, |p| p.id);
    let router_id = dyn_store.list_routers().await?.first().map_or(1, |r| r.id);
    let paths = [
        "/".to_string(),
        "/customers".into(),
        "/customers?q=kamau".into(),
        "/customers?q=0700012".into(),
        "/customers?status=expired&page=200".into(),
        "/customers?status=active&expiring_days=3".into(),
        format!("/customers/{customer}"),
        format!("/customers/{customer}/edit"),
        "/packages".into(),
        "/routers".into(),
        format!("/routers/{router_id}"),
        "/payments".into(),
        "/payments?status=completed&page=500".into(),
        "/payments?provider=mpesa&status=failed".into(),
        format!("/payments/{payment}"),
        "/payments/unmatched".into(),
        "/invoices".into(),
        "/invoices?q=INV-0001".into(),
        "/sessions".into(),
        "/sessions/history".into(),
        "/sessions/history?page=1000".into(),
        "/radius/auth-log".into(),
        "/notifications".into(),
        "/settings/general".into(),
        "/admins".into(),
        "/audit".into(),
        "/system".into(),
    ];
    let pages = time_pages(&router, &cookie, &paths, runs).await?;
    use broadnet_store::Store;
    let report = PagesReport { backend: store.backend_name(), customers, sessions, payments, pages };
    store.close().await;
    Ok(report)
}
