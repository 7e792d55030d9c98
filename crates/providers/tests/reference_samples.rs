#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The reference documents' own JSON samples, read by the client decoders (lenient typing).

use broadnet_providers::ProviderError;
use broadnet_providers::airtel::{self, AirtelCallback, ApiResponse};
use broadnet_providers::daraja::{self, C2bNotification, ErrorBody, StkCallback, StkPushResponse, StkQuery};
use broadnet_providers::sms::{self, DeliveryReport};

// ---- M-Pesa Daraja (mpesa-daraja.md) ----

#[test]
fn daraja_token_expires_in_string_or_number() {
    let t =
        daraja::TokenResponse::parse(br#"{ "access_token": "c9SQxWWhmdVRlyh0zh8gZDTkubVF", "expires_in": "3599" }"#)
            .unwrap();
    assert_eq!(t.access_token, "c9SQxWWhmdVRlyh0zh8gZDTkubVF");
    assert_eq!(t.expires_in, Some(3599));
    let t = daraja::TokenResponse::parse(br#"{ "access_token": "c9SQxWWhmdVRlyh0zh8gZDTkubVF", "expires_in": 3599 }"#)
        .unwrap();
    assert_eq!(t.expires_in, Some(3599));
}

#[test]
fn daraja_stk_push_response() {
    let r = StkPushResponse::parse(
        br#"{
  "MerchantRequestID": "2654-4b64-97ff-b827b542881d3130",
  "CheckoutRequestID": "ws_CO_1007202409152617172396192",
  "ResponseCode": "0",
  "ResponseDescription": "Success. Request accepted for processing",
  "CustomerMessage": "Success. Request accepted for processing"
}"#,
    )
    .unwrap();
    assert_eq!(r.checkout_request_id, "ws_CO_1007202409152617172396192");
    assert_eq!(r.response_code, "0");
    let r =
        StkPushResponse::parse(br#"{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"x","ResponseCode":0}"#)
            .unwrap();
    assert_eq!(r.response_code, "0");
}

#[test]
fn daraja_callback_success_sample() {
    let cb = StkCallback::parse(
        br#"{
  "Body": {
    "stkCallback": {
      "MerchantRequestID": "29115-34620561-1",
      "CheckoutRequestID": "ws_CO_191220191020363925",
      "ResultCode": 0,
      "ResultDesc": "The service request is processed successfully.",
      "CallbackMetadata": {
        "Item": [
          { "Name": "Amount", "Value": 1500.00 },
          { "Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV" },
          { "Name": "Balance" },
          { "Name": "TransactionDate", "Value": 20250301143027 },
          { "Name": "PhoneNumber", "Value": 254708374149 }
        ]
      }
    }
  }
}"#,
    )
    .unwrap();
    assert!(cb.is_paid());
    assert_eq!(cb.result_code, "0");
    assert_eq!(cb.merchant_request_id, "29115-34620561-1");
    assert_eq!(cb.checkout_request_id, "ws_CO_191220191020363925");
    assert_eq!(cb.amount_cents, Some(150_000));
    assert_eq!(cb.receipt.as_deref(), Some("NLJ7RT61SV"));
    assert_eq!(cb.transaction_date.as_deref(), Some("20250301143027"));
    assert_eq!(cb.phone.as_deref(), Some("254708374149"));
}

#[test]
fn daraja_callback_failure_sample_and_variants() {
    let cb = StkCallback::parse(
        br#"{
  "Body": {
    "stkCallback": {
      "MerchantRequestID": "f1e2-4b95-a71d-b30d3cdbb7a7942864",
      "CheckoutRequestID": "ws_CO_21072024125243250722943992",
      "ResultCode": 1032,
      "ResultDesc": "Request cancelled by user"
    }
  }
}"#,
    )
    .unwrap();
    assert!(!cb.is_paid());
    assert_eq!(cb.result_code, "1032");
    assert_eq!(cb.receipt, None);
    assert_eq!(cb.amount_cents, None);

    // ResultCode as a string, an alphanumeric code, items out of order, Amount as 1.
    let cb = StkCallback::parse(
        br#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_1","ResultCode":"SFC_IC0003","ResultDesc":"The operator does not exist."}}}"#,
    )
    .unwrap();
    assert_eq!(cb.result_code, "SFC_IC0003");
    let cb = StkCallback::parse(
        br#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_1","ResultCode":"0","ResultDesc":"ok",
            "CallbackMetadata":{"Item":[{"Name":"PhoneNumber","Value":254708374149},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},{"Name":"Amount","Value":1}]}}}}"#,
    )
    .unwrap();
    assert!(cb.is_paid());
    assert_eq!(cb.amount_cents, Some(100));
    assert_eq!(cb.receipt.as_deref(), Some("NLJ7RT61SV"));
    assert_eq!(cb.transaction_date, None);
}

