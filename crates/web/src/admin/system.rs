//! `/system`: version, database backend, the background jobs (lease holder, last
//! and next run, last error) and the RADIUS server's counters from `/metrics`.

use super::extract::{Page, PageError};
use super::render::{Layout, html};
use super::urls;
use crate::AppState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use broadnet_app::system::SystemStatus;
use broadnet_store::JobStatus;
use chrono::FixedOffset;

pub fn router() -> Router<AppState> {
    Router::new().route(urls::SYSTEM, get(show))
}

/// One `broadnet_radius_*` sample of the metrics text: its name without the prefix,
/// its labels as written, its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub name: String,
    pub labels: String,
    pub value: String,
}

/// The RADIUS lines of the Prometheus text (comments and other metrics skipped).
pub fn radius_counters(metrics: &str) -> Vec<Counter> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("broadnet_radius_"))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}').replace('"', "").replace(',', ", ")),
                None => (series, String::new()),
            };
            Some(Counter { name: name.replace('_', " "), labels, value: value.to_string() })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "system/show.html")]
struct Show {
    l: Layout,
    s: SystemStatus,
    zone: FixedOffset,
    counters: Vec<Counter>,
}

impl Show {
    fn when(&self, t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
        super::fmt::when_opt(t, &self.zone)
    }

    /// `ok`, `failed` or `never run`.
    fn state(&self, j: &JobStatus) -> &'static str {
        match j.last_run_ok {
            Some(true) => "ok",
            Some(false) => "failed",
            None => "never run",
        }
    }
}

async fn show(State(st): State<AppState>, p: Page) -> Result<Response, PageError> {
    let s = st.app.system_status(&p.session).await?;
    let (zone, _) = st.app.local_zone().await?;
    let counters = radius_counters(&st.metrics.render(s.backend));
    Ok(html(StatusCode::OK, &Show { l: Layout::new(&p, "System", "System"), s, zone, counters }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_radius_samples() {
        let text = "# HELP broadnet_radius_requests_total x\n# TYPE broadnet_radius_requests_total counter\n\
                    broadnet_radius_requests_total{kind=\"auth\",result=\"accept\"} 12\n\
                    broadnet_radius_clients 3\nbroadnet_info{version=\"1\"} 1\n";
        assert_eq!(
            radius_counters(text),
            [
                Counter {
                    name: "requests total".into(),
                    labels: "kind=auth, result=accept".into(),
                    value: "12".into()
                },
                Counter { name: "clients".into(), labels: String::new(), value: "3".into() },
            ]
        );
    }
}
