//! Records of the customer's side: vouchers and their batches, the devices bound to
//! a hotspot account, and portal orders. A hotspot account is named by its RADIUS
//! username (a customer's, or a voucher's code); devices are bound to that name.

use broadnet_domain::{Mac, Money, Phone, VoucherCharset, VoucherMode, VoucherStatus, VoucherValidity};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The key devices are bound under: the account's RADIUS username, lower-cased.
pub fn account_key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// A batch of vouchers as an admin made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoucherBatch {
    pub id: i64,
    pub name: String,
    pub package_id: i64,
    pub quantity: u32,
    pub prefix: String,
    pub code_length: u32,
    pub charset: VoucherCharset,
    pub mode: VoucherMode,
    pub validity: VoucherValidity,
    /// For `fixed` validity: the moment every voucher of the batch stops working.
    pub valid_until: Option<DateTime<Utc>>,
    pub max_devices: u32,
    /// What one voucher sells for; counted as revenue when it is first used.
    pub price: Money,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One prepaid code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Voucher {
    pub id: i64,
    /// Upper case, as printed (`broadnet_domain::hotspot::normalise_voucher_code`).
    pub code: String,
    pub package_id: i64,
    pub batch_id: Option<i64>,
    pub status: VoucherStatus,
    /// The PIN of a `pin`-mode voucher (the password); never serialised.
    #[serde(skip)]
    pub pin: Option<String>,
    pub max_devices: u32,
    pub price: Money,
    /// First use.
    pub used_at: Option<DateTime<Utc>>,
    /// Set at first use (or from the batch's fixed date).
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A device bound to a hotspot account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HotspotDevice {
    pub id: i64,
    /// The account's RADIUS username, lower-cased ([`account_key`]).
    pub username_key: String,
    pub slot: u32,
    pub mac: Mac,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A phone's purchase on the portal (or a renewal from My account): what the
/// waiting screen follows, by its random token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortalOrder {
    pub id: i64,
    #[serde(skip)]
    pub token: String,
    /// `purchase` or `renewal`.
    pub kind: String,
    pub customer_id: Option<i64>,
    pub payment_id: Option<i64>,
    pub package_id: i64,
    pub phone: Phone,
    pub mac: Option<Mac>,
    pub ip: Option<String>,
    pub router_identity: Option<String>,
    /// When we last asked the provider about it (STK query).
    pub queried_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A batch to make: its settings and its codes, already generated, normalised (upper
/// case) and unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVoucherBatch {
    pub name: String,
    pub package_id: i64,
    pub prefix: String,
    pub code_length: u32,
    pub charset: VoucherCharset,
    pub mode: VoucherMode,
    pub validity: VoucherValidity,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_devices: u32,
    pub price: Money,
    /// `(code, pin)`: the PIN only in `pin` mode.
    pub codes: Vec<(String, Option<String>)>,
    pub created_at: DateTime<Utc>,
}

/// A batch with its package's name and how many of its vouchers are in each state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchSummary {
    pub batch: VoucherBatch,
    pub package_name: String,
    /// Every state, in `VoucherStatus::ALL` order, with its count (0 included).
    pub counts: Vec<(VoucherStatus, u64)>,
}

impl BatchSummary {
    pub fn count(&self, status: VoucherStatus) -> u64 {
        self.counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n)
    }

    /// Vouchers ever used (sold): active, used up or expired after use.
    pub fn sold(&self) -> u64 {
        self.count(VoucherStatus::Active) + self.count(VoucherStatus::UsedUp) + self.count(VoucherStatus::Expired)
    }
}

/// Which vouchers to list. `code` is a prefix of normalised codes; `ids` (when not
/// empty) picks vouchers for a reprint. `per_page` goes up to 10,000 (print, CSV).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoucherQuery {
    pub batch_id: Option<i64>,
    pub status: Option<VoucherStatus>,
    pub code: Option<String>,
    pub ids: Vec<i64>,
    pub page: u64,
    pub per_page: u64,
}

/// What a first use did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoucherActivation {
    /// This call activated it (and recorded its sale).
    Activated(Voucher),
    /// It was already active (another router, or an earlier login).
    AlreadyActive(Voucher),
    /// Revoked, used up or expired: it cannot be used.
    NotUsable(Voucher),
}

/// A portal order to keep (see [`PortalOrder`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPortalOrder {
    pub token: String,
    pub kind: String,
    pub customer_id: Option<i64>,
    pub payment_id: Option<i64>,
    pub package_id: i64,
    pub phone: Phone,
    pub mac: Option<Mac>,
    pub ip: Option<String>,
    pub router_identity: Option<String>,
    pub created_at: DateTime<Utc>,
}
/// What binding a device to a hotspot account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BindOutcome {
    /// The MAC was already bound to this account.
    AlreadyBound,
    /// The MAC took this slot (moved from another account if it was bound there).
    Bound { slot: u32 },
    /// Every slot up to the maximum is taken; `bound` devices are.
    Full { bound: u32 },
}

/// An account's data allowance and what it has used of it, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DataUse {
    /// The package's `data_limit_mb` in bytes (1 MB = 1,000,000 bytes).
    pub limit: u64,
    /// In + out octets since `start` (see `HotspotRepo::data_used`).
    pub used: u64,
    /// When the allowance started (a renewal, a voucher's first use).
    pub start: Option<DateTime<Utc>>,
}

impl DataUse {
    /// Bytes left, zero once used up.
    pub fn left(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    pub fn used_up(&self) -> bool {
        self.used >= self.limit
    }
}
