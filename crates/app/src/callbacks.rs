//! What every provider callback shares: where it arrived (secret or plain path),
//! recording one that was not applied (capped, rate-limited), completing a payment on
//! a provider's word, and bounding the status queries callbacks prompt.

use crate::{App, AppResult};
use broadnet_domain::PaymentStatus;
use broadnet_providers::airtel::AirtelCallback;
use broadnet_providers::daraja::{C2bNotification, StkCallback};
use broadnet_store::{Actor, CompleteOutcome, Completion, Payment, StoreError};
use serde_json::{Value, json};

/// Where a callback arrived: at the per-install secret path, or at the seed's plain
/// path that anyone on the internet can post to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackPath {
    Secret,
    Plain,
}

impl App {
    /// Records a callback that was not applied, for an admin to see. Only what
    /// identifies it and a capped excerpt are kept, and at most a bounded number per
    /// minute, so strangers cannot fill the disk through an unauthenticated path.
    pub(crate) async fn flag_callback(
        &self,
        provider: &str,
        reason: &str,
        evidence: &Evidence,
        path: CallbackPath,
    ) -> AppResult<()> {
        let now = self.now();
        let Some(suppressed) = self.flag_limiter.admit(path, now) else {
            return Ok(());
        };
        tracing::warn!(%provider, reason = ?crate::fields::excerpt(reason, 200), "payment callback recorded, not applied");
        let actor = Actor::system(&format!("{provider}-callback"), now);
        let keep = if path == CallbackPath::Plain { PLAIN_EXCERPT } else { CALLBACK_EXCERPT };
        let mut detail = json!({
            "reason": crate::fields::excerpt(reason, 500),
            "ids": evidence.ids,
            "excerpt": crate::fields::excerpt(&evidence.text, keep),
        });
        if suppressed > 0 {
            detail["not_recorded_before_this"] = json!(suppressed);
        }
        self.store.record_event(&actor, "payment.callback_flagged", "payment", None, detail).await?;
        Ok(())
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
            provider_receipt: receipt.clone(),
            amount: payment.amount,
            phone: None,
            result_desc: desc,
            at: self.now(),
            provider_confirmed: close_on_refusal,
        };
        match self.store.complete_payment(completion).await {
            Ok(CompleteOutcome::Completed { invoice_number, expires_at, .. }) => {
                tracing::info!(payment = payment.id, invoice = %invoice_number, ?expires_at, %provider, "payment completed, customer renewed");
                self.wake_outbox();
            }
            Ok(CompleteOutcome::AlreadyCompleted { .. }) => {
                tracing::info!(payment = payment.id, %provider, "payment already completed");
            }
            Ok(CompleteOutcome::Refused { reason, .. }) => {
                self.flag_callback(provider, &reason, evidence, CallbackPath::Secret).await?;
                if close_on_refusal {
                    // The provider says the money moved: it waits in the unmatched
                    // queue for an admin (rule 6), never only in a log.
                    let desc = format!("paid, but not applied: {reason}; see unmatched payments");
                    self.store.close_payment(payment.id, PaymentStatus::Failed, "refused", &desc, self.now()).await?;
                    self.queue_refused_success(payment, &receipt, payment.amount, &reason).await?;
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

    /// A slot for one outbound status query prompted by a callback: a flood of
    /// callbacks must not become a flood of requests to the provider. `None` after a
    /// short wait; the payment is then left for reconciliation.
    pub(crate) async fn enquiry_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let wait = tokio::time::timeout(std::time::Duration::from_secs(5), self.enquiries.clone().acquire_owned());
        wait.await.ok().and_then(Result::ok)
    }
}

/// Bounds how many flagged callbacks are written to the audit log per minute (per
/// node): enough for every genuine oddity, too few for a stranger to fill the disk.
/// The plain path (anyone) and the secret paths (Safaricom, Airtel) count apart, so
/// junk on the open path never crowds out a real payment that needs an admin.
pub struct FlagLimiter {
    plain: std::sync::Mutex<FlagWindow>,
    secret: std::sync::Mutex<FlagWindow>,
}

struct FlagWindow {
    per_minute: u32,
    start: chrono::DateTime<chrono::Utc>,
    count: u32,
    /// Not recorded since the last one recorded.
    dropped: u64,
    /// Not recorded in this window (for the one warning per window).
    dropped_here: u64,
}

impl FlagWindow {
    fn new(per_minute: u32) -> Self {
        FlagWindow {
            per_minute,
            start: chrono::DateTime::<chrono::Utc>::MIN_UTC,
            count: 0,
            dropped: 0,
            dropped_here: 0,
        }
    }
}

impl FlagLimiter {
    pub fn new(plain_per_minute: u32, secret_per_minute: u32) -> Self {
        FlagLimiter {
            plain: std::sync::Mutex::new(FlagWindow::new(plain_per_minute)),
            secret: std::sync::Mutex::new(FlagWindow::new(secret_per_minute)),
        }
    }

    /// `Some(n)` when this one may be recorded, `n` being how many were dropped since
    /// the last one recorded; `None` when the minute's allowance is used up.
    pub fn admit(&self, path: CallbackPath, now: chrono::DateTime<chrono::Utc>) -> Option<u64> {
        let lock = if path == CallbackPath::Plain { &self.plain } else { &self.secret };
        let mut w = lock.lock().unwrap_or_else(|e| e.into_inner());
        if now >= w.start + chrono::Duration::minutes(1) || now < w.start {
            if w.dropped_here > 0 {
                tracing::warn!(
                    ?path,
                    not_recorded = w.dropped_here,
                    "unmatched payment callbacks over the limit were not recorded"
                );
            }
            w.start = now;
            w.count = 0;
            w.dropped_here = 0;
        }
        if w.count >= w.per_minute {
            w.dropped += 1;
            w.dropped_here += 1;
            if w.dropped_here == 1 {
                tracing::warn!(
                    ?path,
                    limit = w.per_minute,
                    "too many unmatched payment callbacks: recording at most this many a minute"
                );
            }
            return None;
        }
        w.count += 1;
        Some(std::mem::take(&mut w.dropped))
    }
}

/// At most one provider status query per payment every [`QueryGate::EVERY`], however
/// many callbacks (forged or repeated) ask for one: a stranger's flood of callbacks
/// must not become a flood of queries on the ISP's Daraja credentials.
#[derive(Default)]
pub struct QueryGate {
    asked: std::sync::Mutex<std::collections::HashMap<i64, chrono::DateTime<chrono::Utc>>>,
}

impl QueryGate {
    pub const EVERY: chrono::Duration = chrono::Duration::seconds(30);

    pub fn may_ask(&self, payment_id: i64, now: chrono::DateTime<chrono::Utc>) -> bool {
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        if asked.len() > 10_000 {
            asked.retain(|_, at| now < *at + Self::EVERY);
        }
        match asked.get(&payment_id) {
            Some(at) if now >= *at && now < *at + Self::EVERY => false,
            _ => {
                asked.insert(payment_id, now);
                true
            }
        }
    }
}

/// How much of a flagged callback body is kept in the audit log (bytes).
const CALLBACK_EXCERPT: usize = 2000;
/// The same from the plain path, which anyone can post to.
const PLAIN_EXCERPT: usize = 500;

/// What a callback or a provider's answer is recorded with when it is flagged: the
/// fields that identify it, each capped, and its text (cut to an excerpt when stored).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Evidence {
    pub(crate) ids: Value,
    text: String,
}

impl Evidence {
    fn of(fields: &[(&str, Option<&str>)], raw: &[u8]) -> Self {
        let mut ids = serde_json::Map::new();
        for (name, v) in fields {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                ids.insert((*name).to_string(), Value::String(crate::fields::excerpt(v, 64)));
            }
        }
        Evidence { ids: Value::Object(ids), text: String::from_utf8_lossy(raw).into_owned() }
    }

