//! UDP transport: binding the auth and accounting sockets, the receive loop, the checks every
//! datagram passes (decode, known client, port, authenticators) and the duplicate/reply cache.

use broadnet_radius::dict::attr;
use broadnet_radius::{Code, Packet, encode_response, verify_request};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::{Printable, Server, Stats};

/// Cached replies by (source, identifier, request authenticator).
pub(crate) type DedupKey = (SocketAddr, u8, [u8; 16]);

pub(crate) enum Cached {
    /// A decision is being made: a retransmission now is dropped (the NAS retries).
    Pending(Instant),
    Done(Vec<u8>, Instant),
}

const DEDUP_TTL: Duration = Duration::from_secs(30);
const DEDUP_MAX: usize = 100_000;

/// The auth and accounting sockets, bound before [`Server::run`] so tests can bind port 0.
pub struct Bound {
    pub auth: UdpSocket,
    pub acct: UdpSocket,
}

impl Server {
    /// Binds the configured auth and accounting addresses.
    pub async fn bind(&self) -> std::io::Result<Bound> {
        let auth = UdpSocket::bind(self.cfg.auth_addr).await?;
        let acct = UdpSocket::bind(self.cfg.acct_addr).await?;
        Ok(Bound { auth, acct })
    }

    pub(crate) async fn serve_socket(
        self: Arc<Self>,
        sock: Arc<UdpSocket>,
        auth_port: bool,
        shutdown: CancellationToken,
    ) {
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, src) = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = sock.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "RADIUS receive failed");
                        continue;
                    }
                },
            };
            let data = buf[..n].to_vec();
            let this = self.clone();
            let sock = sock.clone();
            tokio::spawn(async move {
                if let Some(reply) = this.handle(&data, src, auth_port).await
                    && let Err(e) = sock.send_to(&reply, src).await
                {
                    tracing::warn!(error = %e, %src, "RADIUS send failed");
                }
            });
        }
    }

    pub(crate) async fn housekeeping(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Ok(mut d) = self.dedup.lock() {
                let now = Instant::now();
                d.retain(|_, v| match v {
                    Cached::Pending(t) | Cached::Done(_, t) => now.duration_since(*t) < DEDUP_TTL,
                });
            }
        }
    }

    /// One datagram in, at most one datagram out.
    pub async fn handle(&self, data: &[u8], src: SocketAddr, auth_port: bool) -> Option<Vec<u8>> {
        let req = match Packet::decode(data) {
            Ok(p) => p,
            Err(e) => {
                Stats::bump(&self.stats.dropped_malformed);
                tracing::debug!(%src, error = %e, "dropped malformed RADIUS packet");
                return None;
            }
        };
        let Some(client) = self.client(src.ip()).await else {
            Stats::bump(&self.stats.dropped_unknown_client);
            if let Some(suppressed) = self.unknown_sources.note(src.ip(), Instant::now()) {
                tracing::warn!(
                    %src,
                    suppressed,
                    "dropped RADIUS packet from an unknown address (add the router, with this NAS address); \
                     further packets from it are counted, not logged, for a minute"
                );
            }
            return None;
        };
        let expected = if auth_port {
            matches!(req.code, Code::AccessRequest | Code::StatusServer)
        } else {
            matches!(req.code, Code::AccountingRequest | Code::StatusServer)
        };
        if !expected {
            Stats::bump(&self.stats.dropped_wrong_port);
            return None;
        }
        let has_ma = match verify_request(data, &req, client.secret.as_bytes()) {
            Ok(ma) => ma,
            Err(e) => {
                Stats::bump(&self.stats.dropped_bad_authenticator);
                tracing::warn!(%src, router = %Printable(&client.name), error = %e, "dropped RADIUS packet");
                return None;
            }
        };
        if req.code == Code::AccessRequest && !has_ma {
            // BlastRADIUS (CVE-2024-3596): without Message-Authenticator a forged
            // Accept can be built; Proxy-State is how the attack carries its collision.
            if client.require_message_authenticator || req.has(attr::PROXY_STATE) {
                Stats::bump(&self.stats.dropped_no_message_authenticator);
                tracing::warn!(%src, router = %Printable(&client.name), "dropped Access-Request without Message-Authenticator (BlastRADIUS protection; turn off per router only for old firmware)");
                return None;
            }
        }
        if req.code == Code::StatusServer {
            let code = if auth_port { Code::AccessAccept } else { Code::AccountingResponse };
            return encode_response(code, &req, &[], client.secret.as_bytes(), true).ok();
        }

        let key = (src, req.id, req.authenticator);
        {
            let Ok(mut d) = self.dedup.lock() else { return None };
            match d.get(&key) {
                Some(Cached::Done(bytes, _)) => {
                    Stats::bump(&self.stats.duplicates);
                    return Some(bytes.clone());
                }
                Some(Cached::Pending(_)) => {
                    Stats::bump(&self.stats.duplicates);
                    return None;
                }
                None => {
                    if d.len() >= DEDUP_MAX {
                        d.retain(|_, v| matches!(v, Cached::Done(_, t) if t.elapsed() < Duration::from_secs(5)));
                    }
                    d.insert(key, Cached::Pending(Instant::now()));
                }
            }
        }
        let reply = if req.code == Code::AccessRequest {
            Stats::bump(&self.stats.access_requests);
            self.authenticate(&req, &client, src).await
        } else {
            Stats::bump(&self.stats.accounting_requests);
            self.account(&req, &client, src).await
        };
        if let Ok(mut d) = self.dedup.lock() {
            match &reply {
                Some(bytes) => {
                    d.insert(key, Cached::Done(bytes.clone(), Instant::now()));
                }
                None => {
                    d.remove(&key);
                }
            }
        }
        reply
    }
}
