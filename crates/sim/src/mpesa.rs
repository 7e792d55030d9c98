//! M-Pesa Daraja simulator (mpesa-daraja.md): OAuth, STK push with asynchronous callbacks, STK query, C2B URL
//! registration and C2B payments "from the phone menu".
//!
//! HTTP control surface (besides the Daraja paths):
//! - `GET  /simulator/state`: behaviour, OAuth call count, pushes, C2B registration and payments
//! - `POST /simulator/behaviour` `{"outcome":"wrong_pin","deliveries":1,"delay_ms":2000}`, every field optional;
//!   outcomes: `success`, `cancelled`, `insufficient_funds`, `timeout`, `wrong_pin`
//! - `POST /simulator/c2b` `{"msisdn":"0712345678","amount":1500,"bill_ref":"ACC10023"}` => `{"TransID":"…"}`
//! - `POST /simulator/revoke-tokens`

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    callback_client, is_http_url, lock, random_alnum, random_digits, random_hex, random_letter, random_upper_alnum,
};
use broadnet_providers::daraja::{self, C2bNotification, Daraja, eat_now};
use broadnet_providers::{lenient, phone};

/// Token lifetime the simulator grants (§2).
const TOKEN_TTL: Duration = Duration::from_secs(3599);
/// How long M-Pesa waits for the validation URL (§7.1).
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(8);
/// Keywords refused in C2B URLs, any case (§10).
const FORBIDDEN_URL_KEYWORDS: &[&str] = &["m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query"];
const LOCKED: &str = "Unable to lock subscriber, a transaction is already in process for the current subscriber";

/// What the customer does with the PIN prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 0
    Success,
    /// 1032
    Cancelled,
    /// 1
    InsufficientFunds,
    /// 1037
    Timeout,
    /// 2001
    WrongPin,
}

impl Outcome {
    /// `ResultCode` (§6).
    pub fn result_code(self) -> u32 {
        match self {
            Outcome::Success => 0,
            Outcome::Cancelled => 1032,
            Outcome::InsufficientFunds => 1,
            Outcome::Timeout => 1037,
            Outcome::WrongPin => 2001,
        }
    }

    /// `ResultDesc`, official wording (§4, §6).
    pub fn result_desc(self) -> &'static str {
        match self {
            Outcome::Success => "The service request is processed successfully.",
            Outcome::Cancelled => "Request cancelled by user",
            Outcome::InsufficientFunds => "The balance is insufficient for the transaction.",
            Outcome::Timeout => "DS timeout user cannot be reached",
            Outcome::WrongPin => "The initiator information is invalid.",
        }
    }
}

/// How the simulator answers the next pushes.
pub type Behaviour = crate::Behaviour<Outcome>;

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour { outcome: Outcome::Success, deliveries: 1, delay: Duration::from_secs(2) }
    }
}

/// A push the simulator accepted.
#[derive(Debug, Clone)]
pub struct RecordedPush {
    pub checkout_request_id: String,
    pub merchant_request_id: String,
    /// The request body as received.
    pub body: Value,
    /// `MpesaReceiptNumber` of a successful push (chosen when the push is accepted).
    pub receipt: Option<String>,
    /// The `ResultCode` the push ends with ("2028" for a paybill push whose PartyB is not the shortcode).
    pub result_code: String,
    /// Callbacks delivered so far with a 2xx answer.
    pub callbacks_delivered: u32,
}

/// The registered C2B URLs (§7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct C2bRegistration {
    pub short_code: String,
    pub response_type: String,
    pub confirmation_url: String,
    pub validation_url: Option<String>,
}

/// A completed C2B payment.
#[derive(Debug, Clone, Serialize)]
pub struct C2bPayment {
    /// The confirmation payload (sent if URLs were registered).
    pub payload: C2bNotification,
    /// The confirmation URL answered 2xx.
    pub confirmation_delivered: bool,
}

struct Push {
    rec: RecordedPush,
    phone: String,
    amount: u64,
    callback_url: String,
    decided_at: Instant,
    result_desc: String,
}

struct SimState {
    consumer_key: String,
    consumer_secret: String,
    shortcode: String,
    passkey: String,
    behaviour: Behaviour,
    tokens: HashMap<String, Instant>,
    single_token: bool,
    oauth_calls: u64,
    pushes: Vec<Push>,
    c2b: Option<C2bRegistration>,
    c2b_one_shot: bool,
    /// External Validation on the shortcode (reference §7: off on real shortcodes until asked for).
    external_validation: bool,
    c2b_payments: Vec<C2bPayment>,
    balance: u64,
}

