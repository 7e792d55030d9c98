#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The simulator's RouterOS script interpreter: the provisioning recipe, errors, scripting, `/tool fetch`
//! and `/import`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use broadnet_routeros::{Client, ConnectOptions};
use broadnet_sim::routeros::{RouterSim, ScriptErrorKind, SimConfig};

fn config() -> SimConfig {
    SimConfig {
        identity: "westlands-gw".into(),
        version: "7.16.2".into(),
        users: vec![("admin".into(), "s3cret".into(), "full".into())],
        ..SimConfig::default()
    }
}

const LOGIN_HTML: &str = "<html><body>BroadNet portal login</body></html>";
const PROVISION_RSC: &str = "# provisioning fetched from the portal\n\
    :if ([:len [/ip pool find name=fetched]] = 0) do={\n\
    \x20   /ip pool add name=fetched ranges=10.9.0.2-10.9.0.9 comment=broadnet\n\
    }\n\
    :put \"imported\"\n";

#[derive(Default)]
struct Seen {
    posts: Vec<(Option<String>, String)>,
}

/// A tiny portal: `/mt/login.html`, `/x.rsc`, `POST /callback`, `/gone` (410); anything else 404.
async fn portal() -> (SocketAddr, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = Router::new()
        .route("/mt/login.html", get(|| async { LOGIN_HTML }))
        .route("/x.rsc", get(|| async { PROVISION_RSC }))
        .route("/gone", get(|| async { (StatusCode::GONE, "gone") }))
        .route(
            "/callback",
            post(|State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap, body: String| async move {
                let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
                seen.lock().unwrap().posts.push((content_type, body));
                "{\"ok\":true}"
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// Reference §10, literally, except that the login page comes from the test's portal.
fn recipe(portal: SocketAddr) -> String {
    r#"# --- LAN bridge + ports + address
/interface bridge add name=bn-bridge comment=broadnet
/interface bridge port add bridge=bn-bridge interface=ether2 comment=broadnet
/interface bridge port add bridge=bn-bridge interface=ether3 comment=broadnet
/ip address add address=10.10.10.1/24 interface=bn-bridge comment=broadnet

# --- pool + DHCP (v6: new dhcp-server entries are disabled unless disabled=no)
/ip pool add name=bn-pool ranges=10.10.10.10-10.10.10.254 comment=broadnet
/ip dhcp-server add name=bn-dhcp interface=bn-bridge address-pool=bn-pool lease-time=1h disabled=no comment=broadnet
/ip dhcp-server network add address=10.10.10.0/24 gateway=10.10.10.1 dns-server=10.10.10.1 comment=broadnet
/ip dns set allow-remote-requests=yes

# --- RADIUS client + CoA/Disconnect listener
/radius add address=203.0.113.10 secret="LongRandomSecret" service=ppp,hotspot timeout=3s comment=broadnet
#   7.15+: optionally require-message-auth=yes-for-request-resp (default) — our server always sends MA first
/radius incoming set accept=yes port=3799

# --- PPPoE
/ip pool add name=bn-pppoe-pool ranges=10.20.0.2-10.20.255.254 comment=broadnet
/interface list add name=bn-ppp-clients comment=broadnet
/ppp profile add name=bn-pppoe local-address=10.20.0.1 remote-address=bn-pppoe-pool dns-server=10.20.0.1 \
    change-tcp-mss=yes interface-list=bn-ppp-clients comment=broadnet
/ppp aaa set use-radius=yes accounting=yes interim-update=5m
/interface pppoe-server server add service-name=broadnet interface=bn-bridge default-profile=bn-pppoe \
    authentication=pap,chap,mschap1,mschap2 one-session-per-host=yes disabled=no

# --- Hotspot
/ip hotspot profile add name=bn-hsprof hotspot-address=10.10.10.1 dns-name=wifi.broadnet.example \
    login-by=http-chap,http-pap,mac-cookie use-radius=yes radius-accounting=yes \
    radius-interim-update=received nas-port-type=ethernet
#   (html-directory left at its default; the default servlet files are copied there when the profile is created)
/ip hotspot user profile set [find default=yes] shared-users=1 add-mac-cookie=yes mac-cookie-timeout=1d
/ip hotspot add name=bn-hotspot interface=bn-bridge address-pool=bn-pool profile=bn-hsprof disabled=no
/ip hotspot walled-garden add dst-host=portal.broadnet.example action=allow comment=broadnet
/ip hotspot walled-garden ip add dst-address=203.0.113.10 action=accept comment=broadnet
#   HTTP-level entries match host names seen by the hotspot proxy; add the IP entry too so HTTPS to the portal works before login (community)

# --- custom login page (see §11 for fetch); overwrite only login.html so md5.js etc. stay
:local hsdir [/ip hotspot profile get [find name=bn-hsprof] html-directory]
/tool fetch url="http://PORTAL/mt/login.html" dst-path=($hsdir . "/login.html")
#   i.e. dst-path=hotspot/login.html, or flash/hotspot/login.html on devices with a flash dir
#   (:local only lives inside one script/paste block: run these two lines together or inline the path)

# --- NAT + basic input protection
/ip firewall nat add chain=srcnat out-interface=ether1 action=masquerade comment=broadnet
/ip firewall filter add chain=input connection-state=established,related action=accept comment=broadnet
/ip firewall filter add chain=input protocol=udp dst-port=3799 src-address=203.0.113.10 action=accept comment="broadnet coa"
/ip firewall filter add chain=input protocol=tcp dst-port=8728,8729 src-address=203.0.113.10 action=accept comment="broadnet api"
/ip firewall filter add chain=input protocol=tcp dst-port=8728,8729 action=drop comment="broadnet api others"
#   (add rules with place-before=… if the router already has a default drop rule)

# --- anti-tethering: TTL=1 toward clients (hotspot bridge and PPP clients)
/ip firewall mangle add chain=postrouting out-interface=bn-bridge action=change-ttl new-ttl=set:1 passthrough=yes comment=broadnet-ttl
/ip firewall mangle add chain=postrouting out-interface-list=bn-ppp-clients action=change-ttl new-ttl=set:1 passthrough=yes comment=broadnet-ttl

# --- API user for the billing server
/user add name=broadnet-api group=full password="AnotherLongRandom" address=203.0.113.10/32 comment=broadnet
/ip service set api disabled=no port=8728 address=203.0.113.10/32
/ip service set api-ssl disabled=no port=8729 address=203.0.113.10/32 certificate=bn-api-cert
"#
    .replace("PORTAL", &portal.to_string())
}

fn one<'a>(
    rows: &'a [std::collections::BTreeMap<String, String>],
    key: &str,
    value: &str,
) -> &'a std::collections::BTreeMap<String, String> {
    rows.iter()
        .find(|r| r.get(key).is_some_and(|v| v == value))
        .unwrap_or_else(|| panic!("no {key}={value} in {rows:?}"))
}

#[tokio::test]
async fn the_provisioning_recipe_runs_and_a_second_run_fails_on_the_first_duplicate() {
    let (portal, _) = portal().await;
    let sim = RouterSim::new(config());
    let script = recipe(portal);
    let out = sim.run_script(&script).await.unwrap();
    assert!(out.contains("status: finished"), "{out}");

    let bridges = sim.entries("/interface/bridge");
    assert_eq!(one(&bridges, "name", "bn-bridge")["comment"], "broadnet");
    let ports = sim.entries("/interface bridge port");
    assert_eq!(ports.len(), 2);
    assert_eq!(ports[1]["interface"], "ether3");
    assert_eq!(one(&sim.entries("/ip/address"), "address", "10.10.10.1/24")["network"], "10.10.10.0");
    let pools = sim.entries("/ip/pool");
    assert_eq!(one(&pools, "name", "bn-pppoe-pool")["ranges"], "10.20.0.2-10.20.255.254");
    let dhcp = sim.entries("/ip/dhcp-server");
    assert_eq!((dhcp[0]["name"].as_str(), dhcp[0]["disabled"].as_str()), ("bn-dhcp", "false"));
    assert_eq!(sim.entries("/ip/dhcp-server/network")[0]["gateway"], "10.10.10.1");
    assert_eq!(sim.entries("/ip/dns")[0]["allow-remote-requests"], "true");
    let radius = &sim.entries("/radius")[0];
    assert_eq!((radius["secret"].as_str(), radius["service"].as_str()), ("LongRandomSecret", "ppp,hotspot"));
    assert_eq!(radius["timeout"], "3s");
    let incoming = &sim.entries("/radius/incoming")[0];
    assert_eq!((incoming["accept"].as_str(), incoming["port"].as_str()), ("true", "3799"));
    let profile = one(&sim.entries("/ppp/profile"), "name", "bn-pppoe").clone();
    assert_eq!(profile["remote-address"], "bn-pppoe-pool");
    assert_eq!(profile["interface-list"], "bn-ppp-clients", "continued line");
    let aaa = &sim.entries("/ppp/aaa")[0];
    assert_eq!((aaa["use-radius"].as_str(), aaa["interim-update"].as_str()), ("true", "5m"));
    let pppoe = &sim.entries("/interface/pppoe-server/server")[0];
    assert_eq!((pppoe["service-name"].as_str(), pppoe["disabled"].as_str()), ("broadnet", "false"));
    assert_eq!(pppoe["one-session-per-host"], "true");
    let hsprof = one(&sim.entries("/ip/hotspot/profile"), "name", "bn-hsprof").clone();
    assert_eq!(hsprof["nas-port-type"], "ethernet");
    assert_eq!(hsprof["login-by"], "http-chap,http-pap,mac-cookie");
    let user_profile = &sim.entries("/ip/hotspot/user/profile")[0];
    assert_eq!((user_profile["shared-users"].as_str(), user_profile["mac-cookie-timeout"].as_str()), ("1", "1d"));
    assert_eq!(sim.entries("/ip/hotspot")[0]["profile"], "bn-hsprof");
    assert_eq!(sim.entries("/ip/hotspot/walled-garden")[0]["dst-host"], "portal.broadnet.example");
    assert_eq!(sim.entries("/ip/hotspot/walled-garden/ip")[0]["dst-address"], "203.0.113.10");
    assert_eq!(sim.files()["hotspot/login.html"], LOGIN_HTML.as_bytes());
    let md5 = String::from_utf8(sim.files()["hotspot/md5.js"].clone()).unwrap();
    assert!(md5.contains("function hexMD5(s)"), "the other servlet files stay: {md5}");
    assert_eq!(sim.entries("/ip/firewall/nat")[0]["action"], "masquerade");
    let filters = sim.entries("/ip/firewall/filter");
    assert_eq!(filters.len(), 4);
    assert_eq!(one(&filters, "comment", "broadnet api others")["action"], "drop");
    let mangle = sim.entries("/ip/firewall/mangle");
    assert_eq!(mangle.len(), 2);
    assert_eq!(mangle[1]["new-ttl"], "set:1");
    let api_user = one(&sim.entries("/user"), "name", "broadnet-api").clone();
    assert_eq!((api_user["password"].as_str(), api_user["group"].as_str()), ("AnotherLongRandom", "full"));
    let services = sim.entries("/ip/service");
    assert_eq!(one(&services, "name", "api")["address"], "203.0.113.10/32");
    assert_eq!(one(&services, "name", "api-ssl")["certificate"], "bn-api-cert");

    // RouterOS scripts are not idempotent by themselves: the first duplicate stops a second run
    let err = sim.run_script(&script).await.unwrap_err();
    assert_eq!(err.kind, ScriptErrorKind::Failure);
    assert_eq!(err.to_string(), "failure: already have interface with such name");
    assert_eq!((err.line, err.column), (2, 1));
    assert_eq!(sim.entries("/interface/bridge").len(), 1);
    assert_eq!(sim.entries("/ip/pool").len(), 2);
}

#[tokio::test]
async fn syntax_errors_report_line_and_column_and_run_nothing() {
    let sim = RouterSim::new(config());
    let err = sim
        .run_script("/ip pool add name=a ranges=10.0.0.2\n\n/ip address add address=\"10.0.0.1/24")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ScriptErrorKind::Syntax);
    assert_eq!(err.to_string(), "syntax error (line 3 column 25)");
    assert!(sim.entries("/ip/pool").is_empty(), "nothing ran");

    let err = sim.run_script("/frobnicate").await.unwrap_err();
    assert_eq!(err.to_string(), "bad command name frobnicate (line 1 column 2)");
    let err = sim.run_script("/ip pool\nfrobnicate name=x").await.unwrap_err();
    assert_eq!(err.to_string(), "bad command name frobnicate (line 2 column 1)");
    let err = sim.run_script(":put 1\n/ip address print detail x").await.unwrap_err();
    assert_eq!(err.to_string(), "expected end of command (line 2 column 26)");
    let err = sim.run_script("/tool fetch url=\"http://x\" bogus=1").await.unwrap_err();
    assert_eq!(err.message, "expected end of command");
    let err = sim.run_script(":if (1 = 1) do={ :put 1 ").await.unwrap_err();
    assert_eq!((err.message.as_str(), err.line, err.column), ("syntax error", 1, 16));
    let err = sim.run_script(":frob 1").await.unwrap_err();
    assert_eq!(err.to_string(), "bad command name frob (line 1 column 2)");
    let err = sim.run_script("/ip pool add name=\"a\\qb\"").await.unwrap_err();
    assert_eq!(err.message, "syntax error");
}

#[tokio::test]
async fn failures_carry_the_router_message_and_stop_the_script() {
    let sim = RouterSim::new(config());
    let err = sim
        .run_script("/ip pool add name=p ranges=10.0.0.2-10.0.0.9\n/interface bridge port add bridge=nope interface=ether2\n/ip pool add name=q ranges=10.0.1.2")
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "input does not match any value of bridge");
    assert_eq!(err.line, 2);
    let pools = sim.entries("/ip/pool");
    assert_eq!(pools.len(), 1, "what ran before the failure stays, nothing after it runs");

    let err =
        sim.run_script(":put start\n:error (\"stop \" . [/system identity get name])\n:put never").await.unwrap_err();
    assert_eq!((err.kind, err.message.as_str(), err.line), (ScriptErrorKind::Error, "stop westlands-gw", 2));
    assert_eq!(err.to_string(), "stop westlands-gw");

    let out = sim
        .run_script(":do { :error \"boom\" } on-error={ :put \"caught\" }\n:do { /ip pool add name=p ranges=1.1.1.1 } on-error={ :put \"dup\" }\n:put after")
        .await
        .unwrap();
    assert_eq!(out, "caught\ndup\nafter\n");

    let err = sim
        .run_script("/ip address remove [find address=\"1.2.3.4/24\"]\n/ip address remove 1.2.3.4")
        .await
        .unwrap_err();
    assert_eq!((err.message.as_str(), err.line), ("no such item", 2), "an empty [find] is fine, a wrong name is not");
    let err = sim.import("missing.rsc").await.unwrap_err();
    assert_eq!(err.to_string(), "no such file");
}

