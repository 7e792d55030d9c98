//! The real server on a real port, for tests that need other programs (simulators,
//! routers) to call it back: a database of its own, a test clock, a logged-in admin.

#![allow(dead_code)]

use broadnet::config::{Config, Vars};
use broadnet::server;
use broadnet_app::App;
use broadnet_domain::FixedClock;
use broadnet_store::DynStore;
use broadnet_store_sql::SqlStore;
use broadnet_testkit::TestDb;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

pub const ADMIN_PW: &str = "correct horse battery";

pub struct Server {
    pub db: Option<TestDb>,
    pub store: SqlStore,
    pub app: App,
    pub clock: FixedClock,
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl Server {
    /// Binds first, so `APP_URL` names the real port; `extra` gets that base URL and
    /// returns more configuration.
    pub async fn start(extra: impl FnOnce(&str) -> Vec<(String, String)>) -> Server {
        let db = TestDb::new().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut vars = Vars::new();
        for (k, v) in [
            ("DATABASE_URL", db.url.clone()),
            ("JWT_SECRET", "a-test-secret-that-is-long-enough-0123456789".into()),
            ("ADMIN_USERNAME", "root".into()),
            ("ADMIN_PASSWORD", ADMIN_PW.into()),
            ("APP_URL", base.clone()),
        ] {
            vars.insert(k.into(), v);
        }
        vars.extend(extra(&base));
        let (cfg, problems): (Config, _) = Config::from_vars(&vars);
        assert!(problems.iter().all(|p| !p.fatal), "{problems:?}");
        let store = server::open_store(&cfg).await.unwrap();
        let dyn_store: DynStore = Arc::new(store.clone());
        let clock = FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap());
        let app = server::build_app(&cfg, dyn_store, Arc::new(clock.clone()));
        server::ensure_first_admin(&cfg, &app).await.unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        tokio::spawn(server::serve_http(
            listener,
            server::state(&cfg, app.clone()),
            axum::Router::new(),
            cfg.http,
            shutdown.clone(),
        ));
        let mut srv = Server {
            db: Some(db),
            store,
            app,
            clock,
            base,
            token: String::new(),
            http: reqwest::Client::new(),
            shutdown,
        };
        let (st, login) =
            srv.call("POST", "/api/auth/login", Some(json!({"username": "root", "password": ADMIN_PW}))).await;
        assert_eq!(st, 200, "{login}");
        srv.token = login["token"].as_str().unwrap().to_string();
        srv
    }

    pub async fn finish(mut self) {
        self.shutdown.cancel();
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }

    /// An API call as the admin: status and JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}