#[test]
fn daraja_query_samples() {
    let done = daraja::decode_stk_query(
        200,
        br#"{
  "ResponseCode": "0",
  "ResponseDescription": "The service request has been accepted successsfully",
  "MerchantRequestID": "22205-34066-1",
  "CheckoutRequestID": "ws_CO_13012021093521236557",
  "ResultCode": "1032",
  "ResultDesc": "Request cancelled by user"
}"#,
    )
    .unwrap();
    assert_eq!(done, StkQuery::Done { result_code: "1032".into(), result_desc: "Request cancelled by user".into() });
    // A number is accepted too.
    let done = daraja::decode_stk_query(200, br#"{"ResponseCode":0,"ResultCode":0,"ResultDesc":"ok"}"#).unwrap();
    assert_eq!(done, StkQuery::Done { result_code: "0".into(), result_desc: "ok".into() });
    // Still open.
    let pending = daraja::decode_stk_query(
        500,
        br#"{"requestId":"1c5b-4ba8-815c-ac45c57a3db01495926","errorCode":"500.001.1001","errorMessage":"The transaction is being processed"}"#,
    )
    .unwrap();
    assert_eq!(pending, StkQuery::Pending);
    // Spike arrest is an error, and ambiguous.
    let err = daraja::decode_stk_query(
        500,
        br#"{"requestId":"x","errorCode":"500.003.02","errorMessage":"Spike Arrest Violation"}"#,
    )
    .unwrap_err();
    assert!(matches!(&err, ProviderError::Refused { status: 500, code, .. } if code == "500.003.02"));
    assert!(err.is_ambiguous());
    // A 5xx we cannot read: unknown outcome.
    let err = daraja::decode_stk_query(502, b"<html>Bad Gateway</html>").unwrap_err();
    assert!(matches!(err, ProviderError::Unreachable(_)));
}

#[test]
fn daraja_error_sample() {
    let e: ErrorBody = serde_json::from_str(
        r#"{ "requestId": "1c5b-4ba8-815c-ac45c57a3db01495926", "errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid BusinessShortCode" }"#,
    )
    .unwrap();
    assert_eq!(e.error_code, "400.002.02");
    assert_eq!(e.error_message, "Bad Request - Invalid BusinessShortCode");
}

#[test]
fn daraja_c2b_sample() {
    let n = C2bNotification::parse(
        br#"{
  "TransactionType": "Pay Bill",
  "TransID": "RKL51ZDR4F",
  "TransTime": "20231121121325",
  "TransAmount": "5.00",
  "BusinessShortCode": "600966",
  "BillRefNumber": "ACC10023",
  "InvoiceNumber": "",
  "OrgAccountBalance": "25.00",
  "ThirdPartyTransID": "",
  "MSISDN": "2547 ***** 126",
  "FirstName": "NICHOLAS",
  "MiddleName": "",
  "LastName": ""
}"#,
    )
    .unwrap();
    assert_eq!(n.trans_id, "RKL51ZDR4F");
    assert_eq!(n.amount_cents(), Some(500));
    assert_eq!(n.msisdn, "2547 ***** 126");
    // Older samples: amount "10" or even a number; missing fields.
    let n = C2bNotification::parse(br#"{"TransID":"X1","TransAmount":10,"BusinessShortCode":600966}"#).unwrap();
    assert_eq!(n.amount_cents(), Some(1000));
    assert_eq!(n.business_short_code, "600966");
    assert_eq!(n.first_name, "");
}

