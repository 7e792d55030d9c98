//! `/routers`: the list with each router's health, and the three-step wizard on a
//! router's own page (Add Router → Generate Command → Configure Services, the step
//! chosen from its state), with its health check, edit form and delete. Every write
//! goes through the same use cases as `/api/routers`; the live configuration log is
//! that API's event stream, drawn by `admin.js`.

use super::extract::{Form, Page, PageError};
use super::form::{self, Field, FieldSpec, Kind};
use super::render::{Layout, html};
use super::{fmt, urls};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use broadnet_app::routers::{CreateRouter, ProvisionCommand, RouterPatchRequest, RouterView};
use broadnet_app::{AppError, FieldErrors};
use broadnet_domain::RouterState;
use chrono::{DateTime, FixedOffset, Utc};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(urls::ROUTERS, get(list).post(create))
        .route(urls::ROUTER_NEW, get(new))
        .route(urls::ROUTER_ROUTE, get(detail))
        .route(urls::ROUTER_EDIT_ROUTE, get(edit).post(update))
        .route(urls::ROUTER_ACTION_ROUTE, get(state).post(action))
}

const SERVICE_TYPES: &[(&str, &str)] = &[("both", "PPPoE and hotspot"), ("pppoe", "PPPoE"), ("hotspot", "Hotspot")];

/// The service types as the form names them.
fn services_label(v: &RouterView) -> &'static str {
    let t = v.router.service_types.as_str();
    SERVICE_TYPES.iter().find(|(k, _)| *k == t).map_or("", |(_, label)| label)
}

/// What the monitor last recorded about a router, as the pages write it. A router
/// never checked (not provisioned yet) is neither online nor offline.
pub struct Health {
    /// `online`, `offline` or `not checked`.
    pub word: &'static str,
    pub last_seen: String,
    pub uptime: String,
    pub cpu: String,
    pub memory: String,
    pub version: String,
    pub users: String,
    /// Why the last check failed, as the router or the connection said it.
    pub error: Option<String>,
}

impl Health {
    pub fn of(v: &RouterView, zone: &FixedOffset) -> Health {
        let r = &v.router;
        let checked = r.online || r.last_seen_at.is_some() || r.health_error.is_some();
        let word = match (checked, r.online) {
            (_, true) => "online",
            (true, false) => "offline",
            (false, false) => "not checked",
        };
        let dash = || "—".to_string();
        let memory = match (r.free_memory, r.total_memory) {
            (Some(free), Some(total)) if total > 0 => {
                let used = (total - free).max(0);
                format!("{}% of {}", (used * 100 + total / 2) / total, fmt::bytes(total))
            }
            _ => dash(),
        };
        let users = match (r.active_pppoe, r.active_hotspot) {
            (None, None) => dash(),
            (p, h) => format!("{} PPPoE · {} hotspot", p.unwrap_or(0), h.unwrap_or(0)),
        };
        Health {
            word,
            last_seen: r.last_seen_at.as_ref().map_or_else(|| "never".to_string(), |t| fmt::when(t, zone)),
            uptime: r.uptime_secs.map_or_else(dash, fmt::uptime),
            cpu: r.cpu_load.map_or_else(dash, |c| format!("{c}%")),
            memory,
            version: r.ros_version.clone().unwrap_or_else(dash),
            users,
            error: r.health_error.clone().filter(|e| !e.is_empty()),
        }
    }
}

#[derive(Template)]
#[template(path = "routers/list.html")]
struct List {
    l: Layout,
    rows: Vec<(RouterView, Health)>,
}

impl List {
    fn services(&self, v: &RouterView) -> &'static str {
        services_label(v)
    }
}

async fn list(State(st): State<AppState>, p: Page) -> Result<Response, PageError> {
    let routers = st.app.list_routers().await?;
    let (zone, _) = st.app.local_zone().await?;
    let rows = routers.items.into_iter().map(|v| (Health::of(&v, &zone), v)).map(|(h, v)| (v, h)).collect();
    Ok(html(StatusCode::OK, &List { l: Layout::new(&p, "Routers", "Routers"), rows }))
}

