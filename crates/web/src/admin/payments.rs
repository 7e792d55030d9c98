//! `/payments`: the list with its filters, a payment's detail (the provider's
//! answer, the invoice), the invoice PDF, and the unmatched payments an admin
//! assigns to a customer. Same use cases as `/api/payments`.

use super::extract::{Form, Page, PageError};
use super::form::{self, Field, FieldSpec, Kind};
use super::pager::Pager;
use super::render::{Layout, html};
use super::urls;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use broadnet_app::billing::{AssignRequest, UnmatchedListRequest};
use broadnet_app::collect::{PaymentDetail, PaymentListQuery};
use broadnet_app::{AppError, FieldErrors};
use broadnet_store::{Payment, UnmatchedPayment};
use chrono::FixedOffset;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(urls::PAYMENTS, get(list))
        .route(urls::UNMATCHED, get(unmatched_list))
        .route(urls::UNMATCHED_ROUTE, get(unmatched_detail))
        .route(urls::UNMATCHED_ASSIGN_ROUTE, axum::routing::post(assign))
        .route(urls::PAYMENT_ROUTE, get(detail))
        .route(urls::PAYMENT_INVOICE_ROUTE, get(invoice_pdf))
}

type Params = Query<Vec<(String, String)>>;

/// A filter form's fields that were filled in: an empty field is no filter.
pub(super) fn filled(q: Vec<(String, String)>) -> Vec<(String, String)> {
    q.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect()
}

pub(super) const STATUSES: &[(&str, &str)] = &[
    ("", "Any status"),
    ("completed", "Completed"),
    ("pending", "Pending"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("expired", "Expired"),
];

pub(super) const PROVIDERS: &[(&str, &str)] =
    &[("", "Any provider"), ("mpesa", "M-Pesa"), ("airtel", "Airtel Money"), ("cash", "Cash"), ("voucher", "Voucher")];

/// What a payment's provider is called on the page.
pub(super) fn provider_name(p: &broadnet_domain::PaymentProvider) -> &'static str {
    PROVIDERS.iter().find(|(v, _)| *v == p.as_str()).map_or("", |(_, name)| name)
}

#[derive(Template)]
#[template(path = "payments/list.html")]
struct List {
    l: Layout,
    p: Pager,
    payments: Vec<Payment>,
    zone: FixedOffset,
    /// The filters' own errors (a bad date), shown above the table.
    errors: Vec<String>,
    names: std::collections::BTreeMap<i64, String>,
}

impl List {
    /// The customer's name, or their number when the account is gone.
    fn customer(&self, id: &i64) -> String {
        self.names.get(id).cloned().unwrap_or_else(|| format!("Customer {id}"))
    }

    fn when(&self, p: &Payment) -> String {
        super::fmt::when(&p.created_at, &self.zone)
    }
    fn money(&self, p: &Payment) -> String {
        super::fmt::money(p.amount.minor())
    }
    fn provider(&self, p: &Payment) -> &'static str {
        provider_name(&p.provider)
    }
    fn statuses(&self) -> &'static [(&'static str, &'static str)] {
        STATUSES
    }
    fn providers(&self) -> &'static [(&'static str, &'static str)] {
        PROVIDERS
    }
    /// Whether the filter `key` is set to `v` (the option drawn selected).
    fn is(&self, key: &str, v: &str) -> bool {
        self.p.get(key) == v
    }
}

