//! The captive portal's use cases: what a phone on the hotspot can do without any
//! account. It buys a package with an M-Pesa (or Airtel) prompt and follows the
//! payment on a waiting screen, claims a payment by its M-Pesa code, or uses a
//! voucher; each ends with the router's login form filled in for it.
//!
//! Everything here is anonymous, so every action is limited (prompts per phone, per
//! device and in total; code and voucher attempts per device), no answer says whether
//! a phone number belongs to a customer, and phone numbers are shown masked.

use crate::input::{Fields, Input, Unknown};
use crate::{App, AppError, AppResult};
use broadnet_domain::billing::StkOutcome;
use broadnet_domain::hotspot::normalise_voucher_code;
use broadnet_domain::{
    CustomerStatus, CustomerType, Mac, Money, PaymentProvider, PaymentStatus, Phone, ServiceType, Username,
    VoucherStatus,
};
use broadnet_store::{
    Actor, AssignOutcome, Assignment, Customer, NewCustomer, NewPortalOrder, Package, Payment, PortalOrder, StoreError,
    UnmatchedStatus,
};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// With no callback after this long, the waiting screen asks the provider itself.
pub const QUERY_AFTER_SECS: i64 = 20;
/// And again at most this often.
pub const QUERY_EVERY_SECS: i64 = 10;
/// How long the waiting screen counts down before it says the prompt went unanswered
/// (M-Pesa's own prompt lives about a minute).
pub const WAIT_SECS: i64 = 90;

/// Fixed-window counters in memory, one map per rule.
pub struct WindowLimiter {
    max: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (DateTime<Utc>, u32)>>,
}

impl WindowLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        WindowLimiter { max, window, counts: Mutex::new(HashMap::new()) }
    }

    /// Counts one attempt for `key`; `Err(seconds to wait)` past the limit (the
    /// refused attempt is not counted).
    pub fn hit(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let mut m = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 100_000 {
            let w = self.window;
            m.retain(|_, (start, _)| now < *start + w);
        }
        let e = m.entry(key.to_string()).or_insert((now, 0));
        if now >= e.0 + self.window {
            *e = (now, 0);
        }
        if e.1 >= self.max {
            let wait = (e.0 + self.window - now).num_seconds().max(1);
            return Err(u64::try_from(wait).unwrap_or(1));
        }
        e.1 += 1;
        Ok(())
    }
}

/// The portal's limits. Prompts cost the ISP nothing but annoy whoever owns the
/// number, so nobody can use the portal to spam prompts; codes and vouchers can be
/// guessed, so attempts are few.
pub struct PortalGuard {
    pub prompts_per_phone: WindowLimiter,
    pub prompts_per_device: WindowLimiter,
    pub prompts_total: WindowLimiter,
    pub codes_per_device: WindowLimiter,
    pub vouchers_per_device: WindowLimiter,
    /// My account's logins and codes.
    pub account: crate::portal_account::AccountGuard,
}

impl Default for PortalGuard {
    fn default() -> Self {
        PortalGuard {
            prompts_per_phone: WindowLimiter::new(3, Duration::minutes(10)),
            prompts_per_device: WindowLimiter::new(5, Duration::minutes(10)),
            prompts_total: WindowLimiter::new(60, Duration::minutes(1)),
            codes_per_device: WindowLimiter::new(5, Duration::minutes(15)),
            vouchers_per_device: WindowLimiter::new(10, Duration::minutes(15)),
            account: crate::portal_account::AccountGuard::default(),
        }
    }
}

/// What the router told the portal about the phone when it sent it here (the
/// hand-off form of our `login.html`). It comes from outside: a field that is not
/// what a router sends is dropped, never trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterContext {
    pub mac: Option<Mac>,
    pub ip: Option<String>,
    /// Where the login form goes: `http(s)://<router>/login`.
    pub link_login_only: Option<String>,
    /// What the phone first asked for.
    pub link_orig: Option<String>,
    /// CHAP ident, 2 hex digits, and challenge, 32 hex digits (none: PAP).
    pub chap_id: Option<String>,
    pub chap_challenge: Option<String>,
    pub identity: Option<String>,
    /// The router's message for the last login (a RADIUS Reply-Message).
    pub error: Option<String>,
}

fn printable(v: &str, max: usize) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v.chars().count() <= max && !v.chars().any(char::is_control)).then(|| v.to_string())
}

