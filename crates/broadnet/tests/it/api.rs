//! The JSON API end to end: real router, real store on the backend named by
//! `BROADNET_TEST_DB` (SQLite, PostgreSQL or MariaDB), one database per test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use broadnet::config::{Config, Vars};
use broadnet::server;
use broadnet_domain::{FixedClock, Role};
use broadnet_store::{Actor, DynStore};
use broadnet_store_sql::SqlStore;
use broadnet_testkit::TestDb;
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

use broadnet_testkit::app::{self, ADMIN_PW};

struct Api {
    router: Router,
    store: SqlStore,
    app: broadnet_app::App,
    db: Option<TestDb>,
    token: String,
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Api {
    async fn start() -> Api {
        let db = TestDb::new().await;
        let clock = Arc::new(FixedClock::new(app::start_time()));
        let parts = app::build(&db, Vec::new(), clock).await;
        parts.first_admin.as_ref().expect("first admin created");
        let router = parts.router();
        let app::Parts { store, app, .. } = parts;
        let mut api = Api { router, store, app, db: Some(db), token: String::new() };
        api.token = api.login("root", ADMIN_PW).await;
        api
    }

    async fn finish(mut self) {
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }

    async fn login(&self, user: &str, pw: &str) -> String {
        let r = self.call_as(None, "POST", "/api/auth/login", Some(json!({"username": user, "password": pw}))).await;
        assert_eq!(r.status, StatusCode::OK, "login {user}: {}", r.body);
        r.body["token"].as_str().unwrap().to_string()
    }

    async fn raw(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp { status, headers, body }
    }

    async fn call_as(&self, token: Option<&str>, method: &str, uri: &str, body: Option<Value>) -> Resp {
        let mut b = Request::builder().method(method).uri(uri).header("x-real-ip", "198.51.100.7");
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())).unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.raw(req).await
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> Resp {
        self.call_as(Some(&self.token), method, uri, body).await
    }

