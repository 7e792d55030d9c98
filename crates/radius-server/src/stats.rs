//! Packet counters of the RADIUS server, for `/metrics` and tests.
//! Each drop reason has its own counter, so an operator sees why routers get no answer.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub access_requests: AtomicU64,
    pub accepts: AtomicU64,
    pub rejects: AtomicU64,
    pub accounting_requests: AtomicU64,
    pub duplicates: AtomicU64,
    pub dropped_malformed: AtomicU64,
    pub dropped_unknown_client: AtomicU64,
    pub dropped_bad_authenticator: AtomicU64,
    pub dropped_no_message_authenticator: AtomicU64,
    pub dropped_wrong_port: AtomicU64,
    pub errors: AtomicU64,
    pub post_auth_dropped: AtomicU64,
}

impl Stats {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// Prometheus text lines.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let rows: [(&str, &AtomicU64); 12] = [
            ("access_requests", &self.access_requests),
            ("accepts", &self.accepts),
            ("rejects", &self.rejects),
            ("accounting_requests", &self.accounting_requests),
            ("duplicates", &self.duplicates),
            ("dropped_malformed", &self.dropped_malformed),
            ("dropped_unknown_client", &self.dropped_unknown_client),
            ("dropped_bad_authenticator", &self.dropped_bad_authenticator),
            ("dropped_no_message_authenticator", &self.dropped_no_message_authenticator),
            ("dropped_wrong_port", &self.dropped_wrong_port),
            ("errors", &self.errors),
            ("post_auth_log_dropped", &self.post_auth_dropped),
        ];
        s.push_str("# TYPE broadnet_radius_packets_total counter\n");
        for (name, c) in rows {
            s.push_str(&format!("broadnet_radius_packets_total{{kind=\"{name}\"}} {}\n", Stats::get(c)));
        }
        s
    }
}
