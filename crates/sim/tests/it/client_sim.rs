#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The client against the in-process simulator.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use broadnet_routeros::{Client, ConnectOptions, Ensured, Pool, Reconnecting, RosError};
use broadnet_sim::routeros::{ActiveKind, RouterSim, SimConfig};

fn config() -> SimConfig {
    SimConfig {
        identity: "westlands-gw".into(),
        version: "7.16.2".into(),
        board: "hEX".into(),
        users: vec![("admin".into(), "s3cret".into(), "full".into())],
        legacy_login: false,
        ..SimConfig::default()
    }
}

async fn start(config: SimConfig) -> (RouterSim, SocketAddr) {
    let sim = RouterSim::new(config);
    let addr = sim.spawn("127.0.0.1:0").await.unwrap();
    (sim, addr)
}

fn opts(addr: SocketAddr) -> ConnectOptions {
    ConnectOptions::new(addr.to_string(), "admin", "s3cret").with_timeout(Duration::from_secs(5))
}

async fn connect(addr: SocketAddr) -> Client {
    Client::connect(opts(addr)).await.unwrap()
}

fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Wait until the simulator has received a sentence starting with `path`.
async fn wait_for_command(sim: &RouterSim, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sim.command_log().iter().any(|words| words.first().is_some_and(|w| w == path)) {
        assert!(Instant::now() < deadline, "the simulator never received {path}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn login_ok_and_wrong_password() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;
    assert_eq!(client.identity().await.unwrap(), "westlands-gw");

    let err = Client::connect(ConnectOptions::new(addr.to_string(), "admin", "wrong")).await.unwrap_err();
    assert_eq!(err, RosError::Login("invalid user name or password (6)".into()));
    assert!(err.to_string().contains("invalid user name or password"), "{err}");

    let err = Client::connect(ConnectOptions::new(addr.to_string(), "nobody", "s3cret")).await.unwrap_err();
    assert!(matches!(err, RosError::Login(_)), "{err:?}");

    // the plain 6.43+ login was used, tagged
    let login = sim.command_log().into_iter().find(|w| w[0] == "/login").unwrap();
    assert!(login.contains(&"=name=admin".to_owned()));
    assert!(login.contains(&"=password=s3cret".to_owned()));
    assert!(login.iter().any(|w| w.starts_with(".tag=")));
}

#[tokio::test]
async fn legacy_challenge_login() {
    let (sim, addr) = start(SimConfig { legacy_login: true, version: "6.42.12".into(), ..config() }).await;
    let client = connect(addr).await;
    assert_eq!(client.identity().await.unwrap(), "westlands-gw");
    let logins: Vec<Vec<String>> = sim.command_log().into_iter().filter(|w| w[0] == "/login").collect();
    assert_eq!(logins.len(), 2, "{logins:?}");
    let response = logins[1].iter().find_map(|w| w.strip_prefix("=response=")).unwrap();
    assert!(response.starts_with("00") && response.len() == 34, "{response}");

    let err = Client::connect(ConnectOptions::new(addr.to_string(), "admin", "wrong")).await.unwrap_err();
    assert_eq!(err, RosError::Login("cannot log in".into()));
}

#[tokio::test]
async fn commands_before_login_are_fatal() {
    use broadnet_routeros::codec::{Decoder, Reply, ReplyKind, encode_sentence};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (_sim, addr) = start(config()).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&encode_sentence(&["/ip/address/print", ".tag=1"]).unwrap()).await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut bytes)).await.unwrap().unwrap();
    let sentences = Decoder::new().decode(&bytes).unwrap();
    assert_eq!(sentences.len(), 1);
    let reply = Reply::parse(&sentences[0]).unwrap();
    assert_eq!(reply.kind, ReplyKind::Fatal);
    assert_eq!(reply.get("message"), Some("not logged in"));

    // the same through the client: a failed login leaves no session
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let err = Client::connect_stream(stream, "admin", "wrong", Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, RosError::Login(_)));
}

