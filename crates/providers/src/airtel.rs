//! Airtel Money (Airtel Africa Open API) Collection client: OAuth, USSD push, transaction enquiry, and the
//! callback decoder and `hash` check (reference: airtel-money.md).

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use crate::token::TokenCache;
use crate::{ProviderError, http, lenient, phone};

/// `status.result_code` of an accepted request (§7.2).
pub const RESULT_OK: &str = "ESB000010";
/// `status.response_code` of a push whose prompt was sent ("In process", §7.1).
pub const RESPONSE_IN_PROCESS: &str = "DP00800001006";

/// Settings of an Airtel Money app.
#[derive(Debug, Clone)]
pub struct AirtelConfig {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// `KE`
    pub country: String,
    /// `KES`
    pub currency: String,
}

impl AirtelConfig {
    pub fn sandbox_url() -> &'static str {
        "https://openapiuat.airtel.africa"
    }

    pub fn production_url() -> &'static str {
        "https://openapi.airtel.africa"
    }
}

/// One USSD push (collection request).
#[derive(Debug, Clone)]
pub struct UssdPush {
    /// Our unique transaction id: the key of the enquiry and the callback. Never reuse one.
    pub id: String,
    /// Any Kenyan form; sent as the 9-digit subscriber number.
    pub msisdn: String,
    /// Whole KES.
    pub amount: u64,
    pub reference: String,
}

/// `data.transaction` of an enquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AirtelStatus {
    /// `TS` success, `TF` failed, `TA` ambiguous, `TIP` in progress, `TE` expired (§4).
    pub status: String,
    pub airtel_money_id: Option<String>,
    pub message: Option<String>,
}

impl AirtelStatus {
    /// `TS`, `TF` or `TE`: nothing more will happen to this transaction.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "TS" | "TF" | "TE")
    }

    pub fn is_success(&self) -> bool {
        self.status == "TS"
    }
}

/// Airtel Money client; cheap to clone, clones share the cached token.
#[derive(Clone)]
pub struct Airtel {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: AirtelConfig,
    http: reqwest::Client,
    token: TokenCache,
}

impl std::fmt::Debug for Airtel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Airtel").field("base_url", &self.inner.cfg.base_url).finish_non_exhaustive()
    }
}

impl Airtel {
    pub fn new(cfg: AirtelConfig) -> Self {
        // Tokens may live only 180 s (§2): refresh 30 s early.
        Self { inner: Arc::new(Inner { cfg, http: http::client(), token: TokenCache::new(Duration::from_secs(30)) }) }
    }

    pub fn config(&self) -> &AirtelConfig {
        &self.inner.cfg
    }

    /// msisdn: any Kenyan form; the client sends the 9-digit subscriber number as the reference requires.
    ///
    /// `Ok(())` means only that the PIN prompt was sent: wait for the callback or run [`Airtel::enquiry`].
    pub async fn ussd_push(&self, req: &UssdPush) -> Result<(), ProviderError> {
        self.check_config()?;
        let msisdn = phone::subscriber(&req.msisdn)
            .ok_or_else(|| ProviderError::Config(format!("not a Kenyan mobile number: {:?}", req.msisdn)))?;
        if req.id.trim().is_empty() {
            return Err(ProviderError::Config("Airtel transaction id is empty".into()));
        }
        if req.amount < 1 {
            return Err(ProviderError::Config("Airtel Money amount must be at least KES 1".into()));
        }
        let cfg = &self.inner.cfg;
        let body = json!({
            "reference": req.reference,
            "subscriber": { "country": cfg.country, "currency": cfg.currency, "msisdn": msisdn },
            "transaction": { "amount": req.amount, "country": cfg.country, "currency": cfg.currency, "id": req.id },
        });
        let url = http::join(&cfg.base_url, "/merchant/v1/payments/");
        let (status, raw) = self.call(|http| http.post(&url).json(&body)).await?;
        if !(200..300).contains(&status) {
            return Err(error_from(status, &raw));
        }
        let resp = ApiResponse::parse(&raw)?;
        if resp.push_accepted() { Ok(()) } else { Err(error_from(status, &raw)) }
    }

