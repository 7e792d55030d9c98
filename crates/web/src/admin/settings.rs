//! `/settings`: one page per settings category of the registry (secrets write-only:
//! never drawn back, empty = unchanged, a "set" badge), the payment provider cards
//! with a one-click switch, the callback URLs, "send test" buttons, the template
//! previews and the FreeRADIUS setup script.

use super::extract::{Form, Page, PageError};
use super::form::{self, Field, Kind};
use super::render::{Layout, html};
use super::urls;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use broadnet_app::checks::CheckOutcome;
use broadnet_app::gateway::CallbackUrls;
use broadnet_app::settings::{MONEY_CATEGORIES, SettingView, SettingsUpdate, SettingsView};
use broadnet_app::{AppError, FieldErrors};
use broadnet_domain::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(urls::SETTINGS, get(index))
        .route(urls::SETTINGS_PAYMENTS_ACTIVE, post(switch_provider))
        .route(urls::FREERADIUS_SETUP, get(freeradius_script))
        .route(urls::SETTINGS_CATEGORY_ROUTE, get(show).post(save))
        .route(SETTINGS_TEST_ROUTE, post(test))
}

/// `POST /settings/{category}/test` (mpesa, sms, email).
const SETTINGS_TEST_ROUTE: &str = "/settings/{category}/test";

/// The tabs of the settings screen, in order: `(category, label)`. Each is a
/// registry category but `freeradius`, which is the setup script's page.
const TABS: &[(&str, &str)] = &[
    ("general", "General"),
    ("payments", "Payments"),
    ("mpesa", "M-Pesa"),
    ("airtel", "Airtel Money"),
    ("sms", "SMS"),
    ("email", "Email"),
    ("notifications", "Reminders"),
    ("templates", "Templates"),
    ("freeradius", "FreeRADIUS"),
];

/// `/settings/{category}`.
pub fn category(c: &str) -> String {
    urls::SETTINGS_CATEGORY_ROUTE.replace("{category}", c)
}

fn test_url(c: &str) -> String {
    SETTINGS_TEST_ROUTE.replace("{category}", c)
}

fn label_of(c: &str) -> &'static str {
    TABS.iter().find(|(k, _)| *k == c).map_or("Settings", |(_, l)| l)
}

/// One payment provider's card on the Payments page.
pub struct ProviderCard {
    pub key: &'static str,
    pub name: &'static str,
    /// Who runs it ("Safaricom Daraja").
    pub by: &'static str,
    pub active: bool,
    /// Ready, or why not (the use case's own message).
    pub status: Result<String, String>,
}

/// The result of a "send test" button, shown above the form.
pub struct TestResult {
    pub ok: bool,
    pub text: String,
}

#[derive(Template)]
#[template(path = "settings/category.html")]
struct CategoryPage {
    l: Layout,
    tabs: Vec<(&'static str, &'static str, bool)>,
    category: String,
    label: &'static str,
    /// The admin may change this category (money categories: superadmin only).
    may_write: bool,
    superadmin: bool,
    fields: Vec<Field>,
    /// Keys of secrets that have a value: drawn with a "set" badge.
    set_secrets: Vec<&'static str>,
    other_errors: Vec<String>,
    saved: bool,
    test: Option<TestResult>,
    /// What the test form had typed (phone, address).
    test_to: String,
    urls: Option<CallbackUrls>,
    providers: Vec<ProviderCard>,
    previews: Vec<(&'static str, String)>,
}

impl CategoryPage {
    fn action(&self) -> String {
        category(&self.category)
    }

    fn test_action(&self) -> String {
        test_url(&self.category)
    }

    fn is_set(&self, key: &str) -> bool {
        self.set_secrets.contains(&key)
    }