#[tokio::test]
async fn print_with_query_and_proplist() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;
    let ethers = client.print("/interface/ethernet", &[]).await.unwrap();
    assert_eq!(ethers.len(), 5);
    assert_eq!(ethers[0]["name"], "ether1");
    assert!(ethers[0][".id"].starts_with('*'));

    client.add("/interface/bridge", &[("name", "bn-bridge")]).await.unwrap();
    client.add("/ip/address", &[("address", "10.10.10.1/24"), ("interface", "bn-bridge")]).await.unwrap();
    client.add("/ip/address", &[("address", "192.168.88.1/24"), ("interface", "ether2")]).await.unwrap();

    let rows = client.run(&["/ip/address/print", "?interface=bn-bridge"]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["address"], "10.10.10.1/24");
    assert_eq!(rows[0]["network"], "10.10.10.0");

    let rows = client.print("/ip address", &[("interface", "ether2")]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["address"], "192.168.88.1/24");

    // OR query, negation, .proplist
    let rows = client
        .run(&["/ip/address/print", "=.proplist=address", "?interface=ether2", "?interface=bn-bridge", "?#|"])
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].keys().collect::<Vec<_>>(), vec!["address"]);
    let rows = client.run(&["/interface/ethernet/print", "?name=ether1", "?#!"]).await.unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(sim.print("/ip/address", &["?-comment"]).unwrap().len(), 2);
}

#[tokio::test]
async fn add_set_remove() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;
    let id = client.add("/ip/address", &[("address", "10.5.50.1/24"), ("interface", "ether2")]).await.unwrap();
    assert!(id.starts_with('*'), "{id}");
    assert_eq!(sim.entries("/ip/address")[0]["address"], "10.5.50.1/24");

    client.set("/ip/address", &id, &[("comment", "lan"), ("disabled", "yes")]).await.unwrap();
    let entry = &sim.entries("/ip/address")[0];
    assert_eq!(entry["comment"], "lan");
    assert_eq!(entry["disabled"], "true");

    client.remove("/ip/address", &id).await.unwrap();
    assert!(sim.entries("/ip/address").is_empty());

    let err = client.set("/ip/address", "*99", &[("comment", "x")]).await.unwrap_err();
    assert_eq!(err.trap_message(), Some("no such item"));
    let err = client.remove("/ip/address", &id).await.unwrap_err();
    assert_eq!(err.trap_message(), Some("no such item"));

    // settings objects
    client.set_settings("/radius/incoming", &[("accept", "yes"), ("port", "3799")]).await.unwrap();
    let incoming = client.print("/radius/incoming", &[]).await.unwrap();
    assert_eq!(incoming, vec![row(&[("accept", "true"), ("port", "3799"), ("vrf", "main")])]);
    client.set_settings("/system/identity", &[("name", "renamed")]).await.unwrap();
    assert_eq!(client.identity().await.unwrap(), "renamed");
    // names work as ids on named menus
    client.set("/ip/service", "api", &[("address", "203.0.113.10/32")]).await.unwrap();
    assert_eq!(client.print("/ip/service", &[("name", "api")]).await.unwrap()[0]["address"], "203.0.113.10/32");
}

#[tokio::test]
async fn traps_carry_the_router_message() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;

    let err = client.add("/ip/address", &[("interface", "ether2")]).await.unwrap_err();
    assert_eq!(err.trap_message(), Some("failure: missing address"));
    assert_eq!(err.to_string(), "router refused: failure: missing address");

    let err = client.add("/ip/address", &[("address", "10.0.0.1/24"), ("interface", "ether9")]).await.unwrap_err();
    assert_eq!(err.trap_message(), Some("input does not match any value of interface"));

    let err = client.run(&["/caps-man/interface/print"]).await.unwrap_err();
    assert_eq!(err, RosError::Trap { category: Some(0), message: "no such command prefix".into() });

    sim.fail_next("/ip/pool", "not enough privileges");
    let err = client.add("/ip/pool", &[("name", "p"), ("ranges", "10.0.0.2-10.0.0.9")]).await.unwrap_err();
    assert_eq!(err, RosError::Trap { category: None, message: "not enough privileges".into() });
    assert!(sim.entries("/ip/pool").is_empty(), "a failed command changes nothing");
    // the fault was one-shot and the connection is still fine
    client.add("/ip/pool", &[("name", "p"), ("ranges", "10.0.0.2-10.0.0.9")]).await.unwrap();
    let err = client.add("/ip/pool", &[("name", "p"), ("ranges", "10.0.0.2-10.0.0.9")]).await.unwrap_err();
    assert_eq!(err.trap_message(), Some("failure: already have such entry"));
}

