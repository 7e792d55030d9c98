//! Online sessions and the authentication log, and acting on sessions through the
//! routers: disconnect, and a new rate limit when a customer's package changes.

use crate::{App, AppError, AppResult, Session};
use async_trait::async_trait;
use broadnet_store::{PostAuthQuery, RadSession, SessionQuery};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What a router answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NasResult {
    pub ok: bool,
    pub detail: String,
}

/// Reaching routers (RFC 5176 Disconnect/CoA); implemented by the RADIUS crate.
#[async_trait]
pub trait NasControl: Send + Sync {
    async fn disconnect(&self, session: &RadSession) -> Result<NasResult, String>;
    async fn change_rate_limit(&self, session: &RadSession, rate_limit: &str) -> Result<NasResult, String>;
}

/// An id from the query string, parsed as the i64 the store keeps (not cast from a
/// u64, which would wrap a huge number into a negative id).
fn id_param(f: &mut BTreeMap<String, Vec<String>>, k: &str, v: &str) -> Option<i64> {
    match v.trim().parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            f.entry(k.into()).or_default().push("must be a whole number".into());
            None
        }
    }
}

fn result_json(session: &RadSession, r: Result<NasResult, String>) -> Value {
    match r {
        Ok(r) => json!({"session_id": session.id, "ok": r.ok, "detail": r.detail}),
        Err(e) => json!({"session_id": session.id, "ok": false, "detail": e}),
    }
}

impl App {
    pub async fn list_sessions(&self, params: &BTreeMap<String, String>) -> AppResult<Value> {
        let mut q = SessionQuery { page: 1, per_page: 50, ..Default::default() };
        let mut errors = BTreeMap::new();
        for (k, v) in params {
            match k.as_str() {
                "username" => q.username = Some(v.clone()),
                "router_id" => q.router_id = id_param(&mut errors, k, v),
                "open" => q.open_only = matches!(v.as_str(), "1" | "true" | "yes"),
                _ => {
                    crate::fields::page_param(&mut errors, k, v, (&mut q.page, &mut q.per_page));
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(json!(self.store.list_sessions(&q).await?))
    }

    pub async fn auth_log(&self, params: &BTreeMap<String, String>) -> AppResult<Value> {
        let mut q = PostAuthQuery { page: 1, per_page: 50, ..Default::default() };
        let mut errors = BTreeMap::new();
        for (k, v) in params {
            match k.as_str() {
                "username" => q.username = Some(v.clone()),
                "router_id" => q.router_id = id_param(&mut errors, k, v),
                _ => {
                    crate::fields::page_param(&mut errors, k, v, (&mut q.page, &mut q.per_page));
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(json!(self.store.list_post_auth(&q).await?))
    }

    fn nas(&self) -> AppResult<&dyn NasControl> {
        self.nas.as_deref().ok_or(AppError::Internal("no RADIUS CoA client in this process".into()))
    }

    pub async fn disconnect_session(&self, s: &Session, id: i64) -> AppResult<Value> {
        s.require_write()?;
        let session = self.store.get_session(id).await.map_err(AppError::from_store("session"))?;
        if session.stopped_at.is_some() {
            return Err(AppError::field("session", "has already ended"));
        }
        let r = self.nas()?.disconnect(&session).await;
        tracing::info!(admin = %s.admin.username, session = id, user = %session.username, result = ?r, "disconnect requested");
        Ok(result_json(&session, r))
    }

    pub(crate) async fn open_sessions_of(&self, username: &str) -> AppResult<Vec<RadSession>> {
        let q = SessionQuery {
            username: Some(username.into()),
            open_only: true,
            page: 1,
            per_page: 500,
            ..Default::default()
        };
        Ok(self.store.list_sessions(&q).await?.items)
    }

    pub async fn disconnect_customer(&self, s: &Session, customer_id: i64) -> AppResult<Value> {
        s.require_write()?;
        let c = self.store.get_customer(customer_id).await.map_err(AppError::from_store("customer"))?;
        let nas = self.nas()?;
        let mut results = Vec::new();
        for session in self.open_sessions_of(c.username.as_str()).await? {
            results.push(result_json(&session, nas.disconnect(&session).await));
        }
        tracing::info!(admin = %s.admin.username, user = %c.username, sessions = results.len(), "customer disconnect requested");
        Ok(json!({"customer_id": c.id, "sessions": results}))
    }
}

impl App {
    /// The expiry sweep: customers whose time ran out become expired (audited), and
    /// in the same transaction a `customer.expired` outbox entry is queued; its
    /// delivery disconnects their live sessions (so expiry is enforced twice: RADIUS
    /// also rejects them) and tells them. Returns how many expired.
    pub async fn run_expiry(&self) -> AppResult<usize> {
        let now = self.now();
        let mut total = 0;
        loop {
            let expired = self.store.expire_customers(now, 500).await?;
            let n = expired.len();
            total += n;
            for c in &expired {
                tracing::info!(user = %c.username, "subscription expired");
            }
            if n > 0 {
                self.wake_outbox();
            }
            if n < 500 {
                return Ok(total);
            }
        }
    }
}
