//! Airtel Money's callback (reference §5): trusted only as far as it matches a
//! payment we started and, unsigned, only after Airtel's own enquiry agrees.

use crate::callbacks::{CallbackPath, Evidence};
use crate::{App, AppError, AppResult};
use broadnet_domain::{PaymentProvider, PaymentStatus};
use broadnet_providers::airtel::AirtelCallback;
use broadnet_store::StoreError;

/// What we answer Airtel's callback: `{"status": "received"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AirtelAck {
    pub status: &'static str,
}

impl App {
    /// Airtel's callback (reference §5): `transaction.id` must be one we started. With
    /// callback authentication on, the hash must verify; without it, success is
    /// confirmed with a transaction enquiry before anything is credited.
    pub async fn airtel_callback(&self, raw: &[u8], path: CallbackPath) -> AppResult<AirtelAck> {
        let cb = AirtelCallback::parse(raw).map_err(|e| AppError::field("body", e.to_string()))?;
        let evidence = Evidence::airtel(&cb, raw);
        let text = |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let id = text(Some(&cb.id)).ok_or_else(|| AppError::field("transaction.id", "missing"))?;
        let status = cb.status_code.to_uppercase();
        let ack = AirtelAck { status: "received" };
        if let Some(key) = self.gateway.env.airtel.callback_key.as_deref().filter(|k| !k.is_empty()) {
            let signed = cb.hash.is_some();
            if !signed || !broadnet_providers::airtel::Airtel::verify_callback_hash(key, raw) {
                self.flag_callback("airtel", "callback hash missing or wrong", &evidence, path).await?;
                return Ok(ack);
            }
        }
        let payment = match self.store.find_payment_by_checkout(&id).await {
            Ok(p) if p.provider == PaymentProvider::Airtel => p,
            Ok(_) | Err(StoreError::NotFound) => {
                self.flag_callback("airtel", "no Airtel payment was started with this transaction id", &evidence, path)
                    .await?;
                return Ok(ack);
            }
            Err(e) => return Err(e.into()),
        };
        let signed = self.gateway.env.airtel.callback_key.as_deref().is_some_and(|k| !k.is_empty());
        match status.as_str() {
            "TS" if signed => {
                let receipt = text(cb.airtel_money_id.as_deref()).unwrap_or_else(|| id.clone());
                self.complete_from_provider(
                    &payment,
                    receipt,
                    "Transaction Success".into(),
                    "airtel",
                    &evidence,
                    false,
                )
                .await?;
            }
            // Unsigned: ask Airtel before acting on it either way (reference §5.1); a
            // forged failure must not close a payment the customer is about to make.
            "TS" | "TF" | "TE" if !signed && !self.query_gate.may_ask(payment.id, self.now()) => {
                tracing::debug!(payment = payment.id, "asked Airtel about this payment moments ago; not again yet");
            }
            "TS" | "TF" | "TE" if !signed => match self.enquiry_permit().await {
                Some(_permit) => self.reconcile_airtel(&payment).await?,
                None => tracing::warn!(
                    payment = payment.id,
                    "too many provider queries at once; reconciliation will ask later"
                ),
            },
            "TF" | "TE" => {
                let desc = text(cb.message.as_deref()).unwrap_or_else(|| "Transaction Failed".into());
                let st = if status == "TE" { PaymentStatus::Expired } else { PaymentStatus::Failed };
                let closed = self.store.close_payment(payment.id, st, &status, &desc, self.now()).await?;
                if closed.status == st {
                    self.payment_failed(&closed).await?;
                }
            }
            // Intermediate: reconciliation asks later.
            _ => tracing::info!(payment = payment.id, %status, "Airtel callback not final"),
        }
        Ok(ack)
    }
}
