//! Safaricom M-Pesa Daraja client: OAuth, STK push, STK query, C2B URL registration, and decoders for the
//! STK callback and the C2B validation/confirmation payload (reference: mpesa-daraja.md).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, FixedOffset, Offset as _, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::token::TokenCache;
use crate::{ProviderError, http, lenient, phone};

/// Sandbox STK shortcode (mpesa-daraja.md §1).
pub const SANDBOX_SHORTCODE: &str = "174379";
/// Sandbox STK passkey (mpesa-daraja.md §1).
pub const SANDBOX_PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
/// Error code of an invalid or expired token on STK calls (§8).
pub const INVALID_TOKEN_STK: &str = "404.001.03";
/// Error code of an invalid or expired token on C2B and other calls (§8).
pub const INVALID_TOKEN_OTHER: &str = "400.003.01";
/// Longest `AccountReference` (§3.1).
pub const MAX_ACCOUNT_REFERENCE: usize = 12;
/// Longest `TransactionDesc` (§3.1).
pub const MAX_TRANSACTION_DESC: usize = 13;

/// Settings of a Daraja app.
#[derive(Debug, Clone)]
pub struct DarajaConfig {
    pub base_url: String,
    pub consumer_key: String,
    pub consumer_secret: String,
    /// `BusinessShortCode`: the paybill, or for tills the HO/store number used at Go Live.
    pub shortcode: String,
    pub passkey: String,
    /// Some(till) => CustomerBuyGoodsOnline with PartyB = till
    pub till_number: Option<String>,
}

impl DarajaConfig {
    pub fn sandbox_url() -> &'static str {
        "https://sandbox.safaricom.co.ke"
    }

    pub fn production_url() -> &'static str {
        "https://api.safaricom.co.ke"
    }
}

/// One STK push.
#[derive(Debug, Clone)]
pub struct StkPush {
    /// Paying phone; `254712345678`, other Kenyan forms are normalised.
    pub phone: String,
    /// Whole KES, at least 1.
    pub amount: u64,
    /// Shown in the prompt; truncated to 12 characters.
    pub account_reference: String,
    /// Truncated to 13 characters.
    pub description: String,
    pub callback_url: String,
}

/// The push was accepted for processing: the prompt went out, the payment outcome comes later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkAccepted {
    pub merchant_request_id: String,
    pub checkout_request_id: String,
    pub customer_message: String,
}

/// What the STK query says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StkQuery {
    /// The prompt is still open ("The transaction is being processed").
    Pending,
    /// The customer acted; `result_code` "0" = paid (§6).
    Done { result_code: String, result_desc: String },
}

/// Daraja client; cheap to clone, clones share the cached token.
#[derive(Clone)]
pub struct Daraja {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: DarajaConfig,
    http: reqwest::Client,
    token: TokenCache,
}

impl std::fmt::Debug for Daraja {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daraja")
            .field("base_url", &self.inner.cfg.base_url)
            .field("shortcode", &self.inner.cfg.shortcode)
            .finish_non_exhaustive()
    }
}

impl Daraja {
    pub fn new(cfg: DarajaConfig) -> Self {
        Self { inner: Arc::new(Inner { cfg, http: http::client(), token: TokenCache::new(Duration::from_secs(60)) }) }
    }

    pub fn config(&self) -> &DarajaConfig {
        &self.inner.cfg
    }

    /// `base64(shortcode + passkey + timestamp)` (§3.1).
    pub fn password(shortcode: &str, passkey: &str, timestamp: &str) -> String {
        B64.encode(format!("{shortcode}{passkey}{timestamp}"))
    }

    /// Timestamp in Africa/Nairobi (UTC+3, no DST) from the given UTC time.
    pub fn timestamp(at: DateTime<Utc>) -> String {
        at.with_timezone(&eat()).format("%Y%m%d%H%M%S").to_string()
    }

