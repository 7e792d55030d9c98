//! The customers screens: list, form, detail, and the actions of the detail page
//! (Collect Payment against the M-Pesa simulator, cash, suspend, resume).

use super::*;
use broadnet_sim::mpesa as msim;
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, Sims, TestApp};
use fantoccini::Locator;
use std::time::Duration as StdDuration;

/// Picks the option with this text in the select a person finds by its label.
async fn choose(b: &Browser, label: &str, option: &str) {
    let l = b.c.find(Locator::XPath(&format!("//label[normalize-space()={}]", xq(label)))).await.unwrap();
    let id = l.attr("for").await.unwrap().expect("every label names its select");
    let xp = format!("//select[@id={}]/option[starts-with(normalize-space(), {})]", xq(&id), xq(option));
    b.c.find(Locator::XPath(&xp)).await.unwrap().click().await.unwrap();
}

async fn text_of(b: &Browser, id: &str) -> String {
    b.c.find(Locator::Id(id)).await.unwrap().text().await.unwrap()
}

/// The app with the simulators; callbacks come `delay` after a prompt.
async fn with_sims(delay: StdDuration) -> (TestApp, Sims) {
    let sims = Sims::spawn(delay).await;
    let app = TestApp::start_with(|_| sims.vars()).await;
    sims.connect(&app);
    (app, sims)
}

#[tokio::test]
async fn create_a_customer_through_the_form_and_find_them_in_the_list() {
    let app = TestApp::start().await;
    app.package("Home 10M").create().await;
    for width in WIDTHS {
        let username = format!("achieng{width}");
        let b = Browser::open(&app.base, width, "customers-create").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("Customers").await;
        b.wait_text("New customer").await;
        b.check_clean(&[]).await;
        b.shot("customers-list").await;

        b.click("New customer").await;
        b.wait_text("Create customer").await;
        b.check_clean(&[]).await;
        b.shot("customer-new").await;
        // A first try with a bad phone and no username: both errors under their fields.
        b.fill("Full name", "Achieng Otieno").await;
        b.fill("Phone", "12345").await;
        b.click("Create customer").await;
        b.wait_text("is required").await;
        assert!(b.c.find(Locator::Id("e-phone")).await.is_ok(), "the phone's own error is shown under it");
        assert!(b.c.find(Locator::Id("e-username")).await.is_ok(), "the username's error is shown under it");
        let kept = b.c.find(Locator::Id("f-full_name")).await.unwrap().prop("value").await.unwrap();
        assert_eq!(kept.as_deref(), Some("Achieng Otieno"), "what was typed is kept");
        b.check_clean(&["422"]).await;
        b.shot("customer-new-errors").await;

        b.fill("Phone", "0712 345 678").await;
        b.fill("Username", &username).await;
        choose(&b, "Package", "Home 10M").await;
        b.click("Create customer").await;
        b.wait_text("Customer created").await;
        assert!(b.path().await.starts_with("/customers/"));
        assert!(b.body_text().await.contains("Home 10M"));
        b.check_clean(&[]).await;
        b.shot("customer-detail-new").await;

        b.click("Edit").await;
        b.wait_text("Edit customer").await;
        let phone = b.c.find(Locator::Id("f-phone")).await.unwrap().prop("value").await.unwrap();
        assert_eq!(phone.as_deref(), Some("254712345678"), "the form starts from the customer");
        b.check_clean(&[]).await;
        b.shot("customer-edit").await;
        b.fill("Location", "Kisumu, Milimani").await;
        b.click("Save").await;
        b.wait_text("Changes saved").await;
        assert!(b.body_text().await.contains("Kisumu, Milimani"));
        b.check_clean(&[]).await;

        // The list finds them; the search box replaces the table as one types and
        // keeps the search in the address.
        b.click("All customers").await;
        b.wait_text(&username).await;
        b.fill("Search", "nobody-like-this").await;
        b.wait_text("No customer matches").await;
        let url = b.c.current_url().await.unwrap();
        assert!(url.query().unwrap_or("").contains("q=nobody-like-this"), "the search is in the address: {url}");
        b.check_clean(&[]).await;
        b.shot("customers-search-none").await;
        b.fill("Search", &username).await;
        b.wait_text(&username).await;
        choose(&b, "Status", "Awaiting payment").await;
        b.wait_text(&username).await;
        b.check_clean(&[]).await;
        b.shot("customers-search-found").await;
        b.close().await;
    }
    let (_, list) = app.call("GET", "/api/customers", None).await;
    assert_eq!(list["total"], 2, "the browser's writes went through the same use cases");
    app.finish().await;
}