/// Step 1's fields (the seed docs' Add Router form), in form order.
const NEW_FIELDS: &[FieldSpec] = &[
    ("name", "Name", "e.g. Westlands Estate", Kind::Text),
    ("service_types", "Service types", "", Kind::Select(SERVICE_TYPES)),
    (
        "ethernet_ports",
        "Ethernet ports",
        "Ports for the billing bridge, e.g. ether2, ether3 (not ether1, the uplink)",
        Kind::Text,
    ),
    ("anti_sharing", "Anti-sharing", "TTL-based tethering prevention", Kind::Check),
    ("nas_ip", "NAS IP", "Optional: provisioning fills it in from the router's address", Kind::Text),
];

/// The edit form: the record and how the billing server reaches the router's API.
const EDIT_FIELDS: &[FieldSpec] = &[
    ("name", "Name", "", Kind::Text),
    ("service_types", "Service types", "", Kind::Select(SERVICE_TYPES)),
    ("ethernet_ports", "Ethernet ports", "Separated by commas, e.g. ether2, ether3 (not ether1)", Kind::Text),
    ("anti_sharing", "Anti-sharing", "TTL-based tethering prevention", Kind::Check),
    ("api_host", "API address", "Where the billing server reaches the router's API (set by provisioning)", Kind::Text),
    ("api_port", "API port", "Empty for the default: 8728, or 8729 with TLS", Kind::Text),
    ("api_tls", "API over TLS", "", Kind::Check),
    ("api_tls_insecure", "Accept a self-signed certificate", "Only with TLS", Kind::Check),
    ("api_username", "API user", "Set by provisioning (broadnet-api)", Kind::Text),
];

#[derive(Template)]
#[template(path = "routers/form.html")]
struct FormPage {
    l: Layout,
    /// `None` for a new router (wizard step 1).
    id: Option<i64>,
    fields: Vec<Field>,
    other_errors: Vec<String>,
}

impl FormPage {
    fn new(p: &Page, id: Option<i64>, values: &[(String, String)], errors: FieldErrors) -> Self {
        let (title, specs) = if id.is_some() { ("Edit router", EDIT_FIELDS) } else { ("Add Router", NEW_FIELDS) };
        let (fields, other_errors) = form::build(specs, values, errors);
        FormPage { l: Layout::new(p, title, "Routers"), id, fields, other_errors }
    }

    fn action(&self) -> String {
        match self.id {
            Some(id) => urls::with_id(urls::ROUTER_EDIT_ROUTE, id),
            None => urls::ROUTERS.to_string(),
        }
    }

    fn back(&self) -> String {
        self.id.map_or_else(|| urls::ROUTERS.to_string(), urls::router)
    }
}

fn flag(b: bool) -> String {
    if b { "on" } else { "" }.to_string()
}

/// A router's values as the edit form spells them.
fn values_of(v: &RouterView) -> Vec<(String, String)> {
    let r = &v.router;
    form::pairs([
        ("name", r.name.clone()),
        ("service_types", r.service_types.to_string()),
        ("ethernet_ports", r.bridge_ports.join(", ")),
        ("anti_sharing", flag(r.anti_sharing)),
        ("api_host", r.api_host.clone().unwrap_or_default()),
        ("api_port", r.api_port.map(|p| p.to_string()).unwrap_or_default()),
        ("api_tls", flag(r.api_tls)),
        ("api_tls_insecure", flag(r.api_tls_insecure)),
        ("api_username", r.api_username.clone().unwrap_or_default()),
    ])
}

async fn new(p: Page) -> Result<Response, PageError> {
    p.session.require_write()?;
    let defaults = form::pairs([("service_types", "both".into()), ("ethernet_ports", "ether2".into())]);
    Ok(html(StatusCode::OK, &FormPage::new(&p, None, &defaults, FieldErrors::new())))
}

/// The use case's field errors on the form again (422); other refusals are pages.
fn refused(p: &Page, id: Option<i64>, raw: &[(String, String)], e: AppError) -> Result<Response, PageError> {
    let errors = form::field_errors(e)?;
    Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &FormPage::new(p, id, raw, errors)))
}