#[tokio::test]
async fn empty_reply_is_success_with_no_rows() {
    let (sim, addr) = start(SimConfig { version: "7.19.4".into(), ..config() }).await;
    let client = connect(addr).await;
    let response = client.execute(&["/ip/hotspot/active/print"]).await.unwrap();
    assert!(response.rows.is_empty());
    assert!(response.empty, "a 7.18+ router answers an empty print with !empty");
    assert!(client.print("/ip/firewall/nat", &[]).await.unwrap().is_empty());
    assert_eq!(client.find_by_comment("/ip/firewall/nat", "broadnet").await.unwrap(), None);
    assert_eq!(client.active_counts().await.unwrap(), (0, 0));
    drop(sim);

    // a 7.16 router answers the same print with a bare !done
    let (_sim, addr) = start(config()).await;
    let response = connect(addr).await.execute(&["/ip/hotspot/active/print"]).await.unwrap();
    assert!(response.rows.is_empty());
    assert!(!response.empty);
}

#[tokio::test]
async fn twenty_concurrent_commands_share_one_connection() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;
    for i in 0..20 {
        client.add("/ip/address", &[("address", &format!("10.0.{i}.1/24")), ("interface", "ether2")]).await.unwrap();
    }
    // answers come back in the reverse order of arrival
    for i in 0..20u64 {
        sim.delay_next("/ip/address/print", Duration::from_millis(200 - i * 10));
    }
    let finished = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = client.clone();
        let finished = finished.clone();
        tasks.push(tokio::spawn(async move {
            let address = format!("10.0.{i}.1/24");
            let rows = client.print("/ip/address", &[("address", &address)]).await.unwrap();
            finished.lock().unwrap().push(format!("?address={address}"));
            (address, rows)
        }));
    }
    for task in tasks {
        let (address, rows) = task.await.unwrap();
        assert_eq!(rows.len(), 1, "{address}");
        assert_eq!(rows[0]["address"], address);
    }
    // the first command to reach the router was answered among the last
    let first_arrived = sim
        .command_log()
        .into_iter()
        .find(|w| w[0] == "/ip/address/print")
        .and_then(|w| w.into_iter().find(|x| x.starts_with("?address=")))
        .unwrap();
    let position = finished.lock().unwrap().iter().position(|q| *q == first_arrived).unwrap();
    assert!(position >= 10, "answered {position}th");
    assert_eq!(sim.connection_count(), 1);
    let tags: std::collections::HashSet<String> = sim
        .command_log()
        .iter()
        .filter(|w| w[0] == "/ip/address/print")
        .map(|w| w.iter().find(|x| x.starts_with(".tag=")).unwrap().clone())
        .collect();
    assert_eq!(tags.len(), 20);
}

#[tokio::test]
async fn a_command_times_out_and_the_connection_survives() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;
    sim.stall_next("/system/resource");
    let started = Instant::now();
    let err = client.execute_with_timeout(&["/system/resource/print"], Duration::from_millis(200)).await.unwrap_err();
    assert_eq!(err, RosError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!client.is_closed());
    // the client cancelled the command on the router, and the connection still works
    wait_for_command(&sim, "/cancel").await;
    let resource = client.system_resource().await.unwrap();
    assert_eq!(resource.board_name, "hEX");
    assert!(resource.version.starts_with("7.16.2"));
    assert!(resource.total_memory > resource.free_memory && resource.free_memory > 0);
    assert!(broadnet_routeros::parse_uptime(&resource.uptime).is_some(), "{}", resource.uptime);
}

