//! Africa's Talking SMS client: send (`POST /version1/messaging`), delivery-report decoding, and GSM-7/UCS-2
//! segment counting (reference: africastalking-sms.md).

use std::sync::Arc;

use serde::Deserialize;

use crate::{ProviderError, http, lenient, phone};

/// Settings of an Africa's Talking app.
#[derive(Debug, Clone)]
pub struct AtConfig {
    pub base_url: String,
    /// `sandbox` in the sandbox.
    pub username: String,
    pub api_key: String,
    /// Approved alphanumeric sender id or shortcode (`from`); `None` = AT's shared default.
    pub sender_id: Option<String>,
}

impl AtConfig {
    pub fn sandbox_url() -> &'static str {
        "https://api.sandbox.africastalking.com"
    }

    pub fn production_url() -> &'static str {
        "https://api.africastalking.com"
    }
}

/// One entry of `SMSMessageData.Recipients` (§2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRecipient {
    pub number: String,
    pub status: String,
    pub status_code: u16,
    /// `None` when AT says `"None"` (not sent).
    pub message_id: Option<String>,
    /// e.g. `"KES 0.8000"`; `"0"` when not sent.
    pub cost: Option<String>,
}

impl SmsRecipient {
    /// 100 Processed, 101 Sent, 102 Queued.
    pub fn is_sent(&self) -> bool {
        matches!(self.status_code, 100..=102)
    }

    /// Only 500 InternalServerError and 501 GatewayError are worth retrying (with backoff); 401–407, 409 and 502
    /// must not be retried blindly (§3, §7.8).
    pub fn is_retryable(&self) -> bool {
        matches!(self.status_code, 500 | 501)
    }
}

/// Name of a recipient status code (§3).
pub fn status_name(code: u16) -> &'static str {
    match code {
        100 => "Processed",
        101 => "Sent",
        102 => "Queued",
        401 => "RiskHold",
        402 => "InvalidSenderId",
        403 => "InvalidPhoneNumber",
        404 => "UnsupportedNumberType",
        405 => "InsufficientBalance",
        406 => "UserInBlacklist",
        407 => "CouldNotRoute",
        409 => "DoNotDisturbRejection",
        500 => "InternalServerError",
        501 => "GatewayError",
        502 => "RejectedByGateway",
        _ => "Unknown",
    }
}

/// Africa's Talking client; cheap to clone.
#[derive(Clone)]
pub struct AfricasTalking {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: AtConfig,
    http: reqwest::Client,
}

impl std::fmt::Debug for AfricasTalking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfricasTalking")
            .field("base_url", &self.inner.cfg.base_url)
            .field("username", &self.inner.cfg.username)
            .finish_non_exhaustive()
    }
}

impl AfricasTalking {
    pub fn new(cfg: AtConfig) -> Self {
        Self { inner: Arc::new(Inner { cfg, http: http::client() }) }
    }

    pub fn config(&self) -> &AtConfig {
        &self.inner.cfg
    }

