//! Vouchers through the JSON API, on the backend `BROADNET_TEST_DB` names (the test
//! command runs this suite on SQLite, PostgreSQL and MariaDB): batches checked field
//! by field, 10,000 codes made at once, counts, revoking with a reason, the CSV.

use broadnet_domain::Clock;
use broadnet_store::VoucherRepo;
use broadnet_testkit::app::TestApp;
use serde_json::{Value, json};
use std::collections::HashSet;

/// A hotspot package sold as vouchers: KES 50 for a day, two devices.
async fn day_pass(app: &TestApp, name: &str) -> i64 {
    app.package(name).price("50").duration("1d").service_type("hotspot").set("shared_users", json!(2)).create().await
}

/// `GET` as the superadmin; the raw body as text.
async fn text(app: &TestApp, path: &str) -> (u16, String, String) {
    let resp = app.http.get(format!("{}{path}", app.base)).bearer_auth(&app.token).send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ctype, resp.text().await.unwrap())
}

/// The rows of a CSV export (BOM and header checked, CRLF line ends).
fn csv_rows(body: &str) -> Vec<Vec<String>> {
    let body = body.strip_prefix('\u{feff}').expect("a UTF-8 byte-order mark for spreadsheets");
    assert!(body.ends_with("\r\n"), "RFC 4180 line ends");
    let mut lines = body.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some("code,pin,package,price,status,used_at,expires_at"));
    lines.map(parse_csv_line).collect()
}

