//! Accounting-Request handling: packets become session events, written by one task in batches
//! (one commit per burst), acknowledged only once stored; and the job closing silent sessions.

use broadnet_radius::dict::{self, attr};
use broadnet_radius::{Code, Packet, encode_response};
use broadnet_store::{AcctEvent, AcctKind, DynStore, RadiusClient, StoreError};
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::{Printable, Server, Stats};

pub(crate) type AcctJob = (AcctKind, AcctEvent, tokio::sync::oneshot::Sender<Result<(), StoreError>>);
pub(crate) const ACCT_QUEUE: usize = 10_000;
const ACCT_BATCH: usize = 256;

/// The one task that writes accounting: whatever arrived while the previous batch
/// was committing goes in the next transaction, so a burst costs one commit per
/// batch instead of one per packet, and authentication reads are never queued
/// behind a line of writers. Each packet is answered only after its batch commits.
pub(crate) async fn accounting_writer(
    store: DynStore,
    rx: Option<tokio::sync::mpsc::Receiver<AcctJob>>,
    bundles: tokio::sync::mpsc::Sender<String>,
    shutdown: CancellationToken,
) {
    let Some(mut rx) = rx else { return };
    let mut jobs = Vec::with_capacity(ACCT_BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut jobs, ACCT_BATCH) => if n == 0 { return },
            _ = shutdown.cancelled() => return,
        }
        let (items, waiters): (Vec<_>, Vec<_>) = jobs.drain(..).map(|(k, e, tx)| ((k, e), tx)).unzip();
        let mut users: Vec<String> = items.iter().map(|(_, e)| e.username.clone()).collect();
        let result = store.record_accounting_batch(items).await;
        for tx in waiters {
            let _ = tx.send(result.clone());
        }
        if result.is_ok() {
            // Data bundles are checked after the commit, by their own task: the router's
            // acknowledgement never waits on it.
            users.sort();
            users.dedup();
            for u in users.into_iter().filter(|u| !u.is_empty()) {
                if bundles.try_send(u).is_err() {
                    tracing::warn!("data bundle checks are behind; an account is checked at its next update");
                    break;
                }
            }
        }
    }
}

impl Server {
    pub(crate) async fn account(&self, req: &Packet, client: &RadiusClient, src: SocketAddr) -> Option<Vec<u8>> {
        let status = req.int(attr::ACCT_STATUS_TYPE);
        let at = req
            .int(attr::EVENT_TIMESTAMP)
            .and_then(|t| DateTime::<Utc>::from_timestamp(t as i64, 0))
            .unwrap_or_else(|| self.clock.now());
        let nas_ip = src.ip().to_string();
        let result = match status {
            Some(dict::acct_status::ACCOUNTING_ON) | Some(dict::acct_status::ACCOUNTING_OFF) => {
                let cause = if status == Some(dict::acct_status::ACCOUNTING_ON) { "NAS-Reboot" } else { "NAS-Request" };
                self.store.close_nas_sessions(&nas_ip, at, cause).await.map(|n| {
                    tracing::info!(router = %Printable(&client.name), closed = n, "Accounting-On/Off: closed the router's open sessions");
                })
            }
            Some(s @ (dict::acct_status::START | dict::acct_status::STOP | dict::acct_status::INTERIM_UPDATE)) => {
                let kind = match s {
                    dict::acct_status::START => AcctKind::Start,
                    dict::acct_status::STOP => AcctKind::Stop,
                    _ => AcctKind::Interim,
                };
                let Some(session_id) = req.text(attr::ACCT_SESSION_ID).filter(|s| !s.is_empty()) else {
                    Stats::bump(&self.stats.dropped_malformed);
                    tracing::warn!(router = %Printable(&client.name), "accounting without Acct-Session-Id dropped");
                    return None;
                };
                let username = req.text(attr::USER_NAME).unwrap_or_default();
                let octets = |lo: u8, hi: u8| req.int(lo).map(|l| ((req.int(hi).unwrap_or(0) as i64) << 32) | l as i64);
                let event = AcctEvent {
                    unique_id: unique_id(&nas_ip, &session_id, &username),
                    session_id: session_id.chars().take(64).collect(),
                    username: username.chars().take(64).collect(),
                    nas_ip: nas_ip.clone(),
                    router_id: Some(client.router_id),
                    // Looked up by the store when the session row is created.
                    customer_id: None,
                    nas_port_id: req.text(attr::NAS_PORT_ID).map(|s| s.chars().take(32).collect()),
                    nas_port_type: req.int(attr::NAS_PORT_TYPE).map(|v| port_type_name(v).to_string()),
                    at,
                    session_time: req.int(attr::ACCT_SESSION_TIME).map(i64::from),
                    input_octets: octets(attr::ACCT_INPUT_OCTETS, attr::ACCT_INPUT_GIGAWORDS),
                    output_octets: octets(attr::ACCT_OUTPUT_OCTETS, attr::ACCT_OUTPUT_GIGAWORDS),
                    framed_ip: req.ipv4(attr::FRAMED_IP_ADDRESS).map(|i| i.to_string()),
                    calling_station_id: req.text(attr::CALLING_STATION_ID).map(|s| s.chars().take(50).collect()),
                    called_station_id: req.text(attr::CALLED_STATION_ID).map(|s| s.chars().take(50).collect()),
                    terminate_cause: req
                        .int(attr::ACCT_TERMINATE_CAUSE)
                        .map(|v| dict::terminate_cause_name(v).map(str::to_string).unwrap_or_else(|| v.to_string())),
                    service_type: req.int(attr::SERVICE_TYPE).map(|v| v.to_string()),
                    framed_protocol: req.int(attr::FRAMED_PROTOCOL).map(|v| v.to_string()),
                    class: req.get(attr::CLASS).map(|c| String::from_utf8_lossy(c).chars().take(64).collect()),
                };
                let (tx, rx) = tokio::sync::oneshot::channel();
                if self.acct.send((kind, event, tx)).await.is_err() {
                    return None;
                }
                match rx.await {
                    Ok(r) => r,
                    Err(_) => return None,
                }
            }
            // Failed and unknown status types are acknowledged and not stored.
            _ => Ok(()),
        };
        if let Err(e) = result {
            // Never acknowledge what was not stored: the NAS will retransmit.
            Stats::bump(&self.stats.errors);
            tracing::error!(error = %e, router = %Printable(&client.name), "accounting not stored; not acknowledged");
            return None;
        }
        encode_response(Code::AccountingResponse, req, &[], client.secret.as_bytes(), false).ok()
    }
}

/// The session key: Acct-Session-Id is unique only per NAS and may repeat after a reboot.
pub fn unique_id(nas_ip: &str, session_id: &str, username: &str) -> String {
    let mut h = Md5::new();
    for part in [nas_ip, session_id, username] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn port_type_name(v: u32) -> &'static str {
    match v {
        0 => "Async",
        5 => "Virtual",
        15 => "Ethernet",
        17 => "Cable",
        18 => "Wireless-Other",
        19 => "Wireless-802.11",
        _ => "Other",
    }
}

/// Closes sessions that stopped sending interim updates (a lost Stop, a dead router):
/// no update for three interim intervals plus a minute.
pub async fn close_stale_sessions_job(store: DynStore, interim_secs: u32, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let grace = chrono::Duration::seconds(i64::from(interim_secs) * 3 + 60);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Utc::now();
        match store.close_stale_sessions(now - grace, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(closed = n, "closed sessions with no accounting update"),
            Err(e) => tracing::error!(error = %e, "closing stale sessions failed"),
        }
    }
}
