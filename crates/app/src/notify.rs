//! Notifications and other side effects, delivered from the outbox with retries and a
//! recorded status (DESIGN rule 2): payment received (SMS, and email with the invoice
//! PDF), payment failed, welcome with credentials, expiry reminders, expired (with the
//! Disconnect-Request to the router).
//!
//! Events (`payment.completed`, `customer.expired`, ...) fan out into one entry per
//! channel (`sms`, `email`), each with a dedupe key derived from the event's, so a
//! crash or a retry never sends a message twice and a failing channel is retried alone.

use crate::settings::SettingKey;
use crate::{App, AppError, AppResult};
use broadnet_domain::Money;
use broadnet_store::{
    Customer, NewOutbox, OutboxItem, OutboxKind, OutboxQuery, OutboxResult, OutboxStatus, StoreError,
};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The notifications list's query string: `kind`, `status` (pending, sending,
/// delivered, failed), `page`, `per_page`, as text until checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct NotificationListQuery {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub customer_id: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

impl NotificationListQuery {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut m = crate::sessions::last_of(pairs);
        NotificationListQuery {
            kind: m.remove("kind"),
            status: m.remove("status"),
            customer_id: m.remove("customer_id"),
            page: m.remove("page"),
            per_page: m.remove("per_page"),
        }
    }
}

/// Template variables that are secret: rendered only when a message is sent, so the
/// outbox (which viewers can read) never stores them.
const SECRET_VARS: &[&str] = &["password"];

/// An entry is given up after this many attempts.
pub const MAX_ATTEMPTS: i32 = 8;

broadnet_domain::text_enum!(
    /// The messages customers get, by their key under Settings → Templates, where each
    /// can be rewritten.
    Template {
        PaymentReceived => "payment_received",
        Welcome => "welcome",
        Reminder => "reminder",
        Expired => "expired",
        PaymentFailed => "payment_failed",
        HowToPay => "how_to_pay",
        PaymentHeld => "payment_held",
        RenewedFromCredit => "renewed_from_credit",
        HotspotPaid => "hotspot_paid",
    }
);

impl Template {
    /// The text used until Settings give another. Placeholders in braces.
    pub fn default_text(self) -> &'static str {
        match self {
            Template::PaymentReceived => {
                "{app_name}: we received {amount}, receipt {receipt}. Your {package} is active until {expires}. Invoice {invoice}. Thank you!"
            }
            Template::Welcome => {
                "Welcome to {app_name}, {first_name}! Your login: username {username}, password {password}. Package: {package}. {how_to_pay}"
            }
            Template::Reminder => "{app_name}: hi {first_name}, your {package} expires on {expires}. {how_to_pay}",
            Template::Expired => "{app_name}: your {package} expired on {expires}. {how_to_pay}",
            Template::PaymentFailed => {
                "{app_name}: your payment of {amount} did not go through ({reason}). Please try again."
            }
            Template::HowToPay => "Pay {price} with M-Pesa paybill {paybill}, account {username}.",
            Template::PaymentHeld => {
                "{app_name}: we received {amount}, receipt {receipt}. Your credit is now {balance}; {shortfall} more renews your {package}. {how_to_pay}"
            }
            Template::RenewedFromCredit => {
                "{app_name}: your credit paid for your {package}, now active until {expires}. Credit left: {balance}."
            }
            Template::HotspotPaid => {
                "{app_name} Wi-Fi: paid {amount}, receipt {receipt}. {package} until {expires}. To log in on another device: code {username}, password {password}."
            }
        }
    }
}

