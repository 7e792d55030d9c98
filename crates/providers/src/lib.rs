//! Payment and SMS providers for BroadNet Billing.
//!
//! - [`daraja`]: Safaricom M-Pesa Daraja (STK push, STK query, C2B URL registration, callback decoding).
//! - [`airtel`]: Airtel Money Collection API (USSD push, enquiry, callback decoding and `hash` check).
//! - [`sms`]: Africa's Talking SMS (send, delivery reports, GSM-7/UCS-2 segment counting).
//!
//! Clients only: the simulators of these services live in `broadnet_sim`, which builds on this crate.
//!
//! The reference documents in `shared/reference/` are the source of truth for every wire detail.

pub mod airtel;
pub mod daraja;
pub mod lenient;
pub mod phone;
pub mod sms;
mod token;

/// Why a provider call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// Network error, timeout, or 5xx: the outcome is unknown (do not re-push with a new id; query first).
    #[error("{0}")]
    Unreachable(String),
    /// The provider refused the request: HTTP status, its error code (e.g. "400.002.02", "DP00800001005", "401"),
    /// its message.
    #[error("{code}: {message}")]
    Refused { status: u16, code: String, message: String },
    /// The provider answered something we could not read.
    #[error("unreadable answer: {0}")]
    Decode(String),
    /// Our own settings are unusable (missing key, bad phone...).
    #[error("{0}")]
    Config(String),
}

/// Airtel codes after which the outcome of a push is unknown (airtel-money.md §3, §7.1, §10.3).
const AIRTEL_AMBIGUOUS_CODES: &[&str] = &["ESB000001", "ESB000004", "ROUTER117", "DP00800001000"];

impl ProviderError {
    /// True when the request may or may not have taken effect: look the transaction up before trying again.
    ///
    /// That is: [`ProviderError::Unreachable`]; a [`ProviderError::Refused`] with a 5xx or 408 status; or an
    /// Airtel ambiguous code (`ESB000001`, `ESB000004`, `ROUTER117`, `DP00800001000`).
    ///
    /// Exception: Daraja's `500.001.1001` with "Merchant does not exist", "Wrong credentials" or "Unable to lock
    /// subscriber" is a definite refusal (mpesa-daraja.md §8 says to branch on the message), so it is not ambiguous.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            ProviderError::Unreachable(_) => true,
            ProviderError::Refused { status, code, message } => {
                if code == "500.001.1001" && daraja::is_definite_500_message(message) {
                    return false;
                }
                *status >= 500 || *status == 408 || AIRTEL_AMBIGUOUS_CODES.contains(&code.as_str())
            }
            ProviderError::Decode(_) | ProviderError::Config(_) => false,
        }
    }
}

/// Shared HTTP plumbing for the clients.
pub(crate) mod http {
    use std::time::Duration;

    use crate::ProviderError;

    /// Timeout of every provider call.
    pub const TIMEOUT: Duration = Duration::from_secs(15);

    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("BroadNet-Billing/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    }

    /// A transport error as [`ProviderError::Unreachable`], with its causes.
    pub fn unreachable(e: &reqwest::Error) -> ProviderError {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        ProviderError::Unreachable(msg)
    }

    /// Joins a base URL and a path that starts with `/`.
    pub fn join(base: &str, path: &str) -> String {
        format!("{}{}", base.trim_end_matches('/'), path)
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), ProviderError> {
        let resp = req.send().await.map_err(|e| unreachable(&e))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| unreachable(&e))?;
        Ok((status, body.to_vec()))
    }

    /// The start of a body, for error messages.
    pub fn snippet(body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.chars().count() > 300 {
            format!("{}…", text.chars().take(300).collect::<String>())
        } else {
            text.to_string()
        }
    }

    /// An answer we cannot read: unknown outcome when 5xx, else a refusal carrying the HTTP status as its code.
    pub fn unreadable_error(status: u16, body: &[u8]) -> ProviderError {
        if status >= 500 {
            ProviderError::Unreachable(format!("HTTP {status}: {}", snippet(body)))
        } else {
            ProviderError::Refused { status, code: status.to_string(), message: snippet(body) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, code: &str, message: &str) -> ProviderError {
        ProviderError::Refused { status, code: code.into(), message: message.into() }
    }

    #[test]
    fn ambiguity() {
        assert!(ProviderError::Unreachable("timeout".into()).is_ambiguous());
        assert!(refused(500, "500.003.02", "Spike Arrest Violation").is_ambiguous());
        assert!(refused(503, "503", "maintenance").is_ambiguous());
        assert!(refused(408, "408", "read timeout").is_ambiguous());
        assert!(refused(200, "ESB000001", "Something went wrong").is_ambiguous());
        assert!(refused(200, "ESB000004", "Error while initiating").is_ambiguous());
        assert!(refused(200, "ROUTER117", "timeout").is_ambiguous());
        assert!(refused(200, "DP00800001000", "Ambiguous").is_ambiguous());
        assert!(!refused(400, "400.002.02", "Bad Request - Invalid PhoneNumber").is_ambiguous());
        assert!(!refused(400, "ESB000041", "External Transaction ID already exists").is_ambiguous());
        assert!(!refused(401, "401", "Bad or expired token").is_ambiguous());
        assert!(!refused(500, "500.001.1001", "Wrong credentials").is_ambiguous());
        assert!(!refused(500, "500.001.1001", "Merchant does not exist").is_ambiguous());
        assert!(
            !refused(
                500,
                "500.001.1001",
                "Unable to lock subscriber, a transaction is already in process for the current subscriber"
            )
            .is_ambiguous()
        );
        assert!(!ProviderError::Decode("x".into()).is_ambiguous());
        assert!(!ProviderError::Config("x".into()).is_ambiguous());
    }
}
