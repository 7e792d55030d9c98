//! The dashboard: its figures count what the API did, each links to its list, and
//! the charts draw (uPlot, from the page's JSON) at both widths.

use super::*;
use broadnet_store::{AcctEvent, AcctKind, RadiusRepo};
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, TestApp};
use fantoccini::Locator;

#[tokio::test]
async fn the_dashboard_counts_money_customers_and_sessions_and_draws_its_charts() {
    let app = TestApp::start().await;
    let pkg = app.package("Home 10M").create().await; // KES 1,500 for 30 days
    let mut ids = Vec::new();
    for (user, phone) in [("amina", "0712000901"), ("baraka", "0712000902"), ("chebet", "0712000903")] {
        let c = app.customer(user, phone).package(pkg).create().await;
        ids.push(c["id"].as_i64().unwrap());
    }
    // Cash on two days: yesterday's and today's bars.
    let cash = |id: i64, reference: &str| {
        let body = json!({"amount": "1500", "reference": reference});
        let path = format!("/api/customers/{id}/payments");
        let app = &app;
        async move {
            let (st, body) = app.call("POST", &path, Some(body)).await;
            assert_eq!(st, 201, "{body}");
        }
    };
    cash(ids[0], "R-1").await;
    app.clock.advance(chrono::Duration::days(1));
    cash(ids[1], "R-2").await;
    let now = app.app.now();
    for (id, user) in [("s1", "amina"), ("s2", "baraka")] {
        let ev = AcctEvent {
            unique_id: format!("u-{id}"),
            session_id: id.into(),
            username: user.into(),
            nas_ip: "10.0.0.1".into(),
            at: now - chrono::Duration::hours(3),
            ..Default::default()
        };
        app.store.record_accounting(AcctKind::Start, ev).await.unwrap();
    }

    for width in WIDTHS {
        let b = Browser::open(&app.base, width, "dashboard").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Active customers").await;
        let card = |label: &'static str| {
            let xp = format!(
                "//div[contains(@class,'figure')][a[contains(@class,'label') and starts-with(normalize-space(), {})]]",
                xq(label)
            );
            let c = &b.c;
            async move { c.find(Locator::XPath(&xp)).await.unwrap().text().await.unwrap() }
        };
        let active = card("Active customers").await;
        assert!(
            active.contains("\n2\n") || active.contains(" 2 ") || active.lines().any(|l| l.trim() == "2"),
            "{active}"
        );
        assert!(active.contains("awaiting payment 1"), "{active}");
        let today = card("Revenue today").await;
        assert!(today.contains("1,500.00") && today.contains("Cash"), "{today}");
        let days = card("Last 30 days").await;
        assert!(days.contains("3,000.00"), "{days}");
        let online = card("Online now").await;
        assert!(online.contains("PPPoE 2"), "{online}");
        // The three charts were drawn by charts.js (a canvas each).
        let drawn =
            b.c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#chart-customers canvas")).await;
        assert!(drawn.is_ok(), "the new-customers chart was drawn");
        for id in ["chart-revenue", "chart-sessions"] {
            let canvas = b.c.find_all(Locator::Css(&format!("#{id} canvas"))).await.unwrap();
            assert_eq!(canvas.len(), 1, "{id} drawn");
        }
        assert!(b.body_text().await.contains("Getting started"), "no router yet: the checklist stays");
        b.check_clean(&[]).await;
        b.shot("dashboard").await;

        // A figure is a link to the list behind it.
        let href =
            b.c.find(Locator::XPath("//a[starts-with(normalize-space(), 'expiring in 3 days')]"))
                .await
                .unwrap()
                .attr("href")
                .await
                .unwrap()
                .unwrap();
        assert_eq!(href, "/customers?status=active&expiring_days=3");
        // Every figure's link opens its list with the filters it names.
        let mut hrefs = Vec::new();
        for a in b.c.find_all(Locator::Css("main .figure a")).await.unwrap() {
            hrefs.push(a.attr("href").await.unwrap().unwrap());
        }
        hrefs.sort();
        hrefs.dedup();
        assert!(hrefs.len() >= 15, "{hrefs:?}");
        let http = no_redirects();
        let cookie = page_session(&app, ADMIN_USER, ADMIN_PW).await;
        for href in hrefs {
            let resp = http.get(format!("{}{href}", app.base)).header("cookie", &cookie).send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 200, "{href}");
        }
        b.close().await;
    }
    // The list behind "expiring" answers through the same use case.
    let (st, list) = app.call("GET", "/api/customers?status=active&expiring_days=3", None).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["total"], 0, "both paid customers have 29 or 30 days left");
    let (st, list) = app.call("GET", "/api/customers?expiring_days=31", None).await;
    assert_eq!((st, list["total"].as_u64()), (200, Some(2)));
    let (st, _) = app.call("GET", "/api/customers?expiring_days=0", None).await;
    assert_eq!(st, 422);
    app.finish().await;
}
