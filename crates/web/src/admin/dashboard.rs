//! `/`: the dashboard. Every figure links to the list behind it; the charts' series
//! travel in a `<script type="application/json">` block that `charts.js` draws with
//! uPlot (no inline script, so the CSP stays `default-src 'self'`).

use super::extract::{Page, PageError};
use super::render::{Layout, html};
use super::{fmt, urls};
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use broadnet_app::dashboard::{Dashboard, EXPIRING_DAYS, Revenue};
use broadnet_domain::PaymentChannel;
use chrono::FixedOffset;

pub fn router() -> Router<AppState> {
    Router::new().route(urls::HOME, get(dashboard))
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    l: Layout,
    d: Dashboard,
    zone: FixedOffset,
    /// The charts' series as JSON, safe inside `<script>` (no `<`).
    charts: String,
    /// `2026-11-27`: today in the ISP's zone, for the payments list's date filter.
    today: String,
    /// The first day of the 30.
    first_day: String,
    /// The first day of this month.
    month_start: String,
}

impl DashboardPage {
    fn money(&self, minor: &i64) -> String {
        fmt::money(*minor)
    }

    fn count(&self, n: &u64) -> String {
        fmt::count(i64::try_from(*n).unwrap_or(i64::MAX))
    }

    fn channel(&self, c: &PaymentChannel) -> &'static str {
        channel_label(*c)
    }

    /// The channels that took money in the period (all zero: none).
    fn paid_channels<'a>(&self, r: &'a Revenue) -> Vec<&'a (PaymentChannel, i64)> {
        r.by_channel.iter().filter(|(_, v)| *v != 0).collect()
    }

    fn last_seen(&self, t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
        fmt::when_opt(t, &self.zone)
    }

    fn payments_since(&self, from: &str) -> String {
        super::pager::href(urls::PAYMENTS, &[("status".into(), "completed".into()), ("from".into(), from.into())])
    }

    fn expiring_link(&self) -> String {
        let q = [("status".into(), "active".into()), ("expiring_days".into(), EXPIRING_DAYS.to_string())];
        super::pager::href(urls::CUSTOMERS, &q)
    }
}

pub fn channel_label(c: PaymentChannel) -> &'static str {
    match c {
        PaymentChannel::Stk => "M-Pesa STK",
        PaymentChannel::Paybill => "Paybill",
        PaymentChannel::Airtel => "Airtel Money",
        PaymentChannel::Cash => "Cash",
        PaymentChannel::Voucher => "Vouchers",
    }
}

#[derive(serde::Serialize)]
struct ChartData<'a> {
    currency: &'a str,
    days: &'a [String],
    revenue: Vec<Series>,
    hours: &'a [i64],
    sessions: &'a [u64],
    months: &'a [String],
    new_customers: &'a [u64],
}

#[derive(serde::Serialize)]
struct Series {
    label: &'static str,
    /// Major units, for the axis.
    values: Vec<f64>,
}

/// JSON that cannot end the `<script>` element it sits in.
fn script_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into()).replace('<', "\\u003c")
}

async fn dashboard(State(st): State<AppState>, p: Page) -> Result<Response, PageError> {
    let d = st.app.dashboard(&p.session).await?;
    let (zone, _) = st.app.local_zone().await?;
    let c = &d.charts;
    let charts = script_json(&ChartData {
        currency: &d.currency,
        days: &c.days,
        revenue: c
            .revenue
            .iter()
            .map(|(ch, v)| Series { label: channel_label(*ch), values: v.iter().map(|m| *m as f64 / 100.0).collect() })
            .collect(),
        hours: &c.hours,
        sessions: &c.sessions,
        months: &c.months,
        new_customers: &c.new_customers,
    });
    let today = c.days.last().cloned().unwrap_or_default();
    let first_day = c.days.first().cloned().unwrap_or_default();
    let month_start = format!("{}-01", today.get(..7).unwrap_or_default());
    let page =
        DashboardPage { l: Layout::new(&p, "Dashboard", "Dashboard"), d, zone, charts, today, first_day, month_start };
    Ok(html(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_json_cannot_close_its_script() {
        let s = script_json(&vec!["</script><script>alert(1)</script>"]);
        assert!(!s.contains('<'), "{s}");
    }
}
