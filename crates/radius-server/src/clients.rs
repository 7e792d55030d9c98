//! The RADIUS clients: routers from the database by source address, with their shared secret
//! (or RADIUS_SHARED_SECRET), re-read periodically, and a bounded log limiter for unknown sources.

use broadnet_store::RadiusClient;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Printable, Server};

/// The routers, by source address, re-read periodically and on an unknown source.
pub(crate) struct Clients {
    pub(crate) by_ip: HashMap<IpAddr, RadiusClient>,
    pub(crate) loaded_at: Option<Instant>,
}

pub(crate) const UNKNOWN_LOG_INTERVAL: Duration = Duration::from_secs(60);
pub(crate) const UNKNOWN_LOG_SOURCES: usize = 1024;

/// Rate limit for the "unknown address" warning: each source is logged at most once
/// per interval, with how many packets were dropped unlogged since. Source addresses
/// of UDP are trivially spoofed, so the map is bounded: once full (after forgetting
/// quiet sources) every further new source shares one overflow entry.
pub(crate) struct UnknownSources {
    interval: Duration,
    max: usize,
    /// Last logged at, and packets dropped since without a log line. `None` is the
    /// overflow entry.
    seen: Mutex<HashMap<Option<IpAddr>, (Instant, u64)>>,
}

impl UnknownSources {
    pub(crate) fn new(interval: Duration, max: usize) -> Self {
        UnknownSources { interval, max, seen: Mutex::new(HashMap::new()) }
    }

    /// A packet from `ip` was dropped at `now`: `Some(suppressed)` if it should be
    /// logged (with the count of packets not logged since the last line), else `None`.
    pub(crate) fn note(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = Some(ip);
        if !seen.contains_key(&key) && seen.len() >= self.max {
            let interval = self.interval;
            seen.retain(|k, (at, _)| k.is_none() || now.saturating_duration_since(*at) < interval);
            if seen.len() >= self.max {
                key = None;
            }
        }
        match seen.get_mut(&key) {
            Some((at, suppressed)) if now.saturating_duration_since(*at) < self.interval => {
                *suppressed += 1;
                None
            }
            Some((at, suppressed)) => {
                let n = *suppressed;
                *at = now;
                *suppressed = 0;
                Some(n)
            }
            None => {
                seen.insert(key, (now, 0));
                Some(0)
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or_default()
    }
}

impl Server {
    /// The router sending from `ip`, reading the routers table again when ours is stale.
    pub(crate) async fn client(&self, ip: IpAddr) -> Option<RadiusClient> {
        {
            let c = self.clients.read().await;
            let fresh = c.loaded_at.is_some_and(|t| t.elapsed() < self.cfg.client_refresh);
            if let Some(found) = c.by_ip.get(&ip) {
                if fresh {
                    return Some(found.clone());
                }
            } else if c.loaded_at.is_some_and(|t| t.elapsed() < Duration::from_secs(5)) {
                // Unknown source and the table was just read: don't let a flood hit the database.
                return None;
            }
        }
        let mut c = self.clients.write().await;
        match self.store.radius_clients().await {
            Ok(list) => {
                let mut by_ip = HashMap::new();
                for mut cl in list {
                    if cl.secret.is_empty() {
                        if self.cfg.default_secret.is_empty() {
                            tracing::warn!(router = %Printable(&cl.name), "router has no RADIUS secret and RADIUS_SHARED_SECRET is not set: ignored");
                            continue;
                        }
                        cl.secret = self.cfg.default_secret.clone();
                    }
                    if let Ok(addr) = cl.nas_ip.parse::<IpAddr>() {
                        // Several routers behind one NAT share an address: the first one wins.
                        by_ip.entry(addr).or_insert(cl);
                    }
                }
                c.by_ip = by_ip;
                c.loaded_at = Some(Instant::now());
            }
            Err(e) => tracing::error!(error = %e, "cannot read RADIUS clients"),
        }
        c.by_ip.get(&ip).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_sources_are_logged_once_per_interval_with_a_count() {
        let u = UnknownSources::new(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        let a = IpAddr::from([192, 0, 2, 1]);
        let b = IpAddr::from([192, 0, 2, 2]);
        assert_eq!(u.note(a, t0), Some(0));
        for i in 1..=9_999u64 {
            assert_eq!(u.note(a, t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(u.note(b, t0), Some(0), "another source is logged on its own");
        assert_eq!(u.note(a, t0 + Duration::from_secs(60)), Some(9_999));
        assert_eq!(u.note(a, t0 + Duration::from_secs(61)), None);
    }

    #[test]
    fn unknown_sources_memory_is_bounded() {
        let u = UnknownSources::new(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        let mut logged = 0;
        for i in 0..10_000u32 {
            if u.note(IpAddr::from(i.to_be_bytes()), t0).is_some() {
                logged += 1;
            }
        }
        // Three sources and the overflow entry: four lines, not ten thousand.
        assert_eq!(logged, 4);
        assert!(u.len() <= 4);
        // After the interval quiet sources are forgotten and new ones get their own line.
        assert_eq!(u.note(IpAddr::from([10, 0, 0, 1]), t0 + Duration::from_secs(61)), Some(0));
        assert!(u.len() <= 4);
    }
}