    fn preview(&self, key: &str) -> Option<&str> {
        self.previews.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }
}

fn tabs(current: &str) -> Vec<(&'static str, &'static str, bool)> {
    TABS.iter().map(|&(c, l)| (c, l, c == current)).collect()
}

/// A registry setting as a form field: secrets never carry their value.
fn field_of(v: &SettingView, value: String, errors: Vec<String>) -> Field {
    let kind = match v.kind {
        "secret" => Kind::Password,
        // Not a checkbox: an unset switch follows .env, and an unticked box would
        // turn it off on the first save.
        "bool" => Kind::Select(&[]),
        "choice" => Kind::Select(&[]),
        "text" if is_long(v.key) => Kind::Area,
        _ => Kind::Text,
    };
    let mut choices = vec![(String::new(), "(default)".to_string())];
    if v.kind == "bool" {
        choices.extend([("true".to_string(), "Yes".to_string()), ("false".to_string(), "No".to_string())]);
    }
    choices.extend(v.choices.unwrap_or_default().iter().map(|c| (c.to_string(), c.to_string())));
    let hint = match (v.kind, v.set) {
        ("secret", true) => "Leave empty to keep the one set.".to_string(),
        ("secret", false) => "Not set yet.".to_string(),
        ("text", _) if v.value.is_none() && is_template(v.key) => {
            "Empty: the default text (see the preview).".to_string()
        }
        _ => String::new(),
    };
    Field {
        name: v.key,
        label: v.label,
        hint,
        kind,
        value: if kind == Kind::Password { String::new() } else { value },
        errors,
        choices,
    }
}

/// Message templates and long texts get a text area.
fn is_long(key: &str) -> bool {
    is_template(key) || key == "invoice_footer"
}

fn is_template(key: &str) -> bool {
    broadnet_app::notify::Template::ALL.iter().any(|t| t.as_str() == key)
}

/// The fields of a category: stored values, or what was typed (after a refusal).
fn fields_of(
    view: &SettingsView,
    typed: Option<&[(String, String)]>,
    mut errors: FieldErrors,
) -> (Vec<Field>, Vec<String>) {
    let fields = view
        .settings
        .iter()
        .map(|v| {
            let value = match typed {
                Some(t) => form::value_of(t, v.key),
                None => match (v.kind, v.value.as_deref()) {
                    (_, Some(s)) => s.to_string(),
                    (_, None) => String::new(),
                },
            };
            field_of(v, value, errors.remove(v.key).unwrap_or_default())
        })
        .collect();
    let other = errors.into_iter().flat_map(|(k, v)| v.into_iter().map(move |m| format!("{k}: {m}"))).collect();
    (fields, other)
}

#[derive(Default)]
struct Extra {
    typed: Option<Vec<(String, String)>>,
    errors: FieldErrors,
    saved: bool,
    test: Option<TestResult>,
    test_to: String,
}

async fn page(st: &AppState, p: &Page, cat: &str, x: Extra) -> Result<CategoryPage, PageError> {
    let superadmin = p.session.admin.role == Role::Superadmin;
    let can_write = p.session.admin.role.can_write();
    let may_write = can_write && (superadmin || !MONEY_CATEGORIES.contains(&cat));
    let label = label_of(cat);
    let mut out = CategoryPage {
        l: Layout::new(p, format!("Settings · {label}"), "Settings"),
        tabs: tabs(cat),
        category: cat.to_string(),
        label,
        may_write,
        superadmin,
        fields: Vec::new(),
        set_secrets: Vec::new(),
        other_errors: Vec::new(),
        saved: x.saved,
        test: x.test,
        test_to: x.test_to,
        urls: None,
        providers: Vec::new(),
        previews: Vec::new(),
    };
    if cat == "freeradius" {
        return Ok(out);
    }
    let view = st.app.read_settings(cat).await?;
    out.set_secrets = view.settings.iter().filter(|v| v.kind == "secret" && v.set).map(|v| v.key).collect();
    if cat != "payments" {
        let (fields, other) = fields_of(&view, x.typed.as_deref(), x.errors);
        out.fields = fields;
        out.other_errors = other;
    } else {
        out.other_errors = x.errors.into_values().flatten().collect();
        let active = st.app.active_provider().await?;
        // Ready or not as the payment use cases decide it, in their words.
        let mpesa = st.app.daraja().await.map(|(_, m)| m.env);
        let airtel = st.app.airtel().await.map(|(_, c)| {
            let sim = c.client_id == broadnet_app::gateway::SIM_AIRTEL.client_id;
            if sim { "simulator" } else { "" }.to_string()
        });
        for (key, name, by, state) in
            [("mpesa", "M-Pesa", "Safaricom Daraja", mpesa), ("airtel", "Airtel Money", "Airtel Africa", airtel)]
        {
            let status = match state {
                Ok(env) if env == "simulator" => Ok("Ready (simulator: no real money moves).".to_string()),
                Ok(_) => Ok("Ready to take payments: the credentials are filled in.".to_string()),
                Err(AppError::Validation(e)) => Err(e.into_values().flatten().collect::<Vec<_>>().join("; ")),
                Err(e) => return Err(e.into()),
            };
            out.providers.push(ProviderCard { key, name, by, active: active.as_str() == key, status });
        }
    }
    if superadmin && matches!(cat, "payments" | "mpesa" | "airtel") {
        out.urls = Some(st.app.callback_urls(&p.session).await?);
    }
    if cat == "templates" {
        out.previews = st.app.preview_templates().await?;
    }
    Ok(out)
}

async fn index() -> Redirect {
    Redirect::to(&category("general"))
}

/// `?saved=1` after a save (post/redirect/get).
#[derive(serde::Deserialize)]
struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

async fn show(
    State(st): State<AppState>,
    p: Page,
    Path(cat): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Response, PageError> {
    let x = Extra { saved: q.saved.is_some(), ..Default::default() };
    let out = page(&st, &p, &cat, x).await?;
    Ok(html(StatusCode::OK, &out))
}

async fn save(
    State(st): State<AppState>,
    Path(cat): Path<String>,
    f: Form<SettingsUpdate>,
) -> Result<Response, PageError> {
    match st.app.write_settings(&f.page.session, &cat, f.data).await {
        Ok(_) => Ok(Redirect::to(&format!("{}?saved=1", category(&cat))).into_response()),
        Err(e) => {
            let errors = form::field_errors(e)?;
            let x = Extra { typed: Some(f.raw.clone()), errors, ..Default::default() };
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page(&st, &f.page, &cat, x).await?))
        }
    }
}

