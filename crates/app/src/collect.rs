//! Collecting a payment: the admin's "Collect Payment" (STK push or Airtel USSD push),
//! the Airtel callback, and the reconciliation of payments whose callback is late or
//! never comes (DESIGN rule 3).

use crate::input::{Fields, Input, Unknown};
use crate::mpesa_callbacks::{CallbackPath, Evidence, closing_status};
use crate::{App, AppError, AppResult, Session};
use broadnet_domain::{Money, PaymentProvider, PaymentStatus, Phone};
use broadnet_providers::ProviderError;
use broadnet_providers::airtel::AirtelCallback;
use broadnet_providers::daraja::{StkPush, StkQuery};
use broadnet_store::{CompleteOutcome, Completion, Invoice, NewOutbox, NewPayment, Payment, PaymentQuery, StoreError};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A pending payment is asked about after this long (the seed's troubleshooting
/// promise: "pending after 2 minutes").
pub const RECONCILE_AFTER_SECS: i64 = 120;
/// A payment with no final answer after this long is closed as expired ("no-answer");
/// a success that still arrives later completes it.
pub const GIVE_UP_AFTER_MINUTES: i64 = 60;
/// The result code of a payment we stopped waiting for (see the store's NO_ANSWER).
pub const NO_ANSWER: &str = "no-answer";

/// What we answer Airtel's callback: `{"status": "received"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AirtelAck {
    pub status: &'static str,
}

/// "Collect Payment": `customer_id` is required; `phone` defaults to the customer's,
/// `package_id` to their package and `amount` to its price.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct InitiatePayment {
    pub customer_id: Input,
    pub phone: Input,
    pub amount: Input,
    pub package_id: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A prompt sent (or perhaps sent): the pending payment and what to tell the admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentPrompt {
    pub payment: Payment,
    pub message: String,
}

/// A payment and, once completed, its invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentDetail {
    pub payment: Payment,
    pub invoice: Option<Invoice>,
}

/// The C2B URLs given to Safaricom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct C2bRegistration {
    pub registered: bool,
    pub confirmation_url: String,
    pub validation_url: String,
}

fn provider_error(e: &ProviderError) -> (String, String) {
    match e {
        ProviderError::Refused { code, message, .. } => (code.clone(), message.clone()),
        other => ("error".into(), other.to_string()),
    }
}