    /// `GET /standard/v1/payments/{id}`: the state of one of our transactions.
    pub async fn enquiry(&self, id: &str) -> Result<AirtelStatus, ProviderError> {
        self.check_config()?;
        let mut url = url::Url::parse(&self.inner.cfg.base_url)
            .map_err(|e| ProviderError::Config(format!("Airtel base URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| ProviderError::Config("Airtel base URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(["standard", "v1", "payments", id]);
        let (status, raw) = self.call(|http| http.get(url.as_str())).await?;
        decode_enquiry(status, &raw)
    }

    /// Verify a callback `hash` (reference §5.1) against the raw body with the callback private key; constant time.
    ///
    /// What Airtel hashes is unconfirmed, so these messages are tried, each compared in constant time:
    /// `{"transaction":<raw transaction>}`, the raw body without the `hash` member, the raw `transaction` value,
    /// and the same with insignificant whitespace removed. A body without `hash` is not verified (false).
    pub fn verify_callback_hash(private_key: &str, raw_body: &[u8]) -> bool {
        let Some(members) = top_level_members(raw_body) else { return false };
        let Some(hash_at) = members.iter().position(|m| m.key == "hash") else { return false };
        let Ok(hash) = serde_json::from_slice::<String>(&raw_body[members[hash_at].value.clone()]) else {
            return false;
        };
        let Ok(expected) = B64.decode(hash.trim()) else { return false };

        let mut candidates: Vec<Vec<u8>> = Vec::new();
        // The body without the hash member, bytes untouched.
        let (cut_from, cut_to) = if hash_at > 0 {
            (members[hash_at - 1].value.end, members[hash_at].value.end)
        } else if members.len() > 1 {
            (members[0].start, members[1].start)
        } else {
            (members[0].start, members[0].value.end)
        };
        let mut without = raw_body[..cut_from].to_vec();
        without.extend_from_slice(&raw_body[cut_to..]);
        candidates.push(minify(&without));
        candidates.push(without);
        if let Some(tx) = members.iter().find(|m| m.key == "transaction") {
            let raw_tx = &raw_body[tx.value.clone()];
            for tx_bytes in [raw_tx.to_vec(), minify(raw_tx)] {
                let mut wrapped = b"{\"transaction\":".to_vec();
                wrapped.extend_from_slice(&tx_bytes);
                wrapped.push(b'}');
                candidates.push(wrapped);
                candidates.push(tx_bytes);
            }
        }
        let mut ok = false;
        for message in &candidates {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(private_key.as_bytes()) else { return false };
            mac.update(message);
            // No early exit: every candidate is checked.
            ok |= mac.verify_slice(&expected).is_ok();
        }
        ok
    }

    /// `Base64(HMAC-SHA256(key = private key, message))` (§5.1), as the simulator signs callbacks.
    pub fn callback_hash(private_key: &str, message: &[u8]) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(private_key.as_bytes()) {
            Ok(mac) => mac,
            Err(_) => return String::new(), // HMAC accepts keys of any length
        };
        mac.update(message);
        B64.encode(mac.finalize().into_bytes())
    }

    fn check_config(&self) -> Result<(), ProviderError> {
        let cfg = &self.inner.cfg;
        for (name, value) in [
            ("client id", &cfg.client_id),
            ("client secret", &cfg.client_secret),
            ("country", &cfg.country),
            ("currency", &cfg.currency),
            ("base URL", &cfg.base_url),
        ] {
            if value.trim().is_empty() {
                return Err(ProviderError::Config(format!("Airtel Money {name} is not set")));
            }
        }
        Ok(())
    }

    async fn fetch_token(&self) -> Result<(String, u64), ProviderError> {
        let cfg = &self.inner.cfg;
        let req = self.inner.http.post(http::join(&cfg.base_url, "/auth/oauth2/token")).header("Accept", "*/*").json(
            &json!({
                "client_id": cfg.client_id,
                "client_secret": cfg.client_secret,
                "grant_type": "client_credentials",
            }),
        );
        let (status, raw) = http::send(req).await?;
        if !(200..300).contains(&status) {
            return Err(error_from(status, &raw));
        }
        let t = TokenResponse::parse(&raw)?;
        Ok((t.access_token, t.expires_in.unwrap_or(180)))
    }

    /// Sends a product-API request with the common headers (§1); on HTTP 401, fetches a new token and retries once.
    async fn call<F>(&self, build: F) -> Result<(u16, Vec<u8>), ProviderError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let cfg = &self.inner.cfg;
        let mut retried = false;
        loop {
            let token = self.inner.token.get(|| self.fetch_token()).await?;
            let req = build(&self.inner.http)
                .bearer_auth(&token)
                .header("Accept", "*/*")
                .header("X-Country", &cfg.country)
                .header("X-Currency", &cfg.currency);
            let (status, raw) = http::send(req).await?;
            if status == 401 && !retried {
                tracing::info!("Airtel says the access token is bad or expired; fetching a new one");
                self.inner.token.invalidate(&token).await;
                retried = true;
                continue;
            }
            return Ok((status, raw));
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(raw).map_err(|e| ProviderError::Decode(format!("{e}: {}", http::snippet(raw))))
}

/// The error an answer means: the `status` block's most specific code (`result_code`, else `response_code`,
/// else `code`), or an OAuth-style `error`, or the HTTP status.
fn error_from(http_status: u16, raw: &[u8]) -> ProviderError {
    if let Ok(resp) = serde_json::from_slice::<ApiResponse>(raw)
        && let Some(st) = resp.status
    {
        let code = [&st.result_code, &st.response_code, &st.code]
            .into_iter()
            .flatten()
            .find(|c| !c.is_empty() && c.as_str() != RESULT_OK)
            .cloned()
            .unwrap_or_else(|| http_status.to_string());
        // An HTTP 200 carrying `"code": "500"` is reported with that status.
        let status = if (200..300).contains(&http_status) {
            st.code.as_deref().and_then(|c| c.trim().parse::<u16>().ok()).unwrap_or(http_status)
        } else {
            http_status
        };
        return ProviderError::Refused { status, code, message: st.message.unwrap_or_default() };
    }
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        error_description: String,
    }
    if let Ok(e) = serde_json::from_slice::<OAuthError>(raw) {
        return ProviderError::Refused { status: http_status, code: e.error, message: e.error_description };
    }
    if (200..300).contains(&http_status) {
        return ProviderError::Decode(http::snippet(raw));
    }
    http::unreadable_error(http_status, raw)
}

/// Decodes an enquiry answer (any HTTP status). The decision rests on `data.transaction.status`, not on
/// `status.success` (§4).
pub fn decode_enquiry(status: u16, raw: &[u8]) -> Result<AirtelStatus, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(error_from(status, raw));
    }
    let resp = ApiResponse::parse(raw)?;
    match resp.data.and_then(|d| d.transaction) {
        Some(ApiTransaction { status: Some(tx_status), airtel_money_id, message, .. }) if !tx_status.is_empty() => {
            Ok(AirtelStatus {
                status: tx_status.trim().to_ascii_uppercase(),
                airtel_money_id: airtel_money_id.filter(|s| !s.is_empty()),
                message: message.filter(|s| !s.is_empty()),
            })
        }
        _ => Err(error_from(status, raw)),
    }
}