async fn create(State(st): State<AppState>, f: Form<CreateRouter>) -> Result<Response, PageError> {
    match st.app.create_router(&f.page.session, f.data).await {
        Ok(v) => Ok(Redirect::to(&urls::router(v.router.id)).into_response()),
        Err(e) => refused(&f.page, None, &f.raw, e),
    }
}

async fn edit(State(st): State<AppState>, p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    p.session.require_write()?;
    let v = st.app.get_router(id).await?;
    Ok(html(StatusCode::OK, &FormPage::new(&p, Some(id), &values_of(&v), FieldErrors::new())))
}

async fn update(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<RouterPatchRequest>,
) -> Result<Response, PageError> {
    match st.app.update_router(&f.page.session, id, f.data).await {
        Ok(_) => Ok(Redirect::to(&urls::router(id)).into_response()),
        Err(e) => refused(&f.page, Some(id), &f.raw, e),
    }
}

/// The state badge, and whether the page waits for it to change: while the router
/// has not called back (step 2) and while a configuration runs (step 3). htmx polls
/// `GET /routers/{id}/state?seen=<state>[&run=1]`; a change, or the end of the run
/// the page was drawn during, loads the page again, into its next step.
pub struct StateView {
    pub url: String,
    pub word: &'static str,
    pub watch: bool,
}

impl StateView {
    fn new(id: i64, state: RouterState, running: bool) -> StateView {
        let mut url = format!("{}?seen={}", urls::action(urls::ROUTER_ACTION_ROUTE, id, "state"), state.as_str());
        if running {
            url.push_str("&run=1");
        }
        StateView { url, word: state.as_str(), watch: state == RouterState::Unprovisioned || running }
    }
}

#[derive(Template)]
#[template(path = "routers/state.html")]
struct StateFragment {
    st: StateView,
}

/// Where the router's page is in the wizard.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    /// Step 2: waiting for the router to run the command and call back.
    Provision,
    /// Step 3, not started: the Configure Services button.
    Configure,
    /// Step 3 running or run: the live log (and Re-run once finished).
    Log,
}

impl Step {
    /// `running`: a configuration run is going on, which may not have moved the
    /// state to `configuring` yet.
    pub fn of(state: RouterState, running: bool) -> Step {
        match state {
            RouterState::Unprovisioned => Step::Provision,
            RouterState::Provisioned if !running => Step::Configure,
            RouterState::Provisioned | RouterState::Configuring | RouterState::Configured | RouterState::Partial => {
                Step::Log
            }
        }
    }
}

/// Step 2's command, with its expiry as the server's clock counts it.
struct Command {
    text: String,
    expires_at: String,
    now: String,
    until: String,
}

impl Command {
    fn new(c: &ProvisionCommand, now: DateTime<Utc>, zone: &FixedOffset) -> Command {
        let rfc = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Command {
            text: c.command.clone(),
            expires_at: rfc(&c.expires_at),
            now: rfc(&now),
            until: fmt::when(&c.expires_at, zone),
        }
    }
}

#[derive(Template)]
#[template(path = "routers/detail.html")]
struct Detail {
    l: Layout,
    r: RouterView,
    h: Health,
    st: StateView,
    step: Step,
    /// A configuration run is going on (its log streams in).
    running: bool,
    command: Option<Command>,
    /// Refusals of a wizard action, shown in the step's card.
    alerts: Vec<String>,
    created: String,
    events: String,
}

impl Detail {
    fn new(p: &Page, r: RouterView, zone: &FixedOffset, running: bool) -> Detail {
        let id = r.router.id;
        let step = Step::of(r.router.state, running);
        Detail {
            l: Layout::new(p, r.router.name.clone(), "Routers"),
            h: Health::of(&r, zone),
            st: StateView::new(id, r.router.state, running),
            step,
            running,
            command: None,
            alerts: Vec::new(),
            created: fmt::when(&r.router.created_at, zone),
            events: format!("/api/routers/{id}/configure/events"),
            r,
        }
    }

