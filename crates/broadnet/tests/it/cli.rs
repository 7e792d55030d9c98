//! The `broadnet` binary as an operator runs it: zero-config first start,
//! restart, production refusal, `config check`, `migrate` and `admin`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn broadnet(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_broadnet"));
    // Nothing from the developer's environment leaks in: a fresh machine.
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("RUST_LOG", "warn").current_dir(dir);
    c
}

fn run(mut c: Command, stdin: Option<&str>) -> Output {
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    child: Child,
    base: String,
    stdout: Vec<String>,
}

impl Drop for Server {
    /// A failing test must not leave a server running (it would hold the output pipes open).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `broadnet serve` and waits until it has printed its banner and /health answers.
    fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    fn start_with(dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut c = broadnet(dir);
        c.envs(env.iter().copied());
        // RADIUS on any free ports, so servers started side by side don't collide.
        c.arg("serve")
            .env("APP_HOST", "127.0.0.1")
            .env("APP_PORT", port.to_string())
            .env("RADIUS_AUTH_PORT", "0")
            .env("RADIUS_ACCT_PORT", "0")
            .stdout(Stdio::from(std::fs::File::create(dir.join("stdout.log")).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(dir.join("stderr.log")).unwrap()));
        let mut child = c.spawn().unwrap();
        // Stdout goes to a file, not a pipe: the whole banner is printed before the
        // server answers /health, so once it answers the file holds all of it.
        let banner = || -> Vec<String> {
            std::fs::read_to_string(dir.join("stdout.log")).unwrap_or_default().lines().map(str::to_string).collect()
        };
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let stdout = banner();
            assert!(Instant::now() < deadline, "server did not come up; output so far: {stdout:#?}");
            if let Some(status) = child.try_wait().unwrap() {
                let err = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
                panic!("server exited with {status}; output: {stdout:#?}\nstderr:\n{err}");
            }
            if stdout.iter().any(|l| l.contains("Health:")) && ureq::get(&format!("{base}/health")).call().is_ok() {
                return Server { child, base, stdout: banner() };
            }
            // The poll interval of a wait with a deadline, not a wait for a time.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn password(&self) -> Option<String> {
        self.stdout.iter().find_map(|l| l.trim().strip_prefix("password: ").map(str::to_string))
    }

    /// SIGKILL: no shutdown code runs at all.
    fn kill(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
        let _ = self.child.wait();
    }

    /// SIGTERM, and the process must exit cleanly.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "graceful shutdown exits 0, got {status}");
                return;
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = ureq::post(&format!("{}{path}", self.base)).config().http_status_as_error(false).build();
        if let Some(t) = token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        let mut resp = req.send_json(&body).unwrap();
        (resp.status().as_u16(), resp.body_mut().read_json().unwrap_or(Value::Null))
    }

    fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let mut resp = ureq::get(&format!("{}{path}", self.base))
            .header("authorization", &format!("Bearer {token}"))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap();
        (resp.status().as_u16(), resp.body_mut().read_json().unwrap_or(Value::Null))
    }

    fn login(&self, user: &str, pw: &str) -> Option<String> {
        let (status, body) = self.post("/api/auth/login", None, json!({"username": user, "password": pw}));
        (status == 200).then(|| body["token"].as_str().unwrap().to_string())
    }
}

