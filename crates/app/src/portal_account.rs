//! "My account" on the portal: a customer (PPPoE or hotspot) logs in with their
//! username and password or with a code sent by SMS, then sees their package, time
//! and data left, devices, payments and invoices, and renews with a prompt.
//!
//! Like the rest of the portal it is anonymous until the login, so every attempt is
//! limited, and no answer says whether a phone number or a username has an account.

use crate::input::{Fields, Input, Unknown};
use crate::portal::{AccountStatus, RouterContext, WindowLimiter, mask_phone};
use crate::{App, AppError, AppResult};
use broadnet_domain::{Mac, Phone};
use broadnet_store::{
    Customer, CustomerQuery, Invoice, InvoiceQuery, NewOutbox, OutboxKind, Payment, PaymentQuery, PortalOrder,
    StoreError,
};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a code sent by SMS can be used.
pub const CODE_VALID_MINUTES: i64 = 10;
/// Wrong codes allowed before a code is spent.
pub const CODE_TRIES: u32 = 5;
/// How long a login lasts.
pub const SESSION_HOURS: i64 = 2;

/// The same words for a wrong username as for a wrong password.
const WRONG_LOGIN: &str = "wrong username or password";
const WRONG_CODE: &str = "this code is wrong or has expired; ask for a new one";

/// A code waiting to be typed: only its HMAC is kept.
struct PendingCode {
    mac: String,
    expires_at: DateTime<Utc>,
    tries_left: u32,
}

/// My account's limits and the codes sent by SMS (in memory, hashed).
pub struct AccountGuard {
    pub passwords_per_ip: WindowLimiter,
    pub passwords_per_user: WindowLimiter,
    pub codes_per_phone: WindowLimiter,
    pub codes_per_ip: WindowLimiter,
    pub verifies_per_ip: WindowLimiter,
    codes: Mutex<HashMap<String, PendingCode>>,
}

impl Default for AccountGuard {
    fn default() -> Self {
        AccountGuard {
            passwords_per_ip: WindowLimiter::new(20, Duration::minutes(15)),
            passwords_per_user: WindowLimiter::new(5, Duration::minutes(15)),
            codes_per_phone: WindowLimiter::new(3, Duration::hours(1)),
            codes_per_ip: WindowLimiter::new(10, Duration::hours(1)),
            verifies_per_ip: WindowLimiter::new(20, Duration::minutes(15)),
            codes: Mutex::new(HashMap::new()),
        }
    }
}

