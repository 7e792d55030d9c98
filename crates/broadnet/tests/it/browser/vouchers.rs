//! The voucher screens: a batch made through the form (its errors inline), its page,
//! the A4 and 80 mm print pages with their QR codes, printing a selection, revoking
//! one voucher and then the batch, each with its reason.

use super::*;
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, TestApp};
use fantoccini::Locator;

/// How many QR codes (inline `<svg class="qr">` with a path) the page draws.
async fn qr_codes(b: &Browser) -> usize {
    b.c.find_all(Locator::Css("svg.qr path")).await.unwrap().len()
}

#[tokio::test]
async fn make_print_and_revoke_a_batch() {
    let app = TestApp::start().await;
    app.package("Day pass").price("50").duration("1d").service_type("hotspot").create().await;
    for width in WIDTHS {
        let name = format!("Market day {width}");
        let b = Browser::open(&app.base, width, "vouchers").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("Vouchers").await;
        b.wait_text("New batch").await;
        b.check_clean(&[]).await;
        b.shot("vouchers-list").await;

        b.click("New batch").await;
        b.wait_text("Create vouchers").await;
        b.check_clean(&[]).await;
        b.shot("voucher-new").await;
        // Too many for 4 digits, and a prefix with an O: both refused under their fields.
        b.fill("Quantity", "30").await;
        b.fill("Batch name", &name).await;
        b.fill("Prefix", "ok").await;
        b.fill("Code length", "4").await;
        b.click("Create vouchers").await;
        b.wait_text("too few for 30 vouchers").await;
        assert!(b.c.find(Locator::Id("e-prefix")).await.is_ok(), "the prefix's error is under it");
        let kept = b.c.find(Locator::Id("f-name")).await.unwrap().prop("value").await.unwrap();
        assert_eq!(kept.as_deref(), Some(name.as_str()), "what was typed is kept");
        b.check_clean(&["422"]).await;
        b.shot("voucher-new-errors").await;

        b.fill("Prefix", "bn").await;
        b.fill("Code length", "").await;
        b.c.find(Locator::Css("#f-mode option[value=pin]")).await.unwrap().click().await.unwrap();
        b.click("Create vouchers").await;
        b.wait_text("Print A4 sheet").await;
        assert!(b.path().await.starts_with("/vouchers/batches/"));
        let text = b.body_text().await;
        assert!(text.contains(&name) && text.contains("Day pass") && text.contains("code and PIN"), "{text}");
        let codes = b.c.find_all(Locator::Css("label.code")).await.unwrap();
        assert_eq!(codes.len(), 30);
        let first_code = codes[0].text().await.unwrap();
        assert!(first_code.starts_with("BN") && first_code.len() == 10, "{first_code}");
        b.check_clean(&[]).await;
        b.shot("voucher-batch").await;
        let batch_path = b.path().await;

        // A4: every card of the batch, each with its QR code, on sheets of 21.
        b.click("Print A4 sheet").await;
        b.wait_text("30 vouchers").await;
        assert_eq!(qr_codes(&b).await, 30);
        assert_eq!(b.c.find_all(Locator::Css(".sheet")).await.unwrap().len(), 2, "21 + 9 cards");
        let page = b.body_text().await;
        assert!(page.contains(&first_code) && page.contains("KES 50.00") && page.contains("PIN"), "{page}");
        assert!(page.contains("Valid 1 day from first use"), "{page}");
        b.check_clean(&[]).await;
        b.shot("voucher-print-a4").await;

        // 80 mm slips: one card per slip.
        b.click("80 mm slips").await;
        b.wait_text("30 vouchers").await;
        assert_eq!(b.c.find_all(Locator::Css(".print-80mm .sheet")).await.unwrap().len(), 30);
        assert_eq!(qr_codes(&b).await, 30);
        b.check_clean(&[]).await;
        b.shot("voucher-print-80mm").await;

        // A selection: two ticked vouchers on 58 mm.
        b.goto(&batch_path).await;
        b.wait_text("Print selected").await;
        let picks = b.c.find_all(Locator::Css("input.pick")).await.unwrap();
        picks[1].click().await.unwrap();
        picks[2].click().await.unwrap();
        b.c.find(Locator::Css("#f-layout option[value='58mm']")).await.unwrap().click().await.unwrap();
        b.click("Print selected").await;
        b.wait_text("2 vouchers").await;
        assert_eq!(qr_codes(&b).await, 2);
        b.check_clean(&[]).await;
        b.shot("voucher-print-58mm-selected").await;

        // Revoke one, with its reason; the confirmation comes first.
        b.goto(&batch_path).await;
        b.wait_text("Print selected").await;
        b.click("Revoke").await;
        b.wait_text("Revoke voucher").await;
        b.check_clean(&[]).await;
        b.shot("voucher-revoke-one").await;
        b.click("Revoke").await;
        b.wait_text("is required").await;
        b.check_clean(&["422"]).await;
        b.fill("Reason", "card torn").await;
        b.click("Revoke").await;
        b.wait_text("1 voucher revoked.").await;
        assert_eq!(b.path().await, batch_path);

        // Then the whole batch.
        b.click("Revoke batch").await;
        b.wait_text("29 of the 30 vouchers").await;
        b.fill("Reason", "box stolen").await;
        b.click("Revoke").await;
        b.wait_text("29 vouchers revoked.").await;
        assert_eq!(b.controls("Revoke batch").await, 0, "nothing left to revoke");
        b.check_clean(&[]).await;
        b.shot("voucher-batch-revoked").await;

        b.click("All batches").await;
        b.wait_text(&name).await;
        b.check_clean(&[]).await;
        b.shot("vouchers-list-one").await;
        b.close().await;
    }
    let (_, list) = app.call("GET", "/api/vouchers/batches", None).await;
    assert_eq!(list["total"], 2, "{list}");
    for batch in list["items"].as_array().unwrap() {
        assert_eq!(batch["counts"]["revoked"], 30, "the browser's writes went through the use cases: {batch}");
    }
    let (_, audit) = app.call("GET", "/api/audit-log?entity_type=voucher", None).await;
    assert!(audit.to_string().contains("card torn"), "{audit}");
    app.finish().await;
}