fn hex_of_len(v: &str, len: usize) -> Option<String> {
    let v = v.trim();
    (v.len() == len && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

/// A router's login URL: http(s), no user info, path `/login`.
fn login_url(v: &str) -> Option<String> {
    let u = url::Url::parse(v.trim()).ok()?;
    let ok = matches!(u.scheme(), "http" | "https")
        && u.username().is_empty()
        && u.password().is_none()
        && u.host_str().is_some()
        && u.path() == "/login"
        && u.query().is_none()
        && u.fragment().is_none();
    ok.then(|| u.to_string())
}

fn http_url(v: &str, max: usize) -> Option<String> {
    let u = url::Url::parse(v.trim()).ok()?;
    (matches!(u.scheme(), "http" | "https") && v.len() <= max).then(|| u.to_string())
}

impl RouterContext {
    /// From the hand-off form's fields (`mac`, `ip`, `link-login-only`, `link-orig`,
    /// `chap-id`, `chap-challenge`, `identity`, `error`; `_` works for `-`).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> RouterContext {
        let mut c = RouterContext::default();
        for (k, v) in pairs {
            match k.replace('_', "-").as_str() {
                "mac" => c.mac = Mac::parse(v).ok(),
                "ip" => c.ip = v.trim().parse::<std::net::Ipv4Addr>().ok().map(|a| a.to_string()),
                "link-login-only" => c.link_login_only = login_url(v),
                "link-orig" => c.link_orig = http_url(v, 500),
                "chap-id" => c.chap_id = hex_of_len(v, 2),
                "chap-challenge" => c.chap_challenge = hex_of_len(v, 32),
                "identity" => c.identity = printable(v, 64),
                "error" => c.error = printable(v, 200),
                _ => {}
            }
        }
        if c.chap_id.is_none() || c.chap_challenge.is_none() {
            (c.chap_id, c.chap_challenge) = (None, None);
        }
        c
    }

    /// Whether the portal can log the phone in itself (the router told us where).
    pub fn can_log_in(&self) -> bool {
        self.link_login_only.is_some()
    }

    /// The key device limits count under: the MAC, else the address the request
    /// came from.
    fn device_key(&self, client_ip: &str) -> String {
        match &self.mac {
            Some(m) => format!("mac:{m}"),
            None => format!("ip:{client_ip}"),
        }
    }
}

/// Credentials for the router's login form, and where to send it. The page logs in
/// with CHAP (md5 of ident, password and challenge, computed in the page) when the
/// router gave a challenge, with PAP otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HotspotLogin {
    pub username: String,
    #[serde(skip)]
    pub password: String,
}

/// A number shown on the portal: `0712 *** 678`.
pub fn mask_phone(p: &Phone) -> String {
    let local = p.local();
    format!("{} *** {}", &local[..4], &local[local.len() - 3..])
}

/// The portal's "Buy": which package, which phone pays.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PortalBuy {
    pub package_id: Input,
    pub phone: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// "I already paid": the M-Pesa code and the number that paid.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PortalClaim {
    pub code: Input,
    pub phone: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// "I have a voucher": the code, and the PIN for code + PIN vouchers.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PortalVoucher {
    pub code: Input,
    pub pin: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// Where an order stands, for the waiting screen.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderView {
    pub token: String,
    pub package: Package,
    pub amount: Money,
    pub phone_masked: String,
    pub outcome: StkOutcome,
    /// The provider's own words for a failure, with its code.
    pub provider_message: Option<String>,
    pub receipt: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Seconds left on the countdown while waiting.
    pub seconds_left: i64,
    /// Paybill and account to pay by hand when the prompt fails (M-Pesa only).
    pub paybill: Option<(String, String)>,
    /// Once paid: the account's login, for the router's form and for the page.
    pub login: Option<HotspotLogin>,
    /// `purchase` (portal) or `renewal` (My account).
    pub kind: String,
    /// Who the prompt went through (M-Pesa or Airtel), for the page's wording.
    pub provider: PaymentProvider,
}

/// A hotspot account's state, for the status page and My account.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountStatus {
    pub username: String,
    pub package: Option<Package>,
    pub active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub seconds_left: i64,
    pub is_voucher: bool,
    /// The data allowance, for a package with one.
    pub data: Option<broadnet_store::DataUse>,
    pub devices: Vec<broadnet_store::HotspotDevice>,
    /// How many devices the account may have.
    pub max_devices: u32,
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len).map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char).collect()
}

