#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The simulator as a NAS: PPPoE/hotspot logins against a RADIUS server, accounting, and
//! Disconnect/CoA on `/radius incoming`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broadnet_radius::dict::{VENDOR_MIKROTIK, acct_status, attr, mikrotik, nas_port_type, service_type};
use broadnet_radius::{Avp, Code, Packet, crypto, encode_request, encode_response, verify_request, verify_response};
use broadnet_sim::routeros::{ActiveKind, Auth, LoginError, RouterSim, SimConfig};
use tokio::net::UdpSocket;

const SECRET: &str = "s3cret-radius";

/// A minimal RADIUS server: Access (PAP/CHAP against a user table) and Accounting.
#[derive(Clone)]
struct Radius {
    auth: SocketAddr,
    acct: SocketAddr,
    requests: Arc<Mutex<Vec<Packet>>>,
    accounting: Arc<Mutex<Vec<Packet>>>,
}

impl Radius {
    async fn start() -> Radius {
        let auth_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let acct_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let radius = Radius {
            auth: auth_socket.local_addr().unwrap(),
            acct: acct_socket.local_addr().unwrap(),
            requests: Arc::default(),
            accounting: Arc::default(),
        };
        let requests = radius.requests.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let (n, from) = auth_socket.recv_from(&mut buf).await.unwrap();
                let raw = &buf[..n];
                let request = Packet::decode(raw).unwrap();
                assert_eq!(request.code, Code::AccessRequest);
                assert_eq!(verify_request(raw, &request, SECRET.as_bytes()), Ok(true), "Message-Authenticator");
                requests.lock().unwrap().push(request.clone());
                let user = request.text(attr::USER_NAME).unwrap();
                let password = match user.as_str() {
                    "alice" | "carol" => "alice-pw",
                    "bob" => "bob-pw",
                    _ => "",
                };
                let ok = if let Some(hidden) = request.get(attr::USER_PASSWORD) {
                    crypto::unhide_password(hidden, SECRET.as_bytes(), &request.authenticator).unwrap()
                        == password.as_bytes()
                } else {
                    let chap = request.get(attr::CHAP_PASSWORD).unwrap();
                    let challenge = request.get(attr::CHAP_CHALLENGE).unwrap();
                    crypto::chap_verify(chap, challenge, password.as_bytes())
                };
                let (code, attrs) = if ok && !password.is_empty() {
                    let mut attrs = vec![
                        Avp::mikrotik_text(mikrotik::RATE_LIMIT, "2M/4M"),
                        Avp::int(attr::SESSION_TIMEOUT, 3600),
                        Avp::text(attr::CLASS, &format!("cls-{user}")),
                    ];
                    if user == "bob" {
                        attrs.push(Avp::ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::new(10, 20, 5, 5)));
                    }
                    (Code::AccessAccept, attrs)
                } else {
                    (Code::AccessReject, vec![Avp::text(attr::REPLY_MESSAGE, "bad password")])
                };
                let reply = encode_response(code, &request, &attrs, SECRET.as_bytes(), true).unwrap();
                auth_socket.send_to(&reply, from).await.unwrap();
            }
        });
        let accounting = radius.accounting.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let (n, from) = acct_socket.recv_from(&mut buf).await.unwrap();
                let raw = &buf[..n];
                let request = Packet::decode(raw).unwrap();
                assert_eq!(request.code, Code::AccountingRequest);
                assert!(verify_request(raw, &request, SECRET.as_bytes()).is_ok(), "Request Authenticator");
                accounting.lock().unwrap().push(request.clone());
                let reply = encode_response(Code::AccountingResponse, &request, &[], SECRET.as_bytes(), false).unwrap();
                acct_socket.send_to(&reply, from).await.unwrap();
            }
        });
        radius
    }

    fn accounting_for(&self, session: &str) -> Vec<Packet> {
        self.accounting
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.text(attr::ACCT_SESSION_ID).as_deref() == Some(session))
            .cloned()
            .collect()
    }

    /// Wait for the accounting packet of `session` with this Acct-Status-Type.
    async fn wait_accounting(&self, session: &str, status: u32) -> Packet {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(p) =
                self.accounting_for(session).into_iter().find(|p| p.int(attr::ACCT_STATUS_TYPE) == Some(status))
            {
                return p;
            }
            assert!(Instant::now() < deadline, "no accounting {status} for {session}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn config() -> SimConfig {
    SimConfig { identity: "westlands-gw".into(), ..SimConfig::default() }
}

/// A router configured (through its own script interpreter) to use `radius`.
async fn router(radius: &Radius) -> RouterSim {
    let sim = RouterSim::new(config());
    sim.run_script(&format!(
        r#"/radius add address=127.0.0.1 secret="{SECRET}" service=ppp,hotspot authentication-port={} \
    accounting-port={} timeout=300ms comment=broadnet
/radius incoming set accept=yes port=0
/ppp aaa set use-radius=yes accounting=yes interim-update=5m
/ip pool add name=bn-pppoe-pool ranges=10.20.0.2-10.20.0.254
/ppp profile add name=bn-pppoe local-address=10.20.0.1 remote-address=bn-pppoe-pool
/interface pppoe-server server add service-name=broadnet interface=ether2 default-profile=bn-pppoe disabled=no
/ip hotspot profile add name=bn-hsprof use-radius=yes nas-port-type=ethernet
/ip hotspot add name=bn-hotspot interface=ether3 profile=bn-hsprof
"#,
        radius.auth.port(),
        radius.acct.port()
    ))
    .await
    .unwrap();
    sim
}

/// Send a Disconnect/CoA request to the simulator; the verified reply, or `None` after `wait`.
async fn dynamic(sim: &RouterSim, code: Code, attrs: &[Avp], secret: &str, wait: Duration) -> Option<Packet> {
    let target = sim.radius_incoming_addr().expect("/radius incoming listens");
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let raw = encode_request(code, 7, attrs, secret.as_bytes(), true, [0; 16]).unwrap();
    let mut request_auth = [0u8; 16];
    request_auth.copy_from_slice(&raw[4..20]);
    socket.send_to(&raw, target).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, from) = tokio::time::timeout(wait, socket.recv_from(&mut buf)).await.ok()?.unwrap();
    assert_eq!(from, target);
    assert_eq!(verify_response(&buf[..n], &request_auth, secret.as_bytes()), Ok(true), "reply authenticator + MA");
    Some(Packet::decode(&buf[..n]).unwrap())
}

