//! `/account/password`: "change my password". The use case checks the current one
//! and the new one's strength; a change ends every session, so the page then sends
//! the admin to log in again.

use super::extract::{Form, Page, PageError};
use super::form::{self, Field, FieldSpec, Kind};
use super::render::{Layout, html};
use super::urls;
use crate::AppState;
use crate::extract::session_cookie;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::Response;
use axum::routing::get;
use broadnet_app::FieldErrors;
use broadnet_app::admins::ChangePassword;

pub fn router() -> Router<AppState> {
    Router::new().route(urls::ACCOUNT_PASSWORD, get(show).post(change))
}

const FIELDS: &[FieldSpec] = &[
    ("current", "Current password", "", Kind::Password),
    ("new", "New password", "At least 8 characters; a passphrase is best", Kind::Password),
    ("confirm", "New password again", "", Kind::Password),
];

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    l: Layout,
    fields: Vec<Field>,
    other_errors: Vec<String>,
}

impl PasswordPage {
    fn new(p: &Page, errors: FieldErrors) -> Self {
        let (fields, other_errors) = form::build(FIELDS, &[], errors);
        PasswordPage { l: Layout::new(p, "Change my password", ""), fields, other_errors }
    }
}

#[derive(Template)]
#[template(path = "account/done.html")]
struct Done;

async fn show(p: Page) -> Response {
    html(StatusCode::OK, &PasswordPage::new(&p, FieldErrors::new()))
}

async fn change(State(st): State<AppState>, f: Form<ChangePassword>) -> Result<Response, PageError> {
    match st.app.change_own_password(&f.page.session, f.data).await {
        Ok(()) => {
            let mut resp = html(StatusCode::OK, &Done);
            if let Some(c) = session_cookie(&st, "", 0) {
                resp.headers_mut().insert(SET_COOKIE, c);
            }
            Ok(resp)
        }
        Err(e) => {
            let errors = form::field_errors(e)?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &PasswordPage::new(&f.page, errors)))
        }
    }
}