/// The Payments page's one-click switch: `active_provider=airtel`.
async fn switch_provider(State(st): State<AppState>, f: Form<SettingsUpdate>) -> Result<Response, PageError> {
    match st.app.write_settings(&f.page.session, "payments", f.data).await {
        Ok(_) => Ok(Redirect::to(&category("payments")).into_response()),
        Err(e) => {
            let errors = form::field_errors(e)?;
            let x = Extra { errors, ..Default::default() };
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page(&st, &f.page, "payments", x).await?))
        }
    }
}

/// A "send test" form: `to` (a phone for SMS, an address for email), nothing for M-Pesa.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TestForm {
    #[serde(default)]
    to: String,
}

async fn test(State(st): State<AppState>, Path(cat): Path<String>, f: Form<TestForm>) -> Result<Response, PageError> {
    let s = &f.page.session;
    let to = f.data.to.trim().to_string();
    let outcome: Result<CheckOutcome, AppError> = match cat.as_str() {
        "mpesa" => st.app.test_mpesa(s).await,
        "sms" => st.app.test_sms(s, &to).await,
        "email" => st.app.test_email(s, &to).await,
        _ => return Err(PageError::App(AppError::NotFound("settings test"))),
    };
    let test = match outcome {
        Ok(o) => TestResult { ok: true, text: o.detail },
        Err(AppError::Upstream(m)) => TestResult { ok: false, text: m },
        Err(AppError::Validation(errors)) => {
            TestResult { ok: false, text: errors.into_values().flatten().collect::<Vec<_>>().join("; ") }
        }
        Err(e) => return Err(PageError::App(e)),
    };
    let x = Extra { test: Some(test), test_to: to, ..Default::default() };
    Ok(html(StatusCode::OK, &page(&st, &f.page, &cat, x).await?))
}

async fn freeradius_script(State(st): State<AppState>, p: Page) -> Result<Response, PageError> {
    let script = st.app.freeradius_setup_script(&p.session)?;
    let mut r = script.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/x-shellscript; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"setup-freeradius.sh\""));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tab_but_the_script_is_a_registry_category() {
        for (c, _) in TABS.iter().filter(|(c, _)| *c != "freeradius") {
            assert!(broadnet_app::settings::category(c).is_some(), "{c}");
        }
        assert_eq!(category("mpesa"), "/settings/mpesa");
        assert_eq!(test_url("sms"), "/settings/sms/test");
    }

    #[test]
    fn a_secret_field_never_carries_its_value() {
        let v = SettingView { key: "passkey", label: "Passkey", kind: "secret", value: None, set: true, choices: None };
        let f = field_of(&v, "typed".into(), Vec::new());
        assert_eq!(f.value, "");
        assert!(f.is("password"));
    }
}
