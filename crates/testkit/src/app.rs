//! The whole app for integration tests, built the way `serve` builds it: a fresh
//! database on the backend `BROADNET_TEST_DB` names, a settable clock, a logged-in
//! superadmin, optionally the M-Pesa/Airtel/SMS simulators on ports of their own.
//!
//! ```ignore
//! let app = TestApp::start().await;                       // or start_with(|base| vars)
//! let pkg = app.package("Home 10M").create().await;       // typed fixtures, via the API
//! let c = app.customer("jwanjiku", "0712345678").package(pkg).create().await;
//! let (status, body) = app.call("GET", "/api/customers", None).await;
//! app.clock.advance(chrono::Duration::days(31));
//! app.finish().await;
//! ```

use crate::TestDb;
use broadnet::config::{Config, Vars};
use broadnet::server::{self, FirstAdmin};
use broadnet_app::App;
use broadnet_domain::{Clock, FixedClock};
use broadnet_sim::{airtel as asim, mpesa as msim, sms as ssim};
use broadnet_store::DynStore;
use broadnet_store_sql::SqlStore;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration as StdDuration;
use tokio_util::sync::CancellationToken;

/// The first superadmin's name and password.
pub const ADMIN_USER: &str = "root";
pub const ADMIN_PW: &str = "correct horse battery";

/// Where the test clock starts.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).single().expect("a valid date")
}

/// The configuration every test app starts from, before its own `extra`.
fn base_vars(db: &TestDb) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", "a-test-secret-that-is-long-enough-0123456789"),
        ("ADMIN_USERNAME", ADMIN_USER),
        ("ADMIN_PASSWORD", ADMIN_PW),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The app's parts, built by [`build`]: the one path both the real-port [`TestApp`]
/// and in-process tests (tower `oneshot` on [`Parts::router`]) take.
pub struct Parts {
    pub cfg: Config,
    pub store: SqlStore,
    pub app: App,
    /// What `ensure_first_admin` reported (`Some` on a fresh database).
    pub first_admin: Option<FirstAdmin>,
}

impl Parts {
    /// The JSON API and provisioning router, for in-process tests.
    pub fn router(&self) -> axum::Router {
        broadnet_web::router(server::state(&self.cfg, self.app.clone()))
    }
}

/// Configuration from the test defaults plus `extra` (later keys win), the store
/// opened and migrated, the app built on `clock`, the first superadmin created.
pub async fn build(db: &TestDb, extra: Vec<(String, String)>, clock: Arc<dyn Clock>) -> Parts {
    let mut vars = Vars::new();
    vars.extend(base_vars(db));
    vars.extend(extra);
    let (cfg, problems): (Config, _) = Config::from_vars(&vars);
    assert!(problems.iter().all(|p| !p.fatal), "{problems:?}");
    let store = server::open_store(&cfg).await.expect("open the test store");
    let dyn_store: DynStore = Arc::new(store.clone());
    let app = server::build_app(&cfg, dyn_store, clock);
    let first_admin = server::ensure_first_admin(&cfg, &app).await.expect("first admin");
    Parts { cfg, store, app, first_admin }
}

/// The server on a real port, for tests that need other programs (simulators,
/// routers, radclient) to reach it or call it back.
pub struct TestApp {
    pub db: Option<TestDb>,
    pub cfg: Config,
    pub store: SqlStore,
    pub app: App,
    /// The app's clock: `clock.advance(..)` moves time for the app.
    pub clock: FixedClock,
    /// `http://127.0.0.1:<port>`, also the app's `APP_URL`.
    pub base: String,
    /// The superadmin's bearer token.
    pub token: String,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
}

impl TestApp {
    /// The app with the test defaults.
    pub async fn start() -> TestApp {
        TestApp::start_with(|_| Vec::new()).await
    }

