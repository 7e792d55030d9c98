//! Reconciliation: asking the provider about payments whose callback is late or never
//! comes (DESIGN rule 3), and closing those that never get a final answer.

use crate::callbacks::Evidence;
use crate::{App, AppResult};
use broadnet_domain::{PaymentProvider, PaymentStatus};
use broadnet_providers::daraja::StkQuery;
use broadnet_store::Payment;
use chrono::Duration;
use serde_json::json;

/// A pending payment is asked about after this long (the seed's troubleshooting
/// promise: "pending after 2 minutes").
pub const RECONCILE_AFTER_SECS: i64 = 120;
/// A payment with no final answer after this long is closed as expired ("no-answer");
/// a success that still arrives later completes it.
pub const GIVE_UP_AFTER_MINUTES: i64 = 60;
/// The result code of a payment we stopped waiting for.
pub use broadnet_domain::billing::NO_ANSWER;

/// Daraja result codes that are not plain failures.
pub(crate) fn closing_status(code: &str) -> PaymentStatus {
    match code {
        "1032" => PaymentStatus::Cancelled,
        "1019" | "1037" => PaymentStatus::Expired,
        _ => PaymentStatus::Failed,
    }
}

impl App {
    pub(crate) async fn reconcile_airtel(&self, payment: &Payment) -> AppResult<()> {
        let Some(id) = payment.checkout_request_id.clone() else { return Ok(()) };
        let (client, _) = self.airtel().await?;
        match client.enquiry(&id).await {
            Ok(st) => match st.status.as_str() {
                "TS" => {
                    let receipt = st.airtel_money_id.clone().unwrap_or(id);
                    let evidence = Evidence::query(json!({"enquiry": {"id": payment.checkout_request_id,
                        "status": st.status, "airtel_money_id": st.airtel_money_id}}));
                    self.complete_from_provider(
                        payment,
                        receipt,
                        "Transaction Success".into(),
                        "airtel",
                        &evidence,
                        true,
                    )
                    .await
                }
                "TF" | "TE" => {
                    let s = if st.status == "TE" { PaymentStatus::Expired } else { PaymentStatus::Failed };
                    let desc = st.message.unwrap_or_else(|| "Transaction Failed".into());
                    let closed = self.store.close_payment(payment.id, s, &st.status, &desc, self.now()).await?;
                    if closed.status == s {
                        self.payment_failed(&closed).await?;
                    }
                    Ok(())
                }
                _ => self.give_up_if_old(payment, "Airtel").await,
            },
            Err(e) => {
                tracing::warn!(payment = payment.id, error = %e, "Airtel enquiry failed");
                self.give_up_if_old(payment, "Airtel").await
            }
        }
    }

    async fn reconcile_mpesa(&self, payment: &Payment) -> AppResult<()> {
        // A paybill confirmation recorded just before a crash: the money moved (that is
        // what a confirmation says), so it is applied.
        if let Some(trans) = payment
            .checkout_request_id
            .as_deref()
            .and_then(|c| c.strip_prefix(broadnet_domain::PaymentChannel::PAYBILL_KEY_PREFIX))
        {
            let evidence = Evidence::query(json!({"c2b_recovered": trans}));
            return self
                .complete_from_provider(
                    payment,
                    trans.to_string(),
                    "C2B payment confirmed".into(),
                    "mpesa-c2b",
                    &evidence,
                    true,
                )
                .await;
        }
        let Some(checkout) = payment.checkout_request_id.clone() else {
            // The push never returned an id: nothing to ask about.
            return self.give_up_if_old(payment, "M-Pesa").await;
        };
        let (client, _) = self.daraja().await?;
        match client.stk_query(&checkout).await {
            Ok(StkQuery::Done { result_code, result_desc }) if result_code == "0" => {
                // The query carries no receipt number (reference §5); the checkout id
                // stands in until the callback, if it ever comes, finds it completed.
                let evidence =
                    Evidence::query(json!({"stk_query": {"CheckoutRequestID": checkout, "ResultCode": "0"}}));
                self.complete_from_provider(payment, format!("Q-{checkout}"), result_desc, "mpesa", &evidence, true)
                    .await
            }
            Ok(StkQuery::Done { result_code, result_desc }) => {
                let st = closing_status(&result_code);
                let closed = self.store.close_payment(payment.id, st, &result_code, &result_desc, self.now()).await?;
                if closed.status == st {
                    self.payment_failed(&closed).await?;
                }
                Ok(())
            }
            Ok(StkQuery::Pending) => self.give_up_if_old(payment, "M-Pesa").await,
            Err(e) => {
                tracing::warn!(payment = payment.id, error = %e, "M-Pesa STK query failed");
                self.give_up_if_old(payment, "M-Pesa").await
            }
        }
    }

    async fn give_up_if_old(&self, payment: &Payment, provider: &str) -> AppResult<()> {
        let now = self.now();
        if now - payment.created_at < Duration::minutes(GIVE_UP_AFTER_MINUTES) {
            return Ok(());
        }
        let desc = format!("no final answer from {provider} after {GIVE_UP_AFTER_MINUTES} minutes");
        let closed = self.store.close_payment(payment.id, PaymentStatus::Expired, NO_ANSWER, &desc, now).await?;
        tracing::warn!(payment = payment.id, "{desc}; closed as expired (a late success still completes it)");
        if closed.status == PaymentStatus::Expired {
            self.payment_failed(&closed).await?;
        }
        Ok(())
    }

    /// Asks the provider about one pending payment now (the portal's waiting screen,
    /// when no callback has come after a few seconds).
    pub(crate) async fn reconcile_payment(&self, payment: &Payment) -> AppResult<()> {
        match payment.provider {
            PaymentProvider::Mpesa => self.reconcile_mpesa(payment).await,
            PaymentProvider::Airtel => self.reconcile_airtel(payment).await,
            _ => Ok(()),
        }
    }

    /// Asks the provider about every payment pending for more than 2 minutes.
    /// Returns how many were looked at.
    pub async fn run_reconciliation(&self) -> AppResult<usize> {
        let before = self.now() - Duration::seconds(RECONCILE_AFTER_SECS);
        let pending = self.store.pending_payments(before, 200).await?;
        for p in &pending {
            if let Err(e) = self.reconcile_payment(p).await {
                tracing::warn!(payment = p.id, error = %e, "reconciliation failed; will try again");
            }
        }
        Ok(pending.len())
    }
}
