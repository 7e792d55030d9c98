//! Vouchers: batches of prepaid codes made from a hotspot package, listed, revoked,
//! exported as CSV and laid out for printing. Codes come from the operating system's
//! CSPRNG (through `rand`), use alphabets without 0/O/1/I, and are unique in the store.

use crate::input::{Fields, Input, Slot, Unknown};
use crate::{App, AppError, AppResult, Session};
use broadnet_domain::{
    Money, ServiceType, VoucherCharset, VoucherMode, VoucherStatus, VoucherValidity, format_duration_minutes,
};
use broadnet_store::{BatchSummary, NewVoucherBatch, Package, Page, StoreError, Voucher, VoucherBatch, VoucherQuery};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The most vouchers one batch may hold.
pub const MAX_QUANTITY: i64 = 10_000;
/// The random part of a code must have at least this many possible values per
/// voucher of the batch, so that codes stay hard to guess and fresh ones are found
/// quickly.
pub const COMBINATIONS_PER_VOUCHER: u128 = 1_000;
/// The most vouchers a print page or a CSV holds at once.
pub const MAX_PRINT: u64 = 10_000;
/// How many times creating a batch is tried again when another batch took one of its
/// codes between our check and our insert.
const CREATE_TRIES: usize = 3;

/// A new batch as an admin asks for it, from JSON or the "New batch" form. Only
/// `package_id` and `quantity` are required.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BatchRequest {
    pub package_id: Input,
    pub quantity: Input,
    /// A label for the admins ("Market day 12 Dec"); defaults to package and date.
    pub name: Input,
    /// Up to 8 characters put before each code (no 0/O/1/I/L).
    pub prefix: Input,
    /// Random characters after the prefix (default 8).
    pub code_length: Input,
    /// `digits` (default), `letters` or `mixed`.
    pub charset: Input,
    /// `code` (default: the code is the password) or `pin` (code + PIN).
    pub mode: Input,
    /// PIN digits in `pin` mode: 4 to 6 (default 4).
    pub pin_length: Input,
    /// `first_use` (default: the package's duration from first login) or `fixed`.
    pub validity: Input,
    /// For `fixed`: a date (`2026-12-31`, to the end of that day) or a date and time
    /// (`2026-12-31 18:00`), in the ISP's time zone, in the future.
    pub valid_until: Input,
    /// Devices at once; defaults to the package's shared users.
    pub max_devices: Input,
    /// Price of one voucher in major units; defaults to the package's price.
    pub price: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// A batch request checked, with the package it sells, before codes are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchPlan {
    pub name: String,
    pub package: Package,
    pub quantity: u32,
    pub prefix: String,
    pub code_length: u32,
    pub charset: VoucherCharset,
    pub mode: VoucherMode,
    pub pin_length: u32,
    pub validity: VoucherValidity,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_devices: u32,
    pub price: Money,
}

/// How many different codes `length` characters of `charset` make.
pub fn combinations(charset: VoucherCharset, length: u32) -> u128 {
    (charset.alphabet().len() as u128).saturating_pow(length)
}

/// The shortest random part that leaves [`COMBINATIONS_PER_VOUCHER`] codes per voucher.
pub fn min_code_length(charset: VoucherCharset, quantity: u32) -> u32 {
    let need = COMBINATIONS_PER_VOUCHER * u128::from(quantity.max(1));
    (1..=32).find(|&n| combinations(charset, n) >= need).unwrap_or(32)
}