async fn list(State(st): State<AppState>, p: Page, Query(q): Params) -> Result<Response, PageError> {
    let q = filled(q);
    let (zone, _) = st.app.local_zone().await?;
    let (page, errors) = match st.app.list_payments(&PaymentListQuery::from_pairs(q.clone())).await {
        Ok(page) => (page, Vec::new()),
        Err(AppError::Validation(e)) => {
            let lines = e.into_iter().flat_map(|(k, v)| v.into_iter().map(move |m| format!("{k}: {m}"))).collect();
            (broadnet_store::Page { items: Vec::new(), total: 0, page: 1, per_page: 50 }, lines)
        }
        Err(e) => return Err(e.into()),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let pager = Pager::new(urls::PAYMENTS, &q, &page);
    let ids: Vec<i64> = page.items.iter().filter_map(|p| p.customer_id).collect();
    let names = st.app.customer_names(&ids).await?;
    let l = Layout::new(&p, "Payments", "Payments");
    Ok(html(status, &List { l, p: pager, payments: page.items, zone, errors, names }))
}

#[derive(Template)]
#[template(path = "payments/detail.html")]
struct Detail {
    l: Layout,
    pay: Payment,
    invoice: Option<broadnet_store::Invoice>,
    zone: FixedOffset,
    /// The customer's name; `None` when the account is gone.
    customer: Option<String>,
}

impl Detail {
    fn when(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        super::fmt::when(t, &self.zone)
    }
    fn when_opt(&self, t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
        super::fmt::when_opt(t, &self.zone)
    }
    fn money(&self) -> String {
        super::fmt::money(self.pay.amount.minor())
    }
    fn provider(&self) -> &'static str {
        provider_name(&self.pay.provider)
    }
    fn channel(&self) -> &'static str {
        use broadnet_domain::PaymentChannel as C;
        match self.pay.channel() {
            C::Stk => "STK push",
            C::Paybill => "paybill",
            C::Airtel => "Airtel push",
            C::Cash => "cash at the counter",
            C::Voucher => "voucher",
        }
    }
    fn invoice_href(&self) -> String {
        urls::with_id(urls::PAYMENT_INVOICE_ROUTE, self.pay.id)
    }
    fn phone(&self) -> String {
        self.pay.phone.as_ref().map_or_else(|| "—".to_string(), |p| p.local())
    }
}

async fn detail(State(st): State<AppState>, p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    let (zone, _) = st.app.local_zone().await?;
    let PaymentDetail { payment, invoice, .. } = st.app.get_payment_detail(id).await?;
    let l = Layout::new(&p, format!("Payment {id}"), "Payments");
    let ids: Vec<i64> = payment.customer_id.into_iter().collect();
    let customer = st.app.customer_names(&ids).await?.into_values().next();
    Ok(html(StatusCode::OK, &Detail { l, pay: payment, invoice, zone, customer }))
}

/// The invoice of a completed payment, as a download.
async fn invoice_pdf(State(st): State<AppState>, _p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    let (number, pdf) = st.app.invoice_pdf(id).await?;
    let disposition = format!("attachment; filename={}.pdf", file_name(&number));
    Ok(([(header::CONTENT_TYPE, "application/pdf".to_string()), (header::CONTENT_DISPOSITION, disposition)], pdf)
        .into_response())
}

/// An invoice number as a file name: only letters, digits, `-` and `_` reach the header.
fn file_name(number: &str) -> String {
    let name: String =
        number.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).collect();
    if name.is_empty() { "invoice".into() } else { name }
}

const UNMATCHED_STATUSES: &[(&str, &str)] =
    &[("open", "Waiting"), ("assigned", "Assigned"), ("claimed", "Claimed"), ("all", "All")];

#[derive(Template)]
#[template(path = "payments/unmatched.html")]
struct UnmatchedList {
    l: Layout,
    p: Pager,
    items: Vec<UnmatchedPayment>,
    zone: FixedOffset,
}

impl UnmatchedList {
    fn when(&self, u: &UnmatchedPayment) -> String {
        super::fmt::when(&u.created_at, &self.zone)
    }
    fn money(&self, u: &UnmatchedPayment) -> String {
        super::fmt::money(u.amount.minor())
    }
    fn statuses(&self) -> &'static [(&'static str, &'static str)] {
        UNMATCHED_STATUSES
    }
    /// Whether `v` is the status shown (`open` when none is chosen).
    fn is_status(&self, v: &str) -> bool {
        match self.p.get("status") {
            "" => v == "open",
            s => s == v,
        }
    }
    fn tab(&self, status: &str) -> String {
        self.p.with(&[("status", status)])
    }
}

