//! FreeRADIUS as the alternative: Debian's FreeRADIUS 3.x (installed by
//! ./scripts/test), configured in a private directory by the setup script our API
//! serves, authenticates a customer created through our API and writes its
//! accounting into our sessions table. SQLite only: FreeRADIUS's SQLite driver is in
//! its main package (the PostgreSQL and MySQL drivers are separate packages).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, header};
use broadnet_store::{Actor, SessionQuery};
use broadnet_testkit::{Backend, TestDb};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use tower::ServiceExt;

struct Radiusd(Child);

impl Drop for Radiusd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn radclient(port: u16, kind: &str, input: &str) -> (bool, String) {
    let mut child = Command::new("radclient")
        .args(["-x", "-t", "2", "-r", "2", &format!("127.0.0.1:{port}"), kind, "testing123"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("radclient: ./scripts/test installs freeradius-utils");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_freeradius_uses_our_database_through_the_setup_script() {
    if broadnet_testkit::backend() != Backend::Sqlite {
        return; // FreeRADIUS's PostgreSQL/MySQL drivers are not installed by the test command
    }
    assert!(
        std::path::Path::new("/etc/freeradius/3.0/radiusd.conf").exists(),
        "FreeRADIUS is missing: ./scripts/test installs it (apt-get install freeradius)"
    );
    let db = TestDb::new().await;
    // The real clock: FreeRADIUS compares expiry with its own.
    let parts = broadnet_testkit::app::build(&db, Vec::new(), Arc::new(broadnet_domain::SystemClock)).await;
    let router = parts.router();
    let broadnet_testkit::app::Parts { store, app, .. } = parts;
    let dyn_store: broadnet_store::DynStore = app.store.clone();
    let call = |method: &'static str, uri: &'static str, body: Option<Value>, token: Option<String>| {
        let router = router.clone();
        async move {
            let mut b = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json");
            if let Some(t) = token {
                b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
            }
            let resp = router
                .oneshot(b.body(body.map(|v| Body::from(v.to_string())).unwrap_or_else(Body::empty)).unwrap())
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let (_, login) =
        call("POST", "/api/auth/login", Some(json!({"username": "root", "password": "correct horse battery"})), None)
            .await;
    let token: Value = serde_json::from_str(&login).unwrap();
    let t = || Some(token["token"].as_str().unwrap().to_string());

    // Through the API: a package and two customers; the router directly (its API is issue #5's).
    let (st, pkg) = call(
        "POST",
        "/api/packages",
        Some(
            json!({"name": "Home 4M", "price": "1500", "download_rate": "4M", "upload_rate": "2M", "duration": "30d"}),
        ),
        t(),
    )
    .await;
    assert_eq!(st, 201, "{pkg}");
    let pkg: Value = serde_json::from_str(&pkg).unwrap();
    let expires = (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339();
    let (st, c) = call(
        "POST",
        "/api/customers",
        Some(json!({"full_name": "Jane", "username": "jane", "password": "hello123", "phone": "0712000301",
            "customer_type": "pppoe", "package_id": pkg["id"], "expires_at": expires})),
        t(),
    )
    .await;
    assert_eq!(st, 201, "{c}");
    let (st, c) = call(
        "POST",
        "/api/customers",
        Some(json!({"full_name": "Late", "username": "late", "password": "hello123", "phone": "0712000302",
            "customer_type": "pppoe", "package_id": pkg["id"], "expires_at": "2026-01-01T00:00:00Z"})),
        t(),
    )
    .await;
    assert_eq!(st, 201, "{c}");
    dyn_store
        .create_router(
            &Actor::system("test", chrono::Utc::now()),
            broadnet_store::NewRouter {
                name: "local".into(),
                nas_ip: Some("127.0.0.1".into()),
                radius_secret: "testing123".into(),
                service_types: broadnet_domain::ServiceType::Both,
                require_message_authenticator: false,
            },
        )
        .await
        .unwrap();

    // The script from the API, refused to anyone but a superadmin.
    let (st, script) = call("GET", "/api/radius/freeradius-setup.sh", None, t()).await;
    assert_eq!(st, 200, "{script}");
    assert!(script.starts_with("#!/bin/sh"));

    // A private copy of Debian's configuration, on free ports, run as the test's user.
    let dir = tempfile::tempdir().unwrap();
    let raddb = dir.path().join("raddb");
    assert!(Command::new("cp").args(["-rL", "/etc/freeradius/3.0"]).arg(&raddb).status().unwrap().success());
    let (auth, acct) = (free_udp_port(), free_udp_port());
    let conf = std::fs::read_to_string(raddb.join("radiusd.conf")).unwrap();
    let conf = conf
        .replace("user = freerad", "#user = freerad")
        .replace("group = freerad", "#group = freerad")
        .replace("logdir = /var/log/freeradius", &format!("logdir = {}", dir.path().display()))
        .replace("run_dir = ${localstatedir}/run/${name}", &format!("run_dir = {}", dir.path().display()))
        .replace("raddbdir = /etc/freeradius/3.0", &format!("raddbdir = {}", raddb.display()));
    std::fs::write(raddb.join("radiusd.conf"), conf).unwrap();
    let _ = std::fs::remove_file(raddb.join("sites-enabled/inner-tunnel"));
    let _ = std::fs::remove_file(raddb.join("sites-enabled/default"));
    let site = std::fs::read_to_string(raddb.join("sites-available/default")).unwrap();
    // Only the IPv4 listeners, on our ports.
    let mut out = String::new();
    let mut listen = 0;
    let mut skip = false;
    for line in site.lines() {
        let trimmed = line.trim();
        if trimmed == "listen {" {
            listen += 1;
            skip = listen > 2;
        }
        if !skip {
            let l = match (trimmed, listen) {
                ("port = 0", 1) => format!("\tport = {auth}"),
                ("port = 0", 2) => format!("\tport = {acct}"),
                ("ipaddr = *", _) => "\tipaddr = 127.0.0.1".to_string(),
                _ => line.to_string(),
            };
            out.push_str(&l);
            out.push('\n');
        }
        if skip && trimmed == "}" && line.starts_with('}') {
            skip = false;
        }
    }
    std::fs::write(raddb.join("sites-available/default"), out).unwrap();
    std::os::unix::fs::symlink("../sites-available/default", raddb.join("sites-enabled/default")).unwrap();
    std::fs::write(dir.path().join("setup.sh"), &script).unwrap();
    let applied = Command::new("sh")
        .arg(dir.path().join("setup.sh"))
        .env("RADDB", &raddb)
        .env("NO_RESTART", "1")
        .output()
        .unwrap();
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));

    let log = std::fs::File::create(dir.path().join("radiusd.out")).unwrap();
    let child = Command::new("freeradius")
        .args(["-f", "-X", "-d"])
        .arg(&raddb)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("freeradius binary");
    let _radiusd = Radiusd(child);
    let debug = || std::fs::read_to_string(dir.path().join("radiusd.out")).unwrap_or_default();

    let pap =
        "User-Name = \"jane\", User-Password = \"hello123\", NAS-IP-Address = 127.0.0.1, Service-Type = Framed-User";
    let mut accepted = (false, String::new());
    for _ in 0..20 {
        accepted = tokio::task::spawn_blocking(move || radclient(auth, "auth", pap)).await.unwrap();
        if accepted.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(accepted.0, "{}\n--- freeradius -X ---\n{}", accepted.1, debug());
    assert!(accepted.1.contains("Mikrotik-Rate-Limit = \"2M/4M\""), "{}", accepted.1);

    let late = "User-Name = \"late\", User-Password = \"hello123\", NAS-IP-Address = 127.0.0.1";
    let (ok, out) = tokio::task::spawn_blocking(move || radclient(auth, "auth", late)).await.unwrap();
    assert!(!ok && out.contains("Access-Reject"), "expired customer: {out}");

    let start = "Acct-Status-Type = Start, User-Name = \"jane\", Acct-Session-Id = \"fr000001\", NAS-IP-Address = 127.0.0.1, Framed-IP-Address = 10.5.0.7";
    let (ok, out) = tokio::task::spawn_blocking(move || radclient(acct, "acct", start)).await.unwrap();
    assert!(ok, "{out}\n--- freeradius -X ---\n{}", debug());
    let sessions =
        dyn_store.list_sessions(&SessionQuery { username: Some("jane".into()), ..Default::default() }).await.unwrap();
    assert_eq!(sessions.total, 1, "accounting from FreeRADIUS lands in our sessions table");
    assert_eq!(sessions.items[0].framed_ip.as_deref(), Some("10.5.0.7"));
    assert!(sessions.items[0].stopped_at.is_none());

    drop(_radiusd);
    store.close().await;
    db.cleanup().await;
}
