//! M-Pesa's callbacks: the STK push result and the paybill (C2B) validation and
//! confirmation. A callback is never trusted alone: it must match a payment we started
//! (by CheckoutRequestID, amount and phone); unmatched or inconsistent ones are
//! recorded for review and change nothing.

use crate::callbacks::{CallbackPath, Evidence};
use crate::reconcile::closing_status;
use crate::{App, AppError, AppResult};
use broadnet_domain::{Money, PaymentStatus, Phone};
use broadnet_providers::daraja::{C2bNotification, StkCallback};
use broadnet_store::{CompleteOutcome, Completion, StoreError};
use serde_json::json;

/// An STK push result as checked after the provider parser read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkResult {
    pub checkout_request_id: String,
    pub result_code: String,
    pub result_desc: String,
    pub amount: Option<Money>,
    pub receipt: Option<String>,
    pub phone: Option<Phone>,
}

/// Checks an STK callback as the provider parser read it: an id, a result code no
/// longer than Daraja's (numeric ones compared as numbers), and what a success carries
/// (amount, receipt, phone) where each is well-formed.
fn stk_result(cb: StkCallback) -> Result<StkResult, String> {
    let checkout_request_id = cb.checkout_request_id.trim().to_string();
    if checkout_request_id.is_empty() {
        return Err("no CheckoutRequestID".into());
    }
    let result_code = cb.result_code.trim().to_string();
    if result_code.chars().count() > 16 {
        return Err("ResultCode longer than any Daraja code".into());
    }
    // Numeric codes in any spelling ("00", "0.0" is not one) compare as numbers.
    let result_code = match result_code.parse::<i64>() {
        Ok(n) => n.to_string(),
        Err(_) => result_code,
    };
    Ok(StkResult {
        checkout_request_id,
        result_code,
        result_desc: cb.result_desc.trim().to_string(),
        // Amounts come as numbers (`1500`, `1500.00`) or strings; kept in minor units.
        amount: cb.amount.as_deref().and_then(|a| Money::parse_major(a.trim()).ok()),
        // Receipts are 10 characters; anything past the column's 64 is not one.
        receipt: cb.receipt.map(|r| r.trim().to_string()).filter(|r| !r.is_empty() && r.len() <= 64),
        phone: cb.phone.and_then(|p| Phone::parse(p.trim()).ok()),
    })
}

impl App {
    /// The STK callback at its secret path.
    pub async fn mpesa_stk_callback_at(&self, token: &str, raw: &[u8]) -> AppResult<DarajaAck> {
        self.check_callback_token(token)?;
        self.mpesa_stk_callback(raw, CallbackPath::Secret).await
    }

    /// The seed's plain path: see [`App::plain_callbacks_allowed`].
    pub async fn mpesa_stk_callback_plain(&self, raw: &[u8]) -> AppResult<DarajaAck> {
        if !self.plain_callbacks_allowed() {
            return Err(AppError::NotFound("page"));
        }
        self.mpesa_stk_callback(raw, CallbackPath::Plain).await
    }

