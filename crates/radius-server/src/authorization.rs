//! The authorization decision, with no I/O: who may connect, and with what.

use broadnet_domain::{CustomerStatus, CustomerType, Mac, VoucherStatus};
use broadnet_radius::dict::{self, VENDOR_MICROSOFT, attr, ms};
use broadnet_radius::{Avp, Packet, crypto, mschap};
use broadnet_store::{Customer, DataUse, Package, RadiusClient, Voucher};
use chrono::{DateTime, Utc};

/// Server-wide reply settings.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Acct-Interim-Interval sent with every accept (RFC 2869: at least 60).
    pub interim_interval_secs: u32,
    /// Idle-Timeout for hotspot sessions (0: none).
    pub hotspot_idle_timeout_secs: u32,
    /// Told to customers who must pay, until the app's Settings say otherwise (see
    /// `HowToPaySource`); `{username}` and `{price}` are filled per customer.
    pub how_to_pay: String,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            interim_interval_secs: 300,
            hotspot_idle_timeout_secs: 300,
            how_to_pay: "Pay with M-Pesa to reconnect.".into(),
        }
    }
}

/// How the customer proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Pap,
    Chap,
    MsChapV1,
    MsChapV2,
    /// No password at all, where none is asked (MAC login, a code-mode voucher).
    NoPassword,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Pap => "PAP",
            Method::Chap => "CHAP",
            Method::MsChapV1 => "MS-CHAPv1",
            Method::MsChapV2 => "MS-CHAPv2",
            Method::NoPassword => "no password",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Accept {
        attrs: Vec<Avp>,
        method: Method,
    },
    /// `reason` goes to the log; `message` to the customer (Reply-Message).
    Reject {
        reason: String,
        message: Option<String>,
        attrs: Vec<Avp>,
    },
}

fn reject(reason: impl Into<String>, message: Option<String>) -> Decision {
    Decision::Reject { reason: reason.into(), message, attrs: Vec::new() }
}

/// Which service the request is for: PPP (PPPoE, L2TP…) or hotspot.
pub fn requested_service(req: &Packet) -> CustomerType {
    let framed = req.int(attr::SERVICE_TYPE) == Some(dict::service_type::FRAMED_USER)
        || req.int(attr::FRAMED_PROTOCOL) == Some(1);
    if framed { CustomerType::Pppoe } else { CustomerType::Hotspot }
}

/// Who is logging in, as the decision sees it: a customer, or a voucher (a prepaid
/// hotspot account named by its code), which gets its package's limits the same way.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    pub username: &'a str,
    pub status: CustomerStatus,
    pub customer_type: CustomerType,
    pub expires_at: Option<DateTime<Utc>>,
    /// The admin's lock of a customer to one device.
    pub mac_address: Option<&'a str>,
    pub static_ip: Option<&'a str>,
    /// Sessions at once, when not the package's shared users (a voucher's max devices).
    pub max_sessions: Option<u32>,
}

impl<'a> Account<'a> {
    pub fn customer(c: &'a Customer) -> Self {
        Account {
            username: c.username.as_str(),
            status: c.status,
            customer_type: c.customer_type,
            expires_at: c.expires_at,
            mac_address: c.mac_address.as_deref(),
            static_ip: c.static_ip.as_deref(),
            max_sessions: None,
        }
    }

    /// A voucher past [`voucher_step`]: active, for the hotspot, until its expiry.
    pub fn voucher(v: &'a Voucher) -> Self {
        Account {
            username: v.code.as_str(),
            status: CustomerStatus::Active,
            customer_type: CustomerType::Hotspot,
            expires_at: v.expires_at,
            mac_address: None,
            static_ip: None,
            max_sessions: Some(v.max_devices.max(1)),
        }
    }
}

