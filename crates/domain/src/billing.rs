//! The billing rules, as plain functions over values: what a payment buys, what stays
//! as credit, and when a customer has access. The store persists what these decide.

use crate::{CustomerStatus, Money, PaymentStatus, Phone};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The latest expiry we ever set: databases compare later dates wrongly, which would
/// make a paid customer look expired. Expiry dates typed by an admin are refused past
/// this year as well.
pub const LAST_YEAR: i32 = 2100;

/// 2100-12-31 23:59:59 UTC.
pub fn last_moment() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|d| d.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// More periods than anyone pays for at once (100 years of monthly packages); the
/// rest of a larger amount stays as credit.
const MAX_PERIODS: i64 = 1200;

/// What a payment (or the credit alone) does to a customer's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal {
    /// Whole package periods bought: `(credit + paid) / price`.
    pub periods: u32,
    /// The money those periods took (`periods × price`).
    pub applied: Money,
    /// What stays on the account as credit afterwards.
    pub balance_after: Money,
    /// How much more would buy one period, when nothing was bought.
    pub shortfall: Money,
    /// Where the new time starts: the later of now and the current expiry.
    pub from: DateTime<Utc>,
    /// The new expiry; `None` when no period was bought (the expiry is unchanged).
    pub until: Option<DateTime<Utc>>,
}

/// Applies `paid` on top of the customer's `balance` to a package of `price` and
/// `duration_minutes`: every whole period it buys extends the expiry (from the later
/// of now and the current expiry), and whatever is left is kept as credit. Nothing
/// paid is ever dropped. A free package (price 0) gets one period and keeps all the
/// money as credit.
pub fn apply_payment(
    balance: Money,
    paid: Money,
    price: Money,
    duration_minutes: i64,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Renewal {
    let available = balance.minor().saturating_add(paid.minor());
    let (periods, applied) = if price.minor() == 0 {
        (1, 0)
    } else {
        let k = (available / price.minor()).min(MAX_PERIODS);
        (k, k * price.minor())
    };
    let from = expires_at.filter(|e| *e > now).unwrap_or(now);
    let until = (periods > 0).then(|| extend(from, periods, duration_minutes));
    let shortfall = if periods == 0 { price.minor() - available } else { 0 };
    Renewal {
        periods: u32::try_from(periods).unwrap_or(0),
        applied: money(applied),
        balance_after: money(available - applied),
        shortfall: money(shortfall),
        from,
        until,
    }
}

/// At expiry, credit that covers the package pays the next period by itself (the
/// package may have become cheaper, or an admin may have credited the account).
pub fn renew_from_credit(
    balance: Money,
    price: Money,
    duration_minutes: i64,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Renewal> {
    if price.minor() == 0 || balance < price {
        return None;
    }
    Some(apply_payment(balance, Money::ZERO, price, duration_minutes, expires_at, now))
}

/// The status a customer has after a payment bought `periods`: paying ends an expiry
/// or the wait for a first payment, never an admin's suspension or disabling (those
/// customers are credited but stay as the admin left them).
pub fn status_after_payment(current: CustomerStatus, periods: u32) -> CustomerStatus {
    match current {
        CustomerStatus::Expired | CustomerStatus::AwaitingPayment if periods > 0 => CustomerStatus::Active,
        other => other,
    }
}

/// The status of a new customer. Access is given by paying, or by an admin's
/// explicit activation with a reason, never by creating the account: a new customer
/// waits for their first payment, unless an admin suspends or disables them at once.
pub fn initial_status(requested: Option<CustomerStatus>) -> CustomerStatus {
    match requested {
        Some(s @ (CustomerStatus::Suspended | CustomerStatus::Disabled)) => s,
        _ => CustomerStatus::AwaitingPayment,
    }
}

/// Whether the account may be online now: active, with paid (or granted) time left.
pub fn has_access(status: CustomerStatus, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    status == CustomerStatus::Active && expires_at.is_some_and(|e| e > now)
}

/// What a customer's live sessions need after an admin's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAction {
    /// Access ended (suspended, disabled, expired): end every live session.
    Disconnect,
    /// A new package for an active customer: send its rate limit (CoA).
    ApplyPackage,
}

/// The routers must act when a change ends access or moves an active customer to
/// another package; a removed package ends the sessions too (they may not keep
/// browsing on the old one).
pub fn session_action(
    before: (CustomerStatus, Option<i64>),
    after: (CustomerStatus, Option<i64>),
) -> Option<SessionAction> {
    let lost_access = before.0 == CustomerStatus::Active && after.0 != CustomerStatus::Active;
    let new_package = after.0 == CustomerStatus::Active && before.1 != after.1;
    match (lost_access, new_package, after.1) {
        (true, _, _) | (false, true, None) => Some(SessionAction::Disconnect),
        (false, true, Some(_)) => Some(SessionAction::ApplyPackage),
        _ => None,
    }
}

/// The result code we give a payment we stopped waiting for; the money may still
/// have moved, so a late success with a receipt completes it.
pub const NO_ANSWER: &str = "no-answer";

/// Result codes we give a payment ourselves when we refuse it; the provider's word
/// never reopens those.
pub const OUR_REFUSALS: [&str; 2] = ["refused", "duplicate"];

/// Whether a success may still complete a payment: pending, or expired for want of
/// an answer; and, when the provider's own status answer confirms the money moved,
/// also failed, cancelled or expired by a callback or a timeout, but never one we
/// refused ourselves.
pub fn open_for_completion(status: PaymentStatus, result_code: Option<&str>, provider_confirmed: bool) -> bool {
    status == PaymentStatus::Pending
        || (status == PaymentStatus::Expired && result_code == Some(NO_ANSWER))
        || (provider_confirmed
            && matches!(status, PaymentStatus::Failed | PaymentStatus::Cancelled | PaymentStatus::Expired)
            && !result_code.is_some_and(|c| OUR_REFUSALS.contains(&c)))
}

/// How an M-Pesa prompt ended, as the dashboard counts them: Daraja's result codes
/// 1032 (the customer cancelled), 1037 (no answer from the phone) and 1 (not enough
/// balance), and our own timeout (`NO_ANSWER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StkOutcome {
    Waiting,
    Paid,
    Cancelled,
    TimedOut,
    InsufficientFunds,
    Failed,
}