/// The M-Pesa Daraja simulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MpesaSim {
    state: Arc<Mutex<SimState>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for MpesaSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpesaSim").finish_non_exhaustive()
    }
}

impl MpesaSim {
    pub fn new(consumer_key: &str, consumer_secret: &str, shortcode: &str, passkey: &str) -> Self {
        MpesaSim {
            state: Arc::new(Mutex::new(SimState {
                consumer_key: consumer_key.to_string(),
                consumer_secret: consumer_secret.to_string(),
                shortcode: shortcode.to_string(),
                passkey: passkey.to_string(),
                behaviour: Behaviour::default(),
                tokens: HashMap::new(),
                single_token: false,
                oauth_calls: 0,
                pushes: Vec::new(),
                c2b: None,
                c2b_one_shot: false,
                external_validation: true,
                c2b_payments: Vec::new(),
                balance: 0,
            })),
            http: callback_client(Duration::from_secs(10)),
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/oauth/v1/generate", get(oauth))
            .route("/mpesa/stkpush/v1/processrequest", post(stk_push))
            .route("/mpesa/stkpushquery/v1/query", post(stk_query))
            .route("/mpesa/c2b/v2/registerurl", post(register_url))
            .route("/mpesa/c2b/v1/registerurl", post(register_url))
            .route("/simulator/state", get(control_state))
            .route("/simulator/behaviour", post(control_behaviour))
            .route("/simulator/c2b", post(control_c2b))
            .route("/simulator/revoke-tokens", post(control_revoke))
            .fallback(|| async { daraja_error("404.001.01", "Resource not found") })
            .method_not_allowed_fallback(|method: Method| async move {
                if method == Method::GET {
                    daraja_error("404.001.04", "Invalid Authentication Header")
                } else {
                    daraja_error("405.001", "Method Not Allowed")
                }
            })
            .with_state(self.clone())
    }

    /// Bind (port 0 = any) and serve in a tokio task; returns the base URL "http://127.0.0.1:PORT".
    pub async fn spawn(&self, addr: SocketAddr) -> std::io::Result<String> {
        crate::serve(self.router(), addr).await
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        lock(&self.state).behaviour = b;
    }

    pub fn behaviour(&self) -> Behaviour {
        lock(&self.state).behaviour.clone()
    }

    pub fn pushes(&self) -> Vec<RecordedPush> {
        lock(&self.state).pushes.iter().map(|p| p.rec.clone()).collect()
    }

    /// Whether the customer has answered the push (its `delay` has passed): from then
    /// on the STK query reports its result. Tests wait on this instead of sleeping.
    pub fn is_decided(&self, checkout_request_id: &str) -> bool {
        lock(&self.state)
            .pushes
            .iter()
            .any(|p| p.rec.checkout_request_id == checkout_request_id && Instant::now() >= p.decided_at)
    }

    /// Number of `GET /oauth/v1/generate` calls received (valid or not).
    pub fn oauth_calls(&self) -> u64 {
        lock(&self.state).oauth_calls
    }

    /// Invalidates every issued token: the next call with one gets "Invalid Access Token".
    pub fn revoke_tokens(&self) {
        lock(&self.state).tokens.clear();
    }

    /// When on, each new token invalidates the previous ones (the Daraja FAQ's rule, §2; off by default since
    /// how strictly Safaricom enforces it is unconfirmed).
    pub fn set_single_token(&self, on: bool) {
        lock(&self.state).single_token = on;
    }

    /// When on, registering C2B URLs while some are registered fails with `500.003.1001` "Urls are already
    /// registered", as in production (§7.1). Off by default: the sandbox allows re-registration.
    pub fn set_c2b_one_shot(&self, on: bool) {
        lock(&self.state).c2b_one_shot = on;
    }

    /// Whether M-Pesa calls the validation URL before the money moves. Real shortcodes have External
    /// Validation off until Safaricom turns it on (reference §7.1); this simulator's shortcode has it on
    /// unless told otherwise, and with it off every paybill payment goes straight to confirmation.
    pub fn set_external_validation(&self, on: bool) {
        lock(&self.state).external_validation = on;
    }

    pub fn c2b_registration(&self) -> Option<C2bRegistration> {
        lock(&self.state).c2b.clone()
    }

    pub fn c2b_payments(&self) -> Vec<C2bPayment> {
        lock(&self.state).c2b_payments.clone()
    }

    /// A customer pays the paybill from the phone menu: calls the registered validation URL (if registered with
    /// one) then, unless refused, the confirmation URL (reference §7). Returns the TransID, or an error describing
    /// the refusal.
    ///
    /// With no URLs registered the payment completes silently (§7.3 "you get nothing").
    pub async fn c2b_pay(&self, msisdn: &str, amount: u64, bill_ref: &str) -> Result<String, String> {
        let msisdn = phone::msisdn(msisdn).ok_or_else(|| format!("invalid MSISDN {msisdn:?}"))?;
        if amount < 1 {
            return Err("amount must be at least KES 1".into());
        }
        let bill_ref = bill_ref.trim();
        if bill_ref.is_empty() || bill_ref.chars().count() > 20 {
            return Err("the account number must have 1 to 20 characters".into());
        }
        let (registration, shortcode) = {
            let st = lock(&self.state);
            (st.c2b.clone(), st.c2b.as_ref().map_or_else(|| st.shortcode.clone(), |r| r.short_code.clone()))
        };
        let trans_id = receipt_number();
        let mut payload = C2bNotification {
            transaction_type: "Pay Bill".into(),
            trans_id: trans_id.clone(),
            trans_time: eat_now().format("%Y%m%d%H%M%S").to_string(),
            trans_amount: format!("{amount}.00"),
            business_short_code: shortcode,
            bill_ref_number: bill_ref.to_string(),
            invoice_number: String::new(),
            org_account_balance: String::new(),
            third_party_trans_id: String::new(),
            msisdn: mask_msisdn(&msisdn),
            first_name: "JOHN".into(),
            middle_name: String::new(),
            last_name: String::new(),
        };
        let Some(reg) = registration else {
            let mut st = lock(&self.state);
            st.balance += amount;
            payload.org_account_balance = format!("{}.00", st.balance);
            st.c2b_payments.push(C2bPayment { payload, confirmation_delivered: false });
            tracing::info!(%trans_id, "C2B payment completed; no URLs registered, so no notification was sent");
            return Ok(trans_id);
        };
        let validate = lock(&self.state).external_validation;
        if let Some(validation_url) = reg.validation_url.as_deref().filter(|_| validate) {
            let answer = self.http.post(validation_url).timeout(VALIDATION_TIMEOUT).json(&payload).send().await;
            let reply = match answer {
                Ok(resp) if resp.status().is_success() => resp.json::<Value>().await.ok(),
                Ok(resp) => {
                    tracing::warn!(status = %resp.status(), "C2B validation URL answered an error");
                    None
                }
                Err(e) => {
                    tracing::warn!(error = %e, "C2B validation URL unreachable");
                    None
                }
            };
            match reply.as_ref().and_then(|r| r.get("ResultCode")).and_then(lenient::scalar_text) {
                Some(code) if code == "0" => {
                    if let Some(id) =
                        reply.as_ref().and_then(|r| r.get("ThirdPartyTransID")).and_then(lenient::scalar_text)
                    {
                        payload.third_party_trans_id = id;
                    }
                }
                Some(code) => {
                    let desc = reply
                        .as_ref()
                        .and_then(|r| r.get("ResultDesc"))
                        .and_then(lenient::scalar_text)
                        .unwrap_or_default();
                    return Err(format!("the validation URL refused the payment: {code} {desc}"));
                }
                None if reg.response_type == "Cancelled" => {
                    return Err("the validation URL gave no usable answer and ResponseType is Cancelled".into());
                }
                None => {} // ResponseType Completed: M-Pesa completes the payment.
            }
        }
        {
            let mut st = lock(&self.state);
            st.balance += amount;
            payload.org_account_balance = format!("{}.00", st.balance);
        }
        let delivered = match self.http.post(&reg.confirmation_url).json(&payload).send().await {
            Ok(resp) if resp.status().is_success() => true,
            Ok(resp) => {
                tracing::warn!(status = %resp.status(), "C2B confirmation URL answered an error");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "C2B confirmation URL unreachable");
                false
            }
        };
        lock(&self.state).c2b_payments.push(C2bPayment { payload, confirmation_delivered: delivered });
        Ok(trans_id)
    }