    /// Sends an STK push. `ResponseCode` other than "0" is a [`ProviderError::Refused`].
    pub async fn stk_push(&self, req: &StkPush) -> Result<StkAccepted, ProviderError> {
        let cfg = &self.inner.cfg;
        self.check_config()?;
        let phone = phone::msisdn(&req.phone)
            .ok_or_else(|| ProviderError::Config(format!("not a Kenyan mobile number: {:?}", req.phone)))?;
        if req.amount < 1 {
            return Err(ProviderError::Config("M-Pesa amount must be at least KES 1".into()));
        }
        let timestamp = Self::timestamp(Utc::now());
        let (kind, party_b) = match &cfg.till_number {
            Some(till) => ("CustomerBuyGoodsOnline", till.clone()),
            None => ("CustomerPayBillOnline", cfg.shortcode.clone()),
        };
        let body = json!({
            "BusinessShortCode": cfg.shortcode,
            "Password": Self::password(&cfg.shortcode, &cfg.passkey, &timestamp),
            "Timestamp": timestamp,
            "TransactionType": kind,
            "Amount": req.amount.to_string(),
            "PartyA": phone,
            "PartyB": party_b,
            "PhoneNumber": phone,
            "CallBackURL": req.callback_url,
            "AccountReference": truncate(&req.account_reference, MAX_ACCOUNT_REFERENCE),
            "TransactionDesc": truncate(&req.description, MAX_TRANSACTION_DESC),
        });
        let (status, raw) = self.post("/mpesa/stkpush/v1/processrequest", &body).await?;
        if !(200..300).contains(&status) {
            return Err(error_from(status, &raw));
        }
        let resp = StkPushResponse::parse(&raw)?;
        if resp.response_code != "0" {
            return Err(ProviderError::Refused {
                status,
                code: resp.response_code,
                message: resp.response_description,
            });
        }
        if resp.checkout_request_id.is_empty() {
            return Err(ProviderError::Decode(format!("no CheckoutRequestID in {}", http::snippet(&raw))));
        }
        Ok(StkAccepted {
            merchant_request_id: resp.merchant_request_id,
            checkout_request_id: resp.checkout_request_id,
            customer_message: resp.customer_message,
        })
    }

    /// Asks for the outcome of a push. "The transaction is being processed" (HTTP 500 `500.001.1001`) is
    /// `Ok(StkQuery::Pending)`.
    pub async fn stk_query(&self, checkout_request_id: &str) -> Result<StkQuery, ProviderError> {
        let cfg = &self.inner.cfg;
        self.check_config()?;
        let timestamp = Self::timestamp(Utc::now());
        let body = json!({
            "BusinessShortCode": cfg.shortcode,
            "Password": Self::password(&cfg.shortcode, &cfg.passkey, &timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        });
        let (status, raw) = self.post("/mpesa/stkpushquery/v1/query", &body).await?;
        decode_stk_query(status, &raw)
    }

    /// Registers the C2B URLs (v2) with `ResponseType` "Completed": if the validation URL cannot be reached,
    /// M-Pesa completes the payment.
    pub async fn register_c2b_urls(&self, confirmation_url: &str, validation_url: &str) -> Result<(), ProviderError> {
        self.check_config()?;
        let body = json!({
            "ShortCode": self.inner.cfg.shortcode,
            "ResponseType": "Completed",
            "ConfirmationURL": confirmation_url,
            "ValidationURL": validation_url,
        });
        let (status, raw) = self.post("/mpesa/c2b/v2/registerurl", &body).await?;
        if !(200..300).contains(&status) {
            return Err(error_from(status, &raw));
        }
        let resp: RegisterUrlResponse = decode(&raw)?;
        if resp.response_code != "0" {
            return Err(ProviderError::Refused {
                status,
                code: resp.response_code,
                message: resp.response_description,
            });
        }
        Ok(())
    }

    fn check_config(&self) -> Result<(), ProviderError> {
        let cfg = &self.inner.cfg;
        for (name, value) in [
            ("consumer key", &cfg.consumer_key),
            ("consumer secret", &cfg.consumer_secret),
            ("shortcode", &cfg.shortcode),
            ("passkey", &cfg.passkey),
            ("base URL", &cfg.base_url),
        ] {
            if value.trim().is_empty() {
                return Err(ProviderError::Config(format!("M-Pesa {name} is not set")));
            }
        }
        Ok(())
    }

    /// Asks for a fresh access token (not the cached one): proves the consumer key and
    /// secret without moving money. Returns how long the token lasts, in seconds.
    pub async fn check_credentials(&self) -> Result<u64, ProviderError> {
        self.fetch_token().await.map(|(_, expires_in)| expires_in)
    }

    async fn token(&self) -> Result<String, ProviderError> {
        self.inner.token.get(|| self.fetch_token()).await
    }

    async fn fetch_token(&self) -> Result<(String, u64), ProviderError> {
        let cfg = &self.inner.cfg;
        let url = http::join(&cfg.base_url, "/oauth/v1/generate?grant_type=client_credentials");
        let req = self.inner.http.get(url).basic_auth(&cfg.consumer_key, Some(&cfg.consumer_secret));
        let (status, raw) = http::send(req).await?;
        if !(200..300).contains(&status) {
            return Err(error_from(status, &raw));
        }
        let t = TokenResponse::parse(&raw)?;
        Ok((t.access_token, t.expires_in.unwrap_or(3599)))
    }

    /// POSTs JSON with the bearer token; on an invalid-token answer, fetches a new token and retries once.
    async fn post(&self, path: &str, body: &Value) -> Result<(u16, Vec<u8>), ProviderError> {
        let url = http::join(&self.inner.cfg.base_url, path);
        let mut retried = false;
        loop {
            let token = self.token().await?;
            let req = self.inner.http.post(&url).bearer_auth(&token).json(body);
            let (status, raw) = http::send(req).await?;
            if !retried && is_invalid_token(status, &raw) {
                tracing::info!(path, "Daraja says the access token is invalid; fetching a new one");
                self.inner.token.invalidate(&token).await;
                retried = true;
                continue;
            }
            return Ok((status, raw));
        }
    }
}

fn eat() -> FixedOffset {
    FixedOffset::east_opt(3 * 3600).unwrap_or(Utc.fix())
}

/// The current time in Africa/Nairobi.
pub fn eat_now() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&eat())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn decode<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(raw).map_err(|e| ProviderError::Decode(format!("{e}: {}", http::snippet(raw))))
}

