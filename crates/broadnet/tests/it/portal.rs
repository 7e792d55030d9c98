//! The hotspot portal over plain HTTP, on the backend named by `BROADNET_TEST_DB`:
//! what an anonymous stranger can and cannot do (prompt limits, code guessing,
//! forged forms, other people's orders), and exactly-once under duplicates and races
//! (a code claimed twice at once, a hundred identical callbacks).

use broadnet_sim::mpesa as msim;
use broadnet_store::{CustomerRepo, PaymentQuery, PaymentRepo};
use broadnet_testkit::app::{Sims, TestApp};
use broadnet_testkit::{WAIT, eventually};
use serde_json::json;
use std::time::Duration as StdDuration;

/// A phone's browser without the router: its cookies, kept by hand.
struct Phone {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
    proof: String,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Phone {
    /// Arrives from the router's login page (the hand-off), then opens the portal.
    async fn arrive(base: &str, mac: &str) -> Phone {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut p = Phone { http, base: base.to_string(), cookies: Vec::new(), proof: String::new() };
        let body = format!(
            "mac={}&ip=10.10.10.30&link-login-only={}&link-orig={}&chap-id=f9&chap-challenge={}&identity=Kibera",
            enc(mac),
            enc("http://10.10.10.1/login"),
            enc("http://example.com/"),
            "00112233445566778899aabbccddeeff"
        );
        // Cross-site, as the router's page posts it.
        let r = p
            .http
            .post(format!("{base}/hotspot"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "http://10.10.10.1")
            .header("sec-fetch-site", "cross-site")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        p.keep(&r);
        let (st, html) = p.get("/hotspot?tab=voucher").await;
        assert_eq!(st, 200, "{html}");
        p.proof = field(&html, "_proof");
        p
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let kv = v.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            self.cookies.push((k.to_string(), v.to_string()));
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn get(&mut self, path: &str) -> (u16, String) {
        let r =
            self.http.get(format!("{}{path}", self.base)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.keep(&r);
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// A portal form, with this browser's proof.
    async fn post(&mut self, path: &str, body: &str) -> (u16, String, Option<String>) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &self.base)
            .body(format!("_proof={}&{body}", self.proof))
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
        (r.status().as_u16(), r.text().await.unwrap(), location)
    }
}

fn field(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html.find(&key).unwrap_or_else(|| panic!("no {name} in {html}")) + key.len();
    html[at..].split('"').next().unwrap().to_string()
}

async fn start() -> (TestApp, Sims, i64) {
    let sims = Sims::spawn(StdDuration::from_millis(200)).await;
    let vars = sims.vars();
    let env = TestApp::start_with(move |_| vars).await;
    sims.connect(&env);
    let (st, p) = env
        .call(
            "POST",
            "/api/packages",
            Some(json!({"name": "Day", "price": "50", "download_rate": "5M", "upload_rate": "2M",
                "duration": "1d", "service_type": "hotspot"})),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    (env, sims, p["id"].as_i64().unwrap())
}

#[tokio::test]
async fn prompts_are_limited_per_phone_number_and_per_device() {
    let (env, sims, pkg) = start().await;
    // Each prompt is cancelled at once, so M-Pesa takes the next one for the number.
    sims.mpesa.set_behaviour(msim::Behaviour {
        outcome: msim::Outcome::Cancelled,
        deliveries: 1,
        delay: StdDuration::from_millis(10),
    });
    let mut statuses = Vec::new();
    for i in 0..4 {
        let mut p = Phone::arrive(&env.base, &format!("AA:00:00:00:01:{i:02X}")).await;
        let (st, html, _) = p.post("/hotspot/buy", &format!("package_id={pkg}&phone=0712000999")).await;
        statuses.push(st);
        if st == 303 {
            let last = sims.mpesa.pushes().last().unwrap().checkout_request_id.clone();
            eventually("answered", WAIT, || async { sims.mpesa.is_decided(&last).then_some(()) }).await;
        } else {
            assert!(html.contains("Too many tries"), "{html}");
        }
    }
    assert_eq!(statuses, [303, 303, 303, 429], "three prompts per number per 10 minutes");
    let mut p = Phone::arrive(&env.base, "AA:00:00:00:02:01").await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (st, html, _) = p.post("/hotspot/buy", &format!("package_id={pkg}&phone=07120010{i:02}")).await;
        assert!(st != 422, "{html}");
        statuses.push(st);
    }
    assert_eq!(statuses, [303, 303, 303, 303, 303, 429], "five prompts per device per 10 minutes");
    assert_eq!(sims.mpesa.pushes().len(), 8, "refused tries sent no prompt");
    // A refusal is a page that says what to do, with Retry-After.
    let (st, html, _) = p.post("/hotspot/buy", &format!("package_id={pkg}&phone=0712002000")).await;
    assert_eq!(st, 429);
    assert!(html.contains("Too many tries"), "{html}");
    env.finish().await;
}

#[tokio::test]
async fn forged_and_cross_site_forms_change_nothing() {
    let (env, sims, pkg) = start().await;
    let mut p = Phone::arrive(&env.base, "AA:00:00:00:03:01").await;
    // No proof.
    let r = p
        .http
        .post(format!("{}/hotspot/buy", env.base))
        .header("cookie", p.cookie_header())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("package_id={pkg}&phone=0712003001"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Another site posting with a stolen proof.
    let r = p
        .http
        .post(format!("{}/hotspot/buy", env.base))
        .header("cookie", p.cookie_header())
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_proof={}&package_id={pkg}&phone=0712003001", p.proof))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A proof from another browser.
    let other = Phone::arrive(&env.base, "AA:00:00:00:03:02").await;
    p.proof = other.proof.clone();
    let (st, _, _) = p.post("/hotspot/buy", &format!("package_id={pkg}&phone=0712003001")).await;
    assert_eq!(st, 403);
    assert!(sims.mpesa.pushes().is_empty(), "no prompt went out");
    // Garbage from a "router": nothing kept that a router would not send.
    let r = p
        .http
        .post(format!("{}/hotspot", env.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("mac=%3Cscript%3E&link-login-only=javascript%3Aalert(1)&chap-id=zz&error=%0d%0aSet-Cookie")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let html = p.http.get(format!("{}/hotspot", env.base)).header("cookie", cookie).send().await.unwrap();
    let html = html.text().await.unwrap();
    assert!(!html.contains("javascript:") && !html.contains("<script>"), "{html}");
    assert!(html.contains("Open this page from the Wi-Fi"), "no router to log in to: {html}");
    // Far more than a router sends: ignored whole, never cut into a half field.
    let huge =
        format!("mac=AA:BB:CC:DD:EE:01&link-login-only={}&pad={}", enc("http://10.10.10.1/login"), "x".repeat(40_000));
    let r = p
        .http
        .post(format!("{}/hotspot", env.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let html = p.http.get(format!("{}/hotspot", env.base)).header("cookie", cookie).send().await.unwrap();
    assert!(html.text().await.unwrap().contains("Open this page from the Wi-Fi"));
    env.finish().await;
}

#[tokio::test]
async fn orders_show_only_to_their_token_and_accounts_only_to_their_cookie() {
    let (env, _sims, pkg) = start().await;
    let mut p = Phone::arrive(&env.base, "AA:00:00:00:04:01").await;
    let (st, _, loc) = p.post("/hotspot/buy", &format!("package_id={pkg}&phone=0712004001")).await;
    assert_eq!(st, 303);
    let order = loc.unwrap();
    eventually("paid", WAIT, || async {
        let mut p2 =
            Phone { http: p.http.clone(), base: p.base.clone(), cookies: p.cookies.clone(), proof: String::new() };
        let (_, html) = p2.get(&format!("{order}/status")).await;
        html.contains("Paid!").then_some(())
    })
    .await;
    let (_, html) = p.get(&order).await;
    let code = field(&html, "username");
    assert!(!html.contains("0712004001") && !html.contains("254712004001"), "never the whole number: {html}");
    // A stranger: another token is nobody's, a guessed one is not found.
    let mut stranger = Phone::arrive(&env.base, "AA:00:00:00:04:02").await;
    let (st, html) = stranger.get("/hotspot/order/00000000000000000000000000000000").await;
    assert_eq!(st, 404);
    assert!(!html.contains(&code));
    let (st, html) = stranger.get("/hotspot/status").await;
    assert_eq!(st, 200);
    assert!(!html.contains(&code), "no account without its cookie: {html}");
    // A forged account cookie is ignored.
    stranger.cookies.push(("bn_hs_a".into(), format!("{code}.9999999999.00112233445566778899aabbccddeeff")));
    let (_, html) = stranger.get("/hotspot/status").await;
    assert!(!html.contains(&code), "{html}");
    // The buyer's own status page shows their account.
    let (_, html) = p.get("/hotspot/status").await;
    assert!(html.contains(&code) && html.contains("You are online"), "{html}");
    env.finish().await;
}

#[tokio::test]
async fn a_hundred_identical_callbacks_make_one_entitlement() {
    let (env, sims, pkg) = start().await;
    sims.mpesa.set_behaviour(msim::Behaviour {
        deliveries: 100,
        delay: StdDuration::from_millis(100),
        ..Default::default()
    });
    let mut p = Phone::arrive(&env.base, "AA:00:00:00:05:01").await;
    let (st, _, loc) = p.post("/hotspot/buy", &format!("package_id={pkg}&phone=0712005001")).await;
    assert_eq!(st, 303);
    let order = loc.unwrap();
    let pushed = eventually("the push reached M-Pesa", WAIT, || async { sims.mpesa.pushes().first().cloned() }).await;
    eventually("all callbacks delivered", StdDuration::from_secs(30), || async {
        sims.mpesa.is_decided(&pushed.checkout_request_id).then_some(())
    })
    .await;
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let (_, html) = p.get(&order).await;
    let code = field(&html, "username");
    let c = env.store.get_customer_by_username(&code).await.unwrap();
    // One day bought, once.
    assert_eq!(c.expires_at, Some(env.app.now() + chrono::Duration::days(1)));
    let paid = env.store.list_payments(&PaymentQuery { customer_id: Some(c.id), ..Default::default() }).await.unwrap();
    assert_eq!(paid.total, 1);
    env.finish().await;
}

#[tokio::test]
async fn the_same_code_claimed_twice_at_once_opens_one_account() {
    let (env, sims, _pkg) = start().await;
    let (st, _) = env.call("POST", "/api/payments/mpesa/register-c2b", None).await;
    assert_eq!(st, 200);
    sims.mpesa.set_external_validation(false);
    let trans = sims.mpesa.c2b_pay("254712006001", 50, "WRONG").await.unwrap();
    eventually("queued as unmatched", WAIT, || async {
        let (_, q) = env.call("GET", "/api/payments/unmatched?status=open", None).await;
        (q["total"] == 1).then_some(())
    })
    .await;
    let mut a = Phone::arrive(&env.base, "AA:00:00:00:06:01").await;
    let mut b = Phone::arrive(&env.base, "AA:00:00:00:06:02").await;
    let body = format!("code={trans}&phone=0712006001");
    let (ra, rb) = tokio::join!(a.post("/hotspot/claim", &body), b.post("/hotspot/claim", &body));
    let statuses = [ra.0, rb.0];
    assert!(statuses.contains(&200) && statuses.contains(&422), "{statuses:?}: {} / {}", ra.1, rb.1);
    let loser = if ra.0 == 422 { &ra.1 } else { &rb.1 };
    assert!(loser.contains("This code has already been used"), "{loser}");
    let (_, q) = env.call("GET", "/api/payments/unmatched?status=open", None).await;
    assert_eq!(q["total"], 0);
    let paid = env.store.list_payments(&PaymentQuery::default()).await.unwrap();
    assert_eq!(paid.total, 1, "one payment made of the money");
    // The loser's half-made account was removed.
    let (_, customers) = env.call("GET", "/api/customers?per_page=50", None).await;
    assert_eq!(customers["total"], 1, "{customers}");
    env.finish().await;
}

#[tokio::test]
async fn code_guessing_is_limited_per_device() {
    let (env, _sims, _pkg) = start().await;
    let mut p = Phone::arrive(&env.base, "AA:00:00:00:07:01").await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (st, _, _) = p.post("/hotspot/claim", &format!("code=QK7AB12C{i:02}&phone=0712007001")).await;
        statuses.push(st);
    }
    assert_eq!(statuses, [422, 422, 422, 422, 422, 429]);
    let mut statuses = Vec::new();
    for i in 0..11 {
        let (st, _, _) = p.post("/hotspot/voucher", &format!("code=9999{i:04}")).await;
        statuses.push(st);
    }
    assert_eq!(statuses[..10], [422; 10]);
    assert_eq!(statuses[10], 429);
    env.finish().await;
}
