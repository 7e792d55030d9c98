//! Settings by category (Settings → Payments, M-Pesa, SMS…): a registry of known
//! keys with their kind, validation, and encryption for secrets.

use crate::input::{Fields, Input, Unknown};
use crate::{App, AppError, AppResult, Session};
use broadnet_store::Setting;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// New values for some settings of one category, by key (JSON or a form). Keys the
/// category does not have are refused by name; an empty or null value clears one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct SettingsUpdate(pub BTreeMap<String, Input>);

impl SettingsUpdate {
    pub fn set(mut self, key: &str, value: impl Into<Input>) -> Self {
        self.0.insert(key.to_string(), value.into());
        self
    }

    fn get(&self, key: &str) -> &Input {
        static ABSENT: Input = Input::Absent;
        self.0.get(key).unwrap_or(&ABSENT)
    }
}

/// A category's settings as the dashboard shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsView {
    pub category: String,
    pub settings: Vec<SettingView>,
}

/// One setting. A secret's `value` is always null; `set` says whether it has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingView {
    pub key: &'static str,
    pub label: &'static str,
    /// text, secret, bool, int, url or choice
    pub kind: &'static str,
    pub value: Option<String>,
    pub set: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<&'static [&'static str]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Secret,
    Bool,
    Int,
    Url,
    Choice(&'static [&'static str]),
    /// Letters, digits, `-`, `_` and `/` (it goes into file names and HTTP headers).
    Prefix,
}

pub struct Def {
    pub key: &'static str,
    pub kind: Kind,
    pub label: &'static str,
}

const fn d(key: &'static str, kind: Kind, label: &'static str) -> Def {
    Def { key, kind, label }
}

const ENVS: &[&str] = &["sandbox", "production", "simulator"];

/// Settings that decide where payments go: changed by a superadmin only.
pub const MONEY_CATEGORIES: &[&str] = &["payments", "mpesa", "airtel"];

/// Every category and key the dashboard can change.
pub const REGISTRY: &[(&str, &[Def])] = &[
    (
        "general",
        &[
            d("isp_name", Kind::Text, "ISP name on invoices and messages"),
            d("isp_address", Kind::Text, "Postal address on invoices"),
            d("isp_phone", Kind::Text, "Support phone number"),
            d("isp_email", Kind::Text, "Support email address"),
            d("timezone", Kind::Text, "Time zone for display (default Africa/Nairobi)"),
            d("currency", Kind::Choice(&["KES", "UGX", "TZS", "RWF", "ZMW", "MWK", "NGN", "GHS"]), "Currency"),
            d("invoice_prefix", Kind::Prefix, "Invoice number prefix, e.g. INV-"),
            d("invoice_footer", Kind::Text, "Text at the foot of every invoice"),
        ],
    ),
    ("payments", &[d("active_provider", Kind::Choice(&["mpesa", "airtel"]), "Active payment provider")]),
    (
        "mpesa",
        &[
            d("env", Kind::Choice(ENVS), "Daraja environment"),
            d("consumer_key", Kind::Secret, "Consumer Key"),
            d("consumer_secret", Kind::Secret, "Consumer Secret"),
            d("shortcode", Kind::Text, "Paybill or till number"),
            d("shortcode_type", Kind::Choice(&["paybill", "till"]), "Shortcode type"),
            d("till_number", Kind::Text, "Till number (for a till: the shortcode above is the store number)"),
            d("passkey", Kind::Secret, "Lipa Na M-Pesa passkey"),
            d("callback_url", Kind::Url, "Callback URL (HTTPS)"),
        ],
    ),
    (
        "airtel",
        &[
            d("env", Kind::Choice(ENVS), "Airtel environment"),
            d("client_id", Kind::Text, "Client ID"),
            d("client_secret", Kind::Secret, "Client Secret"),
            d("callback_url", Kind::Url, "Callback URL (HTTPS)"),
            d("country", Kind::Text, "Country code, e.g. KE"),
            d("currency", Kind::Text, "Currency code, e.g. KES"),
        ],
    ),
    (
        "sms",
        &[
            d("enabled", Kind::Bool, "Send SMS"),
            d("at_username", Kind::Text, "Africa's Talking username"),
            d("at_api_key", Kind::Secret, "Africa's Talking API key"),
            d("sender_id", Kind::Text, "Sender ID (max 11 characters)"),
        ],
    ),
    (
        "email",
        &[
            d("enabled", Kind::Bool, "Send email"),
            d("host", Kind::Text, "SMTP host"),
            d("port", Kind::Int, "SMTP port"),
            d("user", Kind::Text, "SMTP username"),
            d("pass", Kind::Secret, "SMTP password"),
            d("from", Kind::Text, "From address"),
        ],
    ),
    ("notifications", &[d("reminder_days", Kind::Text, "Days before expiry to remind, e.g. 3,1")]),
    (
        "templates",
        &[
            d("payment_received", Kind::Text, "Payment received (SMS and email)"),
            d("welcome", Kind::Text, "Welcome with login details"),
            d("reminder", Kind::Text, "Expiry reminder"),
            d("expired", Kind::Text, "Subscription expired"),
            d("payment_failed", Kind::Text, "Payment not completed"),
            d("how_to_pay", Kind::Text, "How to pay, used as {how_to_pay} in the others"),
            d("payment_held", Kind::Text, "Paid less than the package: kept as credit"),
            d("renewed_from_credit", Kind::Text, "Renewed from credit at expiry"),
            d("hotspot_paid", Kind::Text, "Hotspot purchase paid (login code and password for other devices)"),
        ],
    ),
];

