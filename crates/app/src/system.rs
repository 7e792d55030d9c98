//! The System page: version, database backend and the background jobs (who holds
//! each lease, when it last ran, when it runs next, its last error).

use crate::{App, AppResult, Session};
use broadnet_store::JobStatus;

/// What the System page shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SystemStatus {
    pub version: &'static str,
    /// `sqlite`, `postgres` or `mysql`.
    pub backend: &'static str,
    pub jobs: Vec<JobStatus>,
}

impl App {
    pub async fn system_status(&self, _s: &Session) -> AppResult<SystemStatus> {
        Ok(SystemStatus {
            version: env!("CARGO_PKG_VERSION"),
            backend: self.store.backend_name(),
            jobs: self.store.list_jobs().await?,
        })
    }
}