    /// Sends the callbacks of a push after its delay.
    fn schedule_callbacks(&self, checkout_request_id: String, delay: Duration, deliveries: u32) {
        let sim = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let Some((url, body)) = sim.callback_body(&checkout_request_id) else { return };
            for _ in 0..deliveries {
                match sim.http.post(&url).json(&body).send().await {
                    Ok(resp) if resp.status().is_success() => {
                        let mut st = lock(&sim.state);
                        if let Some(p) = st.pushes.iter_mut().find(|p| p.rec.checkout_request_id == checkout_request_id)
                        {
                            p.rec.callbacks_delivered += 1;
                        }
                    }
                    Ok(resp) => tracing::warn!(%url, status = %resp.status(), "STK callback answered an error"),
                    Err(e) => tracing::warn!(%url, error = %e, "STK callback not delivered"),
                }
            }
        });
    }

    /// The §4.1/§4.2 callback of a push.
    fn callback_body(&self, checkout_request_id: &str) -> Option<(String, CallbackEnvelope)> {
        let st = lock(&self.state);
        let p = st.pushes.iter().find(|p| p.rec.checkout_request_id == checkout_request_id)?;
        let result_code: u32 = p.rec.result_code.parse().unwrap_or(1);
        let metadata = p.rec.receipt.as_ref().map(|receipt| CallbackMetadata {
            item: vec![
                Item { name: "Amount", value: Some(json!(p.amount as f64)) },
                Item { name: "MpesaReceiptNumber", value: Some(json!(receipt)) },
                Item { name: "Balance", value: None },
                Item {
                    name: "TransactionDate",
                    value: Some(json!(eat_now().format("%Y%m%d%H%M%S").to_string().parse::<u64>().unwrap_or(0))),
                },
                Item { name: "PhoneNumber", value: Some(json!(p.phone.parse::<u64>().unwrap_or(0))) },
            ],
        });
        let body = CallbackEnvelope {
            body: CallbackBody {
                stk_callback: StkCallbackOut {
                    merchant_request_id: p.rec.merchant_request_id.clone(),
                    checkout_request_id: p.rec.checkout_request_id.clone(),
                    result_code,
                    result_desc: p.result_desc.clone(),
                    callback_metadata: metadata,
                },
            },
        };
        Some((p.callback_url.clone(), body))
    }
}