#[tokio::test]
async fn pppoe_pap_login_accounting_and_logout() {
    let radius = Radius::start().await;
    let sim = router(&radius).await;
    let session = sim.pppoe_login("alice", "alice-pw", "aa:bb:cc:00:00:01", Auth::Pap).await.unwrap();
    assert_eq!(session.address(), Some(Ipv4Addr::new(10, 20, 0, 2)), "first address of the profile's pool");
    assert_eq!(session.rate_limit().as_deref(), Some("2M/4M"));
    assert_eq!(session.session_timeout(), Some(3600));

    let request = radius.requests.lock().unwrap()[0].clone();
    assert_eq!(request.text(attr::USER_NAME).as_deref(), Some("alice"));
    assert!(request.has(attr::USER_PASSWORD) && !request.has(attr::CHAP_PASSWORD));
    assert_eq!(request.text(attr::NAS_IDENTIFIER).as_deref(), Some("westlands-gw"));
    assert_eq!(request.ipv4(attr::NAS_IP_ADDRESS), Some(Ipv4Addr::LOCALHOST));
    assert_eq!(request.int(attr::NAS_PORT_TYPE), Some(nas_port_type::ETHERNET));
    assert_eq!(request.int(attr::SERVICE_TYPE), Some(service_type::FRAMED_USER));
    assert_eq!(request.int(attr::FRAMED_PROTOCOL), Some(1));
    assert_eq!(request.text(attr::CALLING_STATION_ID).as_deref(), Some("AA:BB:CC:00:00:01"));
    assert_eq!(request.text(attr::CALLED_STATION_ID).as_deref(), Some("broadnet"));
    assert_eq!(request.text(attr::NAS_PORT_ID).as_deref(), Some("ether2"));
    assert_eq!(request.text(attr::ACCT_SESSION_ID).as_deref(), Some(session.session_id()));
    assert_eq!(request.attrs[0].typ, attr::MESSAGE_AUTHENTICATOR);

    let rows = sim.entries("/ppp/active");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["name"], "alice");
    assert_eq!(row["address"], "10.20.0.2");
    assert_eq!(row["caller-id"], "AA:BB:CC:00:00:01");
    assert_eq!(row["session-id"], session.session_id());
    assert_eq!(row["limit"], "2M/4M");
    assert_eq!(row["session-timeout"], "1h0m0s");
    assert!(row["uptime"].ends_with('s'));

    let start = radius.wait_accounting(session.session_id(), acct_status::START).await;
    assert_eq!(start.ipv4(attr::FRAMED_IP_ADDRESS), Some(Ipv4Addr::new(10, 20, 0, 2)));
    assert_eq!(start.text(attr::CLASS).as_deref(), Some("cls-alice"), "Class echoed");
    assert_eq!(start.int(attr::ACCT_AUTHENTIC), Some(1));

    session.interim(1_000, 5_000_000_000).await.unwrap();
    let interim = radius.wait_accounting(session.session_id(), acct_status::INTERIM_UPDATE).await;
    assert_eq!(interim.int(attr::ACCT_INPUT_OCTETS), Some(1_000));
    assert_eq!(interim.int(attr::ACCT_OUTPUT_GIGAWORDS), Some(1));
    assert_eq!(interim.int(attr::ACCT_OUTPUT_OCTETS), Some(705_032_704));
    assert!(interim.has(attr::ACCT_SESSION_TIME));

    let handle = session.clone();
    session.logout().await.unwrap();
    let stop = radius.wait_accounting(handle.session_id(), acct_status::STOP).await;
    assert_eq!(stop.int(attr::ACCT_TERMINATE_CAUSE), Some(1), "User-Request");
    assert_eq!(stop.int(attr::ACCT_INPUT_OCTETS), Some(1_000));
    assert!(sim.entries("/ppp/active").is_empty());
    assert_eq!(handle.interim(1, 1).await, Err(LoginError::NotActive));
    assert!(!handle.is_active());
}

