#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Sends real mail to a local SMTP server (Python's aiosmtpd). These tests fail, rather than skip,
//! when aiosmtpd is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use broadnet_mailer::{Attachment, Email, MailError, Mailer, Security, SmtpConfig};

/// An aiosmtpd server on a free loopback port. Each accepted message is stored as `msgN.eml`
/// (raw bytes as received) and `msgN.json` (envelope plus headers and text parsed by Python's
/// `email` package). Recipients `nobody@…` are refused with 550, `busy@…` with 451. AUTH
/// (PLAIN/LOGIN, allowed without TLS) accepts billing / s3cret and is optional.
const SERVER: &str = r#"
import json, os, socket, sys
from email import policy
from email.parser import BytesParser
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

OUT = sys.argv[1]

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local == "nobody":
            return "550 no such user"
        if local == "busy":
            return "451 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = len([f for f in os.listdir(OUT) if f.endswith(".json")])
        raw = envelope.original_content or envelope.content
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        body = msg.get_body(preferencelist=("plain",))
        login = getattr(session, "login_data", None)
        info = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_user": login.decode() if login else None,
            "subject": str(msg["subject"]),
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "text": body.get_content() if body is not None else None,
        }
        with open(os.path.join(OUT, f"msg{n}.eml"), "wb") as f:
            f.write(raw)
        tmp = os.path.join(OUT, f"msg{n}.json.tmp")
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.rename(tmp, os.path.join(OUT, f"msg{n}.json"))
        return "250 Message accepted for delivery"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"billing" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

err = None
for _ in range(20):
    port = free_port()
    try:
        controller = Controller(Handler(), hostname="127.0.0.1", port=port,
                                authenticator=authenticator, auth_require_tls=False)
        controller.start()
        break
    except Exception as e:
        err = e
else:
    raise SystemExit(f"could not start aiosmtpd: {err}")
print(f"READY {port}", flush=True)
sys.stdin.read()  # runs until the test closes stdin (or exits)
controller.stop()
"#;

fn require_aiosmtpd() {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "these tests need Python's aiosmtpd: run `python3 -m pip install aiosmtpd`");
}

