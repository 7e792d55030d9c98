//! The admin pages in a real browser: Debian's chromium driven through chromedriver
//! (WebDriver, fantoccini over plain HTTP on loopback), against the real server on a
//! free port. Every page visited is screenshotted at 1280 and 360 px into
//! `<target>/tmp/browser-shots/<test>/`, and must leave no console error and load
//! nothing from another host. Plain-HTTP checks of the same rules (CSRF, viewer
//! writes, redirects, assets) sit at the end.

use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, TestApp};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const WIDTHS: [u32; 2] = [1280, 360];

/// One chromedriver per browser, on a port it chose itself. It leads a process
/// group of its own, which its chromium joins: dropping it kills the whole group, so
/// a test that panics before closing its browser leaves no chromium behind.
struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    fn spawn() -> Chromedriver {
        let mut child = Command::new("/usr/bin/chromedriver")
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian chromium-driver) is needed; ./scripts/test installs it");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // "ChromeDriver was started successfully on port 44269."
        let port = loop {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "chromedriver exited before it started");
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest.trim().trim_end_matches('.').parse::<u16>().unwrap();
            }
        };
        // Keep its pipe drained.
        std::thread::spawn(move || for _ in out.lines() {});
        Chromedriver { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn capabilities() -> serde_json::Map<String, Value> {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,800"]
        },
        // browser: console, network and CSP errors; performance: every request.
        "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"}
    });
    caps.as_object().unwrap().clone()
}

struct Browser {
    c: Client,
    base: String,
    width: u32,
    shots: PathBuf,
    _driver: Chromedriver,
}

impl Browser {
    /// `--window-size` alone leaves a 500 px viewport in headless Chromium; the
    /// WebDriver window rect gives the real 360.
    async fn open(base: &str, width: u32, test: &str) -> Browser {
        let driver = Chromedriver::spawn();
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(conn).capabilities(capabilities()).connect(&driver.url).await.unwrap();
        c.set_window_size(width, if width < 600 { 740 } else { 800 }).await.unwrap();
        let shots = shots_dir().join(test);
        std::fs::create_dir_all(&shots).unwrap();
        Browser { c, base: base.to_string(), width, shots, _driver: driver }
    }

    async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_string()
    }

    /// The input a person finds by its label text.
    async fn fill(&self, label: &str, value: &str) {
        let l = self.c.find(Locator::XPath(&format!("//label[normalize-space()={}]", xq(label)))).await.unwrap();
        let id = l.attr("for").await.unwrap().expect("every label names its input");
        let input = self.c.find(Locator::Id(&id)).await.unwrap();
        input.clear().await.unwrap();
        if !value.is_empty() {
            input.send_keys(value).await.unwrap();
        }
    }

    /// A button or link by its visible text (the first one).
    async fn click(&self, text: &str) {
        let xp = format!("//button[normalize-space()={0}] | //a[normalize-space()={0}]", xq(text));
        let el = self.c.wait().at_most(Duration::from_secs(10)).for_element(Locator::XPath(&xp)).await.unwrap();
        el.click().await.unwrap();
    }

    /// Waits (no sleeping) until `text` is on the page.
    async fn wait_text(&self, text: &str) {
        let xp = format!("//*[contains(normalize-space(), {})]", xq(text));
        if self.c.wait().at_most(Duration::from_secs(15)).for_element(Locator::XPath(&xp)).await.is_err() {
            let (path, body) = (self.path().await, self.body_text().await);
            panic!("{text:?} never appeared; at {path}: {body}");
        }
    }

    async fn body_text(&self) -> String {
        self.c.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
    }

    /// Buttons and links with this text.
    async fn controls(&self, text: &str) -> usize {
        let xp = format!("//button[normalize-space()={0}] | //a[normalize-space()={0}]", xq(text));
        self.c.find_all(Locator::XPath(&xp)).await.unwrap().len()
    }

    /// The whole page, not only the viewport, as a person would scroll it.
    async fn shot(&self, name: &str) {
        // The window's height is the page's plus the browser's own frame.
        let js = "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight";
        let h = self.c.execute(js, vec![]).await.unwrap();
        let h = h.as_u64().unwrap_or(800).clamp(400, 4000) as u32;
        self.c.set_window_size(self.width, h).await.unwrap();
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}-{}.png", self.width)), png).unwrap();
        self.c.set_window_size(self.width, if self.width < 600 { 740 } else { 800 }).await.unwrap();
    }

    /// No console error (network 4xx/5xx, CSP, JS) but those containing one of
    /// `allowed`, and no request to any origin but the server's. Reading a log
    /// empties it.
    async fn check_clean(&self, allowed: &[&str]) {
        let logs = self.c.issue_cmd(GetLog("browser")).await.unwrap();
        let bad: Vec<&Value> = logs
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .filter(|e| !allowed.iter().any(|a| e["message"].as_str().unwrap_or("").contains(a)))
            .collect();
        assert!(bad.is_empty(), "console errors at {}: {bad:#?}", self.path().await);
        let perf = self.c.issue_cmd(GetLog("performance")).await.unwrap();
        for e in perf.as_array().unwrap() {
            let m: Value = serde_json::from_str(e["message"].as_str().unwrap()).unwrap();
            if m["message"]["method"] == "Network.requestWillBeSent" {
                let url = m["message"]["params"]["request"]["url"].as_str().unwrap();
                assert!(url.starts_with(&self.base) || url.starts_with("data:"), "request to another host: {url}");
            }
        }
    }

    async fn login(&self, user: &str, pw: &str) {
        self.goto("/login").await;
        self.fill("Username", user).await;
        self.fill("Password", pw).await;
        self.click("Log in").await;
    }

    async fn close(self) {
        let _ = self.c.close().await;
    }
}

