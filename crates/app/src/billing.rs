//! Billing use cases beyond collecting a payment: activating a customer without
//! payment (audited, with a reason and an expiry), and the unmatched payments queue
//! that keeps money which fits no customer until an admin assigns it (rule 6).

use crate::input::{Fields, Input, Unknown};
use crate::{App, AppError, AppResult, FieldErrors, Session};
use broadnet_domain::billing::{LAST_YEAR, Renewal};
use broadnet_domain::{Money, ParseError};
use broadnet_store::{
    AssignOutcome, Assignment, CompleteOutcome, Customer, NewUnmatched, Page, Payment, UnmatchedPayment,
    UnmatchedQuery, UnmatchedStatus,
};
use chrono::{DateTime, Datelike, Duration, Utc};
use serde::{Deserialize, Serialize};

/// An admin gives a customer access without a payment: a free trial, a
/// complimentary account. Either an end date or a number of days. From the API's
/// JSON or the dashboard's form alike.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ActivateRequest {
    /// Why: shown in the audit log ("free trial", "staff account").
    pub reason: Input,
    /// RFC 3339, e.g. `2026-12-31T23:59:59Z`.
    pub expires_at: Input,
    pub days: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// The validated form of [`ActivateRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub reason: String,
    pub until: DateTime<Utc>,
}

impl ActivateRequest {
    /// Per-field messages, all at once, as every form gets them.
    pub fn validate(&self, now: DateTime<Utc>) -> AppResult<Activation> {
        let mut f = Fields::new(&self.unknown);
        let reason = f.line("reason", &self.reason, 200);
        let reason = f.required("reason", reason);
        let expires_at = f
            .parsed("expires_at", &self.expires_at, |t| match DateTime::parse_from_rfc3339(t) {
                Ok(t) if t.year() <= LAST_YEAR && t.with_timezone(&Utc) > now => Ok(t.with_timezone(&Utc)),
                Ok(_) => Err(ParseError::new(format!("must be in the future and before the year {}", LAST_YEAR + 1))),
                Err(_) => Err(ParseError::new("must be a date-time such as 2026-12-31T23:59:59Z")),
            })
            .value();
        let days = f.int("days", &self.days, 1, 3660).value();
        let until = match (expires_at, days) {
            (Some(_), Some(_)) => {
                f.error("days", "give either days or expires_at, not both");
                None
            }
            (Some(t), None) => Some(t),
            (None, Some(d)) => Some(now + Duration::days(d)),
            (None, None) => {
                if !f.has_error("expires_at") && !f.has_error("days") {
                    f.error("expires_at", "give an end date (expires_at) or a number of days");
                }
                None
            }
        };
        if reason.is_none() && !f.has_error("reason") {
            f.error("reason", "say why this customer gets access without paying (free trial, staff account, …)");
        }
        f.finish()?;
        match (reason, until) {
            (Some(reason), Some(until)) => Ok(Activation { reason, until }),
            _ => Err(AppError::Internal("activation fields missing after validation".into())),
        }
    }
}

/// Filters for the unmatched payments list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct UnmatchedListRequest {
    /// open (the default), assigned, claimed or all.
    pub status: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

/// An admin's answer to "whose money is this?".
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AssignRequest {
    pub customer_id: Input,
    /// The package the money renews; the customer's own when absent.
    pub package_id: Input,
    pub note: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// What assigning did.
#[derive(Debug, Clone, Serialize)]
pub struct AssignResult {
    pub unmatched: UnmatchedPayment,
    pub payment: Payment,
    pub invoice_number: String,
    pub applied: AppliedView,
}

/// What a payment bought, for the API and the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AppliedView {
    pub periods: u32,
    /// Minor units, like every amount in the API.
    pub applied: Money,
    pub balance: Money,
    pub shortfall: Money,
    pub expires_at: Option<DateTime<Utc>>,
}

impl AppliedView {
    pub fn new(r: &Renewal, expires_at: Option<DateTime<Utc>>) -> Self {
        AppliedView {
            periods: r.periods,
            applied: r.applied,
            balance: r.balance_after,
            shortfall: r.shortfall,
            expires_at,
        }
    }
}

impl App {
    /// Access without payment: an explicit, audited action with a reason and an expiry.
    pub async fn activate_customer(&self, s: &Session, id: i64, req: &ActivateRequest) -> AppResult<Customer> {
        s.require_write()?;
        let now = self.now();
        let a = req.validate(now)?;
        let before = self.store.get_customer(id).await.map_err(AppError::from_store("customer"))?;
        if before.package_id.is_none() {
            return Err(AppError::field("package_id", "give the customer a package first: it sets their speed"));
        }
        let after = self
            .store
            .activate_customer(&s.actor(now), id, a.until, &a.reason)
            .await
            .map_err(AppError::from_store("customer"))?;
        tracing::info!(admin = %s.admin.username, user = %after.username, until = %a.until, reason = %a.reason, "customer activated without payment");
        Ok(after)
    }

