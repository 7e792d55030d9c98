//! Collecting a payment: the admin's "Collect Payment" (STK push or Airtel USSD push),
//! cash at the counter, the payments list and a payment's detail, and registering the
//! paybill (C2B) URLs with Safaricom.

use crate::input::{Fields, Input, Unknown};
use crate::reconcile::RECONCILE_AFTER_SECS;
use crate::{App, AppError, AppResult, Session};
use broadnet_domain::{Money, PaymentProvider, PaymentStatus, Phone};
use broadnet_providers::ProviderError;
use broadnet_providers::daraja::StkPush;
use broadnet_store::{
    CompleteOutcome, Completion, Invoice, NewOutbox, NewPayment, Page, Payment, PaymentQuery, StoreError,
};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::json;

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
    /// The customer money is for, and the package it buys (theirs unless another is
    /// named, and one that serves their type), with field errors for the form.
    pub(crate) async fn payer(
        &self,
        customer_id: i64,
        package_id: Option<i64>,
    ) -> AppResult<(broadnet_store::Customer, broadnet_store::Package)> {
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
        if !package.service_type.serves(customer.customer_type) {
            let why = format!(
                "package {} is for {} customers, not {}",
                package.name, package.service_type, customer.customer_type
            );
            return Err(AppError::field("package_id", why));
        }
        Ok((customer, package))
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
        let (customer, package) = self.payer(customer_id, package_id).await?;
        // Another amount is allowed (rule 6): k × the price renews k periods, and
        // anything left over is kept as credit.
        let amount = amount.unwrap_or(package.price);
        if amount.minor() < 100 || amount.minor() % 100 != 0 {
            return Err(AppError::field("amount", "mobile money takes whole amounts of at least 1"));
        }
        let phone = phone.unwrap_or_else(|| customer.phone.clone());
        if let Some(p) = self.open_prompt(customer.id).await? {
            return Err(AppError::InUse(format!(
                "payment {} was sent to this customer {} seconds ago and is still pending; wait for it to finish",
                p.id,
                (self.now() - p.created_at).num_seconds()
            )));
        }
        self.send_prompt(&customer, &package, amount, phone, Some(s.admin.id), &s.admin.username).await
    }

    /// The customer's prompt still open (sent less than 2 minutes ago, no answer yet).
    /// One at a time: M-Pesa refuses a second one with "unable to lock subscriber", and
    /// the same amount within 2 minutes with 17.
    pub(crate) async fn open_prompt(&self, customer_id: i64) -> AppResult<Option<Payment>> {
        let now = self.now();
        let open = self
            .store
            .list_payments(&PaymentQuery {
                customer_id: Some(customer_id),
                status: Some(PaymentStatus::Pending),
                page: 1,
                per_page: 5,
                ..Default::default()
            })
            .await?;
        Ok(open.items.into_iter().find(|p| {
            matches!(p.provider, PaymentProvider::Mpesa | PaymentProvider::Airtel)
                && now - p.created_at < Duration::seconds(RECONCILE_AFTER_SECS)
        }))
    }

    /// Sends the active provider's prompt for `amount` to `phone`, for `customer` and
    /// `package`: the payment is stored as pending before the provider is called, so a
    /// crash or a timeout leaves a record that reconciliation settles. `by` names who
    /// asked, for the log (an admin, or the portal).
    pub(crate) async fn send_prompt(
        &self,
        customer: &broadnet_store::Customer,
        package: &broadnet_store::Package,
        amount: Money,
        phone: Phone,
        admin_id: Option<i64>,
        by: &str,
    ) -> AppResult<PaymentPrompt> {
        let now = self.now();
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
                initiated_by_admin_id: admin_id,
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
                tracing::info!(by, user = %customer.username, payment = payment.id, %provider, "payment prompt sent");
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
                kind: broadnet_store::OutboxKind::PaymentFailed,
                payload: json!({"payment_id": payment.id}),
                dedupe_key: Some(format!("payment.failed:{}", payment.id)),
                at: self.now(),
            })
            .await?;
        self.wake_outbox();
        Ok(())
    }

    /// Registers the C2B confirmation and validation URLs with Safaricom.
    pub async fn register_c2b_urls(&self, s: &Session) -> AppResult<C2bRegistration> {
        s.require_superadmin()?;
        let urls = self.callback_urls_unchecked().await?;
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

/// The payments list's query string: `customer_id`, `status`, `provider`, `from` and
/// `to` (days, `2026-11-27`, in the ISP's zone, both included), `page`, `per_page`,
/// as text until checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PaymentListQuery {
    pub customer_id: Option<String>,
    pub status: Option<String>,
    pub provider: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl PaymentListQuery {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut m = crate::sessions::last_of(pairs);
        PaymentListQuery {
            customer_id: m.remove("customer_id"),
            status: m.remove("status"),
            provider: m.remove("provider"),
            page: m.remove("page"),
            per_page: m.remove("per_page"),
            from: m.remove("from"),
            to: m.remove("to"),
        }
    }
}

/// The instant a day (`2026-11-27`) starts in `zone`.
fn day_start(day: &str, zone: chrono::FixedOffset) -> Option<chrono::DateTime<chrono::Utc>> {
    let d = chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok()?;
    let local = d.and_hms_opt(0, 0, 0)?.and_local_timezone(zone).single()?;
    Some(local.with_timezone(&chrono::Utc))
}

