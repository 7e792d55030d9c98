//! Prometheus metrics kept in the app state (no global registry, so tests in one
//! process do not share counters).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
    pub logins_failed: AtomicU64,
    pub logins_ok: AtomicU64,
    /// Other parts of the program (the RADIUS server) add their own lines.
    pub extra: Mutex<Vec<Arc<dyn Fn() -> String + Send + Sync>>>,
}

impl Metrics {
    pub fn observe_http(&self, method: &str, route: &str, status: u16, took: Duration) {
        // Labels come from a fixed set only: a client may send any method name, and
        // each distinct label would be kept (and shown on /metrics) for ever.
        const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
        let method = METHODS.iter().find(|m| **m == method).copied().unwrap_or("OTHER");
        let status = if (100..=599).contains(&status) { status } else { 0 };
        let mut r = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *r.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        drop(r);
        let secs = took.as_secs_f64();
        let mut d = self.durations.lock().unwrap_or_else(|e| e.into_inner());
        let h = d.entry(route.to_string()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn add_source(&self, f: Arc<dyn Fn() -> String + Send + Sync>) {
        self.extra.lock().unwrap_or_else(|e| e.into_inner()).push(f);
    }

    pub fn render(&self, backend: &str) -> String {
        let mut out = String::new();
        for f in self.extra.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            out.push_str(&f());
        }
        let _ = writeln!(out, "# HELP broadnet_info Build and storage information.\n# TYPE broadnet_info gauge");
        let _ = writeln!(out, "broadnet_info{{version=\"{}\",backend=\"{backend}\"}} 1", env!("CARGO_PKG_VERSION"));
        let _ = writeln!(
            out,
            "# HELP broadnet_http_requests_total HTTP requests by method, route and status.\n# TYPE broadnet_http_requests_total counter"
        );
        for ((m, r, s), n) in self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "broadnet_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {n}",
                escape(r)
            );
        }
        let _ = writeln!(
            out,
            "# HELP broadnet_http_request_duration_seconds HTTP request latency by route.\n# TYPE broadnet_http_request_duration_seconds histogram"
        );
        for (r, h) in self.durations.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let r = escape(r);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "broadnet_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ =
                writeln!(out, "broadnet_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "broadnet_http_request_duration_seconds_sum{{route=\"{r}\"}} {}", h.sum);
            let _ = writeln!(out, "broadnet_http_request_duration_seconds_count{{route=\"{r}\"}} {}", h.count);
        }
        let _ = writeln!(
            out,
            "# HELP broadnet_admin_logins_total Admin login attempts by result.\n# TYPE broadnet_admin_logins_total counter"
        );
        let _ =
            writeln!(out, "broadnet_admin_logins_total{{result=\"ok\"}} {}", self.logins_ok.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "broadnet_admin_logins_total{{result=\"failed\"}} {}",
            self.logins_failed.load(Ordering::Relaxed)
        );
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        let m = Metrics::default();
        for i in 0..1000 {
            m.observe_http(&format!("Y{i:06}{}", "A".repeat(100)), "/health", 200, Duration::from_millis(1));
        }
        m.observe_http("GET", "/health", 200, Duration::from_millis(1));
        let text = m.render("sqlite");
        assert!(text.contains("method=\"OTHER\""), "{text}");
        assert!(!text.contains("AAAA"), "{text}");
        assert!(text.len() < 10_000, "{} bytes", text.len());
    }
}