#[tokio::test]
async fn the_csv_download_and_what_a_viewer_may_not_do() {
    let app = TestApp::start().await;
    let pkg = app.package("Day pass").price("50").duration("1d").service_type("hotspot").create().await;
    let (st, b) =
        app.call("POST", "/api/vouchers/batches", Some(serde_json::json!({"package_id": pkg, "quantity": 3}))).await;
    assert_eq!(st, 201, "{b}");
    let id = b["id"].as_i64().unwrap();
    let http = no_redirects();

    // The admin's download: a CSV file named after the batch.
    let cookie = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let resp = http
        .get(format!("{}/vouchers/batches/{id}/export.csv", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = resp.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with(&format!("attachment; filename=\"vouchers-{id}-")), "{disposition}");
    let body = resp.text().await.unwrap();
    assert_eq!(body.lines().count(), 4, "a header and three vouchers: {body}");

    // Where a card's QR code leads: the portal, the code filled in.
    let code = body.lines().nth(1).unwrap().split(',').next().unwrap().to_string();
    let portal = http.get(format!("{}/hotspot?voucher={code}", app.base)).send().await.unwrap();
    assert_eq!(portal.status().as_u16(), 200);
    assert!(
        portal.text().await.unwrap().contains(&format!("value=\"{code}\"")),
        "the portal's voucher field holds {code}"
    );

    // A viewer reads and prints, but sees no write control, and a forged post is refused.
    let (st, _) = app
        .call(
            "POST",
            "/api/admins",
            Some(serde_json::json!({"username": "vera", "password": "viewer pass phrase 1", "role": "viewer"})),
        )
        .await;
    assert_eq!(st, 201);
    let cookie = page_session(&app, "vera", "viewer pass phrase 1").await;
    let get = |path: String| http.get(format!("{}{path}", app.base)).header("cookie", cookie.clone()).send();
    let list = get("/vouchers".into()).await.unwrap();
    assert_eq!(list.status().as_u16(), 200);
    assert!(!list.text().await.unwrap().contains("New batch"));
    let page = get(format!("/vouchers/batches/{id}")).await.unwrap().text().await.unwrap();
    assert!(page.contains("Print A4 sheet"), "a viewer prints");
    assert!(!page.contains("Revoke batch") && !page.contains(">Revoke<"), "but revokes nothing");
    let print = get(format!("/vouchers/batches/{id}/print?layout=80mm")).await.unwrap();
    assert_eq!(print.status().as_u16(), 200);
    assert_eq!(print.text().await.unwrap().matches("<svg").count(), 3, "three cards, each with its QR code");
    for path in ["/vouchers/new".to_string(), format!("/vouchers/batches/{id}/revoke")] {
        assert_eq!(get(path.clone()).await.unwrap().status().as_u16(), 403, "{path}");
    }
    let token = csrf_of(&http, &app.base, &cookie).await;
    for (path, body) in [
        ("/vouchers".to_string(), format!("_csrf={token}&package_id={pkg}&quantity=5")),
        (format!("/vouchers/batches/{id}/revoke"), format!("_csrf={token}&reason=forged")),
    ] {
        let resp = post_form(&http, &app.base, &path, &cookie, &body).await;
        assert_eq!(resp.status().as_u16(), 403, "{path}");
    }
    let (_, b) = app.call("GET", &format!("/api/vouchers/batches/{id}"), None).await;
    assert_eq!(b["counts"]["unused"], 3, "nothing changed: {b}");
    let (_, list) = app.call("GET", "/api/vouchers/batches", None).await;
    assert_eq!(list["total"], 1);
    app.finish().await;
}