impl App {
    /// "Collect Payment": sends the active provider's prompt to the customer's phone.
    /// The payment is stored as pending before the provider is called, so a crash or a
    /// timeout leaves a record that reconciliation settles.
    pub async fn initiate_payment(&self, s: &Session, req: InitiatePayment) -> AppResult<PaymentPrompt> {
        s.require_write()?;
        let mut f = Fields::new(&req.unknown);
        let customer_id = f.int("customer_id", &req.customer_id, 1, i64::MAX);
        let customer_id = f.required("customer_id", customer_id);
        let phone = f.parsed("phone", &req.phone, Phone::parse).value();
        let amount = f.parsed("amount", &req.amount, Money::parse_major).value();
        let package_id = f.int("package_id", &req.package_id, 1, i64::MAX).value();
        f.finish()?;
        let Some(customer_id) = customer_id else {
            return Err(AppError::Internal("customer_id missing after validation".into()));
        };
        let customer = match self.store.get_customer(customer_id).await {
            Ok(c) => c,
            Err(StoreError::NotFound) => return Err(AppError::field("customer_id", "no such customer")),
            Err(e) => return Err(e.into()),
        };
        let Some(package_id) = package_id.or(customer.package_id) else {
            return Err(AppError::field("package_id", "the customer has no package; choose one"));
        };
        let package = match self.store.get_package(package_id).await {
            Ok(p) => p,
            Err(StoreError::NotFound) => return Err(AppError::field("package_id", "no such package")),
            Err(e) => return Err(e.into()),
        };
        let amount = amount.unwrap_or(package.price);
        if amount != package.price {
            return Err(AppError::field(
                "amount",
                format!("the {} package costs {}; a payment renews one package period", package.name, package.price),
            ));
        }
        if amount.minor() < 100 || amount.minor() % 100 != 0 {
            return Err(AppError::field("amount", "mobile money takes whole amounts of at least 1"));
        }
        let phone = phone.unwrap_or_else(|| customer.phone.clone());
        let now = self.now();
        // Debounce: one open prompt per customer (M-Pesa refuses a second one with
        // "unable to lock subscriber", and the same amount within 2 minutes with 17).
        let open = self
            .store
            .list_payments(&PaymentQuery {
                customer_id: Some(customer.id),
                status: Some(PaymentStatus::Pending),
                page: 1,
                per_page: 5,
                ..Default::default()
            })
            .await?;
        if let Some(p) = open.items.iter().find(|p| {
            matches!(p.provider, PaymentProvider::Mpesa | PaymentProvider::Airtel)
                && now - p.created_at < Duration::seconds(RECONCILE_AFTER_SECS)
        }) {
            return Err(AppError::InUse(format!(
                "payment {} was sent to this customer {} seconds ago and is still pending; wait for it to finish",
                p.id,
                (now - p.created_at).num_seconds()
            )));
        }
        let provider = self.active_provider().await?;
        let currency = match provider {
            PaymentProvider::Airtel => self.airtel().await?.1.currency,
            _ => "KES".to_string(),
        };
        // Settings are checked before anything is stored.
        let daraja = match provider {
            PaymentProvider::Mpesa => Some(self.daraja().await?),
            _ => None,
        };
        let airtel = match provider {
            PaymentProvider::Airtel => Some(self.airtel().await?.0),
            _ => None,
        };
        let reference: String = customer.username.as_str().chars().take(12).collect();
        let payment = self
            .store
            .create_payment(NewPayment {
                customer_id: customer.id,
                package_id: package.id,
                provider,
                amount,
                currency,
                phone: Some(phone.clone()),
                checkout_request_id: None,
                merchant_request_id: None,
                account_reference: Some(reference.clone()),
                initiated_by_admin_id: Some(s.admin.id),
                created_at: now,
            })
            .await?;
        let whole = u64::try_from(amount.minor() / 100).unwrap_or(0);
        let pushed = match (daraja, airtel) {
            (Some((client, settings)), _) => {
                let t = self.callback_token();
                let callback_url =
                    format!("{}/api/payments/cb/stk/{t}", self.callback_base(settings.callback_url.as_deref()));
                let req = StkPush {
                    phone: phone.as_str().to_string(),
                    amount: whole,
                    account_reference: reference,
                    description: "Internet".into(),
                    callback_url,
                };
                match client.stk_push(&req).await {
                    Ok(ok) => {
                        self.store
                            .set_payment_checkout(
                                payment.id,
                                &ok.checkout_request_id,
                                Some(&ok.merchant_request_id),
                                self.now(),
                            )
                            .await?;
                        Ok(ok.customer_message)
                    }
                    Err(e) => Err(e),
                }
            }
            (None, Some(client)) => {
                let id = format!("BN{}{:06x}", payment.id, rand::random::<u32>() & 0xff_ffff);
                // Stored first: Airtel's callback names only this id.
                self.store.set_payment_checkout(payment.id, &id, None, now).await?;
                let req = broadnet_providers::airtel::UssdPush {
                    id,
                    msisdn: phone.as_str().to_string(),
                    amount: whole,
                    reference: format!("Internet {}", customer.username),
                };
                client.ussd_push(&req).await.map(|()| "Enter your Airtel Money PIN on your phone".to_string())
            }
            _ => return Err(AppError::Internal(format!("no client for {provider}"))),
        };
        match pushed {
            Ok(message) => {
                tracing::info!(admin = %s.admin.username, user = %customer.username, payment = payment.id, %provider, "payment prompt sent");
                let payment = self.store.get_payment(payment.id).await?;
                Ok(PaymentPrompt { payment, message })
            }
            Err(e) if e.is_ambiguous() => {
                // The prompt may have gone out: keep it pending for reconciliation.
                tracing::warn!(payment = payment.id, error = %e, "payment prompt outcome unknown; will reconcile");
                let payment = self.store.get_payment(payment.id).await?;
                Ok(PaymentPrompt {
                    payment,
                    message: format!(
                        "the provider did not answer clearly ({e}); the payment stays pending and is checked again in 2 minutes"
                    ),
                })
            }
            Err(e) => {
                let (code, desc) = provider_error(&e);
                self.store.close_payment(payment.id, PaymentStatus::Failed, &code, &desc, self.now()).await?;
                tracing::warn!(payment = payment.id, %code, %desc, "payment prompt refused by the provider");
                Err(AppError::Upstream(format!("{provider} refused the payment request: {desc} ({code})")))
            }
        }
    }