/// `POST /auth/oauth2/token` answer (§2). `expires_in` may be a string or a number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub token_type: Option<String>,
}

impl TokenResponse {
    pub fn parse(raw: &[u8]) -> Result<Self, ProviderError> {
        decode(raw)
    }
}

/// The `{data, status}` envelope of the product APIs (§3, §4, §6).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiResponse {
    #[serde(default)]
    pub data: Option<ApiData>,
    #[serde(default)]
    pub status: Option<StatusBlock>,
}

impl ApiResponse {
    pub fn parse(raw: &[u8]) -> Result<Self, ProviderError> {
        decode(raw)
    }

    /// The push was accepted (prompt sent): `status.success` true, or, when absent, an OK/in-process code.
    pub fn push_accepted(&self) -> bool {
        let Some(st) = &self.status else { return false };
        match st.success {
            Some(success) => success,
            None => {
                st.result_code.as_deref() == Some(RESULT_OK) || st.response_code.as_deref() == Some(RESPONSE_IN_PROCESS)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiData {
    #[serde(default)]
    pub transaction: Option<ApiTransaction>,
}

/// `data.transaction`. `id` may be missing or even `false` in Airtel's own samples (=> `None`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiTransaction {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub airtel_money_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
}

/// The `status` block. `code` may be a string or a number; `success` a bool or `"true"`/`"false"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StatusBlock {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub result_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub response_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub success: Option<bool>,
}

/// A decoded callback (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AirtelCallback {
    /// Our `transaction.id`.
    pub id: String,
    /// `TS` success, `TF` failed; anything else is not final (enquire).
    pub status_code: String,
    pub airtel_money_id: Option<String>,
    pub message: Option<String>,
    /// Present when callback authentication is enabled; check it with [`Airtel::verify_callback_hash`].
    pub hash: Option<String>,
}

impl AirtelCallback {
    pub fn parse(raw: &[u8]) -> Result<Self, ProviderError> {
        #[derive(Deserialize)]
        struct Raw {
            transaction: Tx,
            #[serde(default, deserialize_with = "lenient::opt_string")]
            hash: Option<String>,
        }
        #[derive(Deserialize)]
        struct Tx {
            #[serde(deserialize_with = "lenient::string")]
            id: String,
            /// Missing or unreadable: not final (the payment is enquired about later).
            #[serde(default, deserialize_with = "lenient::text_or_empty")]
            status_code: String,
            #[serde(default, deserialize_with = "lenient::opt_string")]
            airtel_money_id: Option<String>,
            #[serde(default, deserialize_with = "lenient::opt_string")]
            message: Option<String>,
        }
        let r: Raw = decode(raw)?;
        Ok(AirtelCallback {
            id: r.transaction.id,
            status_code: r.transaction.status_code.trim().to_ascii_uppercase(),
            airtel_money_id: r.transaction.airtel_money_id.filter(|s| !s.is_empty()),
            message: r.transaction.message,
            hash: r.hash,
        })
    }