/// What proves a login.
#[derive(Debug, Clone, Copy)]
pub enum Secret<'a> {
    /// The account's own password (a customer's; a PIN-mode voucher's PIN).
    Password(&'a str),
    /// A code-mode voucher: its code, in any case, or nothing.
    Code(&'a str),
    /// MAC authentication (`mac-as-username[-and-password]`): nothing, or the MAC.
    Mac(&'a Mac),
}

impl<'a> Secret<'a> {
    /// A voucher's own secret, or the MAC of a MAC login.
    pub fn for_voucher(v: &'a Voucher, mac: Option<&'a Mac>) -> Self {
        match mac {
            Some(m) => Secret::Mac(m),
            None => Secret::of_voucher(v),
        }
    }

    /// What a voucher's login must carry.
    pub fn of_voucher(v: &'a Voucher) -> Self {
        // A PIN is what makes a PIN-mode voucher.
        match v.pin.as_deref().filter(|p| !p.is_empty()) {
            Some(pin) => Secret::Password(pin),
            None => Secret::Code(v.code.as_str()),
        }
    }
}

/// Everything the decision needs, already looked up.
pub struct Input<'a> {
    pub req: &'a Packet,
    pub client: &'a RadiusClient,
    pub account: Option<Account<'a>>,
    pub secret: Secret<'a>,
    pub package: Option<&'a Package>,
    pub open_sessions: u64,
    /// The account's data allowance, when its package has one.
    pub data: Option<DataUse>,
    pub now: DateTime<Utc>,
    pub policy: &'a Policy,
    /// The "how to pay" template in force (from Settings), `{username}`/`{price}` unfilled.
    pub how_to_pay: &'a str,
    /// Two distinct random salts for the MPPE keys.
    pub salts: [[u8; 2]; 2],
}

/// The passwords a CHAP login may have hashed: CHAP cannot compare in any case or
/// notation, so each accepted form is tried.
fn chap_candidates(secret: Secret<'_>, typed_user: &str) -> Vec<String> {
    let mut c = match secret {
        Secret::Password(p) => return vec![p.to_string()],
        Secret::Code(code) => vec![String::new(), code.to_string(), code.to_ascii_lowercase(), typed_user.to_string()],
        Secret::Mac(mac) => {
            let colons = mac.as_str().to_string();
            let bare: String = colons.chars().filter(|c| *c != ':').collect();
            let dashes = colons.replace(':', "-");
            vec![
                String::new(),
                typed_user.to_string(),
                colons.to_ascii_lowercase(),
                bare.to_ascii_lowercase(),
                dashes.to_ascii_lowercase(),
                colons,
                bare,
                dashes,
            ]
        }
    };
    c.dedup();
    c
}

/// A PAP password against the secret.
fn pap_matches(secret: Secret<'_>, given: &[u8]) -> bool {
    match secret {
        Secret::Password(p) => subtle_eq(given, p.as_bytes()),
        Secret::Code(code) => given.is_empty() || given.eq_ignore_ascii_case(code.as_bytes()),
        Secret::Mac(mac) => {
            given.is_empty() || std::str::from_utf8(given).ok().and_then(|g| Mac::parse(g).ok()).as_ref() == Some(mac)
        }
    }
}

/// Checks the credentials against the secret. On success returns the method and the
/// reply attributes the method itself needs (MS-CHAP).
fn check_credentials(inp: &Input<'_>, secret_of: Secret<'_>) -> Result<(Method, Vec<Avp>), (String, Vec<Avp>)> {
    let req = inp.req;
    let secret = inp.client.secret.as_bytes();
    let user = req.text(attr::USER_NAME).unwrap_or_default();
    if let Some(hidden) = req.get(attr::USER_PASSWORD) {
        // An empty password may come as an empty attribute (MAC authentication).
        let given = if hidden.is_empty() {
            Vec::new()
        } else {
            crypto::unhide_password(hidden, secret, &req.authenticator).map_err(|e| (format!("PAP: {e}"), vec![]))?
        };
        return if pap_matches(secret_of, &given) {
            Ok((Method::Pap, vec![]))
        } else {
            Err(("wrong password (PAP)".into(), vec![]))
        };
    }
    if let Some(chap) = req.get(attr::CHAP_PASSWORD) {
        let challenge = req.get(attr::CHAP_CHALLENGE).unwrap_or(&req.authenticator);
        return if chap_candidates(secret_of, &user).iter().any(|p| crypto::chap_verify(chap, challenge, p.as_bytes())) {
            Ok((Method::Chap, vec![]))
        } else {
            Err(("wrong password (CHAP)".into(), vec![]))
        };
    }
    // MS-CHAP is PPP's: only an account's own password (the hotspot never uses it).
    let password = match secret_of {
        Secret::Password(p) => Some(p),
        Secret::Code(code) => Some(code),
        Secret::Mac(_) => None,
    };
    let challenge = req.vsa(VENDOR_MICROSOFT, ms::CHAP_CHALLENGE);
    if let (Some(challenge), Some(response)) = (challenge, req.vsa(VENDOR_MICROSOFT, ms::CHAP2_RESPONSE)) {
        let Some(password) = password else { return Err(("MS-CHAPv2 for a MAC login".into(), vec![])) };
        let nt = mschap::nt_hash(password);
        return match mschap::v2_verify(challenge, response, &user, &nt) {
            Some(ok) => {
                let send = crypto::salt_encrypt(&ok.send_key, secret, &req.authenticator, inp.salts[0]);
                let recv = crypto::salt_encrypt(&ok.recv_key, secret, &req.authenticator, inp.salts[1]);
                let (Ok(send), Ok(recv)) = (send, recv) else {
                    return Err(("MPPE key encryption failed".into(), vec![]));
                };
                Ok((
                    Method::MsChapV2,
                    vec![
                        Avp::vsa(VENDOR_MICROSOFT, ms::CHAP2_SUCCESS, &ok.success),
                        Avp::vsa(VENDOR_MICROSOFT, ms::MPPE_RECV_KEY, &recv),
                        Avp::vsa(VENDOR_MICROSOFT, ms::MPPE_SEND_KEY, &send),
                        Avp::vsa(VENDOR_MICROSOFT, ms::MPPE_ENCRYPTION_POLICY, &1u32.to_be_bytes()),
                        Avp::vsa(VENDOR_MICROSOFT, ms::MPPE_ENCRYPTION_TYPES, &6u32.to_be_bytes()),
                    ],
                ))
            }
            None => {
                let ident = response.first().copied().unwrap_or(0);
                let err = mschap::v2_error(ident, 691, true, challenge, "Authentication rejected");
                Err(("wrong password (MS-CHAPv2)".into(), vec![Avp::vsa(VENDOR_MICROSOFT, ms::CHAP_ERROR, &err)]))
            }
        };
    }
    if let (Some(challenge), Some(response)) = (challenge, req.vsa(VENDOR_MICROSOFT, ms::CHAP_RESPONSE)) {
        let Some(password) = password else { return Err(("MS-CHAPv1 for a MAC login".into(), vec![])) };
        let nt = mschap::nt_hash(password);
        return match mschap::v1_verify(challenge, response, &nt) {
            Some((_, keys)) => match crypto::hide_password(&keys, secret, &req.authenticator) {
                Ok(hidden) => Ok((
                    Method::MsChapV1,
                    vec![
                        Avp::vsa(VENDOR_MICROSOFT, ms::CHAP_MPPE_KEYS, &hidden),
                        Avp::vsa(VENDOR_MICROSOFT, ms::MPPE_ENCRYPTION_POLICY, &1u32.to_be_bytes()),
                        Avp::vsa(VENDOR_MICROSOFT, ms::MPPE_ENCRYPTION_TYPES, &6u32.to_be_bytes()),
                    ],
                )),
                Err(e) => Err((format!("MS-CHAP keys: {e}"), vec![])),
            },
            None => {
                let ident = response.first().copied().unwrap_or(0);
                let c: String = challenge.iter().map(|b| format!("{b:02X}")).collect();
                let mut err = vec![ident];
                err.extend_from_slice(format!("E=691 R=1 C={c} V=2").as_bytes());
                Err(("wrong password (MS-CHAPv1)".into(), vec![Avp::vsa(VENDOR_MICROSOFT, ms::CHAP_ERROR, &err)]))
            }
        };
    }
    match secret_of {
        // RouterOS may leave the empty password out altogether.
        Secret::Mac(_) | Secret::Code(_) => Ok((Method::NoPassword, vec![])),
        Secret::Password(_) => Err(("no credentials (User-Password, CHAP-Password or MS-CHAP)".into(), vec![])),
    }
}

fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn normalise_mac(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_hexdigit()).collect::<String>().to_ascii_uppercase()
}

