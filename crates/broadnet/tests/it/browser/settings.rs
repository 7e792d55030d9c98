//! The settings screens: the payment provider switch, write-only secrets, the
//! "send test" buttons against the simulators, the system page.

use super::*;
use broadnet_store::{JobRepo, Store};
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, Sims, TestApp};
use std::time::Duration as StdDuration;

async fn with_sims() -> (TestApp, Sims) {
    let sims = Sims::spawn(StdDuration::from_millis(100)).await;
    let app = TestApp::start_with(|_| sims.vars()).await;
    (app, sims)
}

#[tokio::test]
async fn switch_the_payment_provider_with_one_click() {
    let (app, _sims) = with_sims().await;
    for width in WIDTHS {
        let b = Browser::open(&app.base, width, "settings-payments").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("Settings").await;
        b.wait_text("ISP name on invoices and messages").await;
        b.check_clean(&[]).await;
        b.shot("settings-general").await;
        b.goto("/settings/payments").await;
        b.wait_text("Callback URLs").await;
        b.check_clean(&[]).await;
        b.shot("settings-payments").await;
        let (to, back) = if width == WIDTHS[0] { ("Airtel Money", "airtel") } else { ("M-Pesa", "mpesa") };
        b.click(&format!("Make {to} active")).await;
        b.wait_text(&format!("Make {} active", if back == "airtel" { "M-Pesa" } else { "Airtel Money" })).await;
        assert_eq!(b.controls(&format!("Make {to} active")).await, 0, "the active one has no switch");
        b.check_clean(&[]).await;
        b.shot("settings-payments-switched").await;
        let (_, v) = app.call("GET", "/api/settings/payments", None).await;
        assert_eq!(v["settings"][0]["value"], back, "the JSON API agrees");
        assert_eq!(app.app.active_provider().await.unwrap().as_str(), back, "the next payment uses it");
        b.close().await;
    }
    app.finish().await;
}

#[tokio::test]
async fn mpesa_secrets_are_write_only_and_the_daraja_token_test_shows_safaricoms_words() {
    let (app, _sims) = with_sims().await;
    const SECRET: &str = "Zq9-very-secret-consumer";
    for width in WIDTHS {
        let b = Browser::open(&app.base, width, "settings-mpesa").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.goto("/settings/mpesa").await;
        b.wait_text("Daraja environment").await;
        b.check_clean(&[]).await;
        b.shot("settings-mpesa").await;

        // The simulator environment: the token comes back.
        b.click("Fetch a Daraja token").await;
        b.wait_text("Test passed").await;
        b.wait_text("Safaricom issued an access token").await;
        b.check_clean(&[]).await;
        b.shot("settings-mpesa-test-ok").await;

        // A secret saved is never drawn back; empty keeps it.
        b.fill("Consumer Key", "wrong-key").await;
        b.fill("Consumer Secret", SECRET).await;
        b.c.find(Locator::Id("f-env")).await.unwrap().select_by_value("sandbox").await.unwrap();
        b.click("Save M-Pesa settings").await;
        b.wait_text("Saved.").await;
        let html = b.c.source().await.unwrap();
        assert!(!html.contains(SECRET) && !html.contains("wrong-key"), "secrets are not in the page");
        assert!(b.controls("Fetch a Daraja token").await == 1);
        b.check_clean(&[]).await;
        b.shot("settings-mpesa-saved").await;
        b.click("Save M-Pesa settings").await;
        b.wait_text("Saved.").await;
        let view = app.app.read_settings("mpesa").await.unwrap();
        assert!(view.settings.iter().find(|s| s.key == "consumer_secret").unwrap().set, "an empty field kept it");

        // Wrong credentials against the same simulator (sandbox uses MPESA_BASE_URL):
        // Safaricom's own message.
        b.click("Fetch a Daraja token").await;
        b.wait_text("Test failed").await;
        b.wait_text("Invalid Authentication passed").await;
        b.check_clean(&[]).await;
        b.shot("settings-mpesa-test-failed").await;
        b.c.find(Locator::Id("f-env")).await.unwrap().select_by_value("simulator").await.unwrap();
        b.click("Save M-Pesa settings").await;
        b.wait_text("Saved.").await;
        b.close().await;
    }
    app.finish().await;
}

#[tokio::test]
async fn send_a_test_sms_through_the_simulator_and_preview_templates() {
    let (app, sims) = with_sims().await;
    for width in WIDTHS {
        let b = Browser::open(&app.base, width, "settings-sms").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.goto("/settings/sms").await;
        b.wait_text("Send a test SMS").await;
        b.fill("Phone number", "0712345678").await;
        b.click("Send test SMS").await;
        b.wait_text("Test passed").await;
        b.wait_text("Africa's Talking accepted the message to +254712345678").await;
        b.check_clean(&[]).await;
        b.shot("settings-sms-test").await;

        // Saving the form as drawn keeps SMS on (an unset switch follows .env).
        b.click("Save SMS settings").await;
        b.wait_text("Saved.").await;
        assert!(app.app.sms_settings().await.unwrap().enabled, "saving did not turn SMS off");
        b.check_clean(&[]).await;

        b.fill("Phone number", "not a phone").await;
        b.click("Send test SMS").await;
        b.wait_text("Test failed").await;
        b.check_clean(&[]).await;

        // A field error is shown under its field, with what was typed.
        b.goto("/settings/general").await;
        b.fill("Invoice number prefix, e.g. INV-", "bad prefix!").await;
        b.click("Save General settings").await;
        b.wait_text("may contain only letters").await;
        assert!(b.c.find(Locator::Id("e-invoice_prefix")).await.is_ok());
        b.check_clean(&["422"]).await;
        b.shot("settings-general-errors").await;

        b.goto("/settings/templates").await;
        b.wait_text("Preview:").await;
        b.wait_text("Jane").await;
        b.check_clean(&[]).await;
        b.shot("settings-templates").await;
        for page in ["airtel", "email", "notifications", "freeradius"] {
            b.goto(&format!("/settings/{page}")).await;
            b.wait_text("Settings").await;
            b.check_clean(&[]).await;
            b.shot(&format!("settings-{page}")).await;
        }
        b.close().await;
    }
    assert_eq!(sims.sms.messages().len(), 2, "one test SMS per width");
    app.finish().await;
}

#[tokio::test]
async fn the_system_page_shows_jobs_and_the_database_backend() {
    let app = TestApp::start().await;
    let now = app.app.now();
    app.store.try_lease("expiry", "node-a", now, now + chrono::Duration::seconds(90)).await.unwrap();
    let run = |error: Option<&str>| broadnet_store::JobRun {
        name: "expiry".into(),
        holder: "node-a".into(),
        at: now,
        next_at: now + chrono::Duration::seconds(60),
        error: error.map(str::to_string),
    };
    app.store.record_job_run(&run(Some("database is locked"))).await.unwrap();
    app.store.record_job_run(&run(None)).await.unwrap();
    for width in WIDTHS {
        let b = Browser::open(&app.base, width, "system").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("System").await;
        b.wait_text("Background jobs").await;
        let text = b.body_text().await;
        assert!(text.contains(app.store.backend_name()), "the backend is shown");
        assert!(text.contains("expiry") && text.contains("node-a"), "the job and its lease holder");
        assert!(text.contains("database is locked"), "the last error is kept after a good run");
        b.check_clean(&[]).await;
        b.shot("system").await;
        b.close().await;
    }
    app.finish().await;
}