/// Checks a request against its package (looked up by the caller) and the ISP's
/// time zone; every bad field is reported at once.
pub fn plan_batch(
    req: &BatchRequest,
    package: Option<&Package>,
    zone: FixedOffset,
    now: DateTime<Utc>,
) -> AppResult<BatchPlan> {
    let mut f = Fields::new(&req.unknown);
    let package_id = f.int("package_id", &req.package_id, 1, i64::MAX);
    let package_id = f.required("package_id", package_id);
    let package = match (package_id, package) {
        (Some(_), Some(p)) if !matches!(p.service_type, ServiceType::Hotspot | ServiceType::Both) => {
            f.error("package_id", "is a PPPoE-only package: vouchers need a hotspot package");
            None
        }
        (Some(_), Some(p)) if !p.active => {
            f.error("package_id", "is not active: activate the package first");
            None
        }
        (Some(_), Some(p)) => Some(p.clone()),
        (Some(_), None) => {
            f.error("package_id", "no such package");
            None
        }
        (None, _) => None,
    };
    let quantity = f.int("quantity", &req.quantity, 1, MAX_QUANTITY);
    let quantity = f.required("quantity", quantity).map(|n| n as u32);
    let name = f.line("name", &req.name, 128).value();
    let prefix = match f.text("prefix", &req.prefix, 8) {
        Slot::Value(p) => {
            let p = p.to_ascii_uppercase();
            if p.bytes().all(|b| VoucherCharset::Mixed.alphabet().contains(&b)) {
                p
            } else {
                f.error("prefix", "may only use the digits 2–9 and the letters A–Z except I, L and O");
                String::new()
            }
        }
        _ => String::new(),
    };
    let charset = match f.parsed("charset", &req.charset, VoucherCharset::parse) {
        Slot::Value(c) => c,
        _ => VoucherCharset::Digits,
    };
    let code_length = f.int("code_length", &req.code_length, 4, 24).value().unwrap_or(8) as u32;
    if !f.has_error("code_length") && !f.has_error("charset") {
        if let Some(q) = quantity {
            let have = combinations(charset, code_length);
            if have < COMBINATIONS_PER_VOUCHER * u128::from(q) {
                f.error(
                    "code_length",
                    format!(
                        "{code_length} characters of {} give {have} codes, too few for {q} vouchers (at least {} codes per voucher keep them hard to guess): use {} characters or more",
                        charset.as_str(),
                        COMBINATIONS_PER_VOUCHER,
                        min_code_length(charset, q)
                    ),
                );
            }
        }
        if prefix.len() + code_length as usize > 32 {
            f.error("code_length", "prefix and code together must be at most 32 characters");
        }
    }
    let mode = match f.parsed("mode", &req.mode, VoucherMode::parse) {
        Slot::Value(m) => m,
        _ => VoucherMode::Code,
    };
    let pin_length = f.int("pin_length", &req.pin_length, 4, 6).value().unwrap_or(4) as u32;
    let validity = match f.parsed("validity", &req.validity, VoucherValidity::parse) {
        Slot::Value(v) => v,
        _ => VoucherValidity::FirstUse,
    };
    let until = f.parsed("valid_until", &req.valid_until, |s| parse_local_time(s, zone));
    let valid_until = match (validity, until) {
        (VoucherValidity::Fixed, Slot::Value(t)) if t <= now => {
            f.error("valid_until", "must be in the future");
            None
        }
        (VoucherValidity::Fixed, Slot::Value(t)) => Some(t),
        (VoucherValidity::Fixed, _) => {
            if !f.has_error("valid_until") {
                f.error("valid_until", "is required for fixed validity: the date the vouchers stop working");
            }
            None
        }
        (VoucherValidity::FirstUse, Slot::Value(_)) => {
            f.error(
                "valid_until",
                "is only for fixed validity (vouchers valid from first use run for the package's duration)",
            );
            None
        }
        (VoucherValidity::FirstUse, _) => None,
    };
    let max_devices = f.int("max_devices", &req.max_devices, 1, 100).value();
    let price = f.parsed("price", &req.price, Money::parse_major).value();
    f.finish()?;
    let (Some(package), Some(quantity)) = (package, quantity) else {
        return Err(AppError::Internal("voucher batch fields missing after validation".into()));
    };
    let name =
        name.unwrap_or_else(|| format!("{} · {}", package.name, now.with_timezone(&zone).format("%Y-%m-%d %H:%M")));
    Ok(BatchPlan {
        name,
        quantity,
        prefix,
        code_length,
        charset,
        mode,
        pin_length,
        validity,
        valid_until,
        max_devices: max_devices.map_or(package.shared_users.clamp(1, 100) as u32, |n| n as u32),
        price: price.unwrap_or(package.price),
        package,
    })
}

/// `2026-12-31` (to the end of that day), `2026-12-31 18:00` or `2026-12-31T18:00`
/// (as a browser's date-time field sends it), in `zone`.
pub fn parse_local_time(s: &str, zone: FixedOffset) -> Result<DateTime<Utc>, broadnet_domain::ParseError> {
    let s = s.trim();
    let local = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(23, 59, 59)
    } else {
        ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    };
    local
        .and_then(|t| t.and_local_timezone(zone).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| broadnet_domain::ParseError::new("must be a date like 2026-12-31 or 2026-12-31 18:00"))
}

/// One random code: the prefix, then `length` characters of `alphabet`.
fn draw(rng: &mut impl Rng, prefix: &str, alphabet: &[u8], length: u32) -> String {
    let mut s = String::with_capacity(prefix.len() + length as usize);
    s.push_str(prefix);
    for _ in 0..length {
        s.push(alphabet[rng.gen_range(0..alphabet.len())] as char);
    }
    s
}

