//! The payments screens: the list and its filters, a payment's detail with the
//! provider's answer and the invoice download, and an unmatched paybill payment
//! assigned to a customer through the form.

use super::*;
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, TestApp};
use fantoccini::Locator;

/// A customer on a KES 1,500 package who paid cash: (customer id, payment id, invoice number).
pub(crate) async fn paid_customer(app: &TestApp, username: &str, phone: &str, name: &str) -> (i64, i64, String) {
    let pkg = app.package(&format!("Home {username}")).create().await;
    let c = app.customer(username, phone).full_name(name).package(pkg).create().await;
    let cid = c["id"].as_i64().unwrap();
    let (st, r) = app.call("POST", &format!("/api/customers/{cid}/payments"), Some(json!({"amount": "1500"}))).await;
    assert_eq!(st, 201, "{r}");
    (cid, r["payment"]["id"].as_i64().unwrap(), r["invoice_number"].as_str().unwrap().to_string())
}

/// Today in the ISP's zone, as the date filters write it.
async fn today(app: &TestApp) -> chrono::NaiveDate {
    let (zone, _) = app.app.local_zone().await.unwrap();
    broadnet_testkit::app::start_time().with_timezone(&zone).date_naive()
}

#[tokio::test]
async fn a_cash_payment_is_listed_filtered_detailed_and_its_invoice_downloads() {
    let app = TestApp::start().await;
    let (cid, pid, number) = paid_customer(&app, "wanjiku", "0712000111", "Jane Wanjiku").await;
    let receipt = format!("CASH-{pid}");
    let day = today(&app).await;
    for width in WIDTHS {
        let b = Browser::open(&app.base, width, "payments").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("Payments").await;
        b.wait_text(&receipt).await;
        assert!(b.body_text().await.contains("1,500.00"));
        b.check_clean(&[]).await;
        b.shot("payments-list").await;

        // The form's filters: completed payments are found, M-Pesa ones are not.
        b.c.find(Locator::Css("#f-status option[value=completed]")).await.unwrap().click().await.unwrap();
        b.click("Filter").await;
        // The list is swapped in place and the address follows: wait for the address.
        broadnet_testkit::eventually("the filter is in the address", std::time::Duration::from_secs(15), || async {
            b.c.current_url().await.unwrap().query().unwrap_or("").contains("status=completed").then_some(())
        })
        .await;
        b.wait_text(&receipt).await;
        b.c.find(Locator::Css("#f-provider option[value=mpesa]")).await.unwrap().click().await.unwrap();
        b.click("Filter").await;
        b.wait_text("No payment matches these filters").await;
        b.check_clean(&[]).await;
        b.shot("payments-filtered-none").await;

        // The date range (both days included), the customer, and a bad date.
        b.goto(&format!("/payments?from={day}&to={day}&customer_id={cid}")).await;
        b.wait_text(&receipt).await;
        b.goto(&format!("/payments?from={}", day.succ_opt().unwrap())).await;
        b.wait_text("No payment matches these filters").await;
        b.goto("/payments?from=yesterday").await;
        b.wait_text("must be a date like").await;
        b.check_clean(&["422"]).await;
        b.shot("payments-bad-date").await;

        b.goto("/payments").await;
        b.click(&format!("#{pid}")).await;
        b.wait_text("The provider's answer").await;
        let text = b.body_text().await;
        for want in ["KES 1,500.00", "cash received", &receipt, &number, "Download invoice (PDF)"] {
            assert!(text.contains(want), "the detail shows {want:?}: {text}");
        }
        let link = b.c.find(Locator::XPath("//a[normalize-space()='Jane Wanjiku']")).await.unwrap();
        assert_eq!(
            link.attr("href").await.unwrap(),
            Some(format!("/customers/{cid}")),
            "a link to the customer, by name"
        );
        b.check_clean(&[]).await;
        b.shot("payment-detail").await;
        b.close().await;
    }

    // The download, as the browser fetches it with the session cookie.
    let cookie = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let resp = no_redirects()
        .get(format!("{}/payments/{pid}/invoice.pdf", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(resp.headers()["content-disposition"].to_str().unwrap(), format!("attachment; filename={number}.pdf"));
    assert!(resp.bytes().await.unwrap().starts_with(b"%PDF-"));
    // Without a session: the login page, not the PDF.
    let resp = no_redirects().get(format!("{}/payments/{pid}/invoice.pdf", app.base)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    app.finish().await;
}

#[tokio::test]
async fn an_unmatched_paybill_payment_is_assigned_through_the_form_once() {
    let app = TestApp::start().await;
    let pkg = app.package("Home 10M").create().await;
    let c = app.customer("owner1", "0712000921").package(pkg).create().await;
    let cid = c["id"].as_i64().unwrap();
    let (_, urls) = app.call("GET", "/api/payments/callback-urls", None).await;
    let confirm = urls["c2b_confirmation"].as_str().unwrap().to_string();
    let cookie = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    for width in WIDTHS {
        // Safaricom's confirmation for an account nobody has: the money waits.
        let trans = format!("RKX{width:07}");
        let notice = json!({"TransactionType": "Pay Bill", "TransID": trans, "TransTime": "20261127090000",
            "TransAmount": "1500.00", "BusinessShortCode": "600966", "BillRefNumber": "0wner1 typo",
            "MSISDN": "2547 ***** 921", "FirstName": "PETER", "MiddleName": "K", "LastName": "OTIENO"});
        let r: Value = app.http.post(&confirm).json(&notice).send().await.unwrap().json().await.unwrap();
        assert_eq!(r["ResultCode"], 0, "{r}");

        let b = Browser::open(&app.base, width, "unmatched").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.goto("/payments").await;
        b.click("Unmatched payments").await;
        b.wait_text(&trans).await;
        assert!(b.body_text().await.contains("PETER K OTIENO"));
        b.check_clean(&[]).await;
        b.shot("unmatched-list").await;

        b.click(&trans).await;
        b.wait_text("Assign to a customer").await;
        b.check_clean(&[]).await;
        b.shot("unmatched-detail").await;
        b.click("Assign").await;
        b.wait_text("is required").await;
        b.check_clean(&["422"]).await;
        b.shot("unmatched-assign-errors").await;

        b.fill("Customer number", &cid.to_string()).await;
        b.fill("Note", "called in: typed the account wrong").await;
        b.click("Assign").await;
        b.wait_text("Resolved").await;
        let text = b.body_text().await;
        assert!(text.contains("root") && text.contains(&format!("Customer {cid}")), "{text}");
        b.check_clean(&[]).await;
        b.shot("unmatched-assigned").await;

        // A second admin's form, posted after the first: refused, saying who was first.
        let id = b.path().await.rsplit('/').next().unwrap().to_string();
        let token = csrf_of(&no_redirects(), &app.base, &cookie).await;
        let body = format!("_csrf={token}&customer_id={cid}&package_id=&note=");
        let resp =
            post_form(&no_redirects(), &app.base, &format!("/payments/unmatched/{id}/assign"), &cookie, &body).await;
        assert_eq!(resp.status().as_u16(), 409);
        assert!(resp.text().await.unwrap().contains("already assigned by root"));
        b.close().await;
    }
    let (_, list) = app.call("GET", &format!("/api/payments?customer_id={cid}"), None).await;
    assert_eq!(list["total"], 2, "one payment per assignment: {list}");
    app.finish().await;
}
