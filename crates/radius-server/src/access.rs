//! Access-Request handling: look the user up, ask [`crate::authorization`] for the decision,
//! queue it for the authentication log (written in batches by one task) and encode the reply.

use broadnet_radius::dict::attr;
use broadnet_radius::{Avp, Code, Packet, encode_response};
use broadnet_store::{DynStore, PostAuth, RadiusClient};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use crate::authorization::{self, Decision, Input};
use crate::{Printable, Server, Stats};

pub(crate) const POST_AUTH_QUEUE: usize = 50_000;
const POST_AUTH_BATCH: usize = 500;

/// Writes the authentication log in batches: one INSERT per batch instead of one
/// transaction per decision, so logging never becomes the bottleneck of auth.
pub(crate) async fn post_auth_writer(
    store: DynStore,
    rx: Option<tokio::sync::mpsc::Receiver<PostAuth>>,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) {
    let Some(mut rx) = rx else { return };
    let mut batch = Vec::with_capacity(POST_AUTH_BATCH);
    loop {
        let stopping = tokio::select! {
            n = rx.recv_many(&mut batch, POST_AUTH_BATCH) => n == 0,
            _ = shutdown.cancelled() => {
                // Write out what is queued, then stop.
                while let Ok(e) = rx.try_recv() {
                    batch.push(e);
                }
                true
            }
        };
        for chunk in std::mem::take(&mut batch).chunks(POST_AUTH_BATCH) {
            if let Err(e) = store.record_post_auth(chunk.to_vec()).await {
                Stats::bump(&stats.errors);
                tracing::error!(error = %e, "cannot write the authentication log");
            }
        }
        if stopping {
            return;
        }
    }
}

impl Server {
    pub(crate) async fn authenticate(&self, req: &Packet, client: &RadiusClient, src: SocketAddr) -> Option<Vec<u8>> {
        let now = self.clock.now();
        let username = req.text(attr::USER_NAME).unwrap_or_default();
        let (customer, package, open_sessions) = if username.is_empty() {
            (None, None, 0)
        } else {
            match self.store.auth_lookup(&username).await {
                Ok(Some((c, p, n))) => (Some(c), p, n),
                Ok(None) => (None, None, 0),
                Err(e) => {
                    // No answer: the NAS retries, or fails over to its second server.
                    Stats::bump(&self.stats.errors);
                    tracing::error!(error = %e, "RADIUS auth: database error");
                    return None;
                }
            }
        };
        let mut salts = [[0u8; 2]; 2];
        let r: u16 = rand::random();
        salts[0] = [0x80 | (r as u8 & 0x07), rand::random()];
        salts[1] = [0x88 | (r as u8 & 0x07), rand::random()];
        let input = Input {
            req,
            client,
            customer: customer.as_ref(),
            package: package.as_ref(),
            open_sessions,
            now,
            policy: &self.cfg.policy,
            how_to_pay: &self.how_to_pay(),
            salts,
        };
        let decision = authorization::decide(&input);
        let calling = req.text(attr::CALLING_STATION_ID);
        let (code, attrs, reply, reason) = match decision {
            Decision::Accept { attrs, method } => {
                Stats::bump(&self.stats.accepts);
                tracing::info!(user = %Printable(&username), router = %Printable(&client.name), method = method.name(), "Access-Accept");
                (Code::AccessAccept, attrs, "Access-Accept", format!("accepted ({})", method.name()))
            }
            Decision::Reject { reason, message, mut attrs } => {
                Stats::bump(&self.stats.rejects);
                tracing::info!(user = %Printable(&username), router = %Printable(&client.name), reason = %Printable(&reason), "Access-Reject");
                if let Some(m) = message {
                    attrs.push(Avp::text(attr::REPLY_MESSAGE, &m));
                }
                (Code::AccessReject, attrs, "Access-Reject", reason)
            }
        };
        let entry = PostAuth {
            username: username.clone(),
            reply: reply.into(),
            reason: Some(reason),
            router_id: Some(client.router_id),
            nas_ip: Some(src.ip().to_string()),
            calling_station_id: calling,
            at: now,
        };
        if self.post_auth.try_send(entry).is_err() {
            // The log is behind by a whole queue: keep answering routers, count the gap.
            Stats::bump(&self.stats.post_auth_dropped);
        }
        match encode_response(code, req, &attrs, client.secret.as_bytes(), true) {
            Ok(b) => Some(b),
            Err(e) => {
                Stats::bump(&self.stats.errors);
                tracing::error!(error = %e, "cannot encode RADIUS reply");
                None
            }
        }
    }
}