#[tokio::test]
async fn pppoe_chap_login_with_framed_ip_and_reject() {
    let radius = Radius::start().await;
    let sim = router(&radius).await;
    let session = sim.pppoe_login("bob", "bob-pw", "aa:bb:cc:00:00:02", Auth::Chap).await.unwrap();
    assert_eq!(session.address(), Some(Ipv4Addr::new(10, 20, 5, 5)), "Framed-IP-Address wins over the pool");
    let request = radius.requests.lock().unwrap()[0].clone();
    assert!(request.has(attr::CHAP_PASSWORD) && request.has(attr::CHAP_CHALLENGE) && !request.has(attr::USER_PASSWORD));
    assert_eq!(sim.entries("/ppp/active")[0]["address"], "10.20.5.5");

    let err = sim.pppoe_login("bob", "wrong", "aa:bb:cc:00:00:03", Auth::Chap).await.unwrap_err();
    assert_eq!(err, LoginError::Rejected("bad password".into()));
    let err = sim.pppoe_login("alice", "wrong", "aa:bb:cc:00:00:03", Auth::Pap).await.unwrap_err();
    assert_eq!(err, LoginError::Rejected("bad password".into()));
    assert_eq!(sim.entries("/ppp/active").len(), 1, "rejected logins leave no session");
}

#[tokio::test]
async fn no_radius_local_users_and_timeouts() {
    let sim = RouterSim::new(config());
    let err = sim.pppoe_login("alice", "alice-pw", "aa:bb:cc:00:00:01", Auth::Pap).await.unwrap_err();
    assert_eq!(err, LoginError::NoRadius);

    // local secrets shadow RADIUS (and need no server)
    sim.run_script("/ppp secret add name=local1 password=pw remote-address=10.99.0.9").await.unwrap();
    let local = sim.pppoe_login("local1", "pw", "aa:bb:cc:00:00:09", Auth::Chap).await.unwrap();
    assert_eq!(local.address(), Some(Ipv4Addr::new(10, 99, 0, 9)));
    assert!(local.reply().is_none());
    assert_eq!(sim.entries("/ppp/active")[0]["radius"], "false");
    assert!(matches!(
        sim.pppoe_login("local1", "bad", "aa:bb:cc:00:00:09", Auth::Pap).await,
        Err(LoginError::Rejected(_))
    ));

    // a server that never answers: three tries with the same packet, then Timeout
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    sim.run_script(&format!(
        "/radius add address=127.0.0.1 secret=x service=ppp authentication-port={port} timeout=100ms\n/ppp aaa set use-radius=yes"
    ))
    .await
    .unwrap();
    let started = Instant::now();
    let err = sim.pppoe_login("alice", "alice-pw", "aa:bb:cc:00:00:01", Auth::Pap).await.unwrap_err();
    assert_eq!(err, LoginError::Timeout);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_millis(50), silent.recv_from(&mut buf)).await {
        seen.push(buf[..n].to_vec());
    }
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|p| *p == seen[0]), "retransmissions are identical");
    assert!(sim.nas_log().iter().any(|l| l.contains("no answer after 3 tries")), "{:?}", sim.nas_log());
}