    pub async fn get_payment_detail(&self, id: i64) -> AppResult<PaymentDetail> {
        let payment = self.store.get_payment(id).await.map_err(AppError::from_store("payment"))?;
        let invoice = match self.store.get_invoice_for_payment(id).await {
            Ok(i) => Some(i),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(PaymentDetail { payment, invoice })
    }

    /// A payment did not go through: the customer is told (through the outbox).
    pub(crate) async fn payment_failed(&self, payment: &Payment) -> AppResult<()> {
        self.store
            .enqueue(NewOutbox {
                kind: "payment.failed".into(),
                payload: json!({"payment_id": payment.id}),
                dedupe_key: Some(format!("payment.failed:{}", payment.id)),
                at: self.now(),
            })
            .await?;
        self.wake_outbox();
        Ok(())
    }

    /// Airtel's callback (reference §5): `transaction.id` must be one we started. With
    /// callback authentication on, the hash must verify; without it, success is
    /// confirmed with a transaction enquiry before anything is credited.
    pub async fn airtel_callback(&self, raw: &[u8], path: CallbackPath) -> AppResult<AirtelAck> {
        let cb = AirtelCallback::parse(raw).map_err(|e| AppError::field("body", e.to_string()))?;
        let body = Evidence::airtel(&cb, raw);
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let id = text(&Some(cb.id.clone())).ok_or_else(|| AppError::field("transaction.id", "missing"))?;
        let status = cb.status_code.to_uppercase();
        let ack = AirtelAck { status: "received" };
        if let Some(key) = self.gateway.env.airtel.callback_key.as_deref().filter(|k| !k.is_empty()) {
            let signed = cb.hash.is_some();
            if !signed || !broadnet_providers::airtel::Airtel::verify_callback_hash(key, raw) {
                self.flag_callback("airtel", "callback hash missing or wrong", &body, path).await?;
                return Ok(ack);
            }
        }
        let payment = match self.store.find_payment_by_checkout(&id).await {
            Ok(p) if p.provider == PaymentProvider::Airtel => p,
            Ok(_) | Err(StoreError::NotFound) => {
                self.flag_callback("airtel", "no Airtel payment was started with this transaction id", &body, path)
                    .await?;
                return Ok(ack);
            }
            Err(e) => return Err(e.into()),
        };
        let signed = self.gateway.env.airtel.callback_key.as_deref().is_some_and(|k| !k.is_empty());
        match status.as_str() {
            "TS" if signed => {
                let receipt = text(&cb.airtel_money_id).unwrap_or_else(|| id.clone());
                self.complete_from_provider(&payment, receipt, "Transaction Success".into(), "airtel", &body, false)
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
                let desc = text(&cb.message).unwrap_or_else(|| "Transaction Failed".into());
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

    /// Completes a payment from a provider's word and records anything odd. With
    /// `close_on_refusal` (the provider's own status answer, not a callback anyone could
    /// send), a payment that cannot be applied is closed for an admin instead of being
    /// asked about again and again.
    pub(crate) async fn complete_from_provider(
        &self,
        payment: &Payment,
        receipt: String,
        desc: String,
        provider: &str,
        evidence: &Evidence,
        close_on_refusal: bool,
    ) -> AppResult<()> {
        let completion = Completion {
            payment_id: payment.id,
            provider_receipt: receipt,
            amount: payment.amount,
            phone: None,
            result_desc: desc,
            at: self.now(),
            provider_confirmed: close_on_refusal,
        };
        match self.store.complete_payment(completion).await {
            Ok(CompleteOutcome::Completed { invoice_number, expires_at, .. }) => {
                tracing::info!(payment = payment.id, invoice = %invoice_number, %expires_at, %provider, "payment completed, customer renewed");
                self.wake_outbox();
            }
            Ok(CompleteOutcome::AlreadyCompleted { .. }) => {
                tracing::info!(payment = payment.id, %provider, "payment already completed");
            }
            Ok(CompleteOutcome::Refused { reason, .. }) => {
                self.flag_callback(provider, &reason, evidence, CallbackPath::Secret).await?;
                if close_on_refusal {
                    let desc = format!("paid, but not applied: {reason}; see the audit log");
                    self.store.close_payment(payment.id, PaymentStatus::Failed, "refused", &desc, self.now()).await?;
                }
            }
            Err(StoreError::Conflict(_)) => {
                self.flag_callback(provider, "receipt already used by another payment", evidence, CallbackPath::Secret)
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    async fn reconcile_airtel(&self, payment: &Payment) -> AppResult<()> {
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
        if let Some(trans) = payment.checkout_request_id.as_deref().and_then(|c| c.strip_prefix("C2B-")) {
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

    /// Asks the provider about every payment pending for more than 2 minutes.
    /// Returns how many were looked at.
    pub async fn run_reconciliation(&self) -> AppResult<usize> {
        let before = self.now() - Duration::seconds(RECONCILE_AFTER_SECS);
        let pending = self.store.pending_payments(before, 200).await?;
        for p in &pending {
            let r = match p.provider {
                PaymentProvider::Mpesa => self.reconcile_mpesa(p).await,
                PaymentProvider::Airtel => self.reconcile_airtel(p).await,
                _ => Ok(()),
            };
            if let Err(e) = r {
                tracing::warn!(payment = p.id, error = %e, "reconciliation failed; will try again");
            }
        }
        Ok(pending.len())
    }

    /// Registers the C2B confirmation and validation URLs with Safaricom.
    pub async fn register_c2b_urls(&self, s: &Session) -> AppResult<C2bRegistration> {
        s.require_superadmin()?;
        let urls = self.callback_urls().await?;
        let (client, _) = self.daraja().await?;
        let (confirmation, validation) = (urls.c2b_confirmation, urls.c2b_validation);
        client
            .register_c2b_urls(&confirmation, &validation)
            .await
            .map_err(|e| AppError::Upstream(format!("Safaricom refused the URLs: {e}")))?;
        tracing::info!(admin = %s.admin.username, "C2B URLs registered");
        Ok(C2bRegistration { registered: true, confirmation_url: confirmation, validation_url: validation })
    }
}
