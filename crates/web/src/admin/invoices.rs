//! `/invoices`: every invoice, searched by number or customer, with its PDF and a
//! "send again" by SMS or email (through the outbox, like every message).

use super::extract::{Form, Page, PageError};
use super::pager::Pager;
use super::render::{Layout, html, message_page};
use super::urls;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use broadnet_app::AppError;
use broadnet_app::invoices::{InvoiceListQuery, ResendInvoice};
use broadnet_store::Invoice;
use chrono::FixedOffset;

pub fn router() -> Router<AppState> {
    Router::new().route(urls::INVOICES, get(list)).route(urls::INVOICE_RESEND_ROUTE, post(resend))
}

#[derive(Template)]
#[template(path = "invoices/list.html")]
struct List {
    l: Layout,
    p: Pager,
    invoices: Vec<Invoice>,
    zone: FixedOffset,
    /// What was just sent again (after the redirect): `(number, channel)`.
    sent: Option<(String, String)>,
}

impl List {
    fn when(&self, i: &Invoice) -> String {
        super::fmt::when(&i.issued_at, &self.zone)
    }
    fn money(&self, i: &Invoice) -> String {
        super::fmt::money(i.amount.minor())
    }
    fn pdf(&self, i: &Invoice) -> String {
        urls::with_id(urls::PAYMENT_INVOICE_ROUTE, i.payment_id)
    }
    fn resend(&self, i: &Invoice) -> String {
        resend_href(&i.number)
    }
}

/// `/invoices/{number}/resend`, the number encoded as a path segment.
fn resend_href(number: &str) -> String {
    let seg: String = url::form_urlencoded::byte_serialize(number.as_bytes()).collect();
    urls::INVOICE_RESEND_ROUTE.replace("{number}", &seg.replace('+', "%20"))
}

async fn list(
    State(st): State<AppState>,
    p: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let q = super::payments::filled(q);
    let (zone, _) = st.app.local_zone().await?;
    let page = st.app.list_invoices(&InvoiceListQuery::from_pairs(q.clone())).await?;
    let last = |k: &str| q.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let via = |v: String| if v == "sms" { "SMS".to_string() } else { v };
    let sent = last("sent").zip(last("via").map(via));
    let query: Vec<(String, String)> = q.into_iter().filter(|(k, _)| k != "sent" && k != "via").collect();
    let pager = Pager::new(urls::INVOICES, &query, &page);
    let l = Layout::new(&p, "Invoices", "Invoices");
    Ok(html(StatusCode::OK, &List { l, p: pager, invoices: page.items, zone, sent }))
}

async fn resend(
    State(st): State<AppState>,
    Path(number): Path<String>,
    f: Form<ResendInvoice>,
) -> Result<Response, PageError> {
    match st.app.resend_invoice(&f.page.session, &number, &f.data).await {
        Ok(r) => {
            let back =
                super::pager::href(urls::INVOICES, &[("sent".into(), r.number), ("via".into(), r.channel.to_string())]);
            Ok(Redirect::to(&back).into_response())
        }
        // Nothing to correct in a form: the reason (no email address, SMS off) is the page.
        Err(AppError::Validation(errors)) => {
            let text: Vec<String> = errors.into_values().flatten().collect();
            Ok(message_page(StatusCode::UNPROCESSABLE_ENTITY, "Not sent", &text.join("; ")))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_numbers_are_one_path_segment() {
        assert_eq!(resend_href("INV-000012"), "/invoices/INV-000012/resend");
        assert_eq!(resend_href("A/B 1"), "/invoices/A%2FB%201/resend");
    }
}