#[tokio::test]
async fn collect_payment_turns_to_paid_and_the_expiry_moves() {
    let (app, sims) = with_sims(StdDuration::from_millis(2500)).await;
    let pkg = app.package("Home 10M").create().await;
    for width in WIDTHS {
        let c = app.customer(&format!("wanjiru{width}"), "0712345001").package(pkg).create().await;
        let id = c["id"].as_i64().unwrap();
        let b = Browser::open(&app.base, width, "customers-collect").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.goto(&format!("/customers/{id}")).await;
        b.wait_text("Collect Payment").await;
        let before = text_of(&b, "c-expires").await;
        b.check_clean(&[]).await;
        b.shot("customer-detail").await;

        b.click("Send payment prompt").await;
        b.wait_text("Waiting for the customer to pay").await;
        b.shot("collect-pending").await;
        b.wait_text("Paid, receipt").await;
        let after = text_of(&b, "c-expires").await;
        assert_ne!(before, after, "the expiry on the page moved");
        let paybox = text_of(&b, "paybox").await;
        assert!(paybox.contains(&after), "the box says until when: {paybox}");
        assert_eq!(text_of(&b, "c-status").await, "active");
        assert_eq!(b.path().await, format!("/customers/{id}"), "no reload");
        b.check_clean(&[]).await;
        b.shot("collect-paid").await;
        b.close().await;
    }
    drop(sims);
    app.finish().await;
}

#[tokio::test]
async fn a_cancelled_payment_shows_the_providers_text() {
    let (app, sims) = with_sims(StdDuration::from_millis(1500)).await;
    sims.mpesa.set_behaviour(msim::Behaviour {
        outcome: msim::Outcome::Cancelled,
        deliveries: 1,
        delay: StdDuration::from_millis(1500),
    });
    let pkg = app.package("Home 10M").create().await;
    for width in WIDTHS {
        let c = app.customer(&format!("kamau{width}"), "0712345002").package(pkg).create().await;
        let id = c["id"].as_i64().unwrap();
        let b = Browser::open(&app.base, width, "customers-cancelled").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.goto(&format!("/customers/{id}")).await;
        b.wait_text("Collect Payment").await;
        b.click("Send payment prompt").await;
        b.wait_text("Request cancelled by user").await;
        let paybox = text_of(&b, "paybox").await;
        assert!(paybox.contains("Not paid") && paybox.contains("1032") && paybox.contains("send it again"), "{paybox}");
        assert_eq!(text_of(&b, "c-status").await, "awaiting payment", "nobody was renewed");
        b.check_clean(&[]).await;
        b.shot("collect-cancelled").await;
        b.close().await;
    }
    app.finish().await;
}

