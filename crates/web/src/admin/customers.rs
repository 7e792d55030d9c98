//! `/customers`: the list (search, filters, sort, pages; htmx swaps the rows alone),
//! the create and edit forms, the detail page and its actions. The Collect Payment
//! box and its status polling are in `collect`.

use super::collect::{self, StatusBox};
use super::extract::{Form, Page, PageError};
use super::form::{self, Field, FieldSpec, Kind};
use super::pager::Pager;
use super::render::{Layout, html};
use super::{fmt, urls};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use broadnet_app::audit::AuditLogQuery;
use broadnet_app::billing::ActivateRequest;
use broadnet_app::collect::{CashPayment, PaymentListQuery};
use broadnet_app::customers::{CustomerRequest, CustomerView};
use broadnet_app::input::from_pairs;
use broadnet_app::packages::PackageView;
use broadnet_app::sessions::SessionListQuery;
use broadnet_app::{AppError, FieldErrors};
use broadnet_domain::PaymentStatus;
use broadnet_store::{AuditEntry, Customer, Payment, RadSession};
use chrono::FixedOffset;
use std::collections::{BTreeMap, HashMap};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(urls::CUSTOMERS, get(list).post(create))
        .route(urls::CUSTOMER_NEW, get(new))
        .route(urls::CUSTOMER_ROUTE, get(detail))
        .route(urls::CUSTOMER_EDIT_ROUTE, get(edit).post(update))
        .route(urls::CUSTOMER_ACTION_ROUTE, post(action))
        .merge(collect::router())
}

/// Whether htmx asked for a fragment: its own request, not a boosted link nor a
/// history restore (those want the whole page).
pub(super) fn wants_fragment(h: &HeaderMap) -> bool {
    let on = |k: &str| h.get(k).is_some_and(|v| v.as_bytes() == b"true");
    on("hx-request") && !on("hx-boosted") && !on("hx-history-restore-request")
}

/// The same URL answers a page or a fragment: caches must keep them apart.
pub(super) fn vary(mut r: Response) -> Response {
    r.headers_mut().append(header::VARY, HeaderValue::from_static("HX-Request"));
    r
}

pub(super) const STATUSES: &[(&str, &str)] = &[
    ("active", "Active"),
    ("awaiting_payment", "Awaiting payment"),
    ("expired", "Expired"),
    ("suspended", "Suspended"),
    ("disabled", "Disabled"),
];
const TYPES: &[(&str, &str)] = &[("pppoe", "PPPoE"), ("hotspot", "Hotspot")];
const SORTS: &[(&str, &str)] = &[
    ("-created_at", "Newest first"),
    ("name", "Name A–Z"),
    ("expires_at", "Expiry, soonest first"),
    ("-expires_at", "Expiry, latest first"),
    ("status", "Status"),
    ("username", "Username"),
];
/// The list's filters (what makes "no match" differ from "no customers yet").
const FILTERS: &[&str] = &["q", "search", "status", "type", "customer_type", "package_id", "router_id"];

fn type_label(t: broadnet_domain::CustomerType) -> &'static str {
    TYPES.iter().find(|(v, _)| *v == t.as_str()).map_or("", |(_, l)| l)
}

/// `Home 10M · 1,500.00` for selects.
fn package_choices(packages: &[PackageView], none: &str) -> Vec<(String, String)> {
    let mut v = vec![(String::new(), none.to_string())];
    v.extend(packages.iter().map(|p| {
        let price = if p.free { "free".to_string() } else { fmt::money(p.price_minor) };
        let off = if p.active { "" } else { " (inactive)" };
        (p.id.to_string(), format!("{} · {price}{off}", p.name))
    }));
    v
}

fn package_names(packages: &[PackageView]) -> HashMap<i64, String> {
    packages.iter().map(|p| (p.id, p.name.clone())).collect()
}

// ---------------------------------------------------------------- list

/// One line of the list, written as shown.
struct Row {
    id: i64,
    name: String,
    username: String,
    kind: &'static str,
    phone: String,
    package: String,
    status: String,
    expires: String,
    balance: String,
}