#[test]
fn zero_config_first_start_then_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let banner = s.stdout.join("\n");
    assert!(banner.contains(&format!("{}/api", s.base)), "admin URL printed: {banner}");
    assert!(banner.contains("username: admin"), "{banner}");
    assert!(banner.contains("RADIUS:     auth UDP"), "{banner}");
    let password = s.password().expect("one-time password printed");
    assert!(password.len() >= 12, "{password}");
    assert!(dir.path().join("data").is_dir(), "SQLite lives under ./data");
    let generated = dir.path().join("data/generated.env");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&generated).unwrap().permissions().mode() & 0o777, 0o600);
        // The database holds customers' RADIUS passwords in clear (CHAP needs them).
        let mode = |p: &str| std::fs::metadata(dir.path().join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("data"), 0o700);
        assert_eq!(mode("data/broadnet.db"), 0o600);
    }
    let env_file = std::fs::read_to_string(&generated).unwrap();
    assert!(env_file.contains("JWT_SECRET=") && env_file.contains("ENCRYPTION_KEY="), "{env_file}");

    let token = s.login("admin", &password).expect("login with the printed password");
    let (st, pkg) = s.post(
        "/api/packages",
        Some(&token),
        json!({"name": "Home 5M", "price": "1000", "download_rate": "5M", "upload_rate": "2M", "duration": "30d"}),
    );
    assert_eq!(st, 201, "{pkg}");
    let (st, cust) = s.post(
        "/api/customers",
        Some(&token),
        json!({"full_name": "Peter Otieno", "username": "potieno", "phone": "0722111222", "customer_type": "pppoe", "package_id": pkg["id"]}),
    );
    assert_eq!(st, 201, "{cust}");
    s.stop();

    // Admin commands work on the same database while the server is down.
    let out = run(
        {
            let mut c = broadnet(dir.path());
            c.args(["admin", "create", "--username", "ops", "--role", "viewer", "--password-stdin"]);
            c
        },
        Some("viewer password 123\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("viewer password 123"), "a password from stdin is not echoed");
    let out = run(
        {
            let mut c = broadnet(dir.path());
            c.args(["admin", "create", "--username", "ops", "--password-stdin"]);
            c
        },
        Some("another password 123\n"),
    );
    assert!(!out.status.success(), "duplicate admin refused");
    let out = run(
        {
            let mut c = broadnet(dir.path());
            c.args(["admin", "reset-password", "--username", "admin"]);
            c
        },
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let new_pw = text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("password: ").map(str::to_string))
        .expect("new password printed");

    let s = Server::start(dir.path());
    assert_eq!(s.password(), None, "credentials are printed only on first start: {:#?}", s.stdout);
    // The old session token ended with the password reset; the JWT secret was kept.
    let (st, _) = s.get("/api/auth/me", &token);
    assert_eq!(st, 401);
    assert!(s.login("admin", &password).is_none());
    let token = s.login("admin", &new_pw).expect("reset password works");
    let (st, list) = s.get("/api/customers?q=otieno", &token);
    assert_eq!(st, 200);
    assert_eq!(list["total"], 1, "data survived the restart: {list}");
    assert_eq!(list["items"][0]["phone"], "254722111222");
    let viewer = s.login("ops", "viewer password 123").expect("admin created by the CLI");
    let (st, _) = s.post("/api/packages", Some(&viewer), json!({}));
    assert_eq!(st, 403);
    s.stop();
}

/// GET /health with a deadline: the status, or None when it did not answer in time.
fn health_within(base: &str, limit: Duration) -> Option<u16> {
    let resp = ureq::get(&format!("{base}/health"))
        .config()
        .http_status_as_error(false)
        .timeout_global(Some(limit))
        .build()
        .call();
    resp.ok().map(|r| r.status().as_u16())
}

/// Reads until the server closes the connection; panics if it is still open after `limit`.
fn read_until_closed(s: &mut std::net::TcpStream, limit: Duration) -> String {
    use std::io::{ErrorKind, Read};
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => {}
        // Closed with our half-sent request unread: a reset, also closed.
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {}
        Err(e) => panic!("connection still open after {limit:?} ({e}); read so far: {buf:?}"),
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Review D4: connections that send half a request are closed at the header deadline,
/// idle keep-alive ones too; past HTTP_MAX_CONNECTIONS a connection gets a quick 503
/// instead of a descriptor; /health answers while a client holds more stalled
/// connections than the limit; and a body sent too slowly ends at the request timeout.
#[test]
fn stalled_connections_are_closed_and_capped() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_with(
        dir.path(),
        &[
            ("HTTP_MAX_CONNECTIONS", "20"),
            ("HTTP_HEADER_TIMEOUT_SECS", "1"),
            ("HTTP_REQUEST_TIMEOUT_SECS", "2"),
            ("RADIUS_ENABLED", "false"),
        ],
    );
    let addr = srv.base.trim_start_matches("http://").to_string();
    let opened = Instant::now();
    let mut stalled: Vec<std::net::TcpStream> = (0..30)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").unwrap();
            s
        })
        .collect();
    // Every slot taken: answered at once (503), not left hanging.
    let during = Instant::now();
    let status = health_within(&srv.base, Duration::from_secs(5));
    assert!(matches!(status, Some(200 | 503)), "/health did not answer while stalled: {status:?}");
    assert!(during.elapsed() < Duration::from_secs(3), "/health took {:?}", during.elapsed());

    let (mut refused, mut cut) = (0, 0);
    for s in &mut stalled {
        let answer = read_until_closed(s, Duration::from_secs(8));
        if answer.is_empty() {
            cut += 1;
        } else {
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            assert!(answer.to_ascii_lowercase().contains("retry-after: 5"), "{answer}");
            assert!(answer.contains(r#""code":"unavailable""#), "{answer}");
            refused += 1;
        }
    }
    assert!(cut <= 20 && refused >= 10, "{cut} cut off, {refused} refused");
    assert!(opened.elapsed() < Duration::from_secs(6), "stalled connections held for {:?}", opened.elapsed());
    // The client still holds its 30 sockets; the server has let go of them.
    assert_eq!(health_within(&srv.base, Duration::from_secs(5)), Some(200));

    // An idle keep-alive connection is closed at the same deadline.
    let mut idle = std::net::TcpStream::connect(&addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut idle, Duration::from_secs(8));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "idle connection kept {:?}", started.elapsed());

    // A body trickled in (headers complete) is cut at the request timeout with a 503.
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(
        b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"username\":",
    )
    .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut slow, Duration::from_secs(8));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""code":"unavailable""#), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "slow body held {:?}", started.elapsed());
    drop(stalled);
    srv.stop();
}

