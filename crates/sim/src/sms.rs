//! Africa's Talking SMS simulator (africastalking-sms.md): `POST /version1/messaging` with per-recipient
//! results, and optional delivery reports.
//!
//! HTTP control surface (besides the AT path):
//! - `GET  /simulator/state`: messages sent, pending failures, delivery-report URL
//! - `POST /simulator/fail-next` `{"status_code":406}`: the next recipient fails with that code
//! - `POST /simulator/delivery-reports` `{"url":"http://…","delay_ms":1000}` or `{"url":null}`

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{callback_client, lock, random_hex};
use broadnet_providers::sms::{segments, status_name};

/// What the simulator charges per recipient per message part.
const COST_PER_PART: f64 = 0.8;
/// Network code of AT's sandbox ("Athena", §4).
const SANDBOX_NETWORK: &str = "99999";
const BAD_AUTH: &str = "The supplied authentication is invalid";

/// A message the simulator accepted for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentSms {
    pub to: String,
    pub message: String,
    pub from: Option<String>,
    pub message_id: String,
    /// `100`/`101`/`102`
    pub status_code: u16,
    /// e.g. `KES 0.8000`
    pub cost: String,
}

struct SimState {
    username: String,
    api_key: String,
    messages: Vec<SentSms>,
    fail_next: VecDeque<u16>,
    approved_senders: Option<Vec<String>>,
    dlr_url: Option<String>,
    dlr_delay: Duration,
}

/// The Africa's Talking SMS simulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct SmsSim {
    state: Arc<Mutex<SimState>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for SmsSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSim").finish_non_exhaustive()
    }
}

impl SmsSim {
    pub fn new(username: &str, api_key: &str) -> Self {
        SmsSim {
            state: Arc::new(Mutex::new(SimState {
                username: username.to_string(),
                api_key: api_key.to_string(),
                messages: Vec::new(),
                fail_next: VecDeque::new(),
                approved_senders: None,
                dlr_url: None,
                dlr_delay: Duration::from_secs(1),
            })),
            http: callback_client(Duration::from_secs(10)),
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/version1/messaging", post(send))
            .route("/simulator/state", get(control_state))
            .route("/simulator/fail-next", post(control_fail_next))
            .route("/simulator/delivery-reports", post(control_dlr))
            .with_state(self.clone())
    }

    /// Bind (port 0 = any) and serve in a tokio task; returns the base URL "http://127.0.0.1:PORT".
    pub async fn spawn(&self, addr: SocketAddr) -> std::io::Result<String> {
        crate::serve(self.router(), addr).await
    }

    /// Messages accepted so far, one per recipient.
    pub fn messages(&self) -> Vec<SentSms> {
        lock(&self.state).messages.clone()
    }

    /// The next recipient (of any later request) fails with `status_code` (§3), e.g. 406 UserInBlacklist.
    /// Calls queue up: each one applies to one recipient.
    pub fn fail_next(&self, status_code: u16) {
        lock(&self.state).fail_next.push_back(status_code);
    }

    /// `Some(list)`: only these sender ids are approved; others get 402 InvalidSenderId. `None` (default): any
    /// well-formed sender id (≤ 11 letters/digits/spaces, or a numeric shortcode) is accepted.
    pub fn set_approved_senders(&self, senders: Option<Vec<String>>) {
        lock(&self.state).approved_senders = senders;
    }

    /// Where to POST delivery reports (form-encoded, `status=Success`, §4), `delay` after each accepted message.
    pub fn set_delivery_reports(&self, url: Option<String>, delay: Duration) {
        let mut st = lock(&self.state);
        st.dlr_url = url;
        st.dlr_delay = delay;
    }

    fn schedule_dlr(&self, sent: &[SentSms]) {
        let (url, delay) = {
            let st = lock(&self.state);
            match &st.dlr_url {
                Some(url) => (url.clone(), st.dlr_delay),
                None => return,
            }
        };
        let http = self.http.clone();
        let reports: Vec<(String, String)> = sent.iter().map(|m| (m.message_id.clone(), m.to.clone())).collect();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for (id, number) in reports {
                let form = [
                    ("id", id.as_str()),
                    ("status", "Success"),
                    ("phoneNumber", number.as_str()),
                    ("networkCode", SANDBOX_NETWORK),
                    ("retryCount", "0"),
                ];
                if let Err(e) = http.post(&url).form(&form).send().await {
                    tracing::warn!(%url, error = %e, "delivery report not delivered");
                }
            }
        });
    }
}