/// `<target>/tmp/browser-shots`: the test output folder.
fn shots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-shots")
}

/// chromedriver's log endpoint (not in the W3C spec, so not in fantoccini's API).
#[derive(Debug)]
struct GetLog(&'static str);

impl WebDriverCompatibleCommand for GetLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(json!({ "type": self.0 }).to_string()))
    }
}

/// An XPath string literal for any text.
fn xq(s: &str) -> String {
    if !s.contains('\'') { format!("'{s}'") } else { format!("concat('{}')", s.replace('\'', "', \"'\", '")) }
}

#[tokio::test]
async fn log_in_wrong_password_then_right_then_out() {
    let app = TestApp::start().await;
    for width in WIDTHS {
        let b = Browser::open(&app.base, width, "login").await;
        b.goto("/").await;
        assert_eq!(b.path().await, "/login", "not logged in: the login page");
        b.check_clean(&[]).await;
        b.shot("login").await;

        b.login(ADMIN_USER, "not the password").await;
        b.wait_text("wrong username or password").await;
        assert_eq!(b.path().await, "/login");
        b.check_clean(&["401"]).await;
        b.shot("login-wrong-password").await;

        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        assert_eq!(b.path().await, "/");
        let text = b.body_text().await;
        for section in ["Dashboard", "Customers", "Packages", "Routers", "Payments", "Settings", "System"] {
            assert!(text.contains(section), "the nav lists {section}");
        }
        assert_eq!(b.controls("Customers").await, 0, "a section not built yet is not a link");
        b.check_clean(&[]).await;
        b.shot("dashboard").await;

        b.click("Log out").await;
        b.wait_text("Log in to the admin panel").await;
        b.goto("/packages").await;
        assert_eq!(b.path().await, "/login", "logged out: the session is gone");
        b.check_clean(&[]).await;
        b.close().await;
    }
    app.finish().await;
}

#[tokio::test]
async fn create_edit_and_delete_a_package_through_the_form() {
    let app = TestApp::start().await;
    for width in WIDTHS {
        let name = format!("Home 10M at {width}");
        let b = Browser::open(&app.base, width, "packages").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("Packages").await;
        b.wait_text("New package").await;
        b.check_clean(&[]).await;
        b.shot("packages-list").await;

        b.click("New package").await;
        b.wait_text("Create package").await;
        b.check_clean(&[]).await;
        b.shot("package-new").await;
        // A first try with no price and a bad rate: the form comes back with both errors.
        b.fill("Name", &name).await;
        b.fill("Download rate", "fast").await;
        b.fill("Upload rate", "5M").await;
        b.fill("Duration", "30d").await;
        b.click("Create package").await;
        b.wait_text("is required").await;
        let err = b.c.find(Locator::Id("e-download_rate")).await.unwrap().text().await.unwrap();
        assert!(!err.is_empty(), "the download rate's own error is shown under it");
        assert!(b.c.find(Locator::Id("e-price")).await.is_ok(), "the price's error is shown under it");
        let kept = b.c.find(Locator::Id("f-name")).await.unwrap().prop("value").await.unwrap();
        assert_eq!(kept.as_deref(), Some(name.as_str()), "what was typed is kept");
        b.check_clean(&["422"]).await;
        b.shot("package-new-errors").await;

        b.fill("Price", "1500").await;
        b.fill("Download rate", "10M").await;
        b.click("Create package").await;
        b.wait_text(&name).await;
        assert_eq!(b.path().await, "/packages");
        b.check_clean(&[]).await;
        b.shot("packages-list-one").await;

        b.click("Edit").await;
        b.wait_text("Edit package").await;
        b.fill("Price", "2000").await;
        b.click("Save").await;
        b.wait_text("2,000.00").await;
        b.check_clean(&[]).await;

        b.click("Delete").await;
        b.wait_text("No packages yet").await;
        assert!(!b.body_text().await.contains(&name));
        b.check_clean(&[]).await;
        b.close().await;
    }
    let (_, list) = app.call("GET", "/api/packages", None).await;
    assert_eq!(list["items"], json!([]), "the browser's writes went through the same use cases");
    app.finish().await;
}

