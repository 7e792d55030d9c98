//! `/audit`: who changed what, newest first, filtered by action, entity and admin,
//! each entry's before/after drawn as a key-by-key diff (display only).

use super::extract::{Page, PageError};
use super::pager::Pager;
use super::render::{Layout, html};
use super::urls;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use broadnet_app::audit::AuditLogQuery;
use broadnet_store::AuditEntry;
use chrono::FixedOffset;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new().route(urls::AUDIT, get(list))
}

/// One line of a diff: a key and its value before and after (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl DiffLine {
    /// `added`, `removed` or `changed`, for the row's colour.
    pub fn change(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            _ => "changed",
        }
    }
}

/// A value as one short line: strings without quotes, `null` as "empty".
fn show(v: &Value) -> String {
    match v {
        Value::Null => "empty".to_string(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// The keys whose values differ between `before` and `after`, in key order. Objects
/// are compared key by key (one level); anything else is one `value` line.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<DiffLine> {
    match (before, after) {
        (None, None) => Vec::new(),
        (b, a) if b.is_none_or(Value::is_object) && a.is_none_or(Value::is_object) => {
            let empty = serde_json::Map::new();
            let b = b.and_then(Value::as_object).unwrap_or(&empty);
            let a = a.and_then(Value::as_object).unwrap_or(&empty);
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| b.get(*k) != a.get(*k))
                .map(|k| DiffLine { key: k.clone(), before: b.get(k).map(show), after: a.get(k).map(show) })
                .collect()
        }
        (b, a) if b != a => vec![DiffLine { key: "value".into(), before: b.map(show), after: a.map(show) }],
        _ => Vec::new(),
    }
}

/// An audit entry as the page draws it.
pub struct Row {
    pub at: String,
    pub admin: String,
    pub ip: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub diff: Vec<DiffLine>,
}

fn row(e: &AuditEntry, zone: &FixedOffset) -> Row {
    Row {
        at: super::fmt::when(&e.at, zone),
        admin: e.admin_username.clone(),
        ip: e.ip.clone().unwrap_or_default(),
        action: e.action.clone(),
        entity_type: e.entity_type.clone(),
        entity_id: e.entity_id.clone().unwrap_or_default(),
        diff: diff(e.before.as_ref(), e.after.as_ref()),
    }
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct List {
    l: Layout,
    rows: Vec<Row>,
    p: Pager,
    /// `(id, username)` for the admin filter (superadmins only: others cannot list admins).
    admins: Vec<(String, String)>,
    error: Option<String>,
}

async fn list(State(st): State<AppState>, p: Page, RawQuery(q): RawQuery) -> Result<Response, PageError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let (zone, _) = st.app.local_zone().await?;
    let admins = match st.app.list_admins(&p.session).await {
        Ok(list) => list.into_iter().map(|a| (a.id.to_string(), a.username)).collect(),
        Err(_) => Vec::new(),
    };
    let query = AuditLogQuery::from_pairs(pairs.clone());
    let (page, error, status) = match st.app.audit_log(&query).await {
        Ok(page) => (page, None, StatusCode::OK),
        Err(broadnet_app::AppError::Validation(errors)) => {
            let text = errors.iter().map(|(k, v)| format!("{k}: {}", v.join("; "))).collect::<Vec<_>>().join(". ");
            let empty = broadnet_store::Page { items: Vec::new(), total: 0, page: 1, per_page: 50 };
            (empty, Some(text), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => return Err(e.into()),
    };
    let rows = page.items.iter().map(|e| row(e, &zone)).collect();
    let pager = Pager::new(urls::AUDIT, &pairs, &page);
    Ok(html(status, &List { l: Layout::new(&p, "Audit log", "Audit log"), rows, p: pager, admins, error }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_keys_that_changed_in_key_order() {
        let b = json!({"name": "Home", "price": 1500, "active": true, "pool": null});
        let a = json!({"name": "Home", "price": 2000, "active": true, "burst": "15M"});
        let d = diff(Some(&b), Some(&a));
        assert_eq!(
            d,
            [
                DiffLine { key: "burst".into(), before: None, after: Some("15M".into()) },
                DiffLine { key: "pool".into(), before: Some("empty".into()), after: None },
                DiffLine { key: "price".into(), before: Some("1500".into()), after: Some("2000".into()) },
            ]
        );
        assert_eq!(d.iter().map(DiffLine::change).collect::<Vec<_>>(), ["added", "removed", "changed"]);
    }

    #[test]
    fn a_create_a_delete_and_plain_values() {
        let a = json!({"name": "Home"});
        assert_eq!(diff(None, Some(&a)), [DiffLine { key: "name".into(), before: None, after: Some("Home".into()) }]);
        assert_eq!(diff(Some(&a), None)[0].change(), "removed");
        assert_eq!(diff(None, None), []);
        assert_eq!(
            diff(Some(&json!("mpesa")), Some(&json!("airtel"))),
            [DiffLine { key: "value".into(), before: Some("mpesa".into()), after: Some("airtel".into()) }]
        );
        assert_eq!(diff(Some(&a), Some(&a)), []);
    }
}