    /// Handles an M-Pesa STK callback. Only malformed bodies are errors; anything
    /// that parses is acknowledged (Safaricom must not retry forever) and either
    /// applied or recorded for review.
    ///
    /// STK callbacks are not signed, so a callback's word alone never closes a payment
    /// (a forged "cancelled" would make the customer's real payment be refused) and
    /// never completes one unless it arrived at the secret path carrying the receipt,
    /// amount and phone of the payment we started. Everything else is confirmed with
    /// the STK query first.
    async fn mpesa_stk_callback(&self, raw: &[u8], path: CallbackPath) -> AppResult<DarajaAck> {
        let cb = StkCallback::parse(raw).map_err(|e| AppError::field("Body.stkCallback", e.to_string()))?;
        let evidence = Evidence::stk(&cb, raw);
        let r = stk_result(cb).map_err(|e| AppError::field("Body.stkCallback", e))?;
        let mut found = self.store.find_payment_by_checkout(&r.checkout_request_id).await;
        if matches!(found, Err(StoreError::NotFound)) {
            // A callback can beat the push's own answer to the database by a moment.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            found = self.store.find_payment_by_checkout(&r.checkout_request_id).await;
        }
        let payment = match found {
            Ok(p) if p.provider == broadnet_domain::PaymentProvider::Mpesa => p,
            Ok(_) | Err(StoreError::NotFound) => {
                self.flag_callback("mpesa", "no payment was started with this CheckoutRequestID", &evidence, path)
                    .await?;
                return Ok(accepted());
            }
            Err(e) => return Err(e.into()),
        };
        if r.result_code != "0" {
            if payment.status == PaymentStatus::Pending {
                tracing::info!(payment = payment.id, code = %r.result_code, "M-Pesa says not paid; asking the STK query before closing");
                self.confirm_stk(&payment, None, &evidence).await?;
            }
            return Ok(accepted());
        }
        // What a genuine success carries (Daraja §4.2): receipt, amount and phone.
        let complete = match (&r.receipt, r.amount, &r.phone, &payment.phone) {
            (Some(receipt), Some(amount), Some(paid), Some(asked)) if paid == asked => Some((receipt.clone(), amount)),
            (Some(receipt), Some(amount), Some(_), None) => Some((receipt.clone(), amount)),
            _ => None,
        };
        let trusted = path == CallbackPath::Secret && complete.is_some();
        let open = payment.status == PaymentStatus::Pending
            || payment.status == PaymentStatus::Completed
            || payment.result_code.as_deref() == Some(crate::reconcile::NO_ANSWER);
        let (Some((receipt, amount)), true, true) = (complete.clone(), trusted, open) else {
            // Unsigned and incomplete, from the plain path, or a success for a payment
            // already closed as failed: Daraja's own answer decides.
            if payment.status == PaymentStatus::Completed {
                return Ok(accepted());
            }
            let keep_receipt = if trusted { complete.map(|(receipt, _)| receipt) } else { None };
            self.confirm_stk(&payment, keep_receipt, &evidence).await?;
            return Ok(accepted());
        };
        let completion = Completion {
            payment_id: payment.id,
            provider_receipt: receipt,
            amount,
            phone: r.phone,
            result_desc: r.result_desc.clone(),
            at: self.now(),
            provider_confirmed: false,
        };
        match self.store.complete_payment(completion).await {
            Ok(CompleteOutcome::Completed { invoice_number, expires_at, .. }) => {
                tracing::info!(payment = payment.id, invoice = %invoice_number, ?expires_at, "M-Pesa payment completed, customer renewed");
                self.wake_outbox();
            }
            Ok(CompleteOutcome::AlreadyCompleted { .. }) => {
                tracing::info!(payment = payment.id, "duplicate M-Pesa callback ignored");
            }
            Ok(CompleteOutcome::Refused { reason, .. }) => {
                self.flag_callback("mpesa", &reason, &evidence, path).await?
            }
            Err(StoreError::Conflict(_)) => {
                self.flag_callback("mpesa", "receipt already used by another payment", &evidence, path).await?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(accepted())
    }

    /// Asks Daraja's STK query what became of `payment` and acts on its answer: paid
    /// completes it (with the callback's receipt when that callback is trusted, else a
    /// stand-in the real callback replaces later), not paid closes it, no answer yet
    /// leaves it to reconciliation.
    async fn confirm_stk(
        &self,
        payment: &broadnet_store::Payment,
        receipt: Option<String>,
        callback: &Evidence,
    ) -> AppResult<()> {
        let Some(checkout) = payment.checkout_request_id.clone() else { return Ok(()) };
        if !self.query_gate.may_ask(payment.id, self.now()) {
            tracing::debug!(payment = payment.id, "asked M-Pesa about this payment moments ago; not again yet");
            return Ok(());
        }
        let Some(_permit) = self.enquiry_permit().await else {
            tracing::warn!(payment = payment.id, "too many provider queries at once; reconciliation will ask later");
            return Ok(());
        };
        let client = match self.daraja().await {
            Ok((client, _)) => client,
            Err(e) => {
                tracing::warn!(payment = payment.id, error = %e, "cannot ask M-Pesa (settings); reconciliation asks again");
                return Ok(());
            }
        };
        match client.stk_query(&checkout).await {
            Ok(broadnet_providers::daraja::StkQuery::Done { result_code, result_desc }) if result_code == "0" => {
                let receipt = receipt.unwrap_or_else(|| format!("Q-{checkout}"));
                let evidence = Evidence::query(json!({"stk_query": {"CheckoutRequestID": checkout, "ResultCode": "0"},
                    "callback": callback.ids}));
                self.complete_from_provider(payment, receipt, result_desc, "mpesa", &evidence, true).await
            }
            Ok(broadnet_providers::daraja::StkQuery::Done { result_code, result_desc }) => {
                let st = closing_status(&result_code);
                let closed = self.store.close_payment(payment.id, st, &result_code, &result_desc, self.now()).await?;
                tracing::info!(payment = payment.id, code = %result_code, status = %closed.status, "M-Pesa payment not completed");
                if closed.status == st && closed.result_code.as_deref() == Some(result_code.as_str()) {
                    self.payment_failed(&closed).await?;
                }
                Ok(())
            }
            Ok(broadnet_providers::daraja::StkQuery::Pending) => {
                tracing::info!(payment = payment.id, "STK query: still being processed; reconciliation asks again");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(payment = payment.id, error = %e, "STK query failed; reconciliation asks again");
                Ok(())
            }
        }
    }
}

/// A C2B (paybill) notification (Daraja §7.2); the same shape for validation and confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2bNotice {
    pub trans_id: String,
    pub amount: Money,
    pub account: String,
    /// As Daraja sends it (v2 masks the middle digits: `2547 ***** 126`).
    pub phone: Option<String>,
    /// First, middle and last name, as far as given.
    pub payer_name: Option<String>,
}

/// Checks a paybill notification as the provider parser read it.
fn c2b_notice(n: &C2bNotification) -> Result<C2bNotice, String> {
    let trans_id = Some(n.trans_id.trim().to_string()).filter(|s| !s.is_empty()).ok_or("no TransID")?;
    if trans_id.len() > 60 {
        return Err("TransID longer than any M-Pesa transaction id".into());
    }
    if !trans_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("TransID may contain only letters and digits".into());
    }
    let amount = Money::parse_major(n.trans_amount.trim()).map_err(|_| "no valid TransAmount")?;
    let account = n.bill_ref_number.trim().to_string();
    // Kept for the unmatched queue, as one clean line each.
    let clean = |s: &str| -> Option<String> {
        let s: String = s.chars().filter(|c| !c.is_control()).take(64).collect::<String>().trim().to_string();
        Some(s).filter(|s| !s.is_empty())
    };
    let name = [&n.first_name, &n.middle_name, &n.last_name]
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(C2bNotice { trans_id, amount, account, phone: clean(&n.msisdn), payer_name: clean(&name) })
}

