//! The hotspot's web front: a simulated phone opens the login page, logs in with CHAP (hashed the way the
//! page's JavaScript does), PAP or its MAC, and the router asks a RADIUS responder that really checks
//! CHAP and PAP; status, logout, and Disconnect-Request.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broadnet_radius::dict::{VENDOR_MIKROTIK, acct_status, attr, mikrotik, nas_port_type};
use broadnet_radius::{Avp, Code, Packet, crypto, encode_request, encode_response, verify_request, verify_response};
use broadnet_sim::routeros::{HotspotDevice, LoginError, RouterSim, SimConfig};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use tokio::net::UdpSocket;

const SECRET: &str = "hotspot-radius-secret";

/// What the responder answers for one user: its cleartext password, the Accept's attributes, and the
/// Reject's Reply-Message (`None`: a Reject without one).
#[derive(Clone)]
struct Account {
    password: String,
    accept: Vec<Avp>,
    reject_message: Option<String>,
}

/// A RADIUS server for the test: Access-Request checked with `chap_verify` (CHAP) or `unhide_password`
/// (PAP) against a user table, Accounting-Request answered; both recorded.
#[derive(Clone)]
struct Radius {
    auth: SocketAddr,
    acct: SocketAddr,
    accounts: Arc<Mutex<HashMap<String, Account>>>,
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
            accounts: Arc::default(),
            requests: Arc::default(),
            accounting: Arc::default(),
        };
        let (accounts, requests) = (radius.accounts.clone(), radius.requests.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let (n, from) = auth_socket.recv_from(&mut buf).await.unwrap();
                let raw = &buf[..n];
                let request = Packet::decode(raw).unwrap();
                assert_eq!(request.code, Code::AccessRequest);
                assert_eq!(verify_request(raw, &request, SECRET.as_bytes()), Ok(true), "Message-Authenticator");
                requests.lock().unwrap().push(request.clone());
                let user = request.text(attr::USER_NAME).unwrap_or_default();
                let account = accounts.lock().unwrap().get(&user).cloned();
                let ok = account.as_ref().is_some_and(|a| {
                    if let Some(hidden) = request.get(attr::USER_PASSWORD) {
                        crypto::unhide_password(hidden, SECRET.as_bytes(), &request.authenticator).unwrap()
                            == a.password.as_bytes()
                    } else {
                        let chap = request.get(attr::CHAP_PASSWORD).expect("CHAP-Password or User-Password");
                        let challenge = request.get(attr::CHAP_CHALLENGE).expect("CHAP-Challenge with CHAP");
                        assert_eq!(challenge.len(), 16, "the hotspot's challenge is 16 octets");
                        crypto::chap_verify(chap, challenge, a.password.as_bytes())
                    }
                });
                let (code, attrs) = match (ok, account) {
                    (true, Some(a)) => (Code::AccessAccept, a.accept),
                    (_, a) => {
                        let message = a.and_then(|a| a.reject_message);
                        (
                            Code::AccessReject,
                            message.map(|m| vec![Avp::text(attr::REPLY_MESSAGE, &m)]).unwrap_or_default(),
                        )
                    }
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
                assert!(verify_request(raw, &request, SECRET.as_bytes()).is_ok(), "Request Authenticator");
                accounting.lock().unwrap().push(request.clone());
                let reply = encode_response(Code::AccountingResponse, &request, &[], SECRET.as_bytes(), false).unwrap();
                acct_socket.send_to(&reply, from).await.unwrap();
            }
        });
        radius
    }

    fn account(&self, user: &str, password: &str, accept: Vec<Avp>, reject_message: Option<&str>) {
        let account = Account { password: password.into(), accept, reject_message: reject_message.map(str::to_owned) };
        self.accounts.lock().unwrap().insert(user.into(), account);
    }

    fn requests(&self) -> Vec<Packet> {
        self.requests.lock().unwrap().clone()
    }

    /// Wait for the accounting packet of `session` with this Acct-Status-Type.
    async fn wait_accounting(&self, session: &str, status: u32) -> Packet {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found = self
                .accounting
                .lock()
                .unwrap()
                .iter()
                .find(|p| {
                    p.text(attr::ACCT_SESSION_ID).as_deref() == Some(session)
                        && p.int(attr::ACCT_STATUS_TYPE) == Some(status)
                })
                .cloned();
            if let Some(p) = found {
                return p;
            }
            assert!(Instant::now() < deadline, "no accounting {status} for {session}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A data bundle of 5,000,000,000 bytes: Mikrotik-Total-Limit-Gigawords 1 + Mikrotik-Total-Limit.
const BUNDLE: u64 = 5_000_000_000;

fn bundle_accept() -> Vec<Avp> {
    vec![
        Avp::mikrotik_text(mikrotik::RATE_LIMIT, "2M/5M"),
        Avp::int(attr::SESSION_TIMEOUT, 7200),
        Avp::vsa(VENDOR_MIKROTIK, mikrotik::TOTAL_LIMIT, &((BUNDLE & 0xFFFF_FFFF) as u32).to_be_bytes()),
        Avp::vsa(VENDOR_MIKROTIK, mikrotik::TOTAL_LIMIT_GIGAWORDS, &((BUNDLE >> 32) as u32).to_be_bytes()),
        Avp::text(attr::CLASS, "bn-class"),
    ]
}

/// A router set up the way the wizard does it (hotspot profile bn-hsprof, server bn-hotspot), with
/// `login_by` and extra profile properties.
async fn router(radius: &Radius, login_by: &str, profile_extra: &str) -> RouterSim {
    let sim = RouterSim::new(SimConfig { identity: "kilimani-gw".into(), ..SimConfig::default() });
    sim.run_script(&format!(
        r#"/radius add address=127.0.0.1 secret="{SECRET}" service=hotspot authentication-port={} \
    accounting-port={} timeout=300ms comment=broadnet
/radius incoming set accept=yes port=0
/interface bridge add name=bn-bridge
/ip pool add name=bn-pool ranges=10.10.10.10-10.10.10.254
/ip hotspot profile add name=bn-hsprof hotspot-address=10.10.10.1 dns-name=wifi.broadnet.example \
    login-by={login_by} use-radius=yes radius-accounting=yes nas-port-type=ethernet {profile_extra}
/ip hotspot add name=bn-hotspot interface=bn-bridge address-pool=bn-pool profile=bn-hsprof disabled=no
"#,
        radius.auth.port(),
        radius.acct.port()
    ))
    .await
    .unwrap();
    sim
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn get(url: &str) -> (StatusCode, Option<String>, String) {
    let response = http().get(url).send().await.unwrap();
    let location = response.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned());
    (response.status(), location, response.text().await.unwrap())
}

async fn post(url: &str, form: &[(&str, &str)]) -> (StatusCode, Option<String>, String) {
    let response = http().post(url).form(form).send().await.unwrap();
    let location = response.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned());
    (response.status(), location, response.text().await.unwrap())
}

/// `\371\015…` (a JavaScript string body of octal escapes) → bytes.
fn octal(text: &str) -> Vec<u8> {
    text.split('\\').skip(1).map(|o| u8::from_str_radix(o, 8).unwrap_or_else(|_| panic!("octal {o:?}"))).collect()
}

/// The CHAP ident and challenge the page hands to `hexMD5('<id>' + password + '<challenge>')`.
fn chap_from_page(page: &str) -> (u8, [u8; 16]) {
    let call = page.split("hexMD5('").nth(1).unwrap_or_else(|| panic!("no hexMD5 call in {page}"));
    let (id, rest) = call.split_once('\'').unwrap();
    let challenge = rest.split('\'').nth(1).unwrap();
    let id = octal(id);
    assert_eq!(id.len(), 1, "{call}");
    (id[0], octal(challenge).try_into().unwrap())
}

/// What the page's JavaScript posts as `password`: hexMD5(chap-id + password + chap-challenge), one byte
/// per character.
fn js_chap_hash(ident: u8, password: &str, challenge: &[u8; 16]) -> String {
    hex::encode(crypto::chap_response(ident, password.as_bytes(), challenge))
}

fn device(sim: &RouterSim, last: u8) -> HotspotDevice {
    sim.hotspot_device(&format!("aa:bb:cc:00:00:{last:02x}"), Ipv4Addr::new(10, 10, 10, last)).unwrap()
}

#[tokio::test]
async fn the_login_page_carries_the_routers_variables() {
    let radius = Radius::start().await;
    let sim = router(&radius, "http-chap,http-pap,mac-cookie", "").await;
    let phone = device(&sim, 0x23);
    assert_eq!(phone.mac(), "AA:BB:CC:00:00:23");
    let template = "mac=$(mac)|ip=$(ip)|user=$(username)|identity=$(identity)|server=$(server-name)\n\
                    login=$(link-login)|only=$(link-login-only)|orig=$(link-orig)|orig-esc=$(link-orig-esc)\n\
                    status=$(link-status)|logout=$(link-logout)|popup=$(popup)|mac-esc=$(mac-esc)\n\
                    id=$(chap-id)|challenge=$(chap-challenge)|host=$(hostname)\n\
                    $(if error)error=$(error)$(elif chap-id)chap$(else)pap$(endif)";
    sim.put_file("hotspot/login.html", template.as_bytes()).unwrap();

    let dst = "http://example.com/news?a=1&b=2";
    let (status, _, page) = get(&phone.login_url(dst)).await;
    assert_eq!(status, StatusCode::OK);
    let base = phone.base_url();
    let lines: Vec<&str> = page.lines().collect();
    assert_eq!(lines[0], "mac=AA:BB:CC:00:00:23|ip=10.10.10.35|user=|identity=kilimani-gw|server=bn-hotspot");
    let dst_esc = "http%3A%2F%2Fexample.com%2Fnews%3Fa%3D1%26b%3D2";
    assert_eq!(lines[1], format!("login={base}/login?dst={dst_esc}|only={base}/login|orig={dst}|orig-esc={dst_esc}"));
    assert_eq!(
        lines[2],
        format!("status={base}/status|logout={base}/logout|popup=true|mac-esc=AA%3ABB%3ACC%3A00%3A00%3A23")
    );
    assert_eq!(lines[4], "chap");
    let (id, challenge) = lines[3].split_once("|challenge=").unwrap();
    let (challenge, host) = challenge.split_once("|host=").unwrap();
    assert_eq!(host, "wifi.broadnet.example");
    assert!(id.starts_with("id=\\") && id.len() == 7, "one octal escape: {id}");
    assert_eq!(challenge.len(), 16 * 4, "sixteen octal escapes: {challenge}");
    let (ident, octets) = phone.chap_challenge().unwrap();
    assert_eq!(octal(&id[3..]), vec![ident]);
    assert_eq!(octal(challenge), octets.to_vec());

    // another view (a favicon redirected here, say) keeps the outstanding challenge,
    // so the one an external portal was handed still answers
    let (_, _, again) = get(&phone.login_url("")).await;
    assert_eq!(phone.chap_challenge().unwrap(), (ident, octets));
    assert!(again.contains(&format!("login={base}/login|only=")), "no dst: {again}");
    assert!(again.contains("orig=|orig-esc=\n"), "{again}");

    // without http-chap there is no challenge
    sim.run_script("/ip hotspot profile set [find name=bn-hsprof] login-by=http-pap").await.unwrap();
    let (_, _, pap) = get(&phone.login_url("")).await;
    assert!(pap.contains("id=|challenge=|") && pap.ends_with("pap"), "{pap}");
    assert_eq!(phone.chap_challenge(), None);

    // the router's md5.js is served; a deleted login.html falls back to the built-in page
    let response = http().get(format!("{base}/md5.js")).send().await.unwrap();
    assert_eq!(response.headers()[CONTENT_TYPE], "application/javascript");
    assert!(response.text().await.unwrap().contains("function hexMD5(s)"));
    sim.run_script("/file remove [find name=\"hotspot/login.html\"]").await.unwrap();
    let (status, _, builtin) = get(&phone.login_url("")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        builtin.contains(&format!("action=\"{base}/login\"")) && builtin.contains("<h1>kilimani-gw</h1>"),
        "{builtin}"
    );

    // a request for anything else before login goes to the login page, carrying where it was going
    let (status, location, _) = get(&format!("{base}/generate_204")).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(location.unwrap(), phone.login_url(&format!("{base}/generate_204")));
    assert!(radius.requests().is_empty(), "no login was tried");

    // a router without an enabled hotspot server has no servlet
    sim.run_script("/ip hotspot disable [find name=bn-hotspot]").await.unwrap();
    assert_eq!(get(&phone.login_url("")).await.0, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn chap_login_hashed_like_the_page_gets_the_limits() {
    let radius = Radius::start().await;
    radius.account("K7M2QP", "s3cret-pw", bundle_accept(), Some("Wrong password"));
    let sim = router(&radius, "http-chap,http-pap,mac-cookie", "").await;
    let phone = device(&sim, 0x31);

    let (_, _, page) = get(&phone.login_url("http://example.com/")).await;
    let (ident, challenge) = chap_from_page(&page);
    let hashed = js_chap_hash(ident, "s3cret-pw", &challenge);
    let (status, location, _) = post(
        &format!("{}/login", phone.base_url()),
        &[("username", "K7M2QP"), ("password", &hashed), ("dst", "http://example.com/"), ("popup", "true")],
    )
    .await;
    assert_eq!((status, location.as_deref()), (StatusCode::FOUND, Some("http://example.com/")));

    let request = radius.requests().pop().unwrap();
    assert_eq!(request.attrs[0].typ, attr::MESSAGE_AUTHENTICATOR, "Message-Authenticator first");
    assert_eq!(request.text(attr::USER_NAME).as_deref(), Some("K7M2QP"));
    let chap = request.get(attr::CHAP_PASSWORD).unwrap();
    assert_eq!(chap[0], ident, "CHAP ident = the page's chap-id");
    assert_eq!(hex::encode(&chap[1..]), hashed, "the response is the page's hash, forwarded");
    assert_eq!(request.get(attr::CHAP_CHALLENGE), Some(&challenge[..]));
    assert!(!request.has(attr::USER_PASSWORD));
    assert!(!request.has(attr::SERVICE_TYPE), "the hotspot sends no Service-Type (reference §3.1)");
    assert_eq!(request.text(attr::CALLING_STATION_ID).as_deref(), Some("AA:BB:CC:00:00:31"));
    assert_eq!(request.text(attr::CALLED_STATION_ID).as_deref(), Some("bn-hotspot"));
    assert_eq!(request.text(attr::NAS_IDENTIFIER).as_deref(), Some("kilimani-gw"));
    assert_eq!(request.ipv4(attr::NAS_IP_ADDRESS), Some(Ipv4Addr::LOCALHOST));
    assert_eq!(request.ipv4(attr::FRAMED_IP_ADDRESS), Some(phone.ip()));
    assert_eq!(request.vsa(VENDOR_MIKROTIK, mikrotik::HOST_IP), Some(&phone.ip().octets()[..]));
    assert_eq!(request.int(attr::NAS_PORT_TYPE), Some(nas_port_type::ETHERNET));
    assert_eq!(request.text(attr::NAS_PORT_ID).as_deref(), Some("bn-bridge"));
    assert!(request.has(attr::ACCT_SESSION_ID) && request.has(attr::NAS_PORT));

    let session = phone.session().expect("logged in");
    assert_eq!(phone.logged_in_user().as_deref(), Some("K7M2QP"));
    assert_eq!(session.user(), "K7M2QP");
    assert_eq!(session.login_by(), "http-chap");
    assert_eq!(session.rate_limit().as_deref(), Some("2M/5M"));
    assert_eq!(session.session_timeout(), Some(7200));
    assert_eq!(session.total_limit(), Some(BUNDLE), "Total-Limit + Gigawords × 2³²");
    assert_eq!(session.reply().unwrap().code, Code::AccessAccept);
    assert_eq!(session.address(), Some(phone.ip()));
    let row = &sim.entries("/ip/hotspot/active")[0];
    assert_eq!((row["user"].as_str(), row["mac-address"].as_str()), ("K7M2QP", "AA:BB:CC:00:00:31"));
    assert_eq!((row["login-by"].as_str(), row["limit-bytes-total"].as_str()), ("http-chap", "5000000000"));
    let start = radius.wait_accounting(session.session_id(), acct_status::START).await;
    assert_eq!(start.text(attr::CLASS).as_deref(), Some("bn-class"));
    assert_eq!(phone.chap_challenge(), None, "a challenge answers one login");

    // the status page: who, time left, data left
    phone.interim(1_000_000_000, 3_000_000_000).await.unwrap();
    radius.wait_accounting(session.session_id(), acct_status::INTERIM_UPDATE).await;
    let (status, _, page) = get(&phone.status_url()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<td id="username">K7M2QP</td>"#), "{page}");
    assert!(page.contains(r#"<td id="remain-bytes-total">1000000000</td>"#), "{page}");
    assert!(
        page.contains(r#"<td id="session-time-left">1h59m"#) || page.contains(r#"<td id="session-time-left">2h0m0s"#),
        "{page}"
    );
    // a logged-in device reaches the Internet, and /login sends it on
    let (status, _, online) = get(&format!("{}/news", phone.base_url())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(online.contains("online: /news"), "{online}");
    let (status, location, _) = get(&phone.login_url("http://example.org/")).await;
    assert_eq!((status, location.as_deref()), (StatusCode::FOUND, Some("http://example.org/")));
    assert_eq!(radius.requests().len(), 1, "no second Access-Request");
}

#[tokio::test]
async fn a_used_or_missing_challenge_is_not_chap() {
    let radius = Radius::start().await;
    radius.account("K7M2QP", "s3cret-pw", bundle_accept(), None);
    let sim = router(&radius, "http-chap", "").await;
    let phone = device(&sim, 0x32);
    let login = format!("{}/login", phone.base_url());

    // CHAP only, and no login page seen: nothing to answer, no RADIUS
    let (status, _, page) = post(&login, &[("username", "K7M2QP"), ("password", "s3cret-pw")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("web browser did not send challenge response (try refreshing login page)"), "{page}");
    assert!(radius.requests().is_empty());

    // the hash of the page just shown works once; replayed, it is refused before RADIUS
    let (_, _, page) = get(&phone.login_url("")).await;
    let (ident, challenge) = chap_from_page(&page);
    let hashed = js_chap_hash(ident, "s3cret-pw", &challenge);
    let (status, location, page) = post(&login, &[("username", "K7M2QP"), ("password", &hashed)]).await;
    assert_eq!((status, location), (StatusCode::OK, None), "no dst: the status page");
    assert!(page.contains(r#"<td id="username">K7M2QP</td>"#), "{page}");
    phone.logout().await.unwrap();
    let (_, _, page) = post(&login, &[("username", "K7M2QP"), ("password", &hashed)]).await;
    assert!(page.contains("did not send challenge response"), "{page}");
    assert_eq!(radius.requests().len(), 1);
    assert!(phone.session().is_none());
}

#[tokio::test]
async fn pap_login_and_rejections_show_the_reply_message() {
    let radius = Radius::start().await;
    radius.account(
        "bob",
        "bob-pw",
        vec![Avp::mikrotik_text(mikrotik::RATE_LIMIT, "1M/1M")],
        Some("Wrong password for bob"),
    );
    radius.account("eve", "eve-pw", Vec::new(), None);
    let sim = router(&radius, "http-pap,mac-cookie", "").await;
    let phone = device(&sim, 0x40);
    let login = format!("{}/login", phone.base_url());

    // wrong password: login.html again, with the Reply-Message as $(error)
    let (status, _, page) = post(&login, &[("username", "bob"), ("password", "nope"), ("dst", "http://x.test/")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<p class="error">Wrong password for bob</p>"#), "{page}");
    assert!(
        page.contains(r#"value="bob""#) && page.contains(r#"value="http://x.test/""#),
        "keeps user and dst: {page}"
    );
    assert!(!page.contains("hexMD5('"), "no CHAP without http-chap: {page}");
    // a Reject without Reply-Message: RouterOS's own text
    let (_, _, page) = post(&login, &[("username", "eve"), ("password", "nope")]).await;
    assert!(page.contains(r#"<p class="error">invalid username or password</p>"#), "{page}");
    assert!(phone.session().is_none());

    // PAP: User-Password hidden with the secret; the right one logs in (GET with query fields too)
    let query = format!("{login}?username=bob&password=bob-pw&dst=http%3A%2F%2Fx.test%2F");
    let (status, location, _) = get(&query).await;
    assert_eq!((status, location.as_deref()), (StatusCode::FOUND, Some("http://x.test/")));
    let request = radius.requests().pop().unwrap();
    let hidden = request.get(attr::USER_PASSWORD).unwrap();
    assert_eq!(crypto::unhide_password(hidden, SECRET.as_bytes(), &request.authenticator).unwrap(), b"bob-pw");
    assert!(!request.has(attr::CHAP_PASSWORD));
    let session = phone.session().unwrap();
    assert_eq!((session.login_by(), session.rate_limit().as_deref()), ("http-pap", Some("1M/1M")));
    assert_eq!(session.total_limit(), None);
    assert_eq!(radius.requests().len(), 3);
}

#[tokio::test]
async fn mac_login_when_login_by_has_mac() {
    let radius = Radius::start().await;
    radius.account("AA:BB:CC:00:00:77", "AA:BB:CC:00:00:77", bundle_accept(), None);
    let sim = router(&radius, "http-chap,http-pap,mac-cookie,mac", "mac-auth-mode=mac-as-username-and-password").await;

    // a returning phone: logged in by its MAC before any form, and sent on to where it was going
    let known = device(&sim, 0x77);
    let (status, location, _) = get(&known.login_url("http://example.com/")).await;
    assert_eq!((status, location.as_deref()), (StatusCode::FOUND, Some("http://example.com/")));
    let request = radius.requests().pop().unwrap();
    assert_eq!(request.text(attr::USER_NAME).as_deref(), Some("AA:BB:CC:00:00:77"));
    let hidden = request.get(attr::USER_PASSWORD).unwrap();
    assert_eq!(
        crypto::unhide_password(hidden, SECRET.as_bytes(), &request.authenticator).unwrap(),
        b"AA:BB:CC:00:00:77",
        "mac-as-username-and-password"
    );
    let session = known.session().unwrap();
    assert_eq!((session.user(), session.login_by()), ("AA:BB:CC:00:00:77", "mac"));
    assert_eq!(session.total_limit(), Some(BUNDLE));
    radius.wait_accounting(session.session_id(), acct_status::START).await;

    // an unknown phone: one MAC try, rejected, then the login page (and no second try on the next view)
    let stranger = device(&sim, 0x78);
    let (status, _, page) = get(&stranger.login_url("")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("hexMD5('") && !page.contains("class=\"error\""), "the plain login page: {page}");
    get(&stranger.login_url("")).await;
    let tries: Vec<Packet> = radius
        .requests()
        .into_iter()
        .filter(|r| r.text(attr::USER_NAME).as_deref() == Some("AA:BB:CC:00:00:78"))
        .collect();
    assert_eq!(tries.len(), 1, "MAC login is tried once");
    assert!(stranger.session().is_none());

    // after a logout the MAC is tried again
    known.logout().await.unwrap();
    assert!(known.session().is_none());
    let (status, _, page) = get(&known.login_url("")).await;
    assert_eq!(status, StatusCode::OK, "logged in again, shown the status page");
    assert!(page.contains(r#"<td id="username">AA:BB:CC:00:00:77</td>"#), "{page}");
    assert_eq!(radius.requests().len(), 3);
}

#[tokio::test]
async fn mac_login_follows_radius_mac_format_and_mode() {
    let radius = Radius::start().await;
    radius.account("aa-bb-cc-00-00-79", "", Vec::new(), None);
    let sim =
        router(&radius, "mac,http-pap", "radius-mac-format=xx-xx-xx-xx-xx-xx mac-auth-mode=mac-as-username").await;
    let phone = device(&sim, 0x79);
    let (status, _, _) = get(&phone.login_url("")).await;
    assert_eq!(status, StatusCode::OK);
    let request = radius.requests().pop().unwrap();
    assert_eq!(request.text(attr::USER_NAME).as_deref(), Some("aa-bb-cc-00-00-79"));
    assert_eq!(request.text(attr::CALLING_STATION_ID).as_deref(), Some("aa-bb-cc-00-00-79"));
    let hidden = request.get(attr::USER_PASSWORD).unwrap();
    assert_eq!(crypto::unhide_password(hidden, SECRET.as_bytes(), &request.authenticator).unwrap(), b"");
    assert_eq!(phone.logged_in_user().as_deref(), Some("aa-bb-cc-00-00-79"));
    assert_eq!(sim.entries("/ip/hotspot/active")[0]["mac-address"], "AA:BB:CC:00:00:79");
}

#[tokio::test]
async fn logout_sends_accounting_stop() {
    let radius = Radius::start().await;
    radius.account("alice", "alice-pw", bundle_accept(), None);
    let sim = router(&radius, "http-pap", "").await;
    let phone = device(&sim, 0x50);
    post(&format!("{}/login", phone.base_url()), &[("username", "alice"), ("password", "alice-pw")]).await;
    let session = phone.session().unwrap();
    radius.wait_accounting(session.session_id(), acct_status::START).await;
    phone.interim(700, 900).await.unwrap();

    let (status, _, page) = post(&phone.logout_url(), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("You have just logged off") && page.contains(r#"<td id="username">alice</td>"#), "{page}");
    let stop = radius.wait_accounting(session.session_id(), acct_status::STOP).await;
    assert_eq!(stop.int(attr::ACCT_TERMINATE_CAUSE), Some(1), "User-Request");
    assert_eq!((stop.int(attr::ACCT_INPUT_OCTETS), stop.int(attr::ACCT_OUTPUT_OCTETS)), (Some(700), Some(900)));
    assert!(phone.session().is_none() && !session.is_active());
    assert!(sim.entries("/ip/hotspot/active").is_empty());
    let (status, location, _) = get(&phone.status_url()).await;
    assert_eq!((status, location), (StatusCode::FOUND, Some(phone.login_url(""))));
    assert_eq!(phone.logout().await, Err(LoginError::NotActive));
    assert_eq!(phone.interim(1, 1).await, Err(LoginError::NotActive));
}

/// Send a Disconnect-Request to the router; the verified reply.
async fn disconnect(sim: &RouterSim, attrs: &[Avp]) -> Packet {
    let target = sim.radius_incoming_addr().expect("/radius incoming listens");
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let raw = encode_request(Code::DisconnectRequest, 9, attrs, SECRET.as_bytes(), true, [0; 16]).unwrap();
    let mut request_auth = [0u8; 16];
    request_auth.copy_from_slice(&raw[4..20]);
    socket.send_to(&raw, target).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf)).await.unwrap().unwrap();
    assert_eq!(verify_response(&buf[..n], &request_auth, SECRET.as_bytes()), Ok(true));
    Packet::decode(&buf[..n]).unwrap()
}

#[tokio::test]
async fn a_disconnect_request_ends_the_devices_session() {
    let radius = Radius::start().await;
    radius.account("alice", "alice-pw", bundle_accept(), Some("Your data bundle is used up"));
    radius.account("AA:BB:CC:00:00:60", "AA:BB:CC:00:00:60", bundle_accept(), None);
    let sim = router(&radius, "http-pap,mac", "mac-auth-mode=mac-as-username-and-password").await;
    let phone = device(&sim, 0x60);
    let (_, location, _) = get(&phone.login_url("http://example.com/")).await;
    assert_eq!(location.as_deref(), Some("http://example.com/"), "MAC login");
    let session = phone.session().unwrap();
    radius.wait_accounting(session.session_id(), acct_status::START).await;

    // the billing server cuts the device off (User-Name + Framed-IP-Address, reference §5.3)
    let ack =
        disconnect(&sim, &[Avp::text(attr::USER_NAME, session.user()), Avp::ipv4(attr::FRAMED_IP_ADDRESS, phone.ip())])
            .await;
    assert_eq!(ack.code, Code::DisconnectAck);
    assert!(phone.session().is_none(), "the device sees its session gone");
    let stop = radius.wait_accounting(session.session_id(), acct_status::STOP).await;
    assert_eq!(stop.int(attr::ACCT_TERMINATE_CAUSE), Some(6), "Admin-Reset");
    let (status, location, _) = get(&format!("{}/news", phone.base_url())).await;
    assert_eq!(status, StatusCode::FOUND, "back behind the login page");
    assert!(location.unwrap().starts_with(&format!("{}/login?dst=", phone.base_url())));

    // the next view tries the MAC again; now the server refuses, and the form's login shows why
    radius.accounts.lock().unwrap().remove("AA:BB:CC:00:00:60");
    let (status, _, _) = get(&phone.login_url("")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(radius.requests().len(), 2, "MAC tried again after the disconnect");
    let (_, _, page) = post(&format!("{}/login", phone.base_url()), &[("username", "alice"), ("password", "x")]).await;
    assert!(page.contains("Your data bundle is used up"), "{page}");
}

#[tokio::test]
async fn the_listener_lives_as_long_as_the_device_and_the_router() {
    let radius = Radius::start().await;
    let sim = router(&radius, "http-pap", "").await;
    let err = sim.hotspot_device("aa:bb:cc:00:00", Ipv4Addr::new(10, 10, 10, 9)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");

    let refused = |url: String| async move { http().get(url).send().await.is_err() };
    let phone = device(&sim, 0x11);
    let url = phone.login_url("");
    assert_eq!(get(&url).await.0, StatusCode::OK);
    drop(phone);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !refused(url.clone()).await {
        assert!(Instant::now() < deadline, "{url} still answers after the device was dropped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let phone = device(&sim, 0x12);
    let url = phone.login_url("");
    assert_eq!(get(&url).await.0, StatusCode::OK);
    sim.shutdown();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !refused(url.clone()).await {
        assert!(Instant::now() < deadline, "{url} still answers after the router shut down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(phone.session().is_none());
}
