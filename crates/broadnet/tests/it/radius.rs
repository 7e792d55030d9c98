//! The built-in RADIUS server driven by FreeRADIUS's own `radclient` (package
//! freeradius-utils, installed by ./scripts/test), plus raw datagrams for what
//! radclient cannot send on purpose (exact retransmissions, garbage).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use broadnet_domain::{CustomerStatus, CustomerType, Money, Phone, ServiceType, Username};
use broadnet_radius::dict::attr;
use broadnet_radius::{Avp, Code, Packet, crypto, encode_request, verify_response};
use broadnet_radius_server::{Config, Server, Stats, authorization::Policy};
use broadnet_store::{Actor, DynStore, NewCustomer, NewPackage, NewRouter, PostAuthQuery, SessionQuery};
use broadnet_store_sql::SqlStore;
use broadnet_testkit::TestDb;
use broadnet_testkit::{WAIT, eventually};
use chrono::{Duration, Utc};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "testing123";

struct Rad {
    store: DynStore,
    sql: SqlStore,
    server: Arc<Server>,
    auth: u16,
    acct: u16,
    shutdown: CancellationToken,
    db: TestDb,
}

fn actor() -> Actor {
    Actor::system("test", Utc::now())
}

impl Rad {
    async fn start(require_ma: bool) -> Rad {
        Rad::start_with(require_ma, 3799).await
    }

    /// With the routers' Dynamic Authorization port at `coa_port` (a fake NAS).
    async fn start_with(require_ma: bool, coa_port: u16) -> Rad {
        let db = TestDb::new().await;
        let sql = SqlStore::open(&db.url).await.unwrap();
        let store: DynStore = Arc::new(sql.clone());
        store
            .create_router(
                &actor(),
                NewRouter {
                    name: "core-1".into(),
                    nas_ip: Some("127.0.0.1".into()),
                    radius_secret: SECRET.into(),
                    service_types: ServiceType::Both,
                    require_message_authenticator: require_ma,
                },
            )
            .await
            .unwrap();
        let pkg = store
            .create_package(
                &actor(),
                NewPackage {
                    name: "Home 4M".into(),
                    description: None,
                    service_type: ServiceType::Both,
                    price: Money::parse_major("1500").unwrap(),
                    download_bps: 4_000_000,
                    upload_bps: 2_000_000,
                    burst: None,
                    duration_minutes: 43200,
                    data_limit_mb: None,
                    shared_users: 1,
                    framed_pool: Some("home-pool".into()),
                    active: true,
                },
            )
            .await
            .unwrap();
        let now = Utc::now();
        let customers = [
            ("alice", "hello", CustomerType::Pppoe, now + Duration::days(10), None),
            ("User", "clientPass", CustomerType::Pppoe, now + Duration::days(10), None),
            ("oldtimer", "oldpw", CustomerType::Pppoe, now - Duration::days(2), None),
            ("hot1", "hotpw", CustomerType::Hotspot, now + Duration::hours(3), Some("AA:BB:CC:DD:EE:FF")),
            // Created, never paid: no access, whatever date it carries.
            ("newbie", "newpw", CustomerType::Pppoe, now + Duration::days(10), None),
        ];
        for (i, (user, pw, ctype, expires, mac)) in customers.into_iter().enumerate() {
            store
                .create_customer(
                    &actor(),
                    NewCustomer {
                        full_name: format!("Customer {user}"),
                        username: Username::parse(user).unwrap(),
                        password: pw.into(),
                        phone: Phone::parse(&format!("07120000{i:02}")).unwrap(),
                        email: None,
                        customer_type: ctype,
                        package_id: Some(pkg.id),
                        router_id: None,
                        status: if user == "newbie" { CustomerStatus::AwaitingPayment } else { CustomerStatus::Active },
                        expires_at: Some(expires),
                        mac_address: mac.map(str::to_string),
                        static_ip: None,
                        location: None,
                        notes: None,
                        created_at: now,
                    },
                )
                .await
                .unwrap();
        }
        let server = Server::new(
            store.clone(),
            Config {
                auth_addr: "127.0.0.1:0".parse().unwrap(),
                acct_addr: "127.0.0.1:0".parse().unwrap(),
                policy: Policy { how_to_pay: "Pay with M-Pesa paybill 174379.".into(), ..Policy::default() },
                client_refresh: std::time::Duration::from_secs(30),
                default_secret: String::new(),
                coa_port,
            },
        );
        let bound = server.bind().await.unwrap();
        let (auth, acct) = (bound.auth.local_addr().unwrap().port(), bound.acct.local_addr().unwrap().port());
        let shutdown = CancellationToken::new();
        tokio::spawn(server.clone().run(bound, shutdown.clone()));
        Rad { store, sql, server, auth, acct, shutdown, db }
    }

    async fn finish(self) {
        self.shutdown.cancel();
        self.sql.close().await;
        self.db.cleanup().await;
    }

    /// Runs radclient; returns (exit success, stdout + stderr).
    async fn radclient(&self, kind: &str, secret: &str, input: &str) -> (bool, String) {
        let port = if kind == "acct" { self.acct } else { self.auth };
        radclient_at(port, kind, secret, input).await
    }
}

/// Runs radclient against a port; returns (exit success, stdout + stderr).
async fn radclient_at(port: u16, kind: &str, secret: &str, input: &str) -> (bool, String) {
    {
        let (kind, secret, input) = (kind.to_string(), secret.to_string(), input.to_string());
        tokio::task::spawn_blocking(move || {
            let mut child = Command::new("radclient")
                .args(["-x", "-t", "1", "-r", "1", &format!("127.0.0.1:{port}"), &kind, &secret])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("radclient is missing: ./scripts/test installs freeradius-utils");
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            (
                out.status.success(),
                format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
            )
        })
        .await
        .unwrap()
    }
}

impl Rad {
    async fn raw(&self, port: u16, datagram: &[u8]) -> Option<Vec<u8>> {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sock.send_to(datagram, SocketAddr::from(([127, 0, 0, 1], port))).await.unwrap();
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(std::time::Duration::from_millis(700), sock.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
            _ => None,
        }
    }
}

