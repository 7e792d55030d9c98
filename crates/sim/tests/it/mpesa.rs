#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The Daraja client against the M-Pesa simulator, in process.

use crate::common;

use std::time::Duration;

use broadnet_providers::ProviderError;
use broadnet_providers::daraja::{C2bNotification, Daraja, DarajaConfig, StkCallback, StkPush, StkQuery};
use broadnet_sim::mpesa::{Behaviour, MpesaSim, Outcome};
use chrono::Utc;
use common::{Catcher, any_port, eventually};
use serde_json::{Value, json};

const KEY: &str = "consumer-key";
const SECRET: &str = "consumer-secret";
const SHORTCODE: &str = "174379";
const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

fn fast(outcome: Outcome, deliveries: u32) -> Behaviour {
    Behaviour { outcome, deliveries, delay: Duration::from_millis(100) }
}

async fn setup(behaviour: Behaviour) -> (MpesaSim, String, Daraja) {
    let sim = MpesaSim::new(KEY, SECRET, SHORTCODE, PASSKEY);
    sim.set_behaviour(behaviour);
    let base = sim.spawn(any_port()).await.unwrap();
    let client = Daraja::new(config(&base));
    (sim, base, client)
}

fn config(base: &str) -> DarajaConfig {
    DarajaConfig {
        base_url: base.to_string(),
        consumer_key: KEY.into(),
        consumer_secret: SECRET.into(),
        shortcode: SHORTCODE.into(),
        passkey: PASSKEY.into(),
        till_number: None,
    }
}

fn push(phone: &str, callback_url: &str) -> StkPush {
    StkPush {
        phone: phone.into(),
        amount: 1500,
        account_reference: "ACC10023-EXTRA-LONG".into(),
        description: "Internet subscription".into(),
        callback_url: callback_url.into(),
    }
}