// ---- Airtel Money (airtel-money.md) ----

#[test]
fn airtel_token_expires_in_string_or_number() {
    let t = airtel::TokenResponse::parse(
        br#"{ "access_token": "UCLcp1oeq44KPXr8X*******xCzki2w", "expires_in": "180", "token_type": "bearer" }"#,
    )
    .unwrap();
    assert_eq!(t.expires_in, Some(180));
    assert_eq!(t.token_type.as_deref(), Some("bearer"));
    let t = airtel::TokenResponse::parse(br#"{ "access_token": "x", "expires_in": 3600 }"#).unwrap();
    assert_eq!(t.expires_in, Some(3600));
}

#[test]
fn airtel_push_answers() {
    let ok = ApiResponse::parse(
        br#"{
  "data": { "transaction": { "id": "bn-7f3a9c2e41d0", "status": "SUCCESS" } },
  "status": {
    "code": "200",
    "message": "SUCCESS",
    "result_code": "ESB000010",
    "response_code": "DP00800001006",
    "success": true
  }
}"#,
    )
    .unwrap();
    assert!(ok.push_accepted());
    // Airtel's own sample with "id": false, and status.code as a number.
    let odd = ApiResponse::parse(
        br#"{"data":{"transaction":{"id":false,"status":"SUCCESS"}},"status":{"code":200,"message":"SUCCESS","result_code":"ESB000010","response_code":"DP00800001006","success":true}}"#,
    )
    .unwrap();
    assert!(odd.push_accepted());
    let tx = odd.data.unwrap().transaction.unwrap();
    assert_eq!(tx.id, None);
    assert_eq!(odd.status.unwrap().code.as_deref(), Some("200"));

    let refused = ApiResponse::parse(
        br#"{ "status": { "response_code": "DP00800001005", "code": "400", "success": false, "message": "Msisdn Not Found" } }"#,
    )
    .unwrap();
    assert!(!refused.push_accepted());
}

#[test]
fn airtel_enquiry_samples() {
    let ts = airtel::decode_enquiry(
        200,
        br#"{
  "data": {
    "transaction": {
      "airtel_money_id": "C36*******67",
      "id": "bn-7f3a9c2e41d0",
      "message": "success",
      "status": "TS"
    }
  },
  "status": {
    "code": "200",
    "message": "SUCCESS",
    "result_code": "ESB000010",
    "response_code": "DP00800001006",
    "success": true
  }
}"#,
    )
    .unwrap();
    assert_eq!(ts.status, "TS");
    assert_eq!(ts.airtel_money_id.as_deref(), Some("C36*******67"));
    assert_eq!(ts.message.as_deref(), Some("success"));
    let tf = airtel::decode_enquiry(
        200,
        br#"{
  "data": { "transaction": { "airtel_money_id": "C36*******67", "id": "bn-7f3a9c2e41d0", "status": "TF" } },
  "status": { "response_code": "DP00800001005", "code": "200", "success": false, "message": "FAILED" }
}"#,
    )
    .unwrap();
    assert_eq!(tf.status, "TF");
    assert!(tf.is_final());
    // "success": false alongside TS: the transaction status decides.
    let ts = airtel::decode_enquiry(
        200,
        br#"{"data":{"transaction":{"id":"x","status":"TS"}},"status":{"code":200,"success":"false","message":"x"}}"#,
    )
    .unwrap();
    assert!(ts.is_success());
}

