//! OAuth access-token cache shared by the clones of a client.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::ProviderError;

struct Cached {
    token: String,
    refresh_at: Instant,
}

/// Caches one bearer token until `margin` before it expires. Concurrent callers wait for a single fetch.
pub struct TokenCache {
    margin: Duration,
    slot: tokio::sync::Mutex<Option<Cached>>,
}

impl TokenCache {
    pub fn new(margin: Duration) -> Self {
        Self { margin, slot: tokio::sync::Mutex::new(None) }
    }

    /// The cached token, or a new one from `fetch` (which returns the token and its lifetime in seconds).
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<String, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(String, u64), ProviderError>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, expires_in) = fetch().await?;
        let lifetime = Duration::from_secs(expires_in);
        // Refresh `margin` early; a token shorter-lived than twice the margin is kept for half its life.
        let keep = if lifetime > self.margin * 2 { lifetime - self.margin } else { lifetime / 2 };
        *slot = Some(Cached { token: token.clone(), refresh_at: Instant::now() + keep });
        Ok(token)
    }

    /// Forgets `token` if it is still the cached one (another task may already have replaced it).
    pub async fn invalidate(&self, token: &str) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.token == token) {
            *slot = None;
        }
    }
}
