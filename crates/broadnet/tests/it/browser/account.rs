//! "My account" on the hotspot portal, on a phone (360 × 740): logging in by password
//! and by a code sent by SMS (read from the Africa's Talking simulator), renewing with
//! an M-Pesa prompt the simulator pays, releasing a device, an invoice PDF; and over
//! plain HTTP the rules a browser does not show: the form proof, another customer's
//! invoice, the same answer for any number, and the limits.

use super::*;
use broadnet_domain::Mac;
use broadnet_store::{CustomerRepo, HotspotRepo};
use broadnet_testkit::app::Sims;
use chrono::Duration as Days;

const PHONE: &str = "0712345678";
const PW: &str = "siri-yangu-7";

struct Env {
    app: TestApp,
    sims: Sims,
    /// The hotspot customer's id.
    hotspot: i64,
    /// A home (PPPoE) customer on the same phone.
    home: i64,
}

async fn start() -> Env {
    let sims = Sims::spawn(Duration::from_millis(150)).await;
    let app = TestApp::start_with(|_| {
        let mut vars = sims.vars();
        vars.push(("APP_NAME".into(), "Kilimo Wi-Fi".into()));
        vars
    })
    .await;
    sims.connect(&app);
    let day = app
        .package("Siku Moja")
        .price("50")
        .duration("1d")
        .rates("5M", "2M")
        .service_type("hotspot")
        .set("shared_users", json!(2))
        .set("data_limit_mb", json!(2000))
        .create()
        .await;
    let home_pkg = app.package("Home 10M").create().await;
    let hotspot = app
        .customer("wanjiku", PHONE)
        .full_name("Wanjiku Kamau")
        .password(PW)
        .package(day)
        .set("customer_type", json!("hotspot"))
        .expires_at(app.app.now() + Days::hours(3))
        .create()
        .await["id"]
        .as_i64()
        .unwrap();
    let home = app
        .customer("wanjiku-home", "+254 712 345 678")
        .full_name("Wanjiku Kamau")
        .password("home-pw-123")
        .package(home_pkg)
        .create()
        .await["id"]
        .as_i64()
        .unwrap();
    Env { app, sims, hotspot, home }
}

