//! The router wizard in the browser against the RouterOS simulator: Add Router (a
//! field error first), Generate Command, the simulated router runs it and the page
//! moves to provisioned by itself, Configure Services with every line of the live
//! log on the page, then the list shows the router online. And a router that
//! refuses a step: its message and the Re-run button.

use super::*;
use broadnet_sim::routeros::{RouterSim, SimConfig};
use broadnet_testkit::app::{ADMIN_PW, ADMIN_USER, TestApp};
use fantoccini::Locator;
use serde_json::{Value, json};

/// The server with the wizard's settings; the simulator's API is on loopback.
async fn start() -> TestApp {
    TestApp::start_with(|base| {
        vec![
            ("PROVISION_BASE_URL".to_string(), format!("{base}/provision")),
            ("RADIUS_IP".to_string(), "127.0.0.1".to_string()),
            ("ROUTER_ALLOW_LOOPBACK".to_string(), "true".to_string()),
        ]
    })
    .await
}

/// Waits (no sleeping) for an element matching a CSS selector.
async fn wait_css(b: &Browser, css: &str) -> fantoccini::elements::Element {
    match b.c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await {
        Ok(e) => e,
        Err(_) => panic!("{css:?} never appeared; at {}: {}", b.path().await, b.body_text().await),
    }
}

/// Waits for a button with this text.
async fn wait_button(b: &Browser, text: &str) {
    let xp = format!("//button[normalize-space()={}]", xq(text));
    if b.c.wait().at_most(Duration::from_secs(20)).for_element(Locator::XPath(&xp)).await.is_err() {
        panic!("no {text:?} button; at {}: {}", b.path().await, b.body_text().await);
    }
}

/// Waits until the page's state badge says `state` (the page reloads itself into
/// the next step when the router's state changes).
async fn wait_state(b: &Browser, state: &str) {
    let xp = format!("//*[@id='router-state' and normalize-space()={}]", xq(state));
    // Generous: a configuration run on a loaded 2-core CI machine takes a while.
    if b.c.wait().at_most(Duration::from_secs(90)).for_element(Locator::XPath(&xp)).await.is_err() {
        panic!("the state never became {state:?}; at {}: {}", b.path().await, b.body_text().await);
    }
}

/// The log lines on the page, once the last one (`done`) is there.
async fn log_lines(b: &Browser) -> Vec<String> {
    wait_css(b, "ol.log li.log-done").await;
    let mut lines = Vec::new();
    for li in b.c.find_all(Locator::Css("ol.log li")).await.unwrap() {
        lines.push(li.text().await.unwrap());
    }
    lines
}