/// Every setting the program reads, by category and name, so that a misspelt key is a
/// compile error rather than a setting that silently never applies. (Message
/// templates are read by [`crate::notify::Template`].)
macro_rules! setting_keys {
    ($($variant:ident => ($category:literal, $name:literal)),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum SettingKey { $($variant),+ }

        impl SettingKey {
            pub const ALL: &'static [SettingKey] = &[$(SettingKey::$variant),+];

            pub fn category(self) -> &'static str {
                match self { $(SettingKey::$variant => $category),+ }
            }

            pub fn name(self) -> &'static str {
                match self { $(SettingKey::$variant => $name),+ }
            }
        }
    };
}

setting_keys! {
    PaymentsActiveProvider => ("payments", "active_provider"),
    MpesaEnv => ("mpesa", "env"),
    MpesaConsumerKey => ("mpesa", "consumer_key"),
    MpesaConsumerSecret => ("mpesa", "consumer_secret"),
    MpesaShortcode => ("mpesa", "shortcode"),
    MpesaShortcodeType => ("mpesa", "shortcode_type"),
    MpesaTillNumber => ("mpesa", "till_number"),
    MpesaPasskey => ("mpesa", "passkey"),
    MpesaCallbackUrl => ("mpesa", "callback_url"),
    AirtelEnv => ("airtel", "env"),
    AirtelClientId => ("airtel", "client_id"),
    AirtelClientSecret => ("airtel", "client_secret"),
    AirtelCallbackUrl => ("airtel", "callback_url"),
    AirtelCountry => ("airtel", "country"),
    AirtelCurrency => ("airtel", "currency"),
    SmsEnabled => ("sms", "enabled"),
    SmsAtUsername => ("sms", "at_username"),
    SmsAtApiKey => ("sms", "at_api_key"),
    SmsSenderId => ("sms", "sender_id"),
    EmailEnabled => ("email", "enabled"),
    EmailHost => ("email", "host"),
    EmailPort => ("email", "port"),
    EmailUser => ("email", "user"),
    EmailPass => ("email", "pass"),
    EmailFrom => ("email", "from"),
    IspName => ("general", "isp_name"),
    IspAddress => ("general", "isp_address"),
    IspPhone => ("general", "isp_phone"),
    IspEmail => ("general", "isp_email"),
    Timezone => ("general", "timezone"),
    Currency => ("general", "currency"),
    InvoicePrefix => ("general", "invoice_prefix"),
    InvoiceFooter => ("general", "invoice_footer"),
    ReminderDays => ("notifications", "reminder_days"),
}