#[tokio::test]
async fn disconnect_request_ends_the_session() {
    let radius = Radius::start().await;
    let sim = router(&radius).await;
    let session = sim.pppoe_login("alice", "alice-pw", "aa:bb:cc:00:00:01", Auth::Pap).await.unwrap();
    radius.wait_accounting(session.session_id(), acct_status::START).await;

    // wrong secret: silence
    let attrs = [Avp::text(attr::USER_NAME, "alice"), Avp::text(attr::ACCT_SESSION_ID, session.session_id())];
    assert!(dynamic(&sim, Code::DisconnectRequest, &attrs, "wrong", Duration::from_millis(400)).await.is_none());
    assert_eq!(sim.entries("/ppp/active").len(), 1);

    // unknown session: NAK 503
    let unknown = [Avp::text(attr::USER_NAME, "alice"), Avp::text(attr::ACCT_SESSION_ID, "ffffffff")];
    let nak = dynamic(&sim, Code::DisconnectRequest, &unknown, SECRET, Duration::from_secs(2)).await.unwrap();
    assert_eq!(nak.code, Code::DisconnectNak);
    assert_eq!(nak.int(attr::ERROR_CAUSE), Some(503));

    let ack = dynamic(&sim, Code::DisconnectRequest, &attrs, SECRET, Duration::from_secs(2)).await.unwrap();
    assert_eq!(ack.code, Code::DisconnectAck);
    assert!(sim.entries("/ppp/active").is_empty());
    let stop = radius.wait_accounting(session.session_id(), acct_status::STOP).await;
    assert_eq!(stop.int(attr::ACCT_TERMINATE_CAUSE), Some(6), "Admin-Reset");
    assert_eq!(
        sim.coa_log(),
        vec![(Code::DisconnectNak, "alice".to_owned()), (Code::DisconnectAck, "alice".to_owned())]
    );
    assert!(!session.is_active());
    assert_eq!(session.logout().await, Err(LoginError::NotActive));
}

#[tokio::test]
async fn coa_changes_the_rate_limit() {
    let radius = Radius::start().await;
    let sim = router(&radius).await;
    let session = sim.pppoe_login("alice", "alice-pw", "aa:bb:cc:00:00:01", Auth::Pap).await.unwrap();
    let attrs = [
        Avp::text(attr::USER_NAME, "alice"),
        Avp::text(attr::ACCT_SESSION_ID, session.session_id()),
        Avp::vsa(VENDOR_MIKROTIK, mikrotik::RATE_LIMIT, b"5M/10M"),
    ];
    let ack = dynamic(&sim, Code::CoaRequest, &attrs, SECRET, Duration::from_secs(2)).await.unwrap();
    assert_eq!(ack.code, Code::CoaAck);
    assert_eq!(sim.entries("/ppp/active")[0]["limit"], "5M/10M");
    assert_eq!(session.rate_limit().as_deref(), Some("5M/10M"));

    let other = [Avp::text(attr::USER_NAME, "nobody"), Avp::vsa(VENDOR_MIKROTIK, mikrotik::RATE_LIMIT, b"1M/1M")];
    let nak = dynamic(&sim, Code::CoaRequest, &other, SECRET, Duration::from_secs(2)).await.unwrap();
    assert_eq!((nak.code, nak.int(attr::ERROR_CAUSE)), (Code::CoaNak, Some(503)));
    assert_eq!(sim.coa_log().last(), Some(&(Code::CoaNak, "nobody".to_owned())));
}

