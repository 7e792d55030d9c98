//! `/packages`: the list, the create and edit forms (field errors inline), delete.
//! Every write goes through the same use cases as `/api/packages`.

use super::extract::{Form, Page, PageError};
use super::form::{self, Field, FieldSpec, Kind};
use super::render::{Layout, html};
use super::urls;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use broadnet_app::packages::{PackageRequest, PackageView};
use broadnet_app::{AppError, FieldErrors};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(urls::PACKAGES, get(list).post(create))
        .route(urls::PACKAGE_NEW, get(new))
        .route(urls::PACKAGE_EDIT_ROUTE, get(edit).post(update))
        .route(urls::PACKAGE_DELETE_ROUTE, post(remove))
}

#[derive(Template)]
#[template(path = "packages/list.html")]
struct List {
    l: Layout,
    packages: Vec<PackageView>,
}

impl List {
    /// The service type as the form names it ("PPPoE and hotspot", not "both").
    fn service(&self, t: &broadnet_domain::ServiceType) -> &'static str {
        SERVICE_TYPES.iter().find(|(v, _)| *v == t.as_str()).map_or("", |(_, label)| label)
    }

    /// `1,500.00`: grouped as on invoices.
    fn price(&self, p: &PackageView) -> String {
        super::fmt::money(p.price_minor)
    }
}

async fn list(State(st): State<AppState>, p: Page) -> Result<Response, PageError> {
    let packages = st.app.list_packages().await?;
    Ok(html(StatusCode::OK, &List { l: Layout::new(&p, "Packages", "Packages"), packages }))
}

const SERVICE_TYPES: &[(&str, &str)] = &[("both", "PPPoE and hotspot"), ("pppoe", "PPPoE"), ("hotspot", "Hotspot")];

/// The fields in form order: `(name, label, hint, kind)`.
const FIELDS: &[FieldSpec] = &[
    ("name", "Name", "", Kind::Text),
    ("service_type", "Service type", "", Kind::Select(SERVICE_TYPES)),
    ("price", "Price", "In major units, e.g. 1500", Kind::Text),
    ("free", "Free of charge", "Tick to offer the package at a price of 0", Kind::Check),
    ("download_rate", "Download rate", "e.g. 10M", Kind::Text),
    ("upload_rate", "Upload rate", "e.g. 5M", Kind::Text),
    ("duration", "Duration", "e.g. 30d, 12h, 90m", Kind::Text),
    ("data_limit_mb", "Data limit (MB)", "Empty for unlimited", Kind::Text),
    ("shared_users", "Shared users", "Devices at once (1 to 100)", Kind::Text),
    ("framed_pool", "IP pool", "The router's pool name; empty for the default", Kind::Text),
    ("burst_download_rate", "Burst download rate", "Optional, e.g. 15M", Kind::Text),
    ("burst_upload_rate", "Burst upload rate", "Optional, e.g. 8M", Kind::Text),
    ("burst_threshold_download", "Burst threshold download", "Default: 3/4 of the rate", Kind::Text),
    ("burst_threshold_upload", "Burst threshold upload", "Default: 3/4 of the rate", Kind::Text),
    ("burst_time", "Burst time (s)", "Default 16", Kind::Text),
    ("description", "Description", "", Kind::Area),
    ("active", "Active", "Offered to customers", Kind::Check),
];

#[derive(Template)]
#[template(path = "packages/form.html")]
struct FormPage {
    l: Layout,
    /// `None` for a new package.
    id: Option<i64>,
    fields: Vec<Field>,
    /// Errors of no field of the form (e.g. `body`).
    other_errors: Vec<String>,
}

impl FormPage {
    fn new(p: &Page, id: Option<i64>, values: &[(String, String)], errors: FieldErrors) -> Self {
        let title = if id.is_some() { "Edit package" } else { "New package" };
        let (fields, other_errors) = form::build(FIELDS, values, errors);
        FormPage { l: Layout::new(p, title, "Packages"), id, fields, other_errors }
    }

    fn action(&self) -> String {
        match self.id {
            Some(id) => urls::package_edit(id),
            None => urls::PACKAGES.to_string(),
        }
    }
}

/// A package's values as the form spells them.
fn values_of(v: &PackageView) -> Vec<(String, String)> {
    let burst = v.burst.as_ref();
    let opt = |s: Option<String>| s.unwrap_or_default();
    let flag = |b: bool| if b { "on" } else { "" }.to_string();
    [
        ("name", v.name.clone()),
        ("service_type", v.service_type.to_string()),
        ("price", v.price.clone()),
        ("free", flag(v.free)),
        ("download_rate", v.download_rate.clone()),
        ("upload_rate", v.upload_rate.clone()),
        ("duration", v.duration.clone()),
        ("data_limit_mb", opt(v.data_limit_mb.map(|n| n.to_string()))),
        ("shared_users", v.shared_users.to_string()),
        ("framed_pool", opt(v.framed_pool.clone())),
        ("burst_download_rate", opt(burst.map(|b| b.download_rate.clone()))),
        ("burst_upload_rate", opt(burst.map(|b| b.upload_rate.clone()))),
        ("burst_threshold_download", opt(burst.map(|b| b.threshold_download.clone()))),
        ("burst_threshold_upload", opt(burst.map(|b| b.threshold_upload.clone()))),
        ("burst_time", opt(burst.map(|b| b.time.to_string()))),
        ("description", opt(v.description.clone())),
        ("active", flag(v.active)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

async fn new(p: Page) -> Result<Response, PageError> {
    p.session.require_write()?;
    let defaults = [("service_type", "both"), ("shared_users", "1"), ("active", "on")]
        .map(|(k, v)| (k.to_string(), v.to_string()));
    Ok(html(StatusCode::OK, &FormPage::new(&p, None, &defaults, FieldErrors::new())))
}

async fn edit(State(st): State<AppState>, p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    p.session.require_write()?;
    let v = st.app.get_package(id).await?;
    Ok(html(StatusCode::OK, &FormPage::new(&p, Some(id), &values_of(&v), FieldErrors::new())))
}

/// The use case's field errors as the form shows them again (422); other refusals
/// are error pages.
fn refused(p: &Page, id: Option<i64>, raw: &[(String, String)], e: AppError) -> Result<Response, PageError> {
    let errors = form::field_errors(e)?;
    Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &FormPage::new(p, id, raw, errors)))
}

async fn create(State(st): State<AppState>, f: Form<PackageRequest>) -> Result<Response, PageError> {
    match st.app.create_package(&f.page.session, f.data).await {
        Ok(_) => Ok(Redirect::to(urls::PACKAGES).into_response()),
        Err(e) => refused(&f.page, None, &f.raw, e),
    }
}

async fn update(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<PackageRequest>,
) -> Result<Response, PageError> {
    match st.app.update_package(&f.page.session, id, f.data).await {
        Ok(_) => Ok(Redirect::to(urls::PACKAGES).into_response()),
        Err(e) => refused(&f.page, Some(id), &f.raw, e),
    }
}

async fn remove(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<super::auth::NoFields>,
) -> Result<Response, PageError> {
    st.app.delete_package(&f.page.session, id).await?;
    Ok(Redirect::to(urls::PACKAGES).into_response())
}
