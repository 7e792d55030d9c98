#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The Airtel Money client against the Airtel simulator, in process.

use crate::common;

use std::time::Duration;

use broadnet_providers::ProviderError;
use broadnet_providers::airtel::{Airtel, AirtelCallback, AirtelConfig, AirtelStatus, UssdPush};
use broadnet_sim::airtel::{AirtelSim, Behaviour, Outcome};
use common::{Catcher, any_port, eventually};
use serde_json::{Value, json};

const ID: &str = "airtel-client";
const SECRET: &str = "airtel-secret";
const CB_KEY: &str = "portal-private-key";

fn fast(outcome: Outcome, deliveries: u32) -> Behaviour {
    Behaviour { outcome, deliveries, delay: Duration::from_millis(100) }
}

fn config(base: &str) -> AirtelConfig {
    AirtelConfig {
        base_url: base.into(),
        client_id: ID.into(),
        client_secret: SECRET.into(),
        country: "KE".into(),
        currency: "KES".into(),
    }
}

async fn setup(callback_url: Option<String>, key: Option<&str>, b: Behaviour) -> (AirtelSim, String, Airtel) {
    let sim = AirtelSim::new(ID, SECRET, callback_url, key.map(str::to_string));
    sim.set_behaviour(b);
    let base = sim.spawn(any_port()).await.unwrap();
    (sim.clone(), base.clone(), Airtel::new(config(&base)))
}

fn push(id: &str, msisdn: &str) -> UssdPush {
    UssdPush { id: id.into(), msisdn: msisdn.into(), amount: 1500, reference: "Internet ACC10023".into() }
}