#[tokio::test]
async fn variables_conditions_find_and_get() {
    let sim = RouterSim::new(SimConfig { board: "RB5009UG+S+".into(), ..config() });
    let script = r#"
:local name [/system identity get name]
:put $name
:if ([:len [/ip pool find name=p1]] = 0) do={ /ip pool add name=p1 ranges=10.0.0.2-10.0.0.9 comment="x y" } else={ :put "exists" }
:if ([:len [/ip pool find name=p1]] = 0) do={ :put "missing" } else={ :put "exists" }
/ip service set [find name=api] disabled=yes
/ip service set api-ssl port=9729
/ip/service/set telnet disabled=yes
/user remove [find name="bn-api"]
:local v [/system resource get version]
:put ("v=" . $v)
:put [/system resource get board-name]
:put [:len [/ip pool find where comment="x y"]]
:global counter 5
:set counter ($counter + 1)
:put "escaped \$ \"q\" $name\tend"
/ip hotspot profile
:put [get [find name=default] html-directory]
:local n 3
:if ($n > 2 && $name != "other") do={ :put big } else={ :put small }
/system identity set name=("gw-" . $n)
/ip pool print count-only where comment="x y"
"#;
    let out = sim.run_script(script).await.unwrap();
    assert_eq!(
        out,
        "westlands-gw\nexists\nv=7.16.2 (stable)\nRB5009UG+S+\n1\nescaped $ \"q\" westlands-gw\tend\nhotspot\nbig\n1\n"
    );
    let services = sim.entries("/ip/service");
    assert_eq!(one(&services, "name", "api")["disabled"], "true");
    assert_eq!(one(&services, "name", "api-ssl")["port"], "9729");
    assert_eq!(one(&services, "name", "telnet")["disabled"], "true");
    assert_eq!(one(&sim.entries("/ip/pool"), "name", "p1")["comment"], "x y");
    assert_eq!(sim.global("counter").as_deref(), Some("6"));
    assert_eq!(sim.entries("/system/identity")[0]["name"], "gw-3");

    // a second script sees the global, not the local
    let out = sim.run_script(":global counter\n:put $counter\n:put (\"[\" . $name . \"]\")").await.unwrap();
    assert_eq!(out, "6\n[]\n");
    let out = sim
        .run_script(":local r [/system resource get]\n:put $r->\"board-name\"\n:put [/system routerboard get model]")
        .await
        .unwrap();
    assert_eq!(out, "RB5009UG+S+\nRB5009UG+S+\n");

    // print shows rows; scripts log
    let out = sim.run_script("/ip pool print\n:log info \"provisioned\"").await.unwrap();
    assert!(out.contains(";;; x y") && out.contains("name=p1 next-pool=none ranges=10.0.0.2-10.0.0.9"), "{out}");
    assert_eq!(sim.script_log(), vec![("info".to_owned(), "provisioned".to_owned())]);
}