impl Row {
    fn of(c: &Customer, names: &HashMap<i64, String>, zone: &FixedOffset) -> Row {
        Row {
            id: c.id,
            name: c.full_name.clone(),
            username: c.username.to_string(),
            kind: type_label(c.customer_type),
            phone: c.phone.to_string(),
            package: c.package_id.and_then(|id| names.get(&id).cloned()).unwrap_or_else(|| "—".into()),
            status: c.status.to_string(),
            expires: fmt::when_opt(&c.expires_at, zone),
            balance: fmt::money(c.balance.minor()),
        }
    }
}

#[derive(Template)]
#[template(path = "customers/list.html", blocks = ["rows"])]
struct List {
    l: Layout,
    rows: Vec<Row>,
    pager: Pager,
    filtered: bool,
    packages: Vec<(String, String)>,
}

impl List {
    fn sort(&self) -> &str {
        match self.pager.get("sort") {
            "" => "-created_at",
            s => s,
        }
    }
}

async fn list(
    State(st): State<AppState>,
    p: Page,
    headers: HeaderMap,
    Query(mut params): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    // An empty filter is no filter (the form sends every field).
    params.retain(|(_, v)| !v.trim().is_empty());
    let page = st.app.list_customers(&params).await?;
    let (zone, _) = st.app.local_zone().await?;
    let packages = st.app.list_packages().await?;
    let names = package_names(&packages);
    let rows = page.items.iter().map(|v| Row::of(&v.customer, &names, &zone)).collect();
    let tpl = List {
        l: Layout::new(&p, "Customers", "Customers"),
        rows,
        pager: Pager::new(urls::CUSTOMERS, &params, &page),
        filtered: params.iter().any(|(k, _)| FILTERS.contains(&k.as_str())),
        packages: package_choices(&packages, "").into_iter().skip(1).collect(),
    };
    Ok(vary(if wants_fragment(&headers) { html(StatusCode::OK, &tpl.as_rows()) } else { html(StatusCode::OK, &tpl) }))
}

// ---------------------------------------------------------------- forms

/// The create form; `password` is shown as typed (admins read it on the detail page
/// anyway), and an empty one is generated.
const NEW_FIELDS: &[FieldSpec] = &[
    ("full_name", "Full name", "", Kind::Text),
    ("phone", "Phone", "e.g. 0712 345 678; payment prompts and SMS go here", Kind::Text),
    ("username", "Username", "Their PPPoE or hotspot login", Kind::Text),
    ("password", "Password", "Empty: one is generated", Kind::Text),
    ("customer_type", "Type", "", Kind::Select(TYPES)),
    ("package_id", "Package", "What they pay for; it sets their speed", Kind::Select(&[])),
    ("router_id", "Router", "Optional", Kind::Select(&[])),
    ("email", "Email", "Optional; the welcome message goes there too", Kind::Text),
    ("mac_address", "MAC address", "Optional", Kind::Text),
    ("static_ip", "Static IP", "Optional", Kind::Text),
    ("location", "Location", "Optional", Kind::Text),
    ("notes", "Notes", "", Kind::Area),
];

/// The edit form: no password (an empty one would be read as a change), no status
/// nor expiry (those are the detail page's actions, with their rules).
const EDIT_FIELDS: &[FieldSpec] = &[
    ("full_name", "Full name", "", Kind::Text),
    ("phone", "Phone", "e.g. 0712 345 678; payment prompts and SMS go here", Kind::Text),
    ("username", "Username", "Their PPPoE or hotspot login", Kind::Text),
    ("customer_type", "Type", "", Kind::Select(TYPES)),
    ("package_id", "Package", "What they pay for; it sets their speed", Kind::Select(&[])),
    ("router_id", "Router", "Optional", Kind::Select(&[])),
    ("email", "Email", "Optional", Kind::Text),
    ("mac_address", "MAC address", "Optional", Kind::Text),
    ("static_ip", "Static IP", "Optional", Kind::Text),
    ("location", "Location", "Optional", Kind::Text),
    ("notes", "Notes", "", Kind::Area),
];

#[derive(Template)]
#[template(path = "customers/form.html")]
struct FormPage {
    l: Layout,
    id: Option<i64>,
    fields: Vec<Field>,
    other_errors: Vec<String>,
}