/// `count` codes of the plan, all different from each other and from `taken`.
pub fn draw_codes(plan: &BatchPlan, count: usize, taken: &HashSet<String>, rng: &mut impl Rng) -> Vec<String> {
    let alphabet = plan.charset.alphabet();
    let mut seen: HashSet<String> = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let code = draw(rng, &plan.prefix, alphabet, plan.code_length);
        if !taken.contains(&code) && seen.insert(code.clone()) {
            out.push(code);
        }
    }
    out
}

/// A PIN for `pin` mode: digits of the digits alphabet (no 0 or 1).
fn draw_pin(rng: &mut impl Rng, length: u32) -> String {
    draw(rng, "", VoucherCharset::Digits.alphabet(), length)
}

/// Voucher counts of a batch by state, and what they add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchCounts {
    pub unused: u64,
    pub active: u64,
    pub used_up: u64,
    pub expired: u64,
    pub revoked: u64,
    /// Ever used (activated): active, used up, or expired after use.
    pub sold: u64,
    /// Finished: used up or expired.
    pub used: u64,
}

impl BatchCounts {
    pub fn from_pairs(pairs: &[(VoucherStatus, u64)]) -> Self {
        let mut c = BatchCounts::default();
        for &(s, n) in pairs {
            match s {
                VoucherStatus::Unused => c.unused += n,
                VoucherStatus::Active => c.active += n,
                VoucherStatus::UsedUp => c.used_up += n,
                VoucherStatus::Expired => c.expired += n,
                VoucherStatus::Revoked => c.revoked += n,
            }
        }
        c.sold = c.active + c.used_up + c.expired;
        c.used = c.used_up + c.expired;
        c
    }
}

/// A batch as the API and the pages show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchView {
    pub id: i64,
    pub name: String,
    pub package_id: i64,
    pub package_name: String,
    pub quantity: u32,
    pub prefix: String,
    pub code_length: u32,
    pub charset: VoucherCharset,
    pub mode: VoucherMode,
    pub validity: VoucherValidity,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_devices: u32,
    pub price: String,
    pub price_minor: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub counts: BatchCounts,
}

impl From<&BatchSummary> for BatchView {
    fn from(s: &BatchSummary) -> Self {
        let b: &VoucherBatch = &s.batch;
        BatchView {
            id: b.id,
            name: b.name.clone(),
            package_id: b.package_id,
            package_name: s.package_name.clone(),
            quantity: b.quantity,
            prefix: b.prefix.clone(),
            code_length: b.code_length,
            charset: b.charset,
            mode: b.mode,
            validity: b.validity,
            valid_until: b.valid_until,
            max_devices: b.max_devices,
            price: b.price.to_string(),
            price_minor: b.price.minor(),
            created_by: b.created_by.clone(),
            created_at: b.created_at,
            revoked_at: b.revoked_at,
            counts: BatchCounts::from_pairs(&s.counts),
        }
    }
}

/// One voucher as the API and the pages show it. The PIN is there: whoever may read
/// the codes may read the PINs printed beside them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoucherView {
    pub id: i64,
    pub code: String,
    pub pin: Option<String>,
    pub batch_id: Option<i64>,
    pub package_id: i64,
    pub status: VoucherStatus,
    pub max_devices: u32,
    pub price: String,
    pub price_minor: i64,
    pub used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&Voucher> for VoucherView {
    fn from(v: &Voucher) -> Self {
        VoucherView {
            id: v.id,
            code: v.code.clone(),
            pin: v.pin.clone(),
            batch_id: v.batch_id,
            package_id: v.package_id,
            status: v.status,
            max_devices: v.max_devices,
            price: v.price.to_string(),
            price_minor: v.price.minor(),
            used_at: v.used_at,
            expires_at: v.expires_at,
            revoked_at: v.revoked_at,
            created_at: v.created_at,
        }
    }
}

/// The voucher list's query string: `batch_id`, `status`, `code` (a prefix, typed
/// in any case, dashes and spaces ignored), `page`, `per_page`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VoucherListQuery {
    pub batch_id: Option<String>,
    pub status: Option<String>,
    pub code: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

impl VoucherListQuery {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut m = crate::sessions::last_of(pairs);
        let mut take = |k: &str| m.remove(k).filter(|v| !v.trim().is_empty());
        VoucherListQuery {
            batch_id: take("batch_id"),
            status: take("status"),
            code: take("code"),
            page: take("page"),
            per_page: take("per_page"),
        }
    }
}

