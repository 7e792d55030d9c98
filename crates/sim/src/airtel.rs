//! Airtel Money Collection simulator (airtel-money.md): OAuth token, USSD push, enquiry, and callbacks to the
//! "portal-configured" callback URL, signed with `hash` when a callback key is set.
//!
//! The simulator is a Kenyan app: `X-Country: KE`, `X-Currency: KES`.
//!
//! HTTP control surface (besides the Airtel paths):
//! - `GET  /simulator/state`: behaviour, token call count, callback URL, pushes
//! - `POST /simulator/behaviour` `{"outcome":"success|failed","deliveries":1,"delay_ms":2000}` (every field optional)
//! - `POST /simulator/callback-url` `{"url":"http://…"}` or `{"url":null}`
//! - `POST /simulator/revoke-tokens`

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{callback_client, lock, random_alnum, random_digits, random_letter, thousands};
use broadnet_providers::airtel::{Airtel, RESPONSE_IN_PROCESS, RESULT_OK};
use broadnet_providers::daraja::eat_now;
use broadnet_providers::lenient;

const COUNTRY: &str = "KE";
const CURRENCY: &str = "KES";
/// Token lifetime the simulator grants: Airtel's doc sample says "180" (§2).
const TOKEN_TTL: Duration = Duration::from_secs(180);
const MERCHANT_NAME: &str = "BROADNET DEMO ISP";

/// Final state of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `TS`
    Success,
    /// `TF`
    Failed,
}

impl Outcome {
    pub fn status_code(self) -> &'static str {
        match self {
            Outcome::Success => "TS",
            Outcome::Failed => "TF",
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
    /// Our `transaction.id`.
    pub id: String,
    /// The request body as received.
    pub body: Value,
    pub amount: u64,
    /// `subscriber.msisdn` as received (9 digits).
    pub msisdn: String,
    /// `TS` or `TF`, the final status the push gets after the delay.
    pub final_status: String,
    /// Airtel's receipt, e.g. `MP250301.1430.K12345`.
    pub airtel_money_id: String,
    /// Callbacks delivered so far with a 2xx answer.
    pub callbacks_delivered: u32,
}

struct Push {
    rec: RecordedPush,
    decided_at: Instant,
}

struct SimState {
    client_id: String,
    client_secret: String,
    callback_url: Option<String>,
    callback_key: Option<String>,
    behaviour: Behaviour,
    tokens: HashMap<String, Instant>,
    token_calls: u64,
    pushes: Vec<Push>,
}

/// The Airtel Money simulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct AirtelSim {
    state: Arc<Mutex<SimState>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for AirtelSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AirtelSim").finish_non_exhaustive()
    }
}