impl AccountGuard {
    fn codes(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingCode>> {
        self.codes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The password login form.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AccountLogin {
    pub username: Input,
    pub password: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// "Send me a code": the phone number.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CodeRequest {
    pub phone: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// The code typed, and (when the number has several accounts) the one picked.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CodeVerify {
    pub phone: Input,
    pub code: Input,
    pub account: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// "Renew": the number the prompt goes to (the account's own when empty).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AccountRenew {
    pub phone: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// "Release" a device from the account.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DeviceRelease {
    pub mac: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// One of the accounts a phone number has, as the person picks it after the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChoice {
    pub customer_id: i64,
    pub username_masked: String,
    pub package: Option<String>,
}

/// What a right code leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeOutcome {
    /// Logged in to this customer.
    LoggedIn(i64),
    /// The number has several accounts: pick one (the code stays valid).
    Choose(Vec<AccountChoice>),
}

/// My account, ready to show.
#[derive(Debug, Clone, PartialEq)]
pub struct MyAccount {
    pub customer: Customer,
    pub status: AccountStatus,
    pub is_hotspot: bool,
    pub phone_masked: String,
    /// The last payments, newest first.
    pub payments: Vec<Payment>,
    /// The last invoices, newest first.
    pub invoices: Vec<Invoice>,
}

/// A username shown to whoever has the code for its phone: `jo***th`.
pub fn mask_username(u: &str) -> String {
    let c: Vec<char> = u.chars().collect();
    match c.len() {
        0 => String::new(),
        1..=3 => format!("{}***", c[0]),
        4..=5 => format!("{}***{}", c[0], c[c.len() - 1]),
        n => format!("{}{}***{}{}", c[0], c[1], c[n - 2], c[n - 1]),
    }
}

fn limit(l: &WindowLimiter, key: &str, now: DateTime<Utc>) -> AppResult<()> {
    l.hit(key, now).map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
}

fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl App {
    fn code_mac(&self, phone: &Phone, code: &str) -> String {
        self.tokens.sign("hs-login-code", &format!("{}:{code}", phone.as_str()))
    }

    /// The customers whose phone is exactly `phone`, oldest first.
    async fn customers_with_phone(&self, phone: &Phone) -> AppResult<Vec<Customer>> {
        let q = CustomerQuery { search: Some(phone.as_str().to_string()), page: 1, per_page: 50, ..Default::default() };
        let mut v: Vec<Customer> =
            self.store.list_customers(&q).await?.items.into_iter().filter(|c| &c.phone == phone).collect();
        v.sort_by_key(|c| c.id);
        Ok(v)
    }

    /// Logs in with a username and password (stored in clear for RADIUS, so compared
    /// in constant time). Attempts are limited per address and per username; a wrong
    /// username reads like a wrong password. Returns the customer's id.
    pub async fn account_login(&self, client_ip: &str, req: AccountLogin) -> AppResult<i64> {
        let mut f = Fields::new(&req.unknown);
        let username = f.line("username", &req.username, 64);
        let username = f.required("username", username);
        let password = f.text("password", &req.password, 128);
        let password = f.required("password", password);
        f.finish()?;
        let (Some(username), Some(password)) = (username, password) else {
            return Err(AppError::Internal("login fields missing after validation".into()));
        };
        let now = self.now();
        let g = &self.portal.account;
        limit(&g.passwords_per_ip, &format!("ip:{client_ip}"), now)?;
        limit(&g.passwords_per_user, &username.to_lowercase(), now)?;
        let found = match self.store.get_customer_by_username(&username).await {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Compared even when there is no such customer, so both take as long; as
        // HMACs, so neither does the password's length show in the time taken.
        let want = found.as_ref().map_or("\u{0}no account\u{0}", |c| c.password.as_str());
        let ok = ct_eq(&self.tokens.sign("hs-password", want), &self.tokens.sign("hs-password", &password));
        match found {
            Some(c) if ok && !c.password.is_empty() => {
                tracing::info!(user = %c.username, ip = client_ip, "portal: customer logged in to My account");
                Ok(c.id)
            }
            _ => {
                tracing::info!(ip = client_ip, "portal: wrong My account login");
                Err(AppError::field("password", WRONG_LOGIN))
            }
        }
    }

    /// "Send me a code": when the number has an account, a 6-digit code goes to it
    /// by SMS (through the outbox), valid [`CODE_VALID_MINUTES`]. The answer is the
    /// same whether or not it has one; the limits count every number alike.
    pub async fn account_send_code(&self, client_ip: &str, req: CodeRequest) -> AppResult<Phone> {
        let mut f = Fields::new(&req.unknown);
        let phone = f.parsed("phone", &req.phone, Phone::parse);
        let phone = f.required("phone", phone);
        f.finish()?;
        let Some(phone) = phone else { return Err(AppError::Internal("phone missing after validation".into())) };
        if !self.sms_settings().await?.enabled {
            return Err(AppError::InUse(
                "codes by SMS are not available here; log in with your username and password".into(),
            ));
        }
        let now = self.now();
        let g = &self.portal.account;
        limit(&g.codes_per_ip, &format!("ip:{client_ip}"), now)?;
        limit(&g.codes_per_phone, phone.as_str(), now)?;
        if self.customers_with_phone(&phone).await?.is_empty() {
            tracing::info!(ip = client_ip, "portal: login code asked for a number with no account");
            return Ok(phone);
        }
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32));
        let isp = self.isp_name().await?;
        let message = format!(
            "{isp}: your login code is {code}. It works for {CODE_VALID_MINUTES} minutes. Do not share it with anyone."
        );
        self.store
            .enqueue(NewOutbox {
                kind: OutboxKind::Sms,
                payload: serde_json::json!({"to": format!("+{}", phone.as_str()), "message": message}),
                dedupe_key: Some(format!("account-code:{}:{}", phone.as_str(), crate::portal::new_token())),
                at: now,
            })
            .await?;
        {
            let mut codes = g.codes();
            codes.retain(|_, c| c.expires_at > now);
            codes.insert(
                phone.as_str().to_string(),
                PendingCode {
                    mac: self.code_mac(&phone, &code),
                    expires_at: now + Duration::minutes(CODE_VALID_MINUTES),
                    tries_left: CODE_TRIES,
                },
            );
        }
        self.wake_outbox();
        tracing::info!(ip = client_ip, "portal: login code sent");
        Ok(phone)
    }

    /// Checks the code typed for `phone`. A wrong code uses one of its tries; the
    /// last spends it. With several accounts on the number and none picked yet,
    /// the accounts are listed (masked) and the code stays valid for the pick.
    pub async fn account_verify_code(&self, client_ip: &str, req: CodeVerify) -> AppResult<CodeOutcome> {
        let mut f = Fields::new(&req.unknown);
        let phone = f.parsed("phone", &req.phone, Phone::parse);
        let phone = f.required("phone", phone);
        let code = f.parsed("code", &req.code, |v| {
            let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
            if v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit()) {
                Ok(v)
            } else {
                Err(broadnet_domain::ParseError::new("the code is the 6 digits in the SMS"))
            }
        });
        let code = f.required("code", code);
        let account = f.int("account", &req.account, 1, i64::MAX).value();
        f.finish()?;
        let (Some(phone), Some(code)) = (phone, code) else {
            return Err(AppError::Internal("code fields missing after validation".into()));
        };
        let now = self.now();
        let g = &self.portal.account;
        limit(&g.verifies_per_ip, &format!("ip:{client_ip}"), now)?;
        let given = self.code_mac(&phone, &code);
        {
            let mut codes = g.codes();
            let Some(pending) = codes.get_mut(phone.as_str()) else { return Err(AppError::field("code", WRONG_CODE)) };
            if pending.expires_at <= now || pending.tries_left == 0 {
                codes.remove(phone.as_str());
                return Err(AppError::field("code", WRONG_CODE));
            }
            if !ct_eq(&pending.mac, &given) {
                pending.tries_left -= 1;
                if pending.tries_left == 0 {
                    codes.remove(phone.as_str());
                }
                return Err(AppError::field("code", WRONG_CODE));
            }
        }
        let customers = self.customers_with_phone(&phone).await?;
        let chosen = match (customers.len(), account) {
            (0, _) => None,
            (1, None) => customers.first(),
            (_, Some(id)) => match customers.iter().find(|c| c.id == id) {
                Some(c) => Some(c),
                None => return Err(AppError::field("account", "choose one of the accounts shown")),
            },
            (_, None) => {
                let mut choices = Vec::new();
                for c in &customers {
                    let package = match c.package_id {
                        Some(id) => self.store.get_package(id).await.ok().map(|p| p.name),
                        None => None,
                    };
                    choices.push(AccountChoice {
                        customer_id: c.id,
                        username_masked: mask_username(c.username.as_str()),
                        package,
                    });
                }
                return Ok(CodeOutcome::Choose(choices));
            }
        };
        // The code is spent whatever happens next.
        let mut codes = g.codes();
        let still_ours = codes.get(phone.as_str()).is_some_and(|p| ct_eq(&p.mac, &given));
        if still_ours {
            codes.remove(phone.as_str());
        }
        match chosen {
            Some(c) if still_ours => {
                tracing::info!(user = %c.username, ip = client_ip, "portal: customer logged in to My account by SMS code");
                Ok(CodeOutcome::LoggedIn(c.id))
            }
            _ => Err(AppError::field("code", WRONG_CODE)),
        }
    }