/// One RFC 4180 line.
fn parse_csv_line(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[tokio::test]
async fn a_batch_is_checked_field_by_field_and_10000_codes_are_distinct() {
    let app = TestApp::start().await;
    let pkg = day_pass(&app, "Day pass").await;
    let pppoe = app.package("Home 10M").service_type("pppoe").create().await;

    // Every refusal names its field, and nothing is made.
    let bad = [
        (json!({"package_id": pppoe, "quantity": 5}), "package_id"),
        (json!({"package_id": 999_999, "quantity": 5}), "package_id"),
        (json!({"package_id": pkg, "quantity": 0}), "quantity"),
        (json!({"package_id": pkg, "quantity": 10_001}), "quantity"),
        (json!({"package_id": pkg}), "quantity"),
        (json!({"package_id": pkg, "quantity": 10_000, "code_length": 6}), "code_length"),
        (json!({"package_id": pkg, "quantity": 5, "prefix": "WIFI0"}), "prefix"),
        (json!({"package_id": pkg, "quantity": 5, "prefix": "TOOLONGXX"}), "prefix"),
        (json!({"package_id": pkg, "quantity": 5, "charset": "emoji"}), "charset"),
        (json!({"package_id": pkg, "quantity": 5, "mode": "pin", "pin_length": 3}), "pin_length"),
        (json!({"package_id": pkg, "quantity": 5, "validity": "fixed"}), "valid_until"),
        (json!({"package_id": pkg, "quantity": 5, "validity": "fixed", "valid_until": "2026-11-01"}), "valid_until"),
        (json!({"package_id": pkg, "quantity": 5, "valid_until": "2027-01-01"}), "valid_until"),
        (json!({"package_id": pkg, "quantity": 5, "max_devices": 0}), "max_devices"),
        (json!({"package_id": pkg, "quantity": 5, "price": "-1"}), "price"),
        (json!({"package_id": pkg, "quantity": 5, "colour": "red"}), "colour"),
    ];
    for (body, field) in bad {
        let (st, r) = app.call("POST", "/api/vouchers/batches", Some(body.clone())).await;
        assert_eq!(st, 422, "{body}: {r}");
        let msgs = &r["error"]["fields"][field];
        assert!(msgs.as_array().is_some_and(|m| !m.is_empty()), "{body}: {field} in {r}");
    }
    let (_, r) = app
        .call("POST", "/api/vouchers/batches", Some(json!({"package_id": pkg, "quantity": 10_000, "code_length": 6})))
        .await;
    assert!(r["error"]["fields"]["code_length"][0].as_str().unwrap().contains("8 characters"), "{r}");
    let (st, list) = app.call("GET", "/api/vouchers/batches", None).await;
    assert_eq!((st, list["total"].as_u64()), (200, Some(0)), "{list}");

    // The largest batch, with every default.
    let (st, b) = app.call("POST", "/api/vouchers/batches", Some(json!({"package_id": pkg, "quantity": 10_000}))).await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["quantity"], 10_000);
    assert_eq!(
        (b["code_length"].as_u64(), b["charset"].as_str(), b["mode"].as_str()),
        (Some(8), Some("digits"), Some("code"))
    );
    assert_eq!((b["max_devices"].as_u64(), b["price"].as_str()), (Some(2), Some("50.00")), "from the package");
    assert_eq!(b["counts"]["unused"], 10_000);
    assert_eq!(b["counts"]["sold"], 0);
    let id = b["id"].as_i64().unwrap();

    let (st, ctype, body) = text(&app, &format!("/api/vouchers/batches/{id}/export.csv")).await;
    assert_eq!(st, 200);
    assert_eq!(ctype, "text/csv; charset=utf-8");
    let rows = csv_rows(&body);
    assert_eq!(rows.len(), 10_000);
    let codes: HashSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(codes.len(), 10_000, "every code is different");
    for r in &rows {
        let code = &r[0];
        assert!(code.len() == 8 && code.bytes().all(|b| b"23456789".contains(&b)), "{code}");
        assert!(!code.contains(['0', 'O', '1', 'I']), "{code}");
        assert_eq!((r[1].as_str(), r[2].as_str(), r[3].as_str(), r[4].as_str()), ("", "Day pass", "50.00", "unused"));
    }

    // Code + PIN, letters and digits, a prefix typed in lower case, a fixed end.
    let (st, b2) = app
        .call(
            "POST",
            "/api/vouchers/batches",
            Some(json!({"package_id": pkg, "quantity": 50, "name": "Market day", "prefix": "bn", "charset": "mixed",
                "code_length": 6, "mode": "pin", "pin_length": 6, "validity": "fixed", "valid_until": "2026-12-31",
                "max_devices": 3, "price": "40"})),
        )
        .await;
    assert_eq!(st, 201, "{b2}");
    assert_eq!(
        (b2["prefix"].as_str(), b2["price"].as_str(), b2["max_devices"].as_u64()),
        (Some("BN"), Some("40.00"), Some(3))
    );
    // 2026-12-31 23:59:59 in Nairobi.
    assert_eq!(b2["valid_until"], "2026-12-31T20:59:59Z");
    let (st, page) = app.call("GET", &format!("/api/vouchers?batch_id={}&per_page=500", b2["id"]), None).await;
    assert_eq!((st, page["total"].as_u64()), (200, Some(50)), "{page}");
    let mixed = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    for v in page["items"].as_array().unwrap() {
        let code = v["code"].as_str().unwrap();
        assert!(code.starts_with("BN") && code.len() == 8, "{code}");
        assert!(code[2..].bytes().all(|b| mixed.contains(&b)), "{code}");
        assert!(!codes.contains(code), "no code of one batch is another's");
        let pin = v["pin"].as_str().unwrap();
        assert!(pin.len() == 6 && pin.bytes().all(|b| b"23456789".contains(&b)), "{pin}");
        assert_eq!((v["max_devices"].as_u64(), v["price"].as_str()), (Some(3), Some("40.00")));
    }
    let (_, list) = app.call("GET", "/api/vouchers/batches", None).await;
    assert_eq!(list["total"], 2);
    app.finish().await;
}