/// `^\+\d{1,3}\d{3,}$` (§2).
fn is_valid_number(n: &str) -> bool {
    n.strip_prefix('+').is_some_and(|d| d.len() >= 4 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Alphanumeric sender ids are at most 11 characters (§5); numeric shortcodes are digits.
fn is_well_formed_sender(s: &str) -> bool {
    let n = s.chars().count();
    let alnum = (1..=11).contains(&n) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ');
    let numeric = (1..=15).contains(&n) && s.bytes().all(|b| b.is_ascii_digit());
    alnum || numeric
}

fn text_response(status: StatusCode, body: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body.to_string()).into_response()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

struct Outcome {
    number: String,
    status_code: u16,
    status: String,
    cost: String,
    message_id: String,
}

async fn send(State(sim): State<SmsSim>, headers: HeaderMap, body: Bytes) -> Response {
    let api_key = headers.get("apikey").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let mut username = None;
    let mut to = None;
    let mut message = None;
    let mut from = None;
    if is_form {
        for (k, v) in url::form_urlencoded::parse(&body) {
            match k.as_ref() {
                "username" => username = Some(v.into_owned()),
                "to" => to = Some(v.into_owned()),
                "message" => message = Some(v.into_owned()),
                "from" => from = Some(v.into_owned()).filter(|f| !f.trim().is_empty()),
                _ => {}
            }
        }
    }
    {
        let st = lock(&sim.state);
        if api_key != st.api_key || (is_form && username.as_deref() != Some(st.username.as_str())) {
            return text_response(StatusCode::UNAUTHORIZED, BAD_AUTH);
        }
    }
    if !is_form {
        return text_response(
            StatusCode::BAD_REQUEST,
            "Send the request form-encoded (Content-Type: application/x-www-form-urlencoded)",
        );
    }
    let Some(to) = to.filter(|t| !t.trim().is_empty()) else {
        return text_response(StatusCode::BAD_REQUEST, "Request is missing required form field 'to'");
    };
    let Some(message) = message.filter(|m| !m.is_empty()) else {
        return text_response(StatusCode::BAD_REQUEST, "Request is missing required form field 'message'");
    };

    let parts = segments(&message);
    let cost_each = COST_PER_PART * parts as f64;
    let mut outcomes = Vec::new();
    let mut sent = Vec::new();
    {
        let mut st = lock(&sim.state);
        let sender_ok = from.as_deref().is_none_or(|f| {
            is_well_formed_sender(f) && st.approved_senders.as_ref().is_none_or(|list| list.iter().any(|s| s == f))
        });
        for number in to.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let code = if !is_valid_number(number) {
                403
            } else if !sender_ok {
                402
            } else {
                st.fail_next.pop_front().unwrap_or(101)
            };
            if (100..=102).contains(&code) {
                let m = SentSms {
                    to: number.to_string(),
                    message: message.clone(),
                    from: from.clone(),
                    message_id: format!("ATXid_{}", random_hex(32)),
                    status_code: code,
                    cost: format!("KES {cost_each:.4}"),
                };
                outcomes.push(Outcome {
                    number: m.to.clone(),
                    status_code: code,
                    status: "Success".into(),
                    cost: m.cost.clone(),
                    message_id: m.message_id.clone(),
                });
                st.messages.push(m.clone());
                sent.push(m);
            } else {
                outcomes.push(Outcome {
                    number: number.to_string(),
                    status_code: code,
                    status: status_name(code).into(),
                    cost: "0".into(),
                    message_id: "None".into(),
                });
            }
        }
    }
    sim.schedule_dlr(&sent);

    let summary = if outcomes.iter().all(|o| o.status_code == 403) {
        // No valid recipient at all (§2.1 "Other responses").
        outcomes.clear();
        "InvalidPhoneNumber".to_string()
    } else {
        format!("Sent to {}/{} Total Cost: KES {:.4}", sent.len(), outcomes.len(), cost_each * sent.len() as f64)
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.to_ascii_lowercase().contains("application/json"));
    if wants_json {
        let recipients: Vec<_> = outcomes
            .iter()
            .map(|o| {
                json!({
                    "statusCode": o.status_code,
                    "number": o.number,
                    "status": o.status,
                    "cost": o.cost,
                    "messageId": o.message_id,
                })
            })
            .collect();
        let body = json!({ "SMSMessageData": { "Message": summary, "Recipients": recipients } });
        (StatusCode::CREATED, axum::Json(body)).into_response()
    } else {
        // Without `Accept: application/json` the older API answers XML (§1).
        let mut xml =
            String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><AfricasTalkingResponse><SMSMessageData>");
        xml.push_str(&format!("<Message>{}</Message><Recipients>", xml_escape(&summary)));
        for o in &outcomes {
            xml.push_str(&format!(
                "<Recipient><number>{}</number><cost>{}</cost><status>{}</status>\
                 <statusCode>{}</statusCode><messageId>{}</messageId></Recipient>",
                xml_escape(&o.number),
                xml_escape(&o.cost),
                xml_escape(&o.status),
                o.status_code,
                xml_escape(&o.message_id)
            ));
        }
        xml.push_str("</Recipients></SMSMessageData></AfricasTalkingResponse>");
        (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/xml")], xml).into_response()
    }
}

async fn control_state(State(sim): State<SmsSim>) -> Response {
    let st = lock(&sim.state);
    axum::Json(json!({
        "messages": st.messages,
        "pending_failures": st.fail_next,
        "approved_senders": st.approved_senders,
        "delivery_report_url": st.dlr_url,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct FailNext {
    status_code: u16,
}

async fn control_fail_next(State(sim): State<SmsSim>, body: Bytes) -> Response {
    match serde_json::from_slice::<FailNext>(&body) {
        Ok(f) => {
            sim.fail_next(f.status_code);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e.to_string() }))).into_response(),
    }
}

#[derive(Deserialize)]
struct DlrUpdate {
    url: Option<String>,
    delay_ms: Option<u64>,
}

async fn control_dlr(State(sim): State<SmsSim>, body: Bytes) -> Response {
    match serde_json::from_slice::<DlrUpdate>(&body) {
        Ok(u) => {
            sim.set_delivery_reports(
                u.url.filter(|s| !s.trim().is_empty()),
                Duration::from_millis(u.delay_ms.unwrap_or(1000)),
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": e.to_string() }))).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_valid_number("+254711000001"));
        assert!(!is_valid_number("254711000001"));
        assert!(!is_valid_number("+2547x"));
        assert!(is_well_formed_sender("MYISP"));
        assert!(is_well_formed_sender("BroadNet 1"));
        assert!(!is_well_formed_sender("BROADNETISP12"));
        assert!(is_well_formed_sender("22384"));
        assert!(!is_well_formed_sender("MY-ISP!"));
    }
}