async fn wait_final(client: &Airtel, id: &str) -> AirtelStatus {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let st = client.enquiry(id).await.unwrap();
        if st.status != "TIP" {
            return st;
        }
        assert!(tokio::time::Instant::now() < deadline, "still TIP");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn raw_token(base: &str) -> String {
    let resp: Value = reqwest::Client::new()
        .post(format!("{base}/auth/oauth2/token"))
        .json(&json!({ "client_id": ID, "client_secret": SECRET, "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["expires_in"], "180");
    assert_eq!(resp["token_type"], "bearer");
    resp["access_token"].as_str().unwrap().to_string()
}

fn raw_push_body(id: &str, msisdn: Value) -> Value {
    json!({
        "reference": "Internet",
        "subscriber": { "country": "KE", "currency": "KES", "msisdn": msisdn },
        "transaction": { "amount": 100, "country": "KE", "currency": "KES", "id": id },
    })
}

async fn raw_push(base: &str, token: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(format!("{base}/merchant/v1/payments/")).bearer_auth(token).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

const KE: &[(&str, &str)] = &[("X-Country", "KE"), ("X-Currency", "KES")];

#[tokio::test]
async fn push_then_unsigned_callback_and_enquiry() {
    let catcher = Catcher::start().await;
    let (sim, _base, client) = setup(Some(catcher.at("/cb/airtel/x1")), None, fast(Outcome::Success, 1)).await;
    client.ussd_push(&push("bn-7f3a9c2e41d0", "+254733123456")).await.unwrap();

    let rec = &sim.pushes()[0];
    assert_eq!(rec.msisdn, "733123456", "9-digit subscriber number");
    assert_eq!(rec.body["subscriber"], json!({ "country": "KE", "currency": "KES", "msisdn": "733123456" }));
    assert_eq!(
        rec.body["transaction"],
        json!({ "amount": 1500, "country": "KE", "currency": "KES", "id": "bn-7f3a9c2e41d0" })
    );
    assert_eq!(rec.body["reference"], "Internet ACC10023");

    let hit = catcher.next().await;
    assert_eq!(hit.path, "/cb/airtel/x1");
    let body = hit.json();
    let top: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(top, ["transaction"], "no hash without a callback key");
    let tx = body["transaction"].as_object().unwrap();
    let mut keys: Vec<&str> = tx.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["airtel_money_id", "id", "message", "status_code"]);
    assert_eq!(body["transaction"]["id"], "bn-7f3a9c2e41d0");
    assert_eq!(body["transaction"]["status_code"], "TS");
    assert_eq!(body["transaction"]["airtel_money_id"], rec.airtel_money_id.as_str());
    assert!(body["transaction"]["message"].as_str().unwrap().starts_with("Paid KES 1,500 to "));
    assert!(!Airtel::verify_callback_hash(CB_KEY, &hit.body), "nothing to verify");
    let cb = AirtelCallback::parse(&hit.body).unwrap();
    assert!(cb.is_success() && cb.is_final());
    assert_eq!(cb.hash, None);

    let st = client.enquiry("bn-7f3a9c2e41d0").await.unwrap();
    assert_eq!(st.status, "TS");
    assert_eq!(st.airtel_money_id.as_deref(), Some(rec.airtel_money_id.as_str()));
    assert_eq!(st.message.as_deref(), Some("success"));
    eventually(|| sim.pushes()[0].callbacks_delivered == 1).await;
}

#[tokio::test]
async fn signed_callback_verifies_only_with_the_right_key() {
    let catcher = Catcher::start().await;
    let (_sim, _base, client) = setup(Some(catcher.at("/cb")), Some(CB_KEY), fast(Outcome::Failed, 1)).await;
    client.ussd_push(&push("bn-signed-1", "0733123456")).await.unwrap();
    let hit = catcher.next().await;
    let body = hit.json();
    let mut top: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    top.sort_unstable();
    assert_eq!(top, ["hash", "transaction"]);
    assert_eq!(body["transaction"]["status_code"], "TF");

    // The hash is over the exact bytes of {"transaction":{...}}.
    let raw = hit.text();
    let cut = raw.find(",\"hash\"").unwrap();
    let unsigned = format!("{}}}", &raw[..cut]);
    assert_eq!(body["hash"], Airtel::callback_hash(CB_KEY, unsigned.as_bytes()).as_str());

    assert!(Airtel::verify_callback_hash(CB_KEY, &hit.body));
    assert!(!Airtel::verify_callback_hash("another-key", &hit.body));
    let tampered = raw.replace("\"TF\"", "\"TS\"");
    assert!(!Airtel::verify_callback_hash(CB_KEY, tampered.as_bytes()));
    let cb = AirtelCallback::parse(&hit.body).unwrap();
    assert!(!cb.is_success() && cb.is_final());
    assert!(cb.hash.is_some());
}

#[tokio::test]
async fn enquiry_goes_from_tip_to_ts_or_tf() {
    let (sim, base, client) =
        setup(None, None, Behaviour { outcome: Outcome::Success, deliveries: 1, delay: Duration::from_millis(1000) })
            .await;
    client.ussd_push(&push("bn-e-1", "733000001")).await.unwrap();
    let st = client.enquiry("bn-e-1").await.unwrap();
    assert_eq!(st.status, "TIP");
    assert!(!st.is_final());
    let st = wait_final(&client, "bn-e-1").await;
    assert_eq!(st.status, "TS");
    assert!(st.is_success());

    sim.set_behaviour(Behaviour { outcome: Outcome::Failed, deliveries: 0, delay: Duration::from_millis(1000) });
    client.ussd_push(&push("bn-e-2", "733000002")).await.unwrap();
    assert_eq!(client.enquiry("bn-e-2").await.unwrap().status, "TIP");
    let st = wait_final(&client, "bn-e-2").await;
    assert_eq!(st.status, "TF");
    assert!(st.is_final() && !st.is_success());

    // The failed enquiry has the §4 shape: success false, FAILED, DP00800001005.
    let token = raw_token(&base).await;
    let body: Value = reqwest::Client::new()
        .get(format!("{base}/standard/v1/payments/bn-e-2"))
        .bearer_auth(&token)
        .header("X-Country", "KE")
        .header("X-Currency", "KES")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["transaction"]["status"], "TF");
    assert_eq!(
        body["status"],
        json!({ "response_code": "DP00800001005", "code": "200", "success": false, "message": "FAILED" })
    );

    let err = client.enquiry("bn-unknown").await.unwrap_err();
    assert!(matches!(&err, ProviderError::Refused { code, .. } if code == "ESB000045"), "{err:?}");
    assert!(sim.pushes().iter().all(|p| p.callbacks_delivered == 0), "no callback URL configured");
}

#[tokio::test]
async fn deliveries_zero_and_two() {
    let catcher = Catcher::start().await;
    let (sim, _base, client) = setup(Some(catcher.at("/cb")), Some(CB_KEY), fast(Outcome::Success, 0)).await;
    client.ussd_push(&push("bn-d-0", "733000010")).await.unwrap();
    assert_eq!(wait_final(&client, "bn-d-0").await.status, "TS");
    assert!(catcher.quiet_for(Duration::from_millis(300)).await);

    sim.set_behaviour(fast(Outcome::Success, 2));
    client.ussd_push(&push("bn-d-2", "733000011")).await.unwrap();
    let a = catcher.next().await;
    let b = catcher.next().await;
    assert_eq!(a.body, b.body);
    assert!(Airtel::verify_callback_hash(CB_KEY, &b.body));
    assert!(catcher.quiet_for(Duration::from_millis(300)).await);

    // The callback URL can change at run time.
    let other = Catcher::start().await;
    sim.set_callback_url(Some(other.at("/new")));
    client.ussd_push(&push("bn-d-3", "733000012")).await.unwrap();
    assert_eq!(other.next().await.path, "/new");
}

#[tokio::test]
async fn token_cached_and_refetched_after_401() {
    let (sim, base, client) = setup(None, None, fast(Outcome::Success, 0)).await;
    client.ussd_push(&push("bn-t-1", "733000020")).await.unwrap();
    client.clone().enquiry("bn-t-1").await.unwrap();
    assert_eq!(sim.token_calls(), 1);
    sim.revoke_tokens();
    client.enquiry("bn-t-1").await.unwrap();
    assert_eq!(sim.token_calls(), 2);

    let mut cfg = config(&base);
    cfg.client_secret = "wrong".into();
    let err = Airtel::new(cfg).enquiry("bn-t-1").await.unwrap_err();
    assert!(matches!(&err, ProviderError::Refused { status: 401, code, .. } if code == "invalid_client"), "{err:?}");
}

#[tokio::test]
async fn push_refusals() {
    let (sim, base, client) = setup(None, None, fast(Outcome::Success, 0)).await;
    let token = raw_token(&base).await;

    // Country code in msisdn.
    let (status, body) = raw_push(&base, &token, KE, &raw_push_body("r1", json!("254733123456"))).await;
    assert_eq!(status, 400);
    assert_eq!(body["status"]["result_code"], "ESB000033");
    assert_eq!(body["status"]["success"], false);
    let (_, body) = raw_push(&base, &token, KE, &raw_push_body("r2", json!("+254733123456"))).await;
    assert_eq!(body["status"]["result_code"], "ESB000036");
    let (_, body) = raw_push(&base, &token, KE, &raw_push_body("r3", json!("0733123456"))).await;
    assert_eq!(body["status"]["result_code"], "ESB000033");

    // Headers.
    let (status, body) =
        raw_push(&base, &token, &[("X-Currency", "KES")], &raw_push_body("r4", json!("733123456"))).await;
    assert_eq!(status, 400);
    assert_eq!(body["status"]["result_code"], "ROUTER003");
    let (_, body) = raw_push(&base, &token, &[("X-Country", "KE")], &raw_push_body("r5", json!("733123456"))).await;
    assert_eq!(body["status"]["result_code"], "ROUTER003");
    let (_, body) = raw_push(
        &base,
        &token,
        &[("X-Country", "UG"), ("X-Currency", "KES")],
        &raw_push_body("r6", json!("733123456")),
    )
    .await;
    assert_eq!(body["status"]["result_code"], "ROUTER006");
    let (_, body) = raw_push(
        &base,
        &token,
        &[("X-Country", "KE"), ("X-Currency", "UGX")],
        &raw_push_body("r7", json!("733123456")),
    )
    .await;
    assert_eq!(body["status"]["result_code"], "ROUTER112");

    // Token.
    let (status, body) = raw_push(&base, "stale", KE, &raw_push_body("r8", json!("733123456"))).await;
    assert_eq!(status, 401);
    assert_eq!(body["status"]["code"], "401");

    // Missing transaction id; zero amount.
    let mut b = raw_push_body("", json!("733123456"));
    let (_, body) = raw_push(&base, &token, KE, &b).await;
    assert_eq!(body["status"]["result_code"], "ROUTER003");
    b["transaction"]["id"] = json!("r9");
    b["transaction"]["amount"] = json!(0);
    let (_, body) = raw_push(&base, &token, KE, &b).await;
    assert_eq!(body["status"]["result_code"], "ESB000008");
    assert!(sim.pushes().is_empty());

    // Trailing slash: the path without it does not exist.
    let resp = reqwest::Client::new()
        .post(format!("{base}/merchant/v1/payments"))
        .bearer_auth(&token)
        .header("X-Country", "KE")
        .header("X-Currency", "KES")
        .json(&raw_push_body("r10", json!("733123456")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);

    // Accepted push: the §3 answer.
    let (status, body) = raw_push(&base, &token, KE, &raw_push_body("r11", json!("733123456"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "data": { "transaction": { "id": "r11", "status": "SUCCESS" } },
            "status": {
                "code": "200",
                "message": "SUCCESS",
                "result_code": "ESB000010",
                "response_code": "DP00800001006",
                "success": true,
            }
        })
    );

    // Reused id through the client.
    let err = client.ussd_push(&push("r11", "733123456")).await.unwrap_err();
    match &err {
        ProviderError::Refused { status, code, message } => {
            assert_eq!((*status, code.as_str()), (400, "ESB000041"));
            assert_eq!(message, "External Transaction ID already exists");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_ambiguous());

    // Our own validation.
    assert!(matches!(client.ussd_push(&push("r12", "12345")).await.unwrap_err(), ProviderError::Config(_)));
    assert!(matches!(client.ussd_push(&push(" ", "733123456")).await.unwrap_err(), ProviderError::Config(_)));
}

#[tokio::test]
async fn http_control_surface() {
    let catcher = Catcher::start().await;
    let (sim, base, client) = setup(None, None, Behaviour::default()).await;
    let http = reqwest::Client::new();
    let resp: Value = http
        .post(format!("{base}/simulator/behaviour"))
        .json(&json!({ "outcome": "failed", "delay_ms": 50 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp, json!({ "outcome": "failed", "deliveries": 1, "delay_ms": 50 }));
    let resp = http
        .post(format!("{base}/simulator/callback-url"))
        .json(&json!({ "url": catcher.at("/cb") }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    client.ussd_push(&push("bn-h-1", "733000030")).await.unwrap();
    assert_eq!(catcher.next().await.json()["transaction"]["status_code"], "TF");
    let state: Value = http.get(format!("{base}/simulator/state")).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["token_calls"], 1);
    assert_eq!(state["pushes"][0]["id"], "bn-h-1");
    assert_eq!(state["pushes"][0]["final_status"], "TF");
    http.post(format!("{base}/simulator/revoke-tokens")).send().await.unwrap();
    client.enquiry("bn-h-1").await.unwrap();
    assert_eq!(sim.token_calls(), 2);
}
