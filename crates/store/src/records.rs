//! Plain records that cross the storage boundary.

use broadnet_domain::{CustomerStatus, CustomerType, Money, Phone, Role, ServiceType, Username};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomer {
    pub full_name: String,
    pub username: Username,
    pub password: String,
    pub phone: Phone,
    pub email: Option<String>,
    pub customer_type: CustomerType,
    pub package_id: Option<i64>,
    pub router_id: Option<i64>,
    pub status: CustomerStatus,
    pub expires_at: Option<DateTime<Utc>>,
    pub mac_address: Option<String>,
    pub static_ip: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub full_name: String,
    pub username: Username,
    #[serde(skip)]
    pub password: String,
    pub phone: Phone,
    pub email: Option<String>,
    pub customer_type: CustomerType,
    pub package_id: Option<i64>,
    pub router_id: Option<i64>,
    pub status: CustomerStatus,
    pub expires_at: Option<DateTime<Utc>>,
    /// Credit kept on the account: what payments left over after buying whole
    /// package periods (minor units). It pays the next period by itself.
    pub balance: Money,
    pub mac_address: Option<String>,
    pub static_ip: Option<String>,
    pub location: Option<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerPatch {
    pub full_name: Option<String>,
    pub username: Option<Username>,
    pub password: Option<String>,
    pub phone: Option<Phone>,
    pub email: Option<Option<String>>,
    pub customer_type: Option<CustomerType>,
    pub package_id: Option<Option<i64>>,
    pub router_id: Option<Option<i64>>,
    pub status: Option<CustomerStatus>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub mac_address: Option<Option<String>>,
    pub static_ip: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerSort {
    CreatedAt,
    FullName,
    Username,
    ExpiresAt,
    Status,
}

impl CustomerSort {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created_at" => Self::CreatedAt,
            "name" | "full_name" => Self::FullName,
            "username" => Self::Username,
            "expires_at" => Self::ExpiresAt,
            "status" => Self::Status,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerQuery {
    /// Matches anywhere in the name or username, or a phone number in any form.
    pub search: Option<String>,
    pub status: Option<CustomerStatus>,
    pub customer_type: Option<CustomerType>,
    pub package_id: Option<i64>,
    pub router_id: Option<i64>,
    /// Paid time ends in `(from, to]` ("expiring in the next 3 days").
    pub expires_between: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub sort: CustomerSort,
    pub descending: bool,
    /// 1-based.
    pub page: u64,
    pub per_page: u64,
}

impl Default for CustomerQuery {
    fn default() -> Self {
        CustomerQuery {
            search: None,
            status: None,
            customer_type: None,
            package_id: None,
            router_id: None,
            expires_between: None,
            sort: CustomerSort::CreatedAt,
            descending: true,
            page: 1,
            per_page: 25,
        }
    }
}

/// The highest page number a list answers. With at most 500 rows a page, the SQL
/// OFFSET `(page - 1) * per_page` then stays far below `i64::MAX`: the database
/// drivers panic on an OFFSET that does not fit (review D6).
pub const MAX_PAGE: u64 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewPackage {
    pub name: String,
    pub description: Option<String>,
    pub service_type: ServiceType,
    pub price: Money,
    pub download_bps: u64,
    pub upload_bps: u64,
    pub burst: Option<PackageBurst>,
    pub duration_minutes: i64,
    pub data_limit_mb: Option<i64>,
    pub shared_users: i32,
    /// Router-local IP pool to allocate from (Framed-Pool), when set.
    pub framed_pool: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PackageBurst {
    pub download_bps: u64,
    pub upload_bps: u64,
    pub threshold_download_bps: u64,
    pub threshold_upload_bps: u64,
    pub time_secs: u32,
}

/// The speed as RouterOS takes it (Mikrotik-Rate-Limit).
pub fn rate_limit_of(download_bps: u64, upload_bps: u64, burst: Option<PackageBurst>) -> broadnet_domain::RateLimit {
    use broadnet_domain::{Burst, Rate, RateLimit};
    RateLimit {
        download: Rate::from_bps(download_bps),
        upload: Rate::from_bps(upload_bps),
        burst: burst.map(|b| Burst {
            download: Rate::from_bps(b.download_bps),
            upload: Rate::from_bps(b.upload_bps),
            threshold_download: Rate::from_bps(b.threshold_download_bps),
            threshold_upload: Rate::from_bps(b.threshold_upload_bps),
            time_secs: b.time_secs,
        }),
    }
}

impl Package {
    /// The speed as RouterOS takes it (Mikrotik-Rate-Limit).
    pub fn rate_limit(&self) -> broadnet_domain::RateLimit {
        rate_limit_of(self.download_bps, self.upload_bps, self.burst)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub service_type: ServiceType,
    pub price: Money,
    pub download_bps: u64,
    pub upload_bps: u64,
    pub burst: Option<PackageBurst>,
    pub duration_minutes: i64,
    pub data_limit_mb: Option<i64>,
    pub shared_users: i32,
    /// Router-local IP pool to allocate from (Framed-Pool), when set.
    pub framed_pool: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAdmin {
    pub username: String,
    pub password_hash: String,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Admin {
    pub id: i64,
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub role: Role,
    pub active: bool,
    /// When the admin's sessions were last ended (password change, deactivation).
    #[serde(skip)]
    pub tokens_valid_after: Option<DateTime<Utc>>,
    /// Carried in every token; bumping it ends all sessions issued before, exactly
    /// (a time comparison cannot tell apart tokens issued in the same second).
    #[serde(skip)]
    pub session_epoch: i64,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdminPatch {
    pub password_hash: Option<String>,
    pub full_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// End every session: bump `session_epoch`, stamp `tokens_valid_after`.
    pub end_sessions: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub admin_id: Option<i64>,
    pub admin_username: String,
    pub ip: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditQuery {
    /// e.g. `payment.callback_flagged`
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub admin_id: Option<i64>,
    pub page: u64,
    pub per_page: u64,
}

/// A router as the RADIUS server needs it (a RADIUS client, "NAS").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRouter {
    pub name: String,
    /// The address its RADIUS packets come from.
    pub nas_ip: Option<String>,
    pub radius_secret: String,
    pub service_types: broadnet_domain::ServiceType,
    /// Drop Access-Requests without Message-Authenticator (BlastRADIUS); off only for old firmware.
    pub require_message_authenticator: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RadiusClient {
    pub router_id: i64,
    pub name: String,
    pub nas_ip: String,
    #[serde(skip)]
    pub secret: String,
    pub service_types: broadnet_domain::ServiceType,
    pub require_message_authenticator: bool,
}

/// One accounting packet, reduced to what the sessions table keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AcctEvent {
    /// Stable key of the session: hash of NAS, Acct-Session-Id and user.
    pub unique_id: String,
    pub session_id: String,
    pub username: String,
    pub nas_ip: String,
    pub router_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub nas_port_id: Option<String>,
    pub nas_port_type: Option<String>,
    /// Event-Timestamp, or when the packet arrived.
    pub at: DateTime<Utc>,
    pub session_time: Option<i64>,
    /// Octets with gigawords folded in.
    pub input_octets: Option<i64>,
    pub output_octets: Option<i64>,
    pub framed_ip: Option<String>,
    pub calling_station_id: Option<String>,
    pub called_station_id: Option<String>,
    pub terminate_cause: Option<String>,
    pub service_type: Option<String>,
    pub framed_protocol: Option<String>,
    pub class: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcctKind {
    Start,
    Interim,
    Stop,
}

/// A row of the sessions (radacct) table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RadSession {
    pub id: i64,
    pub unique_id: String,
    pub session_id: String,
    pub username: String,
    pub nas_ip: String,
    pub router_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub session_time: Option<i64>,
    pub input_octets: Option<i64>,
    pub output_octets: Option<i64>,
    pub framed_ip: Option<String>,
    pub calling_station_id: Option<String>,
    pub terminate_cause: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionQuery {
    pub username: Option<String>,
    pub router_id: Option<i64>,
    pub open_only: bool,
    /// Sessions of customers of this type (a login that is no customer matches none).
    pub customer_type: Option<broadnet_domain::CustomerType>,
    pub page: u64,
    pub per_page: u64,
}

/// One authentication decision, like FreeRADIUS's radpostauth (without the password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostAuth {
    pub username: String,
    /// "Access-Accept" or "Access-Reject".
    pub reply: String,
    pub reason: Option<String>,
    pub router_id: Option<i64>,
    pub nas_ip: Option<String>,
    pub calling_station_id: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostAuthQuery {
    pub username: Option<String>,
    pub router_id: Option<i64>,
    /// "Access-Accept" or "Access-Reject".
    pub reply: Option<String>,
    pub page: u64,
    pub per_page: u64,
}

/// A payment we start (STK push, cash at the counter, a voucher).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub customer_id: i64,
    pub package_id: i64,
    pub provider: broadnet_domain::PaymentProvider,
    pub amount: Money,
    pub currency: String,
    pub phone: Option<Phone>,
    pub checkout_request_id: Option<String>,
    pub merchant_request_id: Option<String>,
    pub account_reference: Option<String>,
    pub initiated_by_admin_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub package_id: Option<i64>,
    pub provider: broadnet_domain::PaymentProvider,
    pub amount: Money,
    pub currency: String,
    pub phone: Option<Phone>,
    pub status: broadnet_domain::PaymentStatus,
    pub checkout_request_id: Option<String>,
    pub merchant_request_id: Option<String>,
    pub provider_receipt: Option<String>,
    pub account_reference: Option<String>,
    pub result_code: Option<String>,
    pub result_desc: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Payment {
    /// How the money arrived (STK, paybill, Airtel, cash, voucher).
    pub fn channel(&self) -> broadnet_domain::PaymentChannel {
        broadnet_domain::PaymentChannel::of(self.provider, self.checkout_request_id.as_deref())
    }
}

/// What a provider's success callback (or the status query) tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub payment_id: i64,
    /// The provider's unique reference (M-Pesa receipt, Airtel transaction id).
    pub provider_receipt: String,
    pub amount: Money,
    pub phone: Option<Phone>,
    /// The provider's own words, kept on the payment.
    pub result_desc: String,
    pub at: DateTime<Utc>,
    /// The provider's own status answer (STK query, Airtel enquiry) says the money
    /// moved: a payment that a callback or a timeout closed as failed, cancelled or
    /// expired is completed after all. Never set from a callback's word alone.
    pub provider_confirmed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// This call completed it: the money was applied (whole periods renewed, the rest
    /// kept as credit) and the invoice numbered. `expires_at` is the customer's expiry
    /// afterwards (unchanged, perhaps none, when the amount bought no period).
    Completed {
        payment: Payment,
        invoice_number: String,
        expires_at: Option<DateTime<Utc>>,
        renewal: broadnet_domain::billing::Renewal,
    },
    /// An earlier call did (a duplicate callback): nothing changed.
    AlreadyCompleted { payment: Payment },
    /// The callback does not match the payment (amount, phone) or the payment is
    /// no longer pending: recorded on the payment, nothing applied.
    Refused { payment: Payment, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaymentQuery {
    pub customer_id: Option<i64>,
    pub status: Option<broadnet_domain::PaymentStatus>,
    pub provider: Option<broadnet_domain::PaymentProvider>,
    pub page: u64,
    /// 0 means the default, 50.
    pub per_page: u64,
    /// Created at or after this instant.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before this instant.
    pub created_before: Option<DateTime<Utc>>,
}

/// A numbered invoice, one per completed payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invoice {
    pub id: i64,
    pub number: String,
    pub payment_id: i64,
    pub customer_id: Option<i64>,
    pub customer_name: String,
    pub package_name: Option<String>,
    pub amount: Money,
    pub currency: String,
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    pub issued_at: DateTime<Utc>,
    /// Package periods the payment (with earlier credit) bought; 0 for an underpayment.
    pub periods: u32,
    /// What those periods took, of the amount paid plus earlier credit.
    pub applied: Money,
    /// The customer's credit after this payment.
    pub balance_after: Money,
}

broadnet_domain::text_enum!(
    /// What an outbox entry asks for. Events (`payment.completed`, `customer.*`) are
    /// turned into messages and router actions when delivered; `sms` and `email` are
    /// one message each.
    OutboxKind {
        PaymentCompleted => "payment.completed",
        PaymentFailed => "payment.failed",
        CustomerWelcome => "customer.welcome",
        CustomerReminder => "customer.reminder",
        CustomerExpired => "customer.expired",
        CustomerRenewed => "customer.renewed",
        CustomerSessions => "customer.sessions",
        Sms => "sms",
        Email => "email",
    }
);

broadnet_domain::text_enum!(
    /// An outbox entry's delivery: pending (due at `next_attempt_at`), sending (claimed
    /// by the delivery job), delivered, or failed for good.
    OutboxStatus { Pending => "pending", Sending => "sending", Delivered => "delivered", Failed => "failed" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbox {
    pub kind: OutboxKind,
    pub payload: serde_json::Value,
    /// Entries with the same key are added once (a reminder per customer and expiry, say).
    pub dedupe_key: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxItem {
    pub id: i64,
    pub kind: OutboxKind,
    pub payload: serde_json::Value,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub dedupe_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxResult {
    Delivered,
    /// Try again at the given time.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Give up: a permanent error or too many attempts.
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboxQuery {
    pub kind: Option<OutboxKind>,
    pub status: Option<OutboxStatus>,
    /// Entries about this customer (the payload's `customer_id`, kept in a column).
    pub customer_id: Option<i64>,
    pub page: u64,
    pub per_page: u64,
}

/// A MikroTik router: its RADIUS identity, the wizard's choices, how we reach its
/// API, and what the last health poll saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Router {
    pub id: i64,
    pub name: String,
    pub nas_ip: Option<String>,
    #[serde(skip)]
    pub radius_secret: String,
    pub service_types: broadnet_domain::ServiceType,
    /// Ethernet ports joined to the billing bridge, e.g. ["ether2", "ether3"].
    pub bridge_ports: Vec<String>,
    pub anti_sharing: bool,
    pub require_message_authenticator: bool,
    pub api_host: Option<String>,
    pub api_port: Option<i32>,
    pub api_tls: bool,
    pub api_tls_insecure: bool,
    pub api_username: Option<String>,
    /// Encrypted by the app (never shown).
    #[serde(skip)]
    pub api_password_enc: Option<String>,
    pub state: broadnet_domain::RouterState,
    pub identity: Option<String>,
    pub ros_version: Option<String>,
    pub board: Option<String>,
    pub online: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub uptime_secs: Option<i64>,
    pub cpu_load: Option<i32>,
    pub free_memory: Option<i64>,
    pub total_memory: Option<i64>,
    pub active_pppoe: Option<i32>,
    pub active_hotspot: Option<i32>,
    pub health_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A partial update of a router; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterPatch {
    pub name: Option<String>,
    pub nas_ip: Option<Option<String>>,
    pub service_types: Option<broadnet_domain::ServiceType>,
    pub bridge_ports: Option<Vec<String>>,
    pub anti_sharing: Option<bool>,
    pub api_host: Option<Option<String>>,
    pub api_port: Option<Option<i32>>,
    pub api_tls: Option<bool>,
    pub api_tls_insecure: Option<bool>,
    pub api_username: Option<Option<String>>,
    pub api_password_enc: Option<Option<String>>,
    pub state: Option<broadnet_domain::RouterState>,
    pub identity: Option<Option<String>>,
    pub ros_version: Option<Option<String>>,
    pub board: Option<Option<String>>,
}

/// What a health poll saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterHealth {
    pub online: bool,
    pub at: DateTime<Utc>,
    pub uptime_secs: Option<i64>,
    pub cpu_load: Option<i32>,
    pub free_memory: Option<i64>,
    pub total_memory: Option<i64>,
    pub ros_version: Option<String>,
    pub active_pppoe: Option<i32>,
    pub active_hotspot: Option<i32>,
    pub error: Option<String>,
}

/// Why a provisioning token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Expired,
    Used,
    /// A callback before the script was fetched.
    NotFetched,
    /// A second callback: only the first is accepted.
    CalledBack,
    /// A callback from another address than the one the script was served to.
    WrongAddress,
}

/// One user's usage in one month (UTC), from sessions folded by retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthlyUsage {
    pub username: String,
    pub customer_id: Option<i64>,
    /// `YYYY-MM`
    pub month: String,
    pub sessions: i64,
    /// Seconds online.
    pub session_time: i64,
    pub input_octets: i64,
    pub output_octets: i64,
}

broadnet_domain::text_enum!(
    /// An unmatched payment's life: open until an admin assigns it to a customer
    /// (or the payer claims it by its code), exactly once.
    UnmatchedStatus { Open => "open", Assigned => "assigned", Claimed => "claimed" }
);

/// Money that arrived but fits no customer or package automatically: a paybill
/// account that names nobody, a suspended customer, a provider-confirmed success for
/// a payment we had closed. Kept for a person to resolve (rule 6), never only logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUnmatched {
    pub provider: broadnet_domain::PaymentProvider,
    /// The provider's unique reference (M-Pesa TransID or receipt): recorded once.
    pub receipt: String,
    pub amount: Money,
    /// As the provider gave it (C2B v2 masks the middle digits).
    pub phone: Option<String>,
    pub payer_name: Option<String>,
    pub account_reference: Option<String>,
    /// Why it could not be applied.
    pub reason: String,
    /// The payment it came for, when there was one (a late success).
    pub payment_id: Option<i64>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmatchedPayment {
    pub id: i64,
    pub provider: broadnet_domain::PaymentProvider,
    pub receipt: String,
    pub amount: Money,
    pub currency: String,
    pub phone: Option<String>,
    pub payer_name: Option<String>,
    pub account_reference: Option<String>,
    pub reason: String,
    pub status: UnmatchedStatus,
    /// The payment it came for (late success) or, once assigned, the payment made of it.
    pub payment_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnmatchedQuery {
    pub status: Option<UnmatchedStatus>,
    pub page: u64,
    pub per_page: u64,
}

/// An admin's decision: this money is that customer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub unmatched_id: i64,
    pub customer_id: i64,
    /// The package the money renews; the customer's own when `None`.
    pub package_id: Option<i64>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignOutcome {
    /// This call assigned it: a completed payment was made of it, applied like any other.
    Assigned { unmatched: Box<UnmatchedPayment>, outcome: Box<CompleteOutcome> },
    /// Someone assigned (or claimed) it first; nothing changed.
    AlreadyResolved { unmatched: Box<UnmatchedPayment> },
}

/// The moments the dashboard's figures are counted from, chosen by the caller in
/// the ISP's time zone (days and months start at local midnight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    pub now: DateTime<Utc>,
    /// The starts of the last days, oldest first; the last one is today's. Revenue
    /// is summed per day from each start to the next (today: to `now`).
    pub days: Vec<DateTime<Utc>>,
    /// The start of this month.
    pub month_start: DateTime<Utc>,
    /// The starts of the last months, oldest first (new customers per month).
    pub months: Vec<DateTime<Utc>>,
    /// The starts of the last hours, oldest first (sessions online per hour).
    pub hours: Vec<DateTime<Utc>>,
    /// Customers whose paid time ends in `(now, expiring_until]` are "expiring".
    pub expiring_until: DateTime<Utc>,
}

/// Completed money of one provider and kind, summed per day of `StatsQuery::days`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueRow {
    pub provider: broadnet_domain::PaymentProvider,
    /// The row's payments carry an M-Pesa paybill key (see `PaymentChannel::of`).
    pub paybill: bool,
    /// Minor units per day, as `days`.
    pub per_day: Vec<i64>,
    /// Minor units since `month_start`.
    pub month: i64,
}

/// Counts behind the dashboard, each one aggregate query (no rows are read into
/// memory to be counted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DashboardStats {
    /// Customers per status (`active`, `expired`, …).
    pub customers_by_status: Vec<(String, u64)>,
    /// Active customers whose paid time ends soon.
    pub expiring: u64,
    /// Open sessions per customer type (`pppoe`, `hotspot`; `other` for a username
    /// that is no customer).
    pub online_by_type: Vec<(String, u64)>,
    pub revenue: Vec<RevenueRow>,
    /// M-Pesa prompts (payments with an STK checkout id) made today: `(status,
    /// result_code, count)`.
    pub stk_today: Vec<(broadnet_domain::PaymentStatus, Option<String>, u64)>,
    /// SMS queued today per delivery status.
    pub sms_today: Vec<(OutboxStatus, u64)>,
    /// Access-Rejects in the last hour.
    pub rejects_last_hour: u64,
    /// New customers per month of `StatsQuery::months`.
    pub new_customers: Vec<u64>,
    /// Sessions open at some moment of each hour of `StatsQuery::hours`.
    pub sessions_per_hour: Vec<u64>,
}

/// The invoices list: `search` is a number's start or a part of the customer's name
/// (any case); newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvoiceQuery {
    pub search: Option<String>,
    pub customer_id: Option<i64>,
    pub page: u64,
    /// 0 means the default, 50.
    pub per_page: u64,
}

/// One run of a background job, as the node that ran it records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub name: String,
    pub holder: String,
    pub at: DateTime<Utc>,
    pub next_at: DateTime<Utc>,
    /// `None` when the run succeeded.
    pub error: Option<String>,
}

/// A background job as the System page shows it: its lease and its last run.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct JobStatus {
    pub name: String,
    /// The node holding the lease, and until when.
    pub holder: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_run_ok: Option<bool>,
    pub next_run_at: Option<DateTime<Utc>>,
    /// The last error (kept after later runs succeed), and when it happened.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}