    fn url(&self, action: &str) -> String {
        urls::action(urls::ROUTER_ACTION_ROUTE, self.r.router.id, action)
    }

    fn edit_url(&self) -> String {
        urls::with_id(urls::ROUTER_EDIT_ROUTE, self.r.router.id)
    }

    fn services(&self) -> &'static str {
        services_label(&self.r)
    }

    fn is(&self, step: &str) -> bool {
        matches!(
            (self.step, step),
            (Step::Provision, "provision") | (Step::Configure, "configure") | (Step::Log, "log")
        )
    }

    fn state_is(&self, word: &str) -> bool {
        self.r.router.state.as_str() == word
    }

    /// Step `n` of the wizard: `done`, `current` or `todo`.
    fn progress(&self, n: u8) -> &'static str {
        let at = match (self.step, self.r.router.state) {
            (Step::Provision, _) => 2,
            (_, RouterState::Configured) => 4,
            _ => 3,
        };
        match n.cmp(&at) {
            std::cmp::Ordering::Less => "done",
            std::cmp::Ordering::Equal => "current",
            std::cmp::Ordering::Greater => "todo",
        }
    }

    fn api(&self) -> String {
        let r = &self.r.router;
        match &r.api_host {
            Some(h) => {
                let port = r.api_port.map(|p| p as u16).unwrap_or(if r.api_tls { 8729 } else { 8728 });
                format!("{h}:{port}{}", if r.api_tls { " (TLS)" } else { "" })
            }
            None => "—".to_string(),
        }
    }

    fn ports(&self) -> String {
        if self.r.router.bridge_ports.is_empty() { "none".to_string() } else { self.r.router.bridge_ports.join(", ") }
    }

    fn opt<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("—")
    }
}

/// The router's page, with its state and whether a run is going on (read together,
/// so a run just started shows its log).
async fn page(st: &AppState, p: &Page, id: i64) -> Result<Detail, PageError> {
    let r = st.app.get_router(id).await?;
    let (zone, _) = st.app.local_zone().await?;
    Ok(Detail::new(p, r, &zone, st.app.config_log.running(id)))
}

async fn detail(State(st): State<AppState>, p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    Ok(html(StatusCode::OK, &page(&st, &p, id).await?))
}

#[derive(serde::Deserialize, Default)]
struct StateQuery {
    #[serde(default)]
    seen: Option<String>,
    #[serde(default)]
    run: Option<String>,
}

/// The state badge, polled by the page while it waits: once the state is not the
/// one the page was drawn with, or the run it was drawn during is over, the browser
/// loads the router's page again (`HX-Redirect`: the page may be a POST's answer).
async fn state(
    State(st): State<AppState>,
    _p: Page,
    Path((id, action)): Path<(i64, String)>,
    Query(q): Query<StateQuery>,
) -> Result<Response, PageError> {
    if action != "state" {
        return Ok(super::not_found());
    }
    let state = st.app.get_router(id).await?.router.state;
    let running = st.app.config_log.running(id);
    let moved = q.seen.as_deref().is_some_and(|seen| seen != state.as_str()) || (q.run.is_some() && !running);
    if moved {
        let mut resp = StatusCode::OK.into_response();
        if let Ok(to) = HeaderValue::from_str(&urls::router(id)) {
            resp.headers_mut().insert("hx-redirect", to);
        }
        return Ok(resp);
    }
    Ok(html(StatusCode::OK, &StateFragment { st: StateView::new(id, state, running) }))
}

