//! `/notifications`: the outbox (every SMS, email and event waiting or sent), with
//! its status, attempts and last error, and "Retry now" for one that failed.

use super::extract::{Form, Page, PageError};
use super::pager::Pager;
use super::render::{Layout, html};
use super::urls;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use broadnet_app::notify::NotificationListQuery;
use broadnet_store::{OutboxItem, OutboxStatus};
use chrono::FixedOffset;

pub fn router() -> Router<AppState> {
    Router::new().route(urls::NOTIFICATIONS, get(list)).route(urls::NOTIFICATION_RETRY_ROUTE, post(retry))
}

const KINDS: &[(&str, &str)] = &[
    ("", "Any kind"),
    ("sms", "SMS"),
    ("email", "Email"),
    ("payment.completed", "Payment completed"),
    ("payment.failed", "Payment failed"),
    ("customer.welcome", "Welcome"),
    ("customer.reminder", "Reminder"),
    ("customer.expired", "Expired"),
    ("customer.renewed", "Renewed from credit"),
    ("customer.sessions", "Router update"),
];

const STATUSES: &[(&str, &str)] = &[
    ("", "Any status"),
    ("pending", "Pending"),
    ("sending", "Sending"),
    ("delivered", "Delivered"),
    ("failed", "Failed"),
];

#[derive(Template)]
#[template(path = "notifications/list.html")]
struct List {
    l: Layout,
    p: Pager,
    items: Vec<OutboxItem>,
    zone: FixedOffset,
}

impl List {
    fn kinds(&self) -> &'static [(&'static str, &'static str)] {
        KINDS
    }
    fn statuses(&self) -> &'static [(&'static str, &'static str)] {
        STATUSES
    }
    fn is(&self, key: &str, v: &str) -> bool {
        self.p.get(key) == v
    }
    fn kind(&self, i: &OutboxItem) -> &'static str {
        KINDS.iter().find(|(v, _)| *v == i.kind.as_str()).map_or("", |(_, t)| t)
    }
    fn when(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        super::fmt::when(t, &self.zone)
    }
    /// Who it is for and what it says, as far as the entry tells (display only).
    fn summary(&self, i: &OutboxItem) -> String {
        summary(&i.payload)
    }
    fn retry(&self, i: &OutboxItem) -> String {
        urls::with_id(urls::NOTIFICATION_RETRY_ROUTE, i.id)
    }
    /// Entries "Retry now" applies to (the use case decides; this only hides the button).
    fn retryable(&self, i: &OutboxItem) -> bool {
        matches!(i.status, OutboxStatus::Failed | OutboxStatus::Pending)
    }
}

/// `+254712… · Your payment of…` from a message's payload; `customer 7` for an event.
fn summary(p: &serde_json::Value) -> String {
    let s = |k: &str| p.get(k).and_then(serde_json::Value::as_str);
    let text = s("message").or(s("subject")).or(s("text")).unwrap_or_default();
    let short: String = text.chars().take(80).collect();
    let short = if text.chars().count() > 80 { format!("{short}…") } else { short };
    match (s("to"), p.get("customer_id").and_then(serde_json::Value::as_i64)) {
        (Some(to), _) if short.is_empty() => to.to_string(),
        (Some(to), _) => format!("{to} · {short}"),
        (None, Some(c)) => format!("customer {c}"),
        (None, None) => match p.get("payment_id").and_then(serde_json::Value::as_i64) {
            Some(id) => format!("payment {id}"),
            None => String::new(),
        },
    }
}

async fn list(
    State(st): State<AppState>,
    p: Page,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let q = super::payments::filled(q);
    let (zone, _) = st.app.local_zone().await?;
    let page = st.app.list_notifications(&p.session, &NotificationListQuery::from_pairs(q.clone())).await?;
    let pager = Pager::new(urls::NOTIFICATIONS, &q, &page);
    let l = Layout::new(&p, "Notifications", "Notifications");
    Ok(html(StatusCode::OK, &List { l, p: pager, items: page.items, zone }))
}

async fn retry(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    f: Form<super::auth::NoFields>,
) -> Result<Response, PageError> {
    st.app.retry_notification(&f.page.session, id).await?;
    Ok(Redirect::to(urls::NOTIFICATIONS).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summaries_say_who_and_what() {
        assert_eq!(summary(&json!({"to": "+254712000001", "message": "Paid"})), "+254712000001 · Paid");
        assert_eq!(summary(&json!({"customer_id": 7})), "customer 7");
        assert_eq!(summary(&json!({"payment_id": 3})), "payment 3");
        let long = "x".repeat(100);
        assert!(summary(&json!({"to": "a@b.c", "subject": long})).ends_with('…'));
    }
}
