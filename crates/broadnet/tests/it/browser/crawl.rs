//! Every section of the nav, as a person clicks through them: each page loads with
//! no console error and nothing from another host, at both widths, screenshotted.

use super::*;
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, TestApp};
use fantoccini::Locator;

#[tokio::test]
async fn every_section_of_the_nav_loads_clean_at_both_widths() {
    let app = TestApp::start().await;
    let pkg = app.package("Home 10M").create().await;
    let c = app.customer("crawler", "0712000991").package(pkg).create().await;
    let (st, body) =
        app.call("POST", &format!("/api/customers/{}/payments", c["id"]), Some(json!({"amount": "1500"}))).await;
    assert_eq!(st, 201, "{body}");
    app.router("Main tower").create().await;
    for width in WIDTHS {
        let b = Browser::open(&app.base, width, "crawl").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Active customers").await;
        let links = b.c.find_all(Locator::Css("nav.side a")).await.unwrap();
        let mut sections = Vec::new();
        for l in links {
            let href = l.attr("href").await.unwrap().unwrap();
            sections.push((l.text().await.unwrap(), href));
        }
        let names: Vec<&str> = sections.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Dashboard",
                "Customers",
                "Packages",
                "Vouchers",
                "Routers",
                "Payments",
                "Invoices",
                "Sessions",
                "Notifications",
                "Settings",
                "Admins",
                "Audit log",
                "System"
            ],
            "every section is built and linked"
        );
        for (name, href) in &sections {
            b.goto(href).await;
            let h1 = b.c.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
            assert!(!h1.is_empty(), "{name}: a heading");
            assert!(!b.body_text().await.contains("Something went wrong"), "{name}");
            b.check_clean(&[]).await;
            b.shot(&format!("section-{}", name.to_lowercase().replace(' ', "-"))).await;
        }
        b.close().await;
    }
    app.finish().await;
}
