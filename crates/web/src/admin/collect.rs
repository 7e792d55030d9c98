//! Collect Payment: the prompt sent from a customer's page, and the status box that
//! follows it. With htmx the box polls `GET /payments/{id}/status` every 2 s until
//! the payment is final; without JS the same box is a page that refreshes itself.

use super::customers::{Act, Detail, vary};
use super::extract::{Page, PageError};
use super::render::{Layout, html};
use super::{fmt, urls};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use broadnet_app::collect::{InitiatePayment, PaymentDetail};
use broadnet_app::input::from_pairs;
use broadnet_domain::PaymentStatus;
use broadnet_store::Customer;
use chrono::FixedOffset;

pub fn router() -> Router<AppState> {
    Router::new().route(urls::PAYMENT_STATUS_ROUTE, get(status))
}

/// Where a payment is, as the box tells it.
pub(super) struct StatusBox {
    pub(super) id: i64,
    pub(super) state: &'static str,
    /// The badge word: the payment's status.
    pub(super) word: String,
    pub(super) amount: String,
    pub(super) phone: String,
    /// The provider's answer when the prompt was sent ("Success. Request accepted…").
    pub(super) sent: String,
    pub(super) receipt: String,
    pub(super) expires: String,
    pub(super) customer_status: String,
    pub(super) customer_id: Option<i64>,
    pub(super) customer_name: String,
    /// The provider's own text and code when it did not go through.
    pub(super) desc: String,
    pub(super) code: String,
    pub(super) next: &'static str,
    pub(super) invoice: Option<String>,
}

/// What the admin can do after each way a payment ends (display only: the status
/// itself comes from the provider through the use case).
fn next_step(s: PaymentStatus) -> &'static str {
    match s {
        PaymentStatus::Cancelled => {
            "The customer declined or dismissed the prompt. Ask them to keep the phone unlocked, then send it again."
        }
        PaymentStatus::Expired => {
            "No answer came from the phone in time (off, out of coverage, or a SIM that needs an update). Check the number and send again, or take cash."
        }
        PaymentStatus::Failed => "Check with the customer (M-Pesa balance, PIN), then send again, or take cash.",
        _ => "",
    }
}

impl StatusBox {
    pub(super) fn of(d: &PaymentDetail, c: Option<&Customer>, zone: &FixedOffset, sent: String) -> StatusBox {
        let p = &d.payment;
        let state = match p.status {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Completed => "paid",
            _ => "failed",
        };
        StatusBox {
            id: p.id,
            state,
            word: p.status.to_string(),
            amount: fmt::money(p.amount.minor()),
            phone: p.phone.as_ref().map(|x| x.to_string()).unwrap_or_default(),
            sent,
            receipt: p.provider_receipt.clone().unwrap_or_default(),
            expires: c.map(|c| fmt::when_opt(&c.expires_at, zone)).unwrap_or_default(),
            customer_status: c.map(|c| c.status.to_string()).unwrap_or_default(),
            customer_id: c.map(|c| c.id),
            customer_name: c.map(|c| c.full_name.clone()).unwrap_or_default(),
            desc: p.result_desc.clone().unwrap_or_default(),
            code: p.result_code.clone().unwrap_or_default(),
            next: next_step(p.status),
            invoice: d.invoice.as_ref().map(|i| i.number.clone()),
        }
    }

    pub(super) fn poll(&self) -> String {
        urls::with_id(urls::PAYMENT_STATUS_ROUTE, self.id)
    }

    pub(super) fn payment(&self) -> String {
        urls::payment(self.id)
    }

    pub(super) fn invoice_href(&self) -> String {
        urls::with_id(urls::PAYMENT_INVOICE_ROUTE, self.id)
    }

    pub(super) fn customer(&self) -> String {
        self.customer_id.map(urls::customer).unwrap_or_else(|| urls::CUSTOMERS.to_string())
    }
}

/// The box alone (htmx) or on a page of its own (no JS, or a link).
#[derive(Template)]
#[template(path = "customers/payment_status.html", blocks = ["paybox"])]
struct StatusPage {
    l: Layout,
    b: StatusBox,
    /// In an htmx answer that ends the wait, the customer's status and expiry on the
    /// page around the box are updated too (out-of-band swaps).
    oob: bool,
}

async fn load_box(st: &AppState, p: &Page, id: i64, sent: String) -> Result<StatusBox, PageError> {
    let d = st.app.get_payment_detail(id).await?;
    let c = match d.payment.customer_id {
        Some(cid) => Some(st.app.get_customer(&p.session, cid).await?.customer),
        None => None,
    };
    let (zone, _) = st.app.local_zone().await?;
    Ok(StatusBox::of(&d, c.as_ref(), &zone, sent))
}

async fn status(
    State(st): State<AppState>,
    p: Page,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let b = load_box(&st, &p, id, String::new()).await?;
    let fragment = super::customers::wants_fragment(&headers);
    let tpl =
        StatusPage { l: Layout::new(&p, format!("Payment {id}"), "Customers"), oob: fragment && b.state == "paid", b };
    Ok(vary(if fragment { html(StatusCode::OK, &tpl.as_paybox()) } else { html(StatusCode::OK, &tpl) }))
}

/// `POST /customers/{id}/collect`: the prompt goes out through the active provider.
/// htmx gets the Collect Payment card back with the polling box in it; a plain form
/// is sent to the box's own page.
pub(super) async fn start(
    st: &AppState,
    p: &Page,
    customer_id: i64,
    mut raw: Vec<(String, String)>,
    fragment: bool,
) -> Result<Response, PageError> {
    let values = raw.clone();
    raw.retain(|(k, _)| k != "customer_id");
    raw.push(("customer_id".into(), customer_id.to_string()));
    let r = match from_pairs::<InitiatePayment>(raw) {
        Ok(req) => st.app.initiate_payment(&p.session, req).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(prompt) if fragment => {
            let mut d = Detail::load(st, p, customer_id, None).await?;
            d.acts.collect = Act::with(values);
            d.paybox = Some(load_box(st, p, prompt.payment.id, prompt.message).await?);
            Ok(vary(html(StatusCode::OK, &d.as_collect())))
        }
        Ok(prompt) => Ok(Redirect::to(&urls::with_id(urls::PAYMENT_STATUS_ROUTE, prompt.payment.id)).into_response()),
        Err(e) => {
            let (act, status) = Act::refused(values, e)?;
            let mut d = Detail::load(st, p, customer_id, None).await?;
            d.acts.collect = act;
            // htmx swaps a 422 but not other errors: the card with the provider's text
            // must replace the form all the same.
            let swap = if status == StatusCode::UNPROCESSABLE_ENTITY { status } else { StatusCode::OK };
            Ok(vary(if fragment { html(swap, &d.as_collect()) } else { html(status, &d) }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ending_says_what_to_do_next() {
        for s in [PaymentStatus::Cancelled, PaymentStatus::Expired, PaymentStatus::Failed] {
            assert!(!next_step(s).is_empty(), "{s}");
        }
        assert!(next_step(PaymentStatus::Completed).is_empty());
    }
}