pub fn category(name: &str) -> Option<&'static [Def]> {
    REGISTRY.iter().find(|(c, _)| *c == name).map(|(_, defs)| *defs)
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Text | Kind::Prefix => "text",
        Kind::Secret => "secret",
        Kind::Bool => "bool",
        Kind::Int => "int",
        Kind::Url => "url",
        Kind::Choice(_) => "choice",
    }
}

fn validate(f: &mut Fields, def: &Def, input: &Input) -> Option<Option<String>> {
    match def.kind {
        Kind::Bool => {
            // A form's "(default)" choice sends "": unset, so the server's .env applies.
            static NULL: Input = Input::Null;
            let input = if matches!(input, Input::Text(t) if t.trim().is_empty()) { &NULL } else { input };
            f.boolean(def.key, input).patch().map(|o| o.map(|b| b.to_string()))
        }
        Kind::Int => f.int(def.key, input, 0, 65_535).patch().map(|o| o.map(|n| n.to_string())),
        Kind::Text => f.text(def.key, input, 2000).patch(),
        Kind::Secret => f.write_only(def.key, input, 2000).patch(),
        Kind::Url => {
            let v = f.text(def.key, input, 2000).patch();
            if let Some(Some(u)) = &v
                && (!(u.starts_with("https://") || u.starts_with("http://")) || u.contains(char::is_whitespace))
            {
                f.error(def.key, "must be an http:// or https:// URL");
                return None;
            }
            v
        }
        Kind::Prefix => {
            let v = f.text(def.key, input, 16).patch();
            if let Some(Some(p)) = &v
                && !valid_prefix(p)
            {
                f.error(def.key, "may contain only letters, digits, - _ and / (at most 16)");
                return None;
            }
            v
        }
        Kind::Choice(choices) => {
            let v = f.text(def.key, input, 100).patch();
            if let Some(Some(c)) = &v
                && !choices.contains(&c.as_str())
            {
                f.error(def.key, format!("must be one of: {}", choices.join(", ")));
                return None;
            }
            v
        }
    }
}

/// An invoice number prefix that is safe in a file name and an HTTP header.
pub fn valid_prefix(p: &str) -> bool {
    p.chars().count() <= 16 && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
}

impl App {
    /// A category's settings; secrets are reported as set or not, never shown.
    pub async fn read_settings(&self, category_name: &str) -> AppResult<SettingsView> {
        let defs = category(category_name).ok_or(AppError::NotFound("settings category"))?;
        let stored = self.store.get_settings(category_name).await?;
        let settings = defs
            .iter()
            .map(|def| {
                let s = stored.iter().find(|s| s.key == def.key);
                let value = match (def.kind, s) {
                    (Kind::Secret, _) => None,
                    (_, Some(s)) => Some(s.value.clone()),
                    (_, None) => None,
                };
                SettingView {
                    key: def.key,
                    label: def.label,
                    kind: kind_name(def.kind),
                    value,
                    set: s.is_some_and(|s| !s.value.is_empty()),
                    choices: match def.kind {
                        Kind::Choice(c) => Some(c),
                        _ => None,
                    },
                }
            })
            .collect();
        Ok(SettingsView { category: category_name.to_string(), settings })
    }

    /// The decrypted value of one setting, for the parts of the program that use it.
    /// A setting's stored value (decrypted when secret); `None` when unset or empty.
    pub async fn setting(&self, key: SettingKey) -> AppResult<Option<String>> {
        self.setting_at(key.category(), key.name()).await
    }