#[tokio::test]
async fn the_terminal_keeps_its_current_menu() {
    let sim = RouterSim::new(config());
    assert_eq!(sim.terminal("/ip pool").await.unwrap(), "");
    sim.terminal("add name=t1 ranges=10.1.0.2-10.1.0.9; add name=t2 ranges=10.2.0.2").await.unwrap();
    assert_eq!(sim.terminal("print count-only").await.unwrap(), "2\n");
    assert_eq!(sim.terminal("/system identity print").await.unwrap(), "name: westlands-gw\n");
    let err = sim.terminal("add name=t1 ranges=1.1.1.1; add name=t3 ranges=1.1.1.2").await.unwrap_err();
    assert_eq!(err.message, "failure: already have such entry");
    assert_eq!(sim.entries("/ip/pool").len(), 2, "a failing command aborts the rest of the line");
}

#[tokio::test]
async fn fetch_then_import() {
    let (portal, _) = portal().await;
    let sim = RouterSim::new(config());
    let addr = sim.spawn("127.0.0.1:0").await.unwrap();
    let out = sim
        .run_script(&format!(
            "/tool fetch url=\"http://{portal}/x.rsc\" dst-path=bn.rsc\n:delay 2s\n/import file-name=bn.rsc"
        ))
        .await
        .unwrap();
    assert!(out.contains("status: finished"), "{out}");
    assert!(out.ends_with("imported\nScript file loaded and executed successfully\n"), "{out}");
    assert_eq!(one(&sim.entries("/ip/pool"), "name", "fetched")["ranges"], "10.9.0.2-10.9.0.9");
    assert_eq!(sim.files()["bn.rsc"], PROVISION_RSC.as_bytes());

    // the file shows up in /file over the API
    let client =
        Client::connect(ConnectOptions::new(addr.to_string(), "admin", "s3cret").with_timeout(Duration::from_secs(5)))
            .await
            .unwrap();
    let files = client.print("/file", &[("name", "bn.rsc")]).await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["type"], "script");
    assert_eq!(files[0]["size"], PROVISION_RSC.len().to_string());

    // the import is idempotent (guarded by :if), and runs from the terminal too
    let out = sim
        .terminal(&format!("/tool fetch url=\"http://{portal}/x.rsc\" dst-path=bn.rsc; /import bn.rsc"))
        .await
        .unwrap();
    assert!(out.contains("imported"), "{out}");
    assert_eq!(sim.entries("/ip/pool").len(), 1);
    assert!(sim.import("bn.rsc").await.unwrap().contains("imported"));

    // default dst-path: the URL's file name
    sim.run_script(&format!("/tool fetch url=\"http://{portal}/mt/login.html\"")).await.unwrap();
    assert_eq!(sim.files()["login.html"], LOGIN_HTML.as_bytes());
}