impl AirtelSim {
    /// `callback_url`: the URL "configured in the portal"; `callback_key`: if set, callbacks carry `hash` (§5.1).
    pub fn new(
        client_id: &str,
        client_secret: &str,
        callback_url: Option<String>,
        callback_key: Option<String>,
    ) -> Self {
        AirtelSim {
            state: Arc::new(Mutex::new(SimState {
                client_id: client_id.to_string(),
                client_secret: client_secret.to_string(),
                callback_url,
                callback_key,
                behaviour: Behaviour::default(),
                tokens: HashMap::new(),
                token_calls: 0,
                pushes: Vec::new(),
            })),
            http: callback_client(Duration::from_secs(10)),
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/auth/oauth2/token", post(token))
            .route("/merchant/v1/payments/", post(push))
            .route("/standard/v1/payments/{id}", get(enquiry))
            .route("/simulator/state", get(control_state))
            .route("/simulator/behaviour", post(control_behaviour))
            .route("/simulator/callback-url", post(control_callback_url))
            .route("/simulator/revoke-tokens", post(control_revoke))
            .fallback(|| async { airtel_error(StatusCode::NOT_FOUND, None, None, "Not Found") })
            .method_not_allowed_fallback(|| async {
                airtel_error(StatusCode::METHOD_NOT_ALLOWED, None, None, "Method Not Allowed")
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

    /// The callback URL of the app (None: no callbacks, enquiry is the only signal).
    pub fn set_callback_url(&self, url: Option<String>) {
        lock(&self.state).callback_url = url;
    }

    /// The callback private key (None: callbacks without `hash`).
    pub fn set_callback_key(&self, key: Option<String>) {
        lock(&self.state).callback_key = key;
    }

    pub fn pushes(&self) -> Vec<RecordedPush> {
        lock(&self.state).pushes.iter().map(|p| p.rec.clone()).collect()
    }

    /// Number of `POST /auth/oauth2/token` calls received (valid or not).
    pub fn token_calls(&self) -> u64 {
        lock(&self.state).token_calls
    }

    /// Invalidates every issued token: the next call with one gets HTTP 401.
    pub fn revoke_tokens(&self) {
        lock(&self.state).tokens.clear();
    }

    fn schedule_callbacks(&self, id: String, delay: Duration, deliveries: u32) {
        let sim = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for _ in 0..deliveries {
                let Some((url, body)) = sim.callback_body(&id) else { return };
                let req = sim.http.post(&url).header(header::CONTENT_TYPE, "application/json").body(body);
                match req.send().await {
                    Ok(resp) if resp.status().is_success() => {
                        let mut st = lock(&sim.state);
                        if let Some(p) = st.pushes.iter_mut().find(|p| p.rec.id == id) {
                            p.rec.callbacks_delivered += 1;
                        }
                    }
                    Ok(resp) => tracing::warn!(%url, status = %resp.status(), "Airtel callback answered an error"),
                    Err(e) => tracing::warn!(%url, error = %e, "Airtel callback not delivered"),
                }
            }
        });
    }

    /// The §5 callback body, with `hash` over the exact bytes of `{"transaction":{…}}` when a key is set.
    fn callback_body(&self, id: &str) -> Option<(String, Vec<u8>)> {
        let st = lock(&self.state);
        let url = st.callback_url.clone()?;
        let p = st.pushes.iter().find(|p| p.rec.id == id)?;
        let message = if p.rec.final_status == "TS" {
            format!(
                "Paid KES {} to {MERCHANT_NAME} Charge KES 0, Trans ID {}.",
                thousands(p.rec.amount),
                p.rec.airtel_money_id
            )
        } else {
            "Transaction failed".to_string()
        };
        let transaction = CallbackTransaction {
            id: p.rec.id.clone(),
            message,
            status_code: p.rec.final_status.clone(),
            airtel_money_id: p.rec.airtel_money_id.clone(),
        };
        let unsigned = serde_json::to_vec(&Unsigned { transaction: &transaction }).ok()?;
        let body = match &st.callback_key {
            None => unsigned,
            Some(key) => {
                let hash = Airtel::callback_hash(key, &unsigned);
                serde_json::to_vec(&Signed { transaction: &transaction, hash }).ok()?
            }
        };
        Some((url, body))
    }

    fn check_api(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token = auth.strip_prefix("Bearer ").map(str::trim).unwrap_or_default();
        let valid = lock(&self.state).tokens.get(token).is_some_and(|expiry| Instant::now() < *expiry);
        if !valid {
            return Err(airtel_error(StatusCode::UNAUTHORIZED, None, None, "Bad or expired token"));
        }
        let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        match header_text("x-country") {
            None | Some("") => return Err(missing_parameters()),
            Some(c) if c != COUNTRY => {
                return Err(airtel_error(StatusCode::BAD_REQUEST, Some("ROUTER006"), None, "Invalid country code"));
            }
            Some(_) => {}
        }
        match header_text("x-currency") {
            None | Some("") => Err(missing_parameters()),
            Some(c) if c != CURRENCY => {
                Err(airtel_error(StatusCode::BAD_REQUEST, Some("ROUTER112"), None, "Invalid currency"))
            }
            Some(_) => Ok(()),
        }
    }
}

#[derive(Serialize)]
struct CallbackTransaction {
    id: String,
    message: String,
    status_code: String,
    airtel_money_id: String,
}

#[derive(Serialize)]
struct Unsigned<'a> {
    transaction: &'a CallbackTransaction,
}

#[derive(Serialize)]
struct Signed<'a> {
    transaction: &'a CallbackTransaction,
    hash: String,
}