fn is_invalid_token(status: u16, raw: &[u8]) -> bool {
    if !matches!(status, 400 | 401 | 404) {
        return false;
    }
    serde_json::from_slice::<ErrorBody>(raw)
        .is_ok_and(|e| e.error_code == INVALID_TOKEN_STK || e.error_code == INVALID_TOKEN_OTHER)
}

/// `500.001.1001` messages that are definite refusals (§8).
pub(crate) fn is_definite_500_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("merchant does not exist") || m.contains("wrong credentials") || m.contains("unable to lock subscriber")
}

/// The error a non-2xx answer means.
fn error_from(status: u16, raw: &[u8]) -> ProviderError {
    match serde_json::from_slice::<ErrorBody>(raw) {
        Ok(e) if !e.error_code.is_empty() => {
            ProviderError::Refused { status, code: e.error_code, message: e.error_message }
        }
        _ => http::unreadable_error(status, raw),
    }
}

/// Decodes the answer of the STK query endpoint (any HTTP status).
pub fn decode_stk_query(status: u16, raw: &[u8]) -> Result<StkQuery, ProviderError> {
    if !(200..300).contains(&status) {
        return match error_from(status, raw) {
            ProviderError::Refused { code, message, .. }
                if code == "500.001.1001" && message.to_ascii_lowercase().contains("being processed") =>
            {
                Ok(StkQuery::Pending)
            }
            e => Err(e),
        };
    }
    let resp: StkQueryResponse = decode(raw)?;
    if let Some(code) = resp.response_code.as_deref()
        && code != "0"
    {
        return Err(ProviderError::Refused {
            status,
            code: code.to_string(),
            message: resp.response_description.unwrap_or_default(),
        });
    }
    match resp.result_code {
        Some(result_code) => Ok(StkQuery::Done { result_code, result_desc: resp.result_desc.unwrap_or_default() }),
        None => Err(ProviderError::Decode(format!("no ResultCode in {}", http::snippet(raw)))),
    }
}

/// `GET /oauth/v1/generate` answer (§2). `expires_in` may be a string or a number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub expires_in: Option<u64>,
}

impl TokenResponse {
    pub fn parse(raw: &[u8]) -> Result<Self, ProviderError> {
        decode(raw)
    }
}

/// The gateway error shape (§8).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "requestId", default, deserialize_with = "lenient::opt_string")]
    pub request_id: Option<String>,
    #[serde(rename = "errorCode", deserialize_with = "lenient::string")]
    pub error_code: String,
    #[serde(rename = "errorMessage", default)]
    pub error_message: String,
}

/// STK push synchronous answer (§3.2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StkPushResponse {
    #[serde(rename = "MerchantRequestID", default, deserialize_with = "lenient::string")]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID", default, deserialize_with = "lenient::string")]
    pub checkout_request_id: String,
    #[serde(rename = "ResponseCode", deserialize_with = "lenient::string")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
    #[serde(rename = "CustomerMessage", default)]
    pub customer_message: String,
}