/// The wizard's and the record's buttons: `command` (step 2), `configure` (step 3,
/// also Re-run), `health`, `delete`.
async fn action(
    State(st): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    f: Form<super::auth::NoFields>,
) -> Result<Response, PageError> {
    let s = &f.page.session;
    match action.as_str() {
        "command" => {
            let mut page = page(&st, &f.page, id).await?;
            match st.app.provision_command(s, id).await {
                Ok(c) => {
                    let (zone, _) = st.app.local_zone().await?;
                    page.command = Some(Command::new(&c, st.app.now(), &zone));
                }
                Err(AppError::Validation(errors)) => page.alerts = errors.into_values().flatten().collect(),
                Err(e) => return Err(e.into()),
            }
            let status = if page.alerts.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
            Ok(html(status, &page))
        }
        "configure" => match st.app.configure_router(s, id).await {
            Ok(_) => Ok(Redirect::to(&urls::router(id)).into_response()),
            Err(e @ (AppError::Validation(_) | AppError::InUse(_))) => {
                let mut page = page(&st, &f.page, id).await?;
                page.alerts = match e {
                    AppError::Validation(errors) => errors.into_values().flatten().collect(),
                    other => vec![other.to_string()],
                };
                Ok(html(StatusCode::CONFLICT, &page))
            }
            Err(e) => Err(e.into()),
        },
        "health" => {
            st.app.router_health(s, id).await?;
            Ok(Redirect::to(&format!("{}#health", urls::router(id))).into_response())
        }
        "delete" => {
            st.app.delete_router(s, id).await?;
            Ok(Redirect::to(urls::ROUTERS).into_response())
        }
        _ => Ok(super::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_follows_the_state() {
        assert_eq!(Step::of(RouterState::Unprovisioned, false), Step::Provision);
        assert_eq!(Step::of(RouterState::Provisioned, false), Step::Configure);
        assert_eq!(Step::of(RouterState::Provisioned, true), Step::Log, "a run just started");
        assert_eq!(Step::of(RouterState::Partial, false), Step::Log);
        let s = StateView::new(7, RouterState::Unprovisioned, false);
        assert!(s.watch);
        assert_eq!(s.url, "/routers/7/state?seen=unprovisioned");
        let s = StateView::new(7, RouterState::Partial, true);
        assert!(s.watch, "a re-run is watched until it ends");
        assert_eq!(s.url, "/routers/7/state?seen=partial&run=1");
        assert!(!StateView::new(7, RouterState::Configured, false).watch);
        assert!(!StateView::new(7, RouterState::Configuring, false).watch, "a run cut short by a restart");
    }

    fn router(online: bool, seen: bool) -> RouterView {
        let t = chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default();
        let r = broadnet_store::Router {
            id: 1,
            name: "Westlands".into(),
            nas_ip: None,
            radius_secret: String::new(),
            service_types: broadnet_domain::ServiceType::Both,
            bridge_ports: vec!["ether2".into()],
            anti_sharing: false,
            require_message_authenticator: true,
            api_host: None,
            api_port: None,
            api_tls: false,
            api_tls_insecure: false,
            api_username: None,
            api_password_enc: None,
            state: RouterState::Configured,
            identity: None,
            ros_version: Some("7.16.2".into()),
            board: None,
            online,
            last_seen_at: seen.then_some(t),
            uptime_secs: Some(90_000),
            cpu_load: Some(7),
            free_memory: Some(134_217_728),
            total_memory: Some(268_435_456),
            active_pppoe: Some(3),
            active_hotspot: None,
            health_error: (!online && seen).then(|| "connection refused".to_string()),
            created_at: t,
            updated_at: t,
        };
        r.into()
    }

    #[test]
    fn health_as_the_pages_write_it() {
        let zone = FixedOffset::east_opt(3 * 3600).unwrap_or_else(|| unreachable!());
        let h = Health::of(&router(true, true), &zone);
        assert_eq!((h.word, h.cpu.as_str(), h.memory.as_str()), ("online", "7%", "50% of 268.4 MB"));
        assert_eq!((h.users.as_str(), h.uptime.as_str()), ("3 PPPoE · 0 hotspot", "1d 1h"));
        assert_eq!(h.last_seen, "2025-11-24 19:00");
        let h = Health::of(&router(false, true), &zone);
        assert_eq!((h.word, h.error.as_deref()), ("offline", Some("connection refused")));
        let h = Health::of(&router(false, false), &zone);
        assert_eq!((h.word, h.last_seen.as_str()), ("not checked", "never"));
    }
}
