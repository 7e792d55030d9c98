//! What BroadNet Billing keeps, as repository traits over plain records. The SQL
//! implementation lives in `broadnet_store_sql`; nothing here knows about SQL.

mod hotspot;
mod records;

pub use hotspot::*;
pub use records::*;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Why a storage call failed. `Conflict` names the unique value that clashed, so the
/// API can answer 409 with the field.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("still in use: {0}")]
    InUse(String),
    /// The database driver failed; see [`DatabaseError`].
    #[error("database error: {0}")]
    Database(#[source] DatabaseError),
    /// The store failed for a reason of its own (data it cannot read, a writer that stopped).
    #[error("database error: {0}")]
    Backend(String),
}

impl StoreError {
    /// True when the transaction was rolled back whole by the database (deadlock victim,
    /// serialization failure, lock timeout, SQLite busy) and running it again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Database(e) if e.is_retryable())
    }
}

/// A driver error, classified once where it is converted: its message (for logs), whether
/// running the same transaction again may succeed, and the driver's error itself.
#[derive(Debug, Clone)]
pub struct DatabaseError {
    message: String,
    retryable: bool,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl DatabaseError {
    /// `source` said `message`; `retryable` as the store decided from its error code.
    pub fn new(
        message: impl Into<String>,
        retryable: bool,
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        DatabaseError { message: message.into(), retryable, source }
    }

    /// See [`StoreError::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DatabaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Who made a change, for the audit log written in the same transaction as the change.
#[derive(Debug, Clone)]
pub struct Actor {
    pub admin_id: Option<i64>,
    pub username: String,
    pub ip: Option<String>,
    /// When the change happens (from the caller's clock); stamped on the record and the audit entry.
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Actor {
    /// Changes made by the program itself (start-up, jobs, CLI).
    pub fn system(what: &str, at: chrono::DateTime<chrono::Utc>) -> Self {
        Actor { admin_id: None, username: format!("system:{what}"), ip: None, at }
    }
}

#[async_trait]
pub trait CustomerRepo: Send + Sync {
    async fn create_customer(&self, actor: &Actor, new: NewCustomer) -> StoreResult<Customer> {
        self.create_customer_with(actor, new, &|_| Vec::new()).await
    }
    /// Creates the customer and, in the same transaction, the outbox entries that
    /// `effects` makes for it (the welcome message), so none is lost in a crash.
    async fn create_customer_with(
        &self,
        actor: &Actor,
        new: NewCustomer,
        effects: &(dyn for<'c> Fn(&'c Customer) -> Vec<NewOutbox> + Sync),
    ) -> StoreResult<Customer>;
    async fn get_customer(&self, id: i64) -> StoreResult<Customer>;
    /// Usernames are unique regardless of case: `PAYONE` finds `payone`.
    async fn get_customer_by_username(&self, username: &str) -> StoreResult<Customer>;
    /// When the change ends access or gives an active customer another package
    /// (`billing::session_action`), a `customer.sessions` outbox entry is written in
    /// the same transaction: the routers disconnect or re-rate the live sessions.
    async fn update_customer(&self, actor: &Actor, id: i64, patch: CustomerPatch) -> StoreResult<Customer>;
    async fn delete_customer(&self, actor: &Actor, id: i64) -> StoreResult<()>;
    async fn list_customers(&self, query: &CustomerQuery) -> StoreResult<Page<Customer>>;
    /// The full names of these customers (one query; unknown ids are left out).
    async fn customer_names(&self, ids: &[i64]) -> StoreResult<Vec<(i64, String)>>;
    /// Bulk insert for seeding and imports; no audit entry per row.
    async fn insert_customers_bulk(&self, rows: Vec<NewCustomer>) -> StoreResult<u64>;
    /// Access without payment (a free trial, a complimentary account): the customer
    /// becomes active until `until`, audited as `customer.activate` with the reason.
    async fn activate_customer(
        &self,
        actor: &Actor,
        id: i64,
        until: DateTime<Utc>,
        reason: &str,
    ) -> StoreResult<Customer>;
}

#[async_trait]
pub trait PackageRepo: Send + Sync {
    async fn create_package(&self, actor: &Actor, new: NewPackage) -> StoreResult<Package>;
    async fn get_package(&self, id: i64) -> StoreResult<Package>;
    async fn update_package(&self, actor: &Actor, id: i64, new: NewPackage) -> StoreResult<Package>;
    /// Refused with `InUse` while customers are on the package.
    async fn delete_package(&self, actor: &Actor, id: i64) -> StoreResult<()>;
    async fn list_packages(&self) -> StoreResult<Vec<Package>>;
}

#[async_trait]
pub trait RouterRepo: Send + Sync {
    async fn router_exists(&self, id: i64) -> StoreResult<bool>;
    async fn create_router(&self, actor: &Actor, new: NewRouter) -> StoreResult<i64>;
    /// Every router with a NAS address: the RADIUS server's client table.
    async fn radius_clients(&self) -> StoreResult<Vec<RadiusClient>>;
    async fn get_router(&self, id: i64) -> StoreResult<Router>;
    async fn list_routers(&self) -> StoreResult<Vec<Router>>;
    /// Audited as `router.update` (secrets as "(secret)").
    async fn update_router(&self, actor: &Actor, id: i64, patch: RouterPatch) -> StoreResult<Router>;
    async fn delete_router(&self, actor: &Actor, id: i64) -> StoreResult<()>;
    /// Health polls are not audited (they are not changes anyone made).
    async fn record_router_health(&self, id: i64, health: RouterHealth) -> StoreResult<()>;
    async fn create_provision_token(
        &self,
        router_id: i64,
        jti: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Marks the token used (once), remembering the address the script is served to,
    /// and returns its router; a second use, an expired or an unknown token is refused.
    async fn use_provision_token(
        &self,
        jti: &str,
        now: DateTime<Utc>,
        fetched_by: Option<&str>,
    ) -> StoreResult<Result<i64, TokenRefusal>>;
    /// Accepts the router's call back for a used token: once (atomically, of two at
    /// once one wins), within the token's hour, and only from the address that
    /// fetched the script. Returns the token's router.
    async fn callback_provision_token(
        &self,
        jti: &str,
        now: DateTime<Utc>,
        from: &str,
    ) -> StoreResult<Result<i64, TokenRefusal>>;
}

/// Sessions (FreeRADIUS's `radacct` shape) and the authentication log (`radpostauth`).
#[async_trait]
pub trait RadiusRepo: Send + Sync {
    /// Applies one accounting packet. Idempotent: a retransmission or a packet
    /// arriving after a later one never moves counters backwards or reopens a
    /// stopped session; an interim or stop without a start creates the row.
    async fn record_accounting(&self, kind: AcctKind, event: AcctEvent) -> StoreResult<()>;
    /// Several packets in order, in one transaction: all stored or none.
    async fn record_accounting_batch(&self, items: Vec<(AcctKind, AcctEvent)>) -> StoreResult<()>;
    /// Accounting-On/Off: closes the NAS's open sessions started before `at`.
    async fn close_nas_sessions(&self, nas_ip: &str, at: DateTime<Utc>, cause: &str) -> StoreResult<u64>;
    /// Closes open sessions with no update since `stale_before` (lost Stop packets).
    async fn close_stale_sessions(&self, stale_before: DateTime<Utc>, at: DateTime<Utc>) -> StoreResult<u64>;
    async fn open_session_count(&self, username: &str) -> StoreResult<u64>;
    /// Everything an Access-Request decision reads, in one round trip: the customer,
    /// their package, and their open sessions. `None` when there is no such customer.
    async fn auth_lookup(&self, username: &str) -> StoreResult<Option<(Customer, Option<Package>, u64)>>;
    async fn list_sessions(&self, query: &SessionQuery) -> StoreResult<Page<RadSession>>;
    async fn get_session(&self, id: i64) -> StoreResult<RadSession>;
    /// Appends decisions to the log, in one statement.
    async fn record_post_auth(&self, entries: Vec<PostAuth>) -> StoreResult<()>;
    async fn list_post_auth(&self, query: &PostAuthQuery) -> StoreResult<Page<PostAuth>>;
}

/// Payments, and the one transaction that turns money into access.
#[async_trait]
pub trait PaymentRepo: Send + Sync {
    async fn create_payment(&self, new: NewPayment) -> StoreResult<Payment>;
    async fn get_payment(&self, id: i64) -> StoreResult<Payment>;
    async fn find_payment_by_checkout(&self, checkout_request_id: &str) -> StoreResult<Payment>;
    async fn find_payment_by_receipt(&self, provider_receipt: &str) -> StoreResult<Payment>;
    /// Newest first.
    async fn list_payments(&self, query: &PaymentQuery) -> StoreResult<Page<Payment>>;
    /// Completes a pending payment at most once. In one transaction: the payment
    /// becomes completed with the provider's receipt (unique), the customer is
    /// renewed from the later of now and their current expiry by the package's
    /// duration and made active, the invoice is numbered, and the notification is
    /// queued in the outbox. A receipt already used by another payment is a Conflict.
    async fn complete_payment(&self, completion: Completion) -> StoreResult<CompleteOutcome>;
    /// Records the provider's ids once the push was accepted (still pending).
    async fn set_payment_checkout(
        &self,
        id: i64,
        checkout_request_id: &str,
        merchant_request_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Pending provider payments (M-Pesa, Airtel) created before `before`, oldest first.
    async fn pending_payments(&self, before: DateTime<Utc>, limit: u64) -> StoreResult<Vec<Payment>>;
    async fn get_invoice_for_payment(&self, payment_id: i64) -> StoreResult<Invoice>;
    async fn get_invoice(&self, number: &str) -> StoreResult<Invoice>;
    /// Marks a pending payment failed/cancelled/expired; anything else is left alone.
    async fn close_payment(
        &self,
        id: i64,
        status: broadnet_domain::PaymentStatus,
        result_code: &str,
        result_desc: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment>;
    /// Invoices, newest first (see [`InvoiceQuery`]).
    async fn list_invoices(&self, query: &InvoiceQuery) -> StoreResult<Page<Invoice>>;
}

/// Background jobs: which node runs each, and the expiry sweep.
#[async_trait]
pub trait JobRepo: Send + Sync {
    /// Takes or renews the named lease for `holder` until `until`; false while another
    /// holder's lease is still running. One node runs each job.
    async fn try_lease(&self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<bool>;
    /// Marks active customers whose time ran out as expired (audited, with a
    /// `customer.expired` outbox entry in the same transaction), at most `limit` per
    /// call, and returns them.
    async fn expire_customers(&self, now: DateTime<Utc>, limit: u64) -> StoreResult<Vec<Customer>>;
    /// Active customers whose expiry is in `(after, until]`, soonest first, after id `after_id`
    /// for paging.
    async fn customers_expiring(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        after_id: i64,
        limit: u64,
    ) -> StoreResult<Vec<Customer>>;
    /// Records one run of a job (upsert by name): when, by which node, when it runs
    /// next, and its error. An error is kept after later runs that succeed.
    async fn record_job_run(&self, run: &JobRun) -> StoreResult<()>;
    /// Every job known by its lease or its runs, by name.
    async fn list_jobs(&self) -> StoreResult<Vec<JobStatus>>;
}

/// Side effects that talk to the outside world (SMS, email, CoA), delivered by a job
/// with retries. Rows are written in the same transaction as the change they follow.
#[async_trait]
pub trait OutboxRepo: Send + Sync {
    /// Adds an entry unless one with the same dedupe key exists; true if added.
    async fn enqueue(&self, item: NewOutbox) -> StoreResult<bool>;
    /// Takes up to `limit` due entries (pending, or sending whose claim ran out),
    /// marking each as sending until `claim_until`, so a crash only delays them.
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<OutboxItem>>;
    async fn finish_outbox(&self, id: i64, result: OutboxResult, now: DateTime<Utc>) -> StoreResult<()>;
    /// Makes every claimed (sending) entry due now: called by a node that has just
    /// taken the delivery lease, when the previous holder (perhaps itself, before a
    /// crash) can no longer be delivering them. Returns how many.
    async fn release_outbox_claims(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    async fn list_outbox(&self, query: &OutboxQuery) -> StoreResult<Page<OutboxItem>>;
    /// "Retry now": a failed or pending entry becomes pending and due at `now`.
    /// `NotFound` for no such entry, `InUse` for one being sent or delivered.
    async fn retry_outbox(&self, id: i64, now: DateTime<Utc>) -> StoreResult<OutboxItem>;
}

/// The form of an admin username that must be unique and that logins look up:
/// surrounding white space dropped, ASCII letters lowercased (admin usernames are
/// ASCII; SQL `LOWER` and Rust agree on ASCII on every backend).
pub fn admin_username_key(username: &str) -> String {
    username.trim().to_ascii_lowercase()
}

#[async_trait]
pub trait AdminRepo: Send + Sync {
    /// `Conflict("username")` also for a case variant of an existing username.
    async fn create_admin(&self, actor: &Actor, new: NewAdmin) -> StoreResult<Admin>;
    async fn get_admin(&self, id: i64) -> StoreResult<Admin>;
    /// By [`admin_username_key`]: `" ROOT"` finds `root`.
    async fn get_admin_by_username(&self, username: &str) -> StoreResult<Admin>;
    /// Refused with `InUse` when it would leave no active superadmin; the check and
    /// the change are one atomic step, so two superadmins demoting each other at
    /// once cannot both succeed.
    async fn update_admin(&self, actor: &Actor, id: i64, patch: AdminPatch) -> StoreResult<Admin>;
    /// Refused with `InUse` for the last active superadmin, atomically as above.
    async fn delete_admin(&self, actor: &Actor, id: i64) -> StoreResult<()>;
    async fn list_admins(&self) -> StoreResult<Vec<Admin>>;
    async fn count_admins(&self) -> StoreResult<u64>;
    async fn record_login(&self, id: i64, at: chrono::DateTime<chrono::Utc>) -> StoreResult<()>;
    /// Remembers a logged-out token until it would have expired anyway.
    async fn revoke_token(&self, jti: &str, expires_at: chrono::DateTime<chrono::Utc>) -> StoreResult<()>;
    async fn is_token_revoked(&self, jti: &str) -> StoreResult<bool>;
    async fn purge_revoked_tokens(&self, now: chrono::DateTime<chrono::Utc>) -> StoreResult<u64>;
}

#[async_trait]
pub trait SettingsRepo: Send + Sync {
    async fn get_settings(&self, category: &str) -> StoreResult<Vec<Setting>>;
    /// Writes every value in one transaction with one audit entry; secret values are
    /// stored as given (already encrypted by the caller) and audited as "(changed)".
    async fn put_settings(&self, actor: &Actor, category: &str, values: Vec<Setting>) -> StoreResult<()>;
}

#[async_trait]
pub trait AuditRepo: Send + Sync {
    /// Records something that happened without changing a record (an unmatched
    /// payment callback, say), so it can be reviewed.
    async fn record_event(
        &self,
        actor: &Actor,
        action: &str,
        entity_type: &str,
        entity_id: Option<String>,
        detail: serde_json::Value,
    ) -> StoreResult<()>;
    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditEntry>>;
}

/// Records that only grow (the audit log's callback entries, the RADIUS post-auth
/// log, closed sessions): what the retention job removes. Each call handles at most
/// `limit` rows, so a first run on a large table never holds a long transaction.
#[async_trait]
pub trait RetentionRepo: Send + Sync {
    /// Deletes audit entries of `action` older than `before`.
    async fn purge_audit_action(&self, action: &str, before: DateTime<Utc>, limit: u64) -> StoreResult<u64>;
    /// Deletes `radpostauth` rows older than `before`.
    async fn purge_post_auth(&self, before: DateTime<Utc>, limit: u64) -> StoreResult<u64>;
    /// Adds sessions that stopped before `before` to their user's monthly usage and
    /// deletes them, in one transaction. Open sessions are never touched.
    async fn fold_old_sessions(&self, before: DateTime<Utc>, limit: u64) -> StoreResult<u64>;
    /// A user's monthly usage from folded sessions, newest month first.
    async fn monthly_usage(&self, username: &str) -> StoreResult<Vec<MonthlyUsage>>;
}

/// The unmatched payments queue (rule 6).
#[async_trait]
pub trait UnmatchedRepo: Send + Sync {
    /// Queues money that could not be applied. The same receipt twice (a repeated
    /// callback) is queued once: the existing entry is returned.
    async fn record_unmatched(&self, new: NewUnmatched) -> StoreResult<UnmatchedPayment>;
    async fn get_unmatched(&self, id: i64) -> StoreResult<UnmatchedPayment>;
    async fn find_unmatched_by_receipt(&self, receipt: &str) -> StoreResult<UnmatchedPayment>;
    /// Newest first.
    async fn list_unmatched(&self, query: &UnmatchedQuery) -> StoreResult<Page<UnmatchedPayment>>;
    /// Assigns an open entry to a customer, exactly once even when two admins do it
    /// at the same moment. In one transaction: the entry is marked assigned, a
    /// completed payment with its receipt is made for the customer, the money is
    /// applied like any payment (renewal, credit, invoice, outbox), and the
    /// assignment is audited.
    async fn assign_unmatched(&self, actor: &Actor, assignment: Assignment) -> StoreResult<AssignOutcome>;
}

/// The dashboard's figures and series.
#[async_trait]
/// The portal's own records: orders its waiting screen follows, and the M-Pesa codes
/// claimed on it.
pub trait PortalRepo: Send + Sync {
    async fn create_portal_order(&self, new: NewPortalOrder) -> StoreResult<PortalOrder>;
    async fn get_portal_order(&self, token: &str) -> StoreResult<PortalOrder>;
    /// A new prompt for the same order (a retry): the order follows that payment.
    async fn set_portal_order_payment(&self, id: i64, payment_id: i64) -> StoreResult<()>;
    /// Takes the right to ask the provider about the order now: `true` for one caller
    /// when it was never asked, or last asked before `asked_before`.
    async fn claim_portal_query(&self, id: i64, asked_before: DateTime<Utc>, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Orders from this device since `since`, newest first.
    async fn portal_orders_of_mac(&self, mac: &str, since: DateTime<Utc>) -> StoreResult<Vec<PortalOrder>>;
    /// Whether `receipt` was claimed on the portal before.
    async fn code_claimed(&self, receipt: &str) -> StoreResult<bool>;
    /// Records that `receipt` opened `username`; `false` when the code was claimed before.
    async fn record_code_claim(
        &self,
        receipt: &str,
        username: &str,
        mac: Option<&str>,
        ip: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

#[async_trait]
/// Vouchers: batches an admin makes, and each code's first use.
pub trait VoucherRepo: Send + Sync {
    /// Which of these (normalised) codes are taken: by a voucher, or as a customer's
    /// username (any case).
    async fn existing_voucher_codes(&self, codes: &[String]) -> StoreResult<Vec<String>>;
    /// The batch and all its codes, in one transaction (audited); `Conflict("code")`
    /// when a code was taken meanwhile.
    async fn create_voucher_batch(&self, actor: &Actor, new: NewVoucherBatch) -> StoreResult<VoucherBatch>;
    /// Newest first.
    async fn list_voucher_batches(&self, page: u64, per_page: u64) -> StoreResult<Page<BatchSummary>>;
    async fn get_voucher_batch(&self, id: i64) -> StoreResult<BatchSummary>;
    async fn list_vouchers(&self, query: &VoucherQuery) -> StoreResult<Page<Voucher>>;
    /// Unused and active vouchers of the batch become revoked; returns how many.
    async fn revoke_voucher_batch(&self, actor: &Actor, id: i64) -> StoreResult<u64>;
    /// `InUse` when it is already used up, expired or revoked.
    async fn revoke_voucher(&self, actor: &Actor, id: i64) -> StoreResult<Voucher>;
    /// By normalised code.
    async fn get_voucher_by_code(&self, code: &str) -> StoreResult<Voucher>;
    /// First use, exactly once: unused → active with its expiry, and its sale recorded
    /// as a completed `voucher` payment at its price, in one transaction.
    async fn activate_voucher(&self, code: &str, at: DateTime<Utc>) -> StoreResult<VoucherActivation>;
    /// A guarded state change (`false` when it was no longer `from`).
    async fn set_voucher_status(
        &self,
        id: i64,
        from: broadnet_domain::VoucherStatus,
        to: broadnet_domain::VoucherStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait StatsRepo: Send + Sync {
    async fn dashboard_stats(&self, q: &StatsQuery) -> StoreResult<DashboardStats>;
}

/// Hotspot accounts (a customer's username or a voucher code, by [`account_key`]):
/// the devices bound to each, and the data allowance of bundles.
#[async_trait]
pub trait HotspotRepo: Send + Sync {
    /// Binds `mac` to the account, in the lowest free slot of `1..=max`. Atomic without
    /// locks: two binds racing for the last slot collide in the unique index and exactly
    /// one wins. A MAC bound to another account is moved (one transaction).
    async fn bind_device(
        &self,
        username: &str,
        mac: &broadnet_domain::Mac,
        max: u32,
        at: DateTime<Utc>,
    ) -> StoreResult<BindOutcome>;
    /// The account's devices, by slot.
    async fn devices_of(&self, username: &str) -> StoreResult<Vec<HotspotDevice>>;
    /// Frees the device's slot; false when it was not bound to this account.
    async fn release_device(&self, username: &str, mac: &broadnet_domain::Mac) -> StoreResult<bool>;
    /// The account (its [`account_key`]) the MAC is bound to.
    async fn device_account(&self, mac: &broadnet_domain::Mac) -> StoreResult<Option<String>>;
    /// Notes that the device was seen (a login) at `at`.
    async fn touch_device(&self, mac: &broadnet_domain::Mac, at: DateTime<Utc>) -> StoreResult<()>;
    /// The account's data allowance and use; `None` when its package has no data limit
    /// (or there is no such account). Use = in + out octets of the account's sessions
    /// (by its name, or by the MAC of one of its devices) not stopped before the
    /// allowance started, less the customer's `data_offset_bytes`. The allowance starts
    /// at `data_start_at` (each renewal), for a voucher at its first use.
    async fn data_used(&self, username: &str) -> StoreResult<Option<DataUse>>;
    /// The account's open sessions (by its name, or by the MAC of one of its devices).
    async fn open_account_sessions(&self, username: &str) -> StoreResult<Vec<RadSession>>;
    /// `RadiusRepo::auth_lookup` by the customer's [`account_key`] (a device's account).
    async fn auth_lookup_by_key(&self, key: &str) -> StoreResult<Option<CustomerLookup>>;
    /// MAC login in one round trip: the account key the device is bound to and, when the
    /// account is a customer, what `RadiusRepo::auth_lookup` reads for them.
    async fn device_auth_lookup(
        &self,
        mac: &broadnet_domain::Mac,
    ) -> StoreResult<Option<(String, Option<CustomerLookup>)>>;
    /// A voucher by its (normalised) code, its package and the open sessions under the
    /// code, in one round trip.
    async fn voucher_auth_lookup(&self, code: &str) -> StoreResult<Option<(Voucher, Option<Package>, u64)>>;
}

/// What an Access-Request reads for a customer: them, their package, their open sessions.
pub type CustomerLookup = (Customer, Option<Package>, u64);

#[async_trait]
pub trait Store:
    CustomerRepo
    + PackageRepo
    + RouterRepo
    + RadiusRepo
    + PaymentRepo
    + JobRepo
    + OutboxRepo
    + AdminRepo
    + SettingsRepo
    + AuditRepo
    + RetentionRepo
    + UnmatchedRepo
    + StatsRepo
    + VoucherRepo
    + PortalRepo
    + HotspotRepo
{
    /// A cheap round trip, for `/health`.
    async fn ping(&self) -> StoreResult<()>;
    /// `sqlite`, `postgres` or `mysql`.
    fn backend_name(&self) -> &'static str;
}

pub type DynStore = Arc<dyn Store>;
