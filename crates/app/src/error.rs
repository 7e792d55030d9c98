//! What a use case can answer besides success, in terms the web layer maps to
//! HTTP statuses (422, 409, 404, 401, 403, 429, 503).

use broadnet_store::StoreError;
use std::collections::BTreeMap;

/// Messages per input field, in the order fields were checked.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field} is already taken")]
    Conflict { field: String },
    #[error("{0}")]
    InUse(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("too many login attempts; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    /// The server is too busy for this now (a bounded queue is full); retry shortly.
    #[error("{0}")]
    Busy(&'static str),
    /// A provider (M-Pesa, Airtel, a router) refused or could not be reached.
    #[error("{0}")]
    Upstream(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut e = FieldErrors::new();
        e.entry(field.to_string()).or_default().push(message.into());
        AppError::Validation(e)
    }

    /// Maps a store error for an entity, so that `NotFound` says what was not found.
    pub fn from_store(what: &'static str) -> impl FnOnce(StoreError) -> AppError {
        move |e| match e {
            StoreError::NotFound => AppError::NotFound(what),
            StoreError::Conflict(field) => AppError::Conflict { field },
            StoreError::InUse(m) => AppError::InUse(m),
            StoreError::Backend(m) => AppError::Internal(m),
            StoreError::Database(e) => AppError::Internal(e.to_string()),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::from_store("record")(e)
    }
}

pub type AppResult<T> = Result<T, AppError>;