/// The "how to pay" text for this customer: the template with their username and
/// their package's price.
fn how_to_pay(inp: &Input<'_>, c: &Account<'_>) -> String {
    let price = inp.package.map(|p| format!("KES {}", p.price)).unwrap_or_default();
    let text = inp.how_to_pay.replace("{username}", c.username).replace("{price}", &price);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub const USED_UP: &str = "Your data bundle is used up — buy another.";
pub const VOUCHER_EXPIRED: &str = "This voucher has expired — buy another.";
pub const VOUCHER_CANCELLED: &str = "This voucher has been cancelled.";
const UNKNOWN: &str = "Unknown username or wrong password.";

/// The MAC a hotspot request logs in by: its User-Name is a MAC (any notation) and the
/// very MAC the router saw (Calling-Station-Id). A MAC typed on another device is not.
pub fn mac_login(req: &Packet) -> Option<Mac> {
    if requested_service(req) != CustomerType::Hotspot {
        return None;
    }
    let user = Mac::parse(&req.text(attr::USER_NAME)?).ok()?;
    let caller = Mac::parse(&req.text(attr::CALLING_STATION_ID)?).ok()?;
    (user == caller).then_some(user)
}

/// A voucher's first step, before anything changes: the credentials (a wrong PIN must
/// not start its clock), then its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoucherStep {
    Reject(Decision),
    /// Rejected as expired; the voucher is to be marked expired.
    Expired(Decision),
    /// Unused: activate it, then decide.
    Activate,
    /// Active: decide.
    Use,
}