#[derive(Serialize)]
struct CallbackEnvelope {
    #[serde(rename = "Body")]
    body: CallbackBody,
}

#[derive(Serialize)]
struct CallbackBody {
    #[serde(rename = "stkCallback")]
    stk_callback: StkCallbackOut,
}

#[derive(Serialize)]
struct StkCallbackOut {
    #[serde(rename = "MerchantRequestID")]
    merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    checkout_request_id: String,
    #[serde(rename = "ResultCode")]
    result_code: u32,
    #[serde(rename = "ResultDesc")]
    result_desc: String,
    #[serde(rename = "CallbackMetadata", skip_serializing_if = "Option::is_none")]
    callback_metadata: Option<CallbackMetadata>,
}

#[derive(Serialize)]
struct CallbackMetadata {
    #[serde(rename = "Item")]
    item: Vec<Item>,
}

#[derive(Serialize)]
struct Item {
    #[serde(rename = "Name")]
    name: &'static str,
    #[serde(rename = "Value", skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
}

/// A Daraja gateway error (§8).
#[derive(Debug)]
struct Refusal {
    code: &'static str,
    message: String,
}

/// The §8 error shape; the HTTP status is the code's first three digits.
impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self
            .code
            .get(..3)
            .and_then(|s| s.parse::<u16>().ok())
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({ "requestId": daraja_id(7), "errorCode": self.code, "errorMessage": self.message });
        (status, axum::Json(body)).into_response()
    }
}

/// An id shaped like `1c5b-4ba8-815c-ac45c57a3db01495926`.
fn daraja_id(digits: usize) -> String {
    format!("{}-{}-{}-{}{}", random_hex(4), random_hex(4), random_hex(4), random_hex(12), random_digits(digits))
}

fn daraja_error(code: &'static str, message: &str) -> Refusal {
    Refusal { code, message: message.to_string() }
}

fn bad_request(field: &str) -> Refusal {
    daraja_error("400.002.02", &format!("Bad Request - Invalid {field}"))
}

/// A receipt like `NLJ7RT61SV`: 10 uppercase alphanumerics, starting with a letter.
fn receipt_number() -> String {
    format!("{}{}", random_letter(), random_upper_alnum(9))
}