#[tokio::test]
async fn record_cash_then_suspend_and_resume() {
    let app = TestApp::start().await;
    let pkg = app.package("Home 10M").create().await;
    for width in WIDTHS {
        let c = app.customer(&format!("njeri{width}"), "0712345003").package(pkg).create().await;
        let id = c["id"].as_i64().unwrap();
        let b = Browser::open(&app.base, width, "customers-cash").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.goto(&format!("/customers/{id}")).await;
        b.wait_text("Record cash").await;
        // An amount that is no amount: the cash form says so under its field.
        b.fill("Amount received", "lots").await;
        b.click("Record cash").await;
        b.c.wait().at_most(StdDuration::from_secs(10)).for_element(Locator::Id("cash-amount-e")).await.unwrap();
        b.check_clean(&["422"]).await;
        b.shot("customer-cash-error").await;

        b.fill("Amount received", "1500").await;
        b.fill("Receipt number", &format!("RB-{width}")).await;
        b.click("Record cash").await;
        b.wait_text("Cash payment recorded").await;
        assert_eq!(text_of(&b, "c-status").await, "active");
        assert!(b.body_text().await.contains(&format!("RB-{width}")), "the receipt is in the payments");
        b.check_clean(&[]).await;
        b.shot("customer-cash").await;

        b.click("Suspend").await;
        b.wait_text("Suspended: they cannot connect").await;
        assert_eq!(text_of(&b, "c-status").await, "suspended");
        b.check_clean(&[]).await;
        b.shot("customer-suspended").await;

        b.click("Resume").await;
        b.wait_text("Resumed").await;
        assert_eq!(text_of(&b, "c-status").await, "active");
        b.click("Disconnect now").await;
        b.wait_text("nothing to disconnect").await;
        b.click("Resend welcome SMS").await;
        b.wait_text("welcome message is queued again").await;
        b.check_clean(&[]).await;
        b.shot("customer-resumed").await;
        b.close().await;
    }
    app.finish().await;
}