    pub(crate) fn stk(cb: &StkCallback, raw: &[u8]) -> Self {
        Evidence::of(
            &[
                ("CheckoutRequestID", Some(&cb.checkout_request_id)),
                ("MerchantRequestID", Some(&cb.merchant_request_id)),
                ("ResultCode", Some(&cb.result_code)),
                ("Amount", cb.amount.as_deref()),
                ("MpesaReceiptNumber", cb.receipt.as_deref()),
                ("PhoneNumber", cb.phone.as_deref()),
            ],
            raw,
        )
    }

    pub(crate) fn c2b(n: &C2bNotification, raw: &[u8]) -> Self {
        Evidence::of(
            &[
                ("TransID", Some(&n.trans_id)),
                ("TransAmount", Some(&n.trans_amount)),
                ("BillRefNumber", Some(&n.bill_ref_number)),
                ("MSISDN", Some(&n.msisdn)),
                ("FirstName", Some(&n.first_name)),
            ],
            raw,
        )
    }

    pub(crate) fn airtel(cb: &AirtelCallback, raw: &[u8]) -> Self {
        Evidence::of(
            &[
                ("transaction.id", Some(&cb.id)),
                ("transaction.status_code", Some(&cb.status_code)),
                ("transaction.airtel_money_id", cb.airtel_money_id.as_deref()),
            ],
            raw,
        )
    }