    pub async fn list_unmatched(&self, req: &UnmatchedListRequest) -> AppResult<Page<UnmatchedPayment>> {
        let mut errors = FieldErrors::new();
        let status = match req.status.as_deref().map(str::trim) {
            None | Some("") | Some("open") => Some(UnmatchedStatus::Open),
            Some("all") => None,
            Some(other) => match UnmatchedStatus::parse(other) {
                Ok(s) => Some(s),
                Err(e) => {
                    errors.entry("status".into()).or_default().push(format!("{}, all", e.0));
                    None
                }
            },
        };
        let (mut page, mut per_page) = (0, 0);
        crate::sessions::paging(&mut errors, &req.page, &req.per_page, (&mut page, &mut per_page));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(self.store.list_unmatched(&UnmatchedQuery { status, page, per_page }).await?)
    }

    pub async fn get_unmatched(&self, id: i64) -> AppResult<UnmatchedPayment> {
        self.store.get_unmatched(id).await.map_err(AppError::from_store("unmatched payment"))
    }

    /// Assigns queued money to a customer: exactly once, even when two admins click
    /// at the same moment (the second is told who did it).
    pub async fn assign_unmatched(&self, s: &Session, id: i64, req: &AssignRequest) -> AppResult<AssignResult> {
        s.require_write()?;
        let mut f = Fields::new(&req.unknown);
        let customer_id = f.int("customer_id", &req.customer_id, 1, i64::MAX);
        let customer_id = f.required("customer_id", customer_id);
        let package_id = f.int("package_id", &req.package_id, 1, i64::MAX).value();
        let note = f.text("note", &req.note, 500).value();
        f.finish()?;
        let Some(customer_id) = customer_id else {
            return Err(AppError::Internal("customer_id missing after validation".into()));
        };
        let (customer, package) = self.payer(customer_id, package_id).await?;
        let package_id = Some(package.id);
        let assignment = Assignment { unmatched_id: id, customer_id, package_id, note };
        let outcome = self
            .store
            .assign_unmatched(&s.actor(self.now()), assignment)
            .await
            .map_err(AppError::from_store("unmatched payment"))?;
        match outcome {
            AssignOutcome::Assigned { unmatched, outcome } => match *outcome {
                CompleteOutcome::Completed { payment, invoice_number, expires_at, renewal } => {
                    tracing::info!(admin = %s.admin.username, user = %customer.username, receipt = %unmatched.receipt, invoice = %invoice_number, "unmatched payment assigned");
                    self.wake_outbox();
                    let applied = AppliedView::new(&renewal, expires_at);
                    Ok(AssignResult { unmatched: *unmatched, payment, invoice_number, applied })
                }
                other => Err(AppError::Internal(format!("assigned payment not completed: {other:?}"))),
            },
            AssignOutcome::AlreadyResolved { unmatched } => Err(AppError::InUse(format!(
                "this payment was already {} by {}",
                unmatched.status,
                unmatched.resolved_by.as_deref().unwrap_or("someone else")
            ))),
        }
    }

    /// Queues money that arrived but cannot be applied, once per receipt.
    pub(crate) async fn queue_unmatched(&self, new: NewUnmatched) -> AppResult<UnmatchedPayment> {
        let receipt = new.receipt.clone();
        let queued = self.store.record_unmatched(new).await?;
        tracing::warn!(%receipt, reason = %queued.reason, amount = %queued.amount, "payment queued as unmatched for an admin");
        Ok(queued)
    }

    /// A provider-confirmed success that could not be applied to its payment (the
    /// payment was closed, the customer deleted): the money waits in the queue.
    pub(crate) async fn queue_refused_success(
        &self,
        payment: &Payment,
        receipt: &str,
        amount: Money,
        reason: &str,
    ) -> AppResult<()> {
        if self.store.find_payment_by_receipt(receipt).await.is_ok() {
            return Ok(()); // the receipt was applied after all (to this or another payment)
        }
        self.queue_unmatched(NewUnmatched {
            provider: payment.provider,
            receipt: receipt.to_string(),
            amount,
            phone: payment.phone.as_ref().map(|p| p.as_str().to_string()),
            payer_name: None,
            account_reference: payment.account_reference.clone(),
            reason: format!("payment {}: {reason}", payment.id),
            payment_id: Some(payment.id),
            at: self.now(),
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
    }

    #[test]
    fn activation_needs_a_reason_and_one_end() {
        let r = ActivateRequest { reason: " free trial ".into(), days: 7.into(), ..Default::default() };
        assert_eq!(
            r.validate(now()).unwrap(),
            Activation { reason: "free trial".into(), until: now() + Duration::days(7) }
        );
        let form: ActivateRequest = crate::input::from_form(b"reason=trial&days=7").unwrap();
        assert_eq!(form.validate(now()).unwrap().until, now() + Duration::days(7), "a form says the same");
        let AppError::Validation(e) = ActivateRequest::default().validate(now()).unwrap_err() else { panic!() };
        assert!(e.contains_key("reason") && e.contains_key("expires_at"), "{e:?}");
        let both = ActivateRequest {
            reason: "x".into(),
            days: 1.into(),
            expires_at: "2027-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        assert!(both.validate(now()).is_err());
        let past =
            ActivateRequest { reason: "x".into(), expires_at: "2026-01-01T00:00:00Z".into(), ..Default::default() };
        let AppError::Validation(e) = past.validate(now()).unwrap_err() else { panic!() };
        assert!(e.contains_key("expires_at"));
        let line = ActivateRequest { reason: "a\nb".into(), days: 1.into(), ..Default::default() };
        assert!(line.validate(now()).is_err());
    }
}