#[tokio::test]
async fn the_router_dying_mid_command_fails_the_call() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;
    sim.stall_next("/ip/address/print");
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.print("/ip/address", &[]).await }
    });
    wait_for_command(&sim, "/ip/address/print").await;
    let started = Instant::now();
    sim.shutdown();
    let err = pending.await.unwrap().unwrap_err();
    assert!(matches!(err, RosError::Io(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "failed at once, not by timeout");
    assert!(err.to_string().contains("closed"), "{err}");
    assert!(client.is_closed());
    // later calls fail at once too
    let err = client.identity().await.unwrap_err();
    assert!(matches!(err, RosError::Io(_)), "{err:?}");
    // and nobody can connect any more
    assert!(matches!(Client::connect(opts(addr)).await.unwrap_err(), RosError::Io(_)));
}

#[tokio::test]
async fn a_dropped_connection_fails_every_pending_call() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;
    sim.stall_next("/interface/ethernet/print");
    sim.stall_next("/interface/ethernet/print");
    let a = tokio::spawn({
        let c = client.clone();
        async move { c.print("/interface/ethernet", &[]).await }
    });
    let b = tokio::spawn({
        let c = client.clone();
        async move { c.print("/interface/ethernet", &[]).await }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.command_log().iter().filter(|w| w[0] == "/interface/ethernet/print").count() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.drop_next("/system");
    let err = client.identity().await.unwrap_err();
    assert!(matches!(err, RosError::Io(_)), "{err:?}");
    assert!(matches!(a.await.unwrap(), Err(RosError::Io(_))));
    assert!(matches!(b.await.unwrap(), Err(RosError::Io(_))));
}

#[tokio::test]
async fn quit_gives_fatal() {
    let (_sim, addr) = start(config()).await;
    let client = connect(addr).await;
    let err = client.run(&["/quit"]).await.unwrap_err();
    assert_eq!(err, RosError::Fatal("session terminated on request".into()));
    assert_eq!(err.to_string(), "router closed the session: session terminated on request");
    assert!(client.is_closed());
}

#[tokio::test]
async fn reconnecting_and_pool_replace_dead_connections() {
    let (sim, addr) = start(config()).await;
    let router = Reconnecting::new(opts(addr));
    let first = router.client().await.unwrap();
    assert_eq!(first.identity().await.unwrap(), "westlands-gw");
    sim.disconnect_all();
    let err = first.identity().await.unwrap_err();
    assert!(err.is_connection_lost(), "{err:?}");
    let second = router.client().await.unwrap();
    assert_eq!(second.identity().await.unwrap(), "westlands-gw");
    // a live connection is reused
    let third = router.client().await.unwrap();
    third.identity().await.unwrap();
    assert_eq!(sim.connection_count(), 1);

    let pool = Pool::new();
    let a = pool.client("router-1", &opts(addr)).await.unwrap();
    a.identity().await.unwrap();
    sim.disconnect_all();
    // wait for the client to notice
    let deadline = Instant::now() + Duration::from_secs(5);
    while !a.is_closed() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let b = pool.client("router-1", &opts(addr)).await.unwrap();
    assert_eq!(b.identity().await.unwrap(), "westlands-gw");
    assert_eq!(pool.keys(), vec!["router-1".to_owned()]);
    // new credentials replace the pooled connection
    let err = pool.client("router-1", &ConnectOptions::new(addr.to_string(), "admin", "changed")).await.unwrap_err();
    assert!(matches!(err, RosError::Login(_)));
    pool.forget("router-1");
    assert!(pool.keys().is_empty());
}

#[tokio::test]
async fn ensure_adds_then_leaves_alone_then_updates() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;
    let attrs = [("address", "10.10.10.1/24"), ("interface", "ether2"), ("disabled", "no")];
    let added = client.ensure("/ip/address", "broadnet:lan", &attrs).await.unwrap();
    let Ensured::Added(id) = &added else { panic!("{added:?}") };
    assert_eq!(sim.entries("/ip/address")[0]["comment"], "broadnet:lan");

    // disabled=no is printed back as false: still unchanged
    assert_eq!(client.ensure("/ip/address", "broadnet:lan", &attrs).await.unwrap(), Ensured::Unchanged(id.clone()));
    assert_eq!(sim.entries("/ip/address").len(), 1);

    // someone changed it on the router: only the differing attribute is set back
    sim.apply("/ip/address", "set", &[(".id", id.as_str()), ("interface", "ether3")]).unwrap();
    sim.clear_command_log();
    assert_eq!(client.ensure("/ip/address", "broadnet:lan", &attrs).await.unwrap(), Ensured::Updated(id.clone()));
    let set = sim.command_log().into_iter().find(|w| w[0] == "/ip/address/set").unwrap();
    assert!(set.contains(&"=interface=ether2".to_owned()));
    assert!(!set.iter().any(|w| w.starts_with("=address=")), "{set:?}");
    assert_eq!(sim.entries("/ip/address")[0]["interface"], "ether2");

    // a new wanted value
    let changed = client
        .ensure("/ip/address", "broadnet:lan", &[("address", "10.10.20.1/24"), ("interface", "ether2")])
        .await
        .unwrap();
    assert_eq!(changed, Ensured::Updated(id.clone()));
    assert!(changed.changed());
    assert_eq!(sim.entries("/ip/address")[0]["network"], "10.10.20.0");

    // settings objects
    assert!(client.ensure_settings("/ppp/aaa", &[("use-radius", "yes"), ("interim-update", "5m")]).await.unwrap());
    assert!(!client.ensure_settings("/ppp/aaa", &[("use-radius", "yes"), ("interim-update", "5m")]).await.unwrap());
}

#[tokio::test]
async fn resource_identity_and_active_sessions() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;
    sim.set_resource("cpu-load", "42");
    let resource = client.system_resource().await.unwrap();
    assert_eq!(resource.cpu_load, 42);
    assert_eq!(resource.total_memory, 268_435_456);

    assert_eq!(client.active_counts().await.unwrap(), (0, 0));
    sim.set_active(
        ActiveKind::Ppp,
        vec![
            row(&[("name", "alice"), ("service", "pppoe"), ("address", "10.20.0.5")]),
            row(&[("name", "bob"), ("service", "pppoe"), ("address", "10.20.0.6")]),
        ],
    );
    sim.set_active(ActiveKind::Hotspot, vec![row(&[("user", "0712345678"), ("address", "10.10.10.50")])]);
    assert_eq!(client.active_counts().await.unwrap(), (2, 1));
    assert_eq!(client.count("/ppp/active", &[("name", "alice")]).await.unwrap(), 1);

    // kicking a session through the API (reference §5.4)
    let alice = client.print("/ppp/active", &[("name", "alice")]).await.unwrap().remove(0);
    client.remove("/ppp/active", &alice[".id"]).await.unwrap();
    assert_eq!(client.active_counts().await.unwrap(), (1, 1));
    let err = client.add("/ppp/active", &[("name", "x")]).await.unwrap_err();
    assert_eq!(err.trap_message(), Some("no such command or directory (add)"));
}

