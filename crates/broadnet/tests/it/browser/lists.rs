//! Invoices (search, download, send again), notifications ("Retry now"), sessions
//! (online, history, disconnect through the router) and the RADIUS auth log.

use super::payments::paid_customer;
use super::*;
use broadnet_radius::dict::attr;
use broadnet_radius::{Avp, Code, Packet};
use broadnet_store::{AcctEvent, AcctKind, NewOutbox, OutboxKind, OutboxQuery, OutboxRepo, OutboxStatus, RadiusRepo};
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, Sims, TestApp};

#[tokio::test]
async fn invoices_are_searched_downloaded_and_sent_again_by_sms() {
    let sims = Sims::spawn(Duration::ZERO).await;
    let app = TestApp::start_with(|_| sims.vars()).await;
    let (_, pid, number) = paid_customer(&app, "wanjiku", "0712000111", "Jane Wanjiku").await;
    paid_customer(&app, "otieno", "0712000222", "Peter Otieno").await;
    for width in WIDTHS {
        app.clock.advance(chrono::Duration::minutes(1)); // a request later than the last
        let b = Browser::open(&app.base, width, "invoices").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("Invoices").await;
        b.wait_text(&number).await;
        b.check_clean(&[]).await;
        b.shot("invoices-list").await;

        b.fill("Search", "WANJ").await;
        b.click("Search").await;
        b.wait_text(&number).await;
        assert!(b.body_text().await.contains("Jane Wanjiku"));
        let rows = b.c.find_all(Locator::Css("tbody tr")).await.unwrap().len();
        assert_eq!(rows, 1, "a part of the customer's name finds their invoice alone");
        b.fill("Search", &number).await;
        b.click("Search").await;
        b.wait_text(&number).await;
        b.fill("Search", "no such thing").await;
        b.click("Search").await;
        b.wait_text("No invoice matches").await;
        b.check_clean(&[]).await;
        b.shot("invoices-none").await;

        b.goto(&format!("/invoices?q={}", enc(&number))).await;
        let pdf = b.c.find(Locator::LinkText("PDF")).await.unwrap().attr("href").await.unwrap();
        assert_eq!(pdf.as_deref(), Some(format!("/payments/{pid}/invoice.pdf").as_str()));
        b.click("Send SMS").await;
        b.wait_text("is queued to be sent again by SMS").await;
        b.check_clean(&[]).await;
        b.shot("invoice-sent-again").await;
        // The customer has no email address: the page says so, nothing is queued.
        b.goto(&format!("/invoices?q={}", enc(&number))).await;
        b.click("Send email").await;
        b.wait_text("Not sent").await;
        b.check_clean(&["422"]).await;
        b.shot("invoice-email-refused").await;
        b.close().await;
    }
    let sms = app.store.list_outbox(&OutboxQuery { kind: Some(OutboxKind::Sms), ..Default::default() }).await.unwrap();
    let resent: Vec<_> =
        sms.items.iter().filter(|i| i.payload["message"].as_str().unwrap_or("").contains(&number)).collect();
    assert_eq!(resent.len(), 2, "one SMS per click: {:?}", sms.items);
    assert_eq!(resent[0].payload["to"], "+254712000111");
    app.app.run_outbox().await.unwrap();
    app.finish().await;
}

#[tokio::test]
async fn a_failed_notification_is_retried_from_the_page() {
    let app = TestApp::start().await;
    for width in WIDTHS {
        // Email is off: delivering fails for good, with the reason.
        let item = NewOutbox {
            kind: OutboxKind::Email,
            payload: json!({"to": format!("jane{width}@example.com"), "subject": "Invoice INV-1", "text": "Hello"}),
            dedupe_key: Some(format!("test:{width}")),
            at: broadnet_testkit::app::start_time(),
        };
        assert!(app.store.enqueue(item).await.unwrap());
        app.app.run_outbox().await.unwrap();

        let b = Browser::open(&app.base, width, "notifications").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("Notifications").await;
        b.wait_text(&format!("jane{width}@example.com")).await;
        b.check_clean(&[]).await;
        b.shot("notifications-list").await;
        b.goto("/notifications?status=failed&kind=email").await;
        b.wait_text("email was turned off").await;
        b.check_clean(&[]).await;
        b.shot("notifications-failed").await;

        b.click("Retry now").await;
        b.wait_text("Every SMS, email and event").await;
        assert_eq!(b.path().await, "/notifications");
        // Due at once: the next delivery run tries it again, and it fails the same way.
        let to = format!("jane{width}@example.com");
        broadnet_testkit::eventually("a second attempt", broadnet_testkit::WAIT, || async {
            app.app.run_outbox().await.unwrap();
            let all = app.store.list_outbox(&OutboxQuery::default()).await.unwrap();
            let item = all.items.into_iter().find(|i| i.payload["to"] == to.as_str()).unwrap();
            (item.attempts == 2 && item.status == OutboxStatus::Failed).then_some(())
        })
        .await;
        b.goto("/notifications?status=failed&kind=email").await;
        b.wait_text("email was turned off").await;
        b.check_clean(&[]).await;
        b.shot("notifications-retried").await;
        b.close().await;
    }
    // Delivered entries are left alone.
    let cookie = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let token = csrf_of(&no_redirects(), &app.base, &cookie).await;
    let resp =
        post_form(&no_redirects(), &app.base, "/notifications/999999/retry", &cookie, &format!("_csrf={token}")).await;
    assert_eq!(resp.status().as_u16(), 404);
    app.finish().await;
}