/// A random token for a browser's handle on its order (128 bits, hex).
pub fn new_token() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill(&mut b);
    hex::encode(b)
}

impl App {
    /// `value` with its signature, for a cookie the browser gives back unchanged:
    /// `<value>.<expiry unix>.<hmac>`.
    pub fn portal_seal(&self, label: &str, value: &str, ttl: Duration) -> String {
        let exp = (self.now() + ttl).timestamp();
        let body = format!("{value}.{exp}");
        let sig = self.tokens.sign(label, &body);
        format!("{body}.{sig}")
    }

    /// The value of a sealed cookie, if it is ours, for `label`, and not expired.
    pub fn portal_open(&self, label: &str, sealed: &str) -> Option<String> {
        use subtle::ConstantTimeEq;
        let (body, sig) = sealed.rsplit_once('.')?;
        let want = self.tokens.sign(label, body);
        if !bool::from(want.as_bytes().ct_eq(sig.as_bytes())) {
            return None;
        }
        let (value, exp) = body.rsplit_once('.')?;
        (exp.parse::<i64>().ok()? > self.now().timestamp()).then(|| value.to_string())
    }

    fn portal_limit(&self, limiter: &crate::portal::WindowLimiter, key: &str) -> AppResult<()> {
        limiter.hit(key, self.now()).map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
    }

    /// The packages a phone can buy: active, for the hotspot, cheapest first.
    pub async fn portal_packages(&self) -> AppResult<Vec<Package>> {
        let mut v: Vec<Package> = self
            .store
            .list_packages()
            .await?
            .into_iter()
            .filter(|p| p.active && matches!(p.service_type, ServiceType::Hotspot | ServiceType::Both))
            .collect();
        v.sort_by_key(|p| (p.price, p.duration_minutes, p.id));
        Ok(v)
    }

    async fn portal_package(&self, id: Option<i64>) -> AppResult<Package> {
        let Some(id) = id else { return Err(AppError::field("package_id", "choose a package")) };
        match self.store.get_package(id).await {
            Ok(p) if p.active && matches!(p.service_type, ServiceType::Hotspot | ServiceType::Both) => Ok(p),
            Ok(_) | Err(StoreError::NotFound) => Err(AppError::field("package_id", "choose one of the packages shown")),
            Err(e) => Err(e.into()),
        }
    }