impl FormPage {
    async fn new(
        st: &AppState,
        p: &Page,
        id: Option<i64>,
        values: &[(String, String)],
        errors: FieldErrors,
    ) -> Result<Self, PageError> {
        let (title, specs) = if id.is_some() { ("Edit customer", EDIT_FIELDS) } else { ("New customer", NEW_FIELDS) };
        let (mut fields, other_errors) = form::build(specs, values, errors);
        let packages = st.app.list_packages().await?;
        let routers = st.app.list_routers().await?;
        for f in &mut fields {
            match f.name {
                "package_id" => f.choices = package_choices(&packages, "No package yet"),
                "router_id" => {
                    f.choices = std::iter::once((String::new(), "Any router".to_string()))
                        .chain(routers.items.iter().map(|r| (r.router.id.to_string(), r.router.name.clone())))
                        .collect();
                }
                _ => {}
            }
        }
        Ok(FormPage { l: Layout::new(p, title, "Customers"), id, fields, other_errors })
    }

    fn action(&self) -> String {
        match self.id {
            Some(id) => urls::with_id(urls::CUSTOMER_EDIT_ROUTE, id),
            None => urls::CUSTOMERS.to_string(),
        }
    }

    fn back(&self) -> String {
        self.id.map_or_else(|| urls::CUSTOMERS.to_string(), urls::customer)
    }
}

fn values_of(c: &Customer) -> Vec<(String, String)> {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let id = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    form::pairs([
        ("full_name", c.full_name.clone()),
        ("phone", c.phone.to_string()),
        ("username", c.username.to_string()),
        ("customer_type", c.customer_type.to_string()),
        ("package_id", id(c.package_id)),
        ("router_id", id(c.router_id)),
        ("email", opt(&c.email)),
        ("mac_address", opt(&c.mac_address)),
        ("static_ip", opt(&c.static_ip)),
        ("location", opt(&c.location)),
        ("notes", opt(&c.notes)),
    ])
}

async fn new(State(st): State<AppState>, p: Page) -> Result<Response, PageError> {
    p.session.require_write()?;
    let defaults = form::pairs([("customer_type", "pppoe".to_string())]);
    Ok(html(StatusCode::OK, &FormPage::new(&st, &p, None, &defaults, FieldErrors::new()).await?))
}

async fn edit(State(st): State<AppState>, p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    p.session.require_write()?;
    let c = st.app.get_customer(&p.session, id).await?;
    Ok(html(StatusCode::OK, &FormPage::new(&st, &p, Some(id), &values_of(&c.customer), FieldErrors::new()).await?))
}

async fn refused(
    st: &AppState,
    p: &Page,
    id: Option<i64>,
    raw: &[(String, String)],
    e: AppError,
) -> Result<Response, PageError> {
    let errors = form::field_errors(e)?;
    Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &FormPage::new(st, p, id, raw, errors).await?))
}

async fn create(State(st): State<AppState>, f: Form<CustomerRequest>) -> Result<Response, PageError> {
    match st.app.create_customer(&f.page.session, f.data).await {
        Ok(c) => Ok(done(c.id, "created")),
        Err(e) => refused(&st, &f.page, None, &f.raw, e).await,
    }
}

async fn update(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<CustomerRequest>,
) -> Result<Response, PageError> {
    match st.app.update_customer(&f.page.session, id, f.data).await {
        Ok(_) => Ok(done(id, "saved")),
        Err(e) => refused(&st, &f.page, Some(id), &f.raw, e).await,
    }
}

// ---------------------------------------------------------------- detail

/// 303 to the customer's page, which says what was done.
fn done(id: i64, what: &str) -> Response {
    Redirect::to(&format!("{}?done={what}", urls::customer(id))).into_response()
}

/// What the page says after an action, from `?done=…` (fixed sentences: nothing
/// from the address is shown as typed).
fn notice_of(done: &str, n: Option<u32>) -> Option<&'static str> {
    Some(match (done, n) {
        ("created", _) => "Customer created. The welcome message with their login is queued.",
        ("saved", _) => "Changes saved.",
        ("cash", _) => "Cash payment recorded: the receipt is under Payments and the expiry above is updated.",
        ("suspended", _) => "Suspended: they cannot connect, and their live sessions are being disconnected.",
        ("resumed", _) => "Resumed: they can connect again until their expiry.",
        ("package", _) => "Package changed: the new speed applies to their sessions.",
        ("disconnected", Some(0)) => "They had no live session: nothing to disconnect.",
        ("disconnected", _) => "Disconnected: the router accepted the request for every live session.",
        ("activated", _) => "Activated without payment until the expiry above; the reason is in the audit trail.",
        ("welcome", _) => "The welcome message is queued again.",
        ("welcome-queued", _) => "A welcome message was already queued a moment ago.",
        _ => return None,
    })
}