const SECRET: &str = "nas-secret-for-the-sessions-page";

/// A router's Dynamic Authorization port that ACKs every Disconnect-Request and
/// hands the User-Name it names to `tx`.
async fn fake_nas() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(p) = Packet::decode(&buf[..n]) else { continue };
            if broadnet_radius::verify_request(&buf[..n], &p, SECRET.as_bytes()) != Ok(true) {
                continue;
            }
            let code = if p.code == Code::DisconnectRequest { Code::DisconnectAck } else { Code::CoaAck };
            let reply = broadnet_radius::encode_response(code, &p, &[] as &[Avp], SECRET.as_bytes(), true).unwrap();
            sock.send_to(&reply, from).await.unwrap();
            let _ = tx.send(p.text(attr::USER_NAME).unwrap_or_default());
        }
    });
    (port, rx)
}

#[tokio::test]
async fn sessions_online_history_disconnect_and_the_auth_log() {
    let (coa_port, mut disconnects) = fake_nas().await;
    let app = TestApp::start_with(|_| vec![("RADIUS_COA_PORT".into(), coa_port.to_string())]).await;
    let actor = broadnet_store::Actor {
        admin_id: None,
        username: "test".into(),
        ip: None,
        at: broadnet_testkit::app::start_time(),
    };
    let router = broadnet_store::RouterRepo::create_router(
        &app.store,
        &actor,
        broadnet_store::NewRouter {
            name: "core-1".into(),
            nas_ip: Some("127.0.0.1".into()),
            radius_secret: SECRET.into(),
            service_types: broadnet_domain::ServiceType::Both,
            require_message_authenticator: false,
        },
    )
    .await
    .unwrap();
    let (cid, _, _) = paid_customer(&app, "alice", "0712000333", "Alice Njeri").await;
    let now = broadnet_testkit::app::start_time();
    app.store
        .record_post_auth(vec![
            broadnet_store::PostAuth {
                username: "mallory".into(),
                reply: "Access-Reject".into(),
                reason: Some("unknown username".into()),
                router_id: Some(router),
                nas_ip: Some("127.0.0.1".into()),
                calling_station_id: Some("AA:BB:CC:00:11:22".into()),
                at: now,
            },
            broadnet_store::PostAuth {
                username: "alice".into(),
                reply: "Access-Accept".into(),
                reason: None,
                router_id: Some(router),
                nas_ip: Some("127.0.0.1".into()),
                calling_station_id: Some("AA:BB:CC:00:11:33".into()),
                at: now,
            },
        ])
        .await
        .unwrap();
    for width in WIDTHS {
        let event = AcctEvent {
            unique_id: format!("alice-{width}"),
            session_id: format!("81a0{width}"),
            username: "alice".into(),
            nas_ip: "127.0.0.1".into(),
            router_id: Some(router),
            customer_id: Some(cid),
            at: now,
            session_time: Some(3_700),
            input_octets: Some(20_000_000),
            output_octets: Some(1_500_000_000),
            framed_ip: Some("10.10.0.9".into()),
            calling_station_id: Some("AA:BB:CC:00:11:33".into()),
            ..Default::default()
        };
        app.store.record_accounting(AcctKind::Start, event).await.unwrap();

        let b = Browser::open(&app.base, width, "sessions").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("Sessions").await;
        b.wait_text("10.10.0.9").await;
        let text = b.body_text().await;
        assert!(text.contains("1 online") && text.contains("1.5 GB / 20.0 MB"), "{text}");
        let poll = b.c.find(Locator::Id("online")).await.unwrap();
        assert_eq!(poll.attr("hx-trigger").await.unwrap().as_deref(), Some("every 10s"));
        b.check_clean(&[]).await;
        b.shot("sessions-online").await;

        b.click("History").await;
        b.wait_text("Why it ended").await;
        b.check_clean(&[]).await;
        b.shot("sessions-history").await;

        b.click("Authentication log").await;
        b.wait_text("unknown username").await;
        assert!(b.body_text().await.contains("mallory"));
        b.check_clean(&[]).await;
        b.shot("auth-log").await;

        b.click("Online now").await;
        b.click("Disconnect").await;
        b.wait_text("The router ended session").await;
        let user = tokio::time::timeout(Duration::from_secs(5), disconnects.recv()).await.unwrap().unwrap();
        assert_eq!(user, "alice");
        b.check_clean(&[]).await;
        b.shot("session-disconnected").await;
        // The router's accounting stop closes it; the page then shows nobody.
        let stop = AcctEvent {
            unique_id: format!("alice-{width}"),
            session_id: format!("81a0{width}"),
            username: "alice".into(),
            nas_ip: "127.0.0.1".into(),
            at: now,
            terminate_cause: Some("Admin-Reset".into()),
            ..Default::default()
        };
        app.store.record_accounting(AcctKind::Stop, stop).await.unwrap();
        b.goto("/sessions").await;
        b.wait_text("Nobody is online").await;
        b.close().await;
    }
    // The table's fragment, as htmx asks for it every 10 s: the rows alone.
    let cookie = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let resp = no_redirects()
        .get(format!("{}/sessions", app.base))
        .header("cookie", &cookie)
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    let vary: Vec<&str> = resp.headers().get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(vary.iter().any(|v| v.contains("HX-Request")), "{vary:?}");
    let html = resp.text().await.unwrap();
    assert!(html.trim_start().starts_with("<div id=\"online\""), "{html}");
    app.finish().await;
}