#[test]
fn airtel_errors_and_ambiguity() {
    // The Zambia doc's 500 example arrives with HTTP 200: reported as status 500, ambiguous.
    let err = airtel::decode_enquiry(
        200,
        br#"{ "status": { "response_code": "DP00800001005", "code": "500", "success": false, "message": "Something Went Wrong" } }"#,
    )
    .unwrap_err();
    assert!(matches!(&err, ProviderError::Refused { status: 500, code, .. } if code == "DP00800001005"), "{err:?}");
    assert!(err.is_ambiguous());
    let err = airtel::decode_enquiry(
        200,
        br#"{"status":{"code":"200","result_code":"ESB000001","success":false,"message":"Something went wrong"}}"#,
    )
    .unwrap_err();
    assert!(matches!(&err, ProviderError::Refused { code, .. } if code == "ESB000001"));
    assert!(err.is_ambiguous());
}

#[test]
fn airtel_refund_sample_decodes() {
    let r = ApiResponse::parse(
        br#"{
  "data": { "transaction": { "airtel_money_id": "CI210104.1549.C00029", "status": "SUCCESS" } },
  "status": { "code": "200", "message": "SUCCESS", "result_code": "ESB000010", "success": true }
}"#,
    )
    .unwrap();
    assert_eq!(r.data.unwrap().transaction.unwrap().airtel_money_id.as_deref(), Some("CI210104.1549.C00029"));
}

#[test]
fn airtel_callback_samples() {
    let cb = AirtelCallback::parse(
        br#"{
  "transaction": {
    "id": "bn-7f3a9c2e41d0",
    "message": "Paid KES 1,500 to EXAMPLE ISP LTD Charge KES 0, Trans ID MP210603.1234.L06941.",
    "status_code": "TS",
    "airtel_money_id": "MP210603.1234.L06941"
  }
}"#,
    )
    .unwrap();
    assert_eq!(cb.id, "bn-7f3a9c2e41d0");
    assert!(cb.is_success());
    assert_eq!(cb.airtel_money_id.as_deref(), Some("MP210603.1234.L06941"));
    assert_eq!(cb.hash, None);
    let raw = br#"{
  "transaction": {
    "id": "bn-7f3a9c2e41d0",
    "message": "Paid KES 1,500 to EXAMPLE ISP LTD ...",
    "status_code": "TS",
    "airtel_money_id": "MP210603.1234.L06941"
  },
  "hash": "zITVAAGYSlzl1WkUQJn81kbpT5drH3koffT8jCkcJJA="
}"#;
    let cb = AirtelCallback::parse(raw).unwrap();
    assert_eq!(cb.hash.as_deref(), Some("zITVAAGYSlzl1WkUQJn81kbpT5drH3koffT8jCkcJJA="));
    // The doc's hash is a placeholder: it verifies with no plausible key.
    assert!(!airtel::Airtel::verify_callback_hash("private-key", raw));
}

// ---- Africa's Talking (africastalking-sms.md) ----

#[test]
fn at_send_sample() {
    let r = sms::decode_send(
        201,
        br#"{
  "SMSMessageData": {
    "Message": "Sent to 1/2 Total Cost: KES 0.8000",
    "Recipients": [
      {
        "statusCode": 101,
        "number": "+254711000001",
        "status": "Success",
        "cost": "KES 0.8000",
        "messageId": "ATXid_2f0c8c1e6c4e2b4f2f3a1b7d9e5c0a11"
      },
      {
        "statusCode": 403,
        "number": "+254733000002",
        "status": "InvalidPhoneNumber",
        "cost": "0",
        "messageId": "None"
      }
    ]
  }
}"#,
    )
    .unwrap();
    assert_eq!(r.len(), 2);
    assert!(r[0].is_sent());
    assert_eq!(r[0].message_id.as_deref(), Some("ATXid_2f0c8c1e6c4e2b4f2f3a1b7d9e5c0a11"));
    assert_eq!(r[0].cost.as_deref(), Some("KES 0.8000"));
    assert!(!r[1].is_sent());
    assert!(!r[1].is_retryable());
    assert_eq!(r[1].message_id, None);
    // statusCode as a string.
    let r = sms::decode_send(
        201,
        br#"{"SMSMessageData":{"Message":"x","Recipients":[{"statusCode":"102","number":"+254711000001","status":"Success","cost":"KES 0.8000","messageId":"ATPid_1"}]}}"#,
    )
    .unwrap();
    assert_eq!(r[0].status_code, 102);
}