/// An action form on the detail page: its values and its errors after a refusal.
#[derive(Default)]
pub(super) struct Act {
    values: Vec<(String, String)>,
    errors: FieldErrors,
    /// A refusal of no field: the provider's or the rule's own text.
    pub(super) alert: Option<String>,
}

impl Act {
    pub(super) fn with(values: Vec<(String, String)>) -> Act {
        Act { values, ..Default::default() }
    }

    pub(super) fn value(&self, name: &str) -> String {
        form::value_of(&self.values, name)
    }

    pub(super) fn error(&self, name: &str) -> String {
        self.errors.get(name).map(|v| v.join("; ")).unwrap_or_default()
    }

    pub(super) fn bad(&self, name: &str) -> bool {
        self.errors.contains_key(name)
    }

    /// Errors of no field this form draws, as lines.
    fn other(&self, known: &[&str]) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .flat_map(|(k, v)| v.iter().map(move |m| if k == "body" { m.clone() } else { format!("{k}: {m}") }))
            .collect()
    }

    /// A refusal shown on the form that was sent (with the status the page gets);
    /// what no form can show (not found, forbidden, internal) is an error page.
    pub(super) fn refused(values: Vec<(String, String)>, e: AppError) -> Result<(Act, StatusCode), PageError> {
        let mut act = Act::with(values);
        let status = match e {
            AppError::Validation(errors) => {
                act.errors = errors;
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::Conflict { field } => {
                act.errors.insert(field, vec!["is already taken".into()]);
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::InUse(m) => {
                act.alert = Some(m);
                StatusCode::CONFLICT
            }
            AppError::Upstream(m) => {
                act.alert = Some(m);
                StatusCode::BAD_GATEWAY
            }
            e => return Err(e.into()),
        };
        Ok((act, status))
    }
}

/// The detail page's action forms; the one that was sent keeps its values.
#[derive(Default)]
pub(super) struct Acts {
    pub(super) collect: Act,
    cash: Act,
    state: Act,
    activate: Act,
}

struct SessionRow {
    live: bool,
    started: String,
    ended: String,
    uptime: String,
    down: String,
    up: String,
    nas: String,
    ip: String,
    mac: String,
    cause: String,
}

impl SessionRow {
    fn of(s: &RadSession, zone: &FixedOffset) -> SessionRow {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
        SessionRow {
            live: s.stopped_at.is_none(),
            started: fmt::when_opt(&s.started_at, zone),
            ended: fmt::when_opt(&s.stopped_at, zone),
            uptime: s.session_time.map_or_else(|| "—".into(), fmt::uptime),
            // The NAS counts from its side: what it sent out is the customer's download.
            down: fmt::bytes(s.output_octets.unwrap_or(0)),
            up: fmt::bytes(s.input_octets.unwrap_or(0)),
            nas: s.nas_ip.clone(),
            ip: opt(&s.framed_ip),
            mac: opt(&s.calling_station_id),
            cause: s.terminate_cause.clone().unwrap_or_default(),
        }
    }
}

/// One SMS or email sent (or waiting) for the customer, as the detail page lists it.
struct MessageRow {
    at: String,
    channel: &'static str,
    to: String,
    text: String,
    status: String,
    error: String,
}

impl MessageRow {
    fn of(m: &broadnet_store::OutboxItem, zone: &chrono::FixedOffset) -> MessageRow {
        let field = |k: &str| m.payload.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let (channel, text) = match m.kind {
            broadnet_store::OutboxKind::Email => ("Email", field("subject")),
            _ => ("SMS", field("message")),
        };
        let text =
            if text.chars().count() > 90 { format!("{}…", text.chars().take(90).collect::<String>()) } else { text };
        MessageRow {
            at: fmt::when(&m.created_at, zone),
            channel,
            to: field("to"),
            text,
            status: m.status.to_string(),
            error: m.last_error.clone().unwrap_or_default(),
        }
    }
}

struct PaymentRow {
    id: i64,
    at: String,
    amount: String,
    channel: String,
    status: String,
    receipt: String,
    /// The provider's text when it did not go through.
    why: String,
    invoice: bool,
}

impl PaymentRow {
    fn of(p: &Payment, zone: &FixedOffset) -> PaymentRow {
        let done = p.status == PaymentStatus::Completed;
        PaymentRow {
            id: p.id,
            at: fmt::when(&p.created_at, zone),
            amount: fmt::money(p.amount.minor()),
            channel: p.channel().to_string(),
            status: p.status.to_string(),
            receipt: p.provider_receipt.clone().unwrap_or_default(),
            why: if done || p.status == PaymentStatus::Pending {
                String::new()
            } else {
                p.result_desc.clone().unwrap_or_default()
            },
            // A completed payment is invoiced in the same transaction.
            invoice: done,
        }
    }
}

struct AuditRow {
    at: String,
    who: String,
    action: String,
    changed: String,
}

impl AuditRow {
    fn of(a: &AuditEntry, zone: &FixedOffset) -> AuditRow {
        AuditRow {
            at: fmt::when(&a.at, zone),
            who: a.admin_username.clone(),
            action: a.action.clone(),
            // A creation or a deletion changes everything: only an update lists keys.
            changed: match (&a.before, &a.after) {
                (Some(b), Some(x)) => changed_keys(Some(b), Some(x)).join(", "),
                _ => String::new(),
            },
        }
    }
}

/// The keys whose values differ between two JSON objects (display only).
fn changed_keys(before: Option<&serde_json::Value>, after: Option<&serde_json::Value>) -> Vec<String> {
    let empty = serde_json::Map::new();
    let obj = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_object()).unwrap_or(&empty).clone();
    let (b, a) = (obj(before), obj(after));
    let mut keys: Vec<String> = a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.retain(|k| k != "updated_at" && k != "password");
    keys
}

