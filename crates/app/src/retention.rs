//! Retention: the audit log's unmatched-callback entries, the RADIUS post-auth log
//! and closed sessions are kept for a set time (the sessions then survive as monthly
//! usage per customer), so the database of a busy ISP stops growing without bound.

use crate::{App, AppResult};
use chrono::Duration;

/// How long each kind of record is kept; `None` keeps it forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `payment.callback_flagged` entries in the audit log.
    pub flagged_callbacks: Option<Duration>,
    /// `radpostauth` rows (every Access-Accept and Access-Reject).
    pub post_auth: Option<Duration>,
    /// Closed `radacct` rows, folded into monthly usage first.
    pub sessions: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            flagged_callbacks: Some(Duration::days(90)),
            post_auth: Some(Duration::days(90)),
            // Twelve months of 31 days.
            sessions: Some(Duration::days(12 * 31)),
        }
    }
}

/// Rows handled per statement, and statements per kind per run.
const BATCH: u64 = 2000;
const BATCHES_PER_RUN: usize = 50;

impl App {
    /// One retention pass; returns how many rows were removed (more are left for the
    /// next run when a table holds more than a run's worth).
    pub async fn run_retention(&self) -> AppResult<usize> {
        let now = self.now();
        let r = self.retention;
        let mut removed = 0u64;
        if let Some(keep) = r.flagged_callbacks {
            for _ in 0..BATCHES_PER_RUN {
                let n = self.store.purge_audit_action("payment.callback_flagged", now - keep, BATCH).await?;
                removed += n;
                if n < BATCH {
                    break;
                }
            }
        }
        if let Some(keep) = r.post_auth {
            for _ in 0..BATCHES_PER_RUN {
                let n = self.store.purge_post_auth(now - keep, BATCH).await?;
                removed += n;
                if n < BATCH {
                    break;
                }
            }
        }
        if let Some(keep) = r.sessions {
            for _ in 0..BATCHES_PER_RUN {
                let n = self.store.fold_old_sessions(now - keep, BATCH).await?;
                removed += n;
                if n < BATCH {
                    break;
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "retention: old records removed");
        }
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }
}