/// An Airtel error: `{"status":{…}}` with `code` = the HTTP status as a string.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    result_code: Option<&'static str>,
    response_code: Option<&'static str>,
    message: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut block = Map::new();
        block.insert("code".into(), json!(self.status.as_u16().to_string()));
        block.insert("message".into(), json!(self.message));
        if let Some(rc) = self.result_code {
            block.insert("result_code".into(), json!(rc));
        }
        if let Some(rc) = self.response_code {
            block.insert("response_code".into(), json!(rc));
        }
        block.insert("success".into(), json!(false));
        (self.status, axum::Json(json!({ "status": block }))).into_response()
    }
}

fn airtel_error(
    status: StatusCode,
    result_code: Option<&'static str>,
    response_code: Option<&'static str>,
    message: &'static str,
) -> Refusal {
    Refusal { status, result_code, response_code, message }
}

fn missing_parameters() -> Refusal {
    airtel_error(StatusCode::BAD_REQUEST, Some("ROUTER003"), None, "Mandatory header/body parameters missing")
}

fn field_error(code: &'static str, message: &'static str) -> Refusal {
    airtel_error(StatusCode::BAD_REQUEST, Some(code), Some("DP00800001005"), message)
}

/// Airtel's receipt, shaped like `MP210603.1234.L06941`.
fn airtel_money_id() -> String {
    let now = eat_now();
    format!("MP{}.{}.{}{}", now.format("%y%m%d"), now.format("%H%M"), random_letter(), random_digits(5))
}

async fn token(State(sim): State<AirtelSim>, body: Bytes) -> Response {
    let mut st = lock(&sim.state);
    st.token_calls += 1;
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response()
    };
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "The body must be a JSON object");
    };
    let field = |name: &str| map.get(name).and_then(Value::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Unsupported grant type");
    }
    if field("client_id") != st.client_id || field("client_secret") != st.client_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client authentication");
    }
    let token = random_alnum(32);
    st.tokens.insert(token.clone(), Instant::now() + TOKEN_TTL);
    axum::Json(json!({
        "access_token": token,
        "expires_in": TOKEN_TTL.as_secs().to_string(),
        "token_type": "bearer",
    }))
    .into_response()
}

/// Checks an optional `country`/`currency` pair inside `subscriber` or `transaction`.
fn check_country_currency(obj: &Map<String, Value>) -> Result<(), Refusal> {
    if let Some(c) = obj.get("country").filter(|v| !v.is_null())
        && c.as_str() != Some(COUNTRY)
    {
        return Err(field_error("ESB000034", "Invalid country name"));
    }
    if let Some(c) = obj.get("currency").filter(|v| !v.is_null())
        && c.as_str() != Some(CURRENCY)
    {
        return Err(field_error("ESB000035", "Invalid currency code"));
    }
    Ok(())
}

async fn push(State(sim): State<AirtelSim>, headers: HeaderMap, body: Bytes) -> Result<Response, Refusal> {
    sim.check_api(&headers)?;
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else {
        return Err(field_error("ESB000008", "Field validation error"));
    };
    if map.get("reference").and_then(lenient::scalar_text).is_none_or(|r| r.trim().is_empty()) {
        return Err(missing_parameters());
    }
    let (Some(Value::Object(subscriber)), Some(Value::Object(transaction))) =
        (map.get("subscriber"), map.get("transaction"))
    else {
        return Err(missing_parameters());
    };
    let Some(msisdn) = subscriber.get("msisdn").and_then(lenient::scalar_text).map(|m| m.trim().to_string()) else {
        return Err(missing_parameters());
    };
    // "Do not send country code in msisdn": 9 digits for Kenya (§3, §8).
    if !msisdn.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field_error("ESB000036", "Invalid MSISDN length"));
    }
    if msisdn.len() != 9 {
        return Err(field_error("ESB000033", "Invalid MSISDN length"));
    }
    check_country_currency(subscriber)?;
    check_country_currency(transaction)?;
    let Some(id) = transaction.get("id").and_then(lenient::scalar_text).filter(|id| !id.trim().is_empty()) else {
        return Err(missing_parameters());
    };
    let Some(amount) = transaction.get("amount").and_then(lenient::u64_value).filter(|a| *a >= 1) else {
        return Err(field_error("ESB000008", "Field validation error"));
    };

    let mut st = lock(&sim.state);
    if st.pushes.iter().any(|p| p.rec.id == id) {
        return Err(field_error("ESB000041", "External Transaction ID already exists"));
    }
    let behaviour = st.behaviour.clone();
    st.pushes.push(Push {
        rec: RecordedPush {
            id: id.clone(),
            body: Value::Object(map.clone()),
            amount,
            msisdn,
            final_status: behaviour.outcome.status_code().to_string(),
            airtel_money_id: airtel_money_id(),
            callbacks_delivered: 0,
        },
        decided_at: Instant::now() + behaviour.delay,
    });
    drop(st);
    sim.schedule_callbacks(id.clone(), behaviour.delay, behaviour.deliveries);
    Ok(axum::Json(json!({
        "data": { "transaction": { "id": id, "status": "SUCCESS" } },
        "status": {
            "code": "200",
            "message": "SUCCESS",
            "result_code": RESULT_OK,
            "response_code": RESPONSE_IN_PROCESS,
            "success": true,
        }
    }))
    .into_response())
}