#[tokio::test]
async fn fetch_posts_the_callback_and_returns_a_map() {
    let (portal, seen) = portal().await;
    let sim = RouterSim::new(config());
    let script = format!(
        r#":local r [/tool fetch url="http://{portal}/callback" http-method=post \
    http-header-field="Content-Type: application/json" \
    http-data=("{{\"identity\":\"" . [/system identity get name] . "\",\"version\":\"" . [/system resource get version] . "\"}}") \
    output=user as-value]
:if (($r->"status") = "finished") do={{ :put ($r->"data") }}
:put ($r->status)
"#
    );
    let out = sim.run_script(&script).await.unwrap();
    assert_eq!(out, "{\"ok\":true}\nfinished\n");
    let posts = &seen.lock().unwrap().posts;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].0.as_deref(), Some("application/json"));
    assert_eq!(posts[0].1, r#"{"identity":"westlands-gw","version":"7.16.2 (stable)"}"#);
    assert!(sim.files().keys().all(|name| !name.contains("callback")), "output=user stores no file");
}

#[tokio::test]
async fn http_errors_fail_the_fetch() {
    let (portal, _) = portal().await;
    let sim = RouterSim::new(config());
    let err =
        sim.run_script(&format!("/tool fetch url=\"http://{portal}/nope.rsc\" dst-path=x.rsc")).await.unwrap_err();
    assert_eq!((err.kind, err.message.as_str()), (ScriptErrorKind::Failure, "failure: Fetch failed with status 404"));
    let err = sim.run_script(&format!(":put a\n/tool fetch url=\"http://{portal}/gone\"")).await.unwrap_err();
    assert_eq!((err.message.as_str(), err.line), ("failure: Fetch failed with status 410", 2));
    assert!(!sim.files().contains_key("x.rsc"));

    // RouterOS 6 / early 7 wording
    let old = RouterSim::new(SimConfig { version: "6.49.17".into(), ..config() });
    let err = old.run_script(&format!("/tool fetch url=\"http://{portal}/gone\"")).await.unwrap_err();
    assert_eq!(err.message, format!("failure: closing connection: <410 Gone> {portal} (4)"));

    // on-error catches it
    let out = sim
        .run_script(&format!(":do {{ /tool fetch url=\"http://{portal}/gone\" }} on-error={{ :put \"fetch failed\" }}"))
        .await
        .unwrap();
    assert_eq!(out, "fetch failed\n");

    // nobody listening
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let err = sim.run_script(&format!("/tool fetch url=\"http://{closed}/x\"")).await.unwrap_err();
    assert!(err.message.starts_with("failure: closing connection: <connection failed>"), "{err}");
    let err = sim.run_script(&format!("/tool fetch url=\"http://{portal}/x.rsc\" http-method=fly")).await.unwrap_err();
    assert_eq!(err.message, "input does not match any value of http-method");
}

#[tokio::test]
async fn scheduler_entries_are_stored() {
    let sim = RouterSim::new(config());
    sim.run_script(
        r#"/system scheduler add name=bn-sync interval=10m start-time=00:00:00 comment=broadnet \
  on-event="/tool fetch url=\"https://portal.broadnet.example/provision/TOKEN.rsc\" dst-path=bn.rsc; :delay 2s; /import file-name=bn.rsc""#,
    )
    .await
    .unwrap();
    let entry = &sim.entries("/system/scheduler")[0];
    assert_eq!(entry["interval"], "10m");
    assert_eq!(
        entry["on-event"],
        "/tool fetch url=\"https://portal.broadnet.example/provision/TOKEN.rsc\" dst-path=bn.rsc; :delay 2s; /import file-name=bn.rsc"
    );
    sim.put_file("local.rsc", b"/system scheduler remove bn-sync\n").unwrap();
    sim.import("local.rsc").await.unwrap();
    assert!(sim.entries("/system/scheduler").is_empty());
}