#[derive(Template)]
#[template(path = "customers/detail.html", blocks = ["collect"])]
pub(super) struct Detail {
    l: Layout,
    c: CustomerView,
    kind: &'static str,
    package: String,
    package_price: String,
    router: String,
    expires: String,
    created: String,
    notice: Option<&'static str>,
    packages: Vec<(String, String)>,
    sessions: Vec<SessionRow>,
    sessions_total: u64,
    payments: Vec<PaymentRow>,
    payments_total: u64,
    messages: Vec<MessageRow>,
    messages_total: u64,
    audit: Vec<AuditRow>,
    pub(super) acts: Acts,
    /// The Collect Payment box after a prompt was sent.
    pub(super) paybox: Option<StatusBox>,
}

impl Detail {
    pub(super) async fn load(
        st: &AppState,
        p: &Page,
        id: i64,
        notice: Option<&'static str>,
    ) -> Result<Detail, PageError> {
        let c = st.app.get_customer(&p.session, id).await?;
        let (zone, _) = st.app.local_zone().await?;
        let packages = st.app.list_packages().await?;
        let pkg = c.customer.package_id.and_then(|pid| packages.iter().find(|x| x.id == pid));
        let router = match c.customer.router_id {
            Some(rid) => {
                let routers = st.app.list_routers().await?;
                routers
                    .items
                    .iter()
                    .find(|r| r.router.id == rid)
                    .map_or_else(|| format!("#{rid}"), |r| r.router.name.clone())
            }
            None => "Any".into(),
        };
        let username = c.customer.username.to_string();
        let sessions = st
            .app
            .list_sessions(&SessionListQuery {
                username: Some(username),
                per_page: Some("10".into()),
                ..Default::default()
            })
            .await?;
        let payments = st
            .app
            .list_payments(&PaymentListQuery {
                customer_id: Some(id.to_string()),
                per_page: Some("10".into()),
                ..Default::default()
            })
            .await?;
        // SMS and email sent to them (the outbox's other entries are events).
        let mut messages = Vec::new();
        let mut messages_total = 0;
        for kind in ["sms", "email"] {
            let q = broadnet_app::notify::NotificationListQuery {
                kind: Some(kind.into()),
                customer_id: Some(id.to_string()),
                per_page: Some("10".into()),
                ..Default::default()
            };
            let page = st.app.list_notifications(&p.session, &q).await?;
            messages_total += page.total;
            messages.extend(page.items);
        }
        messages.sort_by_key(|m| std::cmp::Reverse(m.id));
        messages.truncate(10);
        let audit = st
            .app
            .audit_log(&AuditLogQuery {
                entity_type: Some("customer".into()),
                entity_id: Some(id.to_string()),
                per_page: Some("10".into()),
                ..Default::default()
            })
            .await?;
        // A prompt still open (the page reloaded, another admin sent it): its box again.
        let paybox = payments.items.first().filter(|x| x.status == PaymentStatus::Pending).map(|x| {
            let d = broadnet_app::collect::PaymentDetail { payment: x.clone(), invoice: None };
            StatusBox::of(&d, Some(&c.customer), &zone, String::new())
        });
        let pkg_value = c.customer.package_id.map(|n| n.to_string()).unwrap_or_default();
        let acts = Acts {
            collect: Act::with(form::pairs([
                ("phone", c.customer.phone.to_string()),
                ("package_id", pkg_value.clone()),
            ])),
            cash: Act::with(form::pairs([
                ("amount", pkg.map(|x| x.price.clone()).unwrap_or_default()),
                ("package_id", pkg_value.clone()),
            ])),
            state: Act::with(form::pairs([("package_id", pkg_value)])),
            activate: Act::with(form::pairs([("days", "1".to_string())])),
        };
        Ok(Detail {
            l: Layout::new(p, c.customer.full_name.clone(), "Customers"),
            kind: type_label(c.customer.customer_type),
            package: pkg.map_or_else(|| "None".into(), |x| x.name.clone()),
            package_price: pkg
                .map(|x| if x.free { "free".into() } else { fmt::money(x.price_minor) })
                .unwrap_or_default(),
            router,
            expires: fmt::when_opt(&c.customer.expires_at, &zone),
            created: fmt::when(&c.customer.created_at, &zone),
            notice,
            packages: package_choices(&packages, "Their package"),
            sessions_total: sessions.total,
            sessions: sessions.items.iter().map(|s| SessionRow::of(s, &zone)).collect(),
            payments_total: payments.total,
            payments: payments.items.iter().map(|x| PaymentRow::of(x, &zone)).collect(),
            messages: messages.iter().map(|x| MessageRow::of(x, &zone)).collect(),
            messages_total,
            audit: audit.items.iter().map(|a| AuditRow::of(a, &zone)).collect(),
            acts,
            paybox,
            c,
        })
    }