#[tokio::test]
async fn hotspot_login_and_disconnect_by_framed_ip() {
    let radius = Radius::start().await;
    let sim = router(&radius).await;
    let client_ip = Ipv4Addr::new(10, 10, 10, 23);
    let session = sim.hotspot_login("carol", "alice-pw", "aa:bb:cc:00:00:23", client_ip).await.unwrap();
    assert_eq!(session.kind(), ActiveKind::Hotspot);
    let request = radius.requests.lock().unwrap()[0].clone();
    assert!(request.has(attr::CHAP_PASSWORD), "hotspot default login-by has http-chap");
    assert!(!request.has(attr::SERVICE_TYPE), "the hotspot sends no Service-Type (reference §3.1)");
    assert_eq!(request.int(attr::NAS_PORT_TYPE), Some(nas_port_type::ETHERNET), "profile nas-port-type=ethernet");
    assert_eq!(request.ipv4(attr::FRAMED_IP_ADDRESS), Some(client_ip));
    assert_eq!(request.text(attr::CALLED_STATION_ID).as_deref(), Some("bn-hotspot"));
    let row = &sim.entries("/ip/hotspot/active")[0];
    assert_eq!((row["user"].as_str(), row["address"].as_str()), ("carol", "10.10.10.23"));
    assert_eq!((row["mac-address"].as_str(), row["limit"].as_str()), ("AA:BB:CC:00:00:23", "2M/4M"));
    radius.wait_accounting(session.session_id(), acct_status::START).await;

    session.interim(10, 20).await.unwrap();
    assert_eq!(sim.entries("/ip/hotspot/active")[0]["bytes-out"], "20");

    let attrs = [Avp::text(attr::USER_NAME, "carol"), Avp::ipv4(attr::FRAMED_IP_ADDRESS, client_ip)];
    let ack = dynamic(&sim, Code::DisconnectRequest, &attrs, SECRET, Duration::from_secs(2)).await.unwrap();
    assert_eq!(ack.code, Code::DisconnectAck);
    assert!(sim.entries("/ip/hotspot/active").is_empty());
    radius.wait_accounting(session.session_id(), acct_status::STOP).await;
}

#[tokio::test]
async fn kicking_via_the_api_sends_a_stop() {
    let radius = Radius::start().await;
    let sim = router(&radius).await;
    let session = sim.pppoe_login("alice", "alice-pw", "aa:bb:cc:00:00:01", Auth::Pap).await.unwrap();
    radius.wait_accounting(session.session_id(), acct_status::START).await;
    sim.apply("/ppp/active", "remove", &[(".id", session.row_id())]).unwrap();
    let stop = radius.wait_accounting(session.session_id(), acct_status::STOP).await;
    assert_eq!(stop.int(attr::ACCT_TERMINATE_CAUSE), Some(6));
    assert!(!session.is_active());
}

#[tokio::test]
async fn radius_incoming_follows_the_configuration() {
    let sim = RouterSim::new(config());
    assert_eq!(sim.radius_incoming_addr(), None);
    let busy = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    sim.run_script(&format!("/radius incoming set accept=yes port={port}")).await.unwrap();
    assert_eq!(sim.radius_incoming_addr(), None);
    assert!(sim.radius_incoming_error().unwrap().contains(&port.to_string()), "port in use is reported");

    sim.run_script("/radius incoming set port=0").await.unwrap();
    let addr = sim.radius_incoming_addr().unwrap();
    assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
    assert_eq!(sim.radius_incoming_error(), None);
    sim.run_script("/radius incoming set accept=no").await.unwrap();
    assert_eq!(sim.radius_incoming_addr(), None);
    // the port is released
    let deadline = Instant::now() + Duration::from_secs(2);
    while UdpSocket::bind(addr).await.is_err() {
        assert!(Instant::now() < deadline, "{addr} still bound");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn rows_without_a_simulated_client_can_be_kicked_too() {
    let radius = Radius::start().await;
    let sim = router(&radius).await;
    let row = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    sim.set_active(ActiveKind::Hotspot, vec![row(&[("user", "0712345678"), ("address", "10.10.10.50")])]);
    let attrs =
        [Avp::text(attr::USER_NAME, "0712345678"), Avp::ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::new(10, 10, 10, 50))];
    let ack = dynamic(
        &sim,
        Code::CoaRequest,
        &[attrs[0].clone(), Avp::mikrotik_text(mikrotik::RATE_LIMIT, "1M/2M")],
        SECRET,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(ack.code, Code::CoaAck);
    assert_eq!(sim.entries("/ip/hotspot/active")[0]["limit"], "1M/2M");
    let ack = dynamic(&sim, Code::DisconnectRequest, &attrs, SECRET, Duration::from_secs(2)).await.unwrap();
    assert_eq!(ack.code, Code::DisconnectAck);
    assert!(sim.entries("/ip/hotspot/active").is_empty());
}