pub fn voucher_step(inp: &Input<'_>, v: &Voucher) -> VoucherStep {
    if let Err((reason, attrs)) = check_credentials(inp, inp.secret) {
        let message = (!matches!(inp.secret, Secret::Mac(_))).then(|| UNKNOWN.to_string());
        return VoucherStep::Reject(Decision::Reject { reason: format!("voucher: {reason}"), message, attrs });
    }
    let past = v.expires_at.is_some_and(|e| e <= inp.now);
    match v.status {
        VoucherStatus::Revoked => VoucherStep::Reject(reject("voucher revoked", Some(VOUCHER_CANCELLED.into()))),
        VoucherStatus::UsedUp => VoucherStep::Reject(reject("voucher used up", Some(USED_UP.into()))),
        VoucherStatus::Expired => VoucherStep::Reject(reject("voucher expired", Some(VOUCHER_EXPIRED.into()))),
        _ if past => VoucherStep::Expired(reject("voucher expired", Some(VOUCHER_EXPIRED.into()))),
        VoucherStatus::Unused => VoucherStep::Activate,
        VoucherStatus::Active => VoucherStep::Use,
    }
}

/// A voucher that could not be activated for no reason its state tells.
pub fn voucher_not_usable() -> Decision {
    reject("voucher not usable", Some(VOUCHER_CANCELLED.into()))
}

/// MAC login from a device bound to no account (no hint: nobody typed anything).
pub fn unknown_device() -> Decision {
    reject("MAC login: the device is bound to no account", None)
}

/// A MAC as User-Name from another device (typed into a login form): no hint.
pub fn mac_not_this_device() -> Decision {
    reject("a MAC as username from another device", None)
}