    fn id(&self) -> i64 {
        self.c.customer.id
    }

    fn act(&self, action: &str) -> String {
        urls::action(urls::CUSTOMER_ACTION_ROUTE, self.id(), action)
    }

    fn status(&self) -> String {
        self.c.customer.status.to_string()
    }

    fn balance(&self) -> String {
        fmt::money(self.c.customer.balance.minor())
    }

    fn opt<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("—")
    }

    fn is(&self, status: &str) -> bool {
        self.c.customer.status.as_str() == status
    }

    fn cash_other(&self) -> Vec<String> {
        self.acts.cash.other(&["amount", "package_id", "reference"])
    }

    fn collect_other(&self) -> Vec<String> {
        self.acts.collect.other(&["phone", "package_id"])
    }

    fn state_other(&self) -> Vec<String> {
        self.acts.state.other(&["package_id"])
    }

    fn activate_other(&self) -> Vec<String> {
        self.acts.activate.other(&["reason", "days", "expires_at"])
    }
}

#[derive(serde::Deserialize)]
struct Done {
    #[serde(default)]
    done: String,
    n: Option<u32>,
}

async fn detail(
    State(st): State<AppState>,
    p: Page,
    Path(id): Path<i64>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let d = Detail::load(&st, &p, id, notice_of(&q.done, q.n)).await?;
    Ok(html(StatusCode::OK, &d))
}

// ---------------------------------------------------------------- actions

