//! The hotspot portal in a phone-sized browser (360×740), end to end: the RouterOS
//! simulator configured by our wizard serves a phone its login page (the one the
//! wizard uploaded), which hands the phone to our portal; the phone pays through the
//! M-Pesa simulator (or uses a code or a voucher), and the portal's page sends the
//! router's login form itself (CHAP, hashed in the page), which the router checks
//! with our RADIUS server. A journey ends when the router says the phone is online.

use super::{Browser, GetLog};
use broadnet::config::{Config, Vars};
use broadnet::server;
use broadnet_sim::mpesa as msim;
use broadnet_sim::routeros::{HotspotDevice, RouterSim, SimConfig};
use broadnet_store::{CustomerRepo, PaymentRepo, VoucherRepo};
use broadnet_testkit::app::{Sims, TestApp};
use broadnet_testkit::{WAIT, eventually};
use fantoccini::Locator;
use serde_json::{Value, json};
use std::net::Ipv4Addr;
use std::time::Duration as StdDuration;

const W: u32 = 360;

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The server, its RADIUS server, the payment simulators, and a router our wizard
/// configured for the hotspot.
pub(crate) struct Hotspot {
    pub env: TestApp,
    pub sims: Sims,
    pub router: RouterSim,
    pub package_id: i64,
}

impl Hotspot {
    pub(crate) async fn start() -> Hotspot {
        let sims = Sims::spawn(StdDuration::from_millis(1500)).await;
        let (auth, acct, coa) = (free_udp_port(), free_udp_port(), free_udp_port());
        let mut extra = sims.vars();
        extra.extend([
            ("RADIUS_AUTH_PORT".to_string(), auth.to_string()),
            ("RADIUS_ACCT_PORT".to_string(), acct.to_string()),
            ("RADIUS_COA_PORT".to_string(), coa.to_string()),
            ("RADIUS_IP".to_string(), "127.0.0.1".to_string()),
        ]);
        let env = TestApp::start_with(|base| {
            let mut v = extra;
            v.push(("PROVISION_BASE_URL".to_string(), format!("{base}/provision")));
            v
        })
        .await;
        sims.connect(&env);
        let router = RouterSim::new(SimConfig { identity: "Kibera-Hotspot".into(), ..Default::default() });
        let api = router.spawn("127.0.0.1:0").await.unwrap();
        let (st, r) = env
            .call(
                "POST",
                "/api/routers",
                Some(json!({"name": "Kibera", "service_types": "hotspot", "ethernet_ports": "ether2"})),
            )
            .await;
        assert_eq!(st, 201, "{r}");
        let id = r["id"].as_i64().unwrap();
        let (_, cmd) = env.call("POST", &format!("/api/routers/{id}/provision-command"), None).await;
        router.terminal(cmd["command"].as_str().unwrap()).await.unwrap();
        env.call("PATCH", &format!("/api/routers/{id}"), Some(json!({"api_port": api.port()}))).await;
        let (st, _) = env.call("POST", &format!("/api/routers/{id}/configure"), None).await;
        assert_eq!(st, 202);
        eventually("the router is configured", StdDuration::from_secs(30), || async {
            let (_, r) = env.call("GET", &format!("/api/routers/{id}"), None).await;
            (r["state"] == "configured").then_some(())
        })
        .await;

        let mut vars = Vars::new();
        vars.insert("DATABASE_URL".into(), env.db.as_ref().unwrap().url.clone());
        vars.insert("RADIUS_AUTH_PORT".into(), auth.to_string());
        vars.insert("RADIUS_ACCT_PORT".into(), acct.to_string());
        vars.insert("RADIUS_COA_PORT".into(), coa.to_string());
        vars.insert("APP_HOST".into(), "127.0.0.1".into());
        let (cfg, _) = Config::from_vars(&vars);
        // On the app's clock, which the tests move.
        let radius = broadnet_radius_server::Server::with_sources(
            env.app.store.clone(),
            server::radius_config(&cfg).unwrap(),
            std::sync::Arc::new(env.clock.clone()),
            None,
        );
        let bound = radius.bind().await.unwrap();
        tokio::spawn(radius.run(bound, env.shutdown.clone()));

        let (st, p) = env
            .call(
                "POST",
                "/api/packages",
                Some(json!({"name": "1 Hour", "price": "20", "download_rate": "5M", "upload_rate": "2M",
                    "duration": "1h", "service_type": "hotspot"})),
            )
            .await;
        assert_eq!(st, 201, "{p}");
        Hotspot { env, sims, router, package_id: p["id"].as_i64().unwrap() }
    }

    pub(crate) fn phone(&self, n: u8) -> HotspotDevice {
        let mac = format!("AA:BB:CC:00:00:{n:02X}");
        self.router.hotspot_device(&mac, Ipv4Addr::new(10, 10, 10, 20 + n)).unwrap()
    }