    async fn package(&self) -> i64 {
        let r = self
            .call("POST", "/api/packages", Some(json!({"name": "Home 10M", "price": "1500", "download_rate": "10M", "upload_rate": "5M", "duration": "30d", "service_type": "pppoe"})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }
}

fn customer(username: &str, phone: &str) -> Value {
    json!({"full_name": "Jane Wanjiku", "username": username, "phone": phone, "customer_type": "pppoe", "password": "s3cret-pw"})
}

fn assert_error(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.body);
}

#[tokio::test]
async fn package_and_customer_lifecycle() {
    let api = Api::start().await;
    let pkg = api.package().await;
    let r = api.call("GET", &format!("/api/packages/{pkg}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["mikrotik_rate_limit"], "5M/10M", "{}", r.body);

    let mut body = customer("jwanjiku", "0712 345 678");
    body["package_id"] = json!(pkg);
    let r = api.call("POST", "/api/customers", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["phone"], "254712345678");
    // No access comes with the account: it waits for the first payment.
    assert_eq!(r.body["status"], "awaiting_payment");
    assert_eq!(r.body["balance"], 0);

    let r = api
        .call("PATCH", &format!("/api/customers/{id}"), Some(json!({"status": "suspended", "notes": "unpaid"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "suspended");

    let r = api.call("GET", "/api/customers?q=wanj&status=suspended", None).await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    let r = api.call("GET", "/api/customers?q=%2B254712345678", None).await;
    assert_eq!(r.body["total"], 1, "{}", r.body);

    // A package in use cannot be deleted.
    let r = api.call("DELETE", &format!("/api/packages/{pkg}"), None).await;
    assert_error(&r, StatusCode::CONFLICT, "in_use");

    let r = api.call("DELETE", &format!("/api/customers/{id}"), None).await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = api.call("GET", &format!("/api/customers/{id}"), None).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = api.call("DELETE", &format!("/api/packages/{pkg}"), None).await;
    assert!(r.status.is_success(), "{}", r.body);
    api.finish().await;
}

/// The dashboard posts HTML forms (every value a string) to the same use cases the
/// JSON API calls: "1500", "on" and "" must mean what 1500, true and null mean, with
/// the same field messages.
#[tokio::test]
async fn form_data_reaches_the_same_use_cases_as_json() {
    use broadnet_app::customers::CustomerRequest;
    use broadnet_app::packages::PackageRequest;
    let api = Api::start().await;
    let s = api.app.authenticate(&api.token, None).await.unwrap();
    let form = |q: &str| broadnet_app::input::from_form::<PackageRequest>(q.as_bytes()).unwrap();
    let pkg = api
        .app
        .create_package(&s, form("name=Home+10&price=1500&download_rate=10M&upload_rate=5M&duration=30d&active=on"))
        .await
        .unwrap();
    assert_eq!((pkg.price.minor(), pkg.active), (150_000, true));
    let free = api
        .app
        .create_package(&s, form("name=Trial&price=0&free=on&download_rate=1M&upload_rate=1M&duration=1h"))
        .await
        .unwrap();
    assert_eq!(free.price.minor(), 0);
    let broadnet_app::AppError::Validation(e) = api
        .app
        .create_package(&s, form("name=X&price=0&download_rate=1M&upload_rate=1M&duration=1h"))
        .await
        .unwrap_err()
    else {
        panic!()
    };
    let json_refusal = api
        .call(
            "POST",
            "/api/packages",
            Some(json!({"name": "X", "price": 0, "download_rate": "1M", "upload_rate": "1M", "duration": "1h"})),
        )
        .await;
    assert_eq!(json!(e), json_refusal.body["error"]["fields"], "the same messages either way");

    let form = |q: &str| broadnet_app::input::from_form::<CustomerRequest>(q.as_bytes()).unwrap();
    let q = format!(
        "full_name=Jane+Wanjiru&username=jane&phone=0712345678&customer_type=pppoe&package_id={}&email=&notes=",
        pkg.id
    );
    let c = api.app.create_customer(&s, form(&q)).await.unwrap();
    assert_eq!((c.package_id, c.email.as_deref(), c.notes.as_deref()), (Some(pkg.id), None, None));
    // In an update, an empty field clears it and an absent one is left alone.
    let c = api.app.update_customer(&s, c.id, form("package_id=&location=Kisumu")).await.unwrap();
    assert_eq!((c.package_id, c.location.as_deref(), c.full_name.as_str()), (None, Some("Kisumu"), "Jane Wanjiru"));
    let broadnet_app::AppError::Validation(e) =
        api.app.update_customer(&s, c.id, form("phone=&package_id=x&colour=red")).await.unwrap_err()
    else {
        panic!()
    };
    assert_eq!(e["phone"], ["cannot be empty"]);
    assert_eq!(e["package_id"], ["must be a whole number"]);
    assert_eq!(e["colour"], ["is not a known field"]);
    api.finish().await;
}

#[tokio::test]
async fn validation_errors_are_422_with_field_messages_and_change_nothing() {
    let api = Api::start().await;
    let r = api
        .call("POST", "/api/customers", Some(json!({"full_name": "", "username": "has space", "phone": "12345", "customer_type": "dialup", "package_id": 999})))
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields = r.body["error"]["fields"].as_object().unwrap();
    for f in ["full_name", "username", "phone", "customer_type", "package_id"] {
        assert!(
            fields.get(f).and_then(Value::as_array).is_some_and(|m| !m.is_empty()),
            "no message for {f}: {}",
            r.body
        );
    }
    let r = api.call("POST", "/api/customers", Some(json!({"full_name": "A", "surname": "B"}))).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.body["error"]["fields"]["surname"].is_array(), "unknown fields are refused: {}", r.body);

    let r = api
        .call(
            "POST",
            "/api/packages",
            Some(json!({"name": "X", "price": "-5", "download_rate": "fast", "upload_rate": "1M", "duration": "forever", "framed_pool": "my pool!"})),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    for f in ["price", "download_rate", "duration", "framed_pool"] {
        assert!(r.body["error"]["fields"][f].is_array(), "no message for {f}: {}", r.body);
    }

    // Malformed JSON is a 400 in the same shape.
    let req = Request::builder()
        .method("POST")
        .uri("/api/customers")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"full_name\": "))
        .unwrap();
    let r = api.raw(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body["error"]["code"].is_string(), "{}", r.body);

    let r = api.call("GET", "/api/customers?status=gone", None).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let r = api.call("GET", "/api/customers", None).await;
    assert_eq!(r.body["total"], 0, "nothing was stored: {}", r.body);
    let r = api.call("GET", "/api/packages", None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
    api.finish().await;
}

#[tokio::test]
async fn phone_numbers_are_normalised_and_foreign_ones_refused() {
    let api = Api::start().await;
    let cases = [
        ("0712345678", "254712345678"),
        ("+254 722 000 111", "254722000111"),
        ("254733000222", "254733000222"),
        ("0110123456", "254110123456"),
        ("+254-101-234-567", "254101234567"),
    ];
    for (i, (input, want)) in cases.iter().enumerate() {
        let r = api.call("POST", "/api/customers", Some(customer(&format!("user{i}"), input))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{input}: {}", r.body);
        assert_eq!(r.body["phone"], *want, "{input}");
    }
    for bad in ["0812345678", "+255712345678", "07123", "phone", "2547123456789", "0912345678"] {
        let r = api.call("POST", "/api/customers", Some(customer("refused", bad))).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(r.body["error"]["fields"]["phone"].is_array(), "{bad}: {}", r.body);
    }
    api.finish().await;
}

#[tokio::test]
async fn duplicates_are_409_and_missing_things_404() {
    let api = Api::start().await;
    let r = api.call("POST", "/api/customers", Some(customer("dup", "0712000001"))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let first = r.body["id"].as_i64().unwrap();
    let r = api.call("POST", "/api/customers", Some(customer("dup", "0712000002"))).await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    assert!(r.body["error"]["fields"]["username"].is_array(), "{}", r.body);

    let r = api.call("POST", "/api/customers", Some(customer("other", "0712000003"))).await;
    let second = r.body["id"].as_i64().unwrap();
    let r = api.call("PATCH", &format!("/api/customers/{second}"), Some(json!({"username": "dup"}))).await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = api.call("GET", &format!("/api/customers/{second}"), None).await;
    assert_eq!(r.body["username"], "other", "the refused rename changed nothing");

    api.package().await;
    let r = api
        .call(
            "POST",
            "/api/packages",
            Some(
                json!({"name": "Home 10M", "price": "1", "download_rate": "1M", "upload_rate": "1M", "duration": "1h"}),
            ),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");

    let r = api
        .call("POST", "/api/admins", Some(json!({"username": "root", "password": "another long pw", "role": "admin"})))
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");

    for uri in [
        "/api/customers/999999",
        "/api/packages/999999",
        "/api/admins/999999",
        "/api/settings/nope",
        "/api/nothing-here",
    ] {
        let r = api.call("GET", uri, None).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    let r = api.call("PATCH", "/api/customers/999999", Some(json!({"notes": "x"}))).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = api.call("DELETE", "/api/customers/999999", None).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let _ = first;
    api.finish().await;
}

#[tokio::test]
async fn unauthenticated_is_401_and_logout_revokes_the_token() {
    let api = Api::start().await;
    for (m, uri) in
        [("GET", "/api/customers"), ("POST", "/api/packages"), ("GET", "/api/auth/me"), ("GET", "/api/audit-log")]
    {
        let r = api.call_as(None, m, uri, Some(json!({}))).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let r = api.call_as(Some("not.a.token"), "GET", "/api/customers", None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    // A token signed with another secret.
    let forged = broadnet_app::auth::TokenKey::new(b"some-other-secret-0123456789abcdef", chrono::Duration::days(7));
    let admin = api.app.store.get_admin_by_username("root").await.unwrap();
    let (t, _) = forged.issue(admin.id, &admin.username, admin.session_epoch, Utc::now());
    let r = api.call_as(Some(&t), "GET", "/api/customers", None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");

    let r = api.call_as(None, "POST", "/api/auth/login", Some(json!({"username": "root", "password": "wrong"}))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    let r = api.call_as(None, "POST", "/api/auth/login", Some(json!({"username": "ghost", "password": "wrong"}))).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");

    // The login cookie works like the Bearer token.
    let r = api.call_as(None, "POST", "/api/auth/login", Some(json!({"username": "root", "password": ADMIN_PW}))).await;
    let cookie = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let req = Request::builder().uri("/api/auth/me").header(header::COOKIE, &pair).body(Body::empty()).unwrap();
    let r = api.raw(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["admin"]["username"], "root");

    let token = api.login("root", ADMIN_PW).await;
    let r = api.call_as(Some(&token), "POST", "/api/auth/logout", None).await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = api.call_as(Some(&token), "GET", "/api/auth/me", None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    // Other sessions are untouched.
    let r = api.call("GET", "/api/auth/me", None).await;
    assert_eq!(r.status, StatusCode::OK);
    api.finish().await;
}

#[tokio::test]
async fn viewers_read_and_only_superadmins_manage_admins() {
    let api = Api::start().await;
    for (user, role) in [("viewer1", "viewer"), ("admin1", "admin")] {
        let r = api
            .call("POST", "/api/admins", Some(json!({"username": user, "password": "long enough pw", "role": role})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(r.body.get("password_hash").is_none(), "hash never leaves: {}", r.body);
    }
    let viewer = api.login("viewer1", "long enough pw").await;
    let admin = api.login("admin1", "long enough pw").await;

    let r = api.call_as(Some(&viewer), "GET", "/api/customers", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api.call_as(Some(&viewer), "POST", "/api/customers", Some(customer("v", "0712000009"))).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = api.call_as(Some(&viewer), "PUT", "/api/settings/general", Some(json!({"isp_name": "X"}))).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = api.call_as(Some(&admin), "POST", "/api/customers", Some(customer("admincust", "0712000010"))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Where the money goes is a superadmin's call: an admin may change the ISP's name,
    // not the paybill, the keys or the provider, and may not see the callback secret.
    let r = api.call_as(Some(&admin), "PUT", "/api/settings/general", Some(json!({"isp_name": "Kilimo"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for (category, body) in [
        ("mpesa", json!({"shortcode": "999999"})),
        ("airtel", json!({"client_id": "x"})),
        ("payments", json!({"active_provider": "airtel"})),
    ] {
        let r = api.call_as(Some(&admin), "PUT", &format!("/api/settings/{category}"), Some(body)).await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    let r = api.call_as(Some(&admin), "GET", "/api/payments/callback-urls", None).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    for t in [&viewer, &admin] {
        let r = api.call_as(Some(t), "GET", "/api/admins", None).await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
        let r = api
            .call_as(
                Some(t),
                "POST",
                "/api/admins",
                Some(json!({"username": "x", "password": "long enough pw", "role": "superadmin"})),
            )
            .await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    }

    // The last superadmin can be neither demoted nor deleted.
    let me = api.call("GET", "/api/auth/me", None).await.body["admin"]["id"].as_i64().unwrap();
    let r = api.call("PATCH", &format!("/api/admins/{me}"), Some(json!({"role": "viewer"}))).await;
    assert_eq!(r.status.as_u16() / 100, 4, "{}", r.body);
    let r = api.call("DELETE", &format!("/api/admins/{me}"), None).await;
    assert_eq!(r.status.as_u16() / 100, 4, "{}", r.body);

    // Deactivating an admin ends their sessions at once.
    let admins = api.call("GET", "/api/admins", None).await;
    let admin_id = admins.body["items"].as_array().unwrap().iter().find(|a| a["username"] == "admin1").unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = api.call("PATCH", &format!("/api/admins/{admin_id}"), Some(json!({"active": false}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = api.call_as(Some(&admin), "GET", "/api/customers", None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    api.finish().await;
}

#[tokio::test]
async fn login_is_rate_limited_per_username_and_per_ip() {
    let api = Api::start().await;
    let attempt = |user: &'static str, pw: &'static str, ip: &'static str| {
        let router = api.router.clone();
        async move {
            let req = Request::builder()
                .method("POST")
                .uri("/api/auth/login")
                .header("x-real-ip", ip)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json!({"username": user, "password": pw}).to_string()))
                .unwrap();
            router.oneshot(req).await.unwrap()
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("root", "guess", "203.0.113.1").await.status(), StatusCode::UNAUTHORIZED);
    }
    // That address is locked out of the account, even with the right password…
    let r = attempt("root", ADMIN_PW, "203.0.113.1").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers().get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    // …but the account is not: its owner, elsewhere, still gets in.
    assert_eq!(attempt("root", ADMIN_PW, "203.0.113.2").await.status(), StatusCode::OK);

    // One address spraying many usernames is stopped too.
    let mut limited = false;
    for i in 0..25 {
        let user: &'static str = Box::leak(format!("user{i}").into_boxed_str());
        if attempt(user, "guess", "203.0.113.9").await.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            assert!(i >= 19, "limited too early, at attempt {i}");
            break;
        }
    }
    assert!(limited, "20 attempts per IP is the limit");
    // Other users from other addresses are unaffected.
    let r = api
        .call("POST", "/api/admins", Some(json!({"username": "ops", "password": "long enough pw", "role": "admin"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(attempt("ops", "long enough pw", "203.0.113.3").await.status(), StatusCode::OK);
    api.finish().await;
}

async fn login_from(api: &Api, user: &str, pw: &str, ip: &str) -> Resp {
    let req = Request::builder()
        .method("POST")
        .uri("/api/auth/login")
        .header("x-real-ip", ip)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"username": user, "password": pw}).to_string()))
        .unwrap();
    api.raw(req).await
}

#[tokio::test]
async fn padded_and_case_variants_of_a_username_are_one_account_and_one_counter() {
    let api = Api::start().await;
    let variants = [" root", "root ", "\troot", "ROOT", "root"];
    for v in variants {
        let r = login_from(&api, v, "guess", "203.0.113.1").await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // Five failures, whatever the spelling: no variant gets through from that address.
    for v in variants {
        let r = login_from(&api, v, ADMIN_PW, "203.0.113.1").await;
        assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    }
    // Each variant is the same account, from an address in good standing.
    for (i, v) in variants.iter().enumerate() {
        let r = login_from(&api, v, ADMIN_PW, &format!("198.51.100.{}", 20 + i)).await;
        assert_eq!(r.status, StatusCode::OK, "{v:?}: {}", r.body);
        assert_eq!(r.body["admin"]["username"], "root");
    }
    // And no second account can be made of a variant.
    for v in ["ROOT", " Root "] {
        let r = api
            .call("POST", "/api/admins", Some(json!({"username": v, "password": "long enough pw", "role": "admin"})))
            .await;
        assert_error(&r, StatusCode::CONFLICT, "conflict");
    }
    api.finish().await;
}

#[tokio::test]
async fn an_attack_from_many_addresses_slows_a_username_down_without_locking_out_its_owner() {
    let api = Api::start().await;
    // Twelve addresses, one wrong guess each: none reaches its own limit, but the
    // username is now slowed down.
    for i in 0..12 {
        let r = login_from(&api, "root", "guess", &format!("203.0.113.{}", 100 + i)).await;
        assert!(r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    }
    let r = login_from(&api, "root", "guess", "203.0.113.200").await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = r.headers.get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=8).contains(&retry), "a short wait, not a lock: {retry}");
    // The owner, from the address they logged in from before, is not slowed down.
    let r = login_from(&api, "root", ADMIN_PW, "198.51.100.7").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    api.finish().await;
}

#[tokio::test]
async fn a_routers_api_host_is_an_address_or_a_host_name() {
    let api = Api::start().await;
    let r = api.call("POST", "/api/routers", Some(json!({"name": "Kitengela"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    for bad in [
        "a b",
        "x\r\ny",
        "nul\u{0}",
        "http://10.0.0.1/",
        "10.0.0.1:8728",
        "169.254.169.254",
        "0.0.0.0",
        "2130706433",
        "0x7f000001",
        "router_1.isp",
        "-bad.isp.co.ke",
    ] {
        let r = api.call("PATCH", &format!("/api/routers/{id}"), Some(json!({"api_host": bad}))).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(r.body["error"]["fields"]["api_host"].is_array(), "{bad:?}: {}", r.body);
    }
    for (good, stored) in
        [("10.20.0.1", "10.20.0.1"), (" Core-1.ISP.co.ke ", "core-1.isp.co.ke"), ("2001:db8::1", "2001:db8::1")]
    {
        let r = api.call("PATCH", &format!("/api/routers/{id}"), Some(json!({"api_host": good}))).await;
        assert_eq!(r.status, StatusCode::OK, "{good:?}: {}", r.body);
        assert_eq!(r.body["api_host"], stored);
    }
    let r = api.call("PATCH", &format!("/api/routers/{id}"), Some(json!({"api_host": null}))).await;
    assert_eq!((r.status, &r.body["api_host"]), (StatusCode::OK, &Value::Null), "{}", r.body);
    api.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_superadmins_demoting_each_other_at_once_leave_one() {
    let api = Api::start().await;
    let r = api
        .call(
            "POST",
            "/api/admins",
            Some(json!({"username": "boss2", "password": "long enough pw", "role": "superadmin"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let boss2 = r.body["id"].as_i64().unwrap();
    let root = api.call("GET", "/api/auth/me", None).await.body["admin"]["id"].as_i64().unwrap();
    let boss2_token = api.login("boss2", "long enough pw").await;
    for round in 0..10 {
        let (uri_boss2, uri_root) = (format!("/api/admins/{boss2}"), format!("/api/admins/{root}"));
        let (a, b) = tokio::join!(
            api.call_as(Some(&api.token), "PATCH", &uri_boss2, Some(json!({"role": "admin"}))),
            api.call_as(Some(&boss2_token), "PATCH", &uri_root, Some(json!({"role": "admin"}))),
        );
        let ok = [&a, &b].iter().filter(|r| r.status == StatusCode::OK).count();
        assert_eq!(ok, 1, "round {round}: exactly one demotion wins: {} / {}", a.body, b.body);
        let loser = if a.status == StatusCode::OK { &b } else { &a };
        assert!(loser.status == StatusCode::CONFLICT || loser.status == StatusCode::FORBIDDEN, "{}", loser.body);
        let supers = api
            .app
            .store
            .list_admins()
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.role == Role::Superadmin && a.active)
            .count();
        assert_eq!(supers, 1, "round {round}");
        // Put both back for the next round, through the store (the demoted one lost the right).
        let actor = Actor::system("test", api.app.now());
        for id in [root, boss2] {
            let patch = broadnet_store::AdminPatch { role: Some(Role::Superadmin), ..Default::default() };
            api.app.store.update_admin(&actor, id, patch).await.unwrap();
        }
    }
    api.finish().await;
}

#[tokio::test]
async fn every_admin_change_is_in_the_audit_log() {
    let api = Api::start().await;
    let r = api.call("POST", "/api/customers", Some(customer("audited", "0712000111"))).await;
    let id = r.body["id"].as_i64().unwrap();
    api.call("PATCH", &format!("/api/customers/{id}"), Some(json!({"full_name": "Jane W.", "password": "new-secret"})))
        .await;
    api.call("DELETE", &format!("/api/customers/{id}"), None).await;

    let r = api.call("GET", &format!("/api/audit-log?entity_type=customer&entity_id={id}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.len(), 3, "{actions:?}");
    for a in ["customer.create", "customer.update", "customer.delete"] {
        assert!(actions.contains(&a), "{actions:?}");
    }
    let update = items.iter().find(|e| e["action"] == "customer.update").unwrap();
    assert_eq!(update["admin_username"], "root");
    assert_eq!(update["ip"], "198.51.100.7");
    assert_eq!(update["before"]["full_name"], "Jane Wanjiku");
    assert_eq!(update["after"]["full_name"], "Jane W.");
    assert_eq!(update["after"]["password"], "(new)", "passwords never reach the log: {update}");
    assert!(!update.to_string().contains("new-secret"));
    assert!(update["at"].is_string());

    // Settings and admin changes are audited too, secrets without their values.
    api.call(
        "PUT",
        "/api/settings/mpesa",
        Some(json!({"consumer_secret": "daraja-secret-value", "shortcode": "174379"})),
    )
    .await;
    let r = api.call("GET", "/api/audit-log?entity_type=settings", None).await;
    let text = r.body.to_string();
    assert!(text.contains("174379") && !text.contains("daraja-secret-value"), "{text}");
    api.finish().await;
}

#[tokio::test]
async fn secrets_are_write_only_and_encrypted_at_rest() {
    let api = Api::start().await;
    let r = api
        .call("PUT", "/api/settings/mpesa", Some(json!({"env": "sandbox", "consumer_key": "ck-123456", "passkey": "bfb279f9aa9bdbcf", "shortcode": "174379"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = api.call("GET", "/api/settings/mpesa", None).await;
    let text = r.body.to_string();
    assert!(!text.contains("ck-123456") && !text.contains("bfb279f9aa9bdbcf"), "{text}");
    let item = |k: &str| r.body["settings"].as_array().unwrap().iter().find(|s| s["key"] == k).unwrap().clone();
    assert_eq!(item("consumer_key")["set"], true);
    assert_eq!(item("consumer_key")["value"], Value::Null);
    assert_eq!(item("consumer_secret")["set"], false);
    assert_eq!(item("shortcode")["value"], "174379");

    let stored = api.app.store.get_settings("mpesa").await.unwrap();
    let key = stored.iter().find(|s| s.key == "consumer_key").unwrap();
    assert!(key.secret && key.value.starts_with("enc:v1:") && !key.value.contains("ck-123456"), "{key:?}");
    assert_eq!(
        api.app.setting(broadnet_app::settings::SettingKey::MpesaConsumerKey).await.unwrap().as_deref(),
        Some("ck-123456")
    );

    let r = api
        .call("PUT", "/api/settings/mpesa", Some(json!({"env": "moon", "callback_url": "not a url", "colour": "red"})))
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    for f in ["env", "callback_url", "colour"] {
        assert!(r.body["error"]["fields"][f].is_array(), "{f}: {}", r.body);
    }
    assert_eq!(
        api.app.setting(broadnet_app::settings::SettingKey::MpesaEnv).await.unwrap().as_deref(),
        Some("sandbox"),
        "refused write changed nothing"
    );
    api.finish().await;
}

#[tokio::test]
async fn list_paginates_sorts_and_filters() {
    let api = Api::start().await;
    let pkg = api.package().await;
    for i in 0..12 {
        let mut c = customer(&format!("cust{i:02}"), &format!("07220000{i:02}"));
        if i % 3 == 0 {
            c["package_id"] = json!(pkg);
        }
        if i % 4 == 0 {
            c["customer_type"] = json!("hotspot");
            c.as_object_mut().unwrap().remove("package_id");
        }
        let r = api.call("POST", "/api/customers", Some(c)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = api.call("GET", "/api/customers?per_page=5&page=3&sort=username", None).await;
    assert_eq!(r.body["total"], 12);
    let names: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|c| c["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["cust10", "cust11"]);
    let r = api.call("GET", "/api/customers?sort=-username&per_page=1", None).await;
    assert_eq!(r.body["items"][0]["username"], "cust11");
    let r = api.call("GET", "/api/customers?type=hotspot", None).await;
    assert_eq!(r.body["total"], 3);
    let r = api.call("GET", &format!("/api/customers?package_id={pkg}"), None).await;
    assert_eq!(r.body["total"], 3, "{}", r.body);
    let r = api.call("GET", "/api/customers?q=0722000007", None).await;
    assert_eq!(r.body["items"][0]["username"], "cust07");
    assert_eq!(r.body["total"], 1);
    let r = api.call("GET", "/api/customers?sort=shoe_size", None).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    api.finish().await;
}

/// Review D6: a huge `page` made OFFSET overflow an i64 and the handler panic.
#[tokio::test]
async fn huge_page_numbers_are_422_on_every_list() {
    let api = Api::start().await;
    let lists = [
        "/api/customers",
        "/api/payments",
        "/api/audit-log",
        "/api/notifications",
        "/api/sessions",
        "/api/radius/auth-log",
    ];
    for list in lists {
        for query in ["page=36028797018963968&per_page=500", "page=18446744073709551615", "page=1000001", "page=0"] {
            let r = api.call("GET", &format!("{list}?{query}"), None).await;
            assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert!(r.body["error"]["fields"]["page"].is_array(), "{list}?{query}: {}", r.body);
        }
        // The largest page allowed is simply empty.
        let r = api.call("GET", &format!("{list}?page=1000000&per_page=500"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{list}: {}", r.body);
        assert_eq!(r.body["items"].as_array().map(Vec::len), Some(0), "{list}: {}", r.body);
    }
    let r = api.call("GET", "/api/audit-log?admin_id=18446744073709551615", None).await;
    assert!(r.body["error"]["fields"]["admin_id"].is_array(), "{}", r.body);
    let r = api.call("GET", "/api/sessions?router_id=18446744073709551615", None).await;
    assert!(r.body["error"]["fields"]["router_id"].is_array(), "{}", r.body);
    api.finish().await;
}

#[tokio::test]
async fn health_and_metrics() {
    let api = Api::start().await;
    let r = api.call_as(None, "GET", "/health", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["database"], "ok");
    api.call("GET", "/api/customers", None).await;
    let r = api.call_as(None, "GET", "/metrics", None).await;
    let text = r.body.as_str().unwrap().to_string();
    assert!(text.contains("broadnet_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/customers\""), "{text}");

    // With the database gone, health says so.
    let Api { router, store, db, .. } = api;
    store.close().await;
    let api_router = router;
    let resp = api_router.oneshot(Request::builder().uri("/health").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert!(body["reason"].is_string(), "{body}");
    if let Some(db) = db {
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_first_admin_is_created_once() {
    let api = Api::start().await;
    let db_url = api.db.as_ref().unwrap().url.clone();
    let mut vars = Vars::new();
    vars.insert("DATABASE_URL".into(), db_url);
    vars.insert("JWT_SECRET".into(), "a-test-secret-that-is-long-enough-0123456789".into());
    let (cfg, _) = Config::from_vars(&vars);
    assert!(server::ensure_first_admin(&cfg, &api.app).await.unwrap().is_none());
    assert_eq!(api.app.store.count_admins().await.unwrap(), 1);
    let a = api.app.store.get_admin_by_username("root").await.unwrap();
    assert_eq!(a.role, Role::Superadmin);
    let _ = Actor::system("test", Utc::now());
    api.finish().await;
}

#[tokio::test]
async fn mpesa_callbacks_renew_once_and_forgeries_change_nothing() {
    use broadnet_domain::{Money, PaymentProvider, PaymentStatus, Phone};
    use broadnet_store::NewPayment;
    let api = Api::start().await;
    let pkg = api.package().await; // 30 days, KES 1,500
    let r = api.call("POST", "/api/customers", Some(customer("payer", "0708374149"))).await;
    let cid = r.body["id"].as_i64().unwrap();
    let start = |checkout: &'static str| NewPayment {
        customer_id: cid,
        package_id: pkg,
        provider: PaymentProvider::Mpesa,
        amount: Money::from_minor(150_000).unwrap(),
        currency: "KES".into(),
        phone: Some(Phone::parse("0708374149").unwrap()),
        checkout_request_id: Some(checkout.into()),
        merchant_request_id: None,
        account_reference: Some("payer".into()),
        initiated_by_admin_id: None,
        created_at: api.app.now(),
    };
    let paid = |checkout: &str, amount: Value, receipt: &str| {
        json!({"Body": {"stkCallback": {
            "MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": checkout,
            "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {"Item": [
                {"Name": "Amount", "Value": amount}, {"Name": "MpesaReceiptNumber", "Value": receipt},
                {"Name": "Balance"}, {"Name": "TransactionDate", "Value": 20261125090000u64},
                {"Name": "PhoneNumber", "Value": 254708374149u64}]}}}})
    };
    let p1 = api.app.store.create_payment(start("ws_CO_A")).await.unwrap();
    // Successes are applied from the secret path only (the plain one asks Daraja first).
    let secret_path = format!("/api/payments/cb/stk/{}", api.app.callback_token());
    for _ in 0..3 {
        let r = api.call_as(None, "POST", &secret_path, Some(paid("ws_CO_A", json!(1500.00), "NLJ7RT61SV"))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["ResultCode"], 0);
    }
    let p = api.app.store.get_payment(p1.id).await.unwrap();
    assert_eq!((p.status, p.provider_receipt.as_deref()), (PaymentStatus::Completed, Some("NLJ7RT61SV")));
    let c = api.call("GET", &format!("/api/customers/{cid}"), None).await;
    assert_eq!(c.body["expires_at"], "2026-12-25T09:00:00Z", "renewed once, by 30 days: {}", c.body);
    assert_eq!(c.body["status"], "active");

    // A forged success for another pending payment, for KES 1: refused and recorded.
    let p2 = api.app.store.create_payment(start("ws_CO_B")).await.unwrap();
    let r = api.call_as(None, "POST", &secret_path, Some(paid("ws_CO_B", json!(1), "FAKE000001"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(api.app.store.get_payment(p2.id).await.unwrap().status, PaymentStatus::Pending);
    // A success for a payment we never started.
    let r = api
        .call_as(None, "POST", "/api/payments/mpesa/callback", Some(paid("ws_CO_NOPE", json!(1500), "FAKE000002")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let flagged = api.call("GET", "/api/audit-log?entity_type=payment", None).await;
    let reasons: Vec<String> = flagged.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["after"]["reason"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(reasons.iter().any(|r| r.contains("does not match")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("no payment was started")), "{reasons:?}");
    let c = api.call("GET", &format!("/api/customers/{cid}"), None).await;
    assert_eq!(c.body["expires_at"], "2026-12-25T09:00:00Z", "forgeries changed nothing");

    // "Cancelled", on either path: a callback's word alone never closes a payment
    // (Daraja cannot be asked here, so it stays pending for reconciliation).
    let cancel = json!({"Body": {"stkCallback": {"MerchantRequestID": "f1e2", "CheckoutRequestID": "ws_CO_B",
        "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}});
    for path in ["/api/payments/mpesa/callback", secret_path.as_str()] {
        let r = api.call_as(None, "POST", path, Some(cancel.clone())).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let p = api.app.store.get_payment(p2.id).await.unwrap();
    assert_eq!(p.status, PaymentStatus::Pending, "{p:?}");

    // Garbage is a clear error and changes nothing.
    let r = api.call_as(None, "POST", "/api/payments/mpesa/callback", Some(json!({"hello": "world"}))).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    api.finish().await;
}

#[tokio::test]
async fn paybill_payments_renew_by_account_and_the_rest_waits_for_an_admin() {
    use broadnet_domain::PaymentStatus;
    let api = Api::start().await;
    let pkg = api.package().await; // KES 1,500, 30 days
    let mut c = customer("wanjiku7", "0712000701");
    c["package_id"] = json!(pkg);
    let r = api.call("POST", "/api/customers", Some(c)).await;
    let cid = r.body["id"].as_i64().unwrap();
    let urls = api.call("GET", "/api/payments/callback-urls", None).await;
    let path = |k: &str| urls.body[k].as_str().unwrap().replace("http://127.0.0.1:3000", "");
    let (confirm, validate) = (path("c2b_confirmation"), path("c2b_validation"));
    assert!(!confirm.to_lowercase().contains("mpesa"), "Daraja refuses such URLs: {confirm}");
    let notice = |trans: &str, amount: &str, account: &str| {
        json!({"TransactionType": "Pay Bill", "TransID": trans, "TransTime": "20261125090000", "TransAmount": amount,
            "BusinessShortCode": "600966", "BillRefNumber": account, "InvoiceNumber": "", "OrgAccountBalance": "",
            "ThirdPartyTransID": "", "MSISDN": "2547 ***** 126", "FirstName": "JANE", "MiddleName": "", "LastName": ""})
    };

    // Without the secret path, nothing.
    let r = api
        .call_as(None, "POST", "/api/payments/cb/c2b/guess/confirm", Some(notice("RKL0000001", "1500.00", "wanjiku7")))
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    // Validation refuses what could not be applied.
    let r = api.call_as(None, "POST", &validate, Some(notice("X", "1500", "nobody"))).await;
    assert_eq!(r.body["ResultCode"], "C2B00012", "{}", r.body);
    // Any amount for a known customer: whole periods renew, the rest is credit.
    let r = api.call_as(None, "POST", &validate, Some(notice("X", "100", "wanjiku7"))).await;
    assert_eq!(r.body["ResultCode"], "0", "{}", r.body);
    let r = api.call_as(None, "POST", &validate, Some(notice("X", "1500", " WANJIKU7 "))).await;
    assert_eq!(r.body["ResultCode"], "0", "{}", r.body);

    // Confirmed twice (Safaricom retries): renewed once.
    for _ in 0..2 {
        let r = api.call_as(None, "POST", &confirm, Some(notice("RKL51ZDR4F", "1500.00", " Wanjiku7"))).await;
        assert_eq!((r.status, r.body["ResultCode"].clone()), (StatusCode::OK, json!(0)), "{}", r.body);
    }
    let c = api.call("GET", &format!("/api/customers/{cid}"), None).await;
    assert_eq!(c.body["expires_at"], "2026-12-25T09:00:00Z", "{}", c.body);
    let p = api.app.store.find_payment_by_receipt("RKL51ZDR4F").await.unwrap();
    assert_eq!((p.status, p.customer_id), (PaymentStatus::Completed, Some(cid)));

    // Less than the price: kept as credit, access unchanged. An unknown account: the
    // money waits in the unmatched queue for an admin.
    for (trans, amount, account) in [("RKL0000002", "1000.00", "wanjiku7"), ("RKL0000003", "1500.00", "nobody")] {
        let r = api.call_as(None, "POST", &confirm, Some(notice(trans, amount, account))).await;
        assert_eq!(r.body["ResultCode"], 0);
    }
    let c = api.call("GET", &format!("/api/customers/{cid}"), None).await;
    assert_eq!(c.body["expires_at"], "2026-12-25T09:00:00Z");
    assert_eq!(c.body["balance"], 100000, "{}", c.body);
    let queue = api.call("GET", "/api/payments/unmatched", None).await;
    assert_eq!(queue.body["total"], 1, "{}", queue.body);
    assert_eq!(queue.body["items"][0]["receipt"], "RKL0000003");
    assert_eq!(queue.body["items"][0]["account_reference"], "nobody");
    assert_eq!(queue.body["items"][0]["payer_name"], "JANE");
    assert_eq!(queue.body["items"][0]["phone"], "2547 ***** 126");
    let r = api.call_as(None, "POST", &confirm, Some(json!({"TransID": "RKL4"}))).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    api.finish().await;
}

#[tokio::test]
async fn cash_at_the_counter_renews_and_payments_are_listed() {
    let api = Api::start().await;
    let pkg = api.package().await; // KES 1,500
    let mut c = customer("counter1", "0712000801");
    c["package_id"] = json!(pkg);
    let cid = api.call("POST", "/api/customers", Some(c)).await.body["id"].as_i64().unwrap();

    let r = api
        .call(
            "POST",
            &format!("/api/customers/{cid}/payments"),
            Some(json!({"amount": "1500", "reference": "RCPT-77"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["invoice_number"], "INV-000001");
    assert_eq!(r.body["expires_at"], "2026-12-25T09:00:00Z");
    // The same paper receipt twice is refused, and renews nothing.
    let r = api
        .call(
            "POST",
            &format!("/api/customers/{cid}/payments"),
            Some(json!({"amount": "1500", "reference": "RCPT-77"})),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let c = api.call("GET", &format!("/api/customers/{cid}"), None).await;
    assert_eq!(c.body["expires_at"], "2026-12-25T09:00:00Z");
    let r = api.call("POST", "/api/customers/999999/payments", Some(json!({"amount": "1500"}))).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");

    let list = api.call("GET", &format!("/api/payments?customer_id={cid}&status=completed"), None).await;
    assert_eq!(list.body["total"], 1, "{}", list.body);
    assert_eq!(list.body["items"][0]["provider"], "cash");
    assert_eq!(list.body["items"][0]["provider_receipt"], "RCPT-77");
    let failed = api.call("GET", &format!("/api/payments?customer_id={cid}&status=failed"), None).await;
    assert_eq!(failed.body["total"], 1, "the refused duplicate is kept, as failed: {}", failed.body);
    let r = api.call("GET", "/api/payments?status=lost", None).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // Viewers see payments but cannot take money.
    api.call(
        "POST",
        "/api/admins",
        Some(json!({"username": "looker", "password": "long enough pw", "role": "viewer"})),
    )
    .await;
    let viewer = api.login("looker", "long enough pw").await;
    let r = api.call_as(Some(&viewer), "GET", "/api/payments", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api
        .call_as(Some(&viewer), "POST", &format!("/api/customers/{cid}/payments"), Some(json!({"amount": "1500"})))
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    api.finish().await;
}

#[tokio::test]
async fn secrets_move_from_the_jwt_derived_key_to_encryption_key() {
    use broadnet_app::crypto::SecretBox;
    use broadnet_store::{Setting, SettingsRepo};
    let api = Api::start().await;
    let jwt = "a-test-secret-that-is-long-enough-0123456789";
    // An older install: provider keys encrypted with the key derived from JWT_SECRET.
    let old = SecretBox::from_key_material(jwt);
    let actor = Actor::system("test", api.app.now());
    let stored = vec![Setting { key: "passkey".into(), value: old.encrypt("bfb279f9aa9bdbcf"), secret: true }];
    api.store.put_settings(&actor, "mpesa", stored).await.unwrap();
    // Now ENCRYPTION_KEY is set (generated, or by the operator).
    let mut vars = Vars::new();
    vars.insert("DATABASE_URL".into(), api.db.as_ref().unwrap().url.clone());
    vars.insert("JWT_SECRET".into(), jwt.into());
    vars.insert("ENCRYPTION_KEY".into(), "9f".repeat(4) + &"1a2b3c4d5e6f7081".repeat(3) + "deadbeefcafef00d");
    let (cfg, problems): (Config, _) = Config::from_vars(&vars);
    assert!(problems.iter().all(|p| !p.fatal), "{problems:?}");
    assert!(cfg.encryption_previous.is_some());
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()));
    let dyn_store: DynStore = Arc::new(api.store.clone());
    let app = server::build_app(&cfg, dyn_store, clock);
    assert_eq!(
        app.setting(broadnet_app::settings::SettingKey::MpesaPasskey).await.unwrap().as_deref(),
        Some("bfb279f9aa9bdbcf")
    );
    assert_eq!(app.reencrypt_secrets().await.unwrap(), 1);
    assert_eq!(app.reencrypt_secrets().await.unwrap(), 0, "once");
    let raw = api.store.get_settings("mpesa").await.unwrap().into_iter().find(|s| s.key == "passkey").unwrap();
    let new = SecretBox::from_key_material(cfg.encryption_key.expose());
    assert_eq!(new.decrypt(&raw.value).unwrap(), "bfb279f9aa9bdbcf", "readable with ENCRYPTION_KEY alone");
    assert!(old.decrypt(&raw.value).is_err());
    api.finish().await;
}

#[tokio::test]
async fn a_free_package_is_only_made_on_purpose_and_nothing_pays_zero() {
    let api = Api::start().await;
    let pkg = |price: &str, free: Option<bool>| {
        let mut b = json!({"name": format!("Promo {price} {free:?}"), "price": price, "download_rate": "2M",
            "upload_rate": "1M", "duration": "1d"});
        if let Some(f) = free {
            b["free"] = json!(f);
        }
        b
    };
    let r = api.call("POST", "/api/packages", Some(pkg("0", None))).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.body["error"]["fields"]["price"].is_array(), "{}", r.body);
    let r = api.call("POST", "/api/packages", Some(pkg("50", Some(true)))).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let r = api.call("POST", "/api/packages", Some(pkg("0", Some(true)))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["free"], true);
    let free_pkg = r.body["id"].as_i64().unwrap();
    let mut c = customer("freebie", "0712000111");
    c["package_id"] = json!(free_pkg);
    let r = api.call("POST", "/api/customers", Some(c)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let cid = r.body["id"].as_i64().unwrap();
    let r = api.call("POST", &format!("/api/customers/{cid}/payments"), Some(json!({"amount": "0"}))).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.body["error"]["fields"]["amount"].is_array(), "{}", r.body);
    api.finish().await;
}

fn login_request(user: &str, peer: &str, forwarded_for: &str) -> Request<Body> {
    let peer: std::net::SocketAddr = peer.parse().unwrap();
    Request::builder()
        .method("POST")
        .uri("/api/auth/login")
        .extension(axum::extract::ConnectInfo(peer))
        .header("x-forwarded-for", forwarded_for)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"username": user, "password": "guess"}).to_string()))
        .unwrap()
}

/// Review D9: what a client writes into X-Forwarded-For does not choose its address.
/// Behind the proxy the address is the right-most hop the trusted proxy vouches for;
/// from anyone else, the TCP peer.
#[tokio::test]
async fn forwarded_for_cannot_dodge_the_per_ip_login_limit() {
    let api = Api::start().await;
    // (TCP peer, the hop a proxy appended): Nginx on loopback appending the client it
    // saw, and the review's client talking to us directly with a made-up chain.
    for (peer, appended) in [("127.0.0.1:41000", "203.0.113.50"), ("192.0.2.10:41000", "127.0.0.1")] {
        let mut limited = None;
        for n in 0..25 {
            // A new username each time, so only the per-IP limit can apply.
            let req = login_request(&format!("{}-user{n}", &peer[..3]), peer, &format!("10.4.{n}.1, {appended}"));
            let r = api.raw(req).await;
            if r.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(n);
                break;
            }
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        }
        assert!(limited.is_some_and(|n| n >= 19), "{peer}: rotating X-Forwarded-For was not limited: {limited:?}");
    }
    // The audit log records the address the proxy saw, not the one the client claimed.
    let req = Request::builder()
        .method("POST")
        .uri("/api/packages")
        .extension(axum::extract::ConnectInfo("127.0.0.1:41001".parse::<std::net::SocketAddr>().unwrap()))
        .header(header::AUTHORIZATION, format!("Bearer {}", api.token))
        .header("x-forwarded-for", "10.9.9.9, 198.51.100.77")
        .header("x-real-ip", "10.66.66.66")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(package_body("Proxied").to_string()))
        .unwrap();
    assert_eq!(api.raw(req).await.status, StatusCode::CREATED);
    let r = api.call("GET", "/api/audit-log?entity_type=package", None).await;
    assert_eq!(r.body["items"][0]["ip"], "198.51.100.77", "{}", r.body);
    api.finish().await;
}

fn cookie_post(cookie: &str, headers: &[(&str, &str)], body: Value) -> Request<Body> {
    let mut b = Request::builder()
        .method("POST")
        .uri("/api/packages")
        .header(header::COOKIE, cookie)
        .header(header::HOST, "billing.example.net");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn package_body(name: &str) -> Value {
    json!({"name": name, "price": "1500", "download_rate": "10M", "upload_rate": "5M", "duration": "30d", "service_type": "pppoe"})
}

/// Review D14: a cookie-authenticated write from another origin is refused, and JSON
/// routes take only JSON (a plain HTML form cannot send it cross-origin).
#[tokio::test]
async fn cross_origin_cookie_writes_and_non_json_bodies_are_refused() {
    let api = Api::start().await;
    let r = api.call_as(None, "POST", "/api/auth/login", Some(json!({"username": "root", "password": ADMIN_PW}))).await;
    let set = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    let json_ct = (header::CONTENT_TYPE.as_str(), "application/json");

    // The review's request: cookie, text/plain, a foreign Origin.
    let r = api
        .raw(cookie_post(
            &cookie,
            &[("content-type", "text/plain"), ("origin", "https://evil.example")],
            package_body("Evil 1"),
        ))
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    // A sibling subdomain is "same site" for SameSite, but not our origin.
    let r =
        api.raw(cookie_post(&cookie, &[json_ct, ("origin", "https://shop.example.net")], package_body("Evil 2"))).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    for site in ["cross-site", "same-site"] {
        let r = api.raw(cookie_post(&cookie, &[json_ct, ("sec-fetch-site", site)], package_body("Evil 3"))).await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    let r = api.raw(cookie_post(&cookie, &[json_ct, ("origin", "null")], package_body("Evil 4"))).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    // Reads are not affected.
    let req = Request::builder()
        .uri("/api/auth/me")
        .header(header::COOKIE, &cookie)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.raw(req).await.status, StatusCode::OK);

    // Our own pages: Origin naming the host the browser addressed, or no Origin at all
    // (scripts with the cookie).
    let own = [json_ct, ("origin", "http://billing.example.net"), ("sec-fetch-site", "same-origin")];
    let r = api.raw(cookie_post(&cookie, &own, package_body("Own 1"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = api.raw(cookie_post(&cookie, &[json_ct], package_body("Own 2"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A Bearer token is never sent by a browser on its own: no Origin check.
    let req = Request::builder()
        .method("POST")
        .uri("/api/packages")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.token))
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header("origin", "https://tools.example.org")
        .body(Body::from(package_body("Bearer 1").to_string()))
        .unwrap();
    assert_eq!(api.raw(req).await.status, StatusCode::CREATED);

    // Only JSON on JSON routes, in our error shape.
    for ct in [Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data"), None] {
        let mut b = Request::builder()
            .method("POST")
            .uri("/api/packages")
            .header(header::AUTHORIZATION, format!("Bearer {}", api.token));
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        let r = api.raw(b.body(Body::from(package_body("Not JSON").to_string())).unwrap()).await;
        assert_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    // A bodyless POST still reads as `{}` (here: the missing fields are named).
    let req = Request::builder()
        .method("POST")
        .uri("/api/packages")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.token))
        .body(Body::empty())
        .unwrap();
    assert_error(&api.raw(req).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let r = api.call("GET", "/api/packages", None).await;
    let names: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with("Evil") && *n != "Not JSON"), "{names:?}");
    api.finish().await;
}

/// Review, informational: a body over the limit is 413 in our shape, not 400.
#[tokio::test]
async fn oversized_bodies_are_413() {
    let api = Api::start().await;
    let big = json!({"name": "x".repeat(3 * 1024 * 1024)}).to_string();
    let req = Request::builder()
        .method("POST")
        .uri("/api/packages")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(big))
        .unwrap();
    assert_error(&api.raw(req).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    api.finish().await;
}

/// Review D15: every answer says no sniffing, no framing, no referrer; API answers are
/// not cached; HTML gets a real Content-Security-Policy.
#[tokio::test]
async fn every_answer_carries_security_headers() {
    let api = Api::start().await;
    let api_answer = api.call("GET", "/api/customers", None).await;
    let health = api.call_as(None, "GET", "/health", None).await;
    let missing = api.call_as(None, "GET", "/no/such/page", None).await;
    let api_error = api.call_as(None, "GET", "/api/customers", None).await;
    let login_page = api.call_as(None, "GET", "/provision/hotspot/login.html", None).await;
    assert_eq!(login_page.status, StatusCode::OK);
    for (what, r) in
        [("api", &api_answer), ("health", &health), ("404", &missing), ("401", &api_error), ("login", &login_page)]
    {
        let h = |name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(h("x-frame-options"), "DENY", "{what}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
        assert!(h("content-security-policy").contains("frame-ancestors 'none'"), "{what}");
    }
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for r in [&api_answer, &api_error] {
        assert_eq!(r.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    }
    assert!(login_page.headers.get(header::CACHE_CONTROL).is_none());
    let csp = login_page.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert_eq!(csp, "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    api.finish().await;
}

#[tokio::test]
async fn expiry_dates_past_2100_are_refused() {
    let api = Api::start().await;
    for when in ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-05:00", "1970-01-01T00:00:00Z"] {
        let mut c = customer("forever", "0712000222");
        c["expires_at"] = json!(when);
        let r = api.call("POST", "/api/customers", Some(c)).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(r.body["error"]["fields"]["expires_at"].is_array(), "{when}: {}", r.body);
    }
    let mut c = customer("forever", "0712000222");
    c["expires_at"] = json!("2099-12-31T23:59:59Z");
    let r = api.call("POST", "/api/customers", Some(c)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    api.finish().await;
}

#[tokio::test]
async fn moving_a_router_to_another_address_forgets_its_api_password() {
    let api = Api::start().await;
    let r = api.call("POST", "/api/routers", Some(json!({"name": "Ruiru"}))).await;
    let id = r.body["id"].as_i64().unwrap();
    let path = format!("/api/routers/{id}");
    let r = api.call("PATCH", &path, Some(json!({"api_host": "10.20.0.1", "api_password": "RouterPw-2026"}))).await;
    assert_eq!((r.status, &r.body["api_password_set"]), (StatusCode::OK, &json!(true)), "{}", r.body);
    // Renaming keeps it; pointing the router elsewhere (an attacker's listener, say) does not.
    let r = api.call("PATCH", &path, Some(json!({"name": "Ruiru 2", "api_host": "10.20.0.1"}))).await;
    assert_eq!(r.body["api_password_set"], true, "{}", r.body);
    let r = api.call("PATCH", &path, Some(json!({"api_port": 18728}))).await;
    assert_eq!(r.body["api_password_set"], true, "a new port on the same address keeps it: {}", r.body);
    let set_pw = json!({"api_password": "RouterPw-2026"});
    assert_eq!(api.call("PATCH", &path, Some(set_pw.clone())).await.body["api_password_set"], true);
    let r = api.call("PATCH", &path, Some(json!({"api_host": "203.0.113.66"}))).await;
    assert_eq!((r.status, &r.body["api_password_set"]), (StatusCode::OK, &json!(false)), "{}", r.body);
    assert_eq!(api.call("PATCH", &path, Some(set_pw.clone())).await.body["api_password_set"], true);
    let r = api.call("PATCH", &path, Some(json!({"api_tls": true}))).await;
    assert_eq!(r.body["api_password_set"], true, "{}", r.body);
    let r = api.call("PATCH", &path, Some(json!({"api_tls": false}))).await;
    assert_eq!(r.body["api_password_set"], false, "TLS turned off: {}", r.body);
    // Moved with a password given in the same request: that password is kept.
    let r = api.call("PATCH", &path, Some(json!({"api_host": "10.20.0.9", "api_password": "NewPw-2026"}))).await;
    assert_eq!(r.body["api_password_set"], true, "{}", r.body);
    api.finish().await;
}

#[tokio::test]
async fn control_characters_and_address_lists_are_refused_where_they_would_travel() {
    let api = Api::start().await;
    for (field, value) in [
        ("full_name", "Jane\u{0}Wanjiku"),
        ("full_name", "Jane\r\nBcc: all@isp.example"),
        ("full_name", "Jane \u{1b}[31mRed"),
        ("location", "Kasarani\nStage 2"),
        ("notes", "paid \u{0} cash"),
        ("email", "jane@example.com, boss@example.com"),
        ("email", "Jane <jane@example.com>"),
        ("email", "jane@example.com\r\nBcc: x@y.z"),
        ("email", "a@b@example.com"),
    ] {
        let mut c = customer("ctrl1", "0712000333");
        c[field] = json!(value);
        let r = api.call("POST", "/api/customers", Some(c)).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(r.body["error"]["fields"][field].is_array(), "{field} {value:?}: {}", r.body);
    }
    // Notes may span lines; Windows line ends are kept as plain ones.
    let mut c = customer("ctrl1", "0712000333");
    c["notes"] = json!("line one\r\nline two\tend");
    c["email"] = json!("jane.w+wifi@example.co.ke");
    let r = api.call("POST", "/api/customers", Some(c)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["notes"], "line one\nline two\tend");
    let r = api
        .call(
            "POST",
            "/api/packages",
            Some(json!({"name": "Home\n10M", "price": "1500", "download_rate": "10M",
        "upload_rate": "5M", "duration": "30d"})),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    api.finish().await;
}

#[tokio::test]
async fn customer_usernames_are_unique_regardless_of_case() {
    let api = Api::start().await;
    let r = api.call("POST", "/api/customers", Some(customer("payone", "0712000444"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A paybill account typed in capitals must name one customer, never another's.
    for variant in ["PAYONE", "PayOne"] {
        let r = api.call("POST", "/api/customers", Some(customer(variant, "0712000445"))).await;
        assert_error(&r, StatusCode::CONFLICT, "conflict");
        assert!(r.body["error"]["fields"]["username"].is_array(), "{}", r.body);
    }
    let r = api.call("POST", "/api/customers", Some(customer("paytwo", "0712000446"))).await;
    let two = r.body["id"].as_i64().unwrap();
    let r = api.call("PATCH", &format!("/api/customers/{two}"), Some(json!({"username": "PAYONE"}))).await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let found = broadnet_store::CustomerRepo::get_customer_by_username(&api.store, " PayOne ").await.unwrap();
    assert_eq!(found.username.as_str(), "payone");
    api.finish().await;
}

#[tokio::test]
async fn a_new_customer_has_no_access_until_paid_or_explicitly_activated_with_a_reason() {
    let api = Api::start().await;
    let pkg = api.package().await;
    let mut body = customer("newbie1", "0712000901");
    body["package_id"] = json!(pkg);
    // Asking for "active" at creation gives no access either.
    body["status"] = json!("active");
    let r = api.call("POST", "/api/customers", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!((r.body["status"].as_str(), r.body["expires_at"].as_str()), (Some("awaiting_payment"), None));
    let cid = r.body["id"].as_i64().unwrap();

    // "active" by editing is refused: it would be free access without a trace.
    let r = api.call("PATCH", &format!("/api/customers/{cid}"), Some(json!({"status": "active"}))).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.body["error"]["fields"]["status"].is_array(), "{}", r.body);

    // Activation needs a reason and an end; a viewer cannot do it.
    let path = format!("/api/customers/{cid}/activate");
    let r = api.call("POST", &path, Some(json!({}))).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields = &r.body["error"]["fields"];
    assert!(fields["reason"].is_array() && fields["expires_at"].is_array(), "{}", r.body);
    let r = api.call("POST", &path, Some(json!({"reason": "trial", "days": 7, "colour": "red"}))).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    api.call(
        "POST",
        "/api/admins",
        Some(json!({"username": "viewer9", "password": "long enough pw", "role": "viewer"})),
    )
    .await;
    let viewer = api.login("viewer9", "long enough pw").await;
    let r = api.call_as(Some(&viewer), "POST", &path, Some(json!({"reason": "trial", "days": 7}))).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let c = api.call("GET", &format!("/api/customers/{cid}"), None).await;
    assert_eq!(c.body["status"], "awaiting_payment", "nothing changed: {}", c.body);

    let r = api.call("POST", &path, Some(json!({"reason": "free trial week", "days": 7}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["expires_at"].as_str()),
        (Some("active"), Some("2026-12-02T09:00:00Z"))
    );
    // Clearing the expiry of an active customer would be free access for ever.
    let r = api.call("PATCH", &format!("/api/customers/{cid}"), Some(json!({"expires_at": null}))).await;
    assert!(r.body["error"]["fields"]["expires_at"].is_array(), "{}", r.body);
    let log = api.call("GET", &format!("/api/audit-log?entity_type=customer&entity_id={cid}"), None).await;
    let entry = log.body["items"].as_array().unwrap().iter().find(|e| e["action"] == "customer.activate").cloned();
    let entry = entry.unwrap_or_else(|| panic!("no customer.activate entry: {}", log.body));
    assert_eq!(entry["after"]["reason"], "free trial week", "{entry}");
    assert_eq!(entry["admin_username"], "root");

    // An expiry given when creating is that same explicit, audited activation.
    let mut body = customer("newbie2", "0712000902");
    body["package_id"] = json!(pkg);
    body["expires_at"] = json!("2026-12-31T00:00:00Z");
    body["reason"] = json!("complimentary: the chief's office");
    let r = api.call("POST", "/api/customers", Some(body)).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["expires_at"].as_str()),
        (Some("active"), Some("2026-12-31T00:00:00Z"))
    );
    let id2 = r.body["id"].as_i64().unwrap();
    let log = api.call("GET", &format!("/api/audit-log?entity_type=customer&entity_id={id2}"), None).await;
    assert!(log.body.to_string().contains("complimentary: the chief's office"), "{}", log.body);
    api.finish().await;
}

#[tokio::test]
async fn any_amount_paid_is_kept_whole_periods_renew_and_credit_pays_the_rest() {
    let api = Api::start().await;
    let pkg = api.package().await; // KES 1,500, 30 days
    let mut c = customer("credit1", "0712000911");
    c["package_id"] = json!(pkg);
    let cid = api.call("POST", "/api/customers", Some(c)).await.body["id"].as_i64().unwrap();
    let pay = |amount: &str, reference: &str| {
        let (amount, reference) = (amount.to_string(), reference.to_string());
        let api = &api;
        async move {
            let r = api
                .call(
                    "POST",
                    &format!("/api/customers/{cid}/payments"),
                    Some(json!({"amount": amount, "reference": reference})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body
        }
    };

    // Less than the price: held as credit, the customer is told what is missing.
    let r = pay("1000", "R-1").await;
    assert_eq!(r["applied"]["periods"], 0, "{r}");
    assert_eq!((r["applied"]["balance"].as_i64(), r["applied"]["shortfall"].as_i64()), (Some(100000), Some(50000)));
    let c = api.call("GET", &format!("/api/customers/{cid}"), None).await.body;
    assert_eq!(
        (c["status"].as_str(), c["balance"].as_i64(), c["expires_at"].as_str()),
        (Some("awaiting_payment"), Some(100000), None)
    );
    let held = api.app.store.list_outbox(&Default::default()).await.unwrap();
    let completed = held.items.iter().find(|o| o.kind == broadnet_store::OutboxKind::PaymentCompleted).expect("queued");
    assert_eq!(completed.payload["shortfall_minor"], 50000, "{:?}", completed.payload);

    // 3,500 more with the 1,000 credit: three periods (4,500 = 3 × 1,500), no credit left.
    let r = pay("3500", "R-2").await;
    assert_eq!(r["applied"]["periods"], 3, "{r}");
    assert_eq!(r["expires_at"], "2027-02-23T09:00:00Z", "90 days from now: {r}");
    let c = api.call("GET", &format!("/api/customers/{cid}"), None).await.body;
    assert_eq!((c["status"].as_str(), c["balance"].as_i64()), (Some("active"), Some(0)));

    // More than a period: the rest stays as credit, time runs on from the expiry.
    let r = pay("2000", "R-3").await;
    assert_eq!((r["applied"]["periods"].as_i64(), r["applied"]["balance"].as_i64()), (Some(1), Some(50000)));
    assert_eq!(r["expires_at"], "2027-03-25T09:00:00Z");
    // The invoice says what was paid and what it bought.
    let inv = api.app.store.get_invoice(r["invoice_number"].as_str().unwrap()).await.unwrap();
    assert_eq!(
        (inv.periods, inv.applied.minor(), inv.balance_after.minor(), inv.amount.minor()),
        (1, 150000, 50000, 200000)
    );
    api.finish().await;
}

#[tokio::test]
async fn unmatched_payments_wait_for_an_admin_and_are_assigned_exactly_once() {
    let api = Api::start().await;
    let pkg = api.package().await; // KES 1,500, 30 days
    let mut c = customer("owner1", "0712000921");
    c["package_id"] = json!(pkg);
    let cid = api.call("POST", "/api/customers", Some(c)).await.body["id"].as_i64().unwrap();
    let urls = api.call("GET", "/api/payments/callback-urls", None).await;
    let confirm = urls.body["c2b_confirmation"].as_str().unwrap().replace("http://127.0.0.1:3000", "");
    let notice = json!({"TransactionType": "Pay Bill", "TransID": "RKX0000042", "TransTime": "20261125090000",
        "TransAmount": "3000.00", "BusinessShortCode": "600966", "BillRefNumber": "0wner1 typo", "MSISDN": "2547 ***** 921",
        "FirstName": "PETER", "MiddleName": "K", "LastName": "OTIENO"});
    // Safaricom retries: queued once.
    for _ in 0..3 {
        let r = api.call_as(None, "POST", &confirm, Some(notice.clone())).await;
        assert_eq!(r.body["ResultCode"], 0, "{}", r.body);
    }
    let queue = api.call("GET", "/api/payments/unmatched", None).await.body;
    assert_eq!(queue["total"], 1, "{queue}");
    let entry = &queue["items"][0];
    assert_eq!((entry["payer_name"].as_str(), entry["amount"].as_i64()), (Some("PETER K OTIENO"), Some(300000)));
    let uid = entry["id"].as_i64().unwrap();

    // Bad answers change nothing.
    let path = format!("/api/payments/unmatched/{uid}/assign");
    let r = api.call("POST", &path, Some(json!({}))).await;
    assert!(r.body["error"]["fields"]["customer_id"].is_array(), "{}", r.body);
    let r = api.call("POST", &path, Some(json!({"customer_id": 999999}))).await;
    assert!(r.body["error"]["fields"]["customer_id"].is_array(), "{}", r.body);

    // Two admins click at once: one assignment, one renewal, one clear refusal.
    let body = json!({"customer_id": cid, "note": "called in: typed the account wrong"});
    let (a, b) = tokio::join!(api.call("POST", &path, Some(body.clone())), api.call("POST", &path, Some(body.clone())));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{} / {}", a.body, b.body);
    let won = if a.status == StatusCode::OK { a.body } else { b.body };
    assert_eq!(won["applied"]["periods"], 2, "3,000 = 2 × 1,500: {won}");
    assert_eq!(won["payment"]["provider_receipt"], "RKX0000042");
    let c = api.call("GET", &format!("/api/customers/{cid}"), None).await.body;
    assert_eq!((c["status"].as_str(), c["expires_at"].as_str()), (Some("active"), Some("2027-01-24T09:00:00Z")));
    let done = api.call("GET", &format!("/api/payments/unmatched/{uid}"), None).await.body;
    assert_eq!((done["status"].as_str(), done["customer_id"].as_i64()), (Some("assigned"), Some(cid)));
    assert_eq!(done["resolved_by"], "root");
    let r = api.call("POST", &path, Some(body)).await;
    assert_error(&r, StatusCode::CONFLICT, "in_use");
    // The same confirmation arriving again now is a duplicate of an applied receipt.
    api.call_as(None, "POST", &confirm, Some(notice)).await;
    assert_eq!(api.call("GET", "/api/payments/unmatched?status=all", None).await.body["total"], 1);
    let open = api.call("GET", "/api/payments/unmatched", None).await.body;
    assert_eq!(open["total"], 0, "{open}");
    let log = api.call("GET", "/api/audit-log?action=unmatched.assign", None).await.body;
    assert_eq!(log["total"], 1, "{log}");
    api.finish().await;
}
