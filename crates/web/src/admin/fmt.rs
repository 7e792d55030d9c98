//! How the pages write values: money grouped as on invoices, times in the ISP's
//! zone, byte counts, status colours. Display only; no rule lives here.

use chrono::{DateTime, FixedOffset, Utc};

/// `1,500.00` from minor units (cents), as invoices write it.
pub fn money(minor: i64) -> String {
    broadnet_domain::Money::from_minor(minor).map(broadnet_app::invoices::grouped).unwrap_or_else(|_| minor.to_string())
}

/// `1,234,567`.
pub fn count(n: impl Into<i64>) -> String {
    let n: i64 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `2026-11-27 19:05` in the ISP's zone (read once per page with `App::local_zone`).
pub fn when(t: &DateTime<Utc>, zone: &FixedOffset) -> String {
    t.with_timezone(zone).format("%Y-%m-%d %H:%M").to_string()
}

/// `when` of an optional time, `—` for none.
pub fn when_opt(t: &Option<DateTime<Utc>>, zone: &FixedOffset) -> String {
    t.as_ref().map_or_else(|| "—".to_string(), |t| when(t, zone))
}

/// `1.5 GB`, `320 KB`: powers of 1000, as ISPs sell bundles.
pub fn bytes(n: impl Into<i64>) -> String {
    let n = n.into().max(0) as f64;
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// `2d 3h`, `45m`, `12s` for a number of seconds.
pub fn uptime(secs: impl Into<i64>) -> String {
    let s = secs.into().max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The badge colour of a status word: `ok` (green), `warn` (amber), `bad` (red),
/// `off` (grey).
pub fn tone(word: &str) -> &'static str {
    match word {
        "active" | "completed" | "paid" | "sent" | "online" | "configured" | "provisioned" | "ok" | "accept"
        | "Access-Accept" | "assigned" | "delivered" | "open" => "ok",
        "pending" | "awaiting_payment" | "flagged" | "processing" | "new" | "waiting" | "retrying" | "running" => {
            "warn"
        }
        "expired" | "suspended" | "failed" | "cancelled" | "timed_out" | "offline" | "reject" | "Access-Reject"
        | "error" | "dead" => "bad",
        _ => "off",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-1000), "-1,000");
        assert_eq!(money(150_000), "1,500.00");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500_000_000), "1.5 GB");
        assert_eq!(uptime(45), "45s");
        assert_eq!(uptime(3_700), "1h 1m");
        assert_eq!(uptime(90_000), "1d 1h");
        assert_eq!(tone("awaiting_payment"), "warn");
    }
}
