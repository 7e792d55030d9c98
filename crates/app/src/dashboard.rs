//! The dashboard: the figures an ISP looks at first, the series behind its charts,
//! and the getting-started checklist. Days and months are the ISP's (Settings →
//! General → time zone); every count is one aggregate query in the store.

use crate::collect::PaymentListQuery;
use crate::settings::SettingKey;
use crate::{App, AppResult, Session};
use broadnet_domain::billing::StkOutcome;
use broadnet_domain::{PaymentChannel, RouterState};
use broadnet_store::{DashboardStats, OutboxStatus, StatsQuery};
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};

/// Days of revenue, months of new customers and hours of sessions on the charts.
pub const DAYS: usize = 30;
pub const MONTHS: usize = 12;
pub const HOURS: usize = 24;
/// "Expiring" means within this many days.
pub const EXPIRING_DAYS: i64 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerFigures {
    pub total: u64,
    pub active: u64,
    pub expiring: u64,
    pub expired: u64,
    pub suspended: u64,
    pub awaiting_payment: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OnlineFigures {
    pub pppoe: u64,
    pub hotspot: u64,
    pub total: u64,
}

/// Money per channel for one period, in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revenue {
    pub total: i64,
    /// Every channel, in `PaymentChannel::ALL` order, zero included.
    pub by_channel: Vec<(PaymentChannel, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StkFigures {
    pub sent: u64,
    pub paid: u64,
    pub waiting: u64,
    pub cancelled: u64,
    pub timed_out: u64,
    pub insufficient_funds: u64,
    pub failed: u64,
    /// Paid of those that ended; `None` before any ended.
    pub success_pct: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterFigure {
    pub id: i64,
    pub name: String,
    pub online: bool,
    pub state: RouterState,
    pub last_seen_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmsFigures {
    pub sent: u64,
    pub failed: u64,
    pub waiting: u64,
}

/// The series of the three charts, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Charts {
    /// `2026-11-27` per day.
    pub days: Vec<String>,
    /// Per channel (`stk`, `paybill`, …), minor units per day; channels with no money
    /// in the period are left out.
    pub revenue: Vec<(PaymentChannel, Vec<i64>)>,
    /// Each hour's start, Unix seconds (the chart writes them in the browser's zone,
    /// which for an ISP's staff is the ISP's).
    pub hours: Vec<i64>,
    pub sessions: Vec<u64>,
    /// `2026-11` per month.
    pub months: Vec<String>,
    pub new_customers: Vec<u64>,
}

/// What is done of the first steps: add a package → add a router → provision →
/// configure → add a customer → collect a payment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GettingStarted {
    pub package: bool,
    pub router: bool,
    pub provisioned: bool,
    pub configured: bool,
    pub customer: bool,
    pub payment: bool,
    /// The first router, for the provision/configure links.
    pub first_router: Option<i64>,
}

impl GettingStarted {
    pub fn done(&self) -> bool {
        self.package && self.router && self.provisioned && self.configured && self.customer && self.payment
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    pub currency: String,
    pub customers: CustomerFigures,
    pub online: OnlineFigures,
    pub today: Revenue,
    pub month: Revenue,
    pub last_30_days: Revenue,
    pub stk_today: StkFigures,
    pub unmatched_waiting: u64,
    pub routers: Vec<RouterFigure>,
    pub routers_online: usize,
    pub sms_today: SmsFigures,
    pub rejects_last_hour: u64,
    pub charts: Charts,
    pub getting_started: GettingStarted,
}

/// The bounds of the dashboard's periods at `now` in `zone`.
pub fn stats_query(now: DateTime<Utc>, zone: &FixedOffset) -> StatsQuery {
    let local = now.with_timezone(zone);
    let midnight = |d: NaiveDate| -> DateTime<Utc> {
        zone.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN)).single().map_or(now, |t| t.with_timezone(&Utc))
    };
    let today = local.date_naive();
    let days = (0..DAYS as i64).rev().map(|back| midnight(today - Duration::days(back))).collect();
    let first_of_month = today.with_day(1).unwrap_or(today);
    let months = (0..MONTHS as u32)
        .rev()
        .map(|back| midnight(first_of_month.checked_sub_months(chrono::Months::new(back)).unwrap_or(first_of_month)))
        .collect();
    let hour = now.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(now);
    let hours = (0..HOURS as i64).rev().map(|back| hour - Duration::hours(back)).collect();
    StatsQuery {
        now,
        days,
        month_start: midnight(first_of_month),
        months,
        hours,
        expiring_until: now + Duration::days(EXPIRING_DAYS),
    }
}

fn revenue(rows: &[(PaymentChannel, i64)]) -> Revenue {
    let by_channel: Vec<(PaymentChannel, i64)> =
        PaymentChannel::ALL.iter().map(|&c| (c, rows.iter().filter(|(r, _)| *r == c).map(|(_, v)| v).sum())).collect();
    Revenue { total: by_channel.iter().map(|(_, v)| v).sum(), by_channel }
}

/// The figures and series from the store's counts (no rule here but counting).
pub fn figures(
    q: &StatsQuery,
    s: &DashboardStats,
    zone: &FixedOffset,
) -> (CustomerFigures, OnlineFigures, [Revenue; 3], StkFigures, SmsFigures, Charts) {
    let status = |name: &str| s.customers_by_status.iter().filter(|(k, _)| k == name).map(|(_, n)| n).sum::<u64>();
    let customers = CustomerFigures {
        total: s.customers_by_status.iter().map(|(_, n)| n).sum(),
        active: status("active"),
        expiring: s.expiring,
        expired: status("expired"),
        suspended: status("suspended"),
        awaiting_payment: status("awaiting_payment"),
    };
    let kind = |name: &str| s.online_by_type.iter().filter(|(k, _)| k == name).map(|(_, n)| n).sum::<u64>();
    let online = OnlineFigures {
        pppoe: kind("pppoe"),
        hotspot: kind("hotspot"),
        total: s.online_by_type.iter().map(|(_, n)| n).sum(),
    };

    let channel = |r: &broadnet_store::RevenueRow| {
        PaymentChannel::of(r.provider, r.paybill.then_some(PaymentChannel::PAYBILL_KEY_PREFIX))
    };
    let today: Vec<_> = s.revenue.iter().map(|r| (channel(r), r.per_day.last().copied().unwrap_or(0))).collect();
    let month: Vec<_> = s.revenue.iter().map(|r| (channel(r), r.month)).collect();
    let days: Vec<_> = s.revenue.iter().map(|r| (channel(r), r.per_day.iter().sum())).collect();

    let mut stk = StkFigures::default();
    for (status, code, n) in &s.stk_today {
        stk.sent += n;
        match StkOutcome::of(*status, code.as_deref()) {
            StkOutcome::Waiting => stk.waiting += n,
            StkOutcome::Paid => stk.paid += n,
            StkOutcome::Cancelled => stk.cancelled += n,
            StkOutcome::TimedOut => stk.timed_out += n,
            StkOutcome::InsufficientFunds => stk.insufficient_funds += n,
            StkOutcome::Failed => stk.failed += n,
        }
    }
    let ended = stk.sent - stk.waiting;
    stk.success_pct = (ended > 0).then(|| (stk.paid * 100 + ended / 2) / ended);

    let mut sms = SmsFigures::default();
    for (status, n) in &s.sms_today {
        match status {
            OutboxStatus::Delivered => sms.sent += n,
            OutboxStatus::Failed => sms.failed += n,
            OutboxStatus::Pending | OutboxStatus::Sending => sms.waiting += n,
        }
    }

    let mut per_channel: Vec<(PaymentChannel, Vec<i64>)> = Vec::new();
    for r in &s.revenue {
        let c = channel(r);
        match per_channel.iter_mut().find(|(k, _)| *k == c) {
            Some((_, v)) => v.iter_mut().zip(&r.per_day).for_each(|(a, b)| *a += b),
            None => per_channel.push((c, r.per_day.clone())),
        }
    }
    per_channel.retain(|(_, v)| v.iter().any(|&x| x != 0));
    per_channel.sort_by_key(|(c, _)| PaymentChannel::ALL.iter().position(|a| a == c));
    let charts = Charts {
        days: q.days.iter().map(|d| d.with_timezone(zone).format("%Y-%m-%d").to_string()).collect(),
        revenue: per_channel,
        hours: q.hours.iter().map(DateTime::timestamp).collect(),
        sessions: s.sessions_per_hour.clone(),
        months: q.months.iter().map(|d| d.with_timezone(zone).format("%Y-%m").to_string()).collect(),
        new_customers: s.new_customers.clone(),
    };
    (customers, online, [revenue(&today), revenue(&month), revenue(&days)], stk, sms, charts)
}

impl App {
    /// Everything on the dashboard; any admin may see it.
    pub async fn dashboard(&self, _s: &Session) -> AppResult<Dashboard> {
        let (zone, _) = self.local_zone().await?;
        let q = stats_query(self.now(), &zone);
        let stats = self.store.dashboard_stats(&q).await?;
        let (customers, online, [today, month, last_30_days], stk_today, sms_today, charts) =
            figures(&q, &stats, &zone);
        let unmatched = self
            .list_unmatched(&crate::billing::UnmatchedListRequest { per_page: Some("1".into()), ..Default::default() })
            .await?;
        let routers: Vec<RouterFigure> = self
            .list_routers()
            .await?
            .items
            .into_iter()
            .map(|r| RouterFigure {
                id: r.router.id,
                name: r.router.name,
                online: r.router.online,
                state: r.router.state,
                last_seen_at: r.router.last_seen_at,
            })
            .collect();
        let packages = self.list_packages().await?;
        let paid = self
            .list_payments(&PaymentListQuery {
                status: Some("completed".into()),
                per_page: Some("1".into()),
                ..Default::default()
            })
            .await?;
        let getting_started = GettingStarted {
            package: !packages.is_empty(),
            router: !routers.is_empty(),
            provisioned: routers.iter().any(|r| r.state != RouterState::Unprovisioned),
            configured: routers.iter().any(|r| r.state == RouterState::Configured),
            customer: customers.total > 0,
            payment: paid.total > 0,
            first_router: routers.first().map(|r| r.id),
        };
        Ok(Dashboard {
            currency: self.setting(SettingKey::Currency).await?.unwrap_or_else(|| "KES".into()),
            customers,
            online,
            today,
            month,
            last_30_days,
            stk_today,
            unmatched_waiting: unmatched.total,
            routers_online: routers.iter().filter(|r| r.online).count(),
            routers,
            sms_today,
            rejects_last_hour: stats.rejects_last_hour,
            charts,
            getting_started,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broadnet_domain::{PaymentProvider, PaymentStatus};
    use broadnet_store::RevenueRow;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periods_start_at_the_isps_midnight() {
        let eat = FixedOffset::east_opt(3 * 3600).unwrap();
        // 22:30 UTC on the 27th is 01:30 on the 28th in Nairobi.
        let q = stats_query(t("2026-11-27T22:30:00Z"), &eat);
        assert_eq!(q.days.len(), DAYS);
        assert_eq!(*q.days.last().unwrap(), t("2026-11-27T21:00:00Z"), "today began at local midnight");
        assert_eq!(q.days[0], t("2026-10-29T21:00:00Z"));
        assert_eq!(q.month_start, t("2026-10-31T21:00:00Z"), "1 November, local");
        assert_eq!(q.months[0], t("2025-11-30T21:00:00Z"), "1 December a year before, local");
        assert_eq!(*q.hours.last().unwrap(), t("2026-11-27T22:00:00Z"));
        assert_eq!(q.hours.len(), HOURS);
        assert_eq!(q.expiring_until, t("2026-11-30T22:30:00Z"));
    }

    #[test]
    fn counts_become_figures_by_channel_and_outcome() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let q = stats_query(t("2026-11-27T12:00:00Z"), &utc);
        let mut day = vec![0; DAYS];
        day[DAYS - 1] = 150_000;
        day[0] = 50_000;
        let s = DashboardStats {
            customers_by_status: vec![("active".into(), 7), ("expired".into(), 2), ("awaiting_payment".into(), 1)],
            expiring: 3,
            online_by_type: vec![("hotspot".into(), 4), ("other".into(), 1), ("pppoe".into(), 5)],
            revenue: vec![
                RevenueRow { provider: PaymentProvider::Mpesa, paybill: false, per_day: day.clone(), month: 150_000 },
                RevenueRow { provider: PaymentProvider::Mpesa, paybill: true, per_day: vec![0; DAYS], month: 0 },
                RevenueRow { provider: PaymentProvider::Cash, paybill: false, per_day: day, month: 150_000 },
            ],
            stk_today: vec![
                (PaymentStatus::Completed, Some("0".into()), 3),
                (PaymentStatus::Failed, Some("1032".into()), 1),
                (PaymentStatus::Failed, Some("1".into()), 1),
                (PaymentStatus::Pending, None, 2),
            ],
            sms_today: vec![(OutboxStatus::Delivered, 9), (OutboxStatus::Failed, 1)],
            rejects_last_hour: 0,
            new_customers: vec![0; MONTHS],
            sessions_per_hour: vec![0; HOURS],
        };
        let (c, o, [today, month, days], stk, sms, charts) = figures(&q, &s, &utc);
        assert_eq!((c.total, c.active, c.expired, c.awaiting_payment, c.expiring), (10, 7, 2, 1, 3));
        assert_eq!((o.pppoe, o.hotspot, o.total), (5, 4, 10));
        assert_eq!(today.total, 300_000);
        assert_eq!(today.by_channel[0], (PaymentChannel::Stk, 150_000));
        assert_eq!(month.total, 300_000);
        assert_eq!(days.total, 400_000);
        assert_eq!((stk.sent, stk.paid, stk.cancelled, stk.insufficient_funds, stk.waiting), (7, 3, 1, 1, 2));
        assert_eq!(stk.success_pct, Some(60), "3 paid of 5 that ended");
        assert_eq!((sms.sent, sms.failed), (9, 1));
        let channels: Vec<_> = charts.revenue.iter().map(|(c, _)| *c).collect();
        assert_eq!(channels, [PaymentChannel::Stk, PaymentChannel::Cash], "paybill had no money: no series");
        assert_eq!(charts.days.last().unwrap(), "2026-11-27");
    }
}