fn subject(template: Template, vars: &BTreeMap<&str, String>) -> String {
    let app = vars.get("app_name").cloned().unwrap_or_default();
    match template {
        Template::PaymentReceived => {
            format!("{app}: payment received, invoice {}", vars.get("invoice").cloned().unwrap_or_default())
        }
        Template::Welcome => format!("Welcome to {app}"),
        Template::Reminder => {
            format!("{app}: your internet expires on {}", vars.get("expires").cloned().unwrap_or_default())
        }
        Template::Expired => format!("{app}: your internet has expired"),
        Template::PaymentFailed => format!("{app}: payment not completed"),
        Template::PaymentHeld => format!("{app}: payment received and kept as credit"),
        Template::RenewedFromCredit => format!("{app}: renewed from your credit"),
        Template::HotspotPaid => format!("{app}: Wi-Fi payment received"),
        _ => app,
    }
}

/// The welcome message for a new customer, queued with the account (rule 2).
pub(crate) fn welcome_entry(c: &Customer, at: DateTime<Utc>) -> NewOutbox {
    NewOutbox {
        kind: OutboxKind::CustomerWelcome,
        payload: json!({"customer_id": c.id}),
        dedupe_key: Some(format!("welcome:{}", c.id)),
        at,
    }
}

/// Replaces `{name}` with its value; unknown names are left as written.
pub fn render(template: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                let name = &after[..close];
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    // Empty placeholders leave double spaces and dangling separators.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// African time zones (none observes daylight saving), for showing times to customers.
pub fn zone(name: &str) -> (FixedOffset, &'static str) {
    let hours = |h: i32| FixedOffset::east_opt(h * 3600).unwrap_or_else(|| chrono::Offset::fix(&Utc));
    match name {
        "Africa/Nairobi"
        | "Africa/Kampala"
        | "Africa/Dar_es_Salaam"
        | "Africa/Addis_Ababa"
        | "Africa/Mogadishu"
        | "Africa/Djibouti"
        | "Africa/Asmara"
        | "Indian/Comoro"
        | "Indian/Antananarivo"
        | "Indian/Mayotte" => (hours(3), "EAT"),
        "Africa/Kigali" | "Africa/Lusaka" | "Africa/Blantyre" | "Africa/Harare" | "Africa/Maputo"
        | "Africa/Gaborone" | "Africa/Lubumbashi" | "Africa/Bujumbura" | "Africa/Juba" | "Africa/Khartoum"
        | "Africa/Windhoek" => (hours(2), "CAT"),
        "Africa/Johannesburg" | "Africa/Maseru" | "Africa/Mbabane" => (hours(2), "SAST"),
        "Africa/Lagos" | "Africa/Kinshasa" | "Africa/Douala" | "Africa/Luanda" | "Africa/Niamey"
        | "Africa/Ndjamena" | "Africa/Bangui" | "Africa/Brazzaville" | "Africa/Libreville" | "Africa/Malabo"
        | "Africa/Porto-Novo" | "Africa/Tunis" | "Africa/Algiers" => (hours(1), "WAT"),
        "Africa/Accra" | "Africa/Abidjan" | "Africa/Dakar" | "Africa/Bamako" | "Africa/Conakry" | "Africa/Freetown"
        | "Africa/Monrovia" | "Africa/Ouagadougou" | "Africa/Lome" | "Africa/Banjul" | "Africa/Bissau"
        | "Africa/Nouakchott" => (hours(0), "GMT"),
        "Africa/Cairo" | "Africa/Tripoli" => (hours(2), "EET"),
        _ => (hours(0), "UTC"),
    }
}

impl App {
    pub(crate) fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }

    /// Waits until something was queued (or the timeout passes).
    pub async fn outbox_wait(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.outbox_wake.notified()).await;
    }

    /// The ISP's time zone setting.
    pub async fn local_zone(&self) -> AppResult<(FixedOffset, &'static str)> {
        Ok(zone(&self.setting(SettingKey::Timezone).await?.unwrap_or_else(|| "Africa/Nairobi".into())))
    }

    pub async fn format_time(&self, t: DateTime<Utc>) -> AppResult<String> {
        let (off, abbr) = self.local_zone().await?;
        Ok(format!("{} {abbr}", t.with_timezone(&off).format("%d %b %Y %H:%M")))
    }

    /// APP_NAME, unless Settings → General gives the ISP's name.
    pub async fn isp_name(&self) -> AppResult<String> {
        Ok(self.setting(SettingKey::IspName).await?.unwrap_or_else(|| self.gateway.env.app_name.clone()))
    }

    async fn template(&self, t: Template) -> AppResult<String> {
        Ok(self.setting_at("templates", t.as_str()).await?.unwrap_or_else(|| t.default_text().to_string()))
    }

    /// What customers are told about paying, from the active provider's settings and
    /// the `how_to_pay` template, with `{username}` and `{price}` left to fill: the one
    /// text behind SMS, email and RADIUS replies alike.
    pub async fn how_to_pay_template(&self) -> AppResult<String> {
        let provider = self.active_provider().await?;
        let paybill = match provider {
            broadnet_domain::PaymentProvider::Mpesa => {
                let m = self.mpesa_settings().await?;
                Some(m.config.till_number.clone().unwrap_or(m.config.shortcode))
            }
            _ => None,
        };
        match paybill.filter(|p| !p.is_empty()) {
            Some(p) => {
                let mut vars = BTreeMap::new();
                vars.insert("paybill", p);
                Ok(render(&self.template(Template::HowToPay).await?, &vars))
            }
            None if provider == broadnet_domain::PaymentProvider::Airtel => {
                Ok("Pay {price} with Airtel Money: ask us for a payment prompt.".into())
            }
            None => Ok(String::new()),
        }
    }

    /// [`App::how_to_pay_template`] filled in for one customer.
    pub async fn how_to_pay(&self, customer: &Customer, price: Option<broadnet_domain::Money>) -> AppResult<String> {
        let mut vars = BTreeMap::new();
        vars.insert("username", customer.username.to_string());
        vars.insert("price", price.map(|p| format!("KES {p}")).unwrap_or_default());
        let text = render(&self.how_to_pay_template().await?, &vars);
        Ok(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    async fn customer_vars(&self, c: &Customer) -> AppResult<BTreeMap<&'static str, String>> {
        let mut v = BTreeMap::new();
        v.insert("app_name", self.isp_name().await?);
        v.insert("name", c.full_name.clone());
        v.insert("first_name", c.full_name.split_whitespace().next().unwrap_or(&c.full_name).to_string());
        v.insert("username", c.username.to_string());
        v.insert("phone", c.phone.local());
        let package = match c.package_id {
            Some(id) => match self.store.get_package(id).await {
                Ok(p) => Some(p),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        v.insert("package", package.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| "internet".into()));
        v.insert("price", package.as_ref().map(|p| format!("KES {}", p.price)).unwrap_or_default());
        if let Some(e) = c.expires_at {
            v.insert("expires", self.format_time(e).await?);
        }
        v.insert("how_to_pay", self.how_to_pay(c, package.map(|p| p.price)).await?);
        Ok(v)
    }

    /// Queues the SMS and email for one event; each channel is added once per `key`.
    async fn fan_out(
        &self,
        c: &Customer,
        template: Template,
        vars: &BTreeMap<&str, String>,
        key: &str,
        invoice_payment_id: Option<i64>,
    ) -> AppResult<()> {
        let text = render(&self.template(template).await?, vars);
        // Secrets a template names are filled in at send time only, never stored.
        let secrets: Vec<&str> = SECRET_VARS.iter().copied().filter(|v| text.contains(&format!("{{{v}}}"))).collect();
        let now = self.now();
        if self.sms_settings().await?.enabled {
            let item = NewOutbox {
                kind: OutboxKind::Sms,
                payload: json!({"to": format!("+{}", c.phone.as_str()), "message": text, "customer_id": c.id,
                    "template": template, "secrets": secrets}),
                dedupe_key: Some(format!("{key}:sms")),
                at: now,
            };
            self.store.enqueue(item).await?;
        }
        if let (true, Some(to)) = (self.email_settings().await?.enabled, c.email.clone().filter(|e| e.contains('@'))) {
            let item = NewOutbox {
                kind: OutboxKind::Email,
                payload: json!({"to": to, "subject": subject(template, vars), "text": text, "customer_id": c.id,
                    "template": template, "invoice_payment_id": invoice_payment_id, "secrets": secrets}),
                dedupe_key: Some(format!("{key}:email")),
                at: now,
            };
            self.store.enqueue(item).await?;
        }
        Ok(())
    }

    async fn customer_of(&self, payload: &Value) -> AppResult<Option<Customer>> {
        let Some(id) = payload.get("customer_id").and_then(Value::as_i64) else { return Ok(None) };
        match self.store.get_customer(id).await {
            Ok(c) => Ok(Some(c)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Delivers one entry; the result says whether to retry.
    async fn deliver(&self, item: &OutboxItem) -> Result<(), Delivery> {
        let key = item.dedupe_key.clone().unwrap_or_else(|| format!("outbox:{}", item.id));
        let p = &item.payload;
        match item.kind {
            OutboxKind::PaymentCompleted => {
                let payment_id = p.get("payment_id").and_then(Value::as_i64).ok_or(Delivery::bad("no payment_id"))?;
                let payment = self.store.get_payment(payment_id).await.map_err(Delivery::retry)?;
                let Some(c) = self.customer_of(p).await.map_err(Delivery::retry)? else { return Ok(()) };
                let mut vars = self.customer_vars(&c).await.map_err(Delivery::retry)?;
                vars.insert("amount", format!("{} {}", payment.currency, payment.amount));
                vars.insert("receipt", payment.provider_receipt.clone().unwrap_or_default());
                vars.insert("invoice", p.get("invoice").and_then(Value::as_str).unwrap_or_default().to_string());
                let minor = |k: &str| p.get(k).and_then(Value::as_i64).and_then(|m| Money::from_minor(m).ok());
                vars.insert(
                    "balance",
                    format!("{} {}", payment.currency, minor("balance_minor").unwrap_or(Money::ZERO)),
                );
                let shortfall = minor("shortfall_minor").filter(|m| m.minor() > 0);
                if let Some(s) = shortfall {
                    vars.insert("shortfall", format!("{} {s}", payment.currency));
                }
                // Paid less than the package: kept as credit, and the customer is told
                // how much more renews it.
                // A hotspot buyer gets the login for their other devices with the receipt.
                let template = match (shortfall.is_some(), c.customer_type) {
                    (true, _) => Template::PaymentHeld,
                    (false, broadnet_domain::CustomerType::Hotspot) => Template::HotspotPaid,
                    (false, _) => Template::PaymentReceived,
                };
                self.fan_out(&c, template, &vars, &key, Some(payment_id)).await.map_err(Delivery::retry)?;
                self.refresh_sessions(&c).await;
                Ok(())
            }
            OutboxKind::PaymentFailed => {
                let payment_id = p.get("payment_id").and_then(Value::as_i64).ok_or(Delivery::bad("no payment_id"))?;
                let payment = self.store.get_payment(payment_id).await.map_err(Delivery::retry)?;
                let Some(cid) = payment.customer_id else { return Ok(()) };
                let Some(c) = self.customer_of(&json!({"customer_id": cid})).await.map_err(Delivery::retry)? else {
                    return Ok(());
                };
                let mut vars = self.customer_vars(&c).await.map_err(Delivery::retry)?;
                vars.insert("amount", format!("{} {}", payment.currency, payment.amount));
                vars.insert("reason", payment.result_desc.clone().unwrap_or_else(|| payment.status.to_string()));
                self.fan_out(&c, Template::PaymentFailed, &vars, &key, None).await.map_err(Delivery::retry)
            }
            OutboxKind::CustomerWelcome | OutboxKind::CustomerReminder | OutboxKind::CustomerExpired => {
                let Some(c) = self.customer_of(p).await.map_err(Delivery::retry)? else { return Ok(()) };
                let vars = self.customer_vars(&c).await.map_err(Delivery::retry)?;
                let template = match item.kind {
                    // The password is not rendered here: what the outbox stores is
                    // readable in the dashboard, so `{password}` stays a placeholder
                    // until the moment of sending (see `fill_secrets`).
                    OutboxKind::CustomerWelcome => Template::Welcome,
                    OutboxKind::CustomerReminder => Template::Reminder,
                    _ => {
                        // Expired: the router ends live sessions first (rule 4), retried
                        // while a router cannot be reached.
                        self.disconnect_expired(&c).await?;
                        if c.status != broadnet_domain::CustomerStatus::Expired {
                            return Ok(()); // renewed in the meantime: no "expired" message
                        }
                        Template::Expired
                    }
                };
                self.fan_out(&c, template, &vars, &key, None).await.map_err(Delivery::retry)
            }
            OutboxKind::CustomerSessions => self.deliver_session_action(p).await,
            OutboxKind::CustomerRenewed => {
                let Some(c) = self.customer_of(p).await.map_err(Delivery::retry)? else { return Ok(()) };
                let mut vars = self.customer_vars(&c).await.map_err(Delivery::retry)?;
                let balance = p.get("balance_minor").and_then(Value::as_i64).and_then(|m| Money::from_minor(m).ok());
                vars.insert("balance", format!("KES {}", balance.unwrap_or(Money::ZERO)));
                self.fan_out(&c, Template::RenewedFromCredit, &vars, &key, None).await.map_err(Delivery::retry)?;
                self.refresh_sessions(&c).await;
                Ok(())
            }
            OutboxKind::Sms => self.deliver_sms(p).await,
            OutboxKind::Email => self.deliver_email(p).await,
        }
    }

    /// After an admin's change: ends the live sessions of a customer who lost access,
    /// or sends the new package's rate limit to them (CoA). The customer is read
    /// again, so a later change decides; a router that cannot be reached is retried.
    async fn deliver_session_action(&self, p: &Value) -> Result<(), Delivery> {
        let Some(nas) = self.nas.clone() else { return Ok(()) };
        let Some(username) = p.get("username").and_then(Value::as_str) else {
            return Err(Delivery::bad("no username"));
        };
        let customer = self.customer_of(p).await.map_err(Delivery::retry)?;
        let rate = match customer.as_ref() {
            Some(c) if broadnet_domain::billing::has_access(c.status, c.expires_at, self.now()) => match c.package_id {
                Some(pid) => match self.store.get_package(pid).await {
                    Ok(pkg) => Some(pkg.rate_limit().mikrotik()),
                    Err(StoreError::NotFound) => None,
                    Err(e) => return Err(Delivery::retry(e)),
                },
                None => None,
            },
            _ => None,
        };
        let sessions = self.open_sessions_of(username).await.map_err(Delivery::retry)?;
        let mut unreachable = Vec::new();
        for s in sessions {
            let r = match &rate {
                Some(rate) => nas.change_rate_limit(&s, rate).await,
                // No access, or no package to browse on: the session ends.
                None => nas.disconnect(&s).await,
            };
            match r {
                Ok(r) => {
                    tracing::info!(user = %username, session = s.id, ok = r.ok, detail = ?r.detail, "router told of the change")
                }
                Err(e) => unreachable.push(format!("session {}: {e}", s.id)),
            }
        }
        if unreachable.is_empty() { Ok(()) } else { Err(Delivery::Retry(unreachable.join("; "))) }
    }

    async fn disconnect_expired(&self, c: &Customer) -> Result<(), Delivery> {
        let Some(nas) = self.nas.clone() else { return Ok(()) };
        if c.status == broadnet_domain::CustomerStatus::Active {
            return Ok(());
        }
        let sessions = self.open_sessions_of(c.username.as_str()).await.map_err(Delivery::retry)?;
        let mut unreachable = Vec::new();
        for s in sessions {
            match nas.disconnect(&s).await {
                Ok(r) => {
                    tracing::info!(user = %c.username, session = s.id, detail = ?r.detail, "expired: disconnect sent")
                }
                Err(e) => unreachable.push(format!("session {}: {e}", s.id)),
            }
        }
        if unreachable.is_empty() { Ok(()) } else { Err(Delivery::Retry(unreachable.join("; "))) }
    }

    /// After a payment: live sessions get the package's rate limit again (a CoA), so a
    /// customer held on a restricted profile is back at full speed without reconnecting.
    async fn refresh_sessions(&self, c: &Customer) {
        let Some(nas) = self.nas.clone() else { return };
        let Some(pid) = c.package_id else { return };
        let Ok(sessions) = self.open_sessions_of(c.username.as_str()).await else { return };
        if sessions.is_empty() {
            return;
        }
        let Ok(pkg) = self.store.get_package(pid).await else { return };
        let rate = pkg.rate_limit().mikrotik();
        for s in sessions {
            match nas.change_rate_limit(&s, &rate).await {
                Ok(r) => tracing::info!(user = %c.username, session = s.id, detail = ?r.detail, "renewed: CoA sent"),
                Err(e) => tracing::warn!(user = %c.username, error = %e, "renewed: router unreachable for CoA"),
            }
        }
    }

    /// Puts the secrets an entry names (the customer's password in a welcome) into its
    /// text, read from the customer now: the stored entry never holds them.
    async fn fill_secrets(&self, p: &Value, text: &str) -> Result<String, Delivery> {
        let names: Vec<&str> = p
            .get("secrets")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).filter(|n| SECRET_VARS.contains(n)).collect())
            .unwrap_or_default();
        if names.is_empty() {
            return Ok(text.to_string());
        }
        let Some(c) = self.customer_of(p).await.map_err(Delivery::retry)? else {
            return Err(Delivery::bad("the customer was deleted before their login could be sent"));
        };
        let mut vars = BTreeMap::new();
        for name in names {
            if name == "password" {
                vars.insert("password", c.password.clone());
            }
        }
        Ok(render(text, &vars))
    }

    async fn deliver_sms(&self, p: &Value) -> Result<(), Delivery> {
        let to = p.get("to").and_then(Value::as_str).ok_or(Delivery::bad("no recipient"))?;
        let message = p.get("message").and_then(Value::as_str).ok_or(Delivery::bad("no message"))?;
        let message = &self.fill_secrets(p, message).await?;
        let settings = self.sms_settings().await.map_err(Delivery::retry)?;
        if !settings.enabled {
            return Err(Delivery::bad("SMS was turned off before this message was sent"));
        }
        let client = self.sms_client().await.map_err(|e| Delivery::Retry(e.to_string()))?;
        match client.send(&[to.to_string()], message).await {
            Ok(recipients) => match recipients.first() {
                Some(r) if r.is_sent() => {
                    tracing::info!(to, id = ?r.message_id, cost = ?r.cost, "SMS sent");
                    Ok(())
                }
                Some(r) if r.is_retryable() => Err(Delivery::Retry(format!("{} ({})", r.status, r.status_code))),
                Some(r) => Err(Delivery::Failed(format!("{} ({})", r.status, r.status_code))),
                None => Err(Delivery::Retry("Africa's Talking returned no recipient".into())),
            },
            Err(broadnet_providers::ProviderError::Config(m)) => Err(Delivery::Failed(m)),
            Err(e) => Err(Delivery::Retry(e.to_string())),
        }
    }

    async fn deliver_email(&self, p: &Value) -> Result<(), Delivery> {
        let to = p.get("to").and_then(Value::as_str).ok_or(Delivery::bad("no recipient"))?;
        let settings = self.email_settings().await.map_err(Delivery::retry)?;
        let Some(config) = settings.config.filter(|_| settings.enabled) else {
            return Err(Delivery::bad("email was turned off or has no SMTP host"));
        };
        let mut attachments = Vec::new();
        if let Some(pid) = p.get("invoice_payment_id").and_then(Value::as_i64) {
            let (number, pdf) = self.invoice_pdf(pid).await.map_err(Delivery::retry)?;
            attachments.push(broadnet_mailer::Attachment {
                filename: format!("{number}.pdf"),
                content_type: "application/pdf".into(),
                bytes: pdf,
            });
        }
        let email = broadnet_mailer::Email {
            to: to.to_string(),
            subject: p.get("subject").and_then(Value::as_str).unwrap_or_default().to_string(),
            text: self.fill_secrets(p, p.get("text").and_then(Value::as_str).unwrap_or_default()).await?,
            attachments,
        };
        let mailer = broadnet_mailer::Mailer::new(config).map_err(|e| Delivery::Failed(e.to_string()))?;
        match mailer.send(&email).await {
            Ok(()) => {
                tracing::info!(to, subject = %email.subject, "email sent");
                Ok(())
            }
            Err(e) if e.is_permanent() => Err(Delivery::Failed(e.to_string())),
            Err(e) => Err(Delivery::Retry(e.to_string())),
        }
    }

    /// Delivers everything due. Returns how many entries were handled.
    pub async fn run_outbox(&self) -> AppResult<usize> {
        let mut handled = 0;
        // A run ends well inside the job's lease (5 minutes), so a node taking the lease
        // over never finds entries this one is still delivering.
        let started = std::time::Instant::now();
        loop {
            if started.elapsed() > std::time::Duration::from_secs(120) {
                return Ok(handled);
            }
            let now = self.now();
            let items = self.store.claim_outbox(now, now + Duration::minutes(5), 50).await?;
            if items.is_empty() {
                return Ok(handled);
            }
            for item in items {
                let result = match self.deliver(&item).await {
                    Ok(()) => OutboxResult::Delivered,
                    Err(Delivery::Failed(error)) => OutboxResult::Failed { error },
                    Err(Delivery::Retry(error)) if item.attempts >= MAX_ATTEMPTS => {
                        OutboxResult::Failed { error: format!("gave up after {} attempts: {error}", item.attempts) }
                    }
                    Err(Delivery::Retry(error)) => {
                        // 30 s, 1, 2, 4 ... minutes, at most an hour.
                        let wait = 30i64 << (item.attempts.clamp(1, 8) - 1);
                        OutboxResult::Retry { at: self.now() + Duration::seconds(wait.min(3600)), error }
                    }
                };
                if let OutboxResult::Failed { error } | OutboxResult::Retry { error, .. } = &result {
                    tracing::warn!(id = item.id, kind = %item.kind, attempts = item.attempts, %error, "outbox delivery failed");
                }
                self.store.finish_outbox(item.id, result, self.now()).await?;
                handled += 1;
            }
        }
    }

    /// Queues reminders for customers whose subscription ends within the configured
    /// days (Settings → Notifications, default 3 and 1). Each reminder is queued once
    /// per customer, expiry date and day, however often this runs.
    pub async fn run_reminders(&self) -> AppResult<usize> {
        let days = reminder_days(self.setting(SettingKey::ReminderDays).await?.as_deref());
        let now = self.now();
        let mut queued = 0;
        for (d, after, until) in broadnet_domain::billing::reminder_windows(&days, now) {
            let mut after_id = 0;
            loop {
                let batch = self.store.customers_expiring(after, until, after_id, 500).await?;
                for c in &batch {
                    let Some(exp) = c.expires_at else { continue };
                    let item = NewOutbox {
                        kind: OutboxKind::CustomerReminder,
                        payload: json!({"customer_id": c.id, "days": d, "expires_at": exp}),
                        dedupe_key: Some(format!("reminder:{}:{}:{d}", c.id, exp.timestamp())),
                        at: now,
                    };
                    if self.store.enqueue(item).await? {
                        queued += 1;
                    }
                }
                match batch.last() {
                    Some(last) if batch.len() == 500 => after_id = last.id,
                    _ => break,
                }
            }
        }
        if queued > 0 {
            self.wake_outbox();
        }
        Ok(queued)
    }

    /// The outbox, for the dashboard: what was sent, what failed and why.
    pub async fn list_notifications(
        &self,
        s: &crate::Session,
        params: &NotificationListQuery,
    ) -> AppResult<broadnet_store::Page<OutboxItem>> {
        let mut q = OutboxQuery { page: 1, per_page: 50, ..Default::default() };
        let mut errors = crate::FieldErrors::new();
        if let Some(v) = &params.kind {
            match OutboxKind::parse(v) {
                Ok(kind) => q.kind = Some(kind),
                Err(e) => errors.entry("kind".into()).or_default().push(e.0),
            }
        }
        if let Some(v) = &params.status {
            match OutboxStatus::parse(v) {
                Ok(status) => q.status = Some(status),
                Err(e) => errors.entry("status".into()).or_default().push(e.0),
            }
        }
        if let Some(v) = params.customer_id.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            match v.parse() {
                Ok(id) => q.customer_id = Some(id),
                Err(_) => errors.entry("customer_id".into()).or_default().push("must be a whole number".into()),
            }
        }
        crate::sessions::paging(&mut errors, &params.page, &params.per_page, (&mut q.page, &mut q.per_page));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut page = self.store.list_outbox(&q).await?;
        if !s.admin.role.can_write() {
            // Entries written before passwords were filled at send time may hold one.
            for item in &mut page.items {
                redact_login(&mut item.payload);
            }
        }
        Ok(page)
    }
}

/// Hides the text of a message that carried (or carries) a customer's login.
fn redact_login(payload: &mut Value) {
    if payload.get("template").and_then(Value::as_str) != Some("welcome") {
        return;
    }
    for key in ["message", "text"] {
        if let Some(v) = payload.get_mut(key) {
            *v = Value::String("(welcome message with the customer's login; hidden from viewers)".into());
        }
    }
}

pub use broadnet_domain::billing::reminder_days;

/// How one delivery went wrong.
#[derive(Debug)]
enum Delivery {
    Retry(String),
    Failed(String),
}

impl Delivery {
    fn retry(e: impl std::fmt::Display) -> Delivery {
        Delivery::Retry(e.to_string())
    }
    fn bad(m: &str) -> Delivery {
        Delivery::Failed(m.to_string())
    }
}

impl App {
    /// "Retry now": a failed or waiting message is due at once, and the delivery job
    /// is woken. A message being sent or already delivered is left alone (`InUse`).
    pub async fn retry_notification(&self, s: &crate::Session, id: i64) -> AppResult<OutboxItem> {
        s.require_write()?;
        let item = self.store.retry_outbox(id, self.now()).await.map_err(AppError::from_store("notification"))?;
        tracing::info!(admin = %s.admin.username, id, kind = %item.kind, "notification retry requested");
        self.wake_outbox();
        Ok(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_known_names_and_keep_the_rest() {
        let mut v = BTreeMap::new();
        v.insert("app_name", "Kilimo Net".to_string());
        v.insert("amount", "KES 1500.00".to_string());
        v.insert("how_to_pay", String::new());
        assert_eq!(render("{app_name}: got {amount}. {how_to_pay}", &v), "Kilimo Net: got KES 1500.00.");
        assert_eq!(render("{unknown} {app_name} {not closed", &v), "{unknown} Kilimo Net {not closed");
        assert_eq!(render("{ {} }", &v), "{ {} }");
    }

    #[test]
    fn reminder_days_are_sorted_and_sane() {
        assert_eq!(reminder_days(None), [3, 1]);
        assert_eq!(reminder_days(Some("1, 7,3,3")), [7, 3, 1]);
        assert_eq!(reminder_days(Some("x")), [3, 1]);
        assert_eq!(reminder_days(Some("")), Vec::<i64>::new());
        assert_eq!(reminder_days(Some("0,-2,999")), [3, 1]);
    }

    #[test]
    fn zones_have_their_offsets() {
        assert_eq!(zone("Africa/Nairobi").0.local_minus_utc(), 3 * 3600);
        assert_eq!(zone("Africa/Lagos").1, "WAT");
        assert_eq!(zone("Mars/Olympus").1, "UTC");
    }
}