impl StkOutcome {
    pub fn of(status: PaymentStatus, result_code: Option<&str>) -> StkOutcome {
        match (status, result_code) {
            (PaymentStatus::Pending, _) => StkOutcome::Waiting,
            (PaymentStatus::Completed, _) => StkOutcome::Paid,
            (_, Some("1032")) | (PaymentStatus::Cancelled, _) => StkOutcome::Cancelled,
            (_, Some("1037")) | (PaymentStatus::Expired, _) => StkOutcome::TimedOut,
            (_, Some("1")) => StkOutcome::InsufficientFunds,
            _ => StkOutcome::Failed,
        }
    }
}

/// What a success must agree with (rule 3): the payment is open, the amount is the
/// one we asked for, and the phone (when the provider names one) is the one the
/// prompt went to. The reason for refusing, or `None` to apply it.
pub fn completion_mismatch(
    open: bool,
    status: PaymentStatus,
    asked: Money,
    paid: Money,
    asked_phone: Option<&Phone>,
    paid_phone: Option<&Phone>,
) -> Option<String> {
    if !open {
        return Some(format!("payment is {status}, not pending"));
    }
    if paid != asked {
        return Some(format!("amount {paid} does not match the {asked} requested"));
    }
    match (paid_phone, asked_phone) {
        (Some(paid), Some(asked)) if paid != asked => {
            Some(format!("paid from {} but requested from {}", paid.as_str(), asked.as_str()))
        }
        _ => None,
    }
}