#[test]
fn at_other_answers() {
    let err = sms::decode_send(401, b"The supplied authentication is invalid").unwrap_err();
    assert!(
        matches!(&err, ProviderError::Refused { status: 401, code, message } if code == "401" && message == "The supplied authentication is invalid")
    );
    let err =
        sms::decode_send(201, br#"{"SMSMessageData":{"Message":"InvalidPhoneNumber","Recipients":[]}}"#).unwrap_err();
    assert!(matches!(&err, ProviderError::Refused { code, .. } if code == "InvalidPhoneNumber"));
    // Nigeria DND: HTTP 409 with per-recipient results.
    let r = sms::decode_send(
        409,
        br#"{"SMSMessageData":{"Message":"x","Recipients":[{"statusCode":409,"number":"+2348012345678","status":"DoNotDisturbRejection","cost":"0","messageId":"None"}]}}"#,
    )
    .unwrap();
    assert_eq!(r[0].status_code, 409);
    let err = sms::decode_send(503, b"maintenance").unwrap_err();
    assert!(err.is_ambiguous());
    let err = sms::decode_send(201, b"<xml/>").unwrap_err();
    assert!(matches!(err, ProviderError::Decode(_)));
}

#[test]
fn at_delivery_report_sample() {
    // The doc's decoded example, form-encoded.
    let raw = b"id=ATXid_2f0c8c1e6c4e2b4f2f3a1b7d9e5c0a11&status=Success&phoneNumber=%2B254711000001&networkCode=63902&retryCount=0";
    let r = DeliveryReport::parse(raw).unwrap();
    assert_eq!(r.id, "ATXid_2f0c8c1e6c4e2b4f2f3a1b7d9e5c0a11");
    assert_eq!(r.status, "Success");
    assert_eq!(r.phone_number, "+254711000001");
    assert_eq!(r.network_code.as_deref(), Some("63902"));
    assert_eq!(r.retry_count, Some(0));
    assert!(r.is_final());
    let r =
        DeliveryReport::parse(b"id=ATXid_1&status=Failed&phoneNumber=%2B254711000001&failureReason=UserInBlackList")
            .unwrap();
    assert_eq!(r.failure_reason.as_deref(), Some("UserInBlackList"));
    let r = DeliveryReport::parse(b"id=ATXid_1&status=Buffered&phoneNumber=%2B254711000001").unwrap();
    assert!(!r.is_final());
    assert!(DeliveryReport::parse(b"status=Success").is_none());
}

#[test]
fn phone_normalisation_per_provider() {
    use broadnet_providers::phone;
    assert_eq!(phone::subscriber("+254733123456").as_deref(), Some("733123456"));
    assert_eq!(phone::subscriber("254733123456").as_deref(), Some("733123456"));
    assert_eq!(phone::subscriber("0733123456").as_deref(), Some("733123456"));
    assert_eq!(phone::subscriber("733123456").as_deref(), Some("733123456"));
    assert_eq!(phone::msisdn("0708374149").as_deref(), Some("254708374149"));
    assert_eq!(phone::international("254711000001").as_deref(), Some("+254711000001"));
    assert_eq!(sms::normalise_number("0711000001").as_deref(), Some("+254711000001"));
    assert_eq!(phone::subscriber("+255733123456"), None);
}
