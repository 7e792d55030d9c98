//! `/admins` (superadmin only): the list, the create and edit forms (role, active,
//! a new password), delete. The use cases refuse anyone else, and refuse to leave
//! no active superadmin.

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
use broadnet_app::admins::{AdminPatchRequest, NewAdminRequest};
use broadnet_app::{AppError, FieldErrors};
use broadnet_store::Admin;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(urls::ADMINS, get(list).post(create))
        .route(urls::ADMIN_NEW, get(new))
        .route(urls::ADMIN_EDIT_ROUTE, get(edit).post(update))
        .route(urls::ADMIN_DELETE_ROUTE, post(remove))
}

pub fn admin_edit(id: impl std::borrow::Borrow<i64>) -> String {
    urls::with_id(urls::ADMIN_EDIT_ROUTE, id)
}

pub fn admin_delete(id: impl std::borrow::Borrow<i64>) -> String {
    urls::with_id(urls::ADMIN_DELETE_ROUTE, id)
}

#[derive(Template)]
#[template(path = "admins/list.html")]
struct List {
    l: Layout,
    admins: Vec<Admin>,
    me: i64,
}

async fn list(State(st): State<AppState>, p: Page) -> Result<Response, PageError> {
    let admins = st.app.list_admins(&p.session).await?;
    let me = p.session.admin.id;
    Ok(html(StatusCode::OK, &List { l: Layout::new(&p, "Admins", "Admins"), admins, me }))
}

const ROLES: &[(&str, &str)] =
    &[("viewer", "Viewer (read only)"), ("admin", "Admin"), ("superadmin", "Superadmin (also admins, money settings)")];

const NEW_FIELDS: &[FieldSpec] = &[
    ("username", "Username", "Letters, digits, . _ -", Kind::Text),
    ("password", "Password", "At least 8 characters", Kind::Password),
    ("role", "Role", "", Kind::Select(ROLES)),
    ("full_name", "Full name", "", Kind::Text),
    ("email", "Email", "", Kind::Text),
];

const EDIT_FIELDS: &[FieldSpec] = &[
    ("role", "Role", "", Kind::Select(ROLES)),
    ("active", "Active", "Untick to lock the account out (ends its sessions)", Kind::Check),
    ("full_name", "Full name", "", Kind::Text),
    ("email", "Email", "", Kind::Text),
    ("password", "New password", "Leave empty to keep the current one; a new one ends its sessions", Kind::Password),
];

#[derive(Template)]
#[template(path = "admins/form.html")]
struct FormPage {
    l: Layout,
    /// `(id, username)` of the admin edited; `None` for a new one.
    editing: Option<(i64, String)>,
    fields: Vec<Field>,
    other_errors: Vec<String>,
}

impl FormPage {
    fn new(p: &Page, editing: Option<(i64, String)>, values: &[(String, String)], errors: FieldErrors) -> Self {
        let (title, specs) = match &editing {
            Some(_) => ("Edit admin", EDIT_FIELDS),
            None => ("New admin", NEW_FIELDS),
        };
        let (fields, other_errors) = form::build(specs, values, errors);
        FormPage { l: Layout::new(p, title, "Admins"), editing, fields, other_errors }
    }

    fn action(&self) -> String {
        match &self.editing {
            Some((id, _)) => admin_edit(id),
            None => urls::ADMINS.to_string(),
        }
    }
}

fn values_of(a: &Admin) -> Vec<(String, String)> {
    form::pairs([
        ("role", a.role.to_string()),
        ("active", if a.active { "on" } else { "off" }.to_string()),
        ("full_name", a.full_name.clone().unwrap_or_default()),
        ("email", a.email.clone().unwrap_or_default()),
    ])
}

async fn new(p: Page) -> Result<Response, PageError> {
    p.session.require_superadmin()?;
    let defaults = form::pairs([("role", "admin".to_string())]);
    Ok(html(StatusCode::OK, &FormPage::new(&p, None, &defaults, FieldErrors::new())))
}

async fn edit(State(st): State<AppState>, p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    let a = st.app.get_admin(&p.session, id).await?;
    Ok(html(StatusCode::OK, &FormPage::new(&p, Some((id, a.username.clone())), &values_of(&a), FieldErrors::new())))
}

fn refused(
    p: &Page,
    editing: Option<(i64, String)>,
    raw: &[(String, String)],
    e: AppError,
) -> Result<Response, PageError> {
    let errors = form::field_errors(e)?;
    Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &FormPage::new(p, editing, raw, errors)))
}

async fn create(State(st): State<AppState>, f: Form<NewAdminRequest>) -> Result<Response, PageError> {
    match st.app.create_admin(&f.page.session, f.data).await {
        Ok(_) => Ok(Redirect::to(urls::ADMINS).into_response()),
        Err(e) => refused(&f.page, None, &f.raw, e),
    }
}

async fn update(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<AdminPatchRequest>,
) -> Result<Response, PageError> {
    match st.app.update_admin(&f.page.session, id, f.data).await {
        Ok(_) => Ok(Redirect::to(urls::ADMINS).into_response()),
        Err(e) => {
            let name = st.app.get_admin(&f.page.session, id).await.map(|a| a.username).unwrap_or_default();
            refused(&f.page, Some((id, name)), &f.raw, e)
        }
    }
}

async fn remove(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<super::auth::NoFields>,
) -> Result<Response, PageError> {
    st.app.delete_admin(&f.page.session, id).await?;
    Ok(Redirect::to(urls::ADMINS).into_response())
}
