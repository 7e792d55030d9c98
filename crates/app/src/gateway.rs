//! The outside services BroadNet talks to (M-Pesa, Airtel Money, Africa's Talking,
//! SMTP), configured from Settings in the database with the environment as fallback.
//! Clients are cached while their settings stay the same, so an OAuth token is
//! reused, and rebuilt the moment an admin changes a setting (no restart).

use crate::settings::SettingKey;
use crate::{App, AppError, AppResult, Session};
use broadnet_providers::airtel::{Airtel, AirtelConfig};
use broadnet_providers::daraja::{Daraja, DarajaConfig};
use broadnet_providers::sms::{AfricasTalking, AtConfig};
use std::sync::Mutex;

/// Values from the environment (the seed's MPESA_*, AIRTEL_*, AT_*, EMAIL_* variables),
/// used where Settings leave a field empty.
#[derive(Debug, Clone, Default)]
pub struct GatewayEnv {
    pub app_name: String,
    /// Where providers and browsers reach this server, e.g. `https://billing.isp.co.ke`.
    pub public_url: String,
    /// The per-install secret in callback paths. When set, the seed's plain callback
    /// paths are refused; when not, a secret derived from the install's key is used in
    /// the URLs we hand out and the plain paths keep working.
    pub callback_secret: Option<String>,
    /// The plain paths are refused even without a callback secret (production, unless
    /// the operator opts in with PAYMENTS_PLAIN_CALLBACKS=true).
    pub plain_callbacks_off: bool,
    pub mpesa: MpesaEnv,
    pub airtel: AirtelEnv,
    pub sms: SmsEnv,
    pub email: EmailEnv,
}