    pub(crate) async fn finish(self) {
        self.router.shutdown();
        self.env.finish().await;
    }
}

/// A phone's browser, opened at the router's own "any website" page, which the
/// router answers with its login page and our hand-off.
pub(crate) async fn connect(h: &Hotspot, phone: &HotspotDevice, test: &str) -> Browser {
    let b = Browser::open(&h.env.base, W, test).await;
    b.c.goto(&phone.login_url(&format!("{}/news", phone.base_url()))).await.unwrap();
    b
}

/// Console errors and hosts: the server and the router only.
pub(crate) async fn check_clean(b: &Browser, phone: &HotspotDevice) {
    let logs = b.c.issue_cmd(GetLog("browser")).await.unwrap();
    let bad: Vec<&Value> = logs.as_array().unwrap().iter().filter(|e| e["level"] == "SEVERE").collect();
    assert!(bad.is_empty(), "console errors: {bad:#?}");
    let perf = b.c.issue_cmd(GetLog("performance")).await.unwrap();
    for e in perf.as_array().unwrap() {
        let m: Value = serde_json::from_str(e["message"].as_str().unwrap()).unwrap();
        if m["message"]["method"] == "Network.requestWillBeSent" {
            let url = m["message"]["params"]["request"]["url"].as_str().unwrap();
            assert!(
                url.starts_with(&b.base) || url.starts_with(phone.base_url()) || url.starts_with("data:"),
                "request to another host: {url}"
            );
        }
    }
}

async fn css(b: &Browser, sel: &str) -> fantoccini::elements::Element {
    b.c.wait().at_most(StdDuration::from_secs(15)).for_element(Locator::Css(sel)).await.unwrap_or_else(|_| {
        panic!("no {sel}");
    })
}