/// The invoice number for the `seq`th invoice: the ISP's prefix (letters, digits,
/// `-`, `_`, `/`; at most 16; `INV-` when none) and six digits. The number goes into
/// file names and HTTP headers, so a prefix stored with quotes or line breaks is
/// cleaned.
pub fn invoice_number(prefix: Option<&str>, seq: i64) -> String {
    let prefix = prefix
        .map(|v| {
            v.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/')).take(16).collect::<String>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "INV-".into());
    format!("{prefix}{seq:06}")
}

/// Reminder days from the setting ("3,1" → [3, 1]): largest first, duplicates and
/// nonsense dropped; the default 3 and 1 when unset or unreadable, none when empty.
pub fn reminder_days(setting: Option<&str>) -> Vec<i64> {
    let mut days: Vec<i64> = setting
        .unwrap_or("3,1")
        .split([',', ' '])
        .filter_map(|d| d.trim().parse().ok())
        .filter(|d| (1..=60).contains(d))
        .collect();
    if days.is_empty() && setting.is_some_and(|s| !s.trim().is_empty()) {
        days = vec![3, 1];
    }
    days.sort_unstable_by(|a, b| b.cmp(a));
    days.dedup();
    days
}

/// For each reminder day, the window of expiries it covers: `(day, after, until]`,
/// so a customer expiring in 2.5 days gets the 3-day reminder and, later, the 1-day
/// one, each once.
pub fn reminder_windows(days: &[i64], now: DateTime<Utc>) -> Vec<(i64, DateTime<Utc>, DateTime<Utc>)> {
    days.iter()
        .enumerate()
        .map(|(i, d)| {
            let lower = days.get(i + 1).copied().unwrap_or(0);
            (*d, now + Duration::days(lower), now + Duration::days(*d))
        })
        .collect()
}

fn extend(from: DateTime<Utc>, periods: i64, duration_minutes: i64) -> DateTime<Utc> {
    let last = last_moment();
    if from >= last {
        return last;
    }
    let minutes = duration_minutes.max(0).saturating_mul(periods);
    // Beyond 2100 anyway when the minutes exceed a few centuries.
    let step = Duration::try_minutes(minutes.min(200 * 366 * 24 * 60)).unwrap_or(Duration::zero());
    from.checked_add_signed(step).map_or(last, |t| t.min(last))
}

fn money(minor: i64) -> Money {
    Money::clamped(minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const MONTH: i64 = 30 * 24 * 60;

    fn kes(major: i64) -> Money {
        Money::from_minor(major * 100).unwrap()
    }

    fn at(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, 9, 0, 0).unwrap()
    }

    #[test]
    fn exactly_the_price_buys_one_period_from_now() {
        let r = apply_payment(kes(0), kes(1000), kes(1000), MONTH, None, at(1));
        assert_eq!((r.periods, r.applied, r.balance_after, r.shortfall), (1, kes(1000), kes(0), kes(0)));
        assert_eq!((r.from, r.until), (at(1), Some(at(1) + Duration::days(30))));
    }

    #[test]
    fn a_multiple_buys_that_many_periods_from_the_later_expiry() {
        let later = at(20);
        let r = apply_payment(kes(0), kes(3000), kes(1000), MONTH, Some(later), at(1));
        assert_eq!(r.periods, 3);
        assert_eq!(r.until, Some(later + Duration::days(90)));
        // An expiry in the past counts from now.
        let r = apply_payment(kes(0), kes(1000), kes(1000), MONTH, Some(at(1)), at(5));
        assert_eq!(r.from, at(5));
    }

    #[test]
    fn the_remainder_stays_as_credit_and_credit_counts_towards_the_next_payment() {
        let r = apply_payment(kes(0), kes(2500), kes(1000), MONTH, None, at(1));
        assert_eq!((r.periods, r.balance_after), (2, kes(500)));
        let r = apply_payment(r.balance_after, kes(500), kes(1000), MONTH, r.until, at(2));
        assert_eq!((r.periods, r.applied, r.balance_after), (1, kes(1000), kes(0)));
        assert_eq!(r.until, Some(at(1) + Duration::days(90)));
    }

    #[test]
    fn an_underpayment_is_held_with_the_shortfall_and_changes_no_expiry() {
        let r = apply_payment(kes(100), kes(300), kes(1000), MONTH, Some(at(3)), at(1));
        assert_eq!((r.periods, r.applied, r.balance_after, r.shortfall), (0, kes(0), kes(400), kes(600)));
        assert_eq!(r.until, None);
        assert_eq!(status_after_payment(CustomerStatus::AwaitingPayment, r.periods), CustomerStatus::AwaitingPayment);
    }

    #[test]
    fn a_free_package_gets_a_period_and_keeps_the_money() {
        let r = apply_payment(kes(0), kes(50), kes(0), MONTH, None, at(1));
        assert_eq!((r.periods, r.applied, r.balance_after), (1, kes(0), kes(50)));
    }

    #[test]
    fn expiry_never_passes_2100_and_huge_amounts_stay_as_credit() {
        let r = apply_payment(kes(0), kes(100_000_000), kes(1), MONTH, None, at(1));
        assert_eq!(r.periods, 1200);
        assert_eq!(r.until, Some(last_moment()));
        assert_eq!(r.balance_after, kes(100_000_000 - 1200));
        let r = apply_payment(kes(0), kes(10), kes(10), MONTH, Some(last_moment()), at(1));
        assert_eq!(r.until, Some(last_moment()));
    }

    #[test]
    fn credit_renews_at_expiry_only_when_it_covers_the_price() {
        assert_eq!(renew_from_credit(kes(999), kes(1000), MONTH, Some(at(1)), at(1)), None);
        assert_eq!(
            renew_from_credit(kes(5000), kes(0), MONTH, Some(at(1)), at(1)),
            None,
            "free packages never spend credit"
        );
        let r = renew_from_credit(kes(2100), kes(1000), MONTH, Some(at(1)), at(1)).unwrap();
        assert_eq!((r.periods, r.balance_after), (2, kes(100)));
    }

    #[test]
    fn paying_ends_the_wait_or_an_expiry_but_not_a_suspension() {
        use CustomerStatus::*;
        for (before, after) in [
            (AwaitingPayment, Active),
            (Expired, Active),
            (Active, Active),
            (Suspended, Suspended),
            (Disabled, Disabled),
        ] {
            assert_eq!(status_after_payment(before, 1), after, "{before}");
        }
        assert_eq!(initial_status(None), AwaitingPayment);
        assert_eq!(initial_status(Some(Active)), AwaitingPayment, "creating an account never grants access");
        assert_eq!(initial_status(Some(Suspended)), Suspended);
    }

    #[test]
    fn routers_act_when_access_ends_or_the_package_changes() {
        use CustomerStatus::*;
        assert_eq!(session_action((Active, Some(1)), (Suspended, Some(1))), Some(SessionAction::Disconnect));
        assert_eq!(session_action((Active, Some(1)), (Active, Some(2))), Some(SessionAction::ApplyPackage));
        assert_eq!(session_action((Active, Some(1)), (Active, None)), Some(SessionAction::Disconnect));
        assert_eq!(session_action((Active, Some(1)), (Active, Some(1))), None);
        assert_eq!(session_action((Suspended, Some(1)), (Suspended, Some(2))), None);
        assert_eq!(session_action((AwaitingPayment, None), (AwaitingPayment, Some(2))), None);
    }

    #[test]
    fn a_success_must_match_the_open_payment() {
        use PaymentStatus::*;
        let phone = Phone::parse("0712345678").unwrap();
        let other = Phone::parse("0712000000").unwrap();
        assert_eq!(completion_mismatch(true, Pending, kes(10), kes(10), Some(&phone), Some(&phone)), None);
        assert_eq!(completion_mismatch(true, Pending, kes(10), kes(10), Some(&phone), None), None);
        assert!(completion_mismatch(true, Pending, kes(10), kes(1), None, None).unwrap().contains("does not match"));
        assert!(
            completion_mismatch(true, Pending, kes(10), kes(10), Some(&phone), Some(&other))
                .unwrap()
                .contains("paid from")
        );
        assert!(completion_mismatch(false, Failed, kes(10), kes(10), None, None).unwrap().contains("failed"));
        assert!(open_for_completion(Pending, None, false));
        assert!(open_for_completion(Expired, Some(NO_ANSWER), false));
        assert!(!open_for_completion(Cancelled, Some("1032"), false));
        assert!(open_for_completion(Cancelled, Some("1032"), true), "the provider's own answer reopens it");
        assert!(!open_for_completion(Failed, Some("refused"), true), "never what we refused");
        assert!(!open_for_completion(Completed, None, true));
    }

    #[test]
    fn invoice_numbers_and_reminder_days() {
        assert_eq!(invoice_number(None, 7), "INV-000007");
        assert_eq!(invoice_number(Some("KN/\"\r\n2026-"), 123), "KN/2026-000123");
        assert_eq!(invoice_number(Some("\"\""), 1), "INV-000001");
        assert_eq!(reminder_days(None), [3, 1]);
        assert_eq!(reminder_days(Some("1, 7,3,3")), [7, 3, 1]);
        assert_eq!(reminder_days(Some("")), Vec::<i64>::new());
        let w = reminder_windows(&[3, 1], at(1));
        assert_eq!(w, [(3, at(2), at(4)), (1, at(1), at(2))]);
    }

    #[test]
    fn access_needs_active_status_and_time_left() {
        use CustomerStatus::*;
        assert!(has_access(Active, Some(at(2)), at(1)));
        assert!(!has_access(Active, Some(at(1)), at(1)));
        assert!(!has_access(Active, None, at(1)));
        assert!(!has_access(AwaitingPayment, Some(at(2)), at(1)));
    }

    #[test]
    fn stk_outcomes_from_darajas_codes() {
        use PaymentStatus::*;
        assert_eq!(StkOutcome::of(Pending, None), StkOutcome::Waiting);
        assert_eq!(StkOutcome::of(Completed, Some("0")), StkOutcome::Paid);
        assert_eq!(StkOutcome::of(Failed, Some("1032")), StkOutcome::Cancelled);
        assert_eq!(StkOutcome::of(Cancelled, Some("1032")), StkOutcome::Cancelled);
        assert_eq!(StkOutcome::of(Failed, Some("1037")), StkOutcome::TimedOut);
        assert_eq!(StkOutcome::of(Expired, Some(NO_ANSWER)), StkOutcome::TimedOut);
        assert_eq!(StkOutcome::of(Failed, Some("1")), StkOutcome::InsufficientFunds);
        assert_eq!(StkOutcome::of(Failed, Some("2001")), StkOutcome::Failed);
    }
}