#[derive(Debug, Clone, Default)]
pub struct MpesaEnv {
    /// sandbox, production or simulator
    pub env: String,
    pub consumer_key: String,
    pub consumer_secret: String,
    pub shortcode: Option<String>,
    pub passkey: String,
    pub callback_url: Option<String>,
    /// Overrides the environment's address (a simulator in another process, say).
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AirtelEnv {
    pub env: String,
    pub client_id: Option<String>,
    pub client_secret: String,
    pub callback_url: Option<String>,
    pub country: String,
    pub currency: String,
    /// The callback-authentication private key from Airtel's portal, if enabled.
    pub callback_key: Option<String>,
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SmsEnv {
    pub enabled: bool,
    /// sandbox, production or simulator
    pub env: String,
    pub username: Option<String>,
    pub api_key: String,
    pub sender_id: Option<String>,
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EmailEnv {
    pub enabled: bool,
    pub host: Option<String>,
    pub port: u16,
    pub user: Option<String>,
    pub pass: String,
    pub from: Option<String>,
}

/// Credentials the built-in simulators accept, used in simulator mode when Settings
/// and the environment leave them empty.
pub struct SimCredentials {
    pub consumer_key: &'static str,
    pub consumer_secret: &'static str,
    pub shortcode: &'static str,
    pub passkey: &'static str,
}
pub const SIM_MPESA: SimCredentials = SimCredentials {
    consumer_key: "simulator-key",
    consumer_secret: "simulator-secret",
    shortcode: "174379",
    passkey: "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
};
pub struct SimAirtel {
    pub client_id: &'static str,
    pub client_secret: &'static str,
}
pub const SIM_AIRTEL: SimAirtel = SimAirtel { client_id: "simulator-client", client_secret: "simulator-secret" };
pub struct SimSms {
    pub username: &'static str,
    pub api_key: &'static str,
}
pub const SIM_SMS: SimSms = SimSms { username: "simulator", api_key: "simulator-key" };

/// Clients built from the current settings, keyed by the settings they came from.
#[derive(Default)]
pub struct Gateway {
    pub env: GatewayEnv,
    daraja: Mutex<Option<(String, Daraja)>>,
    airtel: Mutex<Option<(String, Airtel)>>,
    sms: Mutex<Option<(String, AfricasTalking)>>,
}

impl Gateway {
    pub fn new(env: GatewayEnv) -> Self {
        Gateway { env, ..Default::default() }
    }
}

fn cached<T: Clone>(slot: &Mutex<Option<(String, T)>>, key: String, build: impl FnOnce() -> T) -> T {
    let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
    match &*guard {
        Some((k, client)) if *k == key => client.clone(),
        _ => {
            let client = build();
            *guard = Some((key, client.clone()));
            client
        }
    }
}

/// The M-Pesa settings in force.
#[derive(Debug, Clone)]
pub struct MpesaSettings {
    pub env: String,
    pub config: DarajaConfig,
    pub callback_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SmsSettings {
    pub enabled: bool,
    pub config: AtConfig,
}

#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub enabled: bool,
    pub config: Option<broadnet_mailer::SmtpConfig>,
}

fn or(v: Option<String>, fallback: &str) -> String {
    v.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| fallback.to_string())
}

impl App {
    pub fn gateway_env(&self) -> &GatewayEnv {
        &self.gateway.env
    }

    /// `http://127.0.0.1:3000/simulator/mpesa` for a provider in simulator mode.
    fn simulator_url(&self, name: &str) -> String {
        format!("{}/simulator/{name}", self.gateway.env.public_url.trim_end_matches('/'))
    }

    /// The provider new payments use: Settings → Payments, else whichever one has
    /// credentials, else M-Pesa.
    pub async fn active_provider(&self) -> AppResult<broadnet_domain::PaymentProvider> {
        use broadnet_domain::PaymentProvider;
        if let Some(p) = self.setting(SettingKey::PaymentsActiveProvider).await? {
            return PaymentProvider::parse(&p).map_err(|_| AppError::Internal(format!("bad active_provider {p:?}")));
        }
        let e = &self.gateway.env;
        let mpesa_ready = e.mpesa.shortcode.is_some() || e.mpesa.env == "simulator";
        let airtel_ready = e.airtel.client_id.is_some() || e.airtel.env == "simulator";
        Ok(if !mpesa_ready && airtel_ready { PaymentProvider::Airtel } else { PaymentProvider::Mpesa })
    }

    pub async fn mpesa_settings(&self) -> AppResult<MpesaSettings> {
        let e = &self.gateway.env.mpesa;
        let env = or(self.setting(SettingKey::MpesaEnv).await?, if e.env.is_empty() { "sandbox" } else { &e.env });
        let base_url = match env.as_str() {
            "production" => DarajaConfig::production_url().to_string(),
            "simulator" => e.base_url.clone().unwrap_or_else(|| self.simulator_url("mpesa")),
            _ => e.base_url.clone().unwrap_or_else(|| DarajaConfig::sandbox_url().to_string()),
        };
        let till = match self.setting(SettingKey::MpesaShortcodeType).await?.as_deref() {
            Some("till") => self.setting(SettingKey::MpesaTillNumber).await?,
            _ => None,
        };
        // The simulator takes only its own credentials, whatever else is configured.
        let config = if env == "simulator" {
            DarajaConfig {
                base_url,
                consumer_key: SIM_MPESA.consumer_key.into(),
                consumer_secret: SIM_MPESA.consumer_secret.into(),
                shortcode: SIM_MPESA.shortcode.into(),
                passkey: SIM_MPESA.passkey.into(),
                till_number: till,
            }
        } else {
            let shortcode = or(self.setting(SettingKey::MpesaShortcode).await?.or(e.shortcode.clone()), "");
            DarajaConfig {
                base_url,
                consumer_key: or(self.setting(SettingKey::MpesaConsumerKey).await?, &e.consumer_key),
                consumer_secret: or(self.setting(SettingKey::MpesaConsumerSecret).await?, &e.consumer_secret),
                till_number: till.map(|t| if t.is_empty() { shortcode.clone() } else { t }),
                shortcode,
                passkey: or(self.setting(SettingKey::MpesaPasskey).await?, &e.passkey),
            }
        };
        let callback_url = self.setting(SettingKey::MpesaCallbackUrl).await?.or(e.callback_url.clone());
        Ok(MpesaSettings { env, config, callback_url })
    }

    pub async fn daraja(&self) -> AppResult<(Daraja, MpesaSettings)> {
        let s = self.mpesa_settings().await?;
        let c = &s.config;
        for (field, v) in [
            ("consumer_key", &c.consumer_key),
            ("consumer_secret", &c.consumer_secret),
            ("shortcode", &c.shortcode),
            ("passkey", &c.passkey),
        ] {
            if v.trim().is_empty() {
                return Err(AppError::field(
                    "provider",
                    format!(
                        "M-Pesa is not set up: fill in {field} under Settings → M-Pesa (or MPESA_{})",
                        field.to_uppercase()
                    ),
                ));
            }
        }
        let key = format!(
            "{}|{}|{}|{}|{}|{:?}",
            c.base_url, c.consumer_key, c.consumer_secret, c.shortcode, c.passkey, c.till_number
        );
        let cfg = c.clone();
        Ok((cached(&self.gateway.daraja, key, || Daraja::new(cfg)), s))
    }

    pub async fn airtel(&self) -> AppResult<(Airtel, AirtelConfig)> {
        let e = &self.gateway.env.airtel;
        let env = or(self.setting(SettingKey::AirtelEnv).await?, if e.env.is_empty() { "sandbox" } else { &e.env });
        let base_url = match env.as_str() {
            "production" => AirtelConfig::production_url().to_string(),
            "simulator" => e.base_url.clone().unwrap_or_else(|| self.simulator_url("airtel")),
            _ => e.base_url.clone().unwrap_or_else(|| AirtelConfig::sandbox_url().to_string()),
        };
        let country =
            or(self.setting(SettingKey::AirtelCountry).await?, if e.country.is_empty() { "KE" } else { &e.country });
        let currency = or(
            self.setting(SettingKey::AirtelCurrency).await?,
            if e.currency.is_empty() { "KES" } else { &e.currency },
        );
        let cfg = if env == "simulator" {
            AirtelConfig {
                base_url,
                client_id: SIM_AIRTEL.client_id.into(),
                client_secret: SIM_AIRTEL.client_secret.into(),
                country,
                currency,
            }
        } else {
            AirtelConfig {
                base_url,
                client_id: or(self.setting(SettingKey::AirtelClientId).await?.or(e.client_id.clone()), ""),
                client_secret: or(self.setting(SettingKey::AirtelClientSecret).await?, &e.client_secret),
                country,
                currency,
            }
        };
        if cfg.client_id.trim().is_empty() || cfg.client_secret.trim().is_empty() {
            return Err(AppError::field(
                "provider",
                "Airtel Money is not set up: fill in client_id and client_secret under Settings → Airtel (or AIRTEL_CLIENT_ID/AIRTEL_CLIENT_SECRET)",
            ));
        }
        let key = format!("{}|{}|{}|{}|{}", cfg.base_url, cfg.client_id, cfg.client_secret, cfg.country, cfg.currency);
        let c = cfg.clone();
        Ok((cached(&self.gateway.airtel, key, || Airtel::new(c)), cfg))
    }

    pub async fn sms_settings(&self) -> AppResult<SmsSettings> {
        let e = &self.gateway.env.sms;
        let enabled = match self.setting(SettingKey::SmsEnabled).await? {
            Some(v) => v == "true",
            None => e.enabled,
        };
        let username = or(self.setting(SettingKey::SmsAtUsername).await?.or(e.username.clone()), "");
        let env = if !e.env.is_empty() {
            e.env.clone()
        } else if username == "sandbox" {
            "sandbox".into()
        } else {
            "production".into()
        };
        let base_url = match env.as_str() {
            "simulator" => e.base_url.clone().unwrap_or_else(|| self.simulator_url("sms")),
            "sandbox" => e.base_url.clone().unwrap_or_else(|| AtConfig::sandbox_url().to_string()),
            _ => e.base_url.clone().unwrap_or_else(|| AtConfig::production_url().to_string()),
        };
        let config = if env == "simulator" {
            AtConfig {
                base_url,
                username: SIM_SMS.username.into(),
                api_key: SIM_SMS.api_key.into(),
                sender_id: self
                    .setting(SettingKey::SmsSenderId)
                    .await?
                    .or(e.sender_id.clone())
                    .filter(|s| !s.is_empty()),
            }
        } else {
            AtConfig {
                base_url,
                username,
                api_key: or(self.setting(SettingKey::SmsAtApiKey).await?, &e.api_key),
                sender_id: self
                    .setting(SettingKey::SmsSenderId)
                    .await?
                    .or(e.sender_id.clone())
                    .filter(|s| !s.is_empty()),
            }
        };
        Ok(SmsSettings { enabled, config })
    }

    pub async fn sms_client(&self) -> AppResult<AfricasTalking> {
        let s = self.sms_settings().await?;
        if s.config.username.is_empty() || s.config.api_key.is_empty() {
            return Err(AppError::field("sms", "SMS is not set up: fill in the Africa's Talking username and API key"));
        }
        let c = s.config;
        let key = format!("{}|{}|{}|{:?}", c.base_url, c.username, c.api_key, c.sender_id);
        Ok(cached(&self.gateway.sms, key, || AfricasTalking::new(c)))
    }

    pub async fn email_settings(&self) -> AppResult<EmailSettings> {
        let e = &self.gateway.env.email;
        let enabled = match self.setting(SettingKey::EmailEnabled).await? {
            Some(v) => v == "true",
            None => e.enabled,
        };
        let host = self.setting(SettingKey::EmailHost).await?.or(e.host.clone());
        let Some(host) = host else { return Ok(EmailSettings { enabled, config: None }) };
        let port = match self.setting(SettingKey::EmailPort).await? {
            Some(p) => p.parse().map_err(|_| AppError::Internal(format!("bad email port {p:?}")))?,
            None if e.port != 0 => e.port,
            None => 587,
        };
        let user = self.setting(SettingKey::EmailUser).await?.or(e.user.clone());
        let pass = self.setting(SettingKey::EmailPass).await?.or(Some(e.pass.clone()).filter(|p| !p.is_empty()));
        let from = self.setting(SettingKey::EmailFrom).await?.or(e.from.clone()).unwrap_or_else(|| {
            let addr = match &user {
                Some(u) if u.contains('@') => u.clone(),
                _ => format!("billing@{host}"),
            };
            format!("{} <{addr}>", self.gateway.env.app_name)
        });
        Ok(EmailSettings {
            enabled,
            config: Some(broadnet_mailer::SmtpConfig {
                host,
                port,
                user,
                pass,
                from,
                security: broadnet_mailer::Security::Auto,
                timeout: std::time::Duration::from_secs(20),
            }),
        })
    }

    /// The secret in callback paths (see [`GatewayEnv::callback_secret`]).
    pub fn callback_token(&self) -> String {
        match &self.gateway.env.callback_secret {
            Some(s) if !s.is_empty() => s.clone(),
            _ => self.tokens.derive("payment-callbacks"),
        }
    }

    /// Whether the seed's plain callback paths are still accepted: never once a
    /// callback secret is set, and in production only when the operator opted in.
    pub fn plain_callbacks_allowed(&self) -> bool {
        !self.gateway.env.plain_callbacks_off && self.gateway.env.callback_secret.as_deref().is_none_or(str::is_empty)
    }

    /// For the web layer: 404 unless the path carries the callback secret.
    pub fn check_callback_path(&self, token: &str) -> AppResult<()> {
        self.check_callback_token(token)
    }

    pub(crate) fn check_callback_token(&self, token: &str) -> AppResult<()> {
        use subtle::ConstantTimeEq;
        if bool::from(token.as_bytes().ct_eq(self.callback_token().as_bytes())) {
            Ok(())
        } else {
            Err(AppError::NotFound("page"))
        }
    }

    /// The public address callbacks go to: the part of the configured callback URL
    /// before `/api/`, else the server's public URL.
    pub(crate) fn callback_base(&self, configured: Option<&str>) -> String {
        let base = match configured {
            Some(u) => match u.find("/api/") {
                Some(i) => u[..i].to_string(),
                None => u.trim_end_matches('/').to_string(),
            },
            None => self.gateway.env.public_url.clone(),
        };
        base.trim_end_matches('/').to_string()
    }

    /// Every callback URL to give Safaricom and Airtel. Superadmin only: they carry
    /// the path secret that authenticates callbacks.
    pub async fn callback_urls(&self, s: &Session) -> AppResult<CallbackUrls> {
        s.require_superadmin()?;
        self.callback_urls_unchecked().await
    }

    /// [`App::callback_urls`] without a session, for the use cases that already
    /// checked one (registering the C2B URLs).
    pub(crate) async fn callback_urls_unchecked(&self) -> AppResult<CallbackUrls> {
        let t = self.callback_token();
        let m = self.mpesa_settings().await?;
        let mb = self.callback_base(m.callback_url.as_deref());
        let airtel_cfg =
            self.setting(SettingKey::AirtelCallbackUrl).await?.or(self.gateway.env.airtel.callback_url.clone());
        let ab = self.callback_base(airtel_cfg.as_deref());
        Ok(CallbackUrls {
            mpesa_stk_callback: format!("{mb}/api/payments/cb/stk/{t}"),
            c2b_confirmation: format!("{mb}/api/payments/cb/c2b/{t}/confirm"),
            c2b_validation: format!("{mb}/api/payments/cb/c2b/{t}/validate"),
            airtel_callback: format!("{ab}/api/payments/cb/airtel/{t}"),
            plain_paths_accepted: self.plain_callbacks_allowed(),
        })
    }
}

/// The callback URLs to give Safaricom and Airtel; each carries the path secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallbackUrls {
    pub mpesa_stk_callback: String,
    pub c2b_confirmation: String,
    pub c2b_validation: String,
    pub airtel_callback: String,
    /// Whether the seed's plain paths (no secret) are still accepted.
    pub plain_paths_accepted: bool,
}
