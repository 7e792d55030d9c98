//! Sending e-mail over SMTP (lettre's async tokio transport, rustls with ring and the webpki roots).
//!
//! A [`Mailer`] is built once from an [`SmtpConfig`] and is cheap to clone. Every [`Mailer::send`]
//! opens its own connection (no pool), so a mailer never holds a socket between invoices.
//! Failures are classified for retrying: [`MailError::is_permanent`] is true for bad addresses and
//! 5xx replies (retrying will not help), false for connection problems, time-outs, TLS failures and
//! 4xx replies.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Mailboxes, MultiPart, SinglePart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Implicit TLS from the first byte (SMTPS, port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which is required (submission, port 587): the
    /// mail is not sent if the server does not offer it.
    StartTls,
    /// No encryption (local relays, tests); also what `Auto` picks for port 25, 1025 and others.
    None,
    /// By port: 465 `Tls`, 587 `StartTls`, anything else `None`.
    Auto,
}

impl Security {
    /// Resolves `Auto` for `port`; other values are returned unchanged.
    pub fn resolve(self, port: u16) -> Security {
        match (self, port) {
            (Security::Auto, 465) => Security::Tls,
            (Security::Auto, 587) => Security::StartTls,
            (Security::Auto, _) => Security::None,
            (other, _) => other,
        }
    }
}

/// SMTP server settings.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// Username for SMTP AUTH; no authentication when `None` or empty.
    pub user: Option<String>,
    pub pass: Option<String>,
    /// "ISP Billing <billing@isp.co.ke>" or a bare address.
    pub from: String,
    pub security: Security,
    /// Limit for connecting and for each SMTP command; a whole send is also abandoned after four
    /// times this.
    pub timeout: Duration,
}

/// A file attached to an e-mail.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    /// MIME type, e.g. "application/pdf".
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// One plain-text e-mail.
#[derive(Debug, Clone)]
pub struct Email {
    /// A recipient ("Jane <jane@example.com>" or a bare address); several may be given separated
    /// by commas.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub attachments: Vec<Attachment>,
}

/// Why an e-mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A bad from or to address (or other bad input): permanent.
    #[error("{0}")]
    Address(String),
    /// The server refused with a 5xx reply (or the message cannot be built): permanent.
    #[error("{0}")]
    Permanent(String),
    /// Connecting failed, timed out, TLS failed, or the server replied 4xx: worth retrying.
    #[error("{0}")]
    Transient(String),
}

impl MailError {
    /// True when retrying the same e-mail cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Address(_) | MailError::Permanent(_))
    }
}

impl From<lettre::transport::smtp::Error> for MailError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        let text = format!("SMTP: {e}");
        if e.is_permanent() { MailError::Permanent(text) } else { MailError::Transient(text) }
    }
}

/// Sends e-mail through one SMTP server. Cloning is cheap.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    security: Security,
    timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).field("security", &self.security).finish()
    }
}