async fn wait_done(client: &Daraja, checkout_request_id: &str) -> (String, String) {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        match client.stk_query(checkout_request_id).await.unwrap() {
            StkQuery::Done { result_code, result_desc } => return (result_code, result_desc),
            StkQuery::Pending => {
                assert!(tokio::time::Instant::now() < deadline, "still pending");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A token obtained directly from the simulator.
async fn raw_token(base: &str) -> String {
    let resp: Value = reqwest::Client::new()
        .get(format!("{base}/oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth(KEY, Some(SECRET))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    resp["access_token"].as_str().unwrap().to_string()
}

/// A valid raw STK push body (paybill), to be spoiled by the tests.
fn raw_push_body(phone: &str, callback_url: &str) -> Value {
    let ts = Daraja::timestamp(Utc::now());
    json!({
        "BusinessShortCode": SHORTCODE,
        "Password": Daraja::password(SHORTCODE, PASSKEY, &ts),
        "Timestamp": ts,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 10,
        "PartyA": phone,
        "PartyB": SHORTCODE,
        "PhoneNumber": phone,
        "CallBackURL": callback_url,
        "AccountReference": "ACC1",
        "TransactionDesc": "Internet",
    })
}

async fn raw_post(base: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new().post(format!("{base}{path}")).bearer_auth(token).json(body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// (status, code, message) of a refusal.
fn refusal(err: &ProviderError) -> (u16, &str, &str) {
    match err {
        ProviderError::Refused { status, code, message } => (*status, code, message),
        other => panic!("not a refusal: {other:?}"),
    }
}

fn assert_error_shape(body: &Value, code: &str, message: &str) {
    let obj = body.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["errorCode", "errorMessage", "requestId"], "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert_eq!(body["errorMessage"], message, "{body}");
}

#[tokio::test]
async fn stk_push_success_callback_has_the_reference_shape() {
    let catcher = Catcher::start().await;
    let (sim, _base, client) = setup(fast(Outcome::Success, 1)).await;
    let accepted = client.stk_push(&push("0708374149", &catcher.at("/cb/stk/9f3c2a"))).await.unwrap();
    assert!(accepted.checkout_request_id.starts_with("ws_CO_"));
    assert!(!accepted.merchant_request_id.is_empty());
    assert_eq!(accepted.customer_message, "Success. Request accepted for processing");

    // What the client sent.
    let pushes = sim.pushes();
    assert_eq!(pushes.len(), 1);
    let sent = &pushes[0].body;
    assert_eq!(sent["PartyA"], "254708374149");
    assert_eq!(sent["PhoneNumber"], "254708374149");
    assert_eq!(sent["PartyB"], SHORTCODE);
    assert_eq!(sent["TransactionType"], "CustomerPayBillOnline");
    assert_eq!(sent["AccountReference"], "ACC10023-EXT");
    assert_eq!(sent["TransactionDesc"], "Internet subs");
    assert_eq!(sent["Password"], Daraja::password(SHORTCODE, PASSKEY, sent["Timestamp"].as_str().unwrap()));

    let hit = catcher.next().await;
    assert_eq!(hit.path, "/cb/stk/9f3c2a");
    assert!(hit.content_type.as_deref().unwrap().starts_with("application/json"));
    let body = hit.json();
    let top: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(top, ["Body"]);
    let cb = &body["Body"]["stkCallback"];
    let mut keys: Vec<&str> = cb.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["CallbackMetadata", "CheckoutRequestID", "MerchantRequestID", "ResultCode", "ResultDesc"]);
    assert_eq!(cb["CheckoutRequestID"], accepted.checkout_request_id.as_str());
    assert_eq!(cb["MerchantRequestID"], accepted.merchant_request_id.as_str());
    assert!(cb["ResultCode"].is_number());
    assert_eq!(cb["ResultCode"], 0);
    assert_eq!(cb["ResultDesc"], "The service request is processed successfully.");
    let items = cb["CallbackMetadata"]["Item"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Amount", "MpesaReceiptNumber", "Balance", "TransactionDate", "PhoneNumber"]);
    assert!(items[0]["Value"].is_number());
    assert_eq!(items[0]["Value"].as_f64(), Some(1500.0));
    let receipt = items[1]["Value"].as_str().unwrap();
    assert_eq!(receipt.len(), 10);
    assert!(receipt.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    assert_eq!(Some(receipt.to_string()), sim.pushes()[0].receipt);
    assert_eq!(items[2].as_object().unwrap().len(), 1, "Balance has no Value");
    let date = items[3]["Value"].as_u64().unwrap();
    assert_eq!(date.to_string().len(), 14);
    assert!(items[4]["Value"].is_number());
    assert_eq!(items[4]["Value"].as_u64(), Some(254_708_374_149));
    for item in items {
        assert!(item.as_object().unwrap().keys().all(|k| k == "Name" || k == "Value"));
    }

    // The crate's own decoder reads it.
    let parsed = StkCallback::parse(&hit.body).unwrap();
    assert!(parsed.is_paid());
    assert_eq!(parsed.amount_cents, Some(150_000));
    assert_eq!(parsed.receipt.as_deref(), Some(receipt));
    assert_eq!(parsed.phone.as_deref(), Some("254708374149"));
    assert_eq!(parsed.checkout_request_id, accepted.checkout_request_id);
    eventually(|| sim.pushes()[0].callbacks_delivered == 1).await;
}

#[tokio::test]
async fn every_outcome_gives_its_result_code_in_callback_and_query() {
    let catcher = Catcher::start().await;
    let (sim, _base, client) = setup(fast(Outcome::Success, 1)).await;
    let cases = [
        (Outcome::Success, 0, "254700000001"),
        (Outcome::Cancelled, 1032, "254700000002"),
        (Outcome::InsufficientFunds, 1, "254700000003"),
        (Outcome::Timeout, 1037, "254700000004"),
        (Outcome::WrongPin, 2001, "254700000005"),
    ];
    for (outcome, code, phone) in cases {
        sim.set_behaviour(fast(outcome, 1));
        let accepted = client.stk_push(&push(phone, &catcher.at("/cb"))).await.unwrap();
        let body = catcher.next().await.json();
        let cb = &body["Body"]["stkCallback"];
        assert_eq!(cb["ResultCode"], code, "{outcome:?}");
        assert_eq!(cb["ResultDesc"], outcome.result_desc());
        assert_eq!(cb["CheckoutRequestID"], accepted.checkout_request_id.as_str());
        assert_eq!(cb.get("CallbackMetadata").is_some(), outcome == Outcome::Success, "{outcome:?}");
        let (result_code, result_desc) = wait_done(&client, &accepted.checkout_request_id).await;
        assert_eq!(result_code, code.to_string());
        assert_eq!(result_desc, outcome.result_desc());
        let rec = sim.pushes().into_iter().find(|p| p.checkout_request_id == accepted.checkout_request_id).unwrap();
        assert_eq!(rec.receipt.is_some(), outcome == Outcome::Success);
    }
}

#[tokio::test]
async fn no_callback_is_recovered_by_query_and_duplicates_are_identical() {
    let catcher = Catcher::start().await;
    let (sim, _base, client) = setup(fast(Outcome::Success, 0)).await;
    let accepted = client.stk_push(&push("254711000001", &catcher.at("/cb"))).await.unwrap();
    let (code, _) = wait_done(&client, &accepted.checkout_request_id).await;
    assert_eq!(code, "0");
    assert!(catcher.quiet_for(Duration::from_millis(300)).await, "deliveries 0 sends nothing");

    sim.set_behaviour(fast(Outcome::Success, 2));
    let accepted = client.stk_push(&push("254711000002", &catcher.at("/cb"))).await.unwrap();
    let first = catcher.next().await.json();
    let second = catcher.next().await.json();
    assert_eq!(first, second);
    assert_eq!(first["Body"]["stkCallback"]["CheckoutRequestID"], accepted.checkout_request_id.as_str());
    assert!(catcher.quiet_for(Duration::from_millis(300)).await);
    eventually(|| sim.pushes()[1].callbacks_delivered == 2).await;
}

#[tokio::test]
async fn query_is_pending_until_the_outcome_is_decided() {
    let (sim, base, client) =
        setup(Behaviour { outcome: Outcome::Cancelled, deliveries: 0, delay: Duration::from_millis(1000) }).await;
    let accepted = client.stk_push(&push("254711000003", "https://billing.example.co.ke/cb/x")).await.unwrap();
    assert_eq!(client.stk_query(&accepted.checkout_request_id).await.unwrap(), StkQuery::Pending);

    // On the wire: HTTP 500, 500.001.1001 "The transaction is being processed".
    let ts = Daraja::timestamp(Utc::now());
    let q = json!({
        "BusinessShortCode": SHORTCODE,
        "Password": Daraja::password(SHORTCODE, PASSKEY, &ts),
        "Timestamp": ts,
        "CheckoutRequestID": accepted.checkout_request_id,
    });
    let token = raw_token(&base).await;
    let (status, body) = raw_post(&base, "/mpesa/stkpushquery/v1/query", &token, &q).await;
    assert_eq!(status, 500);
    assert_error_shape(&body, "500.001.1001", "The transaction is being processed");

    let (code, desc) = wait_done(&client, &accepted.checkout_request_id).await;
    assert_eq!((code.as_str(), desc.as_str()), ("1032", "Request cancelled by user"));
    let (status, body) = raw_post(&base, "/mpesa/stkpushquery/v1/query", &token, &q).await;
    assert_eq!(status, 200);
    assert_eq!(body["ResultCode"], "1032", "the query's ResultCode is a string");
    assert_eq!(body["ResponseCode"], "0");
    assert_eq!(body["ResponseDescription"], "The service request has been accepted successsfully");
    assert_eq!(body["MerchantRequestID"], sim.pushes()[0].merchant_request_id.as_str());
}

#[tokio::test]
async fn token_is_cached_shared_by_clones_and_refetched_when_invalid() {
    let (sim, _base, client) = setup(fast(Outcome::Success, 0)).await;
    let cb = "https://billing.example.co.ke/cb/x";
    client.stk_push(&push("254711000011", cb)).await.unwrap();
    client.stk_push(&push("254711000012", cb)).await.unwrap();
    let clone = client.clone();
    clone.stk_query(&sim.pushes()[0].checkout_request_id).await.unwrap();
    assert_eq!(sim.oauth_calls(), 1);

    sim.revoke_tokens();
    client.stk_push(&push("254711000013", cb)).await.unwrap();
    assert_eq!(sim.oauth_calls(), 2, "one refetch after 404.001.03");
    clone.stk_push(&push("254711000014", cb)).await.unwrap();
    assert_eq!(sim.oauth_calls(), 2, "the clone uses the new token");
    assert_eq!(sim.pushes().len(), 4);

    // C2B uses 400.003.01 for an invalid token; the client refetches there too.
    sim.revoke_tokens();
    client.register_c2b_urls("https://isp.example/cb/confirm/x", "https://isp.example/cb/validate/x").await.unwrap();
    assert_eq!(sim.oauth_calls(), 3);
}

#[tokio::test]
async fn oauth_refusals() {
    let (_sim, base, _client) = setup(Behaviour::default()).await;
    let http = reqwest::Client::new();
    let url = format!("{base}/oauth/v1/generate?grant_type=client_credentials");

    let resp = http.get(&url).bearer_auth("x").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_error_shape(&resp.json().await.unwrap(), "400.008.01", "Invalid Authentication passed");

    let resp = http
        .get(format!("{base}/oauth/v1/generate?grant_type=password"))
        .basic_auth(KEY, Some(SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_error_shape(&resp.json().await.unwrap(), "400.008.02", "Invalid grant type passed");

    let resp = http.get(&url).basic_auth(KEY, Some("wrong")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    let resp = http.get(&url).basic_auth(KEY, Some(SECRET)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(body["expires_in"], "3599");

    // Through the client: the OAuth refusal surfaces as Refused.
    let mut cfg = config(&base);
    cfg.consumer_secret = "wrong".into();
    let err = Daraja::new(cfg).stk_push(&push("254711000001", "https://isp.example/cb")).await.unwrap_err();
    assert!(matches!(&err, ProviderError::Refused { status: 400, code, .. } if code == "400.008.01"), "{err:?}");
    assert!(!err.is_ambiguous());
}

#[tokio::test]
async fn stk_push_refusals() {
    let (sim, base, client) = setup(fast(Outcome::Success, 0)).await;
    let token = raw_token(&base).await;
    let push_path = "/mpesa/stkpush/v1/processrequest";
    let cb = "https://billing.example.co.ke/cb/stk/1";
    let http = reqwest::Client::new();

    // Authorization.
    let resp = http.post(format!("{base}{push_path}")).json(&raw_push_body("254711000001", cb)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_error_shape(&resp.json().await.unwrap(), "404.001.04", "Invalid Authentication Header");
    let (status, body) = raw_post(&base, push_path, "not-a-token", &raw_push_body("254711000001", cb)).await;
    assert_eq!(status, 404);
    assert_error_shape(&body, "404.001.03", "Invalid Access Token");

    // Content type and payload.
    let resp = http
        .post(format!("{base}{push_path}"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(raw_push_body("254711000001", cb).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["errorCode"], "400.002.02");
    let resp = http
        .post(format!("{base}{push_path}"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_error_shape(&resp.json().await.unwrap(), "400.002.05", "Invalid Request Payload");

    // Field rules.
    let spoil = |field: &str, value: Value| {
        let mut b = raw_push_body("254711000001", cb);
        b[field] = value;
        b
    };
    let cases = [
        (spoil("PhoneNumber", json!("0711000001")), "Bad Request - Invalid PhoneNumber"),
        (spoil("PhoneNumber", json!("+254711000001")), "Bad Request - Invalid PhoneNumber"),
        (spoil("PartyA", json!("25471100000")), "Bad Request - Invalid PartyA"),
        (spoil("Amount", json!(0)), "Bad Request - Invalid Amount"),
        (spoil("Amount", json!("10.5")), "Bad Request - Invalid Amount"),
        (spoil("CallBackURL", json!("not a url")), "Bad Request - Invalid CallBackURL"),
        (spoil("CallBackURL", json!("ftp://isp.example/cb")), "Bad Request - Invalid CallBackURL"),
        (spoil("AccountReference", json!("ABCDEFGHIJKLM")), "Bad Request - Invalid AccountReference"),
        (spoil("TransactionDesc", json!("ABCDEFGHIJKLMN")), "Bad Request - Invalid TransactionDesc"),
        (spoil("TransactionType", json!("CustomerPayBill")), "Bad Request - Invalid TransactionType"),
        (spoil("Timestamp", json!("2025-03-01")), "Bad Request - Invalid Timestamp"),
        (spoil("BusinessShortCode", json!("12")), "Bad Request - Invalid BusinessShortCode"),
    ];
    for (body, message) in cases {
        let (status, resp) = raw_post(&base, push_path, &token, &body).await;
        assert_eq!(status, 400, "{message}");
        assert_error_shape(&resp, "400.002.02", message);
    }
    // Limits that are still accepted: 12 / 13 characters, numeric Amount as string, numbers as numbers.
    let mut ok = spoil("AccountReference", json!("ABCDEFGHIJKL"));
    ok["TransactionDesc"] = json!("ABCDEFGHIJKLM");
    ok["Amount"] = json!("1");
    ok["PartyA"] = json!(254_711_000_001_u64);
    let (status, resp) = raw_post(&base, push_path, &token, &ok).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["ResponseCode"], "0");

    // Credentials.
    let (status, resp) = raw_post(&base, push_path, &token, &spoil("Password", json!("d3Jvbmc="))).await;
    assert_eq!(status, 500);
    assert_error_shape(&resp, "500.001.1001", "Wrong credentials");
    let mut other_shortcode = spoil("BusinessShortCode", json!("600984"));
    other_shortcode["Password"] =
        json!(Daraja::password("600984", PASSKEY, other_shortcode["Timestamp"].as_str().unwrap()));
    let (status, resp) = raw_post(&base, push_path, &token, &other_shortcode).await;
    assert_eq!(status, 500);
    assert_error_shape(&resp, "500.001.1001", "Merchant does not exist");

    // Wrong passkey through the client.
    let mut cfg = config(&base);
    cfg.passkey = "wrong".into();
    let err = Daraja::new(cfg).stk_push(&push("254711000009", cb)).await.unwrap_err();
    assert_eq!(refusal(&err), (500, "500.001.1001", "Wrong credentials"));
    assert!(!err.is_ambiguous(), "a definite 500.001.1001");

    // Our own validation.
    let err = client.stk_push(&push("12345", cb)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Config(_)), "{err:?}");
    let mut zero = push("254711000001", cb);
    zero.amount = 0;
    assert!(matches!(client.stk_push(&zero).await.unwrap_err(), ProviderError::Config(_)));
    assert_eq!(sim.pushes().len(), 1);
}

#[tokio::test]
async fn second_push_to_the_same_phone_is_locked_until_decided() {
    let (_sim, _base, client) =
        setup(Behaviour { outcome: Outcome::Success, deliveries: 0, delay: Duration::from_millis(1000) }).await;
    let cb = "https://billing.example.co.ke/cb/stk/1";
    let first = client.stk_push(&push("254711000021", cb)).await.unwrap();
    let err = client.stk_push(&push("0711000021", cb)).await.unwrap_err();
    match &err {
        ProviderError::Refused { status, code, message } => {
            assert_eq!((*status, code.as_str()), (500, "500.001.1001"));
            assert_eq!(
                message,
                "Unable to lock subscriber, a transaction is already in process for the current subscriber"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_ambiguous());
    // Another phone is fine.
    client.stk_push(&push("254711000022", cb)).await.unwrap();
    // After the first is decided, the phone is free again.
    wait_done(&client, &first.checkout_request_id).await;
    client.stk_push(&push("254711000021", cb)).await.unwrap();
}

#[tokio::test]
async fn query_refusals() {
    let (_sim, base, client) = setup(fast(Outcome::Success, 0)).await;
    let err = client.stk_query("ws_CO_000000").await.unwrap_err();
    assert_eq!(refusal(&err), (400, "400.002.02", "Bad Request - Invalid CheckoutRequestID"));
    let token = raw_token(&base).await;
    let ts = Daraja::timestamp(Utc::now());
    let q = json!({ "BusinessShortCode": SHORTCODE, "Password": "eA==", "Timestamp": ts, "CheckoutRequestID": "x" });
    let (status, body) = raw_post(&base, "/mpesa/stkpushquery/v1/query", &token, &q).await;
    assert_eq!(status, 500);
    assert_error_shape(&body, "500.001.1001", "Wrong credentials");
}

#[tokio::test]
async fn till_and_paybill_mixup() {
    let catcher = Catcher::start().await;
    let (sim, base, _client) = setup(fast(Outcome::Success, 1)).await;
    let mut cfg = config(&base);
    cfg.till_number = Some("5123456".into());
    let till = Daraja::new(cfg);
    till.stk_push(&push("254711000031", &catcher.at("/till"))).await.unwrap();
    let body = &sim.pushes()[0].body;
    assert_eq!(body["TransactionType"], "CustomerBuyGoodsOnline");
    assert_eq!(body["PartyB"], "5123456");
    assert_eq!(body["BusinessShortCode"], SHORTCODE);
    assert_eq!(catcher.next().await.json()["Body"]["stkCallback"]["ResultCode"], 0);

    // A paybill push with a PartyB other than the shortcode ends with 2028.
    let token = raw_token(&base).await;
    let mut b = raw_push_body("254711000032", &catcher.at("/mix"));
    b["PartyB"] = json!("5123456");
    let (status, _) = raw_post(&base, "/mpesa/stkpush/v1/processrequest", &token, &b).await;
    assert_eq!(status, 200);
    let cb = catcher.next().await.json();
    assert_eq!(cb["Body"]["stkCallback"]["ResultCode"], 2028);
    assert!(cb["Body"]["stkCallback"].get("CallbackMetadata").is_none());
}

#[tokio::test]
async fn c2b_register_validate_confirm() {
    let catcher = Catcher::start().await;
    let (sim, _base, client) = setup(Behaviour::default()).await;

    // No URLs registered: the payment completes and nobody is told.
    let id = sim.c2b_pay("0711000041", 100, "ACC1").await.unwrap();
    assert_eq!(id.len(), 10);
    assert!(catcher.quiet_for(Duration::from_millis(200)).await);

    let confirm = catcher.at("/cb/c2b/confirm/9f3c2a");
    let validate = catcher.at("/cb/c2b/validate/9f3c2a");
    client.register_c2b_urls(&confirm, &validate).await.unwrap();
    let reg = sim.c2b_registration().unwrap();
    assert_eq!(reg.response_type, "Completed");
    assert_eq!(reg.short_code, SHORTCODE);
    assert_eq!(reg.validation_url.as_deref(), Some(validate.as_str()));

    catcher.reply(
        "/cb/c2b/validate/9f3c2a",
        json!({ "ResultCode": "0", "ResultDesc": "Accepted", "ThirdPartyTransID": "BN-77" }),
    );
    let trans_id = sim.c2b_pay("+254712345126", 1500, "acc10023 ").await.unwrap();
    let v = catcher.next().await;
    assert_eq!(v.path, "/cb/c2b/validate/9f3c2a");
    let c = catcher.next().await;
    assert_eq!(c.path, "/cb/c2b/confirm/9f3c2a");
    for hit in [&v, &c] {
        let body = hit.json();
        let obj = body.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        let mut expected = [
            "TransactionType",
            "TransID",
            "TransTime",
            "TransAmount",
            "BusinessShortCode",
            "BillRefNumber",
            "InvoiceNumber",
            "OrgAccountBalance",
            "ThirdPartyTransID",
            "MSISDN",
            "FirstName",
            "MiddleName",
            "LastName",
        ];
        expected.sort_unstable();
        assert_eq!(sorted, expected);
        assert!(obj.values().all(Value::is_string), "every C2B field is a string: {body}");
        assert_eq!(body["TransID"], trans_id.as_str());
        assert_eq!(body["TransAmount"], "1500.00");
        assert_eq!(body["MSISDN"], "2547 ***** 126");
        assert_eq!(body["BillRefNumber"], "acc10023");
        assert_eq!(body["TransactionType"], "Pay Bill");
        assert_eq!(body["BusinessShortCode"], SHORTCODE);
        assert_eq!(body["TransTime"].as_str().unwrap().len(), 14);
    }
    assert_eq!(v.json()["OrgAccountBalance"], "", "blank in validation");
    assert_eq!(c.json()["OrgAccountBalance"], "1600.00");
    assert_eq!(c.json()["ThirdPartyTransID"], "BN-77", "echoed from the validation reply");
    let parsed = C2bNotification::parse(&c.body).unwrap();
    assert_eq!(parsed.amount_cents(), Some(150_000));
    assert_eq!(sim.c2b_payments().len(), 2);
    assert!(sim.c2b_payments()[1].confirmation_delivered);

    // Validation refuses: no confirmation.
    catcher.reply("/cb/c2b/validate/9f3c2a", json!({ "ResultCode": "C2B00012", "ResultDesc": "Rejected" }));
    let err = sim.c2b_pay("0712345126", 50, "NOPE").await.unwrap_err();
    assert!(err.contains("C2B00012"), "{err}");
    assert_eq!(catcher.next().await.path, "/cb/c2b/validate/9f3c2a");
    assert!(catcher.quiet_for(Duration::from_millis(200)).await);

    // Registered without a validation URL: confirmation only.
    client.register_c2b_urls(&confirm, "").await.unwrap();
    sim.c2b_pay("0712345126", 20, "ACC2").await.unwrap();
    assert_eq!(catcher.next().await.path, "/cb/c2b/confirm/9f3c2a");
    assert!(catcher.quiet_for(Duration::from_millis(200)).await);

    assert!(sim.c2b_pay("12", 20, "ACC2").await.is_err());
    assert!(sim.c2b_pay("0712345126", 0, "ACC2").await.is_err());
}

#[tokio::test]
async fn c2b_registration_refusals() {
    let (sim, base, client) = setup(Behaviour::default()).await;
    for bad in [
        "https://isp.example/api/payments/mpesa/callback",
        "https://isp.example/cb/M-PESA",
        "https://isp.example/Safaricom/cb",
        "https://isp.example/cb?query=1",
        "https://isp.example/cb/cmd",
        "https://isp.example/cb/SQL",
        "https://isp.example/setup.exe",
        "not a url",
    ] {
        let err = client.register_c2b_urls(bad, "https://isp.example/cb/validate").await.unwrap_err();
        assert_eq!(refusal(&err), (400, "400.002.02", "Bad Request - Invalid ConfirmationURL"), "{bad}");
        let err = client.register_c2b_urls("https://isp.example/cb/confirm", bad).await.unwrap_err();
        assert_eq!(refusal(&err), (400, "400.002.02", "Bad Request - Invalid ValidationURL"), "{bad}");
    }
    assert!(sim.c2b_registration().is_none());

    let token = raw_token(&base).await;
    let (status, body) = raw_post(
        &base,
        "/mpesa/c2b/v2/registerurl",
        &token,
        &json!({ "ShortCode": SHORTCODE, "ResponseType": "completed", "ConfirmationURL": "https://isp.example/cb/c" }),
    )
    .await;
    assert_eq!(status, 400);
    assert_error_shape(&body, "400.002.02", "Bad Request - Invalid ResponseType");
    let (status, body) = raw_post(&base, "/mpesa/c2b/v2/registerurl", "stale", &json!({})).await;
    assert_eq!(status, 400);
    assert_error_shape(&body, "400.003.01", "Invalid Access Token");

    // v1 path, and the reply's misspelt key.
    let (status, body) = raw_post(
        &base,
        "/mpesa/c2b/v1/registerurl",
        &token,
        &json!({
            "ShortCode": SHORTCODE,
            "ResponseType": "Cancelled",
            "ConfirmationURL": "https://isp.example/cb/c",
            "ValidationURL": "https://isp.example/cb/v",
        }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["ResponseCode"], "0");
    assert_eq!(body["ResponseDescription"], "Success");
    assert!(body["OriginatorCoversationID"].is_string());

    // Production's one-shot rule.
    sim.set_c2b_one_shot(true);
    let err = client.register_c2b_urls("https://isp.example/cb/c", "https://isp.example/cb/v").await.unwrap_err();
    assert_eq!(refusal(&err), (500, "500.003.1001", "Urls are already registered"));
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let (_sim, base, _client) = setup(Behaviour::default()).await;
    let http = reqwest::Client::new();
    let resp = http.post(format!("{base}/mpesa/nothing/v1")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_error_shape(&resp.json().await.unwrap(), "404.001.01", "Resource not found");
    let resp = http.get(format!("{base}/mpesa/stkpush/v1/processrequest")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["errorCode"], "404.001.04");
    let resp = http.put(format!("{base}/mpesa/stkpush/v1/processrequest")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.json::<Value>().await.unwrap()["errorCode"], "405.001");
}

#[tokio::test]
async fn http_control_surface() {
    let catcher = Catcher::start().await;
    let (sim, base, client) = setup(Behaviour::default()).await;
    let http = reqwest::Client::new();
    let resp: Value = http
        .post(format!("{base}/simulator/behaviour"))
        .json(&json!({ "outcome": "wrong_pin", "deliveries": 2, "delay_ms": 50 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp, json!({ "outcome": "wrong_pin", "deliveries": 2, "delay_ms": 50 }));
    assert_eq!(sim.behaviour().outcome, Outcome::WrongPin);
    client.stk_push(&push("254711000051", &catcher.at("/cb"))).await.unwrap();
    assert_eq!(catcher.next().await.json()["Body"]["stkCallback"]["ResultCode"], 2001);
    assert_eq!(catcher.next().await.json()["Body"]["stkCallback"]["ResultCode"], 2001);

    client.register_c2b_urls(&catcher.at("/confirm"), "").await.unwrap();
    let resp = http
        .post(format!("{base}/simulator/c2b"))
        .json(&json!({ "msisdn": "0711000052", "amount": 300, "bill_ref": "ACC9" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let trans_id = resp.json::<Value>().await.unwrap()["TransID"].as_str().unwrap().to_string();
    assert_eq!(catcher.next().await.json()["TransID"], trans_id.as_str());

    let state: Value = http.get(format!("{base}/simulator/state")).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["oauth_calls"], 1);
    assert_eq!(state["pushes"].as_array().unwrap().len(), 1);
    assert_eq!(state["pushes"][0]["result_code"], "2001");
    assert_eq!(state["c2b_payments"][0]["payload"]["TransID"], trans_id.as_str());

    let resp = http.post(format!("{base}/simulator/revoke-tokens")).send().await.unwrap();
    assert!(resp.status().is_success());
    client.stk_query(&sim.pushes()[0].checkout_request_id).await.unwrap();
    assert_eq!(sim.oauth_calls(), 2);
}