#[test]
fn admin_credentials_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    // From .env: the file is read as well as the environment.
    std::fs::write(
        dir.path().join(".env"),
        "ADMIN_USERNAME=boss\nADMIN_PASSWORD='a strong password 9'\nRADIUS_ENABLED=false\n",
    )
    .unwrap();
    let s = Server::start(dir.path());
    assert_eq!(s.password(), None, "nothing generated when ADMIN_PASSWORD is set");
    assert!(s.stdout.iter().any(|l| l.contains("built-in server off")), "{:#?}", s.stdout);
    assert!(s.login("boss", "a strong password 9").is_some());
    s.stop();
}

#[test]
fn production_refuses_to_start_naming_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = broadnet(dir.path());
    c.args(["serve"]).env("APP_ENV", "production").env("JWT_SECRET", "secret");
    let out = run(c, None);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    for var in ["JWT_SECRET", "DB_HOST", "RADIUS_IP", "RADIUS_SHARED_SECRET", "PROVISION_BASE_URL", "PROVISION_SECRET"]
    {
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("config error:") && l.contains(var)).collect();
        assert_eq!(lines.len(), 1, "one line naming {var} in:\n{err}");
    }
    assert!(!dir.path().join("data").exists(), "a refused start changes nothing");

    // Fixed configuration starts (against SQLite, named explicitly).
    let mut c = broadnet(dir.path());
    c.args(["config", "check"])
        .env("APP_ENV", "production")
        .env("JWT_SECRET", "9f8e7d6c5b4a39281706f5e4d3c2b1a0-long-random")
        .env("DATABASE_URL", format!("sqlite://{}/prod.db", dir.path().display()))
        .env("RADIUS_IP", "10.0.0.1")
        .env("RADIUS_SHARED_SECRET", "b7d41f0c9e2a6b38d5c1")
        .env("PROVISION_BASE_URL", "https://billing.example.co.ke")
        .env("PROVISION_SECRET", "5e0c8a1d7f3b92c4e6a8d0f1a4c7e9b2");
    let out = run(c, None);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn config_check_redacts_secrets_and_lists_problems() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "DB_DRIVER=postgres\nDB_HOST=db.internal\nDB_USER=isp\nDB_PASSWORD=hunter2-db-pass\nAPP_PORT=eighty\n",
    )
    .unwrap();
    let mut c = broadnet(dir.path());
    c.args(["config", "check"])
        .env("JWT_SECRET", "jwt-secret-value-that-must-not-print")
        .env("MPESA_CONSUMER_SECRET", "mpesa-secret-value");
    let out = run(c, None);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "APP_PORT=eighty is fatal: {stdout}");
    for secret in ["hunter2-db-pass", "jwt-secret-value-that-must-not-print", "mpesa-secret-value"] {
        assert!(!stdout.contains(secret) && !text(&out.stderr).contains(secret), "{secret} leaked:\n{stdout}");
    }
    assert!(stdout.contains("db.internal"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("error:") && l.contains("APP_PORT")), "{stdout}");
}

#[test]
fn migrate_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/m.db", dir.path().display());
    let mut c = broadnet(dir.path());
    c.args(["migrate"]).env("DATABASE_URL", &url);
    let out = run(c, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("applied m0001_initial"), "{}", text(&out.stdout));
    let mut c = broadnet(dir.path());
    c.args(["migrate"]).env("DATABASE_URL", &url);
    let out = run(c, None);
    assert!(text(&out.stdout).contains("up to date"), "{}", text(&out.stdout));
}