    /// Binds first, so `APP_URL` names the real port; `extra` gets that base URL and
    /// returns more configuration.
    pub async fn start_with(extra: impl FnOnce(&str) -> Vec<(String, String)>) -> TestApp {
        let db = TestDb::new().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let mut vars = vec![("APP_URL".to_string(), base.clone())];
        vars.extend(extra(&base));
        let clock = FixedClock::new(start_time());
        let Parts { cfg, store, app, .. } = build(&db, vars, Arc::new(clock.clone())).await;
        let shutdown = CancellationToken::new();
        tokio::spawn(server::serve_http(
            listener,
            server::state(&cfg, app.clone()),
            axum::Router::new(),
            cfg.http,
            shutdown.clone(),
        ));
        let mut srv = TestApp {
            db: Some(db),
            cfg,
            store,
            app,
            clock,
            base,
            token: String::new(),
            http: reqwest::Client::new(),
            shutdown,
        };
        srv.token = srv.login(ADMIN_USER, ADMIN_PW).await;
        srv
    }

    /// Stops the server, closes the store and drops the database.
    pub async fn finish(mut self) {
        self.shutdown.cancel();
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }

    /// Logs in; returns the bearer token (asserts success).
    pub async fn login(&self, user: &str, pw: &str) -> String {
        let (st, login) =
            self.call_as(None, "POST", "/api/auth/login", Some(json!({"username": user, "password": pw}))).await;
        assert_eq!(st, 200, "login {user}: {login}");
        login["token"].as_str().expect("a token").to_string()
    }

    /// An API call as the superadmin: status and JSON body (`Null` when not JSON).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = (!self.token.is_empty()).then_some(self.token.as_str());
        self.call_as(token, method, path, body).await
    }

    /// An API call with `token` (or none).
    pub async fn call_as(&self, token: Option<&str>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().expect("an HTTP method"), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the test server answers");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("a body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A package, created through the API.
    pub fn package(&self, name: &str) -> PackageBuilder<'_> {
        PackageBuilder {
            app: self,
            body: json!({"name": name, "price": "1500", "download_rate": "10M", "upload_rate": "5M",
                "duration": "30d"}),
        }
    }

    /// A PPPoE customer, created through the API.
    pub fn customer(&self, username: &str, phone: &str) -> CustomerBuilder<'_> {
        CustomerBuilder {
            app: self,
            body: json!({"full_name": "Jane Wanjiku", "username": username, "phone": phone,
                "customer_type": "pppoe", "password": "s3cret-pw"}),
        }
    }

    /// A router record, created through the API.
    pub fn router(&self, name: &str) -> RouterBuilder<'_> {
        RouterBuilder { app: self, body: json!({"name": name}) }
    }
}

async fn create(app: &TestApp, path: &str, body: Value) -> Value {
    let (st, created) = app.call("POST", path, Some(body.clone())).await;
    assert_eq!(st, 201, "POST {path} {body}: {created}");
    created
}

/// Fields default to a 1500/30-day 10M/5M package; `set` any other API field.
pub struct PackageBuilder<'a> {
    app: &'a TestApp,
    body: Value,
}

impl PackageBuilder<'_> {
    pub fn price(self, price: &str) -> Self {
        self.set("price", json!(price))
    }
    /// Download and upload rates, e.g. `("10M", "5M")`.
    pub fn rates(self, download: &str, upload: &str) -> Self {
        self.set("download_rate", json!(download)).set("upload_rate", json!(upload))
    }
    pub fn duration(self, duration: &str) -> Self {
        self.set("duration", json!(duration))
    }
    pub fn service_type(self, service_type: &str) -> Self {
        self.set("service_type", json!(service_type))
    }
    pub fn set(mut self, field: &str, value: Value) -> Self {
        self.body[field] = value;
        self
    }
    /// Creates it (asserts 201); returns its id.
    pub async fn create(self) -> i64 {
        create(self.app, "/api/packages", self.body).await["id"].as_i64().expect("an id")
    }
}

