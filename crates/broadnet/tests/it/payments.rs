//! Payments end to end over real HTTP, on the backend named by `BROADNET_TEST_DB`:
//! the server on a real port, the Daraja, Airtel and Africa's Talking simulators on
//! theirs (they call our callback URLs), a real SMTP server (Python's aiosmtpd) and
//! `pdftotext` for the invoice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use broadnet::config::{Config, Vars};
use broadnet::server;
use broadnet_domain::CustomerStatus;
use broadnet_sim::{airtel as asim, mpesa as msim, sms as ssim};
use broadnet_store::{AcctEvent, AcctKind, PaymentRepo, RadiusRepo};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use broadnet_testkit::app::{Sims, TestApp};
use broadnet_testkit::{WAIT, eventually};

/// aiosmtpd on a free port; each message is saved as msgN.json (envelope, headers,
/// text) plus its attachments as msgN-K.bin.
const SMTP_SERVER: &str = r#"
import json, os, socket, sys
from email import policy
from email.parser import BytesParser
from aiosmtpd.controller import Controller
OUT = sys.argv[1]
class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = len([f for f in os.listdir(OUT) if f.endswith(".json")])
        msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        body = msg.get_body(preferencelist=("plain",))
        atts = []
        for k, part in enumerate(msg.iter_attachments()):
            with open(os.path.join(OUT, f"msg{n}-{k}.bin"), "wb") as f:
                f.write(part.get_content())
            atts.append({"filename": part.get_filename(), "type": part.get_content_type()})
        info = {"rcpt_tos": envelope.rcpt_tos, "subject": str(msg["subject"]), "to": str(msg["to"]),
                "text": body.get_content() if body is not None else None, "attachments": atts}
        tmp = os.path.join(OUT, f"msg{n}.tmp")
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.rename(tmp, os.path.join(OUT, f"msg{n}.json"))
        return "250 OK"
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
c = Controller(Handler(), hostname="127.0.0.1", port=port)
c.start()
print(f"READY {port}", flush=True)
sys.stdin.read()
"#;