/// Cash taken at the counter for a customer: `amount` (the package's price) is
/// required; `package_id` defaults to the customer's package; `reference` (a receipt
/// book number, say) becomes the receipt, CASH-<id> otherwise.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CashPayment {
    pub amount: Input,
    pub package_id: Input,
    pub reference: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A recorded cash payment: the completed payment, its invoice and the new expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashReceipt {
    pub payment: Payment,
    pub invoice_number: String,
    /// The customer's expiry afterwards (unchanged when the amount bought no period).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What the money bought: periods, credit kept, what is still missing.
    pub applied: crate::billing::AppliedView,
}

impl App {
    pub async fn list_payments(&self, params: &PaymentListQuery) -> AppResult<Page<Payment>> {
        let mut q = broadnet_store::PaymentQuery { page: 1, per_page: 50, ..Default::default() };
        let mut errors = crate::FieldErrors::new();
        let mut bad = |k: &str, m: &str| errors.entry(k.to_string()).or_default().push(m.to_string());
        if let Some(v) = &params.customer_id {
            match v.parse() {
                Ok(n) => q.customer_id = Some(n),
                Err(_) => bad("customer_id", "must be a whole number"),
            }
        }
        if let Some(v) = &params.status {
            match PaymentStatus::parse(v) {
                Ok(s) => q.status = Some(s),
                Err(_) => bad("status", "must be pending, completed, failed, cancelled or expired"),
            }
        }
        if let Some(v) = &params.provider {
            match broadnet_domain::PaymentProvider::parse(v) {
                Ok(p) => q.provider = Some(p),
                Err(_) => bad("provider", "must be mpesa, airtel, cash or voucher"),
            }
        }
        crate::sessions::paging(&mut errors, &params.page, &params.per_page, (&mut q.page, &mut q.per_page));
        if params.from.is_some() || params.to.is_some() {
            let (zone, _) = self.local_zone().await?;
            let day = |errors: &mut crate::FieldErrors, k: &str, v: &Option<String>| {
                let v = v.as_deref()?;
                let t = day_start(v, zone);
                if t.is_none() {
                    errors.entry(k.to_string()).or_default().push("must be a date like 2026-11-27".to_string());
                }
                t
            };
            q.created_from = day(&mut errors, "from", &params.from);
            q.created_before = day(&mut errors, "to", &params.to).map(|t| t + Duration::days(1));
            if let (Some(a), Some(b)) = (q.created_from, q.created_before)
                && b <= a
            {
                errors.entry("to".into()).or_default().push("must not be before the first day".into());
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(self.store.list_payments(&q).await?)
    }

    /// Cash taken at the counter: recorded by an admin, completed through the same
    /// exactly-once path as M-Pesa (the receipt is the admin's reference or CASH-<id>).
    pub async fn record_cash_payment(
        &self,
        s: &crate::Session,
        customer_id: i64,
        req: CashPayment,
    ) -> AppResult<CashReceipt> {
        s.require_write()?;
        let mut f = Fields::new(&req.unknown);
        let amount = f.parsed("amount", &req.amount, Money::parse_major);
        let amount = f.required("amount", amount);
        let package_id = f.int("package_id", &req.package_id, 1, i64::MAX).value();
        let reference = f.text("reference", &req.reference, 64).value();
        f.finish()?;
        let Some(amount) = amount else { return Err(AppError::Internal("amount missing after validation".into())) };
        if amount.minor() <= 0 {
            return Err(AppError::field("amount", "must be more than 0; a free package needs no payment"));
        }
        let customer = self.store.get_customer(customer_id).await.map_err(AppError::from_store("customer"))?;
        let Some(package_id) = package_id.or(customer.package_id) else {
            return Err(AppError::field("package_id", "the customer has no package; give one"));
        };
        let package = match self.store.get_package(package_id).await {
            Ok(p) => p,
            Err(StoreError::NotFound) => return Err(AppError::field("package_id", "no such package")),
            Err(e) => return Err(e.into()),
        };
        // Any amount is kept (rule 6): whole periods renew, the rest is credit.
        let now = self.now();
        let payment = self
            .store
            .create_payment(broadnet_store::NewPayment {
                customer_id,
                package_id: package.id,
                provider: broadnet_domain::PaymentProvider::Cash,
                amount,
                currency: "KES".into(),
                phone: None,
                checkout_request_id: None,
                merchant_request_id: None,
                account_reference: reference.clone(),
                initiated_by_admin_id: Some(s.admin.id),
                created_at: now,
            })
            .await?;
        let receipt = reference.unwrap_or_else(|| format!("CASH-{}", payment.id));
        let completion = Completion {
            payment_id: payment.id,
            provider_receipt: receipt,
            amount,
            phone: None,
            result_desc: "cash received".into(),
            at: now,
            provider_confirmed: false,
        };
        match self.store.complete_payment(completion).await {
            Ok(CompleteOutcome::Completed { payment, invoice_number, expires_at, renewal }) => {
                tracing::info!(admin = %s.admin.username, user = %customer.username, invoice = %invoice_number, "cash payment recorded");
                self.wake_outbox();
                let applied = crate::billing::AppliedView::new(&renewal, expires_at);
                Ok(CashReceipt { payment, invoice_number, expires_at, applied })
            }
            Ok(other) => Err(AppError::Internal(format!("cash payment not completed: {other:?}"))),
            Err(StoreError::Conflict(_)) => {
                self.store
                    .close_payment(payment.id, PaymentStatus::Failed, "duplicate", "reference already used", now)
                    .await?;
                Err(AppError::Conflict { field: "reference".into() })
            }
            Err(e) => Err(e.into()),
        }
    }
}