    /// The customer a My account session names, if it still exists.
    pub async fn account_customer(&self, customer_id: i64) -> AppResult<Customer> {
        self.store.get_customer(customer_id).await.map_err(AppError::from_store("account"))
    }

    /// Everything My account shows.
    pub async fn my_account(&self, customer_id: i64) -> AppResult<MyAccount> {
        let customer = self.account_customer(customer_id).await?;
        let status = self.hotspot_account(customer.username.as_str()).await?;
        let pq = PaymentQuery { customer_id: Some(customer.id), page: 1, per_page: 10, ..Default::default() };
        let payments = self.store.list_payments(&pq).await?.items;
        let iq = InvoiceQuery { customer_id: Some(customer.id), page: 1, per_page: 10, ..Default::default() };
        let invoices = self.store.list_invoices(&iq).await?.items;
        Ok(MyAccount {
            is_hotspot: customer.customer_type == broadnet_domain::CustomerType::Hotspot,
            phone_masked: mask_phone(&customer.phone),
            customer,
            status,
            payments,
            invoices,
        })
    }

    /// An invoice's PDF, for its own customer only: another's is "not found".
    pub async fn account_invoice_pdf(&self, customer_id: i64, number: &str) -> AppResult<(String, Vec<u8>)> {
        let invoice = self.store.get_invoice(number.trim()).await.map_err(AppError::from_store("invoice"))?;
        if invoice.customer_id != Some(customer_id) {
            return Err(AppError::NotFound("invoice"));
        }
        self.invoice_pdf(invoice.payment_id).await
    }