    pub fn is_final(&self) -> bool {
        matches!(self.status_code.as_str(), "TS" | "TF")
    }

    pub fn is_success(&self) -> bool {
        self.status_code == "TS"
    }
}

/// A top-level member of a JSON object, by byte positions in the raw text.
struct Member {
    key: String,
    /// Where the member's key starts.
    start: usize,
    value: Range<usize>,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// `b[i]` is an opening quote: the index after the closing one.
fn scan_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// The index after the JSON value that starts at `b[i]`.
fn scan_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => scan_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = scan_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The members of the top-level JSON object in `b`, or `None` if `b` is not one.
fn top_level_members(b: &[u8]) -> Option<Vec<Member>> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut members = Vec::new();
    if b.get(i) == Some(&b'}') {
        return Some(members);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = scan_string(b, i)?;
        let key: String = serde_json::from_slice(&b[i..key_end]).ok()?;
        let mut j = skip_ws(b, key_end);
        if b.get(j) != Some(&b':') {
            return None;
        }
        j = skip_ws(b, j + 1);
        let value_end = scan_value(b, j)?;
        members.push(Member { key, start: i, value: j..value_end });
        i = skip_ws(b, value_end);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return Some(members),
            _ => return None,
        }
    }
}

/// JSON text without whitespace outside strings.
fn minify(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut in_string = false;
    let mut escaped = false;
    for &c in b {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "callback-private-key";

    fn signed(message: &str) -> String {
        Airtel::callback_hash(KEY, message.as_bytes())
    }

    #[test]
    fn hash_over_transaction_wrapper() {
        let unsigned = r#"{"transaction":{"id":"bn-1","message":"Paid","status_code":"TS","airtel_money_id":"MP1"}}"#;
        let body = format!(
            r#"{{"transaction":{{"id":"bn-1","message":"Paid","status_code":"TS","airtel_money_id":"MP1"}},"hash":"{}"}}"#,
            signed(unsigned)
        );
        assert!(Airtel::verify_callback_hash(KEY, body.as_bytes()));
        assert!(!Airtel::verify_callback_hash("other-key", body.as_bytes()));
        // Tampered amount/status.
        let tampered = body.replace("\"TS\"", "\"TF\"");
        assert!(!Airtel::verify_callback_hash(KEY, tampered.as_bytes()));
    }

    #[test]
    fn hash_first_pretty_printed_and_transaction_only() {
        let tx = r#"{"id":"bn-2","status_code":"TF"}"#;
        // hash first, pretty-printed body, signed over the compact wrapper.
        let body = format!(
            "{{\n  \"hash\": \"{}\",\n  \"transaction\": {{ \"id\": \"bn-2\", \"status_code\": \"TF\" }}\n}}",
            signed(&format!("{{\"transaction\":{tx}}}"))
        );
        assert!(Airtel::verify_callback_hash(KEY, body.as_bytes()));
        // Signed over the transaction object only.
        let body = format!(r#"{{"transaction":{tx},"hash":"{}"}}"#, signed(tx));
        assert!(Airtel::verify_callback_hash(KEY, body.as_bytes()));
    }

    #[test]
    fn no_hash_or_garbage() {
        assert!(!Airtel::verify_callback_hash(KEY, br#"{"transaction":{"id":"x","status_code":"TS"}}"#));
        assert!(!Airtel::verify_callback_hash(KEY, br#"{"transaction":{"id":"x"},"hash":"not base64!"}"#));
        assert!(!Airtel::verify_callback_hash(KEY, b"not json"));
        assert!(!Airtel::verify_callback_hash(KEY, br#"{"hash":"#));
    }

    #[test]
    fn members_scanner() {
        let b = br#" { "a" : [1, {"x":"}"}], "b\"q":"s\\", "c":true } "#;
        let m = top_level_members(b).unwrap();
        assert_eq!(m.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(), ["a", "b\"q", "c"]);
        assert_eq!(&b[m[0].value.clone()], br#"[1, {"x":"}"}]"#);
        assert_eq!(&b[m[1].value.clone()], br#""s\\""#);
        assert_eq!(&b[m[2].value.clone()], b"true");
        assert_eq!(minify(br#"{ "a b" : 1 }"#), br#"{"a b":1}"#);
    }
}