    /// Sends `message` to every number in `to` (`+2547…`; Kenyan local forms are normalised). Check each
    /// recipient: the request can succeed while some recipients fail.
    pub async fn send(&self, to: &[String], message: &str) -> Result<Vec<SmsRecipient>, ProviderError> {
        let cfg = &self.inner.cfg;
        for (name, value) in [("username", &cfg.username), ("API key", &cfg.api_key), ("base URL", &cfg.base_url)] {
            if value.trim().is_empty() {
                return Err(ProviderError::Config(format!("Africa's Talking {name} is not set")));
            }
        }
        if to.is_empty() {
            return Err(ProviderError::Config("no SMS recipients".into()));
        }
        let numbers = to
            .iter()
            .map(|n| normalise_number(n).ok_or_else(|| ProviderError::Config(format!("not a phone number: {n:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let to = numbers.join(",");
        let mut form: Vec<(&str, &str)> =
            vec![("username", &cfg.username), ("to", &to), ("message", message), ("bulkSMSMode", "1")];
        if let Some(from) = cfg.sender_id.as_deref().filter(|s| !s.trim().is_empty()) {
            form.push(("from", from));
        }
        let req = self
            .inner
            .http
            .post(http::join(&cfg.base_url, "/version1/messaging"))
            .header("apiKey", &cfg.api_key)
            .header("Accept", "application/json")
            .form(&form);
        let (status, raw) = http::send(req).await?;
        decode_send(status, &raw)
    }
}

/// `+<country><number>` as AT wants it: Kenyan local forms become `+254…`; other numbers must already match
/// `^\+\d{1,3}\d{3,}$`.
pub fn normalise_number(input: &str) -> Option<String> {
    if let Some(n) = phone::international(input) {
        return Some(n);
    }
    let trimmed: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = trimmed.strip_prefix('+')?;
    (digits.len() >= 4 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(trimmed)
}

/// Decodes the answer of `POST /version1/messaging` (any HTTP status).
pub fn decode_send(status: u16, raw: &[u8]) -> Result<Vec<SmsRecipient>, ProviderError> {
    let parsed = serde_json::from_slice::<SendResponse>(raw);
    match parsed {
        Ok(resp) => {
            let data = resp.data;
            if data.recipients.is_empty() {
                // e.g. {"SMSMessageData":{"Message":"InvalidPhoneNumber","Recipients":[]}}
                let code = if data.message.is_empty() { status.to_string() } else { data.message.clone() };
                return Err(ProviderError::Refused { status, code, message: "no recipient accepted".into() });
            }
            if status >= 500 {
                return Err(ProviderError::Refused { status, code: status.to_string(), message: data.message });
            }
            // A 2xx, or e.g. 409 DoNotDisturbRejection with per-recipient results: report them.
            Ok(data.recipients.into_iter().map(SmsRecipient::from).collect())
        }
        Err(e) if (200..300).contains(&status) => Err(ProviderError::Decode(format!("{e}: {}", http::snippet(raw)))),
        // 401 "The supplied authentication is invalid" is plain text.
        Err(_) => Err(http::unreadable_error(status, raw)),
    }
}

/// The send answer (§2.1).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SendResponse {
    #[serde(rename = "SMSMessageData")]
    pub data: SmsMessageData,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SmsMessageData {
    #[serde(rename = "Message", default)]
    pub message: String,
    #[serde(rename = "Recipients", default)]
    pub recipients: Vec<RawRecipient>,
}

/// A recipient exactly as sent; `statusCode` may be a number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RawRecipient {
    #[serde(rename = "statusCode", deserialize_with = "lenient::u16_num")]
    pub status_code: u16,
    #[serde(default, deserialize_with = "lenient::string")]
    pub number: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub cost: Option<String>,
    #[serde(rename = "messageId", default, deserialize_with = "lenient::opt_string")]
    pub message_id: Option<String>,
}

impl From<RawRecipient> for SmsRecipient {
    fn from(r: RawRecipient) -> Self {
        SmsRecipient {
            number: r.number,
            status: r.status,
            status_code: r.status_code,
            message_id: r.message_id.filter(|id| !id.is_empty() && id != "None"),
            cost: r.cost,
        }
    }
}

/// A delivery report AT POSTs form-encoded to the dashboard-configured URL (§4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The `messageId` of the send answer.
    pub id: String,
    /// `Sent`, `Submitted`, `Buffered`, `Rejected`, `Success`, `Failed`, `AbsentSubscriber`, `Expired`.
    pub status: String,
    pub phone_number: String,
    pub network_code: Option<String>,
    pub failure_reason: Option<String>,
    pub retry_count: Option<u32>,
}

impl DeliveryReport {
    /// Decodes the form-encoded body; `None` without `id` or `status`.
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let mut id = None;
        let mut status = None;
        let mut report = DeliveryReport {
            id: String::new(),
            status: String::new(),
            phone_number: String::new(),
            network_code: None,
            failure_reason: None,
            retry_count: None,
        };
        for (k, v) in url::form_urlencoded::parse(raw) {
            let v = v.into_owned();
            match k.as_ref() {
                "id" => id = Some(v),
                "status" => status = Some(v),
                "phoneNumber" => report.phone_number = v,
                "networkCode" => report.network_code = Some(v).filter(|s| !s.is_empty()),
                "failureReason" => report.failure_reason = Some(v).filter(|s| !s.is_empty()),
                "retryCount" => report.retry_count = v.trim().parse().ok(),
                _ => {}
            }
        }
        report.id = id.filter(|s| !s.is_empty())?;
        report.status = status.filter(|s| !s.is_empty())?;
        Some(report)
    }

    /// `Success` (delivered), `Failed`, `Rejected` and `Expired` are final (§4).
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "Success" | "Failed" | "Rejected" | "Expired")
    }
}