async fn enquiry(
    State(sim): State<AirtelSim>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    sim.check_api(&headers)?;
    let st = lock(&sim.state);
    let Some(p) = st.pushes.iter().find(|p| p.rec.id == id) else {
        return Err(airtel_error(
            StatusCode::NOT_FOUND,
            Some("ESB000045"),
            Some("DP00800001025"),
            "No transaction found with the provided id",
        ));
    };
    let ok_status = json!({
        "code": "200",
        "message": "SUCCESS",
        "result_code": RESULT_OK,
        "response_code": RESPONSE_IN_PROCESS,
        "success": true,
    });
    let body = if Instant::now() < p.decided_at {
        json!({
            "data": { "transaction": { "id": id, "message": "In process", "status": "TIP" } },
            "status": ok_status,
        })
    } else if p.rec.final_status == "TS" {
        json!({
            "data": { "transaction": {
                "airtel_money_id": p.rec.airtel_money_id, "id": id, "message": "success", "status": "TS"
            } },
            "status": ok_status,
        })
    } else {
        json!({
            "data": { "transaction": { "airtel_money_id": p.rec.airtel_money_id, "id": id, "status": "TF" } },
            "status": { "response_code": "DP00800001005", "code": "200", "success": false, "message": "FAILED" },
        })
    };
    Ok(axum::Json(body).into_response())
}

async fn control_state(State(sim): State<AirtelSim>) -> Response {
    let st = lock(&sim.state);
    let now = Instant::now();
    let pushes: Vec<Value> = st
        .pushes
        .iter()
        .map(|p| {
            json!({
                "id": p.rec.id,
                "msisdn": p.rec.msisdn,
                "amount": p.rec.amount,
                "decided": now >= p.decided_at,
                "final_status": p.rec.final_status,
                "airtel_money_id": p.rec.airtel_money_id,
                "callbacks_delivered": p.rec.callbacks_delivered,
                "request": p.rec.body,
            })
        })
        .collect();
    axum::Json(json!({
        "behaviour": st.behaviour.to_json(),
        "token_calls": st.token_calls,
        "callback_url": st.callback_url,
        "callback_signed": st.callback_key.is_some(),
        "pushes": pushes,
    }))
    .into_response()
}

async fn control_behaviour(State(sim): State<AirtelSim>, body: Bytes) -> Response {
    lock(&sim.state).behaviour.update_from(&body)
}

#[derive(Deserialize)]
struct CallbackUrlUpdate {
    url: Option<String>,
}

async fn control_callback_url(State(sim): State<AirtelSim>, body: Bytes) -> Response {
    match serde_json::from_slice::<CallbackUrlUpdate>(&body) {
        Ok(u) => {
            sim.set_callback_url(u.url.filter(|s| !s.trim().is_empty()));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e.to_string() }))).into_response(),
    }
}

async fn control_revoke(State(sim): State<AirtelSim>) -> Response {
    sim.revoke_tokens();
    StatusCode::NO_CONTENT.into_response()
}