/// Without JS: the prompt's form is answered with a 303 to the box's own page, which
/// refreshes itself while the payment is pending.
#[tokio::test]
async fn collect_payment_without_javascript_is_a_page_that_refreshes() {
    let (app, _sims) = with_sims(StdDuration::from_secs(30)).await;
    let pkg = app.package("Home 10M").create().await;
    let id = app.customer("otieno", "0712345004").package(pkg).create().await["id"].as_i64().unwrap();
    let http = no_redirects();
    let cookie = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let token = csrf_of(&http, &app.base, &cookie).await;
    let resp =
        post_form(&http, &app.base, &format!("/customers/{id}/collect"), &cookie, &format!("_csrf={token}")).await;
    assert_eq!(resp.status().as_u16(), 303);
    let to = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/payments/") && to.ends_with("/status"), "{to}");
    let page = http.get(format!("{}{to}", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.headers()["vary"], "HX-Request");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<meta http-equiv="refresh" content="3">"#) && html.contains("Waiting for the customer"));
    // The customer's page, opened again meanwhile, shows the same waiting box.
    let page = http.get(format!("{}/customers/{id}", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Waiting for the customer to pay"));
    // htmx asks for the box alone.
    let frag = http
        .get(format!("{}{to}", app.base))
        .header("cookie", &cookie)
        .header("hx-request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(frag.trim_start().starts_with("<div id=\"paybox\"") && frag.contains(r#"hx-trigger="every 2s""#), "{frag}");
    // htmx posts the same form and gets the Collect Payment card back, polling.
    let other = app.customer("adhiambo", "0712345006").package(pkg).create().await["id"].as_i64().unwrap();
    let card = http
        .post(format!("{}/customers/{other}/collect", app.base))
        .header("cookie", &cookie)
        .header("hx-request", "true")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={token}&phone=0712345006"))
        .send()
        .await
        .unwrap();
    assert_eq!(card.status().as_u16(), 200);
    let card = card.text().await.unwrap();
    assert!(card.trim_start().starts_with(r#"<section class="card" id="collect">"#), "{card}");
    assert!(card.contains(r#"hx-trigger="every 2s""#) && card.contains("254712345006"), "{card}");
    // A second prompt while this one is pending: the use case's own words.
    let resp =
        post_form(&http, &app.base, &format!("/customers/{id}/collect"), &cookie, &format!("_csrf={token}")).await;
    assert_eq!(resp.status().as_u16(), 409);
    assert!(resp.text().await.unwrap().contains("still pending"));
    app.finish().await;
}

#[tokio::test]
async fn resend_welcome_queues_one_message_per_click() {
    let app = TestApp::start().await;
    let id = app.customer("amina", "0712345005").create().await["id"].as_i64().unwrap();
    let s = app.app.authenticate(&app.token, None).await.unwrap();
    assert!(app.app.resend_welcome(&s, id).await.unwrap());
    assert!(!app.app.resend_welcome(&s, id).await.unwrap(), "a double click queues one");
    app.clock.advance(chrono::Duration::minutes(1));
    assert!(app.app.resend_welcome(&s, id).await.unwrap());
    let (_, list) = app.call("GET", "/api/notifications?kind=customer.welcome", None).await;
    assert_eq!(list["total"], 3, "the one at creation and two resent: {list}");
    assert!(matches!(app.app.resend_welcome(&s, 999).await, Err(broadnet_app::AppError::NotFound(_))));

    // The messages sent to a customer are on their page, with the gateway's error.
    use broadnet_store::{NewOutbox, OutboxKind, OutboxRepo};
    for (n, to) in [(1, id), (2, id + 1000)] {
        let item = NewOutbox {
            kind: OutboxKind::Sms,
            payload: serde_json::json!({"to": "+254712345005", "message": format!("Hello {n} from the ISP"), "customer_id": to}),
            dedupe_key: Some(format!("msg-test:{n}")),
            at: app.app.now(),
        };
        assert!(app.store.enqueue(item).await.unwrap());
    }
    app.app.run_outbox().await.unwrap();
    let (st, list) = app.call("GET", &format!("/api/notifications?kind=sms&customer_id={id}"), None).await;
    assert_eq!((st, list["total"].as_u64()), (200, Some(1)), "{list}");
    let http = no_redirects();
    let cookie = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let html = http.get(format!("{}/customers/{id}", app.base)).header("cookie", &cookie).send().await.unwrap();
    let html = html.text().await.unwrap();
    assert!(html.contains("Hello 1 from the ISP") && !html.contains("Hello 2"), "only their own messages");
    assert!(html.contains("Messages <small class=\"muted\">1</small>"), "{html}");
    app.finish().await;
}

#[tokio::test]
async fn a_viewer_sees_the_customer_but_no_action_and_a_forged_action_is_refused() {
    let app = TestApp::start().await;
    let pkg = app.package("Home 10M").create().await;
    let id = app.customer("baraka", "0712345007").package(pkg).create().await["id"].as_i64().unwrap();
    let (st, _) = app
        .call(
            "POST",
            "/api/admins",
            Some(serde_json::json!({"username": "vera", "password": "viewer pass phrase 1", "role": "viewer"})),
        )
        .await;
    assert_eq!(st, 201);
    let http = no_redirects();
    let cookie = page_session(&app, "vera", "viewer pass phrase 1").await;
    let html = http.get(format!("{}/customers/{id}", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(html.status().as_u16(), 200);
    let html = html.text().await.unwrap();
    assert!(html.contains("baraka") && html.contains("Audit trail"));
    for control in ["Send payment prompt", "Record cash", "Suspend", "Delete customer", ">Edit<", "s3cret-pw"] {
        assert!(!html.contains(control), "a viewer sees no {control:?}");
    }
    let list = http.get(format!("{}/customers", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert!(!list.text().await.unwrap().contains("New customer"));
    // The viewer's own session and valid token, posted by hand: the use case refuses.
    let token = csrf_of(&http, &app.base, &cookie).await;
    for action in ["suspend", "collect", "welcome", "delete"] {
        let resp =
            post_form(&http, &app.base, &format!("/customers/{id}/{action}"), &cookie, &format!("_csrf={token}")).await;
        assert_eq!(resp.status().as_u16(), 403, "{action}");
    }
    let (_, c) = app.call("GET", &format!("/api/customers/{id}"), None).await;
    assert_eq!(c["status"], "awaiting_payment");
    app.finish().await;
}