/// Why a C2B payment cannot be applied automatically, with Daraja's reject code.
enum C2bCheck {
    Ok { customer: Box<broadnet_store::Customer>, package: Box<broadnet_store::Package> },
    Refuse { code: &'static str, reason: String },
}

impl App {
    async fn c2b_check(&self, n: &C2bNotice) -> AppResult<C2bCheck> {
        // Typed by hand on a phone: trimmed, any case (usernames are unique regardless
        // of case, so this names one customer).
        let found = self.store.get_customer_by_username(n.account.trim()).await;
        let customer = match found {
            Ok(c) => c,
            Err(StoreError::NotFound) => {
                return Ok(C2bCheck::Refuse {
                    code: "C2B00012",
                    reason: format!("no customer with account {:?}", n.account),
                });
            }
            Err(e) => return Err(e.into()),
        };
        if matches!(
            customer.status,
            broadnet_domain::CustomerStatus::Suspended | broadnet_domain::CustomerStatus::Disabled
        ) {
            return Ok(C2bCheck::Refuse {
                code: "C2B00012",
                reason: format!("customer {} is {}; an admin must reinstate them", customer.username, customer.status),
            });
        }
        let Some(pid) = customer.package_id else {
            return Ok(C2bCheck::Refuse {
                code: "C2B00012",
                reason: format!("customer {} has no package", customer.username),
            });
        };
        let package = self.store.get_package(pid).await.map_err(AppError::from_store("package"))?;
        // Any amount is accepted for a customer we know: whole periods renew and the
        // rest is kept as credit (rule 6).
        Ok(C2bCheck::Ok { customer: Box::new(customer), package: Box::new(package) })
    }