async fn type_into(b: &Browser, sel: &str, text: &str) {
    let el = css(b, sel).await;
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

/// Buys the first package with `phone_number`, up to the waiting screen.
pub(crate) async fn buy(b: &Browser, phone_number: &str) {
    b.wait_text("Choose a package").await;
    css(b, "a.package").await.click().await.unwrap();
    type_into(b, "input[name=phone]", phone_number).await;
    b.shot("phone").await;
    css(b, "button.pay").await.click().await.unwrap();
}

/// Until the router says the phone is online (our status page, after its login);
/// else what our RADIUS server decided, to say why.
async fn online(h: &Hotspot, b: &Browser, phone: &HotspotDevice) -> String {
    let xp = "//*[contains(normalize-space(), 'You are online')]";
    if b.c.wait().at_most(StdDuration::from_secs(20)).for_element(Locator::XPath(xp)).await.is_err() {
        tokio::time::sleep(StdDuration::from_millis(500)).await;
        let (_, log) = h.env.call("GET", "/api/radius/auth-log", None).await;
        panic!("not online; at {}: {}\nRADIUS said: {log:#}", b.path().await, b.body_text().await);
    }
    eventually("the router has a session", WAIT, || async { phone.logged_in_user() }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_phone_buys_a_package_and_is_online() {
    let h = Hotspot::start().await;
    let phone = h.phone(0x10);
    let b = connect(&h, &phone, "portal_buy").await;
    b.shot("packages").await;
    assert!(b.body_text().await.contains("KES 20"), "{}", b.body_text().await);
    buy(&b, "0712 345 678").await;
    b.wait_text("Check your phone").await;
    assert!(b.body_text().await.contains("0712 *** 678"), "the number is shown masked");
    b.shot("waiting").await;
    let user = online(&h, &b, &phone).await;
    b.shot("online").await;
    check_clean(&b, &phone).await;

    // The router got the package's limits from our RADIUS server, for the account
    // the payment created, and the phone is bound to it.
    let s = phone.session().unwrap();
    assert_eq!(s.rate_limit().as_deref(), Some("2M/5M"));
    assert!(s.session_timeout().is_some_and(|t| (3500..=3600).contains(&t)), "{:?}", s.session_timeout());
    let c = h.env.store.get_customer_by_username(&user).await.unwrap();
    assert_eq!((c.customer_type.as_str(), c.status.as_str()), ("hotspot", "active"));
    let paid = h.env.store.list_payments(&Default::default()).await.unwrap();
    assert_eq!(paid.total, 1);
    assert_eq!(paid.items[0].status.as_str(), "completed");
    // The SMS carries the login code and the receipt.
    h.env.app.run_outbox().await.unwrap();
    let sms = h.sims.sms.messages();
    let receipt = paid.items[0].provider_receipt.clone().unwrap();
    assert!(
        sms.iter()
            .any(|m| m.message.contains(&user) && m.message.contains(&receipt) && m.message.contains(&c.password)),
        "{sms:?}"
    );
    b.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_prompt_says_so_and_sending_it_again_gets_online() {
    let h = Hotspot::start().await;
    h.sims.mpesa.set_behaviour(msim::Behaviour {
        outcome: msim::Outcome::Cancelled,
        deliveries: 1,
        delay: StdDuration::from_millis(500),
    });
    let phone = h.phone(0x11);
    let b = connect(&h, &phone, "portal_cancelled").await;
    buy(&b, "0712345679").await;
    b.wait_text("You cancelled the prompt").await;
    b.wait_text("Request cancelled by user (code 1032)").await;
    b.shot("cancelled").await;
    h.sims.mpesa.set_behaviour(msim::Behaviour {
        outcome: msim::Outcome::Success,
        deliveries: 1,
        delay: StdDuration::from_millis(500),
    });
    // M-Pesa takes one prompt per customer at a time: the next after 2 minutes.
    h.env.clock.advance(chrono::Duration::minutes(3));
    b.click("Send the prompt again (KES 20.00)").await;
    online(&h, &b, &phone).await;
    check_clean(&b, &phone).await;
    b.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_callback_the_waiting_screen_asks_m_pesa_and_ends_paid() {
    let h = Hotspot::start().await;
    // The customer pays, but the callback never reaches us.
    h.sims.mpesa.set_behaviour(msim::Behaviour { deliveries: 0, ..Default::default() });
    let phone = h.phone(0x12);
    let b = connect(&h, &phone, "portal_query").await;
    buy(&b, "0712345680").await;
    b.wait_text("Check your phone").await;
    let checkout = eventually("the push reached M-Pesa", WAIT, || async {
        h.sims.mpesa.pushes().first().map(|p| p.checkout_request_id.clone())
    })
    .await;
    eventually("the customer paid", WAIT, || async { h.sims.mpesa.is_decided(&checkout).then_some(()) }).await;
    // 25 s without a callback: the next poll asks Daraja.
    h.env.clock.advance(chrono::Duration::seconds(25));
    online(&h, &b, &phone).await;
    b.shot("online").await;
    check_clean(&b, &phone).await;
    b.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callback_lost_the_code_from_the_sms_gets_online() {
    let h = Hotspot::start().await;
    h.sims.mpesa.set_behaviour(msim::Behaviour { deliveries: 0, ..Default::default() });
    let phone = h.phone(0x13);
    let b = connect(&h, &phone, "portal_code").await;
    buy(&b, "0712345681").await;
    b.wait_text("Check your phone").await;
    let receipt = eventually("the customer paid", WAIT, || async {
        h.sims
            .mpesa
            .pushes()
            .first()
            .filter(|p| h.sims.mpesa.is_decided(&p.checkout_request_id))
            .and_then(|p| p.receipt.clone())
    })
    .await;
    // The phone gives up waiting and types the code from M-Pesa's SMS.
    b.goto("/hotspot?tab=paid").await;
    type_into(&b, "input[name=code]", &receipt.to_lowercase()).await;
    type_into(&b, "input[name=phone]", "+254 712 345 681").await;
    b.shot("code").await;
    b.click("Connect").await;
    online(&h, &b, &phone).await;
    check_clean(&b, &phone).await;
    // The same code a second time opens nothing.
    let other = h.phone(0x14);
    let b2 = connect(&h, &other, "portal_code_again").await;
    b2.goto("/hotspot?tab=paid").await;
    type_into(&b2, "input[name=code]", &receipt).await;
    type_into(&b2, "input[name=phone]", "0712345681").await;
    b2.click("Connect").await;
    b2.wait_text("This code has already been used").await;
    let typed = css(&b2, "input[name=code]").await.prop("value").await.unwrap();
    assert_eq!(typed.as_deref(), Some(receipt.as_str()), "the code is shown again with its error");
    b2.shot("used").await;
    assert!(other.session().is_none());
    b2.close().await;
    b.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paybill_payment_with_a_wrong_account_is_claimed_by_its_code() {
    let h = Hotspot::start().await;
    let (st, reg) = h.env.call("POST", "/api/payments/mpesa/register-c2b", None).await;
    assert_eq!(st, 200, "{reg}");
    // Most shortcodes have no External Validation: a wrong account number is paid anyway.
    h.sims.mpesa.set_external_validation(false);
    let trans = h.sims.mpesa.c2b_pay("254712345682", 20, "NOSUCHACC").await.unwrap();
    let (_, q) = h.env.call("GET", "/api/payments/unmatched", None).await;
    assert_eq!(q["total"], 1, "{q}");
    let phone = h.phone(0x15);
    let b = connect(&h, &phone, "portal_paybill").await;
    b.click("I already paid").await;
    type_into(&b, "input[name=code]", &trans).await;
    // A wrong number is told nothing about the payment.
    type_into(&b, "input[name=phone]", "0799000111").await;
    b.click("Connect").await;
    b.wait_text("has reached us").await;
    type_into(&b, "input[name=code]", &trans).await;
    type_into(&b, "input[name=phone]", "0712345682").await;
    b.click("Connect").await;
    online(&h, &b, &phone).await;
    b.shot("claimed").await;
    let (_, q) = h.env.call("GET", "/api/payments/unmatched?status=open", None).await;
    assert_eq!(q["total"], 0, "assigned: {q}");
    b.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_voucher_gets_online_and_the_phone_comes_back_by_its_mac() {
    let h = Hotspot::start().await;
    let batch = broadnet_store::NewVoucherBatch {
        name: "Shop".into(),
        package_id: h.package_id,
        prefix: String::new(),
        code_length: 8,
        charset: broadnet_domain::VoucherCharset::Digits,
        mode: broadnet_domain::VoucherMode::Code,
        validity: broadnet_domain::VoucherValidity::FirstUse,
        valid_until: None,
        max_devices: 1,
        price: broadnet_domain::Money::from_minor(2000).unwrap(),
        codes: vec![("23456789".into(), None)],
        created_at: h.env.app.now(),
    };
    h.env.store.create_voucher_batch(&broadnet_store::Actor::system("test", h.env.app.now()), batch).await.unwrap();
    let phone = h.phone(0x16);
    let b = connect(&h, &phone, "portal_voucher").await;
    b.click("I have a voucher").await;
    type_into(&b, "input[name=code]", "2345-6789").await;
    b.shot("voucher").await;
    b.click("Connect").await;
    let user = online(&h, &b, &phone).await;
    assert_eq!(user, "23456789");
    let v = h.env.store.get_voucher_by_code("23456789").await.unwrap();
    assert_eq!(v.status.as_str(), "active");

    // Back later: the router logs the phone in by its MAC, no page in between.
    phone.logout().await.unwrap();
    b.c.goto(&phone.login_url(&format!("{}/news", phone.base_url()))).await.unwrap();
    eventually("the phone is back online", WAIT, || async { phone.logged_in_user() }).await;
    b.shot("back").await;
    b.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kiswahili_all_the_way_to_online() {
    let h = Hotspot::start().await;
    let phone = h.phone(0x17);
    let b = connect(&h, &phone, "portal_kiswahili").await;
    b.click("Kiswahili").await;
    b.wait_text("Chagua kifurushi").await;
    b.shot("vifurushi").await;
    css(&b, "a.package").await.click().await.unwrap();
    type_into(&b, "input[name=phone]", "0712345683").await;
    css(&b, "button.pay").await.click().await.unwrap();
    b.wait_text("Angalia simu yako").await;
    b.shot("subiri").await;
    b.wait_text("Umeunganishwa").await;
    eventually("the router has a session", WAIT, || async { phone.logged_in_user() }).await;
    b.shot("umeunganishwa").await;
    check_clean(&b, &phone).await;
    b.close().await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_used_up_bundle_is_cut_off_and_a_new_login_is_refused_with_the_reason() {
    let h = Hotspot::start().await;
    // A 1 MB bundle, the cheapest package (listed first).
    let (st, p) = h
        .env
        .call(
            "POST",
            "/api/packages",
            Some(json!({"name": "1 MB", "price": "10", "download_rate": "5M", "upload_rate": "2M",
                "duration": "1d", "data_limit_mb": 1, "service_type": "hotspot"})),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    let phone = h.phone(0x18);
    let b = connect(&h, &phone, "portal_bundle").await;
    buy(&b, "0712345684").await;
    let user = online(&h, &b, &phone).await;
    b.shot("online").await;
    let s = phone.session().unwrap();
    assert_eq!(s.total_limit(), Some(1_000_000), "the router is told the whole bundle");

    // 1.2 MB through the router: it reports, our server counts and cuts the phone off.
    phone.interim(600_000, 600_000).await.unwrap();
    eventually("the router ends the session", StdDuration::from_secs(15), || async {
        phone.session().is_none().then_some(())
    })
    .await;
    // The phone tries again: the router's MAC login is refused, the portal says why.
    b.c.goto(&phone.login_url(&format!("{}/news", phone.base_url()))).await.unwrap();
    b.wait_text("Your data bundle is used up — buy another.").await;
    b.shot("used-up").await;
    assert!(phone.session().is_none());
    // Typed into the router's own form, the same answer, from our RADIUS server.
    let c = h.env.store.get_customer_by_username(&user).await.unwrap();
    let page = reqwest::Client::new()
        .post(format!("{}/login", phone.base_url()))
        .form(&[("username", user.as_str()), ("password", c.password.as_str()), ("dst", "")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Your data bundle is used up"), "{page}");
    b.close().await;
    h.finish().await;
}