#[tokio::test]
async fn api_ssl_with_self_signed_certificate() {
    let sim = RouterSim::new(config());
    let addr = sim.spawn_tls("127.0.0.1:0").await.unwrap();
    let client = Client::connect(opts(addr).with_tls(true)).await.unwrap();
    assert_eq!(client.identity().await.unwrap(), "westlands-gw");

    let err = Client::connect(opts(addr).with_tls(false)).await.unwrap_err();
    let RosError::Io(message) = &err else { panic!("{err:?}") };
    assert!(message.contains("certificate"), "{message}");
}

#[tokio::test]
async fn provisioning_recipe_is_idempotent() {
    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;

    type Step<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let steps: Vec<Step> = vec![
        ("/interface/bridge", "bn:bridge", vec![("name", "bn-bridge")]),
        ("/interface/bridge/port", "bn:port:ether2", vec![("bridge", "bn-bridge"), ("interface", "ether2")]),
        ("/interface/bridge/port", "bn:port:ether3", vec![("bridge", "bn-bridge"), ("interface", "ether3")]),
        ("/ip/address", "bn:lan", vec![("address", "10.10.10.1/24"), ("interface", "bn-bridge")]),
        ("/ip/pool", "bn:pool", vec![("name", "bn-pool"), ("ranges", "10.10.10.10-10.10.10.254")]),
        (
            "/ip/dhcp-server",
            "bn:dhcp",
            vec![
                ("name", "bn-dhcp"),
                ("interface", "bn-bridge"),
                ("address-pool", "bn-pool"),
                ("lease-time", "1h"),
                ("disabled", "no"),
            ],
        ),
        (
            "/ip/dhcp-server/network",
            "bn:dhcp-net",
            vec![("address", "10.10.10.0/24"), ("gateway", "10.10.10.1"), ("dns-server", "10.10.10.1")],
        ),
        (
            "/radius",
            "bn:radius",
            vec![
                ("address", "203.0.113.10"),
                ("secret", "LongRandomSecret"),
                ("service", "ppp,hotspot"),
                ("timeout", "3s"),
            ],
        ),
        ("/ip/pool", "bn:pppoe-pool", vec![("name", "bn-pppoe-pool"), ("ranges", "10.20.0.2-10.20.255.254")]),
        ("/interface/list", "bn:ppp-list", vec![("name", "bn-ppp-clients")]),
        (
            "/ppp/profile",
            "bn:pppoe-profile",
            vec![
                ("name", "bn-pppoe"),
                ("local-address", "10.20.0.1"),
                ("remote-address", "bn-pppoe-pool"),
                ("dns-server", "10.20.0.1"),
                ("change-tcp-mss", "yes"),
                ("interface-list", "bn-ppp-clients"),
            ],
        ),
        (
            "/interface/pppoe-server/server",
            "bn:pppoe",
            vec![
                ("service-name", "broadnet"),
                ("interface", "bn-bridge"),
                ("default-profile", "bn-pppoe"),
                ("authentication", "pap,chap,mschap1,mschap2"),
                ("one-session-per-host", "yes"),
                ("disabled", "no"),
            ],
        ),
        (
            "/ip/hotspot/profile",
            "bn:hsprof",
            vec![
                ("name", "bn-hsprof"),
                ("hotspot-address", "10.10.10.1"),
                ("dns-name", "wifi.broadnet.example"),
                ("login-by", "http-chap,http-pap,mac-cookie"),
                ("use-radius", "yes"),
                ("radius-accounting", "yes"),
                ("radius-interim-update", "received"),
                ("nas-port-type", "ethernet"),
            ],
        ),
        (
            "/ip/hotspot",
            "bn:hotspot",
            vec![
                ("name", "bn-hotspot"),
                ("interface", "bn-bridge"),
                ("address-pool", "bn-pool"),
                ("profile", "bn-hsprof"),
                ("disabled", "no"),
            ],
        ),
        ("/ip/hotspot/walled-garden", "bn:wg", vec![("dst-host", "portal.broadnet.example"), ("action", "allow")]),
        ("/ip/hotspot/walled-garden/ip", "bn:wg-ip", vec![("dst-address", "203.0.113.10"), ("action", "accept")]),
        (
            "/ip/firewall/nat",
            "bn:masq",
            vec![("chain", "srcnat"), ("out-interface", "ether1"), ("action", "masquerade")],
        ),
        (
            "/ip/firewall/filter",
            "bn:est",
            vec![("chain", "input"), ("connection-state", "established,related"), ("action", "accept")],
        ),
        (
            "/ip/firewall/mangle",
            "bn:ttl",
            vec![
                ("chain", "postrouting"),
                ("out-interface", "bn-bridge"),
                ("action", "change-ttl"),
                ("new-ttl", "set:1"),
                ("passthrough", "yes"),
            ],
        ),
    ];
    for round in 0..2 {
        for (menu, comment, attrs) in &steps {
            let outcome = client.ensure(menu, comment, attrs).await.unwrap_or_else(|e| panic!("{menu}: {e}"));
            match round {
                0 => assert!(matches!(outcome, Ensured::Added(_)), "{menu}: {outcome:?}"),
                _ => assert!(matches!(outcome, Ensured::Unchanged(_)), "{menu}: {outcome:?}"),
            }
        }
        assert!(
            client.ensure_settings("/radius/incoming", &[("accept", "yes"), ("port", "3799")]).await.unwrap()
                == (round == 0)
        );
        assert!(
            client
                .ensure_settings("/ppp/aaa", &[("use-radius", "yes"), ("accounting", "yes"), ("interim-update", "5m")])
                .await
                .unwrap()
                == (round == 0)
        );
    }
    assert_eq!(sim.entries("/interface/bridge/port").len(), 2);
    assert_eq!(sim.entries("/ip/pool").len(), 2);
    assert_eq!(sim.entries("/interface/pppoe-server/server")[0]["disabled"], "false");
    assert_eq!(sim.entries("/ip/hotspot/profile").len(), 2);
    assert_eq!(sim.entries("/ppp/profile").len(), 3);

    // /user with a password: added, and the new user can log in
    client
        .add(
            "/user",
            &[("name", "broadnet-api"), ("group", "full"), ("password", "AnotherLongRandom"), ("comment", "bn")],
        )
        .await
        .unwrap();
    assert!(!client.print("/user", &[("name", "broadnet-api")]).await.unwrap()[0].contains_key("password"));
    let api_user =
        Client::connect(ConnectOptions::new(addr.to_string(), "broadnet-api", "AnotherLongRandom")).await.unwrap();
    assert_eq!(api_user.identity().await.unwrap(), "westlands-gw");
}