/// `254712345126` => `2547 ***** 126` (C2B v2, §7.2).
fn mask_msisdn(msisdn: &str) -> String {
    let head: String = msisdn.chars().take(4).collect();
    let tail: String = msisdn.chars().skip(msisdn.chars().count().saturating_sub(3)).collect();
    format!("{head} ***** {tail}")
}

impl MpesaSim {
    /// Checks `Authorization: Bearer <valid token>`; `invalid_code` is the API's invalid-token code.
    fn check_bearer(&self, headers: &HeaderMap, invalid_code: &'static str) -> Result<(), Refusal> {
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let Some(token) = auth.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty()) else {
            return Err(daraja_error("404.001.04", "Invalid Authentication Header"));
        };
        let st = lock(&self.state);
        match st.tokens.get(token) {
            Some(expiry) if Instant::now() < *expiry => Ok(()),
            _ => Err(daraja_error(invalid_code, "Invalid Access Token")),
        }
    }
}

/// The JSON object body; `400.002.02` without `Content-Type: application/json` (§8), `400.002.05` if malformed.
fn json_object(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(bad_request("Content-Type"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(daraja_error("400.002.05", "Invalid Request Payload")),
    }
}

/// A string-or-number field as trimmed text.
fn text(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.get(name).and_then(lenient::scalar_text).map(|s| s.trim().to_string())
}

fn is_shortcode(s: &str) -> bool {
    (5..=7).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// `254712345678` or `254110345678`.
fn is_daraja_phone(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) && (s.starts_with("2547") || s.starts_with("2541"))
}

fn is_timestamp(s: &str) -> bool {
    s.len() == 14 && chrono::NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").is_ok()
}

/// Checks BusinessShortCode, Timestamp and Password of an STK push or query.
fn check_credentials(sim: &MpesaSim, map: &Map<String, Value>) -> Result<String, Refusal> {
    let shortcode =
        text(map, "BusinessShortCode").filter(|s| is_shortcode(s)).ok_or_else(|| bad_request("BusinessShortCode"))?;
    let timestamp = text(map, "Timestamp").filter(|s| is_timestamp(s)).ok_or_else(|| bad_request("Timestamp"))?;
    let password = text(map, "Password").unwrap_or_default();
    let st = lock(&sim.state);
    if shortcode != st.shortcode {
        return Err(daraja_error("500.001.1001", "Merchant does not exist"));
    }
    if password != Daraja::password(&st.shortcode, &st.passkey, &timestamp) {
        return Err(daraja_error("500.001.1001", "Wrong credentials"));
    }
    Ok(shortcode)
}

async fn oauth(State(sim): State<MpesaSim>, headers: HeaderMap, uri: Uri) -> Result<Response, Refusal> {
    let mut st = lock(&sim.state);
    st.oauth_calls += 1;
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(basic) = auth.strip_prefix("Basic ") else {
        return Err(daraja_error("400.008.01", "Invalid Authentication passed"));
    };
    let grant_ok = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "grant_type" && v == "client_credentials");
    if !grant_ok {
        return Err(daraja_error("400.008.02", "Invalid grant type passed"));
    }
    let decoded = B64.decode(basic.trim()).ok().and_then(|b| String::from_utf8(b).ok()).unwrap_or_default();
    let creds_ok =
        decoded.split_once(':').is_some_and(|(key, secret)| key == st.consumer_key && secret == st.consumer_secret);
    if !creds_ok {
        // The reference gives no code for wrong credentials; the Basic-auth code is the closest.
        return Err(daraja_error("400.008.01", "Invalid Authentication passed"));
    }
    let token = random_alnum(28);
    if st.single_token {
        st.tokens.clear();
    }
    st.tokens.insert(token.clone(), Instant::now() + TOKEN_TTL);
    Ok(axum::Json(json!({ "access_token": token, "expires_in": TOKEN_TTL.as_secs().to_string() })).into_response())
}

