//! Customers: validation of what an admin types, package and router checks, and
//! the list query.

use crate::input::{Fields, Input, Slot, Unknown};
use crate::{App, AppError, AppResult, Session, auth};
use broadnet_domain::{CustomerStatus, CustomerType, ParseError, Phone, Username};
use broadnet_store::{Customer, CustomerPatch, CustomerQuery, CustomerSort, NewCustomer, Page, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `AA:BB:CC:DD:EE:FF` from any of the usual spellings.
pub fn parse_mac(s: &str) -> Result<String, ParseError> {
    let hex: String = s.chars().filter(|c| !matches!(c, ':' | '-' | '.' | ' ')).collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ParseError::new("must be a MAC address such as AA:BB:CC:DD:EE:FF"));
    }
    let up = hex.to_ascii_uppercase();
    Ok(up.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(":"))
}

fn parse_ip(s: &str) -> Result<String, ParseError> {
    s.parse::<IpAddr>().map(|ip| ip.to_string()).map_err(|_| ParseError::new("must be an IP address"))
}

/// Expiry dates run until at most this year: databases compare later ones wrongly
/// (SQLite keeps `+10000-…` as text, MySQL's DATETIME ends at 9999), and a renewal
/// adds to them.
pub const LAST_YEAR: i32 = 2100;

fn parse_time(s: &str) -> Result<DateTime<Utc>, ParseError> {
    let t = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ParseError::new("must be a date-time such as 2026-12-31T23:59:59Z"))?;
    use chrono::Datelike;
    if !(2000..=LAST_YEAR).contains(&t.year()) {
        return Err(ParseError::new(format!("must be between the years 2000 and {LAST_YEAR}")));
    }
    Ok(t)
}

/// One address: a list (`a@x.ke, b@y.ke`), a display name or a control character
/// would turn one welcome email into mail to others, or break its headers.
fn parse_email(s: &str) -> Result<String, ParseError> {
    let one = s.len() <= 254
        && s.matches('@').count() == 1
        && !s.chars().any(|c| c.is_whitespace() || c.is_control() || ",;<>()[]\\\"".contains(c));
    match s.split_once('@') {
        Some((local, domain)) if one && !local.is_empty() && domain.contains('.') && !domain.starts_with('.') => {
            Ok(s.to_string())
        }
        _ => Err(ParseError::new("must be one email address, such as jane@example.com")),
    }
}

fn parse_password(s: &str) -> Result<String, ParseError> {
    // RADIUS User-Password carries at most 128 bytes; the characters must survive a
    // PPPoE dialer and a hotspot form.
    if s.len() < 4 || s.len() > 64 {
        return Err(ParseError::new("must be 4 to 64 characters long"));
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ParseError::new("must not contain spaces or control characters"));
    }
    Ok(s.to_string())
}

struct Parsed {
    full_name: Slot<String>,
    username: Slot<Username>,
    password: Slot<String>,
    phone: Slot<Phone>,
    email: Slot<String>,
    customer_type: Slot<CustomerType>,
    package_id: Slot<i64>,
    router_id: Slot<i64>,
    status: Slot<CustomerStatus>,
    expires_at: Slot<DateTime<Utc>>,
    mac_address: Slot<String>,
    static_ip: Slot<String>,
    location: Slot<String>,
    notes: Slot<String>,
    reason: Slot<String>,
}

/// A customer as an admin sends it, from the API's JSON or the dashboard's form.
/// Creating requires `full_name`, `username`, `phone` and `customer_type`; an update
/// changes only the fields sent, and an empty or null one clears it where it may be
/// cleared.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CustomerRequest {
    pub full_name: Input,
    pub username: Input,
    /// Generated (8 characters) when a new customer is given none.
    pub password: Input,
    pub phone: Input,
    pub email: Input,
    /// `pppoe` or `hotspot`.
    pub customer_type: Input,
    pub package_id: Input,
    pub router_id: Input,
    pub status: Input,
    /// RFC 3339, e.g. `2026-12-31T23:59:59Z`.
    pub expires_at: Input,
    pub mac_address: Input,
    pub static_ip: Input,
    pub location: Input,
    pub notes: Input,
    /// Why an expiry given at creation grants time without a payment (audited).
    pub reason: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl CustomerRequest {
    fn read(&self, f: &mut Fields) -> Parsed {
        Parsed {
            full_name: f.line("full_name", &self.full_name, 128),
            username: f.parsed("username", &self.username, Username::parse),
            password: f.parsed("password", &self.password, parse_password),
            phone: f.parsed("phone", &self.phone, Phone::parse),
            email: f.parsed("email", &self.email, parse_email),
            customer_type: f.parsed("customer_type", &self.customer_type, CustomerType::parse),
            package_id: f.int("package_id", &self.package_id, 1, i64::MAX),
            router_id: f.int("router_id", &self.router_id, 1, i64::MAX),
            status: f.parsed("status", &self.status, CustomerStatus::parse),
            expires_at: f.parsed("expires_at", &self.expires_at, parse_time),
            mac_address: f.parsed("mac_address", &self.mac_address, parse_mac),
            static_ip: f.parsed("static_ip", &self.static_ip, parse_ip),
            location: f.line("location", &self.location, 255),
            notes: f.text("notes", &self.notes, 4000),
            reason: f.line("reason", &self.reason, 200),
        }
    }
}