async fn unmatched_list(State(st): State<AppState>, p: Page, Query(q): Params) -> Result<Response, PageError> {
    let q = filled(q);
    let (zone, _) = st.app.local_zone().await?;
    let last = |k: &str| q.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let req = UnmatchedListRequest { status: last("status"), page: last("page"), per_page: last("per_page") };
    let page = st.app.list_unmatched(&req).await?;
    let pager = Pager::new(urls::UNMATCHED, &q, &page);
    let l = Layout::new(&p, "Unmatched payments", "Payments");
    Ok(html(StatusCode::OK, &UnmatchedList { l, p: pager, items: page.items, zone }))
}

const ASSIGN_FIELDS: &[FieldSpec] = &[
    ("customer_id", "Customer number", "The number in the customer's address: /customers/<number>", Kind::Text),
    ("package_id", "Package number", "Empty: the customer's own package", Kind::Text),
    ("note", "Note", "Why this money is theirs (kept in the audit log)", Kind::Area),
];

#[derive(Template)]
#[template(path = "payments/unmatched_detail.html")]
struct UnmatchedDetail {
    l: Layout,
    u: UnmatchedPayment,
    zone: FixedOffset,
    fields: Vec<Field>,
    other_errors: Vec<String>,
    /// Why the assignment was refused as a whole (someone else was first).
    refused: Option<String>,
}

impl UnmatchedDetail {
    fn new(p: &Page, u: UnmatchedPayment, zone: FixedOffset, raw: &[(String, String)], errors: FieldErrors) -> Self {
        let (fields, other_errors) = form::build(ASSIGN_FIELDS, raw, errors);
        let l = Layout::new(p, format!("Unmatched payment {}", u.receipt), "Payments");
        UnmatchedDetail { l, u, zone, fields, other_errors, refused: None }
    }
    fn when(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        super::fmt::when(t, &self.zone)
    }
    fn when_opt(&self, t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
        super::fmt::when_opt(t, &self.zone)
    }
    fn money(&self) -> String {
        super::fmt::money(self.u.amount.minor())
    }
    fn provider(&self) -> &'static str {
        provider_name(&self.u.provider)
    }
    fn action(&self) -> String {
        urls::with_id(urls::UNMATCHED_ASSIGN_ROUTE, self.u.id)
    }
    fn is_open(&self) -> bool {
        self.u.status == broadnet_store::UnmatchedStatus::Open
    }
}

async fn unmatched_detail(State(st): State<AppState>, p: Page, Path(id): Path<i64>) -> Result<Response, PageError> {
    let (zone, _) = st.app.local_zone().await?;
    let u = st.app.get_unmatched(id).await?;
    Ok(html(StatusCode::OK, &UnmatchedDetail::new(&p, u, zone, &[], FieldErrors::new())))
}

async fn assign(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<AssignRequest>,
) -> Result<Response, PageError> {
    match st.app.assign_unmatched(&f.page.session, id, &f.data).await {
        Ok(_) => Ok(Redirect::to(&urls::with_id(urls::UNMATCHED_ROUTE, id)).into_response()),
        Err(e) => {
            let (zone, _) = st.app.local_zone().await?;
            let u = st.app.get_unmatched(id).await?;
            match e {
                // Another admin was first: the page as it is now, and who did it.
                AppError::InUse(m) => {
                    let mut page = UnmatchedDetail::new(&f.page, u, zone, &f.raw, FieldErrors::new());
                    page.refused = Some(m);
                    Ok(html(StatusCode::CONFLICT, &page))
                }
                e => {
                    let errors = form::field_errors(e)?;
                    Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &UnmatchedDetail::new(&f.page, u, zone, &f.raw, errors)))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_file_names_are_header_safe() {
        assert_eq!(file_name("INV-2026-000012"), "INV-2026-000012");
        assert_eq!(file_name("a\"b\r\nc"), "a_b__c");
        assert_eq!(file_name(""), "invoice");
    }
}