impl Mailer {
    /// Checks the configuration and prepares the transport; it does not connect.
    ///
    /// Fails with [`MailError::Address`] for an unparsable `from` or an empty host.
    pub fn new(cfg: SmtpConfig) -> Result<Self, MailError> {
        let from: Mailbox = cfg
            .from
            .trim()
            .parse()
            .map_err(|e| MailError::Address(format!("invalid from address {:?}: {e}", cfg.from)))?;
        let host = cfg.host.trim();
        if host.is_empty() {
            return Err(MailError::Address("SMTP host is empty".to_owned()));
        }
        let security = cfg.security.resolve(cfg.port);
        let builder = match security {
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            Security::None | Security::Auto => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)),
        }
        .map_err(|e| MailError::Address(format!("invalid SMTP host {host:?}: {e}")))?;
        let mut builder = builder.port(cfg.port).timeout(Some(cfg.timeout));
        if let Some(user) = cfg.user.filter(|u| !u.is_empty()) {
            builder = builder.credentials(Credentials::new(user, cfg.pass.unwrap_or_default()));
        }
        Ok(Self { transport: builder.build(), from, security, timeout: cfg.timeout })
    }

    /// The sender every e-mail goes out as.
    pub fn from_address(&self) -> String {
        self.from.to_string()
    }

    /// The security in use (`Auto` already resolved by port).
    pub fn security(&self) -> Security {
        self.security
    }

    /// Builds the RFC 5322 message for `email` (the bytes `send` would transmit, apart from the
    /// `Date` and `Message-ID` headers, which differ each time).
    pub fn format(&self, email: &Email) -> Result<Vec<u8>, MailError> {
        Ok(self.message(email)?.formatted())
    }

    fn message(&self, email: &Email) -> Result<Message, MailError> {
        let to: Mailboxes = email
            .to
            .trim()
            .parse()
            .map_err(|e| MailError::Address(format!("invalid to address {:?}: {e}", email.to)))?;
        if to.iter().next().is_none() {
            return Err(MailError::Address("no recipient".to_owned()));
        }
        let builder = Message::builder()
            .message_id(None)
            .from(self.from.clone())
            .mailbox(header::To::from(to))
            .subject(email.subject.clone());
        let built = if email.attachments.is_empty() {
            builder.header(ContentType::TEXT_PLAIN).body(email.text.clone())
        } else {
            let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone()));
            for a in &email.attachments {
                let content_type = ContentType::parse(&a.content_type).map_err(|e| {
                    MailError::Permanent(format!(
                        "attachment {:?} has an invalid content type {:?}: {e}",
                        a.filename, a.content_type
                    ))
                })?;
                parts = parts.singlepart(
                    lettre::message::Attachment::new(a.filename.clone()).body(a.bytes.clone(), content_type),
                );
            }
            builder.multipart(parts)
        };
        built.map_err(|e| MailError::Permanent(format!("cannot build the message: {e}")))
    }

    /// Connects, sends `email`, and disconnects.
    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = self.message(email)?;
        let overall = self.timeout.saturating_mul(4);
        match tokio::time::timeout(overall, self.transport.send(message)).await {
            Ok(Ok(response)) => {
                tracing::debug!(to = %email.to, code = %response.code(), "e-mail accepted");
                Ok(())
            }
            Ok(Err(e)) => {
                let err = MailError::from(e);
                tracing::warn!(to = %email.to, permanent = err.is_permanent(), error = %err, "e-mail not sent");
                Err(err)
            }
            Err(_) => {
                tracing::warn!(to = %email.to, "e-mail not sent: timed out");
                Err(MailError::Transient(format!("SMTP: no answer within {overall:?}")))
            }
        }
    }

    /// Connects (with TLS and authentication as configured) and says NOOP, without sending mail:
    /// for a "test these settings" button.
    pub async fn test_connection(&self) -> Result<(), MailError> {
        let overall = self.timeout.saturating_mul(4);
        match tokio::time::timeout(overall, self.transport.test_connection()).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(MailError::Transient("SMTP: the server did not answer NOOP".to_owned())),
            Ok(Err(e)) => Err(MailError::from(e)),
            Err(_) => Err(MailError::Transient(format!("SMTP: no answer within {overall:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(port: u16, security: Security) -> SmtpConfig {
        SmtpConfig {
            host: "smtp.example.co.ke".into(),
            port,
            user: None,
            pass: None,
            from: "ISP Billing <billing@isp.co.ke>".into(),
            security,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn auto_security_by_port() {
        assert_eq!(Security::Auto.resolve(465), Security::Tls);
        assert_eq!(Security::Auto.resolve(587), Security::StartTls);
        assert_eq!(Security::Auto.resolve(25), Security::None);
        assert_eq!(Security::Auto.resolve(1025), Security::None);
        assert_eq!(Security::Auto.resolve(2525), Security::None);
        assert_eq!(Security::StartTls.resolve(465), Security::StartTls);
        for (port, expected) in [(465, Security::Tls), (587, Security::StartTls), (25, Security::None)] {
            assert_eq!(Mailer::new(cfg(port, Security::Auto)).unwrap().security(), expected);
        }
    }

    #[test]
    fn bad_from_is_an_address_error() {
        let mut c = cfg(25, Security::None);
        c.from = "not an address".into();
        let err = Mailer::new(c).unwrap_err();
        assert!(matches!(err, MailError::Address(_)), "{err:?}");
        assert!(err.is_permanent());
        let mut c = cfg(25, Security::None);
        c.host = " ".into();
        assert!(matches!(Mailer::new(c), Err(MailError::Address(_))));
    }

    #[test]
    fn bare_from_address() {
        let mut c = cfg(25, Security::None);
        c.from = "billing@isp.co.ke".into();
        assert_eq!(Mailer::new(c).unwrap().from_address(), "billing@isp.co.ke");
    }

    #[test]
    fn bad_to_is_an_address_error() {
        let mailer = Mailer::new(cfg(25, Security::None)).unwrap();
        for to in ["", "nobody", "a@b@c"] {
            let email = Email { to: to.into(), subject: "s".into(), text: "t".into(), attachments: vec![] };
            let err = mailer.format(&email).unwrap_err();
            assert!(matches!(err, MailError::Address(_)), "{to:?}: {err:?}");
        }
    }

    #[test]
    fn formats_multipart_with_attachment() {
        let mailer = Mailer::new(cfg(25, Security::None)).unwrap();
        let email = Email {
            to: "Wanjiru <wanjiru@example.co.ke>, ops@isp.co.ke".into(),
            subject: "Invoice INV-000123".into(),
            text: "Hello".into(),
            attachments: vec![Attachment {
                filename: "INV-000123.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.4".to_vec(),
            }],
        };
        let raw = String::from_utf8(mailer.format(&email).unwrap()).unwrap();
        assert!(raw.contains("From: \"ISP Billing\" <billing@isp.co.ke>"), "{raw}");
        assert!(raw.contains("Message-ID: <"), "{raw}");
        assert!(raw.contains("To: Wanjiru <wanjiru@example.co.ke>, ops@isp.co.ke"), "{raw}");
        assert!(raw.contains("multipart/mixed"), "{raw}");
        assert!(raw.contains("filename=\"INV-000123.pdf\""), "{raw}");

        let mut bad = email.clone();
        bad.attachments[0].content_type = "not a type".into();
        assert!(matches!(mailer.format(&bad), Err(MailError::Permanent(_))));
    }

    #[test]
    fn permanence() {
        assert!(MailError::Address(String::new()).is_permanent());
        assert!(MailError::Permanent(String::new()).is_permanent());
        assert!(!MailError::Transient(String::new()).is_permanent());
    }
}
