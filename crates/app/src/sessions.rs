//! Online sessions and the authentication log, and acting on sessions through the
//! routers: disconnect, and a new rate limit when a customer's package changes.

use crate::{App, AppError, AppResult, Session};
use async_trait::async_trait;
use broadnet_store::{Page, PostAuth, PostAuthQuery, RadSession, SessionQuery};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a router answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NasResult {
    pub ok: bool,
    pub detail: String,
}

/// Why a router could not be asked (as opposed to a router that answered "no",
/// which is a [`NasResult`] with `ok: false`).
#[derive(Debug, thiserror::Error)]
pub enum NasError {
    #[error("no router for NAS {0}")]
    NoRouter(String),
    #[error("router {0} has no valid address")]
    NoAddress(String),
    #[error("router {0} has no RADIUS secret (set RADIUS_SHARED_SECRET)")]
    NoSecret(String),
    #[error("{target}: {source}")]
    Unreachable { target: std::net::SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] broadnet_store::StoreError),
}

/// Reaching routers (RFC 5176 Disconnect/CoA); implemented by the RADIUS crate.
#[async_trait]
pub trait NasControl: Send + Sync {
    async fn disconnect(&self, session: &RadSession) -> Result<NasResult, NasError>;
    async fn change_rate_limit(&self, session: &RadSession, rate_limit: &str) -> Result<NasResult, NasError>;
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

/// What a router did with a disconnect request for one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NasOutcome {
    pub session_id: i64,
    pub ok: bool,
    pub detail: String,
}

impl NasOutcome {
    fn of(session: &RadSession, r: Result<NasResult, NasError>) -> Self {
        match r {
            Ok(r) => NasOutcome { session_id: session.id, ok: r.ok, detail: r.detail },
            Err(e) => NasOutcome { session_id: session.id, ok: false, detail: e.to_string() },
        }
    }
}

/// Every open session of a customer, and what each router answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerDisconnect {
    pub customer_id: i64,
    pub sessions: Vec<NasOutcome>,
}

/// The sessions list's query string: `username`, `router_id`, `open` (1, true or
/// yes), `page`, `per_page`. Values stay text until checked, so a bad one is a field
/// error like any other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SessionListQuery {
    pub username: Option<String>,
    pub router_id: Option<String>,
    pub open: Option<String>,
    /// `pppoe` or `hotspot`: sessions of customers of that type.
    #[serde(rename = "type")]
    pub customer_type: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

/// The authentication log's query string: `username`, `router_id`, `page`, `per_page`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuthLogQuery {
    pub username: Option<String>,
    pub router_id: Option<String>,
    /// `accept` or `reject`.
    pub reply: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

/// Query pairs in order, the last of a repeated key winning (as a query string reads).
pub(crate) fn last_of(pairs: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

impl SessionListQuery {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut m = last_of(pairs);
        SessionListQuery {
            username: m.remove("username"),
            router_id: m.remove("router_id"),
            open: m.remove("open"),
            customer_type: m.remove("type"),
            page: m.remove("page"),
            per_page: m.remove("per_page"),
        }
    }
}

impl AuthLogQuery {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut m = last_of(pairs);
        AuthLogQuery {
            username: m.remove("username"),
            router_id: m.remove("router_id"),
            reply: m.remove("reply"),
            page: m.remove("page"),
            per_page: m.remove("per_page"),
        }
    }
}

/// `page` and `per_page` into `paging`, a bad value being a field error.
pub(crate) fn paging(
    errors: &mut BTreeMap<String, Vec<String>>,
    page: &Option<String>,
    per_page: &Option<String>,
    paging: (&mut u64, &mut u64),
) {
    let (p, pp) = paging;
    if let Some(v) = page {
        crate::fields::page_param(errors, "page", v, (&mut *p, &mut *pp));
    }
    if let Some(v) = per_page {
        crate::fields::page_param(errors, "per_page", v, (p, pp));
    }
}

impl App {
    pub async fn list_sessions(&self, params: &SessionListQuery) -> AppResult<Page<RadSession>> {
        let mut q = SessionQuery { page: 1, per_page: 50, ..Default::default() };
        let mut errors = BTreeMap::new();
        q.username = params.username.clone();
        if let Some(v) = &params.router_id {
            q.router_id = id_param(&mut errors, "router_id", v);
        }
        if let Some(v) = &params.open {
            q.open_only = matches!(v.as_str(), "1" | "true" | "yes");
        }
        match params.customer_type.as_deref().map(str::trim) {
            None | Some("") => {}
            Some(v) => match broadnet_domain::CustomerType::parse(v) {
                Ok(t) => q.customer_type = Some(t),
                Err(e) => {
                    errors.entry("type".to_string()).or_insert_with(Vec::new).push(e.0);
                }
            },
        }
        paging(&mut errors, &params.page, &params.per_page, (&mut q.page, &mut q.per_page));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(self.store.list_sessions(&q).await?)
    }

    pub async fn auth_log(&self, params: &AuthLogQuery) -> AppResult<Page<PostAuth>> {
        let mut q = PostAuthQuery { page: 1, per_page: 50, ..Default::default() };
        let mut errors = BTreeMap::new();
        q.username = params.username.clone();
        match params.reply.as_deref().map(str::trim) {
            None | Some("") => {}
            Some("accept") => q.reply = Some("Access-Accept".into()),
            Some("reject") => q.reply = Some("Access-Reject".into()),
            Some(_) => {
                errors.entry("reply".to_string()).or_insert_with(Vec::new).push("must be accept or reject".to_string());
            }
        }
        if let Some(v) = &params.router_id {
            q.router_id = id_param(&mut errors, "router_id", v);
        }
        paging(&mut errors, &params.page, &params.per_page, (&mut q.page, &mut q.per_page));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(self.store.list_post_auth(&q).await?)
    }

    fn nas(&self) -> AppResult<&dyn NasControl> {
        self.nas.as_deref().ok_or(AppError::Internal("no RADIUS CoA client in this process".into()))
    }

    pub async fn disconnect_session(&self, s: &Session, id: i64) -> AppResult<NasOutcome> {
        s.require_write()?;
        let session = self.store.get_session(id).await.map_err(AppError::from_store("session"))?;
        if session.stopped_at.is_some() {
            return Err(AppError::field("session", "has already ended"));
        }
        let r = self.nas()?.disconnect(&session).await;
        tracing::info!(admin = %s.admin.username, session = id, user = %session.username, result = ?r, "disconnect requested");
        Ok(NasOutcome::of(&session, r))
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

    pub async fn disconnect_customer(&self, s: &Session, customer_id: i64) -> AppResult<CustomerDisconnect> {
        s.require_write()?;
        let c = self.store.get_customer(customer_id).await.map_err(AppError::from_store("customer"))?;
        let nas = self.nas()?;
        let mut results = Vec::new();
        for session in self.open_sessions_of(c.username.as_str()).await? {
            results.push(NasOutcome::of(&session, nas.disconnect(&session).await));
        }
        tracing::info!(admin = %s.admin.username, user = %c.username, sessions = results.len(), "customer disconnect requested");
        Ok(CustomerDisconnect { customer_id: c.id, sessions: results })
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
