//! Settings → "Send test" buttons and template previews: each check talks to the
//! provider with the settings in force and reports the provider's own words.

use crate::notify::{Template, render};
use crate::{App, AppError, AppResult, Session};
use broadnet_providers::ProviderError;
use std::collections::BTreeMap;

/// What a provider said to a test: a sentence for the page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckOutcome {
    pub provider: &'static str,
    pub detail: String,
}

/// The provider's refusal as the page shows it: its own code and message.
fn refused(provider: &str, e: ProviderError) -> AppError {
    match e {
        ProviderError::Config(m) => AppError::field("provider", m),
        ProviderError::Refused { status, code, message } => {
            AppError::Upstream(format!("{provider} refused (HTTP {status}, {code}): {message}"))
        }
        e => AppError::Upstream(format!("{provider}: {e}")),
    }
}

impl App {
    /// Fetches a Daraja access token with the M-Pesa settings in force: proves the
    /// consumer key and secret (and the environment) without moving money.
    /// Superadmin: M-Pesa settings are theirs.
    pub async fn test_mpesa(&self, s: &Session) -> AppResult<CheckOutcome> {
        s.require_superadmin()?;
        let m = self.mpesa_settings().await?;
        for (field, v) in [("consumer_key", &m.config.consumer_key), ("consumer_secret", &m.config.consumer_secret)] {
            if v.trim().is_empty() {
                return Err(AppError::field(
                    "provider",
                    format!("M-Pesa is not set up: fill in {field} under Settings → M-Pesa"),
                ));
            }
        }
        let client = broadnet_providers::daraja::Daraja::new(m.config.clone());
        let expires_in = client.check_credentials().await.map_err(|e| refused("Safaricom", e))?;
        Ok(CheckOutcome {
            provider: "M-Pesa",
            detail: format!(
                "Safaricom issued an access token ({} environment, valid {} minutes).",
                m.env,
                expires_in / 60
            ),
        })
    }

    /// Sends one SMS now (not through the outbox) with the SMS settings in force.
    pub async fn test_sms(&self, s: &Session, phone: &str) -> AppResult<CheckOutcome> {
        s.require_write()?;
        let to = phone.trim();
        if to.is_empty() {
            return Err(AppError::field("phone", "is required"));
        }
        if broadnet_providers::sms::normalise_number(to).is_none() {
            return Err(AppError::field("phone", "is not a phone number"));
        }
        let client = self.sms_client().await?;
        let text = format!("{}: this is a test message from BroadNet Billing.", self.isp_name().await?);
        let recipients = client.send(&[to.to_string()], &text).await.map_err(|e| refused("Africa's Talking", e))?;
        match recipients.first() {
            Some(r) if r.is_sent() => Ok(CheckOutcome {
                provider: "SMS",
                detail: format!(
                    "Africa's Talking accepted the message to {}: {} (cost {}).",
                    r.number,
                    r.status,
                    r.cost.as_deref().unwrap_or("unknown")
                ),
            }),
            Some(r) => Err(AppError::Upstream(format!(
                "Africa's Talking did not send to {}: {} ({})",
                r.number, r.status, r.status_code
            ))),
            None => Err(AppError::Upstream("Africa's Talking answered with no recipient".into())),
        }
    }

    /// Sends one email now with the SMTP settings in force.
    pub async fn test_email(&self, s: &Session, to: &str) -> AppResult<CheckOutcome> {
        s.require_write()?;
        let to = to.trim();
        if !to.contains('@') || to.contains(char::is_whitespace) {
            return Err(AppError::field("to", "must be an email address"));
        }
        let settings = self.email_settings().await?;
        let Some(config) = settings.config else {
            return Err(AppError::field(
                "provider",
                "email is not set up: fill in the SMTP host under Settings → Email",
            ));
        };
        let host = config.host.clone();
        let mailer = broadnet_mailer::Mailer::new(config).map_err(|e| AppError::field("provider", e.to_string()))?;
        let email = broadnet_mailer::Email {
            to: to.to_string(),
            subject: format!("{}: test email", self.isp_name().await?),
            text: "This is a test message from BroadNet Billing: the SMTP settings work.".into(),
            attachments: Vec::new(),
        };
        mailer.send(&email).await.map_err(|e| AppError::Upstream(format!("the SMTP server {host} refused: {e}")))?;
        Ok(CheckOutcome { provider: "Email", detail: format!("{host} accepted the message to {to}.") })
    }

    /// Every message template as a sample customer would get it, rendered by the
    /// same renderer as the messages sent: `(key, text)` in Settings order.
    pub async fn preview_templates(&self) -> AppResult<Vec<(&'static str, String)>> {
        let now = self.now();
        let mut vars: BTreeMap<&str, String> = BTreeMap::new();
        vars.insert("app_name", self.isp_name().await?);
        vars.insert("name", "Jane Wanjiku".into());
        vars.insert("first_name", "Jane".into());
        vars.insert("username", "jane".into());
        vars.insert("password", "(her password)".into());
        vars.insert("phone", "0712345678".into());
        vars.insert("package", "Home 10M".into());
        vars.insert("price", "KES 1500".into());
        vars.insert("amount", "KES 1500".into());
        vars.insert("receipt", "SGH7XK2LQ1".into());
        vars.insert("invoice", "INV-000123".into());
        vars.insert("reason", "Request cancelled by user".into());
        vars.insert("balance", "KES 500".into());
        vars.insert("shortfall", "KES 1000".into());
        vars.insert("expires", self.format_time(now + chrono::Duration::days(30)).await?);
        let m = self.mpesa_settings().await?;
        vars.insert("paybill", m.config.till_number.clone().unwrap_or(m.config.shortcode));
        let mut htp = BTreeMap::new();
        htp.insert("username", "jane".to_string());
        htp.insert("price", "KES 1500".to_string());
        vars.insert("how_to_pay", render(&self.how_to_pay_template().await?, &htp));
        let mut out = Vec::new();
        for t in Template::ALL {
            let text = self.setting_at("templates", t.as_str()).await?.unwrap_or_else(|| t.default_text().to_string());
            out.push((t.as_str(), render(&text, &vars)));
        }
        Ok(out)
    }
}