impl StkPushResponse {
    pub fn parse(raw: &[u8]) -> Result<Self, ProviderError> {
        decode(raw)
    }
}

/// STK query answer (§5). `ResultCode` is a string there, but a number is accepted too.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StkQueryResponse {
    #[serde(rename = "ResponseCode", default, deserialize_with = "lenient::opt_string")]
    pub response_code: Option<String>,
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: Option<String>,
    #[serde(rename = "MerchantRequestID", default, deserialize_with = "lenient::opt_string")]
    pub merchant_request_id: Option<String>,
    #[serde(rename = "CheckoutRequestID", default, deserialize_with = "lenient::opt_string")]
    pub checkout_request_id: Option<String>,
    #[serde(rename = "ResultCode", default, deserialize_with = "lenient::opt_string")]
    pub result_code: Option<String>,
    #[serde(rename = "ResultDesc", default)]
    pub result_desc: Option<String>,
}

#[derive(Deserialize)]
struct RegisterUrlResponse {
    #[serde(rename = "ResponseCode", deserialize_with = "lenient::string")]
    response_code: String,
    #[serde(rename = "ResponseDescription", default)]
    response_description: String,
}

/// A decoded STK callback (§4). Items are looked up by name; `Balance` is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkCallback {
    pub merchant_request_id: String,
    pub checkout_request_id: String,
    /// "0" = paid; the callback's number is turned into text (alphanumeric codes like `SFC_IC0003` exist).
    pub result_code: String,
    pub result_desc: String,
    /// `Amount` in hundredths of a shilling (`1500.00` => 150000).
    pub amount_cents: Option<u64>,
    /// `Amount` as sent (`1500`, `"1500.00"`), as text.
    pub amount: Option<String>,
    /// `MpesaReceiptNumber`: the unique payment key.
    pub receipt: Option<String>,
    /// `TransactionDate` as `YYYYMMDDHHmmss` text (EAT).
    pub transaction_date: Option<String>,
    /// `PhoneNumber` as text (`254708374149`).
    pub phone: Option<String>,
}

impl StkCallback {
    /// Decodes the body Safaricom POSTs to the `CallBackURL`.
    pub fn parse(raw: &[u8]) -> Result<Self, ProviderError> {
        #[derive(Deserialize)]
        struct Envelope {
            #[serde(rename = "Body")]
            body: EnvelopeBody,
        }
        #[derive(Deserialize)]
        struct EnvelopeBody {
            #[serde(rename = "stkCallback")]
            stk_callback: RawCallback,
        }
        #[derive(Deserialize)]
        struct RawCallback {
            #[serde(rename = "MerchantRequestID", default, deserialize_with = "lenient::text_or_empty")]
            merchant_request_id: String,
            #[serde(rename = "CheckoutRequestID", deserialize_with = "lenient::string")]
            checkout_request_id: String,
            #[serde(rename = "ResultCode", deserialize_with = "lenient::string")]
            result_code: String,
            #[serde(rename = "ResultDesc", default, deserialize_with = "lenient::text_or_empty")]
            result_desc: String,
            /// Read by hand: an item without a name, or metadata of another shape, is
            /// skipped rather than failing the whole callback.
            #[serde(rename = "CallbackMetadata", default)]
            metadata: Option<Value>,
        }
        let env: Envelope = decode(raw)?;
        let cb = env.body.stk_callback;
        let items: &[Value] =
            cb.metadata.as_ref().and_then(|m| m.get("Item")).and_then(Value::as_array).map_or(&[], Vec::as_slice);
        let item = |name: &str| {
            items
                .iter()
                .find(|i| i.get("Name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name)))
                .and_then(|i| i.get("Value"))
                .and_then(lenient::scalar_text)
        };
        Ok(StkCallback {
            merchant_request_id: cb.merchant_request_id,
            checkout_request_id: cb.checkout_request_id,
            result_code: cb.result_code.trim().to_string(),
            result_desc: cb.result_desc,
            amount_cents: item("Amount").and_then(|a| lenient::cents(&a)),
            amount: item("Amount"),
            receipt: item("MpesaReceiptNumber"),
            transaction_date: item("TransactionDate"),
            phone: item("PhoneNumber"),
        })
    }

    pub fn is_paid(&self) -> bool {
        self.result_code == "0"
    }
}

/// The C2B validation/confirmation payload (§7.2). Every field may be empty; numbers are accepted as text, and
/// null or any other value reads as empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct C2bNotification {
    #[serde(rename = "TransactionType", default, deserialize_with = "lenient::text_or_empty")]
    pub transaction_type: String,
    #[serde(rename = "TransID", default, deserialize_with = "lenient::text_or_empty")]
    pub trans_id: String,
    #[serde(rename = "TransTime", default, deserialize_with = "lenient::text_or_empty")]
    pub trans_time: String,
    #[serde(rename = "TransAmount", default, deserialize_with = "lenient::text_or_empty")]
    pub trans_amount: String,
    #[serde(rename = "BusinessShortCode", default, deserialize_with = "lenient::text_or_empty")]
    pub business_short_code: String,
    #[serde(rename = "BillRefNumber", default, deserialize_with = "lenient::text_or_empty")]
    pub bill_ref_number: String,
    #[serde(rename = "InvoiceNumber", default, deserialize_with = "lenient::text_or_empty")]
    pub invoice_number: String,
    #[serde(rename = "OrgAccountBalance", default, deserialize_with = "lenient::text_or_empty")]
    pub org_account_balance: String,
    #[serde(rename = "ThirdPartyTransID", default, deserialize_with = "lenient::text_or_empty")]
    pub third_party_trans_id: String,
    #[serde(rename = "MSISDN", default, deserialize_with = "lenient::text_or_empty")]
    pub msisdn: String,
    #[serde(rename = "FirstName", default, deserialize_with = "lenient::text_or_empty")]
    pub first_name: String,
    #[serde(rename = "MiddleName", default, deserialize_with = "lenient::text_or_empty")]
    pub middle_name: String,
    #[serde(rename = "LastName", default, deserialize_with = "lenient::text_or_empty")]
    pub last_name: String,
}

impl C2bNotification {
    pub fn parse(raw: &[u8]) -> Result<Self, ProviderError> {
        decode(raw)
    }