/// The detail page again, the refused form showing why.
async fn again(
    st: &AppState,
    p: &Page,
    id: i64,
    set: impl FnOnce(&mut Acts, Act),
    values: Vec<(String, String)>,
    e: AppError,
) -> Result<Response, PageError> {
    let (act, status) = Act::refused(values, e)?;
    let mut d = Detail::load(st, p, id, None).await?;
    set(&mut d.acts, act);
    Ok(html(status, &d))
}

/// A customer change with fixed fields (suspend, resume, change package).
fn change(pairs: &[(&str, &str)]) -> Result<CustomerRequest, AppError> {
    from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// `POST /customers/{id}/{action}`: every button of the detail page.
async fn action(
    State(st): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    f: Form<BTreeMap<String, String>>,
) -> Result<Response, PageError> {
    let (p, raw) = (&f.page, f.raw.clone());
    let s = &p.session;
    match action.as_str() {
        "collect" => collect::start(&st, p, id, raw, wants_fragment(&headers)).await,
        "cash" => {
            let r = match from_pairs::<CashPayment>(raw.clone()) {
                Ok(req) => st.app.record_cash_payment(s, id, req).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => Ok(done(id, "cash")),
                Err(e) => again(&st, p, id, |a, x| a.cash = x, raw, e).await,
            }
        }
        "suspend" | "resume" | "package" => {
            let req = match action.as_str() {
                "suspend" => change(&[("status", "suspended")]),
                "resume" => change(&[("status", "active")]),
                _ => change(&[("package_id", form::value_of(&raw, "package_id").as_str())]),
            };
            let r = match req {
                Ok(req) => st.app.update_customer(s, id, req).await.map(|_| ()),
                Err(e) => Err(e),
            };
            let word = match action.as_str() {
                "suspend" => "suspended",
                "resume" => "resumed",
                _ => "package",
            };
            match r {
                Ok(()) => Ok(done(id, word)),
                Err(e) => again(&st, p, id, |a, x| a.state = x, raw, e).await,
            }
        }
        "disconnect" => {
            let r = st.app.disconnect_customer(s, id).await?;
            let failed: Vec<String> = r
                .sessions
                .iter()
                .filter(|o| !o.ok)
                .map(|o| format!("session {}: {}", o.session_id, o.detail))
                .collect();
            if failed.is_empty() {
                Ok(Redirect::to(&format!("{}?done=disconnected&n={}", urls::customer(id), r.sessions.len()))
                    .into_response())
            } else {
                let why =
                    format!("The router refused to disconnect: {}. Try again, or check the router.", failed.join("; "));
                again(&st, p, id, |a, x| a.state = x, raw, AppError::Upstream(why)).await
            }
        }
        "activate" => {
            let r = match from_pairs::<ActivateRequest>(raw.clone()) {
                Ok(req) => st.app.activate_customer(s, id, &req).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => Ok(done(id, "activated")),
                Err(e) => again(&st, p, id, |a, x| a.activate = x, raw, e).await,
            }
        }
        "welcome" => {
            let queued = st.app.resend_welcome(s, id).await?;
            Ok(done(id, if queued { "welcome" } else { "welcome-queued" }))
        }
        "delete" => {
            st.app.delete_customer(s, id).await?;
            Ok(Redirect::to(urls::CUSTOMERS).into_response())
        }
        _ => Err(AppError::NotFound("action").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_keys_leave_out_noise() {
        let b = json!({"status": "active", "updated_at": 1, "phone": "1"});
        let a = json!({"status": "suspended", "updated_at": 2, "phone": "1", "notes": "x"});
        assert_eq!(changed_keys(Some(&b), Some(&a)), ["notes", "status"]);
        assert_eq!(changed_keys(None, None), Vec::<String>::new());
    }

    #[test]
    fn notices_are_fixed_sentences() {
        assert!(notice_of("cash", None).is_some());
        assert_eq!(notice_of("<script>", None), None);
        assert!(notice_of("disconnected", Some(0)).unwrap().contains("no live session"));
    }

    #[test]
    fn fragments_only_for_plain_htmx_requests() {
        let mut h = HeaderMap::new();
        assert!(!wants_fragment(&h));
        h.insert("hx-request", HeaderValue::from_static("true"));
        assert!(wants_fragment(&h));
        h.insert("hx-boosted", HeaderValue::from_static("true"));
        assert!(!wants_fragment(&h));
    }
}