    /// What we built ourselves from a provider's status answer.
    pub(crate) fn query(v: Value) -> Self {
        Evidence { ids: identifying_fields(&v), text: v.to_string() }
    }
}

/// The fields that identify a status answer we recorded, each capped.
fn identifying_fields(body: &Value) -> Value {
    const PATHS: &[(&str, &str)] =
        &[("stk_query", "/stk_query"), ("enquiry", "/enquiry"), ("c2b_recovered", "/c2b_recovered")];
    let mut out = serde_json::Map::new();
    for (name, path) in PATHS {
        if let Some(v) = body.pointer(path) {
            let v = match v {
                Value::String(s) => Value::String(crate::fields::excerpt(s, 64)),
                Value::Number(_) | Value::Bool(_) => v.clone(),
                other => Value::String(crate::fields::excerpt(&other.to_string(), 200)),
            };
            out.insert((*name).to_string(), v);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_provider_query_per_payment_per_interval() {
        let g = QueryGate::default();
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(g.may_ask(1, t0));
        assert!(!g.may_ask(1, t0 + chrono::Duration::seconds(29)));
        assert!(g.may_ask(2, t0), "another payment");
        assert!(g.may_ask(1, t0 + chrono::Duration::seconds(30)));
    }

    #[test]
    fn flagged_callbacks_are_capped_per_minute_and_trimmed() {
        let l = FlagLimiter::new(3, 5);
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let plain = |t| l.admit(CallbackPath::Plain, t);
        assert_eq!((plain(t0), plain(t0), plain(t0)), (Some(0), Some(0), Some(0)));
        assert_eq!(plain(t0 + chrono::Duration::seconds(59)), None);
        assert_eq!(plain(t0 + chrono::Duration::seconds(59)), None);
        // Junk on the open path does not crowd out the secret path.
        assert_eq!(l.admit(CallbackPath::Secret, t0 + chrono::Duration::seconds(59)), Some(0));
        assert_eq!(plain(t0 + chrono::Duration::seconds(60)), Some(2), "says how many were dropped");
        let huge = json!({"Body": {"stkCallback": {"CheckoutRequestID": "A".repeat(10_000), "ResultCode": 0,
            "ResultDesc": "B".repeat(1_000_000)}}});
        let raw = huge.to_string();
        let ids = Evidence::stk(&StkCallback::parse(raw.as_bytes()).unwrap(), raw.as_bytes()).ids;
        assert!(ids["CheckoutRequestID"].as_str().unwrap().len() <= 67, "{ids}");
        assert!(ids.to_string().len() < 1000);
        // Capped in bytes: four-byte characters do not make a row four times larger.
        let emoji = crate::fields::excerpt(&"\u{1F600}".repeat(5000), 2000);
        assert!(emoji.len() <= 2003, "{}", emoji.len());
    }
}
