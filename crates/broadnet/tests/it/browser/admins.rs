//! The admins screens, "change my password" and the audit log's diffs.

use super::*;
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, TestApp};
use serde_json::json;

#[tokio::test]
async fn create_a_viewer_edit_it_and_see_the_diff_in_the_audit_log() {
    let app = TestApp::start().await;
    for width in WIDTHS {
        let name = format!("vera{width}");
        let b = Browser::open(&app.base, width, "admins").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("Admins").await;
        b.wait_text("New admin").await;
        b.check_clean(&[]).await;
        b.shot("admins-list").await;

        b.click("New admin").await;
        b.wait_text("Create admin").await;
        b.fill("Username", &name).await;
        b.fill("Password", "short").await;
        b.c.find(Locator::Id("f-role")).await.unwrap().select_by_value("viewer").await.unwrap();
        b.click("Create admin").await;
        b.wait_text("must be at least 8 characters").await;
        b.check_clean(&["422"]).await;
        b.shot("admin-new-errors").await;
        b.fill("Password", "viewer pass phrase 1").await;
        b.click("Create admin").await;
        b.wait_text(&name).await;
        assert_eq!(b.path().await, "/admins");
        b.check_clean(&[]).await;

        // Edit: make it an admin; the password field left empty keeps the password.
        let (_, list) = app.call("GET", "/api/admins", None).await;
        let id = list["items"].as_array().unwrap().iter().find(|a| a["username"] == name.as_str()).unwrap()["id"]
            .as_i64()
            .unwrap();
        b.goto(&format!("/admins/{id}/edit")).await;
        b.wait_text("Edit admin").await;
        b.check_clean(&[]).await;
        b.shot("admin-edit").await;
        b.c.find(Locator::Id("f-role")).await.unwrap().select_by_value("admin").await.unwrap();
        b.fill("Full name", "Vera Wanjiru").await;
        b.click("Save").await;
        b.wait_text("Vera Wanjiru").await;
        b.check_clean(&[]).await;
        b.shot("admins-list-edited").await;

        b.click("Audit log").await;
        b.wait_text("Audit log").await;
        b.fill("Entity ID", &id.to_string()).await;
        b.click("Filter").await;
        b.wait_text("Vera Wanjiru").await;
        // Key by key: the role and the name changed, nothing else is listed.
        b.wait_text("viewer → admin").await;
        b.wait_text("empty → Vera Wanjiru").await;
        b.check_clean(&[]).await;
        b.shot("audit-log").await;
        b.close().await;

        // The edit with an empty password field kept the password.
        let b = Browser::open(&app.base, width, "admins-login").await;
        b.login(&name, "viewer pass phrase 1").await;
        b.wait_text("Getting started").await;
        assert_eq!(b.controls("Admins").await, 0, "the Admins section is a superadmin's");
        b.close().await;
    }
    app.finish().await;
}

#[tokio::test]
async fn change_my_password_then_log_in_with_the_new_one() {
    let app = TestApp::start().await;
    for width in WIDTHS {
        let name = format!("sam{width}");
        let (st, _) = app
            .call(
                "POST",
                "/api/admins",
                Some(json!({"username": name, "password": "old pass phrase 1", "role": "admin"})),
            )
            .await;
        assert_eq!(st, 201);
        let b = Browser::open(&app.base, width, "account-password").await;
        b.login(&name, "old pass phrase 1").await;
        b.wait_text("Getting started").await;
        b.click("Password").await;
        b.wait_text("Change my password").await;
        b.check_clean(&[]).await;
        b.shot("account-password").await;

        b.fill("Current password", "not it at all").await;
        b.fill("New password", "new pass phrase 2").await;
        b.fill("New password again", "new pass phrase 3").await;
        b.click("Change password").await;
        b.wait_text("is not your current password").await;
        b.wait_text("does not match the new password").await;
        b.check_clean(&["422"]).await;
        b.shot("account-password-errors").await;

        b.fill("Current password", "old pass phrase 1").await;
        b.fill("New password", "new pass phrase 2").await;
        b.fill("New password again", "new pass phrase 2").await;
        b.click("Change password").await;
        b.wait_text("Password changed").await;
        b.check_clean(&[]).await;
        b.shot("account-password-done").await;
        b.click("Log in").await;
        b.wait_text("Username").await;
        b.fill("Username", &name).await;
        b.fill("Password", "old pass phrase 1").await;
        b.click("Log in").await;
        b.wait_text("wrong username or password").await;
        b.check_clean(&["401"]).await;
        b.login(&name, "new pass phrase 2").await;
        b.wait_text("Getting started").await;
        b.close().await;
    }
    app.finish().await;
}

/// The use case itself: the current password is checked, the sessions end.
#[tokio::test]
async fn change_own_password_checks_the_current_one_and_ends_sessions() {
    use broadnet_app::admins::ChangePassword;
    let app = TestApp::start().await;
    let token = app.login(ADMIN_USER, ADMIN_PW).await;
    let s = app.app.authenticate(&token, None).await.unwrap();
    let req = |c: &str, n: &str, k: &str| ChangePassword {
        current: c.into(),
        new: n.into(),
        confirm: k.into(),
        ..Default::default()
    };
    let e = app.app.change_own_password(&s, req("nope", "password123", "password1234")).await.unwrap_err();
    let broadnet_app::AppError::Validation(errors) = e else { panic!("{e:?}") };
    assert!(errors.contains_key("current") && errors.contains_key("new") && errors.contains_key("confirm"));
    app.app.change_own_password(&s, req(ADMIN_PW, "a brand new phrase", "a brand new phrase")).await.unwrap();
    assert!(app.app.authenticate(&token, None).await.is_err(), "the session ended");
    assert!(app.app.login(ADMIN_USER, "a brand new phrase", "127.0.0.1").await.is_ok());
    app.finish().await;
}
