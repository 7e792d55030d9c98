//! Data bundles enforced as accounting arrives: once an account has used its allowance,
//! each of its open sessions gets a Disconnect-Request and a voucher becomes used up.
//! Usage is read from the stored sessions (absolute counters per session), so a
//! retransmission never counts twice and a restart loses nothing.

use broadnet_app::sessions::NasControl;
use broadnet_domain::hotspot::normalise_voucher_code;
use broadnet_domain::{Mac, VoucherStatus};
use broadnet_store::{StoreError, StoreResult};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use crate::{Printable, Server, Stats};

pub(crate) const BUNDLE_QUEUE: usize = 10_000;
const BUNDLE_BATCH: usize = 256;

impl Server {
    /// Checks the accounts named by stored accounting (their usernames, deduplicated
    /// per burst) against their bundles.
    pub(crate) async fn enforce_bundles(
        self: Arc<Self>,
        rx: Option<tokio::sync::mpsc::Receiver<String>>,
        shutdown: CancellationToken,
    ) {
        let Some(mut rx) = rx else { return };
        let mut names = Vec::with_capacity(BUNDLE_BATCH);
        loop {
            tokio::select! {
                n = rx.recv_many(&mut names, BUNDLE_BATCH) => if n == 0 { return },
                _ = shutdown.cancelled() => return,
            }
            names.sort();
            names.dedup();
            for name in names.drain(..) {
                if let Err(e) = self.enforce_bundle(&name).await {
                    Stats::bump(&self.stats.errors);
                    tracing::error!(error = %e, user = %Printable(&name), "cannot check the data bundle");
                }
            }
        }
    }

    async fn enforce_bundle(&self, session_user: &str) -> StoreResult<()> {
        // A device logged in by MAC accounts under its MAC: the account it is bound to.
        let account = match Mac::parse(session_user) {
            Ok(mac) => match self.store.device_account(&mac).await? {
                Some(key) => key,
                None => return Ok(()),
            },
            Err(_) => session_user.to_string(),
        };
        let Some(usage) = self.store.data_used(&account).await? else { return Ok(()) };
        if !usage.used_up() {
            return Ok(());
        }
        self.voucher_used_up(&account).await?;
        for session in self.store.open_account_sessions(&account).await? {
            tracing::info!(user = %Printable(&account), session = %Printable(&session.session_id),
                used = usage.used, limit = usage.limit, "data bundle used up: disconnecting");
            let nas = self.nas.clone();
            // Each on its own: a router that does not answer delays no one else.
            tokio::spawn(async move {
                match nas.disconnect(&session).await {
                    Ok(r) if r.ok => {}
                    Ok(r) => {
                        tracing::warn!(user = %Printable(&session.username), detail = %r.detail, "bundle disconnect refused")
                    }
                    Err(e) => {
                        tracing::warn!(user = %Printable(&session.username), error = %e, "bundle disconnect failed")
                    }
                }
            });
        }
        Ok(())
    }

    /// A voucher whose bundle is used up is used up for good (until then it is active).
    async fn voucher_used_up(&self, account: &str) -> StoreResult<()> {
        if self.store.auth_lookup_by_key(account).await?.is_some() {
            return Ok(());
        }
        let Some(code) = normalise_voucher_code(account) else { return Ok(()) };
        match self.store.get_voucher_by_code(&code).await {
            Ok(v) if v.status == VoucherStatus::Active => {
                if self
                    .store
                    .set_voucher_status(v.id, VoucherStatus::Active, VoucherStatus::UsedUp, self.clock.now())
                    .await?
                {
                    tracing::info!(voucher = %Printable(&v.code), "voucher data bundle used up");
                }
                Ok(())
            }
            Ok(_) | Err(StoreError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