    /// Frees a device's place on the account (phones change their MAC).
    pub async fn account_release_device(&self, customer_id: i64, req: DeviceRelease) -> AppResult<()> {
        let mut f = Fields::new(&req.unknown);
        let mac = f.parsed("mac", &req.mac, Mac::parse);
        let mac = f.required("mac", mac);
        f.finish()?;
        let Some(mac) = mac else { return Err(AppError::Internal("mac missing after validation".into())) };
        let c = self.account_customer(customer_id).await?;
        if !self.store.release_device(c.username.as_str(), &mac).await? {
            return Err(AppError::field("mac", "this device is not on your account"));
        }
        tracing::info!(user = %c.username, %mac, "portal: device released from My account");
        Ok(())
    }

    /// "Renew": a prompt for the account's package to its phone or the one typed;
    /// the order's token leads to the waiting screen.
    pub async fn account_renew(
        &self,
        ctx: &RouterContext,
        client_ip: &str,
        customer_id: i64,
        req: AccountRenew,
    ) -> AppResult<PortalOrder> {
        let mut f = Fields::new(&req.unknown);
        let phone = f.parsed("phone", &req.phone, Phone::parse).value();
        f.finish()?;
        let customer = self.account_customer(customer_id).await?;
        let phone = phone.unwrap_or_else(|| customer.phone.clone());
        let not_here = || AppError::field("package", "your package cannot be renewed here; ask the shop");
        let Some(package_id) = customer.package_id else { return Err(not_here()) };
        let package = match self.store.get_package(package_id).await {
            Ok(p) if p.price.minor() >= 100 => p,
            Ok(_) | Err(StoreError::NotFound) => return Err(not_here()),
            Err(e) => return Err(e.into()),
        };
        let now = self.now();
        let device = match &ctx.mac {
            Some(m) => format!("mac:{m}"),
            None => format!("ip:{client_ip}"),
        };
        limit(&self.portal.prompts_per_device, &device, now)?;
        limit(&self.portal.prompts_per_phone, phone.as_str(), now)?;
        limit(&self.portal.prompts_total, "all", now)?;
        self.portal_prompt(ctx, client_ip, "renewal", customer, package, phone).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_masked_but_recognisable() {
        assert_eq!(mask_username("johnsmith"), "jo***th");
        assert_eq!(mask_username("Ab3xK9"), "Ab***K9");
        assert_eq!(mask_username("abcd"), "a***d");
        assert_eq!(mask_username("ab"), "a***");
        assert_eq!(mask_username(""), "");
    }
}