    /// A new hotspot account with a short readable login code and a password, for
    /// `phone`, waiting for its first payment.
    async fn new_hotspot_customer(
        &self,
        phone: &Phone,
        package: &Package,
        router: Option<&str>,
    ) -> AppResult<Customer> {
        let now = self.now();
        for _ in 0..8 {
            let code = random_from(broadnet_domain::VoucherCharset::Mixed.alphabet(), 6);
            // Never the same name as a voucher: RADIUS looks customers up first.
            match self.store.get_voucher_by_code(&code).await {
                Ok(_) => continue,
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            let username = Username::parse(&code).map_err(|e| AppError::Internal(e.to_string()))?;
            let new = NewCustomer {
                full_name: format!("Hotspot {}", mask_phone(phone)),
                username,
                password: random_from(broadnet_domain::VoucherCharset::Digits.alphabet(), 6),
                phone: phone.clone(),
                email: None,
                customer_type: CustomerType::Hotspot,
                package_id: Some(package.id),
                router_id: None,
                status: CustomerStatus::AwaitingPayment,
                expires_at: None,
                mac_address: None,
                static_ip: None,
                location: None,
                notes: router.map(|r| format!("Bought on the hotspot portal at {r}")),
                created_at: now,
            };
            match self.store.create_customer(&Actor::system("portal", now), new).await {
                Ok(c) => return Ok(c),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Internal("no free login code after 8 tries".into()))
    }

    /// "Pay KES N": checks the package and the phone, the limits, then creates the
    /// hotspot account (or renews the one this device already has) and sends the
    /// prompt. The order's token is the browser's handle on it.
    pub async fn portal_buy(&self, ctx: &RouterContext, client_ip: &str, req: PortalBuy) -> AppResult<PortalOrder> {
        let mut f = Fields::new(&req.unknown);
        let package_id = f.int("package_id", &req.package_id, 1, i64::MAX).value();
        let phone = f.parsed("phone", &req.phone, Phone::parse);
        let phone = f.required("phone", phone);
        f.finish()?;
        let Some(phone) = phone else { return Err(AppError::Internal("phone missing after validation".into())) };
        let package = self.portal_package(package_id).await?;
        if package.price.minor() < 100 {
            return Err(AppError::field("package_id", "this package cannot be bought with mobile money"));
        }
        let device = ctx.device_key(client_ip);
        self.portal_limit(&self.portal.prompts_per_device, &device)?;
        self.portal_limit(&self.portal.prompts_per_phone, phone.as_str())?;
        self.portal_limit(&self.portal.prompts_total, "all")?;
        let customer = match self.returning_customer(ctx).await? {
            Some(c) if c.phone == phone => c,
            _ => self.new_hotspot_customer(&phone, &package, ctx.identity.as_deref()).await?,
        };
        self.portal_prompt(ctx, client_ip, "purchase", customer, package, phone).await
    }

    /// The hotspot customer this device already bought with (its MAC is bound to
    /// their account): a new purchase from the same phone extends that account.
    async fn returning_customer(&self, ctx: &RouterContext) -> AppResult<Option<Customer>> {
        let Some(mac) = &ctx.mac else { return Ok(None) };
        let Some(username) = self.store.device_account(mac).await? else { return Ok(None) };
        match self.store.get_customer_by_username(&username).await {
            Ok(c) if c.customer_type == CustomerType::Hotspot => Ok(Some(c)),
            Ok(_) | Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends the prompt and records the order the waiting screen follows.
    pub(crate) async fn portal_prompt(
        &self,
        ctx: &RouterContext,
        client_ip: &str,
        kind: &str,
        customer: Customer,
        package: Package,
        phone: Phone,
    ) -> AppResult<PortalOrder> {
        if self.open_prompt(customer.id).await?.is_some() {
            return Err(AppError::InUse(
                "a payment prompt was sent to this account less than 2 minutes ago: answer it on your phone, or wait a moment and try again".into(),
            ));
        }
        let prompt = self.send_prompt(&customer, &package, package.price, phone.clone(), None, "portal").await?;
        let order = self
            .store
            .create_portal_order(NewPortalOrder {
                token: new_token(),
                kind: kind.into(),
                customer_id: Some(customer.id),
                payment_id: Some(prompt.payment.id),
                package_id: package.id,
                phone,
                mac: ctx.mac.clone(),
                ip: ctx.ip.clone().or_else(|| Some(client_ip.to_string())),
                router_identity: ctx.identity.clone(),
                created_at: self.now(),
            })
            .await?;
        tracing::info!(order = order.id, payment = prompt.payment.id, user = %customer.username, kind, "portal prompt sent");
        Ok(order)
    }

    /// "Send the prompt again" for an order that failed or went unanswered.
    pub async fn portal_retry(&self, token: &str, ctx: &RouterContext, client_ip: &str) -> AppResult<PortalOrder> {
        let order = self.store.get_portal_order(token).await.map_err(AppError::from_store("order"))?;
        let (Some(customer_id), Some(payment_id)) = (order.customer_id, order.payment_id) else {
            return Err(AppError::NotFound("order"));
        };
        let payment = self.store.get_payment(payment_id).await?;
        if payment.status == PaymentStatus::Completed {
            return Ok(order);
        }
        self.portal_limit(&self.portal.prompts_per_device, &ctx.device_key(client_ip))?;
        self.portal_limit(&self.portal.prompts_per_phone, order.phone.as_str())?;
        self.portal_limit(&self.portal.prompts_total, "all")?;
        let customer = self.store.get_customer(customer_id).await?;
        let package = self.store.get_package(order.package_id).await?;
        if self.open_prompt(customer.id).await?.is_some() {
            return Err(AppError::InUse(
                "the last prompt is still open on your phone: answer it, or wait 2 minutes before asking for another"
                    .into(),
            ));
        }
        let prompt = self.send_prompt(&customer, &package, package.price, order.phone.clone(), None, "portal").await?;
        self.store.set_portal_order_payment(order.id, prompt.payment.id).await?;
        self.store.get_portal_order(token).await.map_err(AppError::from_store("order"))
    }

    /// The waiting screen's poll: where the order stands. With no answer after
    /// [`QUERY_AFTER_SECS`], the provider is asked (in the background, one caller at a
    /// time), so a lost callback still ends in "paid".
    pub async fn portal_order(&self, token: &str) -> AppResult<OrderView> {
        let order = self.store.get_portal_order(token).await.map_err(AppError::from_store("order"))?;
        let Some(payment_id) = order.payment_id else { return Err(AppError::NotFound("order")) };
        let payment = self.store.get_payment(payment_id).await?;
        let now = self.now();
        let outcome = StkOutcome::of(payment.status, payment.result_code.as_deref());
        if outcome == StkOutcome::Waiting && now - payment.created_at >= Duration::seconds(QUERY_AFTER_SECS) {
            let asked_before = now - Duration::seconds(QUERY_EVERY_SECS);
            if self.store.claim_portal_query(order.id, asked_before, now).await? {
                let app = self.clone();
                let p = payment.clone();
                tokio::spawn(async move {
                    if let Err(e) = app.reconcile_payment(&p).await {
                        tracing::warn!(payment = p.id, error = %e, "portal: asking the provider failed; will ask again");
                    }
                });
            }
        }
        self.order_view(order, payment, outcome).await
    }

    async fn order_view(&self, order: PortalOrder, payment: Payment, outcome: StkOutcome) -> AppResult<OrderView> {
        let package = self.store.get_package(order.package_id).await?;
        let customer = match order.customer_id {
            Some(id) => Some(self.store.get_customer(id).await?),
            None => None,
        };
        let login = match (&customer, outcome) {
            (Some(c), StkOutcome::Paid) => {
                Some(HotspotLogin { username: c.username.to_string(), password: c.password.clone() })
            }
            _ => None,
        };
        let provider_message = match outcome {
            StkOutcome::Waiting | StkOutcome::Paid => None,
            _ => payment.result_desc.as_ref().map(|d| match &payment.result_code {
                Some(code) => format!("{d} (code {code})"),
                None => d.clone(),
            }),
        };
        let paybill = match (payment.provider, &customer) {
            (PaymentProvider::Mpesa, Some(c)) if outcome != StkOutcome::Paid => {
                self.mpesa_settings().await.ok().map(|s| (s.config.shortcode, c.username.to_string()))
            }
            _ => None,
        };
        let seconds_left = (payment.created_at + Duration::seconds(WAIT_SECS) - self.now()).num_seconds().max(0);
        Ok(OrderView {
            token: order.token,
            amount: payment.amount,
            phone_masked: mask_phone(&order.phone),
            outcome,
            provider_message,
            receipt: payment.provider_receipt.clone().filter(|_| outcome == StkOutcome::Paid),
            expires_at: customer.as_ref().and_then(|c| c.expires_at),
            seconds_left,
            paybill,
            login,
            package,
            kind: order.kind,
            provider: payment.provider,
        })
    }

    /// "I already paid": an M-Pesa code (from an STK payment, or a paybill payment whose
    /// account number was wrong) and the number that paid. Each code opens an account
    /// once. With no such payment yet, this device's prompts still waiting are asked
    /// about (their callback may be lost).
    pub async fn portal_claim(
        &self,
        ctx: &RouterContext,
        client_ip: &str,
        req: PortalClaim,
    ) -> AppResult<HotspotLogin> {
        let mut f = Fields::new(&req.unknown);
        let code = f.parsed("code", &req.code, |v| {
            let c: String = v.trim().to_ascii_uppercase();
            if (8..=12).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(c)
            } else {
                Err(broadnet_domain::ParseError::new("an M-Pesa code is 10 letters and digits, like QK7AB12CDE"))
            }
        });
        let code = f.required("code", code);
        let phone = f.parsed("phone", &req.phone, Phone::parse);
        let phone = f.required("phone", phone);
        f.finish()?;
        let (Some(code), Some(phone)) = (code, phone) else {
            return Err(AppError::Internal("claim fields missing after validation".into()));
        };
        self.portal_limit(&self.portal.codes_per_device, &ctx.device_key(client_ip))?;
        let mac = ctx.mac.as_ref().map(|m| m.as_str().to_string());
        let now = self.now();
        let not_found = || {
            AppError::field(
                "code",
                format!(
                    "no payment with code {code} from {} has reached us. Check the code in the M-Pesa message; a payment can take a minute to arrive.",
                    mask_phone(&phone)
                ),
            )
        };
        if self.store.code_claimed(&code).await? {
            return Err(AppError::field("code", "this code has already been used"));
        }
        // A payment we know: an STK payment, or a paybill one matched to a customer.
        match self.store.find_payment_by_receipt(&code).await {
            Ok(p) if p.status == PaymentStatus::Completed => {
                if p.phone.as_ref() != Some(&phone) {
                    return Err(not_found());
                }
                let Some(cid) = p.customer_id else { return Err(not_found()) };
                let c = self.store.get_customer(cid).await?;
                if c.customer_type != CustomerType::Hotspot {
                    return Err(AppError::field(
                        "code",
                        "that payment renewed a home (PPPoE) account; it needs no code — reconnect your router",
                    ));
                }
                return self.claimed(&code, &c, mac.as_deref(), client_ip, now).await;
            }
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        // Money waiting in the unmatched queue (a wrong account number, say).
        match self.store.find_unmatched_by_receipt(&code).await {
            Ok(u) if u.status == UnmatchedStatus::Open => {
                if !masked_phone_matches(u.phone.as_deref(), &phone) {
                    return Err(not_found());
                }
                let packages = self.portal_packages().await?;
                let Some(package) = best_package(&packages, u.amount) else {
                    return Err(AppError::field(
                        "code",
                        format!("KES {} is less than any package; ask the shop to add it to your account", u.amount),
                    ));
                };
                let customer = self.new_hotspot_customer(&phone, package, ctx.identity.as_deref()).await?;
                let actor = Actor { ip: Some(client_ip.to_string()), ..Actor::system("portal claim", now) };
                let assignment = Assignment {
                    unmatched_id: u.id,
                    customer_id: customer.id,
                    package_id: Some(package.id),
                    note: Some(format!("claimed on the portal by {}", mac.as_deref().unwrap_or(client_ip))),
                };
                return match self.store.assign_unmatched(&actor, assignment).await? {
                    AssignOutcome::Assigned { .. } => {
                        self.wake_outbox();
                        let c = self.store.get_customer(customer.id).await?;
                        self.claimed(&code, &c, mac.as_deref(), client_ip, now).await
                    }
                    AssignOutcome::AlreadyResolved { .. } => {
                        // Someone else claimed it a moment before: this account stays unused.
                        let _ = self.store.delete_customer(&actor, customer.id).await;
                        Err(AppError::field("code", "this code has already been used"))
                    }
                };
            }
            Ok(_) => return Err(AppError::field("code", "this code has already been used")),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        // A prompt from this device whose callback never came: ask the provider now.
        if let Some(mac) = &mac {
            for order in self.store.portal_orders_of_mac(mac, now - Duration::hours(24)).await? {
                let Some(pid) = order.payment_id else { continue };
                let p = self.store.get_payment(pid).await?;
                if p.status != PaymentStatus::Pending || order.phone != phone {
                    continue;
                }
                self.reconcile_payment(&p).await?;
                let p = self.store.get_payment(pid).await?;
                if p.status == PaymentStatus::Completed
                    && let Some(cid) = p.customer_id
                {
                    let c = self.store.get_customer(cid).await?;
                    return self.claimed(&code, &c, Some(mac), client_ip, now).await;
                }
            }
        }
        Err(not_found())
    }

    async fn claimed(
        &self,
        code: &str,
        c: &Customer,
        mac: Option<&str>,
        client_ip: &str,
        now: DateTime<Utc>,
    ) -> AppResult<HotspotLogin> {
        if !self.store.record_code_claim(code, c.username.as_str(), mac, Some(client_ip), now).await? {
            return Err(AppError::field("code", "this code has already been used"));
        }
        if c.status != CustomerStatus::Active || c.expires_at.is_none_or(|e| e <= now) {
            return Err(AppError::field("code", "the time this payment bought has run out; buy a package"));
        }
        tracing::info!(user = %c.username, "portal: M-Pesa code claimed");
        Ok(HotspotLogin { username: c.username.to_string(), password: c.password.clone() })
    }

    /// "I have a voucher": checks the code (and PIN) and says why it cannot be used;
    /// its first use is the router's login, which RADIUS turns into the activation.
    pub async fn portal_voucher(
        &self,
        ctx: &RouterContext,
        client_ip: &str,
        req: PortalVoucher,
    ) -> AppResult<HotspotLogin> {
        let mut f = Fields::new(&req.unknown);
        let code = f.parsed("code", &req.code, |v| {
            normalise_voucher_code(v)
                .ok_or_else(|| broadnet_domain::ParseError::new("type the code printed on the voucher"))
        });
        let code = f.required("code", code);
        let pin = f.text("pin", &req.pin, 16).value();
        f.finish()?;
        let Some(code) = code else { return Err(AppError::Internal("code missing after validation".into())) };
        self.portal_limit(&self.portal.vouchers_per_device, &ctx.device_key(client_ip))?;
        let v = match self.store.get_voucher_by_code(&code).await {
            Ok(v) => v,
            Err(StoreError::NotFound) => {
                return Err(AppError::field("code", "no voucher has this code; check it and try again"));
            }
            Err(e) => return Err(e.into()),
        };
        let now = self.now();
        let expired = v.expires_at.is_some_and(|t| t <= now);
        match v.status {
            VoucherStatus::Revoked => return Err(AppError::field("code", "this voucher has been cancelled")),
            VoucherStatus::UsedUp => {
                return Err(AppError::field("code", "this voucher's data is used up — buy another"));
            }
            VoucherStatus::Expired => return Err(AppError::field("code", "this voucher has expired — buy another")),
            _ if expired => return Err(AppError::field("code", "this voucher has expired — buy another")),
            _ => {}
        }
        let password = match (&v.pin, pin) {
            (Some(want), Some(given)) => {
                use subtle::ConstantTimeEq;
                if !bool::from(want.as_bytes().ct_eq(given.trim().as_bytes())) {
                    return Err(AppError::field("pin", "wrong PIN for this voucher"));
                }
                want.clone()
            }
            (Some(_), None) => return Err(AppError::field("pin", "this voucher has a PIN: type it too")),
            (None, _) => v.code.clone(),
        };
        Ok(HotspotLogin { username: v.code, password })
    }

    /// The account this device is bound to (its key), if any.
    pub async fn portal_device_account(&self, ctx: &RouterContext) -> AppResult<Option<String>> {
        let Some(mac) = &ctx.mac else { return Ok(None) };
        Ok(self.store.device_account(mac).await?)
    }

    /// A device coming back to an account with time (and data) left logs in by its
    /// MAC, which RADIUS accepts for the account the MAC is bound to. Not when the
    /// router just refused a login: its message is shown instead, never a loop.
    pub async fn portal_returning(&self, ctx: &RouterContext) -> AppResult<Option<HotspotLogin>> {
        let Some(mac) = &ctx.mac else { return Ok(None) };
        if ctx.error.is_some() || !ctx.can_log_in() {
            return Ok(None);
        }
        let Some(username) = self.store.device_account(mac).await? else { return Ok(None) };
        let account = match self.hotspot_account(&username).await {
            Ok(a) => a,
            Err(AppError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !account.active {
            return Ok(None);
        }
        if self.store.data_used(&username).await?.is_some_and(|d| d.left() == 0) {
            return Ok(None);
        }
        Ok(Some(HotspotLogin { username: mac.to_string(), password: mac.to_string() }))
    }

    /// Why a device that bought before is not online now, for the portal to say:
    /// its bundle is used up, or its time is over.
    pub async fn portal_device_note(&self, ctx: &RouterContext) -> AppResult<Option<String>> {
        let Some(username) = self.portal_device_account(ctx).await? else { return Ok(None) };
        let account = match self.hotspot_account(&username).await {
            Ok(a) => a,
            Err(AppError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if account.data.is_some_and(|d| d.left() == 0) {
            return Ok(Some("Your data bundle is used up — buy another.".into()));
        }
        if !account.active {
            return Ok(Some("Your package has ended — buy another.".into()));
        }
        Ok(None)
    }

    /// A hotspot account (a customer's username or a voucher code) as the status page
    /// shows it.
    pub async fn hotspot_account(&self, username: &str) -> AppResult<AccountStatus> {
        let now = self.now();
        match self.store.get_customer_by_username(username).await {
            Ok(c) => {
                let package = match c.package_id {
                    Some(id) => self.store.get_package(id).await.ok(),
                    None => None,
                };
                let active = c.status == CustomerStatus::Active && c.expires_at.is_some_and(|e| e > now);
                let max_devices = package.as_ref().map_or(1, |p| u32::try_from(p.shared_users.max(1)).unwrap_or(1));
                return Ok(AccountStatus {
                    data: self.store.data_used(c.username.as_str()).await?,
                    devices: self.store.devices_of(c.username.as_str()).await?,
                    username: c.username.to_string(),
                    package,
                    active,
                    expires_at: c.expires_at,
                    seconds_left: c.expires_at.map_or(0, |e| (e - now).num_seconds().max(0)),
                    is_voucher: false,
                    max_devices,
                });
            }
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let code = normalise_voucher_code(username).ok_or(AppError::NotFound("account"))?;
        let v = self.store.get_voucher_by_code(&code).await.map_err(AppError::from_store("account"))?;
        let package = self.store.get_package(v.package_id).await.ok();
        let active = v.status == VoucherStatus::Active && v.expires_at.is_some_and(|e| e > now);
        Ok(AccountStatus {
            data: self.store.data_used(&v.code).await?,
            devices: self.store.devices_of(&v.code).await?,
            max_devices: v.max_devices.max(1),
            username: v.code,
            package,
            active,
            expires_at: v.expires_at,
            seconds_left: v.expires_at.map_or(0, |e| (e - now).num_seconds().max(0)),
            is_voucher: true,
        })
    }
}

/// The package `amount` pays for: one priced exactly so, else the dearest it covers.
fn best_package(packages: &[Package], amount: Money) -> Option<&Package> {
    packages
        .iter()
        .find(|p| p.price == amount)
        .or_else(|| packages.iter().filter(|p| p.price <= amount && p.price.minor() > 0).max_by_key(|p| p.price))
}

/// Whether a masked number from a provider (`2547 ***** 611`, `254712***678`) agrees
/// with the one typed: every digit shown is in the same place from the end, and at
/// least the last three are shown.
fn masked_phone_matches(masked: Option<&str>, phone: &Phone) -> bool {
    let Some(masked) = masked else { return false };
    let m: Vec<char> = masked.chars().filter(|c| c.is_ascii_digit() || *c == '*').collect();
    let p: Vec<char> = phone.as_str().chars().collect();
    if m.len() < 3 || m[m.len() - 3..].contains(&'*') {
        return false;
    }
    let full = m.iter().all(|c| c.is_ascii_digit());
    if full {
        return Phone::parse(&m.iter().collect::<String>()).is_ok_and(|q| &q == phone);
    }
    m.iter().rev().zip(p.iter().rev()).all(|(a, b)| *a == '*' || a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_router_context_keeps_only_what_a_router_sends() {
        let c = RouterContext::from_pairs([
            ("mac", "aa-bb-cc-dd-ee-ff"),
            ("ip", "10.5.50.7"),
            ("link-login-only", "http://10.5.50.1/login"),
            ("link-orig", "http://example.com/"),
            ("chap-id", "F9"),
            ("chap-challenge", "00112233445566778899aabbccddeeff"),
            ("identity", "Westlands"),
            ("error", "Your data bundle is used up — buy another."),
        ]);
        assert_eq!(c.mac.as_ref().map(Mac::as_str), Some("AA:BB:CC:DD:EE:FF"));
        assert_eq!(c.link_login_only.as_deref(), Some("http://10.5.50.1/login"));
        assert_eq!((c.chap_id.as_deref(), c.ip.as_deref()), (Some("f9"), Some("10.5.50.7")));
        assert!(c.can_log_in());
        let bad = RouterContext::from_pairs([
            ("mac", "not a mac"),
            ("ip", "10.0.0.1; rm"),
            ("link-login-only", "javascript:alert(1)"),
            ("chap-id", "f9"),
            ("chap-challenge", "short"),
            ("identity", "a\nb"),
        ]);
        assert_eq!(bad, RouterContext::default());
        for url in
            ["http://u:p@10.5.50.1/login", "http://10.5.50.1/evil", "http://10.5.50.1/login?x=1", "ftp://a/login"]
        {
            assert_eq!(login_url(url), None, "{url}");
        }
    }

    #[test]
    fn window_limiter_refuses_past_the_limit_until_the_window_ends() {
        let l = WindowLimiter::new(2, Duration::minutes(1));
        let t = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap().with_timezone(&Utc);
        assert!(l.hit("a", t).is_ok() && l.hit("a", t).is_ok());
        assert_eq!(l.hit("a", t + Duration::seconds(10)), Err(50));
        assert!(l.hit("b", t).is_ok(), "keys count apart");
        assert!(l.hit("a", t + Duration::minutes(1)).is_ok());
    }

    #[test]
    fn masked_numbers_match_only_their_own_digits() {
        let p = Phone::parse("0712345678").unwrap();
        assert!(masked_phone_matches(Some("2547 ***** 678"), &p));
        assert!(masked_phone_matches(Some("254712***678"), &p));
        assert!(masked_phone_matches(Some("254712345678"), &p));
        assert!(!masked_phone_matches(Some("2547 ***** 679"), &p));
        assert!(!masked_phone_matches(Some("2547 ***** ***"), &p));
        assert!(!masked_phone_matches(None, &p));
        assert_eq!(mask_phone(&p), "0712 *** 678");
    }
}
