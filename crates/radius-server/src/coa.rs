//! Dynamic Authorization client (RFC 5176): Disconnect-Request and CoA-Request to a router's port
//! 3799, with timeout and retransmission of the identical packet; [`Nas`] aims them at a session.

use broadnet_app::sessions::NasError;
use broadnet_radius::dict::{self, attr};
use broadnet_radius::{Avp, Code, Packet, encode_request, verify_response};
use broadnet_store::DynStore;
use std::net::{IpAddr, SocketAddr};
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

/// Sessions acted on through their router's Dynamic Authorization port.
pub struct Nas {
    store: DynStore,
    client: CoaClient,
    coa_port: u16,
    default_secret: String,
}

impl Nas {
    pub fn new(store: DynStore, client: CoaClient, coa_port: u16, default_secret: String) -> Nas {
        Nas { store, client, coa_port, default_secret }
    }

    async fn target(&self, session: &broadnet_store::RadSession) -> Result<(SocketAddr, String), NasError> {
        let clients = self.store.radius_clients().await?;
        let client = clients
            .iter()
            .find(|c| Some(c.router_id) == session.router_id)
            .or_else(|| clients.iter().find(|c| c.nas_ip == session.nas_ip))
            .ok_or_else(|| NasError::NoRouter(session.nas_ip.clone()))?;
        let ip: IpAddr = client.nas_ip.parse().map_err(|_| NasError::NoAddress(client.name.clone()))?;
        let secret = if client.secret.is_empty() { self.default_secret.clone() } else { client.secret.clone() };
        if secret.is_empty() {
            return Err(NasError::NoSecret(client.name.clone()));
        }
        Ok((SocketAddr::new(ip, self.coa_port), secret))
    }

    fn identify(session: &broadnet_store::RadSession) -> Vec<Avp> {
        let mut attrs =
            vec![Avp::text(attr::USER_NAME, &session.username), Avp::text(attr::ACCT_SESSION_ID, &session.session_id)];
        if let Some(ip) = session.framed_ip.as_deref().and_then(|s| s.parse::<std::net::Ipv4Addr>().ok()) {
            attrs.push(Avp::ipv4(attr::FRAMED_IP_ADDRESS, ip));
        }
        attrs
    }

    async fn send(
        &self,
        session: &broadnet_store::RadSession,
        code: Code,
        extra: Vec<Avp>,
    ) -> Result<broadnet_app::sessions::NasResult, NasError> {
        let (target, secret) = self.target(session).await?;
        let mut attrs = Nas::identify(session);
        attrs.extend(extra);
        let outcome = self
            .client
            .send(target, &secret, code, &attrs)
            .await
            .map_err(|source| NasError::Unreachable { target, source })?;
        Ok(broadnet_app::sessions::NasResult { ok: outcome == Outcome::Ack, detail: outcome.describe() })
    }
}

#[async_trait::async_trait]
impl broadnet_app::sessions::NasControl for Nas {
    async fn disconnect(
        &self,
        session: &broadnet_store::RadSession,
    ) -> Result<broadnet_app::sessions::NasResult, NasError> {
        self.send(session, Code::DisconnectRequest, Vec::new()).await
    }

    async fn change_rate_limit(
        &self,
        session: &broadnet_store::RadSession,
        rate_limit: &str,
    ) -> Result<broadnet_app::sessions::NasResult, NasError> {
        let rate = Avp::mikrotik_text(dict::mikrotik::RATE_LIMIT, rate_limit);
        self.send(session, Code::CoaRequest, vec![rate]).await
    }
}
