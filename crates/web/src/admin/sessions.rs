//! `/sessions`: who is online now (the table refreshes itself every 10 s), past
//! sessions, disconnecting one through its router, and the RADIUS authentication
//! log with the reason of each reject.

use super::extract::{Form, Page, PageError};
use super::pager::Pager;
use super::render::{Layout, html};
use super::urls;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use broadnet_app::sessions::{AuthLogQuery, NasOutcome, SessionListQuery};
use broadnet_store::{PostAuth, RadSession};
use chrono::FixedOffset;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(urls::SESSIONS, get(online))
        .route(urls::SESSIONS_HISTORY, get(history))
        .route(urls::SESSION_DISCONNECT_ROUTE, post(disconnect))
        .route(urls::AUTH_LOG, get(auth_log))
}

type Params = Query<Vec<(String, String)>>;

/// Display helpers shared by the session tables.
struct Zone(FixedOffset);

impl Zone {
    fn when_opt(&self, t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
        super::fmt::when_opt(t, &self.0)
    }
}

fn uptime(s: &RadSession) -> String {
    s.session_time.map_or_else(|| "—".to_string(), super::fmt::uptime)
}

/// Down / up as the customer sees it: the router's input is the customer's upload.
fn data(s: &RadSession) -> String {
    format!("{} / {}", super::fmt::bytes(s.output_octets.unwrap_or(0)), super::fmt::bytes(s.input_octets.unwrap_or(0)))
}

#[derive(Template)]
#[template(path = "sessions/online.html", blocks = ["rows"])]
struct Online {
    l: Layout,
    p: Pager,
    sessions: Vec<RadSession>,
    z: Zone,
    /// The URL htmx polls: this page with its filters.
    poll: String,
}

impl Online {
    fn uptime(&self, s: &RadSession) -> String {
        uptime(s)
    }
    fn data(&self, s: &RadSession) -> String {
        data(s)
    }
    fn disconnect(&self, s: &RadSession) -> String {
        urls::with_id(urls::SESSION_DISCONNECT_ROUTE, s.id)
    }
}

/// An htmx request for a fragment (not a boosted page or a history restore).
fn wants_fragment(h: &HeaderMap) -> bool {
    let yes = |k: &str| h.get(k).is_some_and(|v| v == "true");
    yes("hx-request") && !yes("hx-boosted") && !yes("hx-history-restore-request")
}

async fn online(State(st): State<AppState>, p: Page, h: HeaderMap, Query(q): Params) -> Result<Response, PageError> {
    let q = super::payments::filled(q);
    let (zone, _) = st.app.local_zone().await?;
    let mut params = SessionListQuery::from_pairs(q.clone());
    params.open = Some("1".into());
    let page = st.app.list_sessions(&params).await?;
    let pager = Pager::new(urls::SESSIONS, &q, &page);
    let poll = pager.with(&[]);
    let t =
        Online { l: Layout::new(&p, "Online now", "Sessions"), p: pager, sessions: page.items, z: Zone(zone), poll };
    let mut r = if wants_fragment(&h) { html(StatusCode::OK, &t.as_rows()) } else { html(StatusCode::OK, &t) };
    r.headers_mut().insert(header::VARY, HeaderValue::from_static("HX-Request"));
    Ok(r)
}

#[derive(Template)]
#[template(path = "sessions/history.html")]
struct History {
    l: Layout,
    p: Pager,
    sessions: Vec<RadSession>,
    z: Zone,
}

impl History {
    fn uptime(&self, s: &RadSession) -> String {
        uptime(s)
    }
    fn data(&self, s: &RadSession) -> String {
        data(s)
    }
}

async fn history(State(st): State<AppState>, p: Page, Query(q): Params) -> Result<Response, PageError> {
    let q = super::payments::filled(q);
    let (zone, _) = st.app.local_zone().await?;
    let page = st.app.list_sessions(&SessionListQuery::from_pairs(q.clone())).await?;
    let pager = Pager::new(urls::SESSIONS_HISTORY, &q, &page);
    let l = Layout::new(&p, "Session history", "Sessions");
    Ok(html(StatusCode::OK, &History { l, p: pager, sessions: page.items, z: Zone(zone) }))
}

#[derive(Template)]
#[template(path = "sessions/disconnected.html")]
struct Disconnected {
    l: Layout,
    outcome: NasOutcome,
}

/// What the router answered, on a page of its own: a refusal is the router's own
/// words (502), not a silent redirect.
async fn disconnect(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<super::auth::NoFields>,
) -> Result<Response, PageError> {
    let outcome = st.app.disconnect_session(&f.page.session, id).await?;
    let status = if outcome.ok { StatusCode::OK } else { StatusCode::BAD_GATEWAY };
    let title = if outcome.ok { "Session disconnected" } else { "Not disconnected" };
    Ok(html(status, &Disconnected { l: Layout::new(&f.page, title, "Sessions"), outcome }))
}

#[derive(Template)]
#[template(path = "sessions/auth_log.html")]
struct AuthLog {
    l: Layout,
    p: Pager,
    entries: Vec<PostAuth>,
    zone: FixedOffset,
}

impl AuthLog {
    fn when(&self, e: &PostAuth) -> String {
        super::fmt::when(&e.at, &self.zone)
    }
    /// `accept` / `reject` for the badge.
    fn reply(&self, e: &PostAuth) -> &'static str {
        if e.reply == "Access-Accept" { "accept" } else { "reject" }
    }
}

async fn auth_log(State(st): State<AppState>, p: Page, Query(q): Params) -> Result<Response, PageError> {
    let q = super::payments::filled(q);
    let (zone, _) = st.app.local_zone().await?;
    let page = st.app.auth_log(&AuthLogQuery::from_pairs(q.clone())).await?;
    let pager = Pager::new(urls::AUTH_LOG, &q, &page);
    let l = Layout::new(&p, "RADIUS authentication log", "Sessions");
    Ok(html(StatusCode::OK, &AuthLog { l, p: pager, entries: page.items, zone }))
}