/// Text encoding of an SMS (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// Characters of the GSM 03.38 basic set besides ASCII letters and digits (§5), one septet each.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà";
/// The GSM 03.38 extension table (§5): two septets each (ESC + char).
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{0C}";

/// Septets a character takes in GSM-7, or `None` if it is not in the GSM-7 alphabet.
fn gsm_units(c: char) -> Option<usize> {
    if c.is_ascii_alphanumeric() || GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The encoding of `message` and its length in units of that encoding (septets, or UTF-16 code units).
pub fn measure(message: &str) -> (Encoding, usize) {
    let gsm: Option<usize> = message.chars().map(gsm_units).sum();
    match gsm {
        Some(units) => (Encoding::Gsm7, units),
        None => (Encoding::Ucs2, message.encode_utf16().count()),
    }
}

/// GSM-7 vs UCS-2 and segment count per reference §5.
pub fn segments(message: &str) -> usize {
    let (encoding, units) = measure(message);
    let (single, per_part) = match encoding {
        Encoding::Gsm7 => (160, 153),
        Encoding::Ucs2 => (70, 67),
    };
    if units <= single { 1 } else { units.div_ceil(per_part) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_examples_from_the_reference() {
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2); // "a 161-char plain-ASCII message = 2 segments"
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"a".repeat(307)), 3);
        let euro = format!("€{}", "a".repeat(159)); // "One € in 159 ASCII chars = 161 units = 2 segments"
        assert_eq!(measure(&euro), (Encoding::Gsm7, 161));
        assert_eq!(segments(&euro), 2);
        let euro = format!("€{}", "a".repeat(158));
        assert_eq!(segments(&euro), 1);
        // One emoji switches the whole message to UCS-2: 70-unit limit; the emoji counts 2.
        let emoji = format!("😀{}", "a".repeat(68));
        assert_eq!(measure(&emoji), (Encoding::Ucs2, 70));
        assert_eq!(segments(&emoji), 1);
        assert_eq!(segments(&format!("😀{}", "a".repeat(69))), 2);
        assert_eq!(segments(&"’".repeat(134)), 2);
        assert_eq!(segments(&"’".repeat(135)), 3);
        // GSM basic non-ASCII characters stay GSM-7.
        assert_eq!(measure("Ñandù £5 Δ è\r\n"), (Encoding::Gsm7, 14));
        assert_eq!(measure("ú").0, Encoding::Ucs2);
        assert_eq!(measure("{[~]}|^\\"), (Encoding::Gsm7, 16));
        assert_eq!(measure("`"), (Encoding::Ucs2, 1));
        assert_eq!(segments(""), 1);
    }

    #[test]
    fn retry_policy() {
        let r = |code| SmsRecipient {
            number: "+254711000001".into(),
            status: status_name(code).into(),
            status_code: code,
            message_id: None,
            cost: None,
        };
        for code in [100, 101, 102] {
            assert!(r(code).is_sent());
            assert!(!r(code).is_retryable());
        }
        for code in [401, 402, 403, 404, 405, 406, 407, 409, 502] {
            assert!(!r(code).is_sent());
            assert!(!r(code).is_retryable(), "{code}");
        }
        assert!(r(500).is_retryable());
        assert!(r(501).is_retryable());
    }

    #[test]
    fn numbers() {
        assert_eq!(normalise_number("0711000001").as_deref(), Some("+254711000001"));
        assert_eq!(normalise_number("+254711000001").as_deref(), Some("+254711000001"));
        assert_eq!(normalise_number("+2348012345678").as_deref(), Some("+2348012345678"));
        assert_eq!(normalise_number("12345"), None);
        assert_eq!(normalise_number("+12"), None);
    }
}