#[tokio::test]
async fn handles_and_futures_are_send() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send_future<F: std::future::Future + Send>(f: F) -> F {
        f
    }
    send_sync::<Client>();
    send_sync::<RouterSim>();
    send_sync::<Pool>();
    send_sync::<Reconnecting>();
    send_sync::<RosError>();

    let (sim, addr) = start(config()).await;
    let client = connect(addr).await;
    let ensured = tokio::spawn(send_future({
        let client = client.clone();
        async move { client.ensure("/ip/pool", "bn:pool", &[("name", "bn-pool"), ("ranges", "10.0.0.2-10.0.0.9")]).await }
    }));
    assert!(matches!(ensured.await.unwrap().unwrap(), Ensured::Added(_)));
    let counts = tokio::spawn(send_future(async move { client.active_counts().await }));
    assert_eq!(counts.await.unwrap().unwrap(), (0, 0));
    let pool = std::sync::Arc::new(Pool::new());
    let pooled = tokio::spawn(send_future(async move { pool.client("r", &opts(addr)).await?.system_resource().await }));
    assert_eq!(pooled.await.unwrap().unwrap().board_name, "hEX");

    // the simulator's script and NAS futures can be spawned too
    send_sync::<broadnet_sim::routeros::NasSession>();
    send_sync::<broadnet_sim::routeros::ScriptError>();
    let sim2 = sim.clone();
    let out = tokio::spawn(send_future(async move { sim2.run_script(":put [/system identity get name]").await }));
    assert_eq!(out.await.unwrap().unwrap(), "westlands-gw\n");
    let login = tokio::spawn(send_future(async move {
        sim.pppoe_login("a", "b", "aa:bb:cc:dd:ee:ff", broadnet_sim::routeros::Auth::Pap)
            .await
            .map(|s| s.user().to_owned())
    }));
    assert_eq!(login.await.unwrap(), Err(broadnet_sim::routeros::LoginError::NoRadius));
}