const PPP: &str =
    "Service-Type = Framed-User, Framed-Protocol = PPP, NAS-IP-Address = 127.0.0.1, NAS-Port-Type = Ethernet";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pap_chap_and_ms_chap_are_accepted_with_the_package_attributes() {
    let r = Rad::start(true).await;
    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"alice\", User-Password = \"hello\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(ok, "{out}");
    assert!(out.contains("Received Access-Accept"), "{out}");
    assert!(out.contains("Mikrotik-Rate-Limit = \"2M/4M\""), "{out}");
    assert!(out.contains("Acct-Interim-Interval = 300"), "{out}");
    assert!(out.contains("Framed-Pool = \"home-pool\""), "{out}");
    assert!(out.contains("Session-Timeout = "), "{out}");
    assert!(out.contains("Message-Authenticator = "), "{out}");

    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"alice\", CHAP-Password = \"hello\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(ok && out.contains("Received Access-Accept"), "CHAP: {out}");

    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"alice\", MS-CHAP-Password = \"hello\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(ok && out.contains("Received Access-Accept"), "MS-CHAPv1: {out}");
    assert!(out.contains("MS-CHAP-MPPE-Keys"), "{out}");

    // radclient has no MS-CHAPv2 helper: the RFC 2759 vector, as raw attributes.
    let v2 = format!(
        "User-Name = \"User\", MS-CHAP-Challenge = 0x5B5D7C7D7B3F2F3E3C2C602132262628, \
         MS-CHAP2-Response = 0x010021402324255E262A28295F2B3A337C7E000000000000000082309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF, \
         {PPP}, Message-Authenticator = 0x00"
    );
    let (ok, out) = r.radclient("auth", SECRET, &v2).await;
    assert!(ok && out.contains("Received Access-Accept"), "MS-CHAPv2: {out}");
    let lower = out.to_lowercase();
    // "S=407A5589…" after the ident octet, as radclient prints octets.
    assert!(lower.contains("ms-chap2-success = 0x01533d34303741353538393131354644304436323039463531304645394330343536363933324344413536"), "{out}");
    assert!(lower.contains("8b7cdc149b993a1ba118cb153f56dccb"), "MPPE send key decrypted by radclient: {out}");
    assert!(lower.contains("d5f0e9521e3ea9589645e86051c82226"), "MPPE recv key: {out}");

    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"alice\", User-Password = \"wrong\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(!ok && out.contains("Received Access-Reject"), "{out}");
    assert!(out.contains("wrong password"), "the reason is not told; the message is generic: {out}");
    let log =
        r.store.list_post_auth(&PostAuthQuery { username: Some("alice".into()), ..Default::default() }).await.unwrap();
    // The log is written just after the reply.
    let log2 = eventually("the fourth decision is logged", WAIT, || async {
        let log2 = r
            .store
            .list_post_auth(&PostAuthQuery { username: Some("alice".into()), ..Default::default() })
            .await
            .unwrap();
        (log2.total >= 4).then_some(log2)
    })
    .await;
    assert!(log2.total >= log.total && log2.total == 4, "{:?}", log2.items);
    assert_eq!(log2.items[0].reply, "Access-Reject");
    assert_eq!(log2.items[0].reason.as_deref(), Some("wrong password (PAP)"));
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_tell_the_customer_what_to_do() {
    let r = Rad::start(true).await;
    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"oldtimer\", User-Password = \"oldpw\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(!ok && out.contains("Received Access-Reject"), "{out}");
    assert!(out.contains("Your subscription expired on") && out.contains("paybill 174379"), "{out}");
    // A new account waits for its first payment, and is told how to pay.
    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"newbie\", User-Password = \"newpw\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(!ok && out.contains("pay to get online") && out.contains("paybill 174379"), "{out}");

    // A wrong password never reveals the account's state.
    let (_, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"oldtimer\", User-Password = \"guess\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(out.contains("Unknown username or wrong password") && !out.contains("expired"), "{out}");

    // A hotspot account over PPPoE, and a PPPoE account over the hotspot.
    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"hot1\", User-Password = \"hotpw\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(!ok && out.contains("This account is for hotspot"), "{out}");
    // Hotspot with the bound MAC (any notation) is accepted, with an idle timeout.
    let hs = "NAS-IP-Address = 127.0.0.1, NAS-Port-Type = Wireless-802.11, Message-Authenticator = 0x00";
    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!(
                "User-Name = \"hot1\", CHAP-Password = \"hotpw\", Calling-Station-Id = \"aa-bb-cc-dd-ee-ff\", {hs}"
            ),
        )
        .await;
    assert!(ok && out.contains("Idle-Timeout = 300"), "{out}");
    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!(
                "User-Name = \"hot1\", CHAP-Password = \"hotpw\", Calling-Station-Id = \"11:22:33:44:55:66\", {hs}"
            ),
        )
        .await;
    assert!(!ok && out.contains("locked to another device"), "{out}");
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounting_start_interim_stop_and_simultaneous_use() {
    let r = Rad::start(true).await;
    let start = "Acct-Status-Type = Start, User-Name = \"alice\", Acct-Session-Id = \"81a00001\", NAS-IP-Address = 127.0.0.1, Framed-IP-Address = 10.10.0.2, Calling-Station-Id = \"AA:BB:CC:00:11:22\"";
    let (ok, out) = r.radclient("acct", SECRET, start).await;
    assert!(ok && out.contains("Accounting-Response"), "{out}");
    let open = r
        .store
        .list_sessions(&SessionQuery { username: Some("alice".into()), open_only: true, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(open.total, 1);
    assert_eq!(open.items[0].framed_ip.as_deref(), Some("10.10.0.2"));

    // A second login while the first session is open is refused.
    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"alice\", User-Password = \"hello\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(!ok && out.contains("already connected"), "{out}");

    let interim = "Acct-Status-Type = Interim-Update, User-Name = \"alice\", Acct-Session-Id = \"81a00001\", NAS-IP-Address = 127.0.0.1, Acct-Session-Time = 300, Acct-Input-Octets = 5, Acct-Input-Gigawords = 1, Acct-Output-Octets = 123456";
    let (ok, out) = r.radclient("acct", SECRET, interim).await;
    assert!(ok, "{out}");
    let stop = "Acct-Status-Type = Stop, User-Name = \"alice\", Acct-Session-Id = \"81a00001\", NAS-IP-Address = 127.0.0.1, Acct-Session-Time = 600, Acct-Input-Octets = 9, Acct-Input-Gigawords = 1, Acct-Output-Octets = 223456, Acct-Terminate-Cause = User-Request";
    let (ok, out) = r.radclient("acct", SECRET, stop).await;
    assert!(ok, "{out}");
    // The interim, arriving again late (a new packet, not a retransmission), changes nothing.
    let (ok, _) = r.radclient("acct", SECRET, interim).await;
    assert!(ok);
    let all =
        r.store.list_sessions(&SessionQuery { username: Some("alice".into()), ..Default::default() }).await.unwrap();
    assert_eq!(all.total, 1);
    let s = &all.items[0];
    assert!(s.stopped_at.is_some());
    assert_eq!(s.session_time, Some(600));
    assert_eq!(s.input_octets, Some((1i64 << 32) + 9));
    assert_eq!(s.output_octets, Some(223456));
    assert_eq!(s.terminate_cause.as_deref(), Some("User-Request"));
    assert!(s.customer_id.is_some());

    // With the session closed, alice may log in again.
    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"alice\", User-Password = \"hello\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(ok, "{out}");

    // A Stop without a Start creates a closed row; Accounting-On closes the router's open sessions.
    let (ok, _) = r
        .radclient("acct", SECRET, "Acct-Status-Type = Start, User-Name = \"User\", Acct-Session-Id = \"81a00002\", NAS-IP-Address = 127.0.0.1")
        .await;
    assert!(ok);
    let (ok, out) = r.radclient("acct", SECRET, "Acct-Status-Type = Accounting-On, NAS-IP-Address = 127.0.0.1").await;
    assert!(ok, "{out}");
    let open = r.store.list_sessions(&SessionQuery { open_only: true, ..Default::default() }).await.unwrap();
    assert_eq!(open.total, 0, "{:?}", open.items);
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_missing_message_authenticator_and_garbage_are_dropped() {
    let r = Rad::start(true).await;
    let (ok, out) = r
        .radclient(
            "auth",
            "not-the-secret",
            &format!("User-Name = \"alice\", User-Password = \"hello\", {PPP}, Message-Authenticator = 0x00"),
        )
        .await;
    assert!(!ok && !out.contains("Received"), "{out}");
    let (ok, _) = r
        .radclient(
            "acct",
            "not-the-secret",
            "Acct-Status-Type = Start, User-Name = \"alice\", Acct-Session-Id = \"x1\"",
        )
        .await;
    assert!(!ok);
    assert!(Stats::get(&r.server.stats.dropped_bad_authenticator) >= 2);

    // radclient 3.2.1 adds no Message-Authenticator unless asked.
    let (ok, out) =
        r.radclient("auth", SECRET, &format!("User-Name = \"alice\", User-Password = \"hello\", {PPP}")).await;
    assert!(!ok && !out.contains("Received"), "{out}");
    assert!(Stats::get(&r.server.stats.dropped_no_message_authenticator) >= 1);

    for garbage in
        [&b"\x01\x02"[..], &[0u8; 20][..], &[1, 1, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9, 0][..]]
    {
        assert_eq!(r.raw(r.auth, garbage).await, None);
    }
    assert!(Stats::get(&r.server.stats.dropped_malformed) >= 3);
    assert_eq!(Stats::get(&r.server.stats.accepts), 0);
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retransmission_gets_the_cached_reply_not_a_second_decision() {
    let r = Rad::start(true).await;
    let ra: [u8; 16] = rand::random();
    let attrs = [
        Avp::text(attr::USER_NAME, "alice"),
        Avp::new(attr::USER_PASSWORD, crypto::hide_password(b"hello", SECRET.as_bytes(), &ra).unwrap()),
        Avp::int(attr::SERVICE_TYPE, 2),
        Avp::int(attr::FRAMED_PROTOCOL, 1),
    ];
    let req = encode_request(Code::AccessRequest, 42, &attrs, SECRET.as_bytes(), true, ra).unwrap();
    // Send from one socket twice: same source, identifier and authenticator.
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dst = SocketAddr::from(([127, 0, 0, 1], r.auth));
    let mut replies = Vec::new();
    for _ in 0..2 {
        sock.send_to(&req, dst).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let (n, _) =
            tokio::time::timeout(std::time::Duration::from_secs(2), sock.recv_from(&mut buf)).await.unwrap().unwrap();
        replies.push(buf[..n].to_vec());
    }
    assert_eq!(replies[0], replies[1]);
    assert_eq!(verify_response(&replies[0], &ra, SECRET.as_bytes()), Ok(true));
    let p = Packet::decode(&replies[0]).unwrap();
    assert_eq!(p.code, Code::AccessAccept);
    assert_eq!(p.attrs[0].typ, attr::MESSAGE_AUTHENTICATOR, "Message-Authenticator first");
    assert_eq!(Stats::get(&r.server.stats.access_requests), 1);
    assert_eq!(Stats::get(&r.server.stats.duplicates), 1);
    // The duplicate was answered from the cache (counted above), so once the one
    // decision is logged there is nothing more to wait for.
    let log = eventually("the decision is logged", WAIT, || async {
        let log = r.store.list_post_auth(&PostAuthQuery::default()).await.unwrap();
        (log.total >= 1).then_some(log)
    })
    .await;
    assert_eq!(log.total, 1, "one decision logged");
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_firmware_switch_accepts_requests_without_message_authenticator() {
    let r = Rad::start(false).await;
    let (ok, out) =
        r.radclient("auth", SECRET, &format!("User-Name = \"alice\", User-Password = \"hello\", {PPP}")).await;
    assert!(ok && out.contains("Received Access-Accept"), "{out}");
    // Even so, a Proxy-State without Message-Authenticator is refused (BlastRADIUS carrier).
    let (ok, _) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"alice\", User-Password = \"hello\", Proxy-State = 0x01020304, {PPP}"),
        )
        .await;
    assert!(!ok);
    r.finish().await;
}

/// A router's Dynamic Authorization port: records what arrives and answers ACK,
/// or NAK with Error-Cause 503 while `nak` is set.
async fn fake_nas() -> (u16, tokio::sync::mpsc::UnboundedReceiver<Packet>, Arc<std::sync::atomic::AtomicBool>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let nak = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let nak2 = nak.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let data = &buf[..n];
            let Ok(p) = Packet::decode(data) else { continue };
            // Exactly what a NAS checks: the computed Request Authenticator and the MA.
            if broadnet_radius::verify_request(data, &p, SECRET.as_bytes()) != Ok(true) {
                continue;
            }
            let refuse = nak2.load(std::sync::atomic::Ordering::SeqCst);
            let (code, attrs) = match (p.code, refuse) {
                (Code::DisconnectRequest, false) => (Code::DisconnectAck, vec![]),
                (Code::DisconnectRequest, true) => (Code::DisconnectNak, vec![Avp::int(attr::ERROR_CAUSE, 503)]),
                (_, false) => (Code::CoaAck, vec![]),
                (_, true) => (Code::CoaNak, vec![Avp::int(attr::ERROR_CAUSE, 503)]),
            };
            let reply = broadnet_radius::encode_response(code, &p, &attrs, SECRET.as_bytes(), true).unwrap();
            sock.send_to(&reply, from).await.unwrap();
            let _ = tx.send(p);
        }
    });
    (port, rx, nak)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_and_coa_reach_the_router() {
    use axum::body::Body;
    use axum::http::{Request, header};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    let r = Rad::start(true).await;
    let (coa_port, mut received, nak) = fake_nas().await;
    let mut vars = broadnet::config::Vars::new();
    vars.insert("DATABASE_URL".into(), r.db.url.clone());
    vars.insert("JWT_SECRET".into(), "a-test-secret-that-is-long-enough-0123456789".into());
    vars.insert("ADMIN_USERNAME".into(), "root".into());
    vars.insert("ADMIN_PASSWORD".into(), "correct horse battery".into());
    vars.insert("RADIUS_COA_PORT".into(), coa_port.to_string());
    let (cfg, _) = broadnet::config::Config::from_vars(&vars);
    let app = broadnet::server::build_app(&cfg, r.store.clone(), Arc::new(broadnet_domain::SystemClock));
    broadnet::server::ensure_first_admin(&cfg, &app).await.unwrap();
    let router = broadnet_web::router(broadnet::server::state(&cfg, app.clone()));
    let call = |method: &'static str, uri: String, body: Option<Value>, token: Option<String>| {
        let router = router.clone();
        async move {
            let mut b = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json");
            if let Some(t) = token {
                b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
            }
            let req = b.body(body.map(|v| Body::from(v.to_string())).unwrap_or_else(Body::empty)).unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    let (_, login) = call(
        "POST",
        "/api/auth/login".into(),
        Some(json!({"username": "root", "password": "correct horse battery"})),
        None,
    )
    .await;
    let token = login["token"].as_str().unwrap().to_string();
    let t = || Some(token.clone());

    let start = "Acct-Status-Type = Start, User-Name = \"alice\", Acct-Session-Id = \"81a00009\", NAS-IP-Address = 127.0.0.1, Framed-IP-Address = 10.10.0.9";
    assert!(r.radclient("acct", SECRET, start).await.0);
    let (st, list) = call("GET", "/api/sessions?open=true&username=alice".into(), None, t()).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["total"], 1, "{list}");
    let sid = list["items"][0]["id"].as_i64().unwrap();

    let (st, out) = call("POST", format!("/api/sessions/{sid}/disconnect"), None, t()).await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["ok"], true, "{out}");
    let p = tokio::time::timeout(std::time::Duration::from_secs(2), received.recv()).await.unwrap().unwrap();
    assert_eq!(p.code, Code::DisconnectRequest);
    assert_eq!(p.text(attr::USER_NAME).as_deref(), Some("alice"));
    assert_eq!(p.text(attr::ACCT_SESSION_ID).as_deref(), Some("81a00009"));
    assert_eq!(p.ipv4(attr::FRAMED_IP_ADDRESS), Some(std::net::Ipv4Addr::new(10, 10, 0, 9)));

    // A NAK is reported with its Error-Cause.
    nak.store(true, std::sync::atomic::Ordering::SeqCst);
    let alice = r.store.get_customer_by_username("alice").await.unwrap();
    let (st, out) = call("POST", format!("/api/customers/{}/disconnect", alice.id), None, t()).await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["sessions"][0]["ok"], false, "{out}");
    assert!(out["sessions"][0]["detail"].as_str().unwrap().contains("503 Session-Context-Not-Found"), "{out}");
    let _ = received.recv().await;
    nak.store(false, std::sync::atomic::Ordering::SeqCst);

    // A package change sends the new rate limit to the live session.
    let (st, pkg) = call(
        "POST",
        "/api/packages".into(),
        Some(json!({"name": "Fast", "price": "3000", "download_rate": "20M", "upload_rate": "10M", "duration": "30d"})),
        t(),
    )
    .await;
    assert_eq!(st, 201, "{pkg}");
    let (st, out) =
        call("PATCH", format!("/api/customers/{}", alice.id), Some(json!({"package_id": pkg["id"]})), t()).await;
    assert_eq!(st, 200, "{out}");
    // The CoA goes out through the outbox, committed with the change.
    assert!(app.run_outbox().await.unwrap() >= 1);
    let p = tokio::time::timeout(std::time::Duration::from_secs(3), received.recv()).await.unwrap().unwrap();
    assert_eq!(p.code, Code::CoaRequest);
    assert_eq!(p.vsa(broadnet_radius::dict::VENDOR_MIKROTIK, 8), Some(&b"10M/20M"[..]));

    // Suspending the customer disconnects them.
    let (st, out) =
        call("PATCH", format!("/api/customers/{}", alice.id), Some(json!({"status": "suspended"})), t()).await;
    assert_eq!(st, 200, "{out}");
    assert!(app.run_outbox().await.unwrap() >= 1);
    let p = tokio::time::timeout(std::time::Duration::from_secs(3), received.recv()).await.unwrap().unwrap();
    assert_eq!(p.code, Code::DisconnectRequest);

    // The expiry sweep disconnects a customer whose time ran out.
    let user = r.store.get_customer_by_username("User").await.unwrap();
    let start =
        "Acct-Status-Type = Start, User-Name = \"User\", Acct-Session-Id = \"81a0000e\", NAS-IP-Address = 127.0.0.1";
    assert!(r.radclient("acct", SECRET, start).await.0);
    let patch = broadnet_store::CustomerPatch {
        expires_at: Some(Some(Utc::now() - Duration::minutes(1))),
        ..Default::default()
    };
    r.store.update_customer(&actor(), user.id, patch).await.unwrap();
    assert_eq!(app.run_expiry().await.unwrap(), 2, "User, and oldtimer whose time ran out two days ago");
    // The disconnect goes out through the outbox, committed with the expiry.
    assert!(app.run_outbox().await.unwrap() >= 2);
    let p = tokio::time::timeout(std::time::Duration::from_secs(3), received.recv()).await.unwrap().unwrap();
    assert_eq!((p.code, p.text(attr::USER_NAME).as_deref()), (Code::DisconnectRequest, Some("User")));
    assert_eq!(r.store.get_customer(user.id).await.unwrap().status, CustomerStatus::Expired);

    // The authentication log is visible through the API.
    let (st, log) = call("GET", "/api/radius/auth-log?username=alice".into(), None, t()).await;
    assert_eq!(st, 200, "{log}");
    let (st, _) = call("POST", "/api/sessions/999999/disconnect".into(), None, t()).await;
    assert_eq!(st, 404);
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_answering_garbage_or_forged_acks_is_no_answer() {
    use broadnet_radius_server::coa::{CoaClient, Outcome};
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let p = Packet::decode(&buf[..n]).unwrap();
            // Garbage, then an ACK signed with the wrong secret.
            sock.send_to(b"\x29\x00\x00\x05garbage", from).await.unwrap();
            let forged =
                broadnet_radius::encode_response(Code::DisconnectAck, &p, &[], b"not-the-secret", true).unwrap();
            sock.send_to(&forged, from).await.unwrap();
            let _ = tx.send(p.id);
        }
    });
    let client = CoaClient { timeout: std::time::Duration::from_millis(300), retries: 1 };
    let out = client.send(addr, SECRET, Code::DisconnectRequest, &[Avp::text(attr::USER_NAME, "alice")]).await.unwrap();
    assert_eq!(out, Outcome::Timeout);
    // One retransmission, of the identical packet (same identifier).
    let (a, b) = (seen.recv().await.unwrap(), seen.recv().await.unwrap());
    assert_eq!(a, b);
}

