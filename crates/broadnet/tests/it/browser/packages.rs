//! The packages screens, and what a viewer may not do.

use super::*;
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, TestApp};
use fantoccini::Locator;
use serde_json::json;

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
