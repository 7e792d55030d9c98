//! `broadnet bench portal`: times the hotspot portal's pages through the real router
//! in process (a phone's cookies and all), weighs each with its assets, and times
//! the waiting screen's poll with `waiting` customers waiting for their payment at
//! once, each polling every 2 s as the page does.

use crate::bench::{bench_package, percentile, seed_customers};
use crate::config::Config;
use crate::server::{build_app, state};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use broadnet_app::portal::{RouterContext, new_token};
use broadnet_domain::{CustomerStatus, CustomerType, PaymentProvider, Phone, SystemClock, Username};
use broadnet_store::{Actor, DynStore, NewCustomer, NewPayment, NewPortalOrder};
use broadnet_store_sql::SqlStore;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

pub struct PortalReport {
    pub backend: &'static str,
    pub pages: Vec<crate::bench_pages::PageTiming>,
    pub waiting: usize,
    pub polls: usize,
    pub poll_p50: Duration,
    pub poll_p99: Duration,
    pub poll_max: Duration,
}

fn gzip_len(bytes: &[u8]) -> usize {
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    let _ = enc.write_all(bytes);
    enc.finish().map(|v| v.len()).unwrap_or(bytes.len())
}

pub async fn portal(cfg: &Config, runs: usize, waiting: usize, rounds: usize) -> anyhow::Result<PortalReport> {
    let store = SqlStore::open(cfg.database_url.expose()).await?;
    let dyn_store: DynStore = Arc::new(store.clone());
    seed_customers(&store, 10_000).await?;
    let now = chrono::Utc::now();
    let actor = Actor::system("bench", now);
    let mut packages = dyn_store.list_packages().await?;
    while packages.len() < 4 {
        let n = packages.len();
        dyn_store.create_package(&actor, bench_package(format!("Portal {n}"))?).await?;
        packages = dyn_store.list_packages().await?;
    }
    let package = packages[0].clone();
    let app = build_app(cfg, dyn_store.clone(), Arc::new(SystemClock));
    let router = broadnet_web::router(state(cfg, app.clone()));

    // `waiting` phones, each with an account, a pending prompt and its order.
    let mut tokens = Vec::with_capacity(waiting);
    let run = rand::random::<u32>();
    for i in 0..waiting {
        let phone = Phone::parse(&format!("07{:08}", 10_000_000 + i))?;
        let c = dyn_store
            .create_customer(
                &actor,
                NewCustomer {
                    full_name: format!("Waiting {i}"),
                    username: Username::parse(&format!("w{run:x}x{i}"))?,
                    password: "123456".into(),
                    phone: phone.clone(),
                    email: None,
                    customer_type: CustomerType::Hotspot,
                    package_id: Some(package.id),
                    router_id: None,
                    status: CustomerStatus::AwaitingPayment,
                    expires_at: None,
                    mac_address: None,
                    static_ip: None,
                    location: None,
                    notes: None,
                    created_at: now,
                },
            )
            .await?;
        let p = dyn_store
            .create_payment(NewPayment {
                customer_id: c.id,
                package_id: package.id,
                provider: PaymentProvider::Mpesa,
                amount: package.price,
                currency: "KES".into(),
                phone: Some(phone.clone()),
                checkout_request_id: Some(format!("ws_CO_bench_{run:x}_{i}")),
                merchant_request_id: None,
                account_reference: None,
                initiated_by_admin_id: None,
                // Just sent: the poll answers from the database, never asks M-Pesa.
                created_at: chrono::Utc::now() + chrono::Duration::hours(1),
            })
            .await?;
        let token = new_token();
        dyn_store
            .create_portal_order(NewPortalOrder {
                token: token.clone(),
                kind: "purchase".into(),
                customer_id: Some(c.id),
                payment_id: Some(p.id),
                package_id: package.id,
                phone,
                mac: None,
                ip: None,
                router_identity: None,
                created_at: now,
            })
            .await?;
        tokens.push(token);
    }
    store.analyze().await?;

    // A phone the router handed over: its context cookie, as the hand-off sets it.
    let ctx = RouterContext::from_pairs([
        ("mac", "AA:BB:CC:DD:EE:01"),
        ("ip", "10.10.10.50"),
        ("link-login-only", "http://10.10.10.1/login"),
        ("link-orig", "http://example.com/"),
        ("chap-id", "f9"),
        ("chap-challenge", "00112233445566778899aabbccddeeff"),
    ]);
    let sealed = app.portal_seal(
        "hs-ctx",
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&ctx)?),
        chrono::Duration::days(1),
    );
    let account = app.portal_seal("hs-account", &format!("w{run:x}x0"), chrono::Duration::days(1));
    let cookie = format!("bn_hs={sealed}; bn_hs_n={}; bn_hs_a={account}", new_token());
    let get = move |path: String, gzip: bool| {
        let (router, cookie) = (router.clone(), cookie.clone());
        async move {
            let mut req = Request::get(&path).header(header::COOKIE, cookie);
            if gzip {
                req = req.header(header::ACCEPT_ENCODING, "gzip");
            }
            let resp = router.oneshot(req.body(Body::empty())?).await?;
            let status = resp.status();
            let encoded = resp.headers().contains_key(header::CONTENT_ENCODING);
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
            anyhow::Ok((status, encoded, body))
        }
    };
    let paths = [
        "/hotspot".to_string(),
        format!("/hotspot?package={}", package.id),
        "/hotspot?tab=voucher".into(),
        "/hotspot?tab=paid".into(),
        format!("/hotspot/order/{}", tokens.first().cloned().unwrap_or_default()),
        "/hotspot/status".into(),
        "/hotspot/account/login".into(),
    ];
    let mut asset_sizes: BTreeMap<String, usize> = BTreeMap::new();
    let mut pages = Vec::new();
    for path in paths {
        let (status, _, body) = get(path.clone(), false).await?;
        let html = String::from_utf8_lossy(&body).to_string();
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let (st, _, _) = get(path.clone(), true).await?;
            times.push(t.elapsed());
            anyhow::ensure!(st == status, "{path}: {st} then {status}");
        }
        times.sort();
        let mut total = gzip_len(&body);
        let assets: std::collections::BTreeSet<&str> = html.split('"').filter(|s| s.starts_with("/assets/")).collect();
        for a in assets {
            if !asset_sizes.contains_key(a) {
                let (st, encoded, bytes) = get(a.to_string(), true).await?;
                anyhow::ensure!(st == StatusCode::OK, "{a}: {st}");
                asset_sizes.insert(a.to_string(), if encoded { bytes.len() } else { gzip_len(&bytes) });
            }
            total += asset_sizes[a];
        }
        pages.push(crate::bench_pages::PageTiming {
            path,
            status: status.as_u16(),
            p50: percentile(&times, 0.5),
            p95: percentile(&times, 0.95),
            html_gzip: gzip_len(&body),
            total_gzip: total,
        });
    }

    // Everyone waiting polls as the page does, every 2 s, starting at random moments:
    // `waiting` / 2 polls a second.
    let mut tasks = Vec::with_capacity(tokens.len());
    for token in tokens {
        let get = get.clone();
        let offset = Duration::from_millis(rand::random::<u64>() % 2000);
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(rounds);
            let mut next = tokio::time::Instant::now() + offset;
            for _ in 0..rounds {
                tokio::time::sleep_until(next).await;
                next += Duration::from_secs(2);
                let t = Instant::now();
                let (st, _, _) = get(format!("/hotspot/order/{token}/status"), true).await?;
                times.push(t.elapsed());
                anyhow::ensure!(st == StatusCode::OK, "poll: {st}");
            }
            anyhow::Ok(times)
        }));
    }
    let mut polls = Vec::new();
    for t in tasks {
        polls.extend(t.await??);
    }
    polls.sort();
    use broadnet_store::Store;
    let report = PortalReport {
        backend: store.backend_name(),
        pages,
        waiting,
        polls: polls.len(),
        poll_p50: percentile(&polls, 0.5),
        poll_p99: percentile(&polls, 0.99),
        poll_max: polls.last().copied().unwrap_or_default(),
    };
    store.close().await;
    Ok(report)
}