/// Why a voucher or a batch is revoked; kept in the audit log.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RevokeRequest {
    pub reason: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

fn parse_reason(req: &RevokeRequest) -> AppResult<String> {
    let mut f = Fields::new(&req.unknown);
    let reason = f.line("reason", &req.reason, 500);
    let reason = f.required("reason", reason);
    f.finish()?;
    reason.ok_or_else(|| AppError::Internal("reason missing after validation".into()))
}

/// What revoking a batch did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchRevoked {
    /// Vouchers that could still be used (unused or active) and now cannot.
    pub revoked: u64,
    pub batch: BatchView,
}

/// Which vouchers to print: a whole batch (those not revoked, a page of them at a
/// time) or chosen ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintSelection {
    Batch { id: i64, page: u64 },
    Ids(Vec<i64>),
}

/// How many cards one page of a batch's print holds (48 A4 sheets of 21).
pub const PRINT_PAGE: u64 = 1008;

/// One card to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrintCard {
    pub id: i64,
    pub code: String,
    pub pin: Option<String>,
    pub package_name: String,
    /// `KES 50.00`
    pub price: String,
    /// "Valid 1d from first use" / "Valid until 31 Dec 2026 23:59"
    pub validity: String,
    pub max_devices: u32,
    /// What the QR code opens: the portal with the code filled in.
    pub portal_url: String,
}

/// A print run: the ISP's name on every card, the cards, and what was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrintSheet {
    pub isp_name: String,
    /// The portal, for "or go to …" under the QR code.
    pub portal: String,
    pub cards: Vec<PrintCard>,
    /// Chosen vouchers not printed because they were revoked.
    pub skipped_revoked: u64,
    /// For a batch: its id, this page and how many pages it prints on.
    pub batch_id: Option<i64>,
    pub page: u64,
    pub pages: u64,
}

/// A CSV file: its name and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvFile {
    pub file_name: String,
    pub body: String,
}

/// One CSV field, RFC 4180 quoted, with a leading `'` on text a spreadsheet would run
/// as a formula (`=`, `+`, `-`, `@`, tab, CR).
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\r', '\n']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_line(out: &mut String, fields: &[&str]) {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

/// The portal's address for a code: `<public_url>/hotspot?voucher=<code>`.
pub fn portal_link(public_url: &str, code: &str) -> String {
    let code: String = url::form_urlencoded::byte_serialize(code.as_bytes()).collect();
    format!("{}/hotspot?voucher={code}", public_url.trim_end_matches('/'))
}