/// The last SMS code sent to `to` (`+2547…`), once the outbox has run.
async fn sms_code(env: &Env, to: &str) -> String {
    env.app.app.run_outbox().await.unwrap();
    let m = env
        .sims
        .sms
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.to == to && m.message.contains("login code"))
        .expect("a code by SMS");
    assert!(m.message.starts_with("Kilimo Wi-Fi: your login code is "), "{}", m.message);
    let code: String = m.message.chars().filter(char::is_ascii_digit).take(6).collect();
    assert_eq!(code.len(), 6, "{}", m.message);
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn my_account_on_a_phone_password_renew_release_invoice_then_code() {
    let env = start().await;
    let now = env.app.app.now();
    let mac = Mac::parse("AA:BB:CC:00:11:22").unwrap();
    env.app.store.bind_device("wanjiku", &mac, 2, now).await.unwrap();
    let b = Browser::open(&env.app.base, 360, "account").await;

    // Not logged in: the login page, the footer's link leads there.
    b.goto("/hotspot").await;
    b.click("My account").await;
    b.wait_text("Your username and password").await;
    assert_eq!(b.path().await, "/hotspot/account/login");
    b.check_clean(&[]).await;
    b.shot("login").await;

    // A wrong password: said plainly, the username kept.
    b.fill("Username", "wanjiku").await;
    b.fill("Password", "not-it").await;
    b.click("Log in").await;
    b.wait_text("Wrong username or password").await;
    let kept = b.c.find(Locator::Id("username")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("wanjiku"));
    b.check_clean(&["422"]).await;
    b.shot("login-wrong").await;

    b.fill("Password", PW).await;
    b.click("Log in").await;
    b.wait_text("Siku Moja").await;
    assert_eq!(b.path().await, "/hotspot/account");
    let text = b.body_text().await;
    for want in ["wanjiku", "Active", "AA:BB:CC:00:11:22", "(1 / 2)", "Data left", "No payments yet."] {
        assert!(text.contains(want), "My account shows {want:?}: {text}");
    }
    let expires_before = b.c.find(Locator::Id("expires")).await.unwrap().text().await.unwrap();
    b.check_clean(&[]).await;
    b.shot("account").await;

    // Renew: the prompt goes to the account's phone, the simulator pays, the waiting
    // screen says so and leads back.
    b.click("Renew · KES 50.00").await;
    b.wait_text("Paid!").await;
    assert!(b.path().await.starts_with("/hotspot/order/"), "the waiting screen");
    let push = env.sims.mpesa.pushes().pop().unwrap();
    assert_eq!(push.body["PartyA"], "254712345678");
    b.check_clean(&[]).await;
    b.shot("renew-paid").await;
    b.click("My account").await;
    b.wait_text("Payments").await;
    let expires_after = b.c.find(Locator::Id("expires")).await.unwrap().text().await.unwrap();
    assert_ne!(expires_before, expires_after, "the renewal moved the expiry");
    let c = env.app.store.get_customer(env.hotspot).await.unwrap();
    assert_eq!(c.expires_at, Some(now + Days::hours(3) + Days::days(1)), "one day more");
    let payments = b.c.find(Locator::Id("payments")).await.unwrap().text().await.unwrap();
    let receipt = push.receipt.clone().unwrap();
    assert!(payments.contains("KES 50.00") && payments.contains("Paid") && payments.contains(&receipt), "{payments}");
    b.check_clean(&[]).await;
    b.shot("account-renewed").await;

    // The invoice: a PDF for its owner, fetched with this browser's login.
    let invoices = b.c.find(Locator::Id("invoices")).await.unwrap();
    let link = invoices.find(Locator::Css("a.pdf")).await.unwrap().attr("href").await.unwrap().unwrap();
    let me = b.c.get_named_cookie("bn_hs_me").await.unwrap();
    let pdf = reqwest::Client::new()
        .get(format!("{}{link}", env.app.base))
        .header("cookie", format!("bn_hs_me={}", me.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status().as_u16(), 200, "{link}");
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename="));
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"));

    // Release the device: its place is free.
    b.click("Release").await;
    b.wait_text("The device was released.").await;
    assert!(b.body_text().await.contains("(0 / 2)"));
    assert!(env.app.store.devices_of("wanjiku").await.unwrap().is_empty());
    b.check_clean(&[]).await;
    b.shot("device-released").await;

    b.click("Log out").await;
    b.wait_text("Your username and password").await;
    b.goto("/hotspot/account").await;
    assert_eq!(b.path().await, "/hotspot/account/login", "logged out");

    // By a code: the number has two accounts, so the person picks one.
    b.click("Code by SMS").await;
    b.wait_text("6-digit code").await;
    b.check_clean(&[]).await;
    b.shot("login-code").await;
    b.fill("Phone number", "0712 345 678").await;
    b.click("Send me a code").await;
    b.wait_text("If this number has an account").await;
    assert!(b.body_text().await.contains("0712 *** 678"));
    b.check_clean(&[]).await;
    b.shot("code-sent").await;
    let code = sms_code(&env, "+254712345678").await;
    b.fill("Code from the SMS", &code).await;
    b.click("Log in").await;
    b.wait_text("Choose your account").await;
    let text = b.body_text().await;
    assert!(text.contains("wa***ku") && text.contains("wa***me"), "{text}");
    assert!(!text.contains("wanjiku-home"), "names are masked before the pick");
    b.check_clean(&[]).await;
    b.shot("code-choose").await;
    b.c.find(Locator::Css(&format!("input[name=account][value='{}']", env.home))).await.unwrap().click().await.unwrap();
    b.click("Log in").await;
    b.wait_text("Home 10M").await;
    let text = b.body_text().await;
    assert!(text.contains("wanjiku-home"), "{text}");
    assert!(!text.contains("Release") && !text.contains("AA:BB:CC"), "a home account lists no hotspot devices");
    b.check_clean(&[]).await;
    b.shot("account-home").await;

    // The same page in Kiswahili.
    b.click("Kiswahili").await;
    b.wait_text("Akaunti yangu").await;
    let text = b.body_text().await;
    for want in ["Lipia tena", "Malipo", "Ankara", "Toka"] {
        assert!(text.contains(want), "Kiswahili: {want:?} in {text}");
    }
    b.check_clean(&[]).await;
    b.shot("account-sw").await;
    b.close().await;
    env.app.finish().await;
}

/// GET a portal page: its nonce cookie and form proof.
async fn proof_of(http: &reqwest::Client, base: &str) -> (String, String) {
    let page = http.get(format!("{base}/hotspot/account/login")).send().await.unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let html = page.text().await.unwrap();
    let at = html.find("name=\"_proof\" value=\"").expect("a proof field") + "name=\"_proof\" value=\"".len();
    (cookie, html[at..].split('"').next().unwrap().to_string())
}

fn session_cookie(resp: &reqwest::Response) -> String {
    let set: Vec<&str> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|c| c.starts_with("bn_hs_me="))
        .collect();
    assert_eq!(set.len(), 1, "{set:?}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/hotspot", "Max-Age=7200"] {
        assert!(set[0].contains(attr), "{attr} in {}", set[0]);
    }
    set[0].split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn my_account_rules_over_http() {
    let env = start().await;
    let (base, http) = (env.app.base.clone(), no_redirects());
    let (nonce, proof) = proof_of(&http, &base).await;
    let good = format!("username=wanjiku&password={PW}");

    // No proof, or another browser's: refused, nobody logged in.
    for body in [good.clone(), format!("_proof=00112233445566778899aabbccddeeff&{good}")] {
        let r = post_form(&http, &base, "/hotspot/account/login", &nonce, &body).await;
        assert_eq!(r.status().as_u16(), 403, "{body}");
        assert!(r.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().starts_with("bn_hs_me=")));
    }
    let r = post_form(&http, &base, "/hotspot/account/login", &nonce, &format!("_proof={proof}&{good}")).await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/hotspot/account");
    let me = session_cookie(&r);
    let cookies = format!("{nonce}; {me}");
    let page = http.get(format!("{base}/hotspot/account")).header("cookie", &cookies).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("Wanjiku Kamau"));
    // Without the login: to the login page. A forged session: the same.
    for cookie in [nonce.clone(), format!("{nonce}; bn_hs_me={}.9999999999.00", env.home)] {
        let r = http.get(format!("{base}/hotspot/account")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/hotspot/account/login"));
    }

    // Invoices: the owner's own as a PDF, another customer's not found.
    let cash = |id: i64| {
        let app = &env.app;
        async move {
            let (st, r) =
                app.call("POST", &format!("/api/customers/{id}/payments"), Some(json!({"amount": "50"}))).await;
            assert_eq!(st, 201, "{r}");
            r["invoice_number"].as_str().unwrap().to_string()
        }
    };
    let mine = cash(env.hotspot).await;
    let theirs = cash(env.home).await;
    let get = |path: String| http.get(format!("{base}{path}")).header("cookie", &cookies).send();
    let r = get(format!("/hotspot/account/invoices/{mine}")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
    for other in [theirs.as_str(), "NO-SUCH-1"] {
        let r = get(format!("/hotspot/account/invoices/{other}")).await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{other}");
        assert!(r.text().await.unwrap().contains("We could not find this invoice."));
    }

    // Releasing a device that is not on the account: said, nothing changed.
    let other_mac = Mac::parse("AA:BB:CC:00:00:99").unwrap();
    env.app.store.bind_device("someone-else", &other_mac, 1, env.app.app.now()).await.unwrap();
    let r = post_form(
        &http,
        &base,
        "/hotspot/account/devices/release",
        &cookies,
        &format!("_proof={proof}&mac=AA-BB-CC-00-00-99"),
    )
    .await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains("This device is not on your account"));
    assert_eq!(env.app.store.device_account(&other_mac).await.unwrap().as_deref(), Some("someone-else"));

    // Log out: the cookie is cleared.
    let r = post_form(&http, &base, "/hotspot/account/logout", &cookies, &format!("_proof={proof}")).await;
    assert_eq!(r.status().as_u16(), 303);
    let cleared = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>();
    assert!(cleared.iter().any(|c| c.starts_with("bn_hs_me=;") && c.contains("Max-Age=0")), "{cleared:?}");

    // A code: the same answer for a number with an account and one without; only
    // the first gets an SMS.
    let send = |phone: &'static str| {
        let (http, base, nonce, proof) = (http.clone(), base.clone(), nonce.clone(), proof.clone());
        async move {
            let r = post_form(&http, &base, "/hotspot/account/code", &nonce, &format!("_proof={proof}&phone={phone}"))
                .await;
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (st_known, known) = send("0712345678").await;
    let (st_unknown, unknown) = send("0799000111").await;
    assert_eq!((st_known, st_unknown), (200, 200));
    assert_eq!(
        known.replace("0712 *** 678", "#").replace("0712345678", "#"),
        unknown.replace("0799 *** 111", "#").replace("0799000111", "#")
    );
    assert!(known.contains("If this number has an account, we sent a code by SMS to"));
    let code = sms_code(&env, "+254712345678").await;
    assert!(env.sims.sms.messages().iter().all(|m| m.to != "+254799000111"), "no SMS to a number without an account");

    // Wrong codes: five spend the code, then even the right one fails.
    let verify = |code: String, extra: &'static str| {
        let (http, base, nonce, proof) = (http.clone(), base.clone(), nonce.clone(), proof.clone());
        async move {
            post_form(
                &http,
                &base,
                "/hotspot/account/code/verify",
                &nonce,
                &format!("_proof={proof}&phone=0712345678&code={code}{extra}"),
            )
            .await
        }
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // The right code with the pick of an account that is not on this number: refused.
    let r = verify(code.clone(), "&account=999999").await;
    assert_eq!(r.status().as_u16(), 422);
    for _ in 0..5 {
        let r = verify(wrong.to_string(), "").await;
        assert_eq!(r.status().as_u16(), 422);
        assert!(r.text().await.unwrap().contains("This code is wrong or has expired"));
    }
    let r = verify(code.clone(), "").await;
    assert_eq!(r.status().as_u16(), 422, "five wrong tries spent the code");

    // A new code, picked account: logged in as that one, and the code is then spent.
    let (st, _) = send("0712345678").await;
    assert_eq!(st, 200);
    let code = sms_code(&env, "+254712345678").await;
    let r = verify(code.clone(), "").await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("Choose your account"));
    let r = verify(format!("{code}&account={}", env.home), "").await;
    assert_eq!(r.status().as_u16(), 303);
    let home_me = session_cookie(&r);
    let page = http
        .get(format!("{base}/hotspot/account"))
        .header("cookie", format!("{nonce}; {home_me}"))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("wanjiku-home"));
    let r = verify(format!("{code}&account={}", env.hotspot), "").await;
    assert_eq!(r.status().as_u16(), 422, "a code logs in once");

    // At most 3 codes per number per hour (2 sent above): the fourth is refused, the
    // same for a number without an account.
    let (st, _) = send("0712345678").await;
    assert_eq!(st, 200);
    let (st, _) = send("0712345678").await;
    assert_eq!(st, 429);
    for _ in 0..2 {
        let (st, _) = send("0799000111").await;
        assert_eq!(st, 200);
    }
    let (st, _) = send("0799000111").await;
    assert_eq!(st, 429, "an unknown number is limited alike");

    // Passwords: 5 tries per username in 15 minutes (one used above), then 429 with
    // Retry-After, even for the right password.
    for _ in 0..4 {
        let r = post_form(
            &http,
            &base,
            "/hotspot/account/login",
            &nonce,
            &format!("_proof={proof}&username=wanjiku&password=nope"),
        )
        .await;
        assert_eq!(r.status().as_u16(), 422);
    }
    let r = post_form(&http, &base, "/hotspot/account/login", &nonce, &format!("_proof={proof}&{good}")).await;
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    // Fifteen minutes later, the right password works again.
    env.app.clock.advance(Days::minutes(15));
    let r = post_form(&http, &base, "/hotspot/account/login", &nonce, &format!("_proof={proof}&{good}")).await;
    assert_eq!(r.status().as_u16(), 303);
    env.app.finish().await;
}
