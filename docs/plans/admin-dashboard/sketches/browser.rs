// Sketch of crates/broadnet/tests/common/browser.rs (not compiled).
// Debian's chromium + chromedriver through WebDriver; fantoccini 0.22 without TLS features
// (chromedriver is plain http on loopback). Everything below was tried by hand with curl
// against chromedriver 156 on this machine (see RESEARCH.md §4).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One chromedriver per test, on a port it chose itself; killed on drop.
pub struct Chromedriver {
    child: Child,
    pub url: String,
}

impl Chromedriver {
    pub fn spawn() -> Chromedriver {
        let mut child = Command::new("/usr/bin/chromedriver")
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
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
        std::thread::spawn(move || for _ in out.lines() {}); // keep its pipe drained
        Chromedriver { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
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
        // browser: console + network + CSP errors; performance: every request (Network.*).
        "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"}
    });
    caps.as_object().unwrap().clone()
}

pub struct Browser {
    pub c: Client,
    pub base: String,
    pub width: u32,
    shots: std::path::PathBuf,
    _driver: Chromedriver,
}

impl Browser {
    /// `width` 1280 or 360. `--window-size` alone leaves a 500 px viewport in headless
    /// Chromium; the WebDriver window rect gives the real 360.
    pub async fn open(base: &str, width: u32, test: &str) -> Browser {
        let driver = Chromedriver::spawn();
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(conn).capabilities(capabilities()).connect(&driver.url).await.unwrap();
        c.set_window_size(width, if width < 600 { 740 } else { 800 }).await.unwrap();
        let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-shots").join(test);
        std::fs::create_dir_all(&shots).unwrap();
        Browser { c, base: base.to_string(), width, shots, _driver: driver }
    }

    pub async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    /// The input a person finds by its label text.
    pub async fn fill(&self, label: &str, value: &str) {
        let l = self.c.find(Locator::XPath(&format!("//label[normalize-space()={}]", xq(label)))).await.unwrap();
        let id = l.attr("for").await.unwrap().expect("every label names its input");
        let input = self.c.find(Locator::Id(&id)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    /// A button or link by its visible text.
    pub async fn click(&self, text: &str) {
        let xp = format!("//button[normalize-space()={0}] | //a[normalize-space()={0}]", xq(text));
        self.c.wait().at_most(Duration::from_secs(10)).for_element(Locator::XPath(&xp)).await.unwrap().click().await.unwrap();
    }

    /// Waits (no sleeping) until `text` is on the page.
    pub async fn wait_text(&self, text: &str) {
        let xp = format!("//*[contains(normalize-space(), {})]", xq(text));
        self.c.wait().at_most(Duration::from_secs(15)).for_element(Locator::XPath(&xp)).await
            .unwrap_or_else(|_| panic!("{text:?} never appeared"));
    }

    pub async fn has_button(&self, text: &str) -> bool {
        let xp = format!("//button[normalize-space()={}]", xq(text));
        !self.c.find_all(Locator::XPath(&xp)).await.unwrap().is_empty()
    }

    /// PNG of the viewport: <target tmpdir>/browser-shots/<test>/<name>-<width>.png
    pub async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}-{}.png", self.width)), png).unwrap();
    }

    /// No console error (network 4xx/5xx, CSP, JS) except the `allowed` substrings, and no
    /// request to any origin but the server's. Reading a log empties it.
    pub async fn check_clean(&self, allowed: &[&str]) {
        let logs = self.c.issue_cmd(GetLog("browser")).await.unwrap();
        let bad: Vec<&Value> = logs.as_array().unwrap().iter()
            .filter(|e| e["level"] == "SEVERE")
            .filter(|e| !allowed.iter().any(|a| e["message"].as_str().unwrap_or("").contains(a)))
            .collect();
        assert!(bad.is_empty(), "console errors: {bad:#?}");
        let perf = self.c.issue_cmd(GetLog("performance")).await.unwrap();
        for e in perf.as_array().unwrap() {
            let m: Value = serde_json::from_str(e["message"].as_str().unwrap()).unwrap();
            if m["message"]["method"] == "Network.requestWillBeSent" {
                let url = m["message"]["params"]["request"]["url"].as_str().unwrap();
                assert!(url.starts_with(&self.base) || url.starts_with("data:"), "request to another host: {url}");
            }
        }
        let res = self.c.execute("return performance.getEntriesByType('resource').map(e => e.name)", vec![]).await.unwrap();
        for url in res.as_array().unwrap() {
            assert!(url.as_str().unwrap().starts_with(&self.base), "resource from another host: {url}");
        }
    }

    pub async fn close(self) {
        let _ = self.c.close().await;
    }
}

/// chromedriver's log endpoint (not in the W3C spec, so not in fantoccini's API).
#[derive(Debug)]
struct GetLog(&'static str);

impl WebDriverCompatibleCommand for GetLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": self.0 }).to_string()))
    }
}

/// An XPath string literal for any text (quotes included).
fn xq(s: &str) -> String {
    if !s.contains('\'') { format!("'{s}'") } else { format!("concat('{}')", s.replace('\'', "', \"'\", '")) }
}

// ---- crates/broadnet/tests/browser.rs: one journey, to show the shape ------------------
//
// #[tokio::test]
// async fn collect_payment_turns_paid() {
//     let env = Env::start().await;                       // server + M-Pesa/Airtel/SMS sims (as payments.rs)
//     let pkg = env.package("Home 10M", 1500).await;      // fixtures through the API, not the browser
//     let cust = env.customer("Jane Wanjiku", "0712345678", pkg).await;
//     for width in [1280, 360] {
//         let b = Browser::open(&env.base, width, "collect_payment").await;
//         b.login("root", common::ADMIN_PW).await;
//         b.goto(&format!("/customers/{cust}")).await;
//         b.check_clean(&[]).await;
//         b.shot("customer-detail").await;
//         b.click("Collect Payment").await;
//         b.click("Send prompt").await;
//         b.wait_text("Paid, receipt").await;             // the sim called back; htmx polled
//         b.wait_text("expires").await;
//         b.check_clean(&[]).await;
//         b.shot("customer-paid").await;
//         b.close().await;
//     }
//     env.finish().await;
// }
//
// .config/nextest.toml
//   [test-groups]
//   browser = { max-threads = 2 }
//   [[profile.default.overrides]]
//   filter = 'binary(browser)'
//   test-group = 'browser'
//
// Dev-dependencies of broadnet: fantoccini = { version = "0.22", default-features = false },
// hyper-util (client-legacy, http1, tokio), http = "1", url (workspace).