/// The abuse pass: thousands of hostile datagrams (random bytes, lying lengths,
/// truncated and oversized attributes, forged authenticators, valid packets full of
/// control characters) on both ports at once. The server keeps answering a genuine
/// request, and nothing in the database changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_datagrams_change_nothing_and_the_server_keeps_answering() {
    use rand::{Rng, SeedableRng};
    let r = Rad::start(true).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_0bad);
    let mut datagrams: Vec<(u16, Vec<u8>)> = Vec::new();
    for i in 0..4000u32 {
        let port = if rng.gen_bool(0.5) { r.auth } else { r.acct };
        let d = match i % 8 {
            // Random bytes of any length.
            0 => (0..rng.gen_range(0..4200)).map(|_| rng.r#gen()).collect(),
            // A header whose length field lies.
            1 => {
                let mut d = vec![rng.gen_range(1..=5), rng.r#gen(), 0, 0];
                d.extend((0..16).map(|_| rng.r#gen::<u8>()));
                let claimed: u16 = rng.gen_range(0..=u16::MAX);
                d[2..4].copy_from_slice(&claimed.to_be_bytes());
                d.extend((0..rng.gen_range(0..64)).map(|_| rng.r#gen::<u8>()));
                d
            }
            // Attributes with zero, one or over-long lengths.
            2 => {
                let mut d = vec![1, rng.r#gen(), 0, 0];
                d.extend([0u8; 16]);
                for _ in 0..rng.gen_range(1..8) {
                    d.extend([rng.r#gen(), rng.gen_range(0..3)]);
                }
                let len = d.len() as u16;
                d[2..4].copy_from_slice(&len.to_be_bytes());
                d
            }
            // Correctly framed, forged Message-Authenticator or accounting authenticator.
            3 | 4 => {
                let ra: [u8; 16] = rng.r#gen();
                let code = if port == r.auth { Code::AccessRequest } else { Code::AccountingRequest };
                let mut attrs = vec![Avp::text(attr::USER_NAME, "alice\n\u{1b}[32m INFO forged")];
                if port == r.acct {
                    attrs.push(Avp::int(attr::ACCT_STATUS_TYPE, 1));
                    attrs.push(Avp::text(attr::ACCT_SESSION_ID, "hostile"));
                }
                let mut d = encode_request(code, rng.r#gen(), &attrs, b"not-the-secret", true, ra).unwrap();
                let last = d.len() - 1;
                d[last] ^= 0x55;
                d
            }
            // Valid with the right secret but nonsense inside: an unknown user made of
            // control characters, hundreds of attributes.
            5 => {
                let ra: [u8; 16] = rng.r#gen();
                let name: String = (0..rng.gen_range(1..200)).map(|_| char::from(rng.gen_range(0u8..32))).collect();
                let mut attrs = vec![Avp::text(attr::USER_NAME, &name)];
                for _ in 0..rng.gen_range(0..150) {
                    attrs.push(Avp::new(rng.gen_range(1..=255u8), vec![rng.r#gen::<u8>(); rng.gen_range(0..8)]));
                }
                match encode_request(Code::AccessRequest, rng.r#gen(), &attrs, SECRET.as_bytes(), true, ra) {
                    Ok(d) => d,
                    Err(_) => vec![1, 0, 0, 20],
                }
            }
            // Codes a server never takes (replies, CoA) sent to it.
            6 => {
                let mut d = vec![rng.gen_range(2..=255), rng.r#gen(), 0, 20];
                d.extend((0..16).map(|_| rng.r#gen::<u8>()));
                d
            }
            // The largest datagram RADIUS allows, and beyond.
            _ => vec![rng.r#gen::<u8>(); rng.gen_range(4096..9000)],
        };
        datagrams.push((port, d));
    }
    let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    // Drain any replies so the kernel buffer never fills.
    let drain = tokio::spawn({
        let sock = sock.clone();
        async move {
            let mut buf = vec![0u8; 4096];
            let mut n = 0u32;
            while let Ok(Ok(_)) =
                tokio::time::timeout(std::time::Duration::from_secs(2), sock.recv_from(&mut buf)).await
            {
                n += 1;
            }
            n
        }
    });
    for (port, d) in &datagrams {
        let _ = sock.send_to(d, SocketAddr::from(([127, 0, 0, 1], *port))).await;
    }
    // A genuine request is still answered while the flood drains.
    let ra: [u8; 16] = rand::random();
    let attrs = [
        Avp::text(attr::USER_NAME, "alice"),
        Avp::new(attr::USER_PASSWORD, crypto::hide_password(b"hello", SECRET.as_bytes(), &ra).unwrap()),
        Avp::int(attr::SERVICE_TYPE, 2),
    ];
    let req = encode_request(Code::AccessRequest, 7, &attrs, SECRET.as_bytes(), true, ra).unwrap();
    // As a router does: retransmit the same request until answered (a few seconds).
    let mut reply = None;
    for _ in 0..8 {
        reply = r.raw(r.auth, &req).await;
        if reply.is_some() {
            break;
        }
    }
    let reply = reply.expect("a genuine request is answered during the flood");
    assert_eq!(Packet::decode(&reply).unwrap().code, Code::AccessAccept);
    let replies = drain.await.unwrap();
    // Nothing hostile was accepted or recorded.
    assert_eq!(Stats::get(&r.server.stats.accepts), 1);
    assert!(replies < 600, "{replies} replies to hostile datagrams (rejects of well-signed nonsense only)");
    assert_eq!(r.store.list_sessions(&SessionQuery::default()).await.unwrap().total, 0);
    let alice = r.store.get_customer_by_username("alice").await.unwrap();
    assert_eq!(alice.status, CustomerStatus::Active);
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_how_to_pay_text_comes_from_settings_as_for_sms() {
    let r = Rad::start(true).await;
    let mut vars = broadnet::config::Vars::new();
    vars.insert("DATABASE_URL".into(), r.db.url.clone());
    vars.insert("JWT_SECRET".into(), "a-test-secret-that-is-long-enough-0123456789".into());
    vars.insert("MPESA_SHORTCODE".into(), "600777".into());
    let (cfg, _) = broadnet::config::Config::from_vars(&vars);
    let app = broadnet::server::build_app(&cfg, r.store.clone(), Arc::new(broadnet_domain::SystemClock));
    let template = "Send {price} to paybill {paybill}, account {username}.";
    let setting = broadnet_store::Setting { key: "how_to_pay".into(), value: template.into(), secret: false };
    r.store.put_settings(&actor(), "templates", vec![setting]).await.unwrap();
    let server = Server::with_sources(
        r.store.clone(),
        Config {
            auth_addr: "127.0.0.1:0".parse().unwrap(),
            acct_addr: "127.0.0.1:0".parse().unwrap(),
            policy: Policy::default(),
            client_refresh: std::time::Duration::from_secs(30),
            default_secret: String::new(),
            coa_port: 3799,
        },
        Arc::new(broadnet_domain::SystemClock),
        Some(Arc::new(app.clone())),
    );
    let bound = server.bind().await.unwrap();
    let port = bound.auth.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    tokio::spawn(server.clone().run(bound, shutdown.clone()));
    // The text is read when the server starts; wait for it rather than for a time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.how_to_pay().contains("Send {price}") {
        assert!(std::time::Instant::now() < deadline, "never read: {}", server.how_to_pay());
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (ok, out) = radclient_at(
        port,
        "auth",
        SECRET,
        &format!("User-Name = \"newbie\", User-Password = \"newpw\", {PPP}, Message-Authenticator = 0x00"),
    )
    .await;
    assert!(!ok && out.contains("Send KES 1500.00 to paybill 600777, account newbie."), "{out}");
    // The SMS side reads the same text.
    let newbie = r.store.get_customer_by_username("newbie").await.unwrap();
    let sms = app.how_to_pay(&newbie, Some(Money::parse_major("1500").unwrap())).await.unwrap();
    assert_eq!(sms, "Send KES 1500.00 to paybill 600777, account newbie.");
    shutdown.cancel();
    r.finish().await;
}

const HS: &str = "NAS-IP-Address = 127.0.0.1, NAS-Port-Type = Wireless-802.11, Message-Authenticator = 0x00";

impl Rad {
    /// A hotspot package (`shared_users` devices, an optional data limit) and a hotspot
    /// customer on it, active for a day.
    async fn hotspot_customer(&self, username: &str, password: &str, devices: i32, data_limit_mb: Option<i64>) -> i64 {
        let pkg = self
            .store
            .create_package(
                &actor(),
                NewPackage {
                    name: format!("Hotspot {username}"),
                    description: None,
                    service_type: ServiceType::Hotspot,
                    price: Money::parse_major("50").unwrap(),
                    download_bps: 2_000_000,
                    upload_bps: 1_000_000,
                    burst: None,
                    duration_minutes: 1440,
                    data_limit_mb,
                    shared_users: devices,
                    framed_pool: None,
                    active: true,
                },
            )
            .await
            .unwrap();
        self.store
            .create_customer(
                &actor(),
                NewCustomer {
                    full_name: format!("Hotspot {username}"),
                    username: Username::parse(username).unwrap(),
                    password: password.into(),
                    phone: Phone::parse(&format!("0713{:06}", rand::random::<u32>() % 1_000_000)).unwrap(),
                    email: None,
                    customer_type: CustomerType::Hotspot,
                    package_id: Some(pkg.id),
                    router_id: None,
                    status: CustomerStatus::Active,
                    expires_at: Some(Utc::now() + Duration::days(1)),
                    mac_address: None,
                    static_ip: None,
                    location: None,
                    notes: None,
                    created_at: Utc::now(),
                },
            )
            .await
            .unwrap()
            .id
    }

    async fn last_reason(&self, username: &str, total: u64) -> String {
        let log = eventually("the decision is logged", WAIT, || async {
            let q = PostAuthQuery { username: Some(username.into()), ..Default::default() };
            let log = self.store.list_post_auth(&q).await.unwrap();
            (log.total >= total).then_some(log)
        })
        .await;
        log.items[0].reason.clone().unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mac_login_is_for_the_account_the_device_is_bound_to() {
    let r = Rad::start(true).await;
    let id = r.hotspot_customer("hs-mac", "macpw", 2, None).await;
    // The first login by password binds the device.
    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!(
                "User-Name = \"hs-mac\", CHAP-Password = \"macpw\", Calling-Station-Id = \"11:22:33:44:55:01\", {HS}"
            ),
        )
        .await;
    assert!(ok, "{out}");
    // Back later, logged in by its MAC (PAP or CHAP, mac-as-username[-and-password]).
    for creds in
        ["User-Password = \"11:22:33:44:55:01\"", "CHAP-Password = \"11:22:33:44:55:01\"", "User-Password = \"\""]
    {
        let (ok, out) = r
            .radclient(
                "auth",
                SECRET,
                &format!(
                    "User-Name = \"11:22:33:44:55:01\", {creds}, Calling-Station-Id = \"11-22-33-44-55-01\", {HS}"
                ),
            )
            .await;
        assert!(ok && out.contains("Mikrotik-Rate-Limit = \"1M/2M\""), "{creds}: {out}");
    }
    assert_eq!(r.last_reason("11:22:33:44:55:01", 3).await, "accepted (no password, MAC login)");
    // A wrong password, an unbound MAC, a MAC typed on another device: rejected without a hint.
    let cases = [
        ("11:22:33:44:55:01", "User-Password = \"guess\"", "11:22:33:44:55:01"),
        ("11:22:33:44:55:09", "User-Password = \"11:22:33:44:55:09\"", "11:22:33:44:55:09"),
        ("11:22:33:44:55:01", "User-Password = \"11:22:33:44:55:01\"", "11:22:33:44:55:02"),
    ];
    for (user, creds, calling) in cases {
        let (ok, out) = r
            .radclient(
                "auth",
                SECRET,
                &format!("User-Name = \"{user}\", {creds}, Calling-Station-Id = \"{calling}\", {HS}"),
            )
            .await;
        assert!(
            !ok && out.contains("Received Access-Reject") && !out.contains("Reply-Message"),
            "{user} {calling}: {out}"
        );
    }
    // The account's time ran out: its device is refused too, still without a hint.
    let patch = broadnet_store::CustomerPatch {
        expires_at: Some(Some(Utc::now() - Duration::minutes(1))),
        ..Default::default()
    };
    r.store.update_customer(&actor(), id, patch).await.unwrap();
    let (ok, out) = r
        .radclient(
            "auth",
            SECRET,
            &format!("User-Name = \"11:22:33:44:55:01\", User-Password = \"\", Calling-Station-Id = \"11:22:33:44:55:01\", {HS}"),
        )
        .await;
    assert!(!ok && !out.contains("Reply-Message"), "{out}");
    assert!(r.last_reason("11:22:33:44:55:01", 6).await.starts_with("MAC login: subscription expired"));
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hotspot_account_is_used_on_at_most_its_devices() {
    let r = Rad::start(true).await;
    r.hotspot_customer("hs-two", "twopw", 2, None).await;
    let login = |mac: &'static str| {
        let r = &r;
        async move {
            r.radclient(
                "auth",
                SECRET,
                &format!("User-Name = \"hs-two\", User-Password = \"twopw\", Calling-Station-Id = \"{mac}\", {HS}"),
            )
            .await
        }
    };
    assert!(login("AA:00:00:00:00:01").await.0);
    assert!(login("AA:00:00:00:00:02").await.0);
    let (ok, out) = login("AA:00:00:00:00:03").await;
    assert!(!ok && out.contains("This account is already used on 2 devices. Release one in My account"), "{out}");
    // A device already bound always passes.
    assert!(login("aa-00-00-00-00-01").await.0);
    // Released from My account: the place is free for the new device.
    let first = broadnet_domain::Mac::parse("AA:00:00:00:00:01").unwrap();
    assert!(r.store.release_device("hs-two", &first).await.unwrap());
    assert!(login("AA:00:00:00:00:03").await.0);
    let devices = r.store.devices_of("hs-two").await.unwrap();
    assert_eq!(devices.iter().map(|d| d.mac.as_str()).collect::<Vec<_>>(), ["AA:00:00:00:00:03", "AA:00:00:00:00:02"]);
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_bundle_is_limited_then_disconnected_and_refused_when_used_up() {
    let (coa_port, mut received, _) = fake_nas().await;
    let r = Rad::start_with(true, coa_port).await;
    r.hotspot_customer("hs-data", "datapw", 3, Some(10)).await;
    let acct = |kind: &str, input: u64, output: u64| {
        format!(
            "Acct-Status-Type = {kind}, User-Name = \"hs-data\", Acct-Session-Id = \"d1\", NAS-IP-Address = 127.0.0.1, \
             Framed-IP-Address = 10.5.50.7, Acct-Session-Time = 60, Acct-Input-Octets = {input}, Acct-Output-Octets = {output}"
        )
    };
    assert!(r.radclient("acct", SECRET, &acct("Start", 0, 0)).await.0);
    // Sent three times (a router retrying with new packets): one session, counted once.
    for _ in 0..3 {
        assert!(r.radclient("acct", SECRET, &acct("Interim-Update", 1_000_000, 2_000_000)).await.0);
    }
    assert_eq!(r.store.data_used("hs-data").await.unwrap().unwrap().used, 3_000_000);
    // Another device gets what is left.
    let login = format!(
        "User-Name = \"hs-data\", User-Password = \"datapw\", Calling-Station-Id = \"AA:00:00:00:0D:01\", {HS}"
    );
    let (ok, out) = r.radclient("auth", SECRET, &login).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("Mikrotik-Total-Limit = 7000000") && out.contains("Mikrotik-Total-Limit-Gigawords = 0"),
        "{out}"
    );
    assert!(received.try_recv().is_err(), "nothing disconnected yet");

    // Past the allowance: the session is disconnected at its router…
    assert!(r.radclient("acct", SECRET, &acct("Interim-Update", 4_000_000, 6_500_000)).await.0);
    let p = tokio::time::timeout(std::time::Duration::from_secs(5), received.recv()).await.unwrap().unwrap();
    assert_eq!(p.code, Code::DisconnectRequest);
    assert_eq!(p.text(attr::USER_NAME).as_deref(), Some("hs-data"));
    assert_eq!(p.text(attr::ACCT_SESSION_ID).as_deref(), Some("d1"));
    assert_eq!(p.ipv4(attr::FRAMED_IP_ADDRESS), Some(std::net::Ipv4Addr::new(10, 5, 50, 7)));
    // …and the next login is told why.
    let (ok, out) = r.radclient("auth", SECRET, &login).await;
    assert!(!ok && out.contains("Your data bundle is used up"), "{out}");
    assert!(r.last_reason("hs-data", 2).await.starts_with("data used up: 10500000 of 10000000"));
    r.finish().await;
}

impl Rad {
    /// A hotspot package (an hour, optional data limit) and a batch of `codes` on it;
    /// PIN mode when the codes come with PINs. Returns the package id.
    async fn vouchers(&self, codes: &[(&str, Option<&str>)], max_devices: u32, data_limit_mb: Option<i64>) -> i64 {
        use broadnet_domain::{VoucherCharset, VoucherMode, VoucherValidity};
        let pkg = self
            .store
            .create_package(
                &actor(),
                NewPackage {
                    name: format!("Voucher hour {}", codes[0].0),
                    description: None,
                    service_type: ServiceType::Hotspot,
                    price: Money::parse_major("20").unwrap(),
                    download_bps: 3_000_000,
                    upload_bps: 1_000_000,
                    burst: None,
                    duration_minutes: 60,
                    data_limit_mb,
                    shared_users: 1,
                    framed_pool: None,
                    active: true,
                },
            )
            .await
            .unwrap();
        let pin = codes[0].1.is_some();
        let batch = broadnet_store::NewVoucherBatch {
            name: "Shop".into(),
            package_id: pkg.id,
            prefix: String::new(),
            code_length: 8,
            charset: VoucherCharset::Digits,
            mode: if pin { VoucherMode::Pin } else { VoucherMode::Code },
            validity: VoucherValidity::FirstUse,
            valid_until: None,
            max_devices,
            price: Money::parse_major("20").unwrap(),
            codes: codes.iter().map(|(c, p)| (c.to_string(), p.map(str::to_string))).collect(),
            created_at: Utc::now(),
        };
        self.store.create_voucher_batch(&actor(), batch).await.unwrap();
        pkg.id
    }

    async fn voucher_status(&self, code: &str) -> broadnet_domain::VoucherStatus {
        self.store.get_voucher_by_code(code).await.unwrap().status
    }

    async fn voucher_sales(&self) -> u64 {
        let q = broadnet_store::PaymentQuery {
            provider: Some(broadnet_domain::PaymentProvider::Voucher),
            ..Default::default()
        };
        self.store.list_payments(&q).await.unwrap().total
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_logs_in_by_pap_or_chap_and_a_wrong_pin_starts_nothing() {
    use broadnet_domain::VoucherStatus;
    let r = Rad::start(true).await;
    r.vouchers(&[("23456789", None), ("23456788", None), ("23456787", None)], 2, None).await;
    r.vouchers(&[("34567892", Some("4321"))], 1, None).await;
    let login = |user: &str, creds: &str, mac: &str| {
        format!("User-Name = \"{user}\", {creds}, Calling-Station-Id = \"{mac}\", {HS}")
    };
    // First use by CHAP (the code is the password): activated, with the package's limits.
    let (ok, out) =
        r.radclient("auth", SECRET, &login("23456789", "CHAP-Password = \"23456789\"", "AA:00:00:00:0E:01")).await;
    assert!(ok && out.contains("Mikrotik-Rate-Limit = \"1M/3M\""), "{out}");
    let timeout: u32 =
        out.split("Session-Timeout = ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&timeout), "never past the voucher's hour: {timeout}");
    assert_eq!(r.voucher_status("23456789").await, VoucherStatus::Active);
    assert_eq!(r.last_reason("23456789", 1).await, "accepted (CHAP, voucher activated)");
    // A second device by PAP; a third is one too many.
    let (ok, out) =
        r.radclient("auth", SECRET, &login("23456789", "User-Password = \"23456789\"", "AA:00:00:00:0E:02")).await;
    assert!(ok, "{out}");
    assert_eq!(r.last_reason("23456789", 2).await, "accepted (PAP)");
    let (ok, out) =
        r.radclient("auth", SECRET, &login("23456789", "User-Password = \"23456789\"", "AA:00:00:00:0E:03")).await;
    assert!(!ok && out.contains("already used on 2 devices"), "{out}");
    assert_eq!(r.voucher_sales().await, 1, "one sale, at first use");

    // PIN mode: a wrong PIN is refused and does not start the voucher's clock.
    let (ok, out) =
        r.radclient("auth", SECRET, &login("34567892", "User-Password = \"34567892\"", "AA:00:00:00:0E:04")).await;
    assert!(!ok && out.contains("Unknown username or wrong password"), "{out}");
    let v = r.store.get_voucher_by_code("34567892").await.unwrap();
    assert_eq!((v.status, v.used_at), (VoucherStatus::Unused, None));
    assert_eq!(r.voucher_sales().await, 1);
    let (ok, out) =
        r.radclient("auth", SECRET, &login("34567892", "CHAP-Password = \"4321\"", "AA:00:00:00:0E:04")).await;
    assert!(ok, "{out}");
    assert_eq!(r.voucher_status("34567892").await, VoucherStatus::Active);

    // Revoked, expired: told so, once the code is proven.
    let v = r.store.get_voucher_by_code("23456788").await.unwrap();
    r.store.revoke_voucher(&actor(), v.id).await.unwrap();
    let (ok, out) = r.radclient("auth", SECRET, &login("23456788", "User-Password = \"\"", "AA:00:00:00:0E:05")).await;
    assert!(!ok && out.contains("This voucher has been cancelled."), "{out}");
    let v = r.store.get_voucher_by_code("23456787").await.unwrap();
    assert!(r.store.set_voucher_status(v.id, VoucherStatus::Unused, VoucherStatus::Expired, Utc::now()).await.unwrap());
    let (ok, out) =
        r.radclient("auth", SECRET, &login("23456787", "User-Password = \"23456787\"", "AA:00:00:00:0E:06")).await;
    assert!(!ok && out.contains("This voucher has expired — buy another."), "{out}");
    // Back by MAC: the voucher the device is bound to.
    let (ok, out) =
        r.radclient("auth", SECRET, &login("AA:00:00:00:0E:01", "User-Password = \"\"", "AA:00:00:00:0E:01")).await;
    assert!(ok && out.contains("Mikrotik-Rate-Limit = \"1M/3M\""), "{out}");
    r.finish().await;
}

/// An Access-Request by PAP for `user` from `from` (a router's address).
async fn pap_from(from: [u8; 4], port: u16, user: &str, password: &str, mac: &str) -> Code {
    let ra: [u8; 16] = rand::random();
    let attrs = [
        Avp::text(attr::USER_NAME, user),
        Avp::new(attr::USER_PASSWORD, crypto::hide_password(password.as_bytes(), SECRET.as_bytes(), &ra).unwrap()),
        Avp::text(attr::CALLING_STATION_ID, mac),
        Avp::int(attr::NAS_PORT_TYPE, 19),
    ];
    let req = encode_request(Code::AccessRequest, rand::random(), &attrs, SECRET.as_bytes(), true, ra).unwrap();
    let sock = UdpSocket::bind(SocketAddr::from((from, 0))).await.unwrap();
    sock.send_to(&req, SocketAddr::from(([127, 0, 0, 1], port))).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) =
        tokio::time::timeout(std::time::Duration::from_secs(5), sock.recv_from(&mut buf)).await.unwrap().unwrap();
    assert_eq!(verify_response(&buf[..n], &ra, SECRET.as_bytes()), Ok(true));
    Packet::decode(&buf[..n]).unwrap().code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_voucher_first_used_on_two_routers_at_once_is_accepted_once() {
    let r = Rad::start(true).await;
    r.store
        .create_router(
            &actor(),
            NewRouter {
                name: "core-2".into(),
                nas_ip: Some("127.0.0.2".into()),
                radius_secret: SECRET.into(),
                service_types: ServiceType::Both,
                require_message_authenticator: true,
            },
        )
        .await
        .unwrap();
    let codes = ["45678923", "45678924", "45678925", "45678926", "45678927"];
    r.vouchers(&codes.map(|c| (c, None)), 1, None).await;
    for code in codes {
        let (a, b) = tokio::join!(
            pap_from([127, 0, 0, 1], r.auth, code, code, "AA:00:00:00:0F:01"),
            pap_from([127, 0, 0, 2], r.auth, code, code, "AA:00:00:00:0F:02"),
        );
        let accepts = [a, b].iter().filter(|c| **c == Code::AccessAccept).count();
        assert_eq!(accepts, 1, "{code}: {a:?} {b:?}");
        assert_eq!(r.voucher_status(code).await, broadnet_domain::VoucherStatus::Active);
    }
    assert_eq!(r.voucher_sales().await, codes.len() as u64, "one sale per voucher");
    r.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voucher_bundle_used_up_is_disconnected_and_the_voucher_used_up() {
    let (coa_port, mut received, _) = fake_nas().await;
    let r = Rad::start_with(true, coa_port).await;
    r.vouchers(&[("56789234", None)], 1, Some(5)).await;
    let login = format!(
        "User-Name = \"56789234\", User-Password = \"56789234\", Calling-Station-Id = \"AA:00:00:00:10:01\", {HS}"
    );
    let (ok, out) = r.radclient("auth", SECRET, &login).await;
    assert!(ok && out.contains("Mikrotik-Total-Limit = 5000000"), "{out}");
    let acct = |kind: &str, octets: u64| {
        format!(
            "Acct-Status-Type = {kind}, User-Name = \"56789234\", Acct-Session-Id = \"v1\", NAS-IP-Address = 127.0.0.1, \
             Framed-IP-Address = 10.5.50.9, Acct-Session-Time = 60, Acct-Input-Octets = {octets}, Acct-Output-Octets = {octets}"
        )
    };
    assert!(r.radclient("acct", SECRET, &acct("Start", 0)).await.0);
    assert!(r.radclient("acct", SECRET, &acct("Interim-Update", 2_600_000)).await.0);
    let p = tokio::time::timeout(std::time::Duration::from_secs(5), received.recv()).await.unwrap().unwrap();
    assert_eq!((p.code, p.text(attr::USER_NAME).as_deref()), (Code::DisconnectRequest, Some("56789234")));
    eventually("the voucher is used up", WAIT, || async {
        (r.voucher_status("56789234").await == broadnet_domain::VoucherStatus::UsedUp).then_some(())
    })
    .await;
    let (ok, out) = r.radclient("auth", SECRET, &login).await;
    assert!(!ok && out.contains("Your data bundle is used up — buy another."), "{out}");
    r.finish().await;
}