/// Fields default to an unpaid PPPoE customer with no package; `set` any other field.
pub struct CustomerBuilder<'a> {
    app: &'a TestApp,
    body: Value,
}

impl CustomerBuilder<'_> {
    pub fn package(self, id: i64) -> Self {
        self.set("package_id", json!(id))
    }
    pub fn full_name(self, name: &str) -> Self {
        self.set("full_name", json!(name))
    }
    pub fn password(self, pw: &str) -> Self {
        self.set("password", json!(pw))
    }
    pub fn email(self, email: Option<&str>) -> Self {
        self.set("email", json!(email))
    }
    pub fn expires_at(self, at: DateTime<Utc>) -> Self {
        self.set("expires_at", json!(at))
    }
    pub fn set(mut self, field: &str, value: Value) -> Self {
        self.body[field] = value;
        self
    }
    /// Creates it (asserts 201); returns the created customer as the API shows it.
    pub async fn create(self) -> Value {
        create(self.app, "/api/customers", self.body).await
    }
}

/// A router record; `set` its API fields (`nas_ip`, `service_types`, …).
pub struct RouterBuilder<'a> {
    app: &'a TestApp,
    body: Value,
}

impl RouterBuilder<'_> {
    pub fn set(mut self, field: &str, value: Value) -> Self {
        self.body[field] = value;
        self
    }
    /// Creates it (asserts 201); returns the created router as the API shows it.
    pub async fn create(self) -> Value {
        create(self.app, "/api/routers", self.body).await
    }
}

/// The M-Pesa, Airtel and Africa's Talking simulators, each on a port of its own, with
/// the credentials the app's `simulator` environments use.
pub struct Sims {
    pub mpesa: msim::MpesaSim,
    pub airtel: asim::AirtelSim,
    pub sms: ssim::SmsSim,
    pub mpesa_url: String,
    pub airtel_url: String,
    pub sms_url: String,
}

impl Sims {
    /// Starts the three; callbacks arrive after `delay`, as a customer would answer.
    pub async fn spawn(delay: StdDuration) -> Sims {
        use broadnet_app::gateway::{SIM_AIRTEL, SIM_MPESA, SIM_SMS};
        let any = || "127.0.0.1:0".parse().expect("an address");
        let mpesa = msim::MpesaSim::new(
            SIM_MPESA.consumer_key,
            SIM_MPESA.consumer_secret,
            SIM_MPESA.shortcode,
            SIM_MPESA.passkey,
        );
        mpesa.set_behaviour(msim::Behaviour { delay, ..Default::default() });
        let mpesa_url = mpesa.spawn(any()).await.expect("M-Pesa simulator");
        let airtel = asim::AirtelSim::new(SIM_AIRTEL.client_id, SIM_AIRTEL.client_secret, None, None);
        airtel.set_behaviour(asim::Behaviour { delay, ..Default::default() });
        let airtel_url = airtel.spawn(any()).await.expect("Airtel simulator");
        let sms = ssim::SmsSim::new(SIM_SMS.username, SIM_SMS.api_key);
        let sms_url = sms.spawn(any()).await.expect("SMS simulator");
        Sims { mpesa, airtel, sms, mpesa_url, airtel_url, sms_url }
    }

    /// The configuration pointing the app's providers at these simulators.
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("MPESA_ENV", "simulator"),
            ("MPESA_BASE_URL", self.mpesa_url.as_str()),
            ("AIRTEL_ENV", "simulator"),
            ("AIRTEL_BASE_URL", self.airtel_url.as_str()),
            ("AT_ENV", "simulator"),
            ("AT_BASE_URL", self.sms_url.as_str()),
            ("SMS_ENABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Airtel's portal setting: the app's callback URL with its secret.
    pub fn connect(&self, app: &TestApp) {
        self.airtel.set_callback_url(Some(format!("{}/api/payments/cb/airtel/{}", app.base, app.app.callback_token())));
    }
}