struct Smtp {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Smtp {
    fn start() -> Smtp {
        let ok = Command::new("python3").args(["-c", "import aiosmtpd"]).status().map(|s| s.success());
        assert!(
            matches!(ok, Ok(true)),
            "Python's aiosmtpd is needed: python3 -m pip install aiosmtpd (./scripts/test installs it)"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .args(["-c", SMTP_SERVER, dir.path().to_str().unwrap()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port =
            line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("aiosmtpd said {line:?}")).parse().unwrap();
        Smtp { child, dir, port }
    }

    fn messages(&self) -> Vec<(Value, Vec<PathBuf>)> {
        let mut out = Vec::new();
        for n in 0.. {
            let p = self.dir.path().join(format!("msg{n}.json"));
            let Ok(text) = std::fs::read_to_string(&p) else { break };
            let v: Value = serde_json::from_str(&text).unwrap();
            let atts = (0..v["attachments"].as_array().unwrap().len())
                .map(|k| self.dir.path().join(format!("msg{n}-{k}.bin")))
                .collect();
            out.push((v, atts));
        }
        out
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pdftotext(path: &std::path::Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is needed; ./scripts/test installs it");
    assert!(out.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

struct Env {
    srv: TestApp,
    mpesa: msim::MpesaSim,
    airtel: asim::AirtelSim,
    sms: ssim::SmsSim,
    smtp: Smtp,
}

impl std::ops::Deref for Env {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.srv
    }
}

impl Env {
    async fn start() -> Env {
        let sims = Sims::spawn(StdDuration::from_millis(150)).await;
        let smtp = Smtp::start();
        let smtp_port = smtp.port.to_string();
        let srv = TestApp::start_with(|_| {
            let mut vars = sims.vars();
            vars.extend(
                [
                    ("APP_NAME", "Kilimo Net"),
                    ("EMAIL_ENABLED", "true"),
                    ("EMAIL_HOST", "127.0.0.1"),
                    ("EMAIL_PORT", smtp_port.as_str()),
                    ("EMAIL_FROM", "Kilimo Net <billing@kilimo.example>"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
            );
            vars
        })
        .await;
        sims.connect(&srv);
        let Sims { mpesa, airtel, sms, .. } = sims;
        Env { srv, mpesa, airtel, sms, smtp }
    }

    async fn finish(self) {
        self.srv.finish().await;
    }

    /// A package and a customer expiring in 2 days; returns (customer id, package id).
    async fn customer(&self, username: &str, phone: &str, email: Option<&str>) -> (i64, i64) {
        let pkg = self.srv.package(&format!("Home {username}")).create().await;
        let expires = self.app.now() + Duration::days(2);
        let c = self
            .srv
            .customer(username, phone)
            .full_name("Achieng O'Neill")
            .password("pw123456")
            .email(email)
            .package(pkg)
            .expires_at(expires)
            .create()
            .await;
        (c["id"].as_i64().unwrap(), pkg)
    }

    async fn payment(&self, id: i64) -> Value {
        let (st, p) = self.call("GET", &format!("/api/payments/{id}"), None).await;
        assert_eq!(st, 200, "{p}");
        p
    }

    /// Waits (real time) until the payment leaves pending.
    async fn settled(&self, id: i64) -> Value {
        eventually(&format!("payment {id} leaves pending"), WAIT, || async move {
            let p = self.payment(id).await;
            (p["payment"]["status"] != "pending").then_some(p)
        })
        .await
    }

    /// Waits (real time) until the simulated customer has answered the last push.
    async fn decided(&self) {
        let checkout = self.mpesa.pushes().last().unwrap().checkout_request_id.clone();
        eventually("the customer answers the push", WAIT, || async { self.mpesa.is_decided(&checkout).then_some(()) })
            .await;
    }

    async fn initiate(&self, customer: i64) -> Value {
        let (st, r) = self.call("POST", "/api/payments/initiate", Some(json!({"customer_id": customer}))).await;
        assert_eq!(st, 201, "{r}");
        // Pending when the prompt went out; a fast simulated customer (100 ms) may have
        // answered before the response was written on a slow database.
        assert!(r["payment"]["id"].as_i64().is_some(), "{r}");
        r
    }

    async fn expires(&self, customer: i64) -> chrono::DateTime<Utc> {
        use broadnet_store::CustomerRepo;
        self.store.get_customer(customer).await.unwrap().expires_at.unwrap()
    }

    async fn count(&self, table_where: &str) -> i64 {
        use sea_orm::{ConnectionTrait, Statement};
        let conn = sea_orm::Database::connect(&self.db.as_ref().unwrap().url).await.unwrap();
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table_where}"),
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        conn.close().await.unwrap();
        n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stk_push_renews_the_customer_with_an_invoice_sms_and_email() {
    let env = Env::start().await;
    let (cid, _) = env.customer("achieng", "0712345001", Some("achieng@example.com")).await;
    let before = env.expires(cid).await;
    let r = env.initiate(cid).await;
    let pid = r["payment"]["id"].as_i64().unwrap();
    assert!(r["payment"]["checkout_request_id"].as_str().unwrap().starts_with("ws_CO_"), "{r}");
    // What Safaricom was asked, to the letter.
    let push = env.mpesa.pushes().pop().unwrap();
    assert_eq!(push.body["PartyA"], "254712345001");
    assert_eq!(push.body["AccountReference"], "achieng");
    let cb = push.body["CallBackURL"].as_str().unwrap();
    assert!(cb.starts_with(&format!("{}/api/payments/cb/stk/", env.base)), "{cb}");
    assert!(!cb.to_lowercase().contains("mpesa"), "Safaricom refuses URLs naming M-Pesa: {cb}");

    let done = env.settled(pid).await;
    assert_eq!(done["payment"]["status"], "completed", "{done}");
    let receipt = push.receipt.clone().unwrap();
    assert_eq!(done["payment"]["provider_receipt"], receipt.as_str());
    assert_eq!(done["invoice"]["number"], "INV-000001");
    assert_eq!(env.expires(cid).await, before + Duration::days(30), "extended from the later of now and expiry");

    // Notifications: the outbox fans out to SMS and email, each sent once.
    env.app.run_outbox().await.unwrap();
    env.app.run_outbox().await.unwrap();
    let texts: Vec<_> = env.sms.messages().into_iter().filter(|m| m.message.contains(&receipt)).collect();
    assert_eq!(texts.len(), 1, "{:?}", env.sms.messages());
    assert_eq!(texts[0].to, "+254712345001");
    assert!(texts[0].message.starts_with("Kilimo Net: we received KES 1500.00"), "{}", texts[0].message);
    let mails: Vec<_> = env
        .smtp
        .messages()
        .into_iter()
        .filter(|(m, _)| m["subject"].as_str().unwrap().contains("INV-000001"))
        .collect();
    assert_eq!(mails.len(), 1, "{:?}", env.smtp.messages());
    let (mail, atts) = &mails[0];
    assert_eq!(mail["rcpt_tos"], json!(["achieng@example.com"]));
    assert!(mail["text"].as_str().unwrap().contains(&receipt));
    assert_eq!(mail["attachments"][0]["filename"], "INV-000001.pdf");
    assert_eq!(mail["attachments"][0]["type"], "application/pdf");
    let text = pdftotext(&atts[0]);
    for want in
        ["Kilimo Net", "INV-000001", "Achieng O'Neill", "achieng", "Home achieng", "KES 1,500.00", &receipt, "M-Pesa"]
    {
        assert!(text.contains(want), "invoice lacks {want:?}:\n{text}");
    }
    // The same PDF through the API.
    let resp = env
        .http
        .get(format!("{}/api/payments/{pid}/invoice.pdf", env.base))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert!(resp.bytes().await.unwrap().starts_with(b"%PDF-"));
    let (st, notes) = env.call("GET", "/api/notifications?status=delivered", None).await;
    assert_eq!(st, 200);
    let kinds: Vec<&str> = notes["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    for k in ["payment.completed", "sms", "email"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    // Running the outbox again sends nothing new.
    env.app.run_outbox().await.unwrap();
    assert_eq!(env.sms.messages().iter().filter(|m| m.message.contains(&receipt)).count(), 1);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_failure_code_closes_the_payment_and_renews_nobody() {
    let env = Env::start().await;
    let (cid, _) = env.customer("otieno", "0712345002", None).await;
    let before = env.expires(cid).await;
    for (outcome, status, code) in [
        (msim::Outcome::Cancelled, "cancelled", "1032"),
        (msim::Outcome::InsufficientFunds, "failed", "1"),
        (msim::Outcome::Timeout, "expired", "1037"),
        (msim::Outcome::WrongPin, "failed", "2001"),
    ] {
        env.mpesa.set_behaviour(msim::Behaviour { outcome, deliveries: 1, delay: StdDuration::from_millis(100) });
        let pid = env.initiate(cid).await["payment"]["id"].as_i64().unwrap();
        let p = env.settled(pid).await;
        assert_eq!(p["payment"]["status"], status, "{p}");
        assert_eq!(p["payment"]["result_code"], code, "{p}");
        assert!(p["invoice"].is_null());
        // The debounce lets the next prompt go once this one is settled... and time passes.
        env.clock.advance(Duration::minutes(3));
    }
    assert_eq!(env.expires(cid).await, before);
    env.app.run_outbox().await.unwrap();
    env.app.run_outbox().await.unwrap();
    let failed = env.sms.messages().into_iter().filter(|m| m.message.contains("did not go through")).count();
    assert_eq!(failed, 4, "{:?}", env.sms.messages());
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_and_missing_callbacks_renew_exactly_once() {
    let env = Env::start().await;
    let (cid, _) = env.customer("wanjiku", "0712345003", None).await;
    let before = env.expires(cid).await;
    // Twice: one renewal, one invoice.
    env.mpesa.set_behaviour(msim::Behaviour {
        deliveries: 2,
        delay: StdDuration::from_millis(100),
        ..Default::default()
    });
    let pid = env.initiate(cid).await["payment"]["id"].as_i64().unwrap();
    env.settled(pid).await;
    eventually("both callbacks delivered", WAIT, || async {
        (env.mpesa.pushes().last().unwrap().callbacks_delivered == 2).then_some(())
    })
    .await;
    assert_eq!(env.mpesa.pushes().last().unwrap().callbacks_delivered, 2);
    assert_eq!(env.expires(cid).await, before + Duration::days(30));
    assert_eq!(env.count("invoices").await, 1);

    // Never: pending until reconciliation asks M-Pesa, 2 minutes later.
    env.clock.advance(Duration::minutes(3));
    env.mpesa.set_behaviour(msim::Behaviour {
        deliveries: 0,
        delay: StdDuration::from_millis(50),
        ..Default::default()
    });
    let pid = env.initiate(cid).await["payment"]["id"].as_i64().unwrap();
    env.decided().await;
    assert_eq!(env.app.run_reconciliation().await.unwrap(), 0, "too early to ask");
    assert_eq!(env.payment(pid).await["payment"]["status"], "pending");
    env.clock.advance(Duration::minutes(2) + Duration::seconds(1));
    assert_eq!(env.app.run_reconciliation().await.unwrap(), 1);
    let p = env.payment(pid).await;
    assert_eq!(p["payment"]["status"], "completed", "{p}");
    assert_eq!(env.expires(cid).await, before + Duration::days(60));
    assert_eq!(env.count("invoices").await, 2);
    // The query carries no receipt; when the real callback comes after all, its receipt
    // replaces the stand-in and nothing else changes.
    let checkout = p["payment"]["checkout_request_id"].as_str().unwrap().to_string();
    assert_eq!(p["payment"]["provider_receipt"], format!("Q-{checkout}"));
    let receipt = env.mpesa.pushes().last().unwrap().receipt.clone().unwrap();
    let late = json!({"Body": {"stkCallback": {"MerchantRequestID": "m", "CheckoutRequestID": checkout, "ResultCode": 0,
        "ResultDesc": "ok", "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 1500},
        {"Name": "MpesaReceiptNumber", "Value": receipt}, {"Name": "PhoneNumber", "Value": 254712345003u64}]}}}});
    let url = format!("{}/api/payments/cb/stk/{}", env.base, env.app.callback_token());
    assert_eq!(env.http.post(&url).json(&late).send().await.unwrap().status(), 200);
    assert_eq!(env.payment(pid).await["payment"]["provider_receipt"], receipt.as_str());
    assert_eq!(env.expires(cid).await, before + Duration::days(60));
    assert_eq!(env.count("invoices").await, 2);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn airtel_success_failure_and_switching_provider_between_payments() {
    let env = Env::start().await;
    let (cid, _) = env.customer("kamau", "0733123456", Some("kamau@example.com")).await;
    let before = env.expires(cid).await;
    // First payment with M-Pesa (the default), then switch to Airtel with no restart.
    let p1 = env.initiate(cid).await["payment"]["id"].as_i64().unwrap();
    assert_eq!(env.settled(p1).await["payment"]["provider"], "mpesa");
    let (st, s) = env.call("PUT", "/api/settings/payments", Some(json!({"active_provider": "airtel"}))).await;
    assert_eq!(st, 200, "{s}");
    env.clock.advance(Duration::minutes(3));
    let r = env.initiate(cid).await;
    assert_eq!(r["payment"]["provider"], "airtel");
    let p2 = r["payment"]["id"].as_i64().unwrap();
    let push = env.airtel.pushes().pop().unwrap();
    assert_eq!(push.msisdn, "733123456", "Airtel takes the number without the country code");
    let done = env.settled(p2).await;
    assert_eq!(done["payment"]["status"], "completed", "{done}");
    assert_eq!(done["payment"]["provider_receipt"], push.airtel_money_id.as_str());
    assert_eq!(env.expires(cid).await, before + Duration::days(60));

    env.airtel.set_behaviour(asim::Behaviour {
        outcome: asim::Outcome::Failed,
        deliveries: 1,
        delay: StdDuration::from_millis(100),
    });
    env.clock.advance(Duration::minutes(3));
    let p3 = env.initiate(cid).await["payment"]["id"].as_i64().unwrap();
    let failed = env.settled(p3).await;
    assert_eq!(
        (failed["payment"]["status"].as_str(), failed["payment"]["result_code"].as_str()),
        (Some("failed"), Some("TF"))
    );
    assert_eq!(env.expires(cid).await, before + Duration::days(60));

    // A forged Airtel callback for an id we never started changes nothing.
    let forged = json!({"transaction": {"id": "BN999999", "status_code": "TS", "airtel_money_id": "X1"}});
    let (st, _) = env.call("POST", "/api/payments/airtel/callback", Some(forged)).await;
    assert_eq!(st, 200);
    assert_eq!(env.expires(cid).await, before + Duration::days(60));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c2b_paybill_with_known_and_unknown_accounts() {
    let env = Env::start().await;
    let (cid, _) = env.customer("mutua", "0712345005", None).await;
    let before = env.expires(cid).await;
    let (st, reg) = env.call("POST", "/api/payments/mpesa/register-c2b", None).await;
    assert_eq!(st, 200, "{reg}");
    let registered = env.mpesa.c2b_registration().unwrap();
    assert!(!registered.confirmation_url.to_lowercase().contains("mpesa"));

    let trans = env.mpesa.c2b_pay("254712345005", 1500, "MUTUA ").await.unwrap();
    assert_eq!(env.expires(cid).await, before + Duration::days(30));
    let (_, list) = env.call("GET", &format!("/api/payments?customer_id={cid}"), None).await;
    assert_eq!(list["items"][0]["provider_receipt"], trans.as_str(), "{list}");
    // Unknown account: refused at validation, before the money moves.
    let refused = env.mpesa.c2b_pay("254712345005", 1500, "nobody").await;
    assert!(refused.is_err(), "{refused:?}");
    // Less than the package: accepted and kept as credit, the expiry unchanged.
    env.mpesa.c2b_pay("254712345005", 999, "mutua").await.unwrap();
    assert_eq!(env.expires(cid).await, before + Duration::days(30));
    assert_eq!(broadnet_store::CustomerRepo::get_customer(&env.store, cid).await.unwrap().balance.minor(), 99_900);
    // Account numbers are typed by hand: any case finds the customer.
    let (upper, _) = env.customer("KE001", "0712345015", None).await;
    let upper_before = env.expires(upper).await;
    env.mpesa.c2b_pay("254712345015", 1500, "ke001").await.unwrap();
    assert_eq!(env.expires(upper).await, upper_before + Duration::days(30));
    // A suspended customer's payment is refused before the money moves.
    let (st, _) = env.call("PATCH", &format!("/api/customers/{cid}"), Some(json!({"status": "suspended"}))).await;
    assert_eq!(st, 200);
    assert!(env.mpesa.c2b_pay("254712345005", 1500, "mutua").await.is_err());
    assert_eq!(env.expires(cid).await, before + Duration::days(30));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_identical_callbacks_renew_once_and_forgeries_renew_nobody() {
    let env = Env::start().await;
    let (cid, _) = env.customer("njeri", "0712345006", None).await;
    let before = env.expires(cid).await;
    env.mpesa.set_behaviour(msim::Behaviour { deliveries: 0, ..Default::default() });
    let r = env.initiate(cid).await;
    let checkout = r["payment"]["checkout_request_id"].as_str().unwrap().to_string();
    let pid = r["payment"]["id"].as_i64().unwrap();
    let url = format!("{}/api/payments/cb/stk/{}", env.base, env.app.callback_token());
    let callback = |checkout: &str, amount: Value, receipt: &str| {
        json!({"Body": {"stkCallback": {"MerchantRequestID": "m-1", "CheckoutRequestID": checkout, "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": amount},
                {"Name": "MpesaReceiptNumber", "Value": receipt}, {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": 20261125120000u64}, {"Name": "PhoneNumber", "Value": 254712345006u64}]}}}})
    };
    // Forgeries first: unknown CheckoutRequestID, wrong amount.
    for body in [callback("ws_CO_forged", json!(1500), "FORGED0001"), callback(&checkout, json!(1), "FORGED0002")] {
        let resp = env.http.post(&url).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(env.payment(pid).await["payment"]["status"], "pending");
    assert_eq!(env.expires(cid).await, before);
    // A wrong path secret is a 404, with no effect.
    let resp = env
        .http
        .post(format!("{}/api/payments/cb/stk/guess", env.base))
        .json(&callback(&checkout, json!(1500), "RKT0000001"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    let body = callback(&checkout, json!("1500.00"), "RKT0000001");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (http, url, body) = (env.http.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move { http.post(&url).json(&body).send().await.unwrap().status().as_u16() }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(env.payment(pid).await["payment"]["status"], "completed");
    assert_eq!(env.expires(cid).await, before + Duration::days(30));
    assert_eq!(env.count("invoices").await, 1);
    assert_eq!(env.count("outbox WHERE kind = 'payment.completed'").await, 1);
    let (_, audit) = env.call("GET", "/api/audit-log?action=payment.callback_flagged", None).await;
    assert!(audit["total"].as_u64().unwrap() >= 2, "{audit}");
    env.finish().await;
}

async fn fake_nas(secret: &'static str) -> (u16, tokio::sync::mpsc::UnboundedReceiver<broadnet_radius::Packet>) {
    use broadnet_radius::{Code, Packet};
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(p) = Packet::decode(&buf[..n]) else { continue };
            if broadnet_radius::verify_request(&buf[..n], &p, secret.as_bytes()) != Ok(true) {
                continue;
            }
            let code = if p.code == Code::DisconnectRequest { Code::DisconnectAck } else { Code::CoaAck };
            let reply = broadnet_radius::encode_response(code, &p, &[], secret.as_bytes(), true).unwrap();
            sock.send_to(&reply, from).await.unwrap();
            let _ = tx.send(p);
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_clock_moves_reminders_go_out_once_and_expiry_disconnects() {
    use broadnet_store::{NewRouter, RouterRepo};
    let (coa_port, mut nas) = fake_nas("nas-secret-123").await;
    // The fake NAS listens on the CoA port the app was configured with.
    let env = Env::start().await;
    // The same server, with its CoA client pointed at the fake NAS.
    let app = {
        let mut vars = Vars::new();
        vars.insert("DATABASE_URL".into(), env.db.as_ref().unwrap().url.clone());
        vars.insert("JWT_SECRET".into(), "a-test-secret-that-is-long-enough-0123456789".into());
        vars.insert("RADIUS_COA_PORT".into(), coa_port.to_string());
        vars.insert("AT_ENV".into(), "simulator".into());
        vars.insert("AT_BASE_URL".into(), env.app.sms_settings().await.unwrap().config.base_url);
        vars.insert("SMS_ENABLED".into(), "true".into());
        vars.insert("MPESA_ENV".into(), "simulator".into());
        let (cfg, _) = Config::from_vars(&vars);
        server::build_app(&cfg, env.app.store.clone(), Arc::new(env.clock.clone()))
    };
    env.store
        .create_router(
            &broadnet_store::Actor::system("test", env.app.now()),
            NewRouter {
                name: "core".into(),
                nas_ip: Some("127.0.0.1".into()),
                radius_secret: "nas-secret-123".into(),
                service_types: broadnet_domain::ServiceType::Both,
                require_message_authenticator: true,
            },
        )
        .await
        .unwrap();
    let (cid, _) = env.customer("kiprop", "0712345007", None).await;
    let reminders = |env: &Env| env.sms.messages().into_iter().filter(|m| m.message.contains("expires on")).count();

    // Expires in 2 days: inside the 3-day window. Queued once, however often the job runs.
    assert_eq!(app.run_reminders().await.unwrap(), 1);
    assert_eq!(app.run_reminders().await.unwrap(), 0);
    app.run_outbox().await.unwrap();
    app.run_outbox().await.unwrap();
    assert_eq!(reminders(&env), 1, "{:?}", env.sms.messages());
    assert!(env.sms.messages().iter().any(|m| m.message.contains("paybill 174379, account kiprop")));
    // A day and a bit later: the 1-day reminder, once.
    env.clock.advance(Duration::hours(25));
    assert_eq!(app.run_reminders().await.unwrap(), 1);
    assert_eq!(app.run_reminders().await.unwrap(), 0);
    app.run_outbox().await.unwrap();
    app.run_outbox().await.unwrap();
    assert_eq!(reminders(&env), 2);

    // A live session, then the time runs out.
    let now = env.app.now();
    env.store
        .record_accounting(
            AcctKind::Start,
            AcctEvent {
                unique_id: "u-kiprop-1".into(),
                session_id: "81b00001".into(),
                username: "kiprop".into(),
                nas_ip: "127.0.0.1".into(),
                router_id: None,
                customer_id: Some(cid),
                nas_port_id: None,
                nas_port_type: None,
                at: now,
                session_time: None,
                input_octets: None,
                output_octets: None,
                framed_ip: Some("10.10.0.7".into()),
                calling_station_id: None,
                called_station_id: None,
                terminate_cause: None,
                service_type: None,
                framed_protocol: None,
                class: None,
            },
        )
        .await
        .unwrap();
    env.clock.advance(Duration::days(1));
    assert_eq!(app.run_expiry().await.unwrap(), 1);
    assert_eq!(app.run_expiry().await.unwrap(), 0);
    {
        use broadnet_store::CustomerRepo;
        assert_eq!(env.store.get_customer(cid).await.unwrap().status, CustomerStatus::Expired);
    }
    app.run_outbox().await.unwrap();
    let p = tokio::time::timeout(StdDuration::from_secs(3), nas.recv()).await.unwrap().unwrap();
    assert_eq!(p.code, broadnet_radius::Code::DisconnectRequest);
    assert_eq!(p.text(broadnet_radius::dict::attr::USER_NAME).as_deref(), Some("kiprop"));
    app.run_outbox().await.unwrap();
    assert_eq!(env.sms.messages().iter().filter(|m| m.message.contains("expired on")).count(), 1);
    assert!(env.store.pending_payments(env.app.now(), 10).await.unwrap().is_empty());
    env.finish().await;
}

/// An STK callback body: `items` are (Name, Value) metadata pairs.
fn stk_body(checkout: &str, code: Value, items: &[(&str, Value)]) -> Value {
    let items: Vec<Value> = items.iter().map(|(n, v)| json!({"Name": n, "Value": v})).collect();
    json!({"Body": {"stkCallback": {"MerchantRequestID": "m-x", "CheckoutRequestID": checkout, "ResultCode": code,
        "ResultDesc": "x", "CallbackMetadata": {"Item": items}}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_failures_close_nothing_and_unconfirmed_successes_complete_nothing() {
    let env = Env::start().await;
    let (cid, _) = env.customer("amina", "0712345020", None).await;
    let before = env.expires(cid).await;
    // The customer takes a while to type the PIN; the real callback never comes.
    env.mpesa.set_behaviour(msim::Behaviour { deliveries: 0, delay: StdDuration::from_secs(3), ..Default::default() });
    let r = env.initiate(cid).await;
    let checkout = r["payment"]["checkout_request_id"].as_str().unwrap().to_string();
    let pid = r["payment"]["id"].as_i64().unwrap();
    let secret = format!("{}/api/payments/cb/stk/{}", env.base, env.app.callback_token());
    let plain = format!("{}/api/payments/mpesa/callback", env.base);
    // D2: forged failures, on both paths, in every spelling.
    for (url, code) in [(&plain, json!(1032)), (&secret, json!("1032")), (&secret, json!("00 ")), (&plain, json!(1))] {
        let resp = env.http.post(url.as_str()).json(&stk_body(&checkout, code, &[])).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    // D5: successes that are not what Safaricom sends: no phone, or the plain path.
    let no_phone =
        stk_body(&checkout, json!(0), &[("Amount", json!(1500)), ("MpesaReceiptNumber", json!("FORGED0001"))]);
    let full = stk_body(
        &checkout,
        json!(0),
        &[
            ("Amount", json!(1500)),
            ("MpesaReceiptNumber", json!("FORGED0002")),
            ("PhoneNumber", json!(254712345020u64)),
        ],
    );
    for (url, body) in [(&secret, &no_phone), (&plain, &full)] {
        assert_eq!(env.http.post(url.as_str()).json(body).send().await.unwrap().status(), 200);
    }
    let p = env.payment(pid).await;
    assert_eq!(p["payment"]["status"], "pending", "{p}");
    assert_eq!(env.expires(cid).await, before);
    env.app.run_outbox().await.unwrap();
    assert!(env.sms.messages().iter().all(|m| !m.message.contains("did not go through")), "{:?}", env.sms.messages());

    // The customer pays; the genuine callback completes the payment.
    env.decided().await;
    let receipt = env.mpesa.pushes().last().unwrap().receipt.clone().unwrap();
    let genuine = stk_body(
        &checkout,
        json!(0),
        &[("Amount", json!(1500)), ("MpesaReceiptNumber", json!(receipt)), ("PhoneNumber", json!(254712345020u64))],
    );
    assert_eq!(env.http.post(&secret).json(&genuine).send().await.unwrap().status(), 200);
    let p = env.payment(pid).await;
    assert_eq!(p["payment"]["status"], "completed", "{p}");
    assert_eq!(p["payment"]["provider_receipt"], receipt.as_str());
    assert_eq!(env.expires(cid).await, before + Duration::days(30));

    // A payment an older version closed on a forged callback's word: the genuine
    // success, confirmed by the STK query, still completes it.
    env.clock.advance(Duration::minutes(3));
    env.mpesa.set_behaviour(msim::Behaviour {
        deliveries: 0,
        delay: StdDuration::from_millis(50),
        ..Default::default()
    });
    let r = env.initiate(cid).await;
    let (checkout, pid) =
        (r["payment"]["checkout_request_id"].as_str().unwrap().to_string(), r["payment"]["id"].as_i64().unwrap());
    env.store
        .close_payment(pid, broadnet_domain::PaymentStatus::Cancelled, "1032", "forged", env.app.now())
        .await
        .unwrap();
    env.decided().await;
    let receipt = env.mpesa.pushes().last().unwrap().receipt.clone().unwrap();
    let genuine = stk_body(
        &checkout,
        json!(0),
        &[("Amount", json!(1500)), ("MpesaReceiptNumber", json!(receipt)), ("PhoneNumber", json!(254712345020u64))],
    );
    assert_eq!(env.http.post(&secret).json(&genuine).send().await.unwrap().status(), 200);
    let p = env.payment(pid).await;
    assert_eq!(
        (p["payment"]["status"].as_str(), p["payment"]["provider_receipt"].as_str()),
        (Some("completed"), Some(receipt.as_str())),
        "{p}"
    );
    assert_eq!(env.expires(cid).await, before + Duration::days(60));

    // A success for a payment the provider itself says failed stays refused.
    env.clock.advance(Duration::minutes(3));
    env.mpesa.set_behaviour(msim::Behaviour {
        outcome: msim::Outcome::Cancelled,
        deliveries: 1,
        delay: StdDuration::from_millis(50),
    });
    let pid = env.initiate(cid).await["payment"]["id"].as_i64().unwrap();
    let p = env.settled(pid).await;
    assert_eq!(p["payment"]["status"], "cancelled", "{p}");
    let checkout = p["payment"]["checkout_request_id"].as_str().unwrap().to_string();
    let forged = stk_body(
        &checkout,
        json!(0),
        &[
            ("Amount", json!(1500)),
            ("MpesaReceiptNumber", json!("FORGED0003")),
            ("PhoneNumber", json!(254712345020u64)),
        ],
    );
    assert_eq!(env.http.post(&secret).json(&forged).send().await.unwrap().status(), 200);
    assert_eq!(env.payment(pid).await["payment"]["status"], "cancelled");
    assert_eq!(env.expires(cid).await, before + Duration::days(60));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unmatched_callbacks_are_stored_capped_and_rate_limited() {
    let env = Env::start().await;
    let plain = format!("{}/api/payments/mpesa/callback", env.base);
    // Over the callback body limit: refused before it is read whole.
    let huge = json!({"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_X", "ResultCode": 0,
        "ResultDesc": "A".repeat(1_900_000)}}});
    // The server answers 413 as soon as the declared length is too much and closes; a
    // busy client may still be writing the body and see the connection end instead.
    // On a client of its own: the server closes that connection after the 413, and a
    // pooled client could otherwise hand the closed connection to the next request.
    let once = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    match once.post(&plain).json(&huge).send().await {
        Ok(resp) => assert_eq!(resp.status(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
    }
    // Under it but unmatched: recorded, trimmed, at most so many a minute.
    let big = json!({"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_Y", "ResultCode": 1032,
        "ResultDesc": "B".repeat(60_000)}}});
    let mut tasks = Vec::new();
    for _ in 0..80 {
        let (http, url, body) = (env.http.clone(), plain.clone(), big.clone());
        tasks.push(tokio::spawn(async move { http.post(&url).json(&body).send().await.unwrap().status().as_u16() }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (st, audit) = env.call("GET", "/api/audit-log?action=payment.callback_flagged&per_page=500", None).await;
    assert_eq!(st, 200);
    let n = audit["total"].as_u64().unwrap();
    assert!((1..=60).contains(&n), "{n} flagged entries recorded");
    let page = audit.to_string();
    assert!(page.len() < 60 * 4000, "audit page is {} bytes", page.len());
    assert_eq!(audit["items"][0]["after"]["ids"]["CheckoutRequestID"], "ws_CO_Y", "{}", audit["items"][0]);
    // Retention removes them once they are old.
    env.clock.advance(Duration::days(91));
    assert!(env.app.run_retention().await.unwrap() >= n as usize);
    assert_eq!(env.count("audit_log WHERE action = 'payment.callback_flagged'").await, 0);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_outbox_never_stores_a_customers_password() {
    let env = Env::start().await;
    let (st, c) = env
        .call(
            "POST",
            "/api/customers",
            Some(json!({"full_name": "Leak Test", "username": "leaky", "password": "S3cretLeak77",
                "phone": "0712345030", "customer_type": "pppoe"})),
        )
        .await;
    assert_eq!(st, 201, "{c}");
    env.app.run_outbox().await.unwrap();
    env.app.run_outbox().await.unwrap();
    // The customer gets their login by SMS...
    assert!(env.sms.messages().iter().any(|m| m.message.contains("S3cretLeak77")), "{:?}", env.sms.messages());
    // ...but nothing stored shows it, to admins or viewers.
    let (st, notes) = env.call("GET", "/api/notifications?per_page=500", None).await;
    assert_eq!(st, 200);
    assert!(!notes.to_string().contains("S3cretLeak77"), "{notes}");
    assert!(notes.to_string().contains("{password}"), "{notes}");
    assert_eq!(env.count("outbox WHERE payload LIKE '%S3cretLeak77%'").await, 0);
    let (st, _) = env
        .call("POST", "/api/admins", Some(json!({"username": "peek", "password": "long enough pw", "role": "viewer"})))
        .await;
    assert_eq!(st, 201);
    let login: Value = env
        .http
        .post(format!("{}/api/auth/login", env.base))
        .json(&json!({"username": "peek", "password": "long enough pw"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let viewer = login["token"].as_str().unwrap();
    let seen: Value = env
        .http
        .get(format!("{}/api/notifications?per_page=500", env.base))
        .bearer_auth(viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sms = seen["items"].as_array().unwrap().iter().find(|i| i["kind"] == "sms").unwrap();
    assert!(sms["payload"]["message"].as_str().unwrap().contains("hidden from viewers"), "{sms}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invoice_prefixes_that_would_break_headers_are_refused() {
    let env = Env::start().await;
    for bad in ["INV\"; filename=\"evil.exe", "INV\r\nX-Evil: 1", "INV 2026", "ÄÖ-"] {
        let (st, r) = env.call("PUT", "/api/settings/general", Some(json!({"invoice_prefix": bad}))).await;
        assert_eq!(st, 422, "{bad:?}: {r}");
        assert!(r["error"]["fields"]["invoice_prefix"].is_array(), "{r}");
    }
    let (st, r) = env.call("PUT", "/api/settings/general", Some(json!({"invoice_prefix": "KN/2026-"}))).await;
    assert_eq!(st, 200, "{r}");
    env.finish().await;
}

/// The abuse pass over HTTP: hostile bodies and headers on every unauthenticated door
/// and on authenticated ones with a bad or no token, malformed requests on a raw
/// socket, and replays of genuine callbacks. No answer is a 5xx, the server stays
/// healthy, and no payment, renewal, invoice or customer comes of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_requests_and_replays_change_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // nextest runs each test in a process of its own: any panic here is the server's.
    static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        default_hook(info);
    }));
    let env = Env::start().await;
    let (cid, _) = env.customer("baraka", "0712345040", None).await;
    env.mpesa.set_behaviour(msim::Behaviour {
        deliveries: 1,
        delay: StdDuration::from_millis(50),
        ..Default::default()
    });
    let r = env.initiate(cid).await;
    let pid = r["payment"]["id"].as_i64().unwrap();
    assert_eq!(env.settled(pid).await["payment"]["status"], "completed");
    let checkout = r["payment"]["checkout_request_id"].as_str().unwrap().to_string();
    let receipt = env.mpesa.pushes().last().unwrap().receipt.clone().unwrap();
    let (st, reg) = env.call("POST", "/api/payments/mpesa/register-c2b", None).await;
    assert_eq!(st, 200, "{reg}");
    let trans = env.mpesa.c2b_pay("254712345040", 1500, "baraka").await.unwrap();
    eventually("the C2B payment is recorded", WAIT, || async { (env.count("payments").await == 2).then_some(()) })
        .await;
    let before = (
        env.count("payments").await,
        env.count("invoices").await,
        env.count("customers").await,
        env.expires(cid).await,
    );

    let secret = env.app.callback_token();
    let doors = [
        "/api/auth/login".to_string(),
        "/api/payments/mpesa/callback".to_string(),
        format!("/api/payments/cb/stk/{secret}"),
        "/api/payments/airtel/callback".to_string(),
        format!("/api/payments/cb/airtel/{secret}"),
        format!("/api/payments/cb/c2b/{secret}/confirm"),
        format!("/api/payments/cb/c2b/{secret}/validate"),
        "/api/payments/cb/c2b/wrong-token/confirm".to_string(),
        "/api/customers".to_string(),
        "/api/packages".to_string(),
        "/api/payments/initiate".to_string(),
        "/provision/not-a-token/callback".to_string(),
    ];
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"{".to_vec()),
        ("application/json", deep.into_bytes()),
        ("application/json", br#"{"Body":{"stkCallback":{"CheckoutRequestID":1e400,"ResultCode":-1e400}}}"#.to_vec()),
        ("application/json", vec![0xff, 0xfe, 0x00, 0x7b, 0x7d]),
        (
            "application/json",
            b"{\"TransID\":\"\\u0000\",\"TransAmount\":\"1500\",\"BillRefNumber\":\"baraka\"}".to_vec(),
        ),
        ("application/json", b"null".to_vec()),
        ("application/json", b"[1,2,3]".to_vec()),
        ("application/json", format!("{{\"username\":\"{}\",\"password\":\"x\"}}", "a".repeat(60_000)).into_bytes()),
        (
            "application/json",
            br#"{"transaction":{"id":"BN1","status_code":"TS","airtel_money_id":"X","id":"BN2"}}"#.to_vec(),
        ),
        ("text/plain", br#"{"username":"root","password":"x"}"#.to_vec()),
        ("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--".to_vec()),
    ];
    let mut statuses = Vec::new();
    for door in &doors {
        for (ctype, body) in &bodies {
            for token in [None, Some("garbage.token.value")] {
                let mut req = env
                    .http
                    .post(format!("{}{door}", env.base))
                    .header("content-type", *ctype)
                    .header("x-forwarded-for", "1.2.3.4, ".repeat(500))
                    .body(body.clone());
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                // A server may answer (401, 413) before reading a large body and close:
                // the client then sees the connection end. That is not an error; a
                // panic would be, and the hook counts those.
                let st = req.send().await.map(|r| r.status().as_u16()).unwrap_or(499);
                statuses.push((door.clone(), st));
            }
        }
    }
    // Hostile headers: huge values, many headers, absurd tokens and cookies.
    let mut many = reqwest::header::HeaderMap::new();
    for i in 0..90 {
        many.insert(
            reqwest::header::HeaderName::from_bytes(format!("x-junk-{i}").as_bytes()).unwrap(),
            "v".repeat(100).parse().unwrap(),
        );
    }
    let hostile = [
        env.http
            .get(format!("{}/api/customers", env.base))
            .header("authorization", format!("Bearer {}", "A".repeat(10_000))),
        env.http.get(format!("{}/api/customers", env.base)).header("cookie", "broadnet_session=x; ".repeat(1_000)),
        env.http.get(format!("{}/api/customers", env.base)).header("x-huge", "h".repeat(60_000)),
        env.http.get(format!("{}/api/customers?page=1&page=99999999999999999999", env.base)).bearer_auth(&env.token),
        env.http.get(format!("{}/api/payments/99999999999999999999999", env.base)).bearer_auth(&env.token),
        env.http.get(format!("{}/health", env.base)).headers(many),
    ];
    for req in hostile {
        let st = req.send().await.map(|r| r.status().as_u16()).unwrap_or(0);
        statuses.push(("headers".into(), st));
    }
    // Malformed requests on a raw socket.
    let addr = env.base.trim_start_matches("http://").to_string();
    for raw in [
        &b"GET / HTTP/9.9\r\n\r\n"[..],
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage-tls-hello\r\n\r\n",
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz\r\n",
        b"GET /health HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"\0\0\0\0\0\0\0\0\r\n\r\n",
    ] {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(raw).await.unwrap();
        let mut buf = vec![0u8; 2048];
        let n = tokio::time::timeout(StdDuration::from_secs(5), s.read(&mut buf)).await.unwrap().unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(!head.starts_with("HTTP/1.1 5"), "{raw:?} got {head}");
    }
    // Replays of the genuine callbacks, on every path that takes them.
    let genuine = stk_body(
        &checkout,
        json!(0),
        &[("Amount", json!(1500)), ("MpesaReceiptNumber", json!(receipt)), ("PhoneNumber", json!(254712345040u64))],
    );
    let c2b = json!({"TransactionType": "Pay Bill", "TransID": trans, "TransTime": "20261125090000",
        "TransAmount": "1500.00", "BusinessShortCode": "174379", "BillRefNumber": "baraka", "MSISDN": "2547 ***** 040"});
    for _ in 0..10 {
        for (path, body) in [
            (format!("/api/payments/cb/stk/{secret}"), &genuine),
            ("/api/payments/mpesa/callback".to_string(), &genuine),
            (format!("/api/payments/cb/c2b/{secret}/confirm"), &c2b),
        ] {
            let st = env.http.post(format!("{}{path}", env.base)).json(body).send().await.unwrap().status().as_u16();
            statuses.push((path, st));
        }
    }
    let errors: Vec<_> = statuses.iter().filter(|(_, s)| *s >= 500 || *s == 0).collect();
    assert!(errors.is_empty(), "server errors: {errors:?}");
    assert!(statuses.iter().filter(|(_, s)| *s == 499).count() < statuses.len() / 4, "{statuses:?}");
    assert_eq!(PANICS.load(std::sync::atomic::Ordering::SeqCst), 0, "the server panicked");
    // Healthy, and nothing changed.
    let (st, health) = env.call("GET", "/health", None).await;
    assert_eq!((st, health["status"].as_str()), (200, Some("ok")));
    let after = (
        env.count("payments").await,
        env.count("invoices").await,
        env.count("customers").await,
        env.expires(cid).await,
    );
    assert_eq!(before, after);
    env.finish().await;
}
