//! The authorization decision, with no I/O: who may connect, and with what.

use broadnet_domain::{CustomerStatus, CustomerType};
use broadnet_radius::dict::{self, VENDOR_MICROSOFT, attr, ms};
use broadnet_radius::{Avp, Packet, crypto, mschap};
use broadnet_store::{Customer, Package, RadiusClient};
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
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Pap => "PAP",
            Method::Chap => "CHAP",
            Method::MsChapV1 => "MS-CHAPv1",
            Method::MsChapV2 => "MS-CHAPv2",
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

/// Everything the decision needs, already looked up.
pub struct Input<'a> {
    pub req: &'a Packet,
    pub client: &'a RadiusClient,
    pub customer: Option<&'a Customer>,
    pub package: Option<&'a Package>,
    pub open_sessions: u64,
    pub now: DateTime<Utc>,
    pub policy: &'a Policy,
    /// The "how to pay" template in force (from Settings), `{username}`/`{price}` unfilled.
    pub how_to_pay: &'a str,
    /// Two distinct random salts for the MPPE keys.
    pub salts: [[u8; 2]; 2],
}

/// Checks the credentials against the customer's password. On success returns the
/// method and the reply attributes the method itself needs (MS-CHAP).
fn check_credentials(inp: &Input<'_>, password: &str) -> Result<(Method, Vec<Avp>), (String, Vec<Avp>)> {
    let req = inp.req;
    let secret = inp.client.secret.as_bytes();
    let user = req.text(attr::USER_NAME).unwrap_or_default();
    if let Some(hidden) = req.get(attr::USER_PASSWORD) {
        let given =
            crypto::unhide_password(hidden, secret, &req.authenticator).map_err(|e| (format!("PAP: {e}"), vec![]))?;
        return if subtle_eq(&given, password.as_bytes()) {
            Ok((Method::Pap, vec![]))
        } else {
            Err(("wrong password (PAP)".into(), vec![]))
        };
    }
    if let Some(chap) = req.get(attr::CHAP_PASSWORD) {
        let challenge = req.get(attr::CHAP_CHALLENGE).unwrap_or(&req.authenticator);
        return if crypto::chap_verify(chap, challenge, password.as_bytes()) {
            Ok((Method::Chap, vec![]))
        } else {
            Err(("wrong password (CHAP)".into(), vec![]))
        };
    }
    let challenge = req.vsa(VENDOR_MICROSOFT, ms::CHAP_CHALLENGE);
    if let (Some(challenge), Some(response)) = (challenge, req.vsa(VENDOR_MICROSOFT, ms::CHAP2_RESPONSE)) {
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
    Err(("no credentials (User-Password, CHAP-Password or MS-CHAP)".into(), vec![]))
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
fn how_to_pay(inp: &Input<'_>, c: &Customer) -> String {
    let price = inp.package.map(|p| format!("KES {}", p.price)).unwrap_or_default();
    let text = inp.how_to_pay.replace("{username}", c.username.as_str()).replace("{price}", &price);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The whole decision.
pub fn decide(inp: &Input<'_>) -> Decision {
    let Some(c) = inp.customer else {
        return reject("unknown user", Some("Unknown username or wrong password.".into()));
    };
    let (method, mut attrs) = match check_credentials(inp, &c.password) {
        Ok(ok) => ok,
        Err((reason, attrs)) => {
            return Decision::Reject { reason, message: Some("Unknown username or wrong password.".into()), attrs };
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
    let limit = u64::try_from(p.shared_users.max(1)).unwrap_or(1);
    if inp.open_sessions >= limit {
        return reject(
            format!("simultaneous use: {} open session(s), limit {limit}", inp.open_sessions),
            Some("This account is already connected on another device.".into()),
        );
    }
    if service == CustomerType::Hotspot
        && let Some(bound) = c.mac_address.as_deref().filter(|m| !m.is_empty())
    {
        let caller = inp.req.text(attr::CALLING_STATION_ID).unwrap_or_default();
        if normalise_mac(bound) != normalise_mac(&caller) {
            return reject(
                format!("MAC {caller} is not the bound {bound}"),
                Some("This account is locked to another device.".into()),
            );
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
    if let Some(ip) = c.static_ip.as_deref().and_then(|s| s.parse::<std::net::Ipv4Addr>().ok()) {
        attrs.push(Avp::ipv4(attr::FRAMED_IP_ADDRESS, ip));
    } else if let Some(pool) = p.framed_pool.as_deref().filter(|p| !p.is_empty()) {
        attrs.push(Avp::text(attr::FRAMED_POOL, pool));
    }
    Decision::Accept { attrs, method }
}
