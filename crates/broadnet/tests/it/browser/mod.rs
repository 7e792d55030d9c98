//! The admin pages in a real browser: Debian's chromium driven through chromedriver
//! (WebDriver, fantoccini over plain HTTP on loopback), against the real server on a
//! free port. Every page visited is screenshotted at 1280 and 360 px into
//! `<target>/tmp/browser-shots/<test>/`, and must leave no console error and load
//! nothing from another host. Plain-HTTP checks of the same rules (CSRF, viewer
//! writes, redirects, assets) are in `auth`. Each screen's journeys are a module.

use broadnet_testkit::app::TestApp;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) const WIDTHS: [u32; 2] = [1280, 360];

/// One chromedriver per browser, on a port it chose itself. It leads a process
/// group of its own, which its chromium joins: dropping it kills the whole group, so
/// a test that panics before closing its browser leaves no chromium behind.
struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    pub(crate) fn spawn() -> Chromedriver {
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

pub(crate) struct Browser {
    pub(crate) c: Client,
    pub(crate) base: String,
    pub(crate) width: u32,
    shots: PathBuf,
    _driver: Chromedriver,
}

impl Browser {
    /// `--window-size` alone leaves a 500 px viewport in headless Chromium; the
    /// WebDriver window rect gives the real 360.
    pub(crate) async fn open(base: &str, width: u32, test: &str) -> Browser {
        let driver = Chromedriver::spawn();
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(conn).capabilities(capabilities()).connect(&driver.url).await.unwrap();
        c.set_window_size(width, if width < 600 { 740 } else { 800 }).await.unwrap();
        let shots = shots_dir().join(test);
        std::fs::create_dir_all(&shots).unwrap();
        Browser { c, base: base.to_string(), width, shots, _driver: driver }
    }

    pub(crate) async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    pub(crate) async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_string()
    }

    /// The input a person finds by its label text.
    pub(crate) async fn fill(&self, label: &str, value: &str) {
        let l = self.c.find(Locator::XPath(&format!("//label[normalize-space()={}]", xq(label)))).await.unwrap();
        let id = l.attr("for").await.unwrap().expect("every label names its input");
        let input = self.c.find(Locator::Id(&id)).await.unwrap();
        input.clear().await.unwrap();
        if !value.is_empty() {
            input.send_keys(value).await.unwrap();
        }
    }

    /// A button or link by its visible text (the first one).
    pub(crate) async fn click(&self, text: &str) {
        let xp = format!("//button[normalize-space()={0}] | //a[normalize-space()={0}]", xq(text));
        // A poll or a swap may replace the element between finding and clicking it:
        // find it again then.
        for attempt in 0..5 {
            let el = self.c.wait().at_most(Duration::from_secs(10)).for_element(Locator::XPath(&xp)).await.unwrap();
            match el.click().await {
                Ok(()) => return,
                Err(e) if attempt < 4 => {
                    eprintln!("click {text:?}: {e}; trying again");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("click {text:?}: {e}"),
            }
        }
    }

    /// Waits (no sleeping) until `text` is on the page.
    pub(crate) async fn wait_text(&self, text: &str) {
        let xp = format!("//*[contains(normalize-space(), {})]", xq(text));
        if self.c.wait().at_most(Duration::from_secs(15)).for_element(Locator::XPath(&xp)).await.is_err() {
            let (path, body) = (self.path().await, self.body_text().await);
            panic!("{text:?} never appeared; at {path}: {body}");
        }
    }

    pub(crate) async fn body_text(&self) -> String {
        // A navigation or a swap may replace the body between finding and reading it.
        for _ in 0..4 {
            if let Ok(t) = async { self.c.find(Locator::Css("body")).await?.text().await }.await {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.c.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
    }

    /// Buttons and links with this text.
    pub(crate) async fn controls(&self, text: &str) -> usize {
        let xp = format!("//button[normalize-space()={0}] | //a[normalize-space()={0}]", xq(text));
        self.c.find_all(Locator::XPath(&xp)).await.unwrap().len()
    }

    /// The whole page, not only the viewport, as a person would scroll it.
    pub(crate) async fn shot(&self, name: &str) {
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
    pub(crate) async fn check_clean(&self, allowed: &[&str]) {
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

    pub(crate) async fn login(&self, user: &str, pw: &str) {
        self.goto("/login").await;
        self.fill("Username", user).await;
        self.fill("Password", pw).await;
        self.click("Log in").await;
    }

    pub(crate) async fn close(self) {
        let _ = self.c.close().await;
    }
}

/// `<target>/tmp/browser-shots`: the test output folder.
pub(crate) fn shots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-shots")
}

/// chromedriver's log endpoint (not in the W3C spec, so not in fantoccini's API).
#[derive(Debug)]
pub(crate) struct GetLog(&'static str);

impl WebDriverCompatibleCommand for GetLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(json!({ "type": self.0 }).to_string()))
    }
}

/// An XPath string literal for any text.
pub(crate) fn xq(s: &str) -> String {
    if !s.contains('\'') { format!("'{s}'") } else { format!("concat('{}')", s.replace('\'', "', \"'\", '")) }
}

/// The login form as a browser sends it: first the page (its nonce cookie and the
/// proof in the form), then the POST with both.
pub(crate) async fn post_login(http: &reqwest::Client, base: &str, body: &str) -> reqwest::Response {
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let set = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let html = page.text().await.unwrap();
    let at = html.find("name=\"_proof\" value=\"").expect("a proof field") + "name=\"_proof\" value=\"".len();
    let proof = html[at..].split('"').next().unwrap().to_string();
    post_form(http, base, "/login", &cookie, &format!("_proof={proof}&{body}")).await
}

pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A session cookie from the login form.
pub(crate) async fn page_session(app: &TestApp, user: &str, pw: &str) -> String {
    let body = format!("username={}&password={}", enc(user), enc(pw));
    let resp = post_login(&no_redirects(), &app.base, &body).await;
    assert_eq!(resp.status().as_u16(), 303, "login {user}");
    resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

/// The CSRF token the pages give this session (the logout form carries it).
pub(crate) async fn csrf_of(http: &reqwest::Client, base: &str, cookie: &str) -> String {
    let html = http.get(format!("{base}/")).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
    let at = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + "name=\"_csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

pub(crate) async fn post_form(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> reqwest::Response {
    let mut req = http
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    req.send().await.unwrap()
}

mod account;
mod admins;
mod auth;
mod crawl;
mod customers;
mod dashboard;
mod lists;
mod packages;
mod payments;
mod portal;
mod routers;
mod settings;
mod vouchers;
