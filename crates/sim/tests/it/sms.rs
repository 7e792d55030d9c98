#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The Africa's Talking client against the SMS simulator, in process.

use crate::common;

use std::time::Duration;

use broadnet_providers::ProviderError;
use broadnet_providers::sms::{AfricasTalking, AtConfig, DeliveryReport};
use broadnet_sim::sms::SmsSim;
use common::{Catcher, any_port};
use serde_json::Value;

const USER: &str = "myisp";
const KEY: &str = "at-api-key";

async fn setup(sender_id: Option<&str>) -> (SmsSim, String, AfricasTalking) {
    let sim = SmsSim::new(USER, KEY);
    let base = sim.spawn(any_port()).await.unwrap();
    let client = AfricasTalking::new(AtConfig {
        base_url: base.clone(),
        username: USER.into(),
        api_key: KEY.into(),
        sender_id: sender_id.map(str::to_string),
    });
    (sim, base, client)
}

fn to(numbers: &[&str]) -> Vec<String> {
    numbers.iter().map(|n| n.to_string()).collect()
}

#[tokio::test]
async fn send_to_two_recipients() {
    let (sim, _base, client) = setup(Some("MYISP")).await;
    let message = "Payment of KES 1500 received. Account ACC10023 active until 2025-04-01.";
    let recipients = client.send(&to(&["+254711000001", "0733000002"]), message).await.unwrap();
    assert_eq!(recipients.len(), 2);
    for (r, number) in recipients.iter().zip(["+254711000001", "+254733000002"]) {
        assert_eq!(r.number, number);
        assert_eq!(r.status_code, 101);
        assert_eq!(r.status, "Success");
        assert!(r.is_sent());
        assert!(r.message_id.as_deref().unwrap().starts_with("ATXid_"));
        assert_eq!(r.cost.as_deref(), Some("KES 0.8000"));
    }
    let sent = sim.messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].to, "+254711000001", "the + survived form encoding");
    assert_eq!(sent[0].message, message);
    assert_eq!(sent[0].from.as_deref(), Some("MYISP"));
    assert_eq!(Some(sent[1].message_id.clone()), recipients[1].message_id);

    // Two segments cost twice.
    let long = "x".repeat(161);
    let r = client.send(&to(&["+254711000001"]), &long).await.unwrap();
    assert_eq!(r[0].cost.as_deref(), Some("KES 1.6000"));
}

#[tokio::test]
async fn a_failing_recipient() {
    let (sim, _base, client) = setup(None).await;
    sim.fail_next(406);
    let r = client.send(&to(&["+254711000001", "+254711000002"]), "Hello").await.unwrap();
    assert_eq!(r[0].status_code, 406);
    assert_eq!(r[0].status, "UserInBlacklist");
    assert_eq!(r[0].message_id, None, "\"None\" is no id");
    assert_eq!(r[0].cost.as_deref(), Some("0"));
    assert!(!r[0].is_sent());
    assert!(!r[0].is_retryable());
    assert!(r[1].is_sent());
    assert_eq!(sim.messages().len(), 1);
    assert_eq!(sim.messages()[0].from, None);

    sim.fail_next(500);
    let r = client.send(&to(&["+254711000003"]), "Hello").await.unwrap();
    assert_eq!(r[0].status, "InternalServerError");
    assert!(r[0].is_retryable());
}