    pub(crate) async fn setting_at(&self, category_name: &str, key: &str) -> AppResult<Option<String>> {
        let stored = self.store.get_settings(category_name).await?;
        match stored.into_iter().find(|s| s.key == key) {
            None => Ok(None),
            Some(s) if s.value.is_empty() => Ok(None),
            Some(s) if s.secret => {
                self.secrets.decrypt(&s.value).map(Some).map_err(|e| AppError::Internal(e.to_string()))
            }
            Some(s) => Ok(Some(s.value)),
        }
    }

    pub async fn write_settings(
        &self,
        s: &Session,
        category_name: &str,
        update: SettingsUpdate,
    ) -> AppResult<SettingsView> {
        s.require_write()?;
        // Where customers' money goes (the paybill, the keys, the callback URL) is the
        // superadmin's decision: an admin account, phished or rogue, must not be able
        // to send collections elsewhere.
        if MONEY_CATEGORIES.contains(&category_name) {
            s.require_superadmin()?;
        }
        let defs = category(category_name).ok_or(AppError::NotFound("settings category"))?;
        let unknown = update
            .0
            .keys()
            .filter(|k| !defs.iter().any(|d| d.key == k.as_str()))
            .fold(Unknown::default(), |u, k| u.with(k));
        let mut f = Fields::new(&unknown);
        let mut values = Vec::new();
        for def in defs {
            if let Some(v) = validate(&mut f, def, update.get(def.key)) {
                let secret = def.kind == Kind::Secret;
                let value = match v {
                    Some(text) if secret => self.secrets.encrypt(&text),
                    Some(text) => text,
                    None => String::new(),
                };
                values.push(Setting { key: def.key.to_string(), value, secret });
            }
        }
        f.finish()?;
        if !values.is_empty() {
            self.store.put_settings(&s.actor(self.now()), category_name, values).await?;
        }
        self.read_settings(category_name).await
    }
}

impl App {
    /// Moves every stored secret (settings, router API passwords) that is still
    /// encrypted under a previous key (the one once derived from JWT_SECRET) to the
    /// current ENCRYPTION_KEY. Run at start; returns how many were moved.
    pub async fn reencrypt_secrets(&self) -> AppResult<usize> {
        let actor = broadnet_store::Actor::system("encryption-key-change", self.now());
        let mut moved = 0;
        for (category_name, defs) in REGISTRY {
            let stored = self.store.get_settings(category_name).await?;
            let mut values = Vec::new();
            for s in stored.into_iter().filter(|s| s.secret && !s.value.is_empty()) {
                if !defs.iter().any(|d| d.key == s.key) {
                    continue;
                }
                match self.secrets.reencrypt(&s.value) {
                    Ok(Some(value)) => values.push(Setting { key: s.key, value, secret: true }),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(category = category_name, key = %s.key, error = %e, "stored secret unreadable")
                    }
                }
            }
            if !values.is_empty() {
                moved += values.len();
                self.store.put_settings(&actor, category_name, values).await?;
            }
        }
        for r in self.store.list_routers().await? {
            let Some(enc) = r.api_password_enc.as_deref() else { continue };
            match self.secrets.reencrypt(enc) {
                Ok(Some(value)) => {
                    let patch =
                        broadnet_store::RouterPatch { api_password_enc: Some(Some(value)), ..Default::default() };
                    self.store.update_router(&actor, r.id, patch).await?;
                    moved += 1;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(router = %r.name, error = %e, "stored router API password unreadable"),
            }
        }
        if moved > 0 {
            tracing::info!(moved, "secrets re-encrypted under the current ENCRYPTION_KEY");
        }
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_the_program_reads_is_one_an_admin_can_set() {
        for key in SettingKey::ALL {
            let defs = category(key.category()).unwrap_or_else(|| panic!("no category for {key:?}"));
            assert!(defs.iter().any(|d| d.key == key.name()), "{key:?} is not in the settings registry");
        }
        let templates = category("templates").unwrap_or_default();
        for t in crate::notify::Template::ALL {
            assert!(templates.iter().any(|d| d.key == t.as_str()), "template {t} is not in the settings registry");
        }
    }
}