/// The API's view of a customer. The RADIUS password is shown to admins who can
/// change it, never to viewers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerView {
    #[serde(flatten)]
    pub customer: Customer,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl CustomerView {
    pub fn new(c: Customer, with_password: bool) -> Self {
        let password = with_password.then(|| c.password.clone());
        CustomerView { customer: c, password }
    }
}

impl App {
    async fn check_refs(
        &self,
        f: &mut Fields,
        package_id: Option<i64>,
        router_id: Option<i64>,
        ctype: Option<CustomerType>,
    ) -> AppResult<()> {
        if let Some(pid) = package_id {
            match self.store.get_package(pid).await {
                Ok(p) => {
                    if let Some(t) = ctype
                        && !p.service_type.serves(t)
                    {
                        f.error(
                            "package_id",
                            format!("package {} is for {} customers, not {}", p.name, p.service_type, t),
                        );
                    }
                }
                Err(StoreError::NotFound) => f.error("package_id", "no such package"),
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(rid) = router_id
            && !self.store.router_exists(rid).await?
        {
            f.error("router_id", "no such router");
        }
        Ok(())
    }

    /// A username must not be a voucher's code: both log in by name, and RADIUS would
    /// find the customer first, so the voucher (sold to someone) would never work.
    async fn check_not_a_voucher(&self, f: &mut Fields, username: Option<&broadnet_domain::Username>) -> AppResult<()> {
        let Some(code) = username.and_then(|u| broadnet_domain::hotspot::normalise_voucher_code(u.as_str())) else {
            return Ok(());
        };
        match self.store.get_voucher_by_code(&code).await {
            Ok(_) => f.error("username", "is a voucher's code; choose another username"),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    pub async fn create_customer(&self, s: &Session, req: CustomerRequest) -> AppResult<Customer> {
        s.require_write()?;
        let mut f = Fields::new(&req.unknown);
        let p = req.read(&mut f);
        let full_name = f.required("full_name", p.full_name);
        let username = f.required("username", p.username);
        let phone = f.required("phone", p.phone);
        let customer_type = f.required("customer_type", p.customer_type);
        let package_id = p.package_id.value();
        let router_id = p.router_id.value();
        self.check_refs(&mut f, package_id, router_id, customer_type).await?;
        self.check_not_a_voucher(&mut f, username.as_ref()).await?;
        f.finish()?;
        let (Some(full_name), Some(username), Some(phone), Some(customer_type)) =
            (full_name, username, phone, customer_type)
        else {
            return Err(AppError::Internal("customer fields missing after validation".into()));
        };
        let now = self.now();
        // No access comes with the account (rule: no free access before payment): an
        // expiry given at creation is an explicit activation, audited with its reason.
        let expires_at = p.expires_at.value();
        let grant = expires_at.filter(|e| *e > now);
        let reason = p.reason.value();
        let new = NewCustomer {
            full_name,
            username,
            password: p.password.value().unwrap_or_else(|| auth::random_password(8)),
            phone,
            email: p.email.value(),
            customer_type,
            package_id,
            router_id,
            status: broadnet_domain::billing::initial_status(p.status.value()),
            expires_at: expires_at.filter(|e| *e <= now),
            mac_address: p.mac_address.value(),
            static_ip: p.static_ip.value(),
            location: p.location.value(),
            notes: p.notes.value(),
            created_at: now,
        };
        // The welcome SMS/email with their login is queued in the same transaction.
        let mut created = self
            .store
            .create_customer_with(&s.actor(now), new, &|c| vec![crate::notify::welcome_entry(c, now)])
            .await
            .map_err(AppError::from_store("customer"))?;
        self.wake_outbox();
        if let Some(until) = grant
            && created.status == CustomerStatus::AwaitingPayment
        {
            let reason =
                reason.unwrap_or_else(|| format!("expiry given by {} when creating the account", s.admin.username));
            created = self
                .store
                .activate_customer(&s.actor(now), created.id, until, &reason)
                .await
                .map_err(AppError::from_store("customer"))?;
        }
        Ok(created)
    }

    pub async fn update_customer(&self, s: &Session, id: i64, req: CustomerRequest) -> AppResult<Customer> {
        s.require_write()?;
        let current = self.store.get_customer(id).await.map_err(AppError::from_store("customer"))?;
        let mut f = Fields::new(&req.unknown);
        let p = req.read(&mut f);
        let patch = CustomerPatch {
            full_name: f.not_null("full_name", p.full_name),
            username: f.not_null("username", p.username),
            password: f.not_null("password", p.password),
            phone: f.not_null("phone", p.phone),
            email: p.email.patch(),
            customer_type: f.not_null("customer_type", p.customer_type),
            package_id: p.package_id.patch(),
            router_id: p.router_id.patch(),
            status: f.not_null("status", p.status),
            expires_at: p.expires_at.patch(),
            mac_address: p.mac_address.patch(),
            static_ip: p.static_ip.patch(),
            location: p.location.patch(),
            notes: p.notes.patch(),
        };
        let ctype = patch.customer_type.unwrap_or(current.customer_type);
        let package_id = patch.package_id.unwrap_or(current.package_id);
        // Re-check the package when either it or the customer's type changes.
        let check_pkg = if patch.package_id.is_some() || patch.customer_type.is_some() { package_id } else { None };
        let router_id = patch.router_id.flatten();
        self.check_refs(&mut f, check_pkg, router_id, Some(ctype)).await?;
        self.check_not_a_voucher(&mut f, patch.username.as_ref()).await?;
        // Setting "active" resumes a suspended customer who has time left; it never
        // gives time. Access without payment is `activate`, with a reason.
        let expires = patch.expires_at.unwrap_or(current.expires_at);
        // Nor can clearing the expiry leave an active customer online for ever.
        if patch.status.unwrap_or(current.status) == CustomerStatus::Active
            && expires.is_none()
            && patch.expires_at.is_some()
        {
            f.error("expires_at", "an active customer keeps an expiry; suspend them instead, or set a date");
        }
        if patch.status == Some(CustomerStatus::Active)
            && current.status != CustomerStatus::Active
            && !broadnet_domain::billing::has_access(CustomerStatus::Active, expires, self.now())
        {
            f.error(
                "status",
                "a customer without paid time becomes active by paying, or by Activate with a reason and an expiry",
            );
        }
        f.finish()?;
        let updated = self
            .store
            .update_customer(&s.actor(self.now()), id, patch)
            .await
            .map_err(AppError::from_store("customer"))?;
        // Disconnects and rate changes were queued with the change (customer.sessions).
        self.wake_outbox();
        Ok(updated)
    }

    /// One customer; the RADIUS password only for admins who may change it.
    pub async fn get_customer(&self, s: &Session, id: i64) -> AppResult<CustomerView> {
        let c = self.store.get_customer(id).await.map_err(AppError::from_store("customer"))?;
        Ok(CustomerView::new(c, s.admin.role.can_write()))
    }

    /// A page of customers for the list's query parameters (see [`App::customer_query`]).
    pub async fn list_customers(&self, params: &[(String, String)]) -> AppResult<Page<CustomerView>> {
        let mut q = App::customer_query(params)?;
        // `expiring_days=N`: paid time ends within the next N days, soonest first.
        if let Some((_, v)) =
            params.iter().rev().find(|(k, _)| k == "expiring_days").filter(|(_, v)| !v.trim().is_empty())
        {
            let days: i64 = match v.trim().parse() {
                Ok(n) if (1..=366).contains(&n) => n,
                _ => return Err(AppError::field("expiring_days", "must be a whole number of days from 1 to 366")),
            };
            let now = self.now();
            q.expires_between = Some((now, now + chrono::Duration::days(days)));
            if !params.iter().any(|(k, _)| k == "sort") {
                q.sort = CustomerSort::ExpiresAt;
                q.descending = false;
            }
        }
        let page = self.store.list_customers(&q).await?;
        let items = page.items.into_iter().map(|c| CustomerView::new(c, false)).collect();
        Ok(Page { items, total: page.total, page: page.page, per_page: page.per_page })
    }

    /// Customers' names for lists of other things (payments, sessions): one query
    /// for a page of ids; an id that is gone has no entry.
    pub async fn customer_names(&self, ids: &[i64]) -> AppResult<std::collections::BTreeMap<i64, String>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        Ok(self.store.customer_names(&ids).await?.into_iter().collect())
    }

    pub async fn delete_customer(&self, s: &Session, id: i64) -> AppResult<()> {
        s.require_write()?;
        self.store.delete_customer(&s.actor(self.now()), id).await.map_err(AppError::from_store("customer"))
    }

    /// Builds a list query from URL parameters, refusing unknown values.
    pub fn customer_query(params: &[(String, String)]) -> AppResult<CustomerQuery> {
        let mut q = CustomerQuery::default();
        let mut f = Fields::new(&Unknown::default());
        for (k, v) in params {
            let v = v.trim();
            match k.as_str() {
                "q" | "search" => q.search = Some(v.to_string()).filter(|s| !s.is_empty()),
                "status" if !v.is_empty() => match CustomerStatus::parse(v) {
                    Ok(s) => q.status = Some(s),
                    Err(e) => f.error("status", e.0),
                },
                "type" | "customer_type" if !v.is_empty() => match CustomerType::parse(v) {
                    Ok(t) => q.customer_type = Some(t),
                    Err(e) => f.error(k, e.0),
                },
                "package_id" if !v.is_empty() => match v.parse() {
                    Ok(n) => q.package_id = Some(n),
                    Err(_) => f.error("package_id", "must be a whole number"),
                },
                "router_id" if !v.is_empty() => match v.parse() {
                    Ok(n) => q.router_id = Some(n),
                    Err(_) => f.error("router_id", "must be a whole number"),
                },
                "page" => match crate::fields::page_number(v) {
                    Ok(n) => q.page = n,
                    Err(m) => f.error("page", m.0),
                },
                "per_page" | "limit" => match crate::fields::per_page_number(v) {
                    Ok(n) => q.per_page = n,
                    Err(m) => f.error(k, m.0),
                },
                "sort" => {
                    let (field, desc) = match v.strip_prefix('-') {
                        Some(rest) => (rest, true),
                        None => (v, false),
                    };
                    match CustomerSort::parse(field) {
                        Some(s) => {
                            q.sort = s;
                            q.descending = desc;
                        }
                        None => f.error(
                            "sort",
                            "must be one of created_at, name, username, expires_at, status (prefix - for descending)",
                        ),
                    }
                }
                "order" => match v {
                    "asc" => q.descending = false,
                    "desc" => q.descending = true,
                    _ => f.error("order", "must be asc or desc"),
                },
                _ => {}
            }
        }
        f.finish()?;
        Ok(q)
    }
}

impl App {
    /// "Resend welcome SMS": the welcome message with the customer's login queued
    /// again through the outbox, as at creation. The dedupe key carries the second,
    /// so a double click queues one message and a later click another. Returns
    /// whether one was queued.
    pub async fn resend_welcome(&self, s: &Session, id: i64) -> AppResult<bool> {
        s.require_write()?;
        let c = self.store.get_customer(id).await.map_err(AppError::from_store("customer"))?;
        let now = self.now();
        let mut item = crate::notify::welcome_entry(&c, now);
        item.dedupe_key = Some(format!("welcome:{}:{}", c.id, now.timestamp()));
        let queued = self.store.enqueue(item).await?;
        if queued {
            tracing::info!(admin = %s.admin.username, user = %c.username, "welcome message queued again");
            self.wake_outbox();
        }
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(parse_mac("aa-bb-cc-dd-ee-ff").unwrap(), "AA:BB:CC:DD:EE:FF");
        assert_eq!(parse_mac("aabb.ccdd.eeff").unwrap(), "AA:BB:CC:DD:EE:FF");
        assert!(parse_mac("aa:bb:cc").is_err());
        assert!(parse_mac("zz:bb:cc:dd:ee:ff").is_err());
    }

    #[test]
    fn list_query_parameters() {
        let p = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        let q =
            App::customer_query(&p(&[("q", "jo"), ("status", "active"), ("sort", "-name"), ("page", "2")])).unwrap();
        assert_eq!(q.search.as_deref(), Some("jo"));
        assert_eq!(q.sort, CustomerSort::FullName);
        assert!(q.descending);
        assert_eq!(q.page, 2);
        let AppError::Validation(e) = App::customer_query(&p(&[("status", "gone"), ("per_page", "9999")])).unwrap_err()
        else {
            panic!()
        };
        assert!(e.contains_key("status") && e.contains_key("per_page"));
    }
}