/// The hotspot account has every device slot taken by other devices.
pub fn too_many_devices(bound: u32) -> Decision {
    reject(
        format!("max devices: {bound} bound"),
        Some(format!(
            "This account is already used on {bound} devices. Release one in My account, or buy another package."
        )),
    )
}

/// The whole decision. A MAC login's rejects carry no hint (nobody typed anything).
pub fn decide(inp: &Input<'_>) -> Decision {
    match (decide_inner(inp), inp.secret) {
        (Decision::Reject { reason, attrs, .. }, Secret::Mac(_)) => {
            Decision::Reject { reason: format!("MAC login: {reason}"), message: None, attrs }
        }
        (d, _) => d,
    }
}

fn decide_inner(inp: &Input<'_>) -> Decision {
    let Some(c) = inp.account.as_ref() else {
        return reject("unknown user", Some(UNKNOWN.into()));
    };
    let (method, mut attrs) = match check_credentials(inp, inp.secret) {
        Ok(ok) => ok,
        Err((reason, attrs)) => {
            return Decision::Reject { reason, message: Some(UNKNOWN.into()), attrs };
        }
    };
    // Only now, with the password proven, say why the account cannot connect.
    match c.status {
        CustomerStatus::Active => {}
        CustomerStatus::Suspended => {
            return reject(
                "account suspended",
                Some("Your account is suspended. Please contact your provider.".into()),
            );
        }
        CustomerStatus::Expired => {
            let msg = match c.expires_at {
                Some(t) => {
                    format!("Your subscription expired on {}. {}", t.format("%Y-%m-%d %H:%M UTC"), how_to_pay(inp, c))
                }
                None => format!("Your subscription has expired. {}", how_to_pay(inp, c)),
            };
            return reject("account expired", Some(msg));
        }
        CustomerStatus::AwaitingPayment => {
            return reject(
                "awaiting first payment",
                Some(format!("Your account is ready: pay to get online. {}", how_to_pay(inp, c))),
            );
        }
        other => return reject(format!("account {other}"), Some("Your account is not active.".into())),
    }
    if let Some(exp) = c.expires_at
        && exp <= inp.now
    {
        let msg = format!("Your subscription expired on {}. {}", exp.format("%Y-%m-%d %H:%M UTC"), how_to_pay(inp, c));
        return reject("subscription expired", Some(msg));
    }
    let Some(p) = inp.package else {
        return reject("no package", Some(format!("You have no active package. {}", how_to_pay(inp, c))));
    };
    if !p.active {
        return reject(
            "package disabled",
            Some("Your package is no longer offered. Please contact your provider.".into()),
        );
    }
    let service = requested_service(inp.req);
    if c.customer_type != service {
        return reject(
            format!("{} customer tried {}", c.customer_type, service),
            Some(format!("This account is for {}, not {}.", c.customer_type, service)),
        );
    }
    if !inp.client.service_types.serves(service) {
        return reject(format!("router {} does not serve {}", inp.client.name, service), None);
    }
    let limit = match c.max_sessions {
        Some(n) => u64::from(n.max(1)),
        None => u64::try_from(p.shared_users.max(1)).unwrap_or(1),
    };
    if inp.open_sessions >= limit {
        return reject(
            format!("simultaneous use: {} open session(s), limit {limit}", inp.open_sessions),
            Some("This account is already connected on another device.".into()),
        );
    }
    if service == CustomerType::Hotspot
        && let Some(bound) = c.mac_address.filter(|m| !m.is_empty())
    {
        let caller = inp.req.text(attr::CALLING_STATION_ID).unwrap_or_default();
        if normalise_mac(bound) != normalise_mac(&caller) {
            return reject(
                format!("MAC {caller} is not the bound {bound}"),
                Some("This account is locked to another device.".into()),
            );
        }
    }

    if let Some(d) = inp.data {
        if d.used_up() {
            return reject(format!("data used up: {} of {} bytes", d.used, d.limit), Some(USED_UP.into()));
        }
        if service == CustomerType::Hotspot {
            // What is left, as RouterOS reads it: Gigawords × 2^32 + Limit.
            let left = d.left();
            attrs.push(Avp::vsa(
                dict::VENDOR_MIKROTIK,
                dict::mikrotik::TOTAL_LIMIT,
                &((left & 0xffff_ffff) as u32).to_be_bytes(),
            ));
            attrs.push(Avp::vsa(
                dict::VENDOR_MIKROTIK,
                dict::mikrotik::TOTAL_LIMIT_GIGAWORDS,
                &u32::try_from(left >> 32).unwrap_or(u32::MAX).to_be_bytes(),
            ));
        }
    }
    attrs.push(Avp::mikrotik_text(dict::mikrotik::RATE_LIMIT, &p.rate_limit().mikrotik()));
    if let Some(exp) = c.expires_at {
        let secs = (exp - inp.now).num_seconds().clamp(1, u32::MAX as i64) as u32;
        attrs.push(Avp::int(attr::SESSION_TIMEOUT, secs));
    }
    attrs.push(Avp::int(attr::ACCT_INTERIM_INTERVAL, inp.policy.interim_interval_secs.max(60)));
    if service == CustomerType::Hotspot && inp.policy.hotspot_idle_timeout_secs > 0 {
        attrs.push(Avp::int(attr::IDLE_TIMEOUT, inp.policy.hotspot_idle_timeout_secs));
    }
    // A customer's own address wins over the package's pool (RouterOS ignores the
    // pool when both come).
    if let Some(ip) = c.static_ip.and_then(|s| s.parse::<std::net::Ipv4Addr>().ok()) {
        attrs.push(Avp::ipv4(attr::FRAMED_IP_ADDRESS, ip));
    } else if let Some(pool) = p.framed_pool.as_deref().filter(|p| !p.is_empty()) {
        attrs.push(Avp::text(attr::FRAMED_POOL, pool));
    }
    Decision::Accept { attrs, method }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use broadnet_domain::{Money, ServiceType};
    use broadnet_radius::{Code, encode_request};

    const SECRET: &[u8] = b"s3cret";

    fn request(attrs: Vec<Avp>, ra: [u8; 16]) -> Packet {
        Packet::decode(&encode_request(Code::AccessRequest, 1, &attrs, SECRET, true, ra).unwrap()).unwrap()
    }

    fn pap(user: &str, password: &str, mac: &str) -> Packet {
        let ra = [7u8; 16];
        let hidden = crypto::hide_password(password.as_bytes(), SECRET, &ra).unwrap();
        request(
            vec![
                Avp::text(attr::USER_NAME, user),
                Avp::new(attr::USER_PASSWORD, hidden),
                Avp::text(attr::CALLING_STATION_ID, mac),
            ],
            ra,
        )
    }

    fn chap(user: &str, password: &str, mac: &str) -> Packet {
        let challenge = [9u8; 16];
        let mut value = vec![5u8];
        value.extend(crypto::chap_response(5, password.as_bytes(), &challenge));
        request(
            vec![
                Avp::text(attr::USER_NAME, user),
                Avp::new(attr::CHAP_PASSWORD, value),
                Avp::new(attr::CHAP_CHALLENGE, challenge.to_vec()),
                Avp::text(attr::CALLING_STATION_ID, mac),
            ],
            [3u8; 16],
        )
    }

    fn client() -> RadiusClient {
        RadiusClient {
            router_id: 1,
            name: "core".into(),
            nas_ip: "10.0.0.1".into(),
            secret: "s3cret".into(),
            service_types: ServiceType::Both,
            require_message_authenticator: true,
        }
    }

    fn package(data_limit_mb: Option<i64>) -> Package {
        Package {
            id: 1,
            name: "Day".into(),
            description: None,
            service_type: ServiceType::Hotspot,
            price: Money::from_minor(5000).unwrap(),
            download_bps: 2_000_000,
            upload_bps: 1_000_000,
            burst: None,
            duration_minutes: 1440,
            data_limit_mb,
            shared_users: 1,
            framed_pool: None,
            active: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn voucher(status: VoucherStatus, pin: Option<&str>, expires_at: Option<DateTime<Utc>>) -> Voucher {
        Voucher {
            id: 1,
            code: "ABC234".into(),
            package_id: 1,
            batch_id: None,
            status,
            pin: pin.map(str::to_string),
            max_devices: 2,
            price: Money::from_minor(5000).unwrap(),
            used_at: None,
            expires_at,
            revoked_at: None,
            created_at: Utc::now(),
        }
    }

    fn input<'a>(
        req: &'a Packet,
        client: &'a RadiusClient,
        policy: &'a Policy,
        account: Option<Account<'a>>,
        secret: Secret<'a>,
        package: Option<&'a Package>,
        data: Option<DataUse>,
    ) -> Input<'a> {
        Input {
            req,
            client,
            account,
            secret,
            package,
            open_sessions: 0,
            data,
            now: Utc::now(),
            policy,
            how_to_pay: "",
            salts: [[0x80, 1], [0x88, 2]],
        }
    }

    #[test]
    fn a_mac_login_is_a_mac_username_equal_to_the_calling_station() {
        assert_eq!(mac_login(&pap("aa-bb-cc-dd-ee-ff", "", "AA:BB:CC:DD:EE:FF")), Mac::parse("aabbccddeeff").ok());
        assert_eq!(mac_login(&pap("AA:BB:CC:DD:EE:FF", "", "AA:BB:CC:DD:EE:00")), None, "typed on another device");
        assert_eq!(mac_login(&pap("alice", "", "AA:BB:CC:DD:EE:FF")), None);
        let mut ppp = pap("AA:BB:CC:DD:EE:FF", "", "AA:BB:CC:DD:EE:FF");
        ppp.attrs.push(Avp::int(attr::SERVICE_TYPE, dict::service_type::FRAMED_USER));
        assert_eq!(mac_login(&ppp), None, "PPP never logs in by MAC");
    }

    #[test]
    fn codes_match_in_any_case_or_empty_and_macs_in_any_notation() {
        assert!(pap_matches(Secret::Code("ABC234"), b"abc234"));
        assert!(pap_matches(Secret::Code("ABC234"), b""));
        assert!(!pap_matches(Secret::Code("ABC234"), b"ABC235"));
        let mac = Mac::parse("AA:BB:CC:DD:EE:FF").unwrap();
        assert!(pap_matches(Secret::Mac(&mac), b"aabb.ccdd.eeff"));
        assert!(pap_matches(Secret::Mac(&mac), b""));
        assert!(!pap_matches(Secret::Mac(&mac), b"AA:BB:CC:DD:EE:00"));
        assert!(!pap_matches(Secret::Password("pw"), b""));
        assert!(chap_candidates(Secret::Mac(&mac), "x").contains(&"aabbccddeeff".to_string()));
        assert_eq!(chap_candidates(Secret::Password("pw"), "x"), ["pw"]);
    }

    #[test]
    fn a_voucher_checks_its_pin_before_saying_anything_of_its_state() {
        let (c, policy) = (client(), Policy::default());
        let revoked = voucher(VoucherStatus::Revoked, Some("4321"), None);
        let wrong = pap("ABC234", "1111", "AA:00:00:00:00:01");
        let step = voucher_step(&input(&wrong, &c, &policy, None, Secret::of_voucher(&revoked), None, None), &revoked);
        let VoucherStep::Reject(Decision::Reject { message, .. }) = step else { panic!("{step:?}") };
        assert_eq!(message.as_deref(), Some(UNKNOWN));
        let right = chap("ABC234", "4321", "AA:00:00:00:00:01");
        let step = voucher_step(&input(&right, &c, &policy, None, Secret::of_voucher(&revoked), None, None), &revoked);
        assert_eq!(step, VoucherStep::Reject(reject("voucher revoked", Some(VOUCHER_CANCELLED.into()))));

        let code = pap("abc234", "abc234", "AA:00:00:00:00:01");
        let unused = voucher(VoucherStatus::Unused, None, None);
        let inp = input(&code, &c, &policy, None, Secret::of_voucher(&unused), None, None);
        assert_eq!(voucher_step(&inp, &unused), VoucherStep::Activate);
        let active = voucher(VoucherStatus::Active, None, Some(Utc::now() + chrono::Duration::hours(1)));
        assert_eq!(voucher_step(&inp, &active), VoucherStep::Use);
        let past = voucher(VoucherStatus::Active, None, Some(Utc::now() - chrono::Duration::minutes(1)));
        assert!(
            matches!(voucher_step(&inp, &past), VoucherStep::Expired(Decision::Reject { message: Some(m), .. }) if m == VOUCHER_EXPIRED)
        );
        let used_up = voucher(VoucherStatus::UsedUp, None, None);
        assert!(
            matches!(voucher_step(&inp, &used_up), VoucherStep::Reject(Decision::Reject { message: Some(m), .. }) if m == USED_UP)
        );
    }

    #[test]
    fn a_bundle_sends_what_is_left_and_refuses_when_used_up() {
        let (c, policy) = (client(), Policy::default());
        let p = package(Some(10_000));
        let v = voucher(VoucherStatus::Active, None, Some(Utc::now() + chrono::Duration::hours(1)));
        let req = pap("ABC234", "", "AA:00:00:00:00:01");
        let left = DataUse { limit: 10_000_000_000, used: 3_000_000_000, start: None };
        let inp = input(&req, &c, &policy, Some(Account::voucher(&v)), Secret::of_voucher(&v), Some(&p), Some(left));
        let Decision::Accept { attrs, method } = decide(&inp) else { panic!("{:?}", decide(&inp)) };
        assert_eq!(method, Method::Pap);
        let vsa = |t: u8| {
            attrs
                .iter()
                .find(|a| a.typ == attr::VENDOR_SPECIFIC && a.value.get(4) == Some(&t))
                .map(|a| u32::from_be_bytes(a.value[6..10].try_into().unwrap()))
        };
        // 7,000,000,000 = 1 × 2^32 + 2,705,032,704.
        assert_eq!(
            (vsa(dict::mikrotik::TOTAL_LIMIT_GIGAWORDS), vsa(dict::mikrotik::TOTAL_LIMIT)),
            (Some(1), Some(2_705_032_704))
        );
        let timeout = attrs.iter().find(|a| a.typ == attr::SESSION_TIMEOUT).unwrap();
        assert!(u32::from_be_bytes(timeout.value[..4].try_into().unwrap()) <= 3600, "never past the time left");

        let used = DataUse { limit: 10_000_000_000, used: 10_000_000_000, start: None };
        let inp = input(&req, &c, &policy, Some(Account::voucher(&v)), Secret::of_voucher(&v), Some(&p), Some(used));
        assert!(matches!(decide(&inp), Decision::Reject { message: Some(m), .. } if m == USED_UP));
        // By MAC, the same refusal carries no hint.
        let mac = Mac::parse("AA:00:00:00:00:01").unwrap();
        let inp = input(&req, &c, &policy, Some(Account::voucher(&v)), Secret::Mac(&mac), Some(&p), Some(used));
        let Decision::Reject { reason, message, .. } = decide(&inp) else { panic!() };
        assert!(reason.starts_with("MAC login: data used up"), "{reason}");
        assert_eq!(message, None);
    }

    #[test]
    fn too_many_devices_says_how_many_and_what_to_do() {
        let Decision::Reject { message: Some(m), .. } = too_many_devices(3) else { panic!() };
        assert_eq!(m, "This account is already used on 3 devices. Release one in My account, or buy another package.");
    }
}
