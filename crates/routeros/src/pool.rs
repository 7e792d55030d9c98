//! Keeping connections to routers alive across calls: a dead connection is replaced on the next call.
//!
//! Nothing is retried automatically — an `add` that failed because the connection died may or may not have
//! reached the router, so the caller decides (re-running [`crate::Client::ensure`] is always safe).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::{Client, ConnectOptions, RosError};

/// One router's connection, re-established on demand.
#[derive(Debug)]
pub struct Reconnecting {
    opts: ConnectOptions,
    current: tokio::sync::Mutex<Option<Client>>,
}

impl Reconnecting {
    /// Nothing connects until the first [`Reconnecting::client`] call.
    pub fn new(opts: ConnectOptions) -> Self {
        Reconnecting { opts, current: tokio::sync::Mutex::new(None) }
    }

    /// The options used to connect.
    pub fn options(&self) -> &ConnectOptions {
        &self.opts
    }

    /// A live client: the current one, or a new connection if there is none or it died. Concurrent callers
    /// share one connection attempt.
    pub async fn client(&self) -> Result<Client, RosError> {
        let mut current = self.current.lock().await;
        if let Some(client) = current.as_ref()
            && !client.is_closed()
        {
            return Ok(client.clone());
        }
        *current = None;
        let client = Client::connect(self.opts.clone()).await?;
        *current = Some(client.clone());
        Ok(client)
    }

    /// Drop the current connection (the next call reconnects).
    pub async fn reset(&self) {
        if let Some(client) = self.current.lock().await.take() {
            client.close();
        }
    }
}

/// Connections to many routers, keyed by the caller's router id.
#[derive(Debug, Default)]
pub struct Pool {
    routers: Mutex<HashMap<String, Arc<Reconnecting>>>,
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// A live client for router `key`, connecting (or reconnecting) as needed. If `opts` differ from those
    /// the pool holds for `key` (new address or password), the old connection is dropped.
    pub async fn client(&self, key: &str, opts: &ConnectOptions) -> Result<Client, RosError> {
        let entry = {
            let mut routers = self.routers.lock().unwrap_or_else(PoisonError::into_inner);
            match routers.get(key) {
                Some(existing) if existing.options() == opts => existing.clone(),
                _ => {
                    let fresh = Arc::new(Reconnecting::new(opts.clone()));
                    routers.insert(key.to_owned(), fresh.clone());
                    fresh
                }
            }
        };
        entry.client().await
    }

    /// Forget router `key` (its connection closes when no caller holds a clone).
    pub fn forget(&self, key: &str) {
        self.routers.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }

    /// Router keys currently held.
    pub fn keys(&self) -> Vec<String> {
        self.routers.lock().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect()
    }
}