    /// Validation (only if Safaricom enabled External Validation): refuse what we
    /// could not apply, before the customer's money moves.
    pub async fn mpesa_c2b_validate(&self, token: &str, raw: &[u8]) -> AppResult<C2bValidation> {
        self.check_callback_token(token)?;
        let parsed = C2bNotification::parse(raw).map_err(|e| AppError::field("body", e.to_string()))?;
        let n = c2b_notice(&parsed).map_err(|e| AppError::field("body", e))?;
        Ok(match self.c2b_check(&n).await? {
            C2bCheck::Ok { .. } => C2bValidation { result_code: "0", result_desc: "Accepted" },
            C2bCheck::Refuse { code, reason } => {
                tracing::info!(%reason, "C2B payment refused at validation");
                C2bValidation { result_code: code, result_desc: "Rejected" }
            }
        })
    }

    /// Confirmation: the money has moved. A matching payment renews the customer
    /// exactly once (TransID is the key); anything else is recorded for an admin.
    pub async fn mpesa_c2b_confirm(&self, token: &str, raw: &[u8]) -> AppResult<DarajaAck> {
        self.check_callback_token(token)?;
        let parsed = C2bNotification::parse(raw).map_err(|e| AppError::field("body", e.to_string()))?;
        let n = c2b_notice(&parsed).map_err(|e| AppError::field("body", e))?;
        let evidence = Evidence::c2b(&parsed, raw);
        let ack = DarajaAck { result_code: 0, result_desc: "Success" };
        if self.store.find_payment_by_receipt(&n.trans_id).await.is_ok() {
            tracing::info!(receipt = ?n.trans_id, "duplicate C2B confirmation ignored");
            return Ok(ack);
        }
        // A confirmation recorded before a crash, not yet applied: apply it now.
        if let Ok(p) = self.store.find_payment_by_checkout(&c2b_key(&n.trans_id)).await {
            let receipt = n.trans_id.clone();
            self.complete_from_provider(&p, receipt, "C2B payment confirmed".into(), "mpesa-c2b", &evidence, false)
                .await?;
            return Ok(ack);
        }
        let (customer, package) = match self.c2b_check(&n).await? {
            C2bCheck::Ok { customer, package } => (customer, package),
            C2bCheck::Refuse { reason, .. } => {
                // The money has moved: it waits in the unmatched queue for an admin
                // (or for the payer to claim it by its code), never only in a log.
                if self.store.find_unmatched_by_receipt(&n.trans_id).await.is_err() {
                    self.queue_unmatched(broadnet_store::NewUnmatched {
                        provider: broadnet_domain::PaymentProvider::Mpesa,
                        receipt: n.trans_id.clone(),
                        amount: n.amount,
                        phone: n.phone.clone(),
                        payer_name: n.payer_name.clone(),
                        account_reference: Some(n.account.clone()).filter(|a| !a.is_empty()),
                        reason,
                        payment_id: None,
                        at: self.now(),
                    })
                    .await?;
                }
                return Ok(ack);
            }
        };
        let now = self.now();
        let created = self
            .store
            .create_payment(broadnet_store::NewPayment {
                customer_id: customer.id,
                package_id: package.id,
                provider: broadnet_domain::PaymentProvider::Mpesa,
                amount: n.amount,
                currency: "KES".into(),
                phone: None, // C2B v2 masks the payer's number
                // The TransID from the start: if we crash before completing, the row says
                // which money it was, and reconciliation applies it.
                checkout_request_id: Some(c2b_key(&n.trans_id)),
                merchant_request_id: None,
                account_reference: Some(n.account.trim().chars().take(64).collect()),
                initiated_by_admin_id: None,
                created_at: now,
            })
            .await;
        let payment = match created {
            Ok(p) => p,
            // The same TransID confirmed twice at once: the other confirmation applies it.
            Err(StoreError::Conflict(_)) => return Ok(ack),
            Err(e) => return Err(e.into()),
        };
        let completion = Completion {
            payment_id: payment.id,
            provider_receipt: n.trans_id.clone(),
            amount: n.amount,
            phone: None,
            result_desc: "C2B payment confirmed".into(),
            at: now,
            provider_confirmed: false,
        };
        match self.store.complete_payment(completion).await {
            Ok(CompleteOutcome::Completed { invoice_number, .. }) => {
                tracing::info!(user = %customer.username, invoice = %invoice_number, "C2B payment completed, customer renewed");
                self.wake_outbox();
            }
            Ok(other) => tracing::warn!(outcome = ?other, "C2B payment not completed"),
            // The same TransID confirmed twice at once: the other one applied it.
            Err(StoreError::Conflict(_)) => {
                self.store
                    .close_payment(
                        payment.id,
                        PaymentStatus::Failed,
                        "duplicate",
                        "duplicate confirmation of an applied TransID",
                        now,
                    )
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(ack)
    }
}

/// The checkout key of a C2B payment row.
pub(crate) fn c2b_key(trans_id: &str) -> String {
    format!("{}{trans_id}", broadnet_domain::PaymentChannel::PAYBILL_KEY_PREFIX)
}

/// What Daraja expects back from a callback (`{"ResultCode": 0, "ResultDesc": "Accepted"}`):
/// received, whatever we made of it, so it does not send it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DarajaAck {
    #[serde(rename = "ResultCode")]
    pub result_code: u8,
    #[serde(rename = "ResultDesc")]
    pub result_desc: &'static str,
}

/// What Daraja expects back from C2B validation: `"0"` to accept the payment, or a
/// `C2B000xx` code to refuse it before the customer's money moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct C2bValidation {
    #[serde(rename = "ResultCode")]
    pub result_code: &'static str,
    #[serde(rename = "ResultDesc")]
    pub result_desc: &'static str,
}

fn accepted() -> DarajaAck {
    DarajaAck { result_code: 0, result_desc: "Accepted" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The provider's parser, then our checks: what a callback goes through.
    fn parse_stk_callback(body: &Value) -> Result<StkResult, String> {
        StkCallback::parse(body.to_string().as_bytes()).map_err(|e| e.to_string()).and_then(stk_result)
    }

    #[test]
    fn numeric_result_codes_compare_as_numbers() {
        let cb = |code: Value| json!({"Body": {"stkCallback": {"CheckoutRequestID": "x", "ResultCode": code}}});
        assert_eq!(parse_stk_callback(&cb(json!("00"))).unwrap().result_code, "0");
        assert_eq!(parse_stk_callback(&cb(json!(" 1032"))).unwrap().result_code, "1032");
        assert_eq!(parse_stk_callback(&cb(json!("SFC_IC0003"))).unwrap().result_code, "SFC_IC0003");
    }

    #[test]
    fn reads_the_reference_callbacks() {
        let ok = json!({"Body": {"stkCallback": {
            "MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_191220191020363925",
            "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {"Item": [
                {"Name": "Amount", "Value": 1500.00}, {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                {"Name": "Balance"}, {"Name": "TransactionDate", "Value": 20250301143027u64},
                {"Name": "PhoneNumber", "Value": 254708374149u64}]}}}});
        let r = parse_stk_callback(&ok).unwrap();
        assert_eq!(r.result_code, "0");
        assert_eq!(r.amount, Some(Money::from_minor(150_000).unwrap()));
        assert_eq!(r.receipt.as_deref(), Some("NLJ7RT61SV"));
        assert_eq!(r.phone.map(String::from).as_deref(), Some("254708374149"));
        // Items in another order, amount as a string, code as a string.
        let shuffled = json!({"Body": {"stkCallback": {"CheckoutRequestID": "x", "ResultCode": "0",
            "CallbackMetadata": {"Item": [{"Name": "PhoneNumber", "Value": "254708374149"},
                {"Name": "MpesaReceiptNumber", "Value": "AB12"}, {"Name": "Amount", "Value": "1"}]}}}});
        assert_eq!(parse_stk_callback(&shuffled).unwrap().amount, Some(Money::from_minor(100).unwrap()));
        let cancel = json!({"Body": {"stkCallback": {"MerchantRequestID": "f1e2", "CheckoutRequestID": "ws_CO_2",
            "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}});
        let r = parse_stk_callback(&cancel).unwrap();
        assert_eq!((r.result_code.as_str(), r.receipt), ("1032", None));
        assert_eq!(closing_status("1032"), PaymentStatus::Cancelled);
        assert_eq!(closing_status("SFC_IC0003"), PaymentStatus::Failed);
        assert!(parse_stk_callback(&json!({"Body": {}})).is_err());
        assert!(parse_stk_callback(&json!({"Body": {"stkCallback": {"ResultCode": 0}}})).is_err());
    }
}