impl App {
    /// Creates a batch: checks the request, draws its codes (and PINs), and stores
    /// them in one go; codes taken by another batch meanwhile are drawn again.
    pub async fn create_voucher_batch(&self, s: &Session, req: BatchRequest) -> AppResult<BatchView> {
        s.require_write()?;
        let now = self.now();
        let (zone, _) = self.local_zone().await?;
        let package = match req_package_id(&req.package_id) {
            Some(id) => match self.store.get_package(id).await {
                Ok(p) => Some(p),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let plan = plan_batch(&req, package.as_ref(), zone, now)?;
        let mut taken: HashSet<String> = HashSet::new();
        for _ in 0..CREATE_TRIES {
            let codes = self.fresh_codes(&plan, &mut taken).await?;
            let codes = {
                let mut rng = rand::thread_rng();
                codes
                    .into_iter()
                    .map(|c| {
                        let pin = (plan.mode == VoucherMode::Pin).then(|| draw_pin(&mut rng, plan.pin_length));
                        (c, pin)
                    })
                    .collect()
            };
            let new = NewVoucherBatch {
                name: plan.name.clone(),
                package_id: plan.package.id,
                prefix: plan.prefix.clone(),
                code_length: plan.code_length,
                charset: plan.charset,
                mode: plan.mode,
                validity: plan.validity,
                valid_until: plan.valid_until,
                max_devices: plan.max_devices,
                price: plan.price,
                codes,
                created_at: now,
            };
            match self.store.create_voucher_batch(&s.actor(now), new).await {
                Ok(batch) => return self.get_voucher_batch(s, batch.id).await,
                // Another batch took one of the codes between the check and the insert.
                Err(StoreError::Conflict(f)) if f == "code" => continue,
                Err(e) => return Err(AppError::from_store("voucher batch")(e)),
            }
        }
        Err(AppError::Busy("other batches are being made at the same moment; try again"))
    }

    /// `plan.quantity` codes, different from each other and from every code in the
    /// store (`taken` collects the clashes seen, across tries).
    async fn fresh_codes(&self, plan: &BatchPlan, taken: &mut HashSet<String>) -> AppResult<Vec<String>> {
        let want = plan.quantity as usize;
        let mut codes = draw_codes(plan, want, taken, &mut rand::thread_rng());
        let mut unchecked = codes.clone();
        // A few rounds at most: with 1,000 codes per voucher, each round's clashes are
        // a small fraction of the last's.
        for _ in 0..20 {
            let clashes = self.store.existing_voucher_codes(&unchecked).await?;
            if clashes.is_empty() {
                return Ok(codes);
            }
            taken.extend(clashes);
            codes.retain(|c| !taken.contains(c));
            let mut avoid = taken.clone();
            avoid.extend(codes.iter().cloned());
            unchecked = draw_codes(plan, want - codes.len(), &avoid, &mut rand::thread_rng());
            codes.extend(unchecked.iter().cloned());
        }
        Err(AppError::Busy("could not find unused codes; use longer codes"))
    }

    pub async fn list_voucher_batches(&self, _s: &Session, page: u64, per_page: u64) -> AppResult<Page<BatchView>> {
        let p = self.store.list_voucher_batches(page.max(1), per_page.clamp(1, 500)).await?;
        Ok(Page {
            items: p.items.iter().map(BatchView::from).collect(),
            total: p.total,
            page: p.page,
            per_page: p.per_page,
        })
    }

    /// The batch list from a query string (`page`, `per_page`).
    pub async fn list_voucher_batches_query(
        &self,
        s: &Session,
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> AppResult<Page<BatchView>> {
        let mut m = crate::sessions::last_of(pairs);
        let (mut page, mut per_page) = (1, 50);
        let mut errors = crate::FieldErrors::new();
        crate::sessions::paging(&mut errors, &m.remove("page"), &m.remove("per_page"), (&mut page, &mut per_page));
        for k in m.keys() {
            errors.entry(k.clone()).or_default().push("is not a known field".into());
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        self.list_voucher_batches(s, page, per_page).await
    }

    pub async fn get_voucher_batch(&self, _s: &Session, id: i64) -> AppResult<BatchView> {
        let b = self.store.get_voucher_batch(id).await.map_err(AppError::from_store("voucher batch"))?;
        Ok(BatchView::from(&b))
    }

    pub async fn list_vouchers(&self, _s: &Session, params: &VoucherListQuery) -> AppResult<Page<VoucherView>> {
        let mut q = VoucherQuery { page: 1, per_page: 50, ..Default::default() };
        let mut errors = crate::FieldErrors::new();
        let mut bad = |k: &str, m: &str| errors.entry(k.to_string()).or_default().push(m.to_string());
        if let Some(v) = &params.batch_id {
            match v.trim().parse::<i64>() {
                Ok(n) if n > 0 => q.batch_id = Some(n),
                _ => bad("batch_id", "must be a whole number"),
            }
        }
        if let Some(v) = &params.status {
            match VoucherStatus::parse(v) {
                Ok(st) => q.status = Some(st),
                Err(e) => bad("status", &e.0),
            }
        }
        if let Some(v) = &params.code {
            match broadnet_domain::hotspot::normalise_voucher_code(v) {
                Some(c) => q.code = Some(c),
                None => bad("code", "must be letters and digits (the start of a code)"),
            }
        }
        crate::sessions::paging(&mut errors, &params.page, &params.per_page, (&mut q.page, &mut q.per_page));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let p = self.store.list_vouchers(&q).await?;
        Ok(Page {
            items: p.items.iter().map(VoucherView::from).collect(),
            total: p.total,
            page: p.page,
            per_page: p.per_page,
        })
    }

    /// One voucher by its number.
    pub async fn get_voucher(&self, _s: &Session, id: i64) -> AppResult<VoucherView> {
        let q = VoucherQuery { ids: vec![id], page: 1, per_page: 1, ..Default::default() };
        let found = self.store.list_vouchers(&q).await?;
        found.items.first().map(VoucherView::from).ok_or(AppError::NotFound("voucher"))
    }

    /// Revokes every voucher of the batch that could still be used; the reason goes to
    /// the audit log.
    pub async fn revoke_voucher_batch(&self, s: &Session, id: i64, req: RevokeRequest) -> AppResult<BatchRevoked> {
        s.require_write()?;
        let reason = parse_reason(&req)?;
        let now = self.now();
        let actor = s.actor(now);
        let revoked =
            self.store.revoke_voucher_batch(&actor, id).await.map_err(AppError::from_store("voucher batch"))?;
        self.store
            .record_event(
                &actor,
                "voucher_batch.revoke_reason",
                "voucher_batch",
                Some(id.to_string()),
                serde_json::json!({"reason": reason, "revoked": revoked}),
            )
            .await?;
        Ok(BatchRevoked { revoked, batch: self.get_voucher_batch(s, id).await? })
    }

    pub async fn revoke_voucher(&self, s: &Session, id: i64, req: RevokeRequest) -> AppResult<VoucherView> {
        s.require_write()?;
        let reason = parse_reason(&req)?;
        let now = self.now();
        let actor = s.actor(now);
        let v = self.store.revoke_voucher(&actor, id).await.map_err(AppError::from_store("voucher"))?;
        self.store
            .record_event(
                &actor,
                "voucher.revoke_reason",
                "voucher",
                Some(id.to_string()),
                serde_json::json!({"reason": reason, "code": v.code}),
            )
            .await?;
        Ok(VoucherView::from(&v))
    }

    /// Every voucher of a batch as CSV: code, PIN, package, price, status, used at,
    /// expires at (times in the ISP's zone). UTF-8 with a byte-order mark, so that
    /// spreadsheets read names with accents right; CRLF line ends (RFC 4180).
    pub async fn export_vouchers_csv(&self, s: &Session, batch_id: i64) -> AppResult<CsvFile> {
        let batch = self.get_voucher_batch(s, batch_id).await?;
        let (zone, _) = self.local_zone().await?;
        let q = VoucherQuery { batch_id: Some(batch_id), page: 1, per_page: MAX_PRINT, ..Default::default() };
        let vouchers = self.store.list_vouchers(&q).await?;
        let when = |t: &Option<DateTime<Utc>>| {
            t.map(|t| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
        };
        let mut body = String::with_capacity(64 * (vouchers.items.len() + 1));
        body.push('\u{feff}');
        csv_line(&mut body, &["code", "pin", "package", "price", "status", "used_at", "expires_at"]);
        for v in &vouchers.items {
            let price = v.price.to_string();
            let (used, expires) = (when(&v.used_at), when(&v.expires_at));
            csv_line(
                &mut body,
                &[
                    &v.code,
                    v.pin.as_deref().unwrap_or(""),
                    &batch.package_name,
                    &price,
                    v.status.as_str(),
                    &used,
                    &expires,
                ],
            );
        }
        let safe: String =
            batch.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(40).collect();
        Ok(CsvFile { file_name: format!("vouchers-{batch_id}-{safe}.csv"), body })
    }

    /// The cards to print: a batch's vouchers that are not revoked (a page of
    /// [`PRINT_PAGE`] at a time), or the chosen ones (revoked ones left out).
    pub async fn voucher_print(&self, s: &Session, sel: PrintSelection) -> AppResult<PrintSheet> {
        let (vouchers, batch_id, page, pages, skipped) = match sel {
            PrintSelection::Batch { id, page } => {
                let batch = self.get_voucher_batch(s, id).await?;
                let printable = batch.counts.unused + batch.counts.active;
                let pages = printable.div_ceil(PRINT_PAGE).max(1);
                let page = page.clamp(1, pages);
                let mut items = Vec::new();
                // Unused first (those are the ones to sell), then active ones.
                for status in [VoucherStatus::Unused, VoucherStatus::Active] {
                    let q = VoucherQuery {
                        batch_id: Some(id),
                        status: Some(status),
                        page: 1,
                        per_page: MAX_PRINT,
                        ..Default::default()
                    };
                    items.extend(self.store.list_vouchers(&q).await?.items);
                }
                let start = ((page - 1) * PRINT_PAGE) as usize;
                let items: Vec<Voucher> = items.into_iter().skip(start).take(PRINT_PAGE as usize).collect();
                (items, Some(id), page, pages, 0)
            }
            PrintSelection::Ids(ids) => {
                if ids.is_empty() {
                    return Err(AppError::field("ids", "choose at least one voucher"));
                }
                if ids.len() as u64 > MAX_PRINT {
                    return Err(AppError::field("ids", format!("at most {MAX_PRINT} vouchers at once")));
                }
                let q = VoucherQuery { ids: ids.clone(), page: 1, per_page: MAX_PRINT, ..Default::default() };
                let found = self.store.list_vouchers(&q).await?.items;
                if found.is_empty() {
                    return Err(AppError::NotFound("voucher"));
                }
                let (revoked, keep): (Vec<Voucher>, Vec<Voucher>) =
                    found.into_iter().partition(|v| v.status == VoucherStatus::Revoked);
                (keep, None, 1, 1, revoked.len() as u64)
            }
        };
        let (zone, abbr) = self.local_zone().await?;
        let public_url = self.gateway_env().public_url.clone();
        let mut packages: std::collections::HashMap<i64, Package> = std::collections::HashMap::new();
        let mut fixed: std::collections::HashMap<i64, Option<DateTime<Utc>>> = std::collections::HashMap::new();
        let package_ids: std::collections::BTreeSet<i64> = vouchers.iter().map(|v| v.package_id).collect();
        for pid in package_ids {
            let p = self.store.get_package(pid).await.map_err(AppError::from_store("package"))?;
            packages.insert(pid, p);
        }
        let batch_ids: std::collections::BTreeSet<i64> = vouchers.iter().filter_map(|v| v.batch_id).collect();
        for b in batch_ids {
            fixed.insert(b, self.store.get_voucher_batch(b).await?.batch.valid_until);
        }
        let mut cards = Vec::with_capacity(vouchers.len());
        for v in vouchers {
            let Some(p) = packages.get(&v.package_id) else { continue };
            let fixed_until = v.batch_id.and_then(|b| fixed.get(&b).copied().flatten());
            let local = |t: DateTime<Utc>| format!("{} {abbr}", t.with_timezone(&zone).format("%d %b %Y %H:%M"));
            let validity = match (v.expires_at, fixed_until) {
                (Some(t), _) => format!("Valid until {}", local(t)),
                (None, Some(t)) => format!("Valid until {}", local(t)),
                (None, None) => format!("Valid {} from first use", human_duration(p.duration_minutes)),
            };
            cards.push(PrintCard {
                id: v.id,
                portal_url: portal_link(&public_url, &v.code),
                code: v.code,
                pin: v.pin,
                package_name: p.name.clone(),
                price: format!("KES {}", crate::invoices::grouped(v.price)),
                validity,
                max_devices: v.max_devices,
            });
        }
        Ok(PrintSheet {
            isp_name: self.isp_name().await?,
            portal: format!("{}/hotspot", public_url.trim_end_matches('/')),
            cards,
            skipped_revoked: skipped,
            batch_id,
            page,
            pages,
        })
    }
}

/// `package_id` as given, when it is a whole number (to look the package up before
/// the full check, which reports a bad value).
fn req_package_id(input: &Input) -> Option<i64> {
    match input {
        Input::Number(n) => n.as_i64(),
        Input::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n| *n > 0)
}

/// `30 days`, `1 day`, `12 hours`, `90 minutes`, `2 weeks`.
pub fn human_duration(minutes: i64) -> String {
    let short = format_duration_minutes(minutes);
    let (n, unit) = short.split_at(short.len() - 1);
    let word = match unit {
        "w" => "week",
        "d" => "day",
        "h" => "hour",
        _ => "minute",
    };
    if n == "1" { format!("1 {word}") } else { format!("{n} {word}s") }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn package(service_type: ServiceType, active: bool) -> Package {
        let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        Package {
            id: 3,
            name: "Day pass".into(),
            description: None,
            service_type,
            price: Money::parse_major("50").unwrap(),
            download_bps: 5_000_000,
            upload_bps: 2_000_000,
            burst: None,
            duration_minutes: 1440,
            data_limit_mb: None,
            shared_users: 2,
            framed_pool: None,
            active,
            created_at: t,
            updated_at: t,
        }
    }

    fn req(v: serde_json::Value) -> BatchRequest {
        serde_json::from_value(v).unwrap()
    }

    fn eat() -> FixedOffset {
        FixedOffset::east_opt(3 * 3600).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
    }

    fn errors(r: AppResult<BatchPlan>) -> crate::FieldErrors {
        match r {
            Err(AppError::Validation(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_come_from_the_package() {
        let p = package(ServiceType::Hotspot, true);
        let plan =
            plan_batch(&req(serde_json::json!({"package_id": 3, "quantity": 10})), Some(&p), eat(), now()).unwrap();
        assert_eq!((plan.code_length, plan.charset, plan.mode), (8, VoucherCharset::Digits, VoucherMode::Code));
        assert_eq!((plan.max_devices, plan.price.minor()), (2, 5_000));
        assert_eq!(plan.validity, VoucherValidity::FirstUse);
        assert_eq!(plan.name, "Day pass · 2026-11-27 12:00");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let p = package(ServiceType::Pppoe, true);
        let e = errors(plan_batch(
            &req(serde_json::json!({"package_id": 3, "quantity": 10001, "prefix": "WI-FI", "charset": "emoji",
                "mode": "pin", "pin_length": 9, "validity": "fixed", "max_devices": 0, "price": "-5", "colour": 1})),
            Some(&p),
            eat(),
            now(),
        ));
        for k in [
            "package_id",
            "quantity",
            "prefix",
            "charset",
            "pin_length",
            "valid_until",
            "max_devices",
            "price",
            "colour",
        ] {
            assert!(e.contains_key(k), "{k}: {e:?}");
        }
        let e = errors(plan_batch(&req(serde_json::json!({"package_id": 3})), None, eat(), now()));
        assert_eq!(e["package_id"], ["no such package"]);
        assert_eq!(e["quantity"], ["is required"]);
        let off = package(ServiceType::Both, false);
        let e = errors(plan_batch(&req(serde_json::json!({"package_id": 3, "quantity": 1})), Some(&off), eat(), now()));
        assert!(e["package_id"][0].contains("not active"));
    }

    #[test]
    fn short_codes_are_refused_for_big_batches_with_the_length_that_would_do() {
        let p = package(ServiceType::Hotspot, true);
        let e = errors(plan_batch(
            &req(serde_json::json!({"package_id": 3, "quantity": 10000, "code_length": 6})),
            Some(&p),
            eat(),
            now(),
        ));
        assert!(e["code_length"][0].contains("use 8 characters or more"), "{e:?}");
        // 8 digits (16.7 million codes) carry the largest batch.
        assert!(
            plan_batch(&req(serde_json::json!({"package_id": 3, "quantity": 10000})), Some(&p), eat(), now()).is_ok()
        );
        assert_eq!(min_code_length(VoucherCharset::Mixed, 10_000), 5);
    }

    #[test]
    fn fixed_validity_is_a_future_time_in_the_isps_zone() {
        let p = package(ServiceType::Hotspot, true);
        let r =
            |v: &str| req(serde_json::json!({"package_id": 3, "quantity": 1, "validity": "fixed", "valid_until": v}));
        let plan = plan_batch(&r("2026-12-31"), Some(&p), eat(), now()).unwrap();
        assert_eq!(plan.valid_until, Some(Utc.with_ymd_and_hms(2026, 12, 31, 20, 59, 59).unwrap()));
        let plan = plan_batch(&r("2026-12-31T18:00"), Some(&p), eat(), now()).unwrap();
        assert_eq!(plan.valid_until, Some(Utc.with_ymd_and_hms(2026, 12, 31, 15, 0, 0).unwrap()));
        assert_eq!(
            errors(plan_batch(&r("2026-11-26"), Some(&p), eat(), now()))["valid_until"],
            ["must be in the future"]
        );
        assert!(errors(plan_batch(&r("soon"), Some(&p), eat(), now()))["valid_until"][0].contains("2026-12-31"));
    }

    #[test]
    fn codes_are_distinct_use_the_alphabet_and_avoid_taken_ones() {
        let p = package(ServiceType::Hotspot, true);
        let plan = plan_batch(
            &req(serde_json::json!({"package_id": 3, "quantity": 10000, "charset": "mixed", "prefix": "bn", "code_length": 6})),
            Some(&p),
            eat(),
            now(),
        )
        .unwrap();
        let taken: HashSet<String> = ["BN222222".to_string()].into();
        let codes = draw_codes(&plan, 10_000, &taken, &mut rand::thread_rng());
        let set: HashSet<&String> = codes.iter().collect();
        assert_eq!(set.len(), 10_000);
        for c in &codes {
            assert!(c.starts_with("BN") && c.len() == 8, "{c}");
            assert!(c[2..].bytes().all(|b| VoucherCharset::Mixed.alphabet().contains(&b)), "{c}");
            assert!(!c.contains(['0', 'O', '1', 'I']), "{c}");
        }
        let pin = draw_pin(&mut rand::thread_rng(), 6);
        assert!(pin.len() == 6 && pin.bytes().all(|b| (b'2'..=b'9').contains(&b)), "{pin}");
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("DAY-1"), "DAY-1");
        assert_eq!(csv_field("Day, night"), "\"Day, night\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+254"), "'+254");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("Wiki ya 1 — saa"), "Wiki ya 1 — saa");
        assert_eq!(portal_link("https://isp.example/", "AB23"), "https://isp.example/hotspot?voucher=AB23");
        assert_eq!(human_duration(1440), "1 day");
        assert_eq!(human_duration(43_200), "30 days");
        assert_eq!(human_duration(90), "90 minutes");
    }
}