/// The run's events as the API streams them (the run is over, so the stream ends).
async fn api_events(app: &TestApp, id: i64) -> Vec<Value> {
    let resp = app
        .http
        .get(format!("{}/api/routers/{id}/configure/events", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let text = tokio::time::timeout(Duration::from_secs(30), resp.text()).await.unwrap().unwrap();
    text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect()
}

/// Each event is one line on the page, in order: its status, step and the router's text.
fn assert_same_log(lines: &[String], events: &[Value]) {
    assert_eq!(lines.len(), events.len(), "every event is a line: {lines:#?} vs {events:#?}");
    for (line, e) in lines.iter().zip(events) {
        for part in ["status", "step", "detail"] {
            let want = e[part].as_str().unwrap();
            assert!(line.to_lowercase().contains(&want.to_lowercase()), "{line:?} lacks {part} {want:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wizard_adds_provisions_and_configures_a_router() {
    let app = start().await;
    for width in WIDTHS {
        let name = format!("Westlands Estate {width}");
        let sim = RouterSim::new(SimConfig { identity: format!("Westlands-{width}"), ..Default::default() });
        let api = sim.spawn("127.0.0.1:0").await.unwrap();
        let b = Browser::open(&app.base, width, "routers").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.click("Routers").await;
        b.wait_text("Add Router").await;
        b.check_clean(&[]).await;
        b.shot("routers-list-before").await;

        // Step 1, first with ether1 (the uplink) among the ports.
        b.click("Add Router").await;
        b.wait_text("Step 1").await;
        b.check_clean(&[]).await;
        b.shot("router-new").await;
        b.fill("Name", &name).await;
        b.fill("Ethernet ports", "ether1, ether2").await;
        // Each router has its own RADIUS address (the simulators all call from 127.0.0.1).
        b.fill("NAS IP", if width > 600 { "192.0.2.10" } else { "192.0.2.11" }).await;
        b.c.find(Locator::Id("f-anti_sharing")).await.unwrap().click().await.unwrap();
        b.click("Add Router").await;
        b.wait_text("ether1 is the uplink").await;
        assert!(b.c.find(Locator::Id("e-ethernet_ports")).await.is_ok(), "the error is under its field");
        let kept = b.c.find(Locator::Id("f-name")).await.unwrap().prop("value").await.unwrap();
        assert_eq!(kept.as_deref(), Some(name.as_str()), "what was typed is kept");
        b.check_clean(&["422"]).await;
        b.shot("router-new-errors").await;
        b.fill("Ethernet ports", "ether2, ether3").await;
        b.click("Add Router").await;

        // Step 2.
        wait_button(&b, "Generate Command").await;
        let path = b.path().await;
        let id: i64 = path.strip_prefix("/routers/").unwrap().parse().unwrap();
        wait_state(&b, "unprovisioned").await;
        b.check_clean(&[]).await;
        b.shot("router-step2").await;
        b.click("Generate Command").await;
        let pre = wait_css(&b, "pre#command").await;
        let command = pre.text().await.unwrap();
        assert!(command.starts_with(&format!("/tool fetch url=\"{}/provision/", app.base)), "{command}");
        b.wait_text(" left").await;
        let left = b.c.find(Locator::Css(".countdown")).await.unwrap().text().await.unwrap();
        assert!(left.starts_with("59:") || left.starts_with("60:"), "counted from the server's clock: {left}");
        b.click("Copy").await;
        b.wait_text("Copied").await;
        b.check_clean(&[]).await;
        b.shot("router-command").await;

        // The router runs it; the page moves on by itself.
        let out = sim.terminal(&command).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(out.contains("router provisioned"), "{out}");
        wait_button(&b, "Configure Services").await;
        wait_state(&b, "provisioned").await;
        assert_eq!(b.path().await, path);
        b.wait_text(&format!("Westlands-{width}")).await;
        b.check_clean(&[]).await;
        b.shot("router-provisioned").await;

        // The simulated router's API listens on a port of its own: the edit form.
        b.click("Edit").await;
        b.wait_text("Edit router").await;
        b.fill("API port", "70000").await;
        b.click("Save").await;
        b.wait_text("must be between 1 and 65535").await;
        b.check_clean(&["422"]).await;
        b.shot("router-edit-errors").await;
        b.fill("API port", &api.port().to_string()).await;
        b.click("Save").await;
        wait_button(&b, "Configure Services").await;
        b.wait_text(&format!("127.0.0.1:{}", api.port())).await;

        // Step 3: every event of the stream is a line on the page.
        b.click("Configure Services").await;
        wait_state(&b, "configured").await;
        let lines = log_lines(&b).await;
        assert!(lines.last().unwrap().contains("configured"), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("PPPoE server")), "{lines:#?}");
        assert!(!lines.iter().any(|l| l.to_lowercase().starts_with("failed")), "{lines:#?}");
        assert_same_log(&lines, &api_events(&app, id).await);
        wait_button(&b, "Re-run").await;
        b.check_clean(&[]).await;
        b.shot("router-configured").await;

        // Health, then the list shows it online.
        b.click("Check health").await;
        b.wait_text("Memory used").await;
        wait_css(&b, "#health .badge-ok").await;
        b.check_clean(&[]).await;
        b.shot("router-health").await;
        b.click("Routers").await;
        b.wait_text(&name).await;
        let row =
            b.c.find(Locator::XPath(&format!("//tr[.//strong[normalize-space()={}]]", xq(&name))))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
        assert!(row.contains("online") && row.contains("configured") && row.contains("7.16.2"), "{row}");
        b.check_clean(&[]).await;
        b.shot("routers-list-online").await;
        sim.shutdown();
        b.close().await;
    }
    let (_, list) = app.call("GET", "/api/routers", None).await;
    assert_eq!(list["total"], 2, "{list}");
    assert!(list["items"].as_array().unwrap().iter().all(|r| r["anti_sharing"] == true && r["online"] == true));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_router_that_refuses_a_step_shows_its_message_and_a_rerun() {
    let app = start().await;
    for width in WIDTHS {
        let sim = RouterSim::new(SimConfig { identity: format!("Kasarani-{width}"), ..Default::default() });
        let api = sim.spawn("127.0.0.1:0").await.unwrap();
        let nas_ip = if width > 600 { "192.0.2.20" } else { "192.0.2.21" };
        let r = app
            .router(&format!("Kasarani {width}"))
            .set("service_types", json!("pppoe"))
            .set("nas_ip", json!(nas_ip))
            .create()
            .await;
        let id = r["id"].as_i64().unwrap();
        let (_, cmd) = app.call("POST", &format!("/api/routers/{id}/provision-command"), None).await;
        sim.terminal(cmd["command"].as_str().unwrap()).await.unwrap();
        let (st, _) = app.call("PATCH", &format!("/api/routers/{id}"), Some(json!({"api_port": api.port()}))).await;
        assert_eq!(st, 200);
        sim.fail_next("/ip/firewall/nat", "failure: out-interface ether1 not found");

        let b = Browser::open(&app.base, width, "routers-refused").await;
        b.login(ADMIN_USER, ADMIN_PW).await;
        b.wait_text("Getting started").await;
        b.goto(&urls_router(id)).await;
        wait_button(&b, "Configure Services").await;
        b.click("Configure Services").await;
        wait_state(&b, "partial").await;
        let lines = log_lines(&b).await;
        let failed = wait_css(&b, "ol.log li.log-failed").await.text().await.unwrap();
        assert!(
            failed.contains("NAT") && failed.contains("router refused: failure: out-interface ether1 not found"),
            "{failed}"
        );
        assert!(lines.last().unwrap().contains("partially configured"), "{lines:#?}");
        assert_same_log(&lines, &api_events(&app, id).await);
        b.wait_text("A step failed").await;
        wait_button(&b, "Re-run").await;
        b.check_clean(&[]).await;
        b.shot("router-partial").await;

        b.click("Re-run").await;
        wait_state(&b, "configured").await;
        let lines = log_lines(&b).await;
        assert!(lines.last().unwrap().contains("configured"), "{lines:#?}");
        assert!(!lines.iter().any(|l| l.contains("failed")), "{lines:#?}");
        b.check_clean(&[]).await;
        sim.shutdown();
        b.close().await;
    }
    app.finish().await;
}

fn urls_router(id: i64) -> String {
    format!("/routers/{id}")
}

#[tokio::test]
async fn a_viewer_sees_the_routers_but_cannot_act_on_them() {
    let app = start().await;
    let r = app.router("Ruaka").create().await;
    let id = r["id"].as_i64().unwrap();
    let (st, _) = app
        .call(
            "POST",
            "/api/admins",
            Some(json!({"username": "vera", "password": "viewer pass phrase 1", "role": "viewer"})),
        )
        .await;
    assert_eq!(st, 201);
    let http = no_redirects();
    let cookie = page_session(&app, "vera", "viewer pass phrase 1").await;
    let page = http.get(format!("{}/routers/{id}", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Ruaka") && html.contains("unprovisioned"), "{html}");
    for control in [">Generate Command</button>", ">Check health</button>", ">Delete router</button>", ">Edit</a>"] {
        assert!(!html.contains(control), "a viewer sees no {control:?}");
    }
    // The viewer's own session and token, posted by hand: each use case refuses.
    let token = csrf_of(&http, &app.base, &cookie).await;
    for action in ["command", "configure", "health", "delete"] {
        let resp =
            post_form(&http, &app.base, &format!("/routers/{id}/{action}"), &cookie, &format!("_csrf={token}")).await;
        assert_eq!(resp.status().as_u16(), 403, "{action}");
    }
    // The API's health check is refused by the same use case.
    let viewer = app.login("vera", "viewer pass phrase 1").await;
    let (st, body) = app.call_as(Some(&viewer), "POST", &format!("/api/routers/{id}/health"), None).await;
    assert_eq!(st, 403, "{body}");
    // A write without the CSRF token is refused for anyone.
    let root = page_session(&app, ADMIN_USER, ADMIN_PW).await;
    let resp = post_form(&http, &app.base, &format!("/routers/{id}/delete"), &root, "").await;
    assert_eq!(resp.status().as_u16(), 403);
    let (st, _) = app.call("GET", &format!("/api/routers/{id}"), None).await;
    assert_eq!(st, 200, "still there");
    app.finish().await;
}