async fn stk_push(State(sim): State<MpesaSim>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    sim.check_bearer(&headers, daraja::INVALID_TOKEN_STK)?;
    let map = json_object(&headers, &body)?;
    // Field formats (400.002.02) first, then merchant/credentials (500.001.1001).
    if text(&map, "BusinessShortCode").filter(|s| is_shortcode(s)).is_none() {
        return Err(bad_request("BusinessShortCode"));
    }
    if text(&map, "Timestamp").filter(|s| is_timestamp(s)).is_none() {
        return Err(bad_request("Timestamp"));
    }
    let kind = text(&map, "TransactionType").unwrap_or_default();
    if kind != "CustomerPayBillOnline" && kind != "CustomerBuyGoodsOnline" {
        return Err(bad_request("TransactionType"));
    }
    let Some(amount) = map.get("Amount").and_then(lenient::u64_value).filter(|a| *a >= 1) else {
        return Err(bad_request("Amount"));
    };
    if text(&map, "PartyA").filter(|s| is_daraja_phone(s)).is_none() {
        return Err(bad_request("PartyA"));
    }
    let Some(phone) = text(&map, "PhoneNumber").filter(|s| is_daraja_phone(s)) else {
        return Err(bad_request("PhoneNumber"));
    };
    let Some(party_b) = text(&map, "PartyB").filter(|s| is_shortcode(s)) else {
        return Err(bad_request("PartyB"));
    };
    let Some(callback_url) =
        map.get("CallBackURL").and_then(Value::as_str).filter(|u| is_http_url(u)).map(str::to_string)
    else {
        return Err(bad_request("CallBackURL"));
    };
    let reference_ok = map
        .get("AccountReference")
        .and_then(lenient::scalar_text)
        .is_some_and(|r| !r.trim().is_empty() && r.chars().count() <= daraja::MAX_ACCOUNT_REFERENCE);
    if !reference_ok {
        return Err(bad_request("AccountReference"));
    }
    let desc_ok = match map.get("TransactionDesc") {
        None | Some(Value::Null) => true,
        Some(v) => lenient::scalar_text(v).is_some_and(|d| d.chars().count() <= daraja::MAX_TRANSACTION_DESC),
    };
    if !desc_ok {
        return Err(bad_request("TransactionDesc"));
    }
    let shortcode = check_credentials(&sim, &map)?;

    let now = Instant::now();
    let mut st = lock(&sim.state);
    if st.pushes.iter().any(|p| p.phone == phone && now < p.decided_at) {
        return Err(daraja_error("500.001.1001", LOCKED));
    }
    let behaviour = st.behaviour.clone();
    // A paybill push whose PartyB is not the shortcode is a product-assignment mix-up (§3.1, §6).
    let (result_code, result_desc, success) = if kind == "CustomerPayBillOnline" && party_b != shortcode {
        ("2028".to_string(), "The request is not permitted according to product assignment.".to_string(), false)
    } else {
        let o = behaviour.outcome;
        (o.result_code().to_string(), o.result_desc().to_string(), o == Outcome::Success)
    };
    let merchant_request_id = daraja_id(8);
    let checkout_request_id = format!("ws_CO_{}{}", eat_now().format("%d%m%Y%H%M%S"), random_digits(10));
    let receipt = success.then(receipt_number);
    if success {
        st.balance += amount;
    }
    st.pushes.push(Push {
        rec: RecordedPush {
            checkout_request_id: checkout_request_id.clone(),
            merchant_request_id: merchant_request_id.clone(),
            body: Value::Object(map),
            receipt,
            result_code,
            callbacks_delivered: 0,
        },
        phone,
        amount,
        callback_url,
        decided_at: now + behaviour.delay,
        result_desc,
    });
    drop(st);
    sim.schedule_callbacks(checkout_request_id.clone(), behaviour.delay, behaviour.deliveries);
    let accepted = "Success. Request accepted for processing";
    Ok(axum::Json(json!({
        "MerchantRequestID": merchant_request_id,
        "CheckoutRequestID": checkout_request_id,
        "ResponseCode": "0",
        "ResponseDescription": accepted,
        "CustomerMessage": accepted,
    }))
    .into_response())
}

async fn stk_query(State(sim): State<MpesaSim>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    sim.check_bearer(&headers, daraja::INVALID_TOKEN_STK)?;
    let map = json_object(&headers, &body)?;
    check_credentials(&sim, &map)?;
    let Some(id) = text(&map, "CheckoutRequestID").filter(|s| !s.is_empty()) else {
        return Err(bad_request("CheckoutRequestID"));
    };
    let st = lock(&sim.state);
    let Some(p) = st.pushes.iter().find(|p| p.rec.checkout_request_id == id) else {
        return Err(bad_request("CheckoutRequestID"));
    };
    if Instant::now() < p.decided_at {
        return Err(daraja_error("500.001.1001", "The transaction is being processed"));
    }
    Ok(axum::Json(json!({
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": p.rec.merchant_request_id,
        "CheckoutRequestID": p.rec.checkout_request_id,
        "ResultCode": p.rec.result_code,
        "ResultDesc": p.result_desc,
    }))
    .into_response())
}

