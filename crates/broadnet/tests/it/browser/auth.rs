//! Login, logout, CSRF, redirects and assets.

use super::*;
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, TestApp};
use serde_json::json;

#[tokio::test]
async fn log_in_wrong_password_then_right_then_out() {
    let app = TestApp::start().await;
    for width in WIDTHS {
        let b = Browser::open(&app.base, width, "login").await;
        b.goto("/").await;
        assert_eq!(b.path().await, "/login", "not logged in: the login page");
        b.check_clean(&[]).await;
        b.shot("login").await;

        b.login(ADMIN_USER, "not the password").await;
        b.wait_text("wrong username or password").await;
        assert_eq!(b.path().await, "/login");
        b.check_clean(&["401"]).await;
        b.shot("login-wrong-password").await;

        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        assert_eq!(b.path().await, "/");
        let text = b.body_text().await;
        for section in ["Dashboard", "Customers", "Packages", "Routers", "Payments", "Settings", "System"] {
            assert!(text.contains(section), "the nav lists {section}");
        }
        b.check_clean(&[]).await;
        b.shot("dashboard").await;

        b.click("Log out").await;
        b.wait_text("Log in to the admin panel").await;
        b.goto("/packages").await;
        assert_eq!(b.path().await, "/login", "logged out: the session is gone");
        b.check_clean(&[]).await;
        b.close().await;
    }
    app.finish().await;
}

#[tokio::test]
async fn a_form_post_without_this_sessions_csrf_token_is_refused() {
    let app = TestApp::start().await;
    let http = no_redirects();
    let cookie = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let other = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let other_token = csrf_of(&http, &app.base, &other).await;
    let fields = "name=Home&price=1500&download_rate=10M&upload_rate=5M&duration=30d";
    for (case, body) in [
        ("no token", fields.to_string()),
        ("an empty token", format!("_csrf=&{fields}")),
        ("a made-up token", format!("_csrf=00112233445566778899aabbccddeeff&{fields}")),
        ("another session's token", format!("_csrf={other_token}&{fields}")),
    ] {
        let resp = post_form(&http, &app.base, "/packages", &cookie, &body).await;
        assert_eq!(resp.status().as_u16(), 403, "{case}");
    }
    let resp = post_form(&http, &app.base, "/logout", &cookie, "").await;
    assert_eq!(resp.status().as_u16(), 403, "logout is a form too");
    // A cross-site form, even with the right token.
    let token = csrf_of(&http, &app.base, &cookie).await;
    let resp = http
        .post(format!("{}/packages", app.base))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(format!("_csrf={token}&{fields}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "cross-origin");
    let (_, list) = app.call("GET", "/api/packages", None).await;
    assert_eq!(list["items"], json!([]), "nothing was created");

    // The right token: created, then 303 to the list.
    let resp = post_form(&http, &app.base, "/packages", &cookie, &format!("_csrf={token}&{fields}")).await;
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "/packages");
    // In the browser too: a form whose token was removed is refused with a page.
    let b = Browser::open(&app.base, 1280, "csrf").await;
    b.login(ADMIN_USER, ADMIN_PW).await;
    b.wait_text("Getting started").await;
    b.goto("/packages/new").await;
    b.wait_text("Create package").await;
    b.c.execute("document.querySelector('form.form input[name=_csrf]').remove()", vec![]).await.unwrap();
    b.fill("Name", "No token").await;
    b.click("Create package").await;
    b.wait_text("Not allowed").await;
    b.wait_text("reload the page").await;
    b.check_clean(&["403"]).await;
    b.shot("csrf-refused").await;
    b.close().await;
    app.finish().await;
}

#[tokio::test]
async fn pages_redirect_to_login_and_assets_are_hashed_and_cached() {
    let app = TestApp::start().await;
    let http = no_redirects();
    for path in ["/", "/packages", "/packages/new"] {
        let resp = http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 303, "{path}");
        let to = resp.headers()["location"].to_str().unwrap().to_string();
        assert!(to.starts_with("/login"), "{path} → {to}");
    }
    // An htmx poll whose session ended: the browser goes to the login page whole,
    // coming back to the page it was on (not the fragment's address).
    let resp = http
        .get(format!("{}/sessions", app.base))
        .header("hx-request", "true")
        .header("hx-current-url", format!("{}/customers?q=jane", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(resp.headers()["hx-redirect"], "/login?next=%2Fcustomers");
    let resp = http.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "no external host in the page");
    let assets: Vec<&str> = html
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(assets.len(), 4, "css, htmx, admin.js, favicon: {assets:?}");
    for a in assets {
        let resp = http.get(format!("{}{a}", app.base)).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{a}");
        let cc = resp.headers()["cache-control"].to_str().unwrap();
        assert!(cc.contains("immutable"), "{a}: {cc}");
    }
    let resp = http.get(format!("{}/favicon.ico", app.base)).send().await.unwrap();
    assert!(resp.status().is_redirection());
    // A missing page: an HTML page for a browser, the JSON error for the API.
    let resp = http.get(format!("{}/no/such/page", app.base)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert!(resp.text().await.unwrap().contains("There is no page at this address"));
    let resp = http.get(format!("{}/api/nothing", app.base)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert!(resp.text().await.unwrap().contains("not_found"));

    // The login form sets the very cookie the JSON API uses.
    let resp = post_login(&http, &app.base, &format!("username={ADMIN_USER}&password={}", enc(ADMIN_PW))).await;
    assert_eq!(resp.status().as_u16(), 303);
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in ["broadnet_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    let resp = http.get(format!("{}/api/auth/me", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "the page cookie works on the API");

    // Login CSRF: a login form without its nonce cookie and proof is refused.
    let creds = format!("username={ADMIN_USER}&password={}", enc(ADMIN_PW));
    let resp = post_form(&http, &app.base, "/login", "", &creds).await;
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().contains("broadnet_session")));
    assert!(resp.text().await.unwrap().contains("the login form has expired"));
    let resp = post_form(&http, &app.base, "/login", "broadnet_login=00ff", &format!("_proof=00ff&{creds}")).await;
    assert_eq!(resp.status().as_u16(), 403, "a proof made up for a nonce made up");

    // The rate limiter's own message on the login page, with 429.
    let mut limited = None;
    for _ in 0..30 {
        let resp = post_login(&http, &app.base, "username=nobody&password=wrong").await;
        if resp.status().as_u16() == 429 {
            limited = Some((resp.headers().get("retry-after").is_some(), resp.text().await.unwrap()));
            break;
        }
        assert_eq!(resp.status().as_u16(), 401);
    }
    let (retry_after, page) = limited.expect("the limiter answers 429 at some point");
    assert!(retry_after);
    assert!(page.contains("too many login attempts; try again in"), "{page}");
    app.finish().await;
}