struct SmtpServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    fn start(name: &str) -> Self {
        require_aiosmtpd();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("smtp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let Some(port) = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()) else {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("aiosmtpd did not start: {line:?}\n{}", String::from_utf8_lossy(&output.stderr));
        };
        Self { child, port, dir }
    }

    fn config(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            user: None,
            pass: None,
            from: "Kilimani Billing <billing@kilimani.co.ke>".into(),
            security: Security::Auto,
            timeout: Duration::from_secs(10),
        }
    }

    /// Messages received so far: (parsed summary, raw bytes), in arrival order.
    fn messages(&self) -> Vec<(serde_json::Value, Vec<u8>)> {
        (0..)
            .map_while(|n| {
                let json = std::fs::read(self.dir.join(format!("msg{n}.json"))).ok()?;
                let raw = std::fs::read(self.dir.join(format!("msg{n}.eml"))).unwrap();
                Some((serde_json::from_slice(&json).unwrap(), raw))
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn email(to: &str, attachments: Vec<Attachment>) -> Email {
    Email {
        to: to.into(),
        subject: "Invoice INV-000123 – Kilimani Fibre".into(),
        text: "Habari Wanjirũ,\n\nWe received KES 1,500.00 by M-Pesa (receipt NLJ7RT61SV).\nYour invoice is attached.\n\nKilimani Fibre\n"
            .into(),
        attachments,
    }
}

fn pdf_attachment() -> Attachment {
    let doc = broadnet_invoice::InvoiceDoc {
        isp_name: "Kilimani Fibre".into(),
        number: "INV-000123".into(),
        customer_name: "Wanjirũ Kamau".into(),
        amount: "KES 1,500.00".into(),
        ..Default::default()
    };
    let mut bytes = broadnet_invoice::render(&doc);
    // Every byte value, so that any transfer-encoding slip shows.
    bytes.extend(0..=255u8);
    Attachment { filename: "INV-000123.pdf".into(), content_type: "application/pdf".into(), bytes }
}

/// Unfolds header lines of a MIME entity and splits it into (headers, body).
fn split_entity(entity: &[u8]) -> (String, &[u8]) {
    let at = entity.windows(4).position(|w| w == b"\r\n\r\n").expect("blank line after headers");
    let headers = String::from_utf8_lossy(&entity[..at]).replace("\r\n ", " ").replace("\r\n\t", " ");
    (headers, &entity[at + 4..])
}

fn header_param(headers: &str, name: &str) -> Option<String> {
    let start = headers.find(&format!("{name}=\""))? + name.len() + 2;
    Some(headers[start..].split('"').next()?.to_owned())
}

/// Finds the attachment called `filename` in a raw multipart message and decodes it.
fn attachment_bytes(raw: &[u8], filename: &str) -> (String, Vec<u8>) {
    let (headers, body) = split_entity(raw);
    assert!(headers.contains("multipart/mixed"), "{headers}");
    let boundary = header_param(&headers, "boundary").expect("boundary");
    let delimiter = format!("--{boundary}");
    let body = String::from_utf8_lossy(body).into_owned();
    for part in body.split(&delimiter).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.trim_start_matches("\r\n").as_bytes();
        let (part_headers, part_body) = split_entity(part);
        if header_param(&part_headers, "filename").as_deref() != Some(filename) {
            continue;
        }
        assert!(part_headers.contains("Content-Transfer-Encoding: base64"), "{part_headers}");
        let b64: String = String::from_utf8_lossy(part_body).chars().filter(|c| !c.is_whitespace()).collect();
        return (part_headers, base64::engine::general_purpose::STANDARD.decode(b64).unwrap());
    }
    panic!("no attachment {filename:?} in:\n{}", String::from_utf8_lossy(raw));
}

#[tokio::test]
async fn delivers_text_and_pdf_attachment() {
    let server = SmtpServer::start("deliver");
    let mailer = Mailer::new(server.config()).unwrap();
    assert_eq!(mailer.security(), Security::None);
    let attachment = pdf_attachment();
    let sent = email("Wanjirũ Kamau <wanjiru@example.co.ke>", vec![attachment.clone()]);
    mailer.send(&sent).await.unwrap();

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let (info, raw) = &messages[0];
    assert_eq!(info["mail_from"], "billing@kilimani.co.ke");
    assert_eq!(info["rcpt_tos"], serde_json::json!(["wanjiru@example.co.ke"]));
    assert_eq!(info["auth_user"], serde_json::Value::Null);
    assert_eq!(info["subject"], sent.subject.as_str());
    assert_eq!(info["from"], "Kilimani Billing <billing@kilimani.co.ke>");
    assert_eq!(info["to"], "Wanjirũ Kamau <wanjiru@example.co.ke>");
    let text = info["text"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(text.trim_end(), sent.text.trim_end());

    let (part_headers, bytes) = attachment_bytes(raw, "INV-000123.pdf");
    assert!(part_headers.contains("Content-Type: application/pdf"), "{part_headers}");
    assert!(part_headers.contains("Content-Disposition: attachment"), "{part_headers}");
    assert_eq!(bytes, attachment.bytes);
    assert!(bytes.starts_with(b"%PDF-1.4"));
}

#[tokio::test]
async fn delivers_plain_text_without_attachments() {
    let server = SmtpServer::start("plain");
    let mailer = Mailer::new(server.config()).unwrap();
    mailer.send(&email("wanjiru@example.co.ke", Vec::new())).await.unwrap();
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let (info, raw) = &messages[0];
    assert_eq!(info["to"], "wanjiru@example.co.ke");
    assert!(info["text"].as_str().unwrap().contains("Habari Wanjirũ,"));
    let (headers, _) = split_entity(raw);
    assert!(headers.contains("Content-Type: text/plain; charset=utf-8"), "{headers}");
}

#[tokio::test]
async fn rejected_recipient_is_permanent() {
    let server = SmtpServer::start("reject");
    let mailer = Mailer::new(server.config()).unwrap();
    let err = mailer.send(&email("nobody@example.co.ke", vec![pdf_attachment()])).await.unwrap_err();
    assert!(matches!(err, MailError::Permanent(_)), "{err:?}");
    assert!(err.is_permanent());
    let text = err.to_string();
    assert!(text.contains("550") && text.contains("no such user"), "{text}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn busy_recipient_is_transient() {
    let server = SmtpServer::start("busy");
    let mailer = Mailer::new(server.config()).unwrap();
    let err = mailer.send(&email("busy@example.co.ke", Vec::new())).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    assert!(!err.is_permanent());
    assert!(err.to_string().contains("451"), "{err}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn closed_port_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mailer = Mailer::new(SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        user: None,
        pass: None,
        from: "billing@kilimani.co.ke".into(),
        security: Security::None,
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let err = mailer.send(&email("wanjiru@example.co.ke", Vec::new())).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    assert!(!err.is_permanent());
    assert!(matches!(mailer.test_connection().await, Err(MailError::Transient(_))));
}

#[tokio::test]
async fn silent_server_times_out_as_transient() {
    // Accepts the TCP connection but never sends a greeting.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // Hold the connection until the client gives up and closes it (at most 5 s).
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = std::io::Read::read(&mut stream, &mut [0u8; 64]);
    });
    let mailer = Mailer::new(SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        user: None,
        pass: None,
        from: "billing@kilimani.co.ke".into(),
        security: Security::None,
        timeout: Duration::from_millis(500),
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = mailer.send(&email("wanjiru@example.co.ke", Vec::new())).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    holder.join().unwrap();
}

#[tokio::test]
async fn authenticates_with_credentials() {
    let server = SmtpServer::start("auth");
    let mut cfg = server.config();
    cfg.user = Some("billing".into());
    cfg.pass = Some("s3cret".into());
    let mailer = Mailer::new(cfg.clone()).unwrap();
    mailer.test_connection().await.unwrap();
    mailer.send(&email("wanjiru@example.co.ke", Vec::new())).await.unwrap();
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0["auth_user"], "billing");

    cfg.pass = Some("wrong".into());
    let err = Mailer::new(cfg).unwrap().send(&email("wanjiru@example.co.ke", Vec::new())).await.unwrap_err();
    assert!(matches!(err, MailError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("535"), "{err}");
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn required_starttls_is_never_downgraded() {
    // aiosmtpd here offers no STARTTLS: with StartTls required, nothing may be sent in the clear.
    let server = SmtpServer::start("starttls");
    let mut cfg = server.config();
    cfg.security = Security::StartTls;
    let mailer = Mailer::new(cfg).unwrap();
    assert_eq!(mailer.security(), Security::StartTls);
    let err = mailer.send(&email("wanjiru@example.co.ke", Vec::new())).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("STARTTLS"), "{err}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn bad_recipient_address_is_rejected_before_connecting() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mailer = Mailer::new(SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        user: None,
        pass: None,
        from: "billing@kilimani.co.ke".into(),
        security: Security::None,
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let err = mailer.send(&email("not-an-address", Vec::new())).await.unwrap_err();
    assert!(matches!(err, MailError::Address(_)), "{err:?}");
    assert!(err.is_permanent());
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_fails_transiently() {
    let server = SmtpServer::start("tls");
    let mut cfg = server.config();
    cfg.security = Security::Tls;
    cfg.timeout = Duration::from_secs(5);
    let err = Mailer::new(cfg).unwrap().send(&email("wanjiru@example.co.ke", Vec::new())).await.unwrap_err();
    assert!(matches!(err, MailError::Transient(_)), "{err:?}");
    assert!(server.messages().is_empty());
}