/// A C2B URL is refused when not http(s) or when it contains a forbidden keyword (§10).
fn c2b_url_ok(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    is_http_url(url) && !FORBIDDEN_URL_KEYWORDS.iter().any(|k| lower.contains(k))
}

async fn register_url(State(sim): State<MpesaSim>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    sim.check_bearer(&headers, daraja::INVALID_TOKEN_OTHER)?;
    let map = json_object(&headers, &body)?;
    let Some(short_code) = text(&map, "ShortCode").filter(|s| is_shortcode(s)) else {
        return Err(bad_request("ShortCode"));
    };
    let response_type = text(&map, "ResponseType").unwrap_or_default();
    if response_type != "Completed" && response_type != "Cancelled" {
        return Err(bad_request("ResponseType"));
    }
    let Some(confirmation_url) = text(&map, "ConfirmationURL").filter(|u| c2b_url_ok(u)) else {
        return Err(bad_request("ConfirmationURL"));
    };
    let validation_url = text(&map, "ValidationURL").filter(|u| !u.is_empty());
    if validation_url.as_deref().is_some_and(|u| !c2b_url_ok(u)) {
        return Err(bad_request("ValidationURL"));
    }
    let mut st = lock(&sim.state);
    if st.c2b_one_shot && st.c2b.is_some() {
        return Err(daraja_error("500.003.1001", "Urls are already registered"));
    }
    st.c2b = Some(C2bRegistration { short_code, response_type, confirmation_url, validation_url });
    let id = daraja_id(7);
    Ok(axum::Json(json!({ "OriginatorCoversationID": id, "ResponseCode": "0", "ResponseDescription": "Success" }))
        .into_response())
}

async fn control_state(State(sim): State<MpesaSim>) -> Response {
    let st = lock(&sim.state);
    let now = Instant::now();
    let pushes: Vec<Value> = st
        .pushes
        .iter()
        .map(|p| {
            json!({
                "checkout_request_id": p.rec.checkout_request_id,
                "merchant_request_id": p.rec.merchant_request_id,
                "phone": p.phone,
                "amount": p.amount,
                "decided": now >= p.decided_at,
                "result_code": p.rec.result_code,
                "receipt": p.rec.receipt,
                "callbacks_delivered": p.rec.callbacks_delivered,
                "request": p.rec.body,
            })
        })
        .collect();
    axum::Json(json!({
        "behaviour": st.behaviour.to_json(),
        "oauth_calls": st.oauth_calls,
        "pushes": pushes,
        "c2b_registration": st.c2b,
        "c2b_payments": st.c2b_payments,
    }))
    .into_response()
}

async fn control_behaviour(State(sim): State<MpesaSim>, body: Bytes) -> Response {
    lock(&sim.state).behaviour.update_from(&body)
}

#[derive(Deserialize)]
struct C2bRequest {
    msisdn: String,
    amount: u64,
    bill_ref: String,
}

async fn control_c2b(State(sim): State<MpesaSim>, body: Bytes) -> Response {
    let req: C2bRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e.to_string() }))).into_response(),
    };
    match sim.c2b_pay(&req.msisdn, req.amount, &req.bill_ref).await {
        Ok(id) => axum::Json(json!({ "TransID": id })).into_response(),
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({ "error": e }))).into_response(),
    }
}

async fn control_revoke(State(sim): State<MpesaSim>) -> Response {
    sim.revoke_tokens();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_receipts() {
        assert_eq!(mask_msisdn("254712345126"), "2547 ***** 126");
        let r = receipt_number();
        assert_eq!(r.len(), 10);
        assert!(r.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert!(r.chars().next().is_some_and(|c| c.is_ascii_uppercase()));
        assert!(!c2b_url_ok("https://isp.example/api/payments/mpesa/callback"));
        assert!(!c2b_url_ok("https://isp.example/cb/M-PESA"));
        assert!(!c2b_url_ok("https://isp.example/cb/Query"));
        assert!(c2b_url_ok("https://isp.example/api/payments/cb/c2b/confirm/9f3c2a"));
    }
}
