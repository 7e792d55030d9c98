//! `broadnet bench vouchers`: times making voucher batches of 10,000 (the largest a
//! batch may be) through `POST /api/vouchers/batches`, in process on the real router
//! and storage: drawing the codes, checking them against every code already stored,
//! and writing the batch.

use crate::config::Config;
use crate::server::{build_app, ensure_first_admin, state};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use broadnet_domain::SystemClock;
use broadnet_store::{Actor, DynStore};
use broadnet_store_sql::SqlStore;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

pub struct VouchersReport {
    pub backend: &'static str,
    pub quantity: u32,
    /// One time per batch, in the order made (each later batch checks its codes
    /// against more stored ones).
    pub times: Vec<Duration>,
}

pub async fn vouchers(cfg: &Config, quantity: u32, batches: usize) -> anyhow::Result<VouchersReport> {
    let store = SqlStore::open(cfg.database_url.expose()).await?;
    let dyn_store: DynStore = Arc::new(store.clone());
    let app = build_app(cfg, dyn_store.clone(), Arc::new(SystemClock));
    let mut bench_cfg = cfg.clone();
    bench_cfg.admin_username = "bench-admin".into();
    bench_cfg.admin_password = crate::config::Secret::new("bench-Pass-8472");
    ensure_first_admin(&bench_cfg, &app).await?;
    let username = dyn_store.list_admins().await?.first().map(|a| a.username.clone()).unwrap_or_default();
    let admin = dyn_store.get_admin_by_username(&username).await?;
    let (token, _) = app.tokens.issue(admin.id, &admin.username, admin.session_epoch, app.now());
    let actor = Actor::system("bench", app.now());
    let mut package = crate::bench::bench_package(format!("Voucher bench {}", app.now().timestamp_millis()))?;
    package.service_type = broadnet_domain::ServiceType::Hotspot;
    let package = dyn_store.create_package(&actor, package).await?;
    let router = broadnet_web::router(state(cfg, app));
    let mut times = Vec::with_capacity(batches);
    for n in 0..batches {
        let body = serde_json::json!({"package_id": package.id, "quantity": quantity, "name": format!("bench {n}")});
        let req = Request::post("/api/vouchers/batches")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))?;
        let t = Instant::now();
        let resp = router.clone().oneshot(req).await?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
        let took = t.elapsed();
        anyhow::ensure!(status == StatusCode::CREATED, "batch returned {status}: {}", String::from_utf8_lossy(&bytes));
        times.push(took);
    }
    use broadnet_store::Store;
    let report = VouchersReport { backend: store.backend_name(), quantity, times };
    store.close().await;
    Ok(report)
}