#[tokio::test]
async fn counts_filters_revoking_with_a_reason_and_the_csv() {
    let app = TestApp::start().await;
    // A name a spreadsheet would run as a formula, with a comma and quotes in it.
    let pkg = day_pass(&app, "=Day, \"pass\"").await;
    let (st, b) =
        app.call("POST", "/api/vouchers/batches", Some(json!({"package_id": pkg, "quantity": 6, "mode": "pin"}))).await;
    assert_eq!(st, 201, "{b}");
    let id = b["id"].as_i64().unwrap();
    let (_, page) = app.call("GET", &format!("/api/vouchers?batch_id={id}"), None).await;
    let items = page["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 6);
    let code = |i: usize| items[i]["code"].as_str().unwrap().to_string();
    let vid = |i: usize| items[i]["id"].as_i64().unwrap();

    // One sold (first use, as RADIUS does it), one revoked.
    let now = app.clock.now();
    app.store.activate_voucher(&code(0), now).await.unwrap();
    let (st, r) = app.call("POST", &format!("/api/vouchers/{}/revoke", vid(1)), Some(json!({}))).await;
    assert_eq!(st, 422, "a reason is required: {r}");
    assert!(r["error"]["fields"]["reason"].is_array(), "{r}");
    let (st, r) =
        app.call("POST", &format!("/api/vouchers/{}/revoke", vid(1)), Some(json!({"reason": "card lost"}))).await;
    assert_eq!((st, r["status"].as_str()), (200, Some("revoked")), "{r}");

    let (_, b) = app.call("GET", &format!("/api/vouchers/batches/{id}"), None).await;
    let c = &b["counts"];
    assert_eq!((c["unused"].as_u64(), c["active"].as_u64(), c["revoked"].as_u64()), (Some(4), Some(1), Some(1)), "{b}");
    assert_eq!((c["sold"].as_u64(), c["used"].as_u64()), (Some(1), Some(0)));
    let (_, list) = app.call("GET", "/api/vouchers/batches", None).await;
    assert_eq!(list["items"][0]["counts"]["sold"], 1, "{list}");

    // Filters: status, the start of a code in any case, bad values refused.
    let (_, r) = app.call("GET", &format!("/api/vouchers?batch_id={id}&status=unused"), None).await;
    assert_eq!(r["total"], 4);
    let start = code(2)[..5].to_lowercase();
    let (_, r) = app.call("GET", &format!("/api/vouchers?code={start}"), None).await;
    assert!(r["items"].as_array().unwrap().iter().any(|v| v["code"] == code(2).as_str()), "{r}");
    let (st, r) = app.call("GET", "/api/vouchers?status=lost&batch_id=x", None).await;
    assert_eq!(st, 422);
    assert!(r["error"]["fields"]["status"].is_array() && r["error"]["fields"]["batch_id"].is_array(), "{r}");

    // The CSV: every voucher, quoted as RFC 4180 says, the formula defused.
    let (_, _, body) = text(&app, &format!("/api/vouchers/batches/{id}/export.csv")).await;
    assert!(body.contains(",\"'=Day, \"\"pass\"\"\","), "{body}");
    let rows = csv_rows(&body);
    assert_eq!(rows.len(), 6);
    let sold = rows.iter().find(|r| r[0] == code(0)).unwrap();
    assert_eq!(sold[2], "'=Day, \"pass\"");
    assert_eq!(sold[4], "active");
    assert_eq!(sold[5], "2026-11-25 12:00", "first use, in Nairobi time");
    assert_eq!(sold[6], "2026-11-26 12:00", "a day later");
    assert!(rows.iter().all(|r| r[1].len() == 4), "PINs: {rows:?}");

    // Revoking the batch stops what could still be used: four unused, one active.
    let (st, r) = app.call("POST", &format!("/api/vouchers/batches/{id}/revoke"), Some(json!({"reason": ""}))).await;
    assert_eq!(st, 422, "{r}");
    let (st, r) = app
        .call(
            "POST",
            &format!("/api/vouchers/batches/{id}/revoke"),
            Some(json!({"reason": "box stolen from the kiosk"})),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["revoked"], 5, "{r}");
    assert_eq!(r["batch"]["counts"]["revoked"], 6);
    assert!(r["batch"]["revoked_at"].is_string(), "{r}");
    let (st, _) = app.call("POST", "/api/vouchers/batches/999999/revoke", Some(json!({"reason": "x"}))).await;
    assert_eq!(st, 404);

    // The reasons are in the audit log.
    let (_, audit) = app.call("GET", "/api/audit-log?entity_type=voucher_batch", None).await;
    assert!(audit.to_string().contains("box stolen from the kiosk"), "{audit}");
    let (_, audit) = app.call("GET", "/api/audit-log?entity_type=voucher", None).await;
    assert!(audit.to_string().contains("card lost"), "{audit}");
    app.finish().await;
}

#[tokio::test]
async fn a_viewer_reads_vouchers_but_cannot_make_or_revoke_them() {
    let app = TestApp::start().await;
    let pkg = day_pass(&app, "Day pass").await;
    let (_, b) = app.call("POST", "/api/vouchers/batches", Some(json!({"package_id": pkg, "quantity": 3}))).await;
    let id = b["id"].as_i64().unwrap();
    let (st, _) = app
        .call(
            "POST",
            "/api/admins",
            Some(json!({"username": "vera", "password": "viewer pass phrase 1", "role": "viewer"})),
        )
        .await;
    assert_eq!(st, 201);
    let viewer = app.login("vera", "viewer pass phrase 1").await;
    let v = Some(viewer.as_str());
    for path in [
        "/api/vouchers/batches".to_string(),
        format!("/api/vouchers/batches/{id}"),
        format!("/api/vouchers?batch_id={id}"),
    ] {
        let (st, r) = app.call_as(v, "GET", &path, None).await;
        assert_eq!(st, 200, "{path}: {r}");
    }
    let (_, page) = app.call_as(v, "GET", &format!("/api/vouchers?batch_id={id}"), None).await;
    let vid = page["items"][0]["id"].as_i64().unwrap();
    let writes: [(String, Value); 3] = [
        ("/api/vouchers/batches".into(), json!({"package_id": pkg, "quantity": 1})),
        (format!("/api/vouchers/batches/{id}/revoke"), json!({"reason": "x"})),
        (format!("/api/vouchers/{vid}/revoke"), json!({"reason": "x"})),
    ];
    for (path, body) in writes {
        let (st, r) = app.call_as(v, "POST", &path, Some(body)).await;
        assert_eq!(st, 403, "{path}: {r}");
    }
    let (st, _) = app.call_as(None, "GET", "/api/vouchers/batches", None).await;
    assert_eq!(st, 401, "no session, no vouchers");
    let (_, b) = app.call("GET", &format!("/api/vouchers/batches/{id}"), None).await;
    assert_eq!((b["counts"]["unused"].as_u64(), b["revoked_at"].is_null()), (Some(3), true), "nothing changed: {b}");
    let (_, list) = app.call("GET", "/api/vouchers/batches", None).await;
    assert_eq!(list["total"], 1);
    app.finish().await;
}

#[tokio::test]
async fn a_voucher_code_and_a_customer_username_are_never_the_same_login() {
    let app = TestApp::start().await;
    let pkg = day_pass(&app, "Day pass").await;
    let (st, b) = app.call("POST", "/api/vouchers/batches", Some(json!({"package_id": pkg, "quantity": 3}))).await;
    assert_eq!(st, 201, "{b}");
    let (_, list) = app.call("GET", &format!("/api/vouchers?batch_id={}", b["id"]), None).await;
    let code = list["items"][0]["code"].as_str().unwrap().to_string();
    // A customer named like a sold voucher would shadow it at login: refused, any case.
    let (st, r) = app
        .call(
            "POST",
            "/api/customers",
            Some(json!({"full_name": "Shadow", "username": code.to_lowercase(), "password": "pw123456",
                "phone": "0712000777", "customer_type": "hotspot", "package_id": pkg})),
        )
        .await;
    assert_eq!(st, 422, "{r}");
    assert!(r.to_string().contains("voucher"), "{r}");
    let (st, c) = app
        .call(
            "POST",
            "/api/customers",
            Some(json!({"full_name": "Plain", "username": "plain-user", "password": "pw123456",
                "phone": "0712000778", "customer_type": "hotspot", "package_id": pkg})),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    let (st, r) =
        app.call("PATCH", &format!("/api/customers/{}", c["id"]), Some(json!({"username": code.clone()}))).await;
    assert_eq!(st, 422, "{r}");
    app.finish().await;
}
