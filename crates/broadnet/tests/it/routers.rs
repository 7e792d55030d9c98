//! The router wizard end to end against the RouterOS simulator: the record, the
//! one-line command pasted into the (simulated) terminal, which fetches and imports
//! our script and calls back, then service configuration through the RouterOS API
//! with its live log, re-runs, traps, and a PPPoE client logging in through our
//! RADIUS server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use broadnet::config::{Config, Vars};
use broadnet::server;
use broadnet_sim::routeros::{RouterSim, SimConfig};
use broadnet_testkit::app::TestApp;
use broadnet_testkit::{WAIT, eventually};
use chrono::Duration;
use serde_json::{Value, json};

type Env = TestApp;

/// The server with the router wizard's settings.
async fn start(extra: &[(&str, String)]) -> Env {
    let extra: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    TestApp::start_with(|base| {
        let mut vars = vec![
            ("PROVISION_BASE_URL".to_string(), format!("{base}/provision")),
            ("RADIUS_IP".to_string(), "127.0.0.1".to_string()),
        ];
        vars.extend(extra);
        vars
    })
    .await
}

trait Configure {
    async fn configure(&self, id: i64) -> Vec<Value>;
}

impl Configure for TestApp {
    /// Starts a configuration run and reads its whole event stream.
    async fn configure(&self, id: i64) -> Vec<Value> {
        let (st, r) = self.call("POST", &format!("/api/routers/{id}/configure"), None).await;
        assert_eq!(st, 202, "{r}");
        let resp = self
            .http
            .get(format!("{}/api/routers/{id}/configure/events", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let text = tokio::time::timeout(std::time::Duration::from_secs(30), resp.text()).await.unwrap().unwrap();
        text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect()
    }
}

/// Every entry tagged by us in a menu, by tag.
fn tagged(sim: &RouterSim, menu: &str) -> Vec<String> {
    let mut v: Vec<String> = sim
        .entries(menu)
        .into_iter()
        .filter_map(|e| e.get("comment").cloned())
        .filter(|c| c.starts_with("broadnet"))
        .collect();
    v.sort();
    v
}

const MENUS: &[&str] = &[
    "/interface/bridge",
    "/interface/bridge/port",
    "/ip/address",
    "/ip/pool",
    "/ip/dhcp-server",
    "/ip/dhcp-server/network",
    "/radius",
    "/ppp/profile",
    "/interface/pppoe-server/server",
    "/ip/hotspot/profile",
    "/ip/hotspot",
    "/ip/hotspot/walled-garden",
    "/ip/hotspot/walled-garden/ip",
    "/ip/firewall/nat",
    "/ip/firewall/filter",
    "/ip/firewall/mangle",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wizard_provisions_and_configures_a_router() {
    let env = start(&[]).await;
    let sim = RouterSim::new(SimConfig { identity: "Westlands".into(), ..Default::default() });
    let api = sim.spawn("127.0.0.1:0").await.unwrap();

    // Step 1.
    let (st, r) = env
        .call(
            "POST",
            "/api/routers",
            Some(json!({"name": "Westlands Estate", "service_types": "both", "ethernet_ports": ["ether2", "ether3"],
                "anti_sharing": true})),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    assert_eq!(r["state"], "unprovisioned");
    assert!(r.get("radius_secret").is_none(), "secrets are never shown: {r}");
    let id = r["id"].as_i64().unwrap();
    let (st, bad) = env.call("POST", "/api/routers", Some(json!({"name": "x", "ethernet_ports": ["ether1"]}))).await;
    assert_eq!(st, 422, "{bad}");

    // Step 2: the command, pasted into the terminal.
    let (st, cmd) = env.call("POST", &format!("/api/routers/{id}/provision-command"), None).await;
    assert_eq!(st, 200, "{cmd}");
    let command = cmd["command"].as_str().unwrap().to_string();
    assert!(command.starts_with(&format!("/tool fetch url=\"{}/provision/", env.base)), "{command}");
    let out = sim.terminal(&command).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("router provisioned"), "{out}");
    let (_, r) = env.call("GET", &format!("/api/routers/{id}"), None).await;
    assert_eq!(r["state"], "provisioned", "{r}");
    assert_eq!(r["identity"], "Westlands");
    assert_eq!(r["ros_version"], "7.16.2 (stable)");
    assert_eq!(r["api_host"], "127.0.0.1");
    assert_eq!(r["api_password_set"], true);
    assert!(sim.entries("/user").iter().any(|u| u.get("name").map(String::as_str) == Some("broadnet-api")));

    // The same command again: the token was used.
    let err = sim.terminal(&command).await.unwrap_err();
    assert!(err.to_string().contains("token already used: click Generate Command again"), "{err}");
    // A fresh command run after its hour is up.
    let (_, cmd2) = env.call("POST", &format!("/api/routers/{id}/provision-command"), None).await;
    env.clock.advance(Duration::minutes(61));
    let err = sim.terminal(cmd2["command"].as_str().unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("token expired: click Generate Command again"), "{err}");

    // Step 3. The simulated router's API listens on another port than 8728 here.
    let (st, r) = env.call("PATCH", &format!("/api/routers/{id}"), Some(json!({"api_port": api.port()}))).await;
    assert_eq!(st, 200, "{r}");
    let events = env.configure(id).await;
    assert!(events.iter().all(|e| e["status"] != "failed"), "{events:#?}");
    assert_eq!(events.last().unwrap()["status"], "done");
    assert!(events.iter().any(|e| e["step"] == "PPPoE server" && e["status"] == "ok"), "{events:#?}");
    let (_, r) = env.call("GET", &format!("/api/routers/{id}"), None).await;
    assert_eq!(r["state"], "configured", "{r}");
    let before: Vec<Vec<String>> = MENUS.iter().map(|m| tagged(&sim, m)).collect();
    for (menu, tags) in MENUS.iter().zip(&before) {
        assert!(!tags.is_empty(), "nothing configured in {menu}");
        let mut unique = tags.clone();
        unique.dedup();
        assert_eq!(&unique, tags, "duplicates in {menu}");
    }
    let bridge = &sim.entries("/interface/bridge")[0];
    assert_eq!(bridge["name"], "billing-bridge");
    let ports = tagged(&sim, "/interface/bridge/port");
    assert_eq!(ports, ["broadnet:port:ether2", "broadnet:port:ether3"]);
    assert!(sim.entries("/ip/address").iter().any(|a| a["address"] == "10.10.10.1/24"));
    let radius = sim.entries("/radius");
    assert_eq!((radius[0]["address"].as_str(), radius[0]["timeout"].as_str()), ("127.0.0.1", "3s"));
    let incoming = sim.entries("/radius/incoming");
    assert_eq!(incoming[0]["port"], "3799");
    assert!(tagged(&sim, "/ip/firewall/mangle").contains(&"broadnet:ttl".to_string()));
    // The hotspot profile lets returning phones in by MAC (MAC as username and password).
    let hsprof = sim.entries("/ip/hotspot/profile").into_iter().find(|p| p["name"] == "bn-hsprof").unwrap();
    assert_eq!(hsprof["login-by"], "mac,http-chap,http-pap,mac-cookie");
    assert_eq!(hsprof["mac-auth-mode"], "mac-as-username-and-password");
    assert_eq!(hsprof["use-radius"], "true");
    // Our hotspot login page, fetched by the router into its HTML directory: a hand-off to
    // the portal, and the router's own form below it.
    let page = String::from_utf8(sim.files()["hotspot/login.html"].clone()).unwrap();
    let portal = env.app.gateway_env().public_url.trim_end_matches('/').to_string();
    assert!(page.contains(&format!(r#"<form name="portal" action="{portal}/hotspot" method="post">"#)), "{page}");
    assert!(page.contains(r#"<input type="submit" value="Continue"/>"#), "{page}");
    assert!(page.contains("hexMD5('$(chap-id)'") && page.contains("$(link-login-only)"), "{page}");

    // Again: nothing changes, nothing is duplicated.
    let events = env.configure(id).await;
    assert!(events.iter().all(|e| e["status"] != "failed"), "{events:#?}");
    assert!(
        events.iter().filter(|e| e["status"] == "ok").all(|e| {
            let d = e["detail"].as_str().unwrap();
            // The login page file is fetched again (it may have changed); no entry is.
            d.starts_with("already in place")
                || d.starts_with("nothing to remove")
                || d.starts_with("connected")
                || d.contains("login.html fetched")
        }),
        "{events:#?}"
    );
    let after: Vec<Vec<String>> = MENUS.iter().map(|m| tagged(&sim, m)).collect();
    assert_eq!(before, after);

    // A step the router refuses: shown in the log, the router is partially configured;
    // a re-run completes it.
    let (_, _) = env.call("PATCH", &format!("/api/routers/{id}"), Some(json!({"anti_sharing": false}))).await;
    sim.fail_next("/ip/firewall/nat", "failure: out-interface ether1 not found");
    let events = env.configure(id).await;
    let failed: Vec<&Value> = events.iter().filter(|e| e["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{events:#?}");
    assert_eq!(failed[0]["step"], "NAT");
    assert!(failed[0]["detail"].as_str().unwrap().contains("out-interface ether1 not found"), "{failed:?}");
    let (_, r) = env.call("GET", &format!("/api/routers/{id}"), None).await;
    assert_eq!(r["state"], "partial", "{r}");
    let events = env.configure(id).await;
    assert!(events.iter().all(|e| e["status"] != "failed"), "{events:#?}");
    let (_, r) = env.call("GET", &format!("/api/routers/{id}"), None).await;
    assert_eq!(r["state"], "configured", "{r}");
    assert!(tagged(&sim, "/ip/firewall/mangle").is_empty(), "anti-sharing off removes the TTL rule");

    // Monitoring sees it.
    assert_eq!(env.app.run_router_monitor().await.unwrap(), 1);
    let (_, list) = env.call("GET", "/api/routers", None).await;
    assert_eq!(list["items"][0]["online"], true, "{list}");
    assert_eq!(list["items"][0]["board"], "hEX", "{list}");

    // A phone on the hotspot gets that page from the router, filled in. (No RADIUS server
    // runs in this test: MAC login, which would wait for one, is left out for the view.)
    sim.run_script("/ip hotspot profile set [find name=bn-hsprof] login-by=http-chap,http-pap").await.unwrap();
    let phone = sim.hotspot_device("aa:bb:cc:00:00:10", std::net::Ipv4Addr::new(10, 10, 10, 20)).unwrap();
    let shown = env.http.get(phone.login_url("http://example.com/")).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    let shown = shown.text().await.unwrap();
    for (field, value) in [
        ("mac", "AA:BB:CC:00:00:10"),
        ("ip", "10.10.10.20"),
        ("link-login-only", &format!("{}/login", phone.base_url())),
        ("link-orig", "http://example.com/"),
        ("identity", "Westlands"),
        ("error", ""),
    ] {
        assert!(shown.contains(&format!(r#"name="{field}" value="{value}""#)), "{field}: {shown}");
    }
    // The CHAP id and challenge reach the script as octal escapes, for hx() to turn into hex.
    let (ident, challenge) = phone.chap_challenge().unwrap();
    let octal = |b: &[u8]| b.iter().map(|b| format!("\\{b:03o}")).collect::<String>();
    assert!(shown.contains(&format!("hx('{}')", octal(&[ident]))), "{shown}");
    assert!(shown.contains(&format!("hx('{}')", octal(&challenge))), "{shown}");
    sim.shutdown();
    eventually("the router's API port closes", WAIT, || async {
        tokio::net::TcpStream::connect(api).await.is_err().then_some(())
    })
    .await;
    assert_eq!(env.app.run_router_monitor().await.unwrap(), 1);
    let (_, r) = env.call("GET", &format!("/api/routers/{id}"), None).await;
    assert_eq!(r["online"], false, "{r}");
    assert!(r["health_error"].as_str().is_some(), "{r}");
    env.finish().await;
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pppoe_client_logs_in_through_our_radius_and_is_cut_off_when_suspended() {
    let (auth, acct, coa) = (free_udp_port(), free_udp_port(), free_udp_port());
    let env = start(&[
        ("RADIUS_AUTH_PORT", auth.to_string()),
        ("RADIUS_ACCT_PORT", acct.to_string()),
        ("RADIUS_COA_PORT", coa.to_string()),
    ])
    .await;
    let sim = RouterSim::new(SimConfig { identity: "Kasarani".into(), ..Default::default() });
    let api = sim.spawn("127.0.0.1:0").await.unwrap();
    let (_, r) = env
        .call(
            "POST",
            "/api/routers",
            Some(json!({"name": "Kasarani", "service_types": "pppoe", "ethernet_ports": "ether2"})),
        )
        .await;
    let id = r["id"].as_i64().unwrap();
    let (_, cmd) = env.call("POST", &format!("/api/routers/{id}/provision-command"), None).await;
    sim.terminal(cmd["command"].as_str().unwrap()).await.unwrap();
    env.call("PATCH", &format!("/api/routers/{id}"), Some(json!({"api_port": api.port()}))).await;
    let events = env.configure(id).await;
    assert!(events.iter().all(|e| e["status"] != "failed"), "{events:#?}");
    assert_eq!(sim.entries("/radius")[0]["authentication-port"], auth.to_string());

    // Our RADIUS server (it reads its clients, this router among them, at start).
    let mut vars = Vars::new();
    vars.insert("DATABASE_URL".into(), env.db.as_ref().unwrap().url.clone());
    vars.insert("RADIUS_AUTH_PORT".into(), auth.to_string());
    vars.insert("RADIUS_ACCT_PORT".into(), acct.to_string());
    vars.insert("APP_HOST".into(), "127.0.0.1".into());
    let (cfg, _) = Config::from_vars(&vars);
    let radius = broadnet_radius_server::Server::new(env.app.store.clone(), server::radius_config(&cfg).unwrap());
    let bound = radius.bind().await.unwrap();
    tokio::spawn(radius.run(bound, env.shutdown.clone()));

    let (_, pkg) = env
        .call(
            "POST",
            "/api/packages",
            Some(json!({"name": "Home 10M", "price": "1500", "download_rate": "10M", "upload_rate": "5M", "duration": "30d"})),
        )
        .await;
    let (st, c) = env
        .call(
            "POST",
            "/api/customers",
            Some(
                json!({"full_name": "Otieno PPP", "username": "otieno", "password": "pw123456", "phone": "0712000111",
                "customer_type": "pppoe", "package_id": pkg["id"], "router_id": id,
                "expires_at": env.app.now() + Duration::days(10)}),
            ),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    // The wrong password is refused with a reason; the right one is in.
    let refused = sim.pppoe_login("otieno", "nope", "AA:BB:CC:00:00:01", broadnet_sim::routeros::Auth::Chap).await;
    assert!(refused.is_err(), "{refused:?}");
    let session =
        sim.pppoe_login("otieno", "pw123456", "AA:BB:CC:00:00:01", broadnet_sim::routeros::Auth::Chap).await.unwrap();
    let active = sim.entries("/ppp/active");
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["limit"], "5M/10M", "{active:?}");
    session.interim(1_000_000, 5_000_000).await.unwrap();
    let (_, sessions) = env.call("GET", "/api/sessions?open=true&username=otieno", None).await;
    assert_eq!(sessions["total"], 1, "{sessions}");
    assert_eq!(sessions["items"][0]["output_octets"], 5_000_000, "{sessions}");

    // Suspended: the router is told to disconnect them, and does.
    let (st, _) = env.call("PATCH", &format!("/api/customers/{}", c["id"]), Some(json!({"status": "suspended"}))).await;
    assert_eq!(st, 200);
    // The disconnect was queued in the outbox with the change; deliver it.
    assert!(env.app.run_outbox().await.unwrap() >= 1);
    eventually("the router drops the session", WAIT, || async { sim.entries("/ppp/active").is_empty().then_some(()) })
        .await;
    assert!(sim.entries("/ppp/active").is_empty(), "still online: {:?}", sim.coa_log());
    assert!(sim.coa_log().iter().any(|(code, user)| *code == broadnet_radius::Code::DisconnectAck && user == "otieno"));
    eventually("the session is closed", WAIT, || async {
        let (_, sessions) = env.call("GET", "/api/sessions?open=true&username=otieno", None).await;
        (sessions["total"] == 0).then_some(())
    })
    .await;
    let (_, sessions) = env.call("GET", "/api/sessions?open=true&username=otieno", None).await;
    assert_eq!(sessions["total"], 0, "the router's Accounting-Stop closed it: {sessions}");
    // And they cannot come back.
    let again = sim.pppoe_login("otieno", "pw123456", "AA:BB:CC:00:00:01", broadnet_sim::routeros::Auth::Pap).await;
    assert!(again.is_err(), "{again:?}");
    sim.shutdown();
    env.finish().await;
}

#[tokio::test]
async fn the_provisioning_callback_is_taken_once_and_only_from_the_router_that_fetched_the_script() {
    let env = start(&[]).await;
    let (_, r) = env.call("POST", "/api/routers", Some(json!({"name": "Ruaka", "nas_ip": "192.0.2.10"}))).await;
    let id = r["id"].as_i64().unwrap();
    let (_, cmd) = env.call("POST", &format!("/api/routers/{id}/provision-command"), None).await;
    let command = cmd["command"].as_str().unwrap();
    let token = command.split("/provision/").nth(1).unwrap().split(".rsc").next().unwrap().to_string();
    let callback = format!("{}/provision/{token}/callback", env.base);
    let post = |from: &'static str, body: &'static str| {
        let (http, url) = (env.http.clone(), callback.clone());
        async move {
            let r = http
                .post(url)
                .header("x-real-ip", from)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // Before the script is fetched, nothing is accepted.
    assert_eq!(post("192.0.2.10", "identity=Ruaka").await.0, 404);
    // A HEAD (a link preview, a checker) neither shows nor spends the token.
    let head = env.http.head(format!("{}/provision/{token}.rsc", env.base)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let resp = env
        .http
        .get(format!("{}/provision/{token}.rsc", env.base))
        .header("x-real-ip", "192.0.2.10")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store", "the script carries a router password");
    let script = resp.text().await.unwrap();
    assert!(script.contains("/user add name=broadnet-api"), "{script}");

    // Someone else holding the token is refused.
    let (st, body) = post("192.0.2.66", "identity=Evil&version=1&board=x").await;
    assert_eq!(st, 403, "{body}");
    // What the router reports is checked before the token is spent.
    let (st, body) = post("192.0.2.10", "identity=Ruaka%0A%1B%5B31mforged&version=7.16&board=hAP").await;
    assert_eq!(st, 422, "{body}");
    assert!(body.contains("identity"), "{body}");
    let long = Box::leak(format!("identity=Ruaka&version=7.16&board={}", "b".repeat(65)).into_boxed_str());
    assert_eq!(post("192.0.2.10", long).await.0, 422);

    // The router itself, once.
    let (st, body) = post("192.0.2.10", "identity=%3Cb%3ERuaka%3C%2Fb%3E&version=7.16.2&board=hAP+ax2").await;
    assert_eq!(st, 200, "{body}");
    let (_, r) = env.call("GET", &format!("/api/routers/{id}"), None).await;
    assert_eq!((r["state"].as_str(), r["identity"].as_str()), (Some("provisioned"), Some("<b>Ruaka</b>")), "{r}");
    assert_eq!(r["board"], "hAP ax2");

    // Replays change nothing, from anywhere.
    for from in ["192.0.2.10", "192.0.2.66"] {
        let (st, body) = post(from, "identity=Replayed&version=6.0&board=x").await;
        assert!(st == 409 || st == 403, "{st} {body}");
    }
    let (_, r) = env.call("GET", &format!("/api/routers/{id}"), None).await;
    assert_eq!((r["identity"].as_str(), r["ros_version"].as_str()), (Some("<b>Ruaka</b>"), Some("7.16.2")), "{r}");
    env.finish().await;
}