    /// `TransAmount` in hundredths of a shilling.
    pub fn amount_cents(&self) -> Option<u64> {
        lenient::cents(&self.trans_amount)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn password_reference_vector() {
        assert_eq!(
            Daraja::password(SANDBOX_SHORTCODE, SANDBOX_PASSKEY, "20160216165627"),
            "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
        );
    }

    #[test]
    fn timestamp_is_eat() {
        let at = Utc.with_ymd_and_hms(2025, 3, 1, 11, 30, 0).single().unwrap();
        assert_eq!(Daraja::timestamp(at), "20250301143000");
        // Crossing midnight and a month end.
        let at = Utc.with_ymd_and_hms(2024, 2, 29, 22, 15, 9).single().unwrap();
        assert_eq!(Daraja::timestamp(at), "20240301011509");
    }

    #[test]
    fn callbacks_are_read_whatever_else_is_odd_about_them() {
        // A numeric ResultDesc, a null MerchantRequestID, an item without a name.
        let cb = StkCallback::parse(
            br#"{"Body":{"stkCallback":{"MerchantRequestID":null,"CheckoutRequestID":"ws_CO_1","ResultCode":"0",
            "ResultDesc":17,"CallbackMetadata":{"Item":[{"Value":1},{"Name":"amount","Value":"1500.00"}]}}}}"#,
        )
        .unwrap();
        assert_eq!((cb.result_desc.as_str(), cb.merchant_request_id.as_str()), ("17", ""));
        assert_eq!((cb.amount.as_deref(), cb.amount_cents), (Some("1500.00"), Some(150_000)));
        // Metadata of another shape is no metadata.
        let cb = StkCallback::parse(
            br#"{"Body":{"stkCallback":{"CheckoutRequestID":"x","ResultCode":1032,"CallbackMetadata":[1]}}}"#,
        )
        .unwrap();
        assert_eq!((cb.result_code.as_str(), cb.amount), ("1032", None));
        assert!(StkCallback::parse(br#"{"Body":{"stkCallback":{"ResultCode":0}}}"#).is_err());
        let n = C2bNotification::parse(br#"{"TransID":"X1","TransAmount":"10","BillRefNumber":null}"#).unwrap();
        assert_eq!((n.trans_id.as_str(), n.bill_ref_number.as_str()), ("X1", ""));
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("ACC1002345678901", MAX_ACCOUNT_REFERENCE), "ACC100234567");
        assert_eq!(truncate("Internet subscription", MAX_TRANSACTION_DESC), "Internet subs");
        assert_eq!(truncate("Malipo ya é", MAX_TRANSACTION_DESC), "Malipo ya é");
    }
}