/// Rule 1 and 2 under a crash: the server is SIGKILLed right after acknowledging a
/// payment callback; after a restart the payment, the renewal, the invoice and the
/// notifications are all there, each exactly once, and the SMS still goes out.
#[test]
fn a_crash_after_accepting_a_callback_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("ADMIN_PASSWORD", "correct horse battery"),
        ("MPESA_ENV", "simulator"),
        ("AT_ENV", "simulator"),
        ("SMS_ENABLED", "true"),
        // The restarted process is the same node (it gets another port here).
        ("NODE_ID", "node-a"),
    ];
    let s = Server::start_with(dir.path(), &env);
    let t = s.login("admin", "correct horse battery").unwrap();
    let (st, pkg) = s.post(
        "/api/packages",
        Some(&t),
        json!({"name": "Home", "price": "1500", "download_rate": "10M", "upload_rate": "5M", "duration": "30d"}),
    );
    assert_eq!(st, 201, "{pkg}");
    let (st, c) = s.post(
        "/api/customers",
        Some(&t),
        json!({"full_name": "Crash Test", "username": "crash", "password": "pw123456", "phone": "0712000999",
            "customer_type": "pppoe", "package_id": pkg["id"], "expires_at": "2030-01-01T00:00:00Z"}),
    );
    assert_eq!(st, 201, "{c}");
    // The built-in Daraja simulator: this push gets no callback; we deliver it ourselves.
    let (st, _) = s.post("/simulator/mpesa/simulator/behaviour", None, json!({"deliveries": 0}));
    assert_eq!(st, 200);
    let (st, r) = s.post("/api/payments/initiate", Some(&t), json!({"customer_id": c["id"]}));
    assert_eq!(st, 201, "{r}");
    let pid = r["payment"]["id"].as_i64().unwrap();
    let checkout = r["payment"]["checkout_request_id"].as_str().unwrap().to_string();
    let (_, urls) = s.get("/api/payments/callback-urls", &t);
    let url = urls["mpesa_stk_callback"].as_str().unwrap().replace(&s.base, "");
    let body = json!({"Body": {"stkCallback": {"MerchantRequestID": "m", "CheckoutRequestID": checkout,
        "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 1500}, {"Name": "MpesaReceiptNumber", "Value": "SKL0000001"},
            {"Name": "PhoneNumber", "Value": 254712000999u64}]}}}});
    let (st, _) = s.post(&url, None, body.clone());
    assert_eq!(st, 200);
    s.kill();

    let s = Server::start_with(dir.path(), &env);
    let t = s.login("admin", "correct horse battery").unwrap();
    let (_, p) = s.get(&format!("/api/payments/{pid}"), &t);
    assert_eq!(p["payment"]["status"], "completed", "{p}");
    assert_eq!(p["invoice"]["number"], "INV-000001", "{p}");
    let (_, cust) = s.get(&format!("/api/customers/{}", c["id"]), &t);
    assert_eq!(cust["expires_at"], "2030-01-31T00:00:00Z", "{cust}");
    // The same callback again after the restart changes nothing.
    let (_, urls) = s.get("/api/payments/callback-urls", &t);
    let url = urls["mpesa_stk_callback"].as_str().unwrap().replace(&s.base, "");
    assert_eq!(s.post(&url, None, body).0, 200);
    let (_, cust) = s.get(&format!("/api/customers/{}", c["id"]), &t);
    assert_eq!(cust["expires_at"], "2030-01-31T00:00:00Z", "{cust}");
    // The receipt SMS is delivered, once, whether it left before the crash or after.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, n) = s.get("/api/notifications?kind=sms", &t);
        let items: Vec<&Value> =
            n["items"].as_array().unwrap().iter().filter(|i| i["payload"]["template"] == "payment_received").collect();
        if items.len() == 1 && items[0]["status"] == "delivered" {
            assert!(items[0]["payload"]["message"].as_str().unwrap().contains("SKL0000001"), "{n}");
            break;
        }
        assert!(items.len() <= 1, "{n}");
        assert!(Instant::now() < deadline, "SMS not delivered after the restart: {n}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, n) = s.get("/api/notifications?kind=payment.completed", &t);
    assert_eq!(n["total"], 1, "{n}");
    s.stop();
}