#[tokio::test]
async fn refusals() {
    let (sim, base, client) = setup(None).await;
    // Wrong API key: 401 plain text.
    let bad = AfricasTalking::new(AtConfig {
        base_url: base.clone(),
        username: USER.into(),
        api_key: "wrong".into(),
        sender_id: None,
    });
    let err = bad.send(&to(&["+254711000001"]), "Hi").await.unwrap_err();
    match &err {
        ProviderError::Refused { status, code, message } => {
            assert_eq!((*status, code.as_str()), (401, "401"));
            assert_eq!(message, "The supplied authentication is invalid");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_ambiguous());
    let resp = reqwest::Client::new()
        .post(format!("{base}/version1/messaging"))
        .header("apiKey", "wrong")
        .form(&[("username", USER), ("to", "+254711000001"), ("message", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));

    // Unapproved / malformed sender id: 402 per recipient.
    let long_sender = AfricasTalking::new(AtConfig {
        base_url: base.clone(),
        username: USER.into(),
        api_key: KEY.into(),
        sender_id: Some("BROADNETISP12".into()),
    });
    let r = long_sender.send(&to(&["+254711000001"]), "Hi").await.unwrap();
    assert_eq!((r[0].status_code, r[0].status.as_str()), (402, "InvalidSenderId"));
    sim.set_approved_senders(Some(vec!["MYISP".into()]));
    let other = AfricasTalking::new(AtConfig {
        base_url: base.clone(),
        username: USER.into(),
        api_key: KEY.into(),
        sender_id: Some("OTHER".into()),
    });
    assert_eq!(other.send(&to(&["+254711000001"]), "Hi").await.unwrap()[0].status_code, 402);
    assert!(sim.messages().is_empty());

    // Our own validation.
    assert!(matches!(client.send(&[], "Hi").await.unwrap_err(), ProviderError::Config(_)));
    assert!(matches!(client.send(&to(&["12"]), "Hi").await.unwrap_err(), ProviderError::Config(_)));
}

#[tokio::test]
async fn raw_wire_details() {
    let (_sim, base, _client) = setup(None).await;
    let http = reqwest::Client::new();
    let url = format!("{base}/version1/messaging");

    // An unencoded "+" becomes a space: not a valid number; one invalid among valid ones is reported as 403.
    let resp = http
        .post(&url)
        .header("apiKey", KEY)
        .header("Accept", "application/json")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("username={USER}&to=+254711000001,%2B254711000002&message=Hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let body: Value = resp.json().await.unwrap();
    let recipients = body["SMSMessageData"]["Recipients"].as_array().unwrap();
    assert_eq!(recipients[0]["statusCode"], 403);
    assert_eq!(recipients[0]["status"], "InvalidPhoneNumber");
    assert_eq!(recipients[0]["messageId"], "None");
    assert_eq!(recipients[0]["cost"], "0");
    assert_eq!(recipients[1]["statusCode"], 101);
    assert_eq!(body["SMSMessageData"]["Message"], "Sent to 1/2 Total Cost: KES 0.8000");

    // No valid recipient at all.
    let resp = http
        .post(&url)
        .header("apiKey", KEY)
        .header("Accept", "application/json")
        .form(&[("username", USER), ("to", "0711000001"), ("message", "Hi")])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let raw = resp.bytes().await.unwrap();
    let body: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(body["SMSMessageData"]["Message"], "InvalidPhoneNumber");
    assert_eq!(body["SMSMessageData"]["Recipients"].as_array().unwrap().len(), 0);
    let err = broadnet_providers::sms::decode_send(status, &raw).unwrap_err();
    assert!(matches!(&err, ProviderError::Refused { code, .. } if code == "InvalidPhoneNumber"), "{err:?}");

    // Without Accept: application/json, XML.
    let resp = http
        .post(&url)
        .header("apiKey", KEY)
        .form(&[("username", USER), ("to", "+254711000001"), ("message", "a < b")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let xml = resp.text().await.unwrap();
    assert!(xml.contains("<statusCode>101</statusCode>"), "{xml}");
    assert!(xml.contains("<number>+254711000001</number>"), "{xml}");

    // JSON instead of a form.
    let resp = http
        .post(&url)
        .header("apiKey", KEY)
        .header("Accept", "application/json")
        .json(&serde_json::json!({ "username": USER, "to": "+254711000001", "message": "Hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn delivery_reports() {
    let catcher = Catcher::start().await;
    let (sim, _base, client) = setup(None).await;
    sim.set_delivery_reports(Some(catcher.at("/dlr/secret")), Duration::from_millis(50));
    let r = client.send(&to(&["+254711000001"]), "Hi").await.unwrap();
    let hit = catcher.next().await;
    assert_eq!(hit.path, "/dlr/secret");
    assert!(hit.content_type.as_deref().unwrap().starts_with("application/x-www-form-urlencoded"));
    let report = DeliveryReport::parse(&hit.body).unwrap();
    assert_eq!(Some(report.id.clone()), r[0].message_id);
    assert_eq!(report.status, "Success");
    assert!(report.is_final());
    assert_eq!(report.phone_number, "+254711000001");
    assert_eq!(report.network_code.as_deref(), Some("99999"));
}

#[tokio::test]
async fn http_control_surface() {
    let (_sim, base, client) = setup(None).await;
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/simulator/fail-next"))
        .json(&serde_json::json!({ "status_code": 405 }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let r = client.send(&to(&["+254711000001", "+254711000002"]), "Hi").await.unwrap();
    assert_eq!(r[0].status, "InsufficientBalance");
    assert_eq!(r[1].status_code, 101);
    let state: Value = http.get(format!("{base}/simulator/state")).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["messages"].as_array().unwrap().len(), 1);
    assert_eq!(state["messages"][0]["to"], "+254711000002");
}
