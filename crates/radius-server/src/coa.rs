//! Dynamic Authorization client (RFC 5176): Disconnect-Request and CoA-Request to
//! a router's port 3799, with timeout and retransmission of the identical packet.

use broadnet_radius::dict::{self, attr};
use broadnet_radius::{Avp, Code, Packet, encode_request, verify_response};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Disconnect-ACK / CoA-ACK.
    Ack,
    /// Disconnect-NAK / CoA-NAK, with Error-Cause when the router gave one.
    Nak { error_cause: Option<u32>, reason: String },
    /// No valid answer after every retry.
    Timeout,
}

impl Outcome {
    pub fn describe(&self) -> String {
        match self {
            Outcome::Ack => "acknowledged".into(),
            Outcome::Nak { error_cause: Some(c), reason } => format!("refused: {c} {reason}"),
            Outcome::Nak { error_cause: None, .. } => "refused".into(),
            Outcome::Timeout => "no answer from the router".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CoaClient {
    pub timeout: Duration,
    pub retries: u32,
}

impl Default for CoaClient {
    fn default() -> Self {
        CoaClient { timeout: Duration::from_secs(3), retries: 2 }
    }
}

impl CoaClient {
    /// Sends `code` (Disconnect-Request or CoA-Request) with `attrs` and waits for the answer.
    pub async fn send(&self, target: SocketAddr, secret: &str, code: Code, attrs: &[Avp]) -> std::io::Result<Outcome> {
        let id: u8 = rand::random();
        let mut attrs = attrs.to_vec();
        // Event-Timestamp is set once: retransmissions are the identical packet.
        if !attrs.iter().any(|a| a.typ == attr::EVENT_TIMESTAMP) {
            let now = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
            attrs.push(Avp::int(attr::EVENT_TIMESTAMP, now));
        }
        let raw = encode_request(code, id, &attrs, secret.as_bytes(), true, [0; 16])
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let mut request_auth = [0u8; 16];
        request_auth.copy_from_slice(&raw[4..20]);
        let bind: SocketAddr = if target.is_ipv4() { "0.0.0.0:0".parse() } else { "[::]:0".parse() }
            .map_err(|e: std::net::AddrParseError| std::io::Error::other(e.to_string()))?;
        let sock = UdpSocket::bind(bind).await?;
        let (ack, nak) = match code {
            Code::DisconnectRequest => (Code::DisconnectAck, Code::DisconnectNak),
            _ => (Code::CoaAck, Code::CoaNak),
        };
        let mut buf = vec![0u8; 4096];
        for _ in 0..=self.retries {
            sock.send_to(&raw, target).await?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                let recv = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await;
                let Ok(Ok((n, from))) = recv else { break };
                if from.ip() != target.ip() {
                    continue;
                }
                let data = &buf[..n];
                let Ok(reply) = Packet::decode(data) else { continue };
                if reply.id != id || verify_response(data, &request_auth, secret.as_bytes()).is_err() {
                    tracing::warn!(%target, "ignored a CoA/Disconnect reply that does not match our request");
                    continue;
                }
                if reply.code == ack {
                    return Ok(Outcome::Ack);
                }
                if reply.code == nak {
                    let cause = reply.int(attr::ERROR_CAUSE);
                    let reason = cause.map(dict::error_cause_name).unwrap_or("").to_string();
                    return Ok(Outcome::Nak { error_cause: cause, reason });
                }
            }
        }
        Ok(Outcome::Timeout)
    }
}