#[tokio::test]
async fn a_viewer_sees_no_write_controls_and_a_forged_post_is_refused() {
    let app = TestApp::start().await;
    app.package("Home 10M").create().await;
    let (st, _) = app
        .call(
            "POST",
            "/api/admins",
            Some(json!({"username": "vera", "password": "viewer pass phrase 1", "role": "viewer"})),
        )
        .await;
    assert_eq!(st, 201);
    for width in WIDTHS {
        let b = Browser::open(&app.base, width, "viewer").await;
        b.login("vera", "viewer pass phrase 1").await;
        b.wait_text("Getting started").await;
        b.goto("/packages").await;
        b.wait_text("Home 10M").await;
        for control in ["New package", "Edit", "Delete"] {
            assert_eq!(b.controls(control).await, 0, "a viewer sees no {control:?}");
        }
        b.check_clean(&[]).await;
        b.shot("viewer-packages").await;
        b.close().await;
    }
    // The viewer's own session and valid token, posted by hand: the use case refuses.
    let http = no_redirects();
    let cookie = page_session(&app, "vera", "viewer pass phrase 1").await;
    let token = csrf_of(&http, &app.base, &cookie).await;
    let body = format!("_csrf={token}&name=Forged&price=1&download_rate=1M&upload_rate=1M&duration=1d");
    let resp = post_form(&http, &app.base, "/packages", &cookie, &body).await;
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().await.unwrap().contains("read-only"));
    let resp = http.get(format!("{}/packages/new", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403, "nor is the form shown to a viewer");
    let (_, list) = app.call("GET", "/api/packages", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn a_form_post_without_this_sessions_csrf_token_is_refused() {
    let app = TestApp::start().await;
    let http = no_redirects();
    let cookie = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let other = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let other_token = csrf_of(&http, &app.base, &other).await;
    let fields = "name=Home&price=1500&download_rate=10M&upload_rate=5M&duration=30d";
    for (case, body) in [
        ("no token", fields.to_string()),
        ("an empty token", format!("_csrf=&{fields}")),
        ("a made-up token", format!("_csrf=00112233445566778899aabbccddeeff&{fields}")),
        ("another session's token", format!("_csrf={other_token}&{fields}")),
    ] {
        let resp = post_form(&http, &app.base, "/packages", &cookie, &body).await;
        assert_eq!(resp.status().as_u16(), 403, "{case}");
    }
    let resp = post_form(&http, &app.base, "/logout", &cookie, "").await;
    assert_eq!(resp.status().as_u16(), 403, "logout is a form too");
    // A cross-site form, even with the right token.
    let token = csrf_of(&http, &app.base, &cookie).await;
    let resp = http
        .post(format!("{}/packages", app.base))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(format!("_csrf={token}&{fields}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "cross-origin");
    let (_, list) = app.call("GET", "/api/packages", None).await;
    assert_eq!(list["items"], json!([]), "nothing was created");

    // The right token: created, then 303 to the list.
    let resp = post_form(&http, &app.base, "/packages", &cookie, &format!("_csrf={token}&{fields}")).await;
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "/packages");
    // In the browser too: a form whose token was removed is refused with a page.
    let b = Browser::open(&app.base, 1280, "csrf").await;
    b.login(ADMIN_USER, ADMIN_PW).await;
    b.wait_text("Getting started").await;
    b.goto("/packages/new").await;
    b.wait_text("Create package").await;
    b.c.execute("document.querySelector('form.form input[name=_csrf]').remove()", vec![]).await.unwrap();
    b.fill("Name", "No token").await;
    b.click("Create package").await;
    b.wait_text("Not allowed").await;
    b.wait_text("reload the page").await;
    b.check_clean(&["403"]).await;
    b.shot("csrf-refused").await;
    b.close().await;
    app.finish().await;
}

#[tokio::test]
async fn pages_redirect_to_login_and_assets_are_hashed_and_cached() {
    let app = TestApp::start().await;
    let http = no_redirects();
    for path in ["/", "/packages", "/packages/new"] {
        let resp = http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 303, "{path}");
        let to = resp.headers()["location"].to_str().unwrap().to_string();
        assert!(to.starts_with("/login"), "{path} → {to}");
    }
    let resp = http.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "no external host in the page");
    let assets: Vec<&str> = html
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(assets.len(), 3, "css, htmx, favicon: {assets:?}");
    for a in assets {
        let resp = http.get(format!("{}{a}", app.base)).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{a}");
        let cc = resp.headers()["cache-control"].to_str().unwrap();
        assert!(cc.contains("immutable"), "{a}: {cc}");
    }
    let resp = http.get(format!("{}/favicon.ico", app.base)).send().await.unwrap();
    assert!(resp.status().is_redirection());
    // A missing page: an HTML page for a browser, the JSON error for the API.
    let resp = http.get(format!("{}/no/such/page", app.base)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert!(resp.text().await.unwrap().contains("There is no page at this address"));
    let resp = http.get(format!("{}/api/nothing", app.base)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert!(resp.text().await.unwrap().contains("not_found"));

    // The login form sets the very cookie the JSON API uses.
    let resp = post_login(&http, &app.base, &format!("username={ADMIN_USER}&password={}", enc(ADMIN_PW))).await;
    assert_eq!(resp.status().as_u16(), 303);
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in ["broadnet_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    let resp = http.get(format!("{}/api/auth/me", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "the page cookie works on the API");

    // Login CSRF: a login form without its nonce cookie and proof is refused.
    let creds = format!("username={ADMIN_USER}&password={}", enc(ADMIN_PW));
    let resp = post_form(&http, &app.base, "/login", "", &creds).await;
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().contains("broadnet_session")));
    assert!(resp.text().await.unwrap().contains("the login form has expired"));
    let resp = post_form(&http, &app.base, "/login", "broadnet_login=00ff", &format!("_proof=00ff&{creds}")).await;
    assert_eq!(resp.status().as_u16(), 403, "a proof made up for a nonce made up");

    // The rate limiter's own message on the login page, with 429.
    let mut limited = None;
    for _ in 0..30 {
        let resp = post_login(&http, &app.base, "username=nobody&password=wrong").await;
        if resp.status().as_u16() == 429 {
            limited = Some((resp.headers().get("retry-after").is_some(), resp.text().await.unwrap()));
            break;
        }
        assert_eq!(resp.status().as_u16(), 401);
    }
    let (retry_after, page) = limited.expect("the limiter answers 429 at some point");
    assert!(retry_after);
    assert!(page.contains("too many login attempts; try again in"), "{page}");
    app.finish().await;
}

/// The login form as a browser sends it: first the page (its nonce cookie and the
/// proof in the form), then the POST with both.
async fn post_login(http: &reqwest::Client, base: &str, body: &str) -> reqwest::Response {
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let set = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let html = page.text().await.unwrap();
    let at = html.find("name=\"_proof\" value=\"").expect("a proof field") + "name=\"_proof\" value=\"".len();
    let proof = html[at..].split('"').next().unwrap().to_string();
    post_form(http, base, "/login", &cookie, &format!("_proof={proof}&{body}")).await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A session cookie from the login form.
async fn page_session(app: &TestApp, user: &str, pw: &str) -> String {
    let body = format!("username={}&password={}", enc(user), enc(pw));
    let resp = post_login(&no_redirects(), &app.base, &body).await;
    assert_eq!(resp.status().as_u16(), 303, "login {user}");
    resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

/// The CSRF token the pages give this session (the logout form carries it).
async fn csrf_of(http: &reqwest::Client, base: &str, cookie: &str) -> String {
    let html = http.get(format!("{base}/")).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
    let at = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + "name=\"_csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

async fn post_form(http: &reqwest::Client, base: &str, path: &str, cookie: &str, body: &str) -> reqwest::Response {
    let mut req = http
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    req.send().await.unwrap()
}
