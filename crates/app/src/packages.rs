//! Packages: validated from a request, stored, and shown with their RouterOS rate limit.

use crate::input::{Fields, Input, Slot, Unknown};
use crate::{App, AppError, AppResult, Session};
use broadnet_domain::{Money, Rate, ServiceType, format_duration_minutes, parse_duration_minutes};
use broadnet_store::{NewPackage, Package, PackageBurst};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A whole package as an admin sends it (create and replace both take every field),
/// from JSON or a form: `price` `"1500"`, `free` `"on"`, rates `"10M"`, `duration`
/// `"30d"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PackageRequest {
    pub name: Input,
    pub description: Input,
    /// `pppoe`, `hotspot` or `both` (the default).
    pub service_type: Input,
    /// In major units, e.g. `1500` or `"1500.00"`.
    pub price: Input,
    /// Must be true for a price of 0.
    pub free: Input,
    pub download_rate: Input,
    pub upload_rate: Input,
    pub duration: Input,
    pub data_limit_mb: Input,
    pub shared_users: Input,
    pub framed_pool: Input,
    pub active: Input,
    pub burst_download_rate: Input,
    pub burst_upload_rate: Input,
    pub burst_threshold_download: Input,
    pub burst_threshold_upload: Input,
    pub burst_time: Input,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// Reads a whole package (create and replace both take every field).
pub fn parse_package(req: &PackageRequest) -> AppResult<NewPackage> {
    let mut f = Fields::new(&req.unknown);
    let name = f.line("name", &req.name, 128);
    let name = f.required("name", name);
    let description = f.text("description", &req.description, 2000).value();
    let st = f.parsed("service_type", &req.service_type, ServiceType::parse);
    let service_type = match st {
        Slot::Absent | Slot::Null if !f.has_error("service_type") => Some(ServiceType::Both),
        s => f.required("service_type", s),
    };
    let price = f.parsed("price", &req.price, Money::parse_major);
    let price = f.required("price", price);
    // A price of 0 gives access away: only on purpose, never from a typo or an
    // empty field.
    let free = f.boolean("free", &req.free).value().unwrap_or(false);
    match price {
        Some(p) if p.minor() == 0 && !free => {
            f.error("price", "is 0: to offer this package free of charge, also send \"free\": true")
        }
        Some(p) if p.minor() != 0 && free => f.error("free", "a free package has a price of 0"),
        _ => {}
    }
    let down = f.parsed("download_rate", &req.download_rate, Rate::parse);
    let download = f.required("download_rate", down);
    let up = f.parsed("upload_rate", &req.upload_rate, Rate::parse);
    let upload = f.required("upload_rate", up);
    let duration = f.parsed("duration", &req.duration, parse_duration_minutes);
    let duration_minutes = f.required("duration", duration);
    let data_limit_mb = f.int("data_limit_mb", &req.data_limit_mb, 1, 100_000_000).value();
    let shared_users = f.int("shared_users", &req.shared_users, 1, 100).value().unwrap_or(1) as i32;
    let framed_pool = f.parsed("framed_pool", &req.framed_pool, parse_pool_name).value();
    let active = f.boolean("active", &req.active).value().unwrap_or(true);

    let bd = f.parsed("burst_download_rate", &req.burst_download_rate, Rate::parse).value();
    let bu = f.parsed("burst_upload_rate", &req.burst_upload_rate, Rate::parse).value();
    let td = f.parsed("burst_threshold_download", &req.burst_threshold_download, Rate::parse).value();
    let tu = f.parsed("burst_threshold_upload", &req.burst_threshold_upload, Rate::parse).value();
    let bt = f.int("burst_time", &req.burst_time, 1, 3600).value();
    let burst = match (bd, bu) {
        (None, None) => None,
        (Some(bd), Some(bu)) => match (download, upload) {
            (Some(d), Some(u)) => {
                if bd < d || bu < u {
                    f.error("burst_download_rate", "burst rates must be at least the normal rates");
                }
                // RouterOS defaults: threshold at 3/4 of the normal rate, 16 s burst time.
                Some(PackageBurst {
                    download_bps: bd.bps(),
                    upload_bps: bu.bps(),
                    threshold_download_bps: td.map(Rate::bps).unwrap_or(d.bps() * 3 / 4),
                    threshold_upload_bps: tu.map(Rate::bps).unwrap_or(u.bps() * 3 / 4),
                    time_secs: bt.unwrap_or(16) as u32,
                })
            }
            _ => None,
        },
        _ => {
            f.error("burst_download_rate", "give both burst_download_rate and burst_upload_rate, or neither");
            None
        }
    };
    f.finish()?;
    match (name, service_type, price, download, upload, duration_minutes) {
        (Some(name), Some(service_type), Some(price), Some(d), Some(u), Some(duration_minutes)) => Ok(NewPackage {
            name,
            description,
            service_type,
            price,
            download_bps: d.bps(),
            upload_bps: u.bps(),
            burst,
            duration_minutes,
            data_limit_mb,
            shared_users,
            framed_pool,
            active,
        }),
        _ => Err(AppError::Internal("package fields missing after validation".into())),
    }
}

/// The API's view of a package: prices as text and in minor units, rates as
/// RouterOS spells them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageView {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub service_type: ServiceType,
    pub price: String,
    pub price_minor: i64,
    pub free: bool,
    pub download_rate: String,
    pub upload_rate: String,
    pub burst: Option<BurstView>,
    pub mikrotik_rate_limit: String,
    pub duration: String,
    pub duration_minutes: i64,
    pub data_limit_mb: Option<i64>,
    pub shared_users: i32,
    pub framed_pool: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurstView {
    pub download_rate: String,
    pub upload_rate: String,
    pub threshold_download: String,
    pub threshold_upload: String,
    pub time: u32,
}

impl From<&Package> for PackageView {
    fn from(p: &Package) -> Self {
        PackageView {
            id: p.id,
            name: p.name.clone(),
            description: p.description.clone(),
            service_type: p.service_type,
            price: p.price.to_string(),
            price_minor: p.price.minor(),
            free: p.price.minor() == 0,
            download_rate: Rate::from_bps(p.download_bps).to_string(),
            upload_rate: Rate::from_bps(p.upload_bps).to_string(),
            burst: p.burst.map(|b| BurstView {
                download_rate: Rate::from_bps(b.download_bps).to_string(),
                upload_rate: Rate::from_bps(b.upload_bps).to_string(),
                threshold_download: Rate::from_bps(b.threshold_download_bps).to_string(),
                threshold_upload: Rate::from_bps(b.threshold_upload_bps).to_string(),
                time: b.time_secs,
            }),
            mikrotik_rate_limit: p.rate_limit().mikrotik(),
            duration: format_duration_minutes(p.duration_minutes),
            duration_minutes: p.duration_minutes,
            data_limit_mb: p.data_limit_mb,
            shared_users: p.shared_users,
            framed_pool: p.framed_pool.clone(),
            active: p.active,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl App {
    pub async fn create_package(&self, s: &Session, req: PackageRequest) -> AppResult<Package> {
        s.require_write()?;
        let new = parse_package(&req)?;
        self.store.create_package(&s.actor(self.now()), new).await.map_err(AppError::from_store("package"))
    }

    pub async fn update_package(&self, s: &Session, id: i64, req: PackageRequest) -> AppResult<Package> {
        s.require_write()?;
        let new = parse_package(&req)?;
        self.store.update_package(&s.actor(self.now()), id, new).await.map_err(AppError::from_store("package"))
    }

    pub async fn list_packages(&self) -> AppResult<Vec<PackageView>> {
        Ok(self.store.list_packages().await?.iter().map(PackageView::from).collect())
    }

    pub async fn get_package(&self, id: i64) -> AppResult<PackageView> {
        Ok(PackageView::from(&self.store.get_package(id).await.map_err(AppError::from_store("package"))?))
    }

    pub async fn delete_package(&self, s: &Session, id: i64) -> AppResult<()> {
        s.require_write()?;
        self.store.delete_package(&s.actor(self.now()), id).await.map_err(AppError::from_store("package"))
    }
}

/// A RouterOS `/ip pool` name: letters, digits, `-`, `_`, `.`; up to 64 characters.
fn parse_pool_name(s: &str) -> Result<String, broadnet_domain::ParseError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 || !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(broadnet_domain::ParseError::new("must be a router IP pool name (letters, digits, - _ .)"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn json(v: serde_json::Value) -> PackageRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn parses_a_package_and_reports_every_bad_field() {
        let p = parse_package(&json(serde_json::json!({"name": "Home 10", "price": "1500", "download_rate": "10M",
            "upload_rate": "5M", "duration": "30d", "service_type": "pppoe"})))
        .unwrap();
        assert_eq!(p.price.minor(), 150_000);
        assert_eq!(p.duration_minutes, 43_200);
        let AppError::Validation(errs) = parse_package(&json(serde_json::json!({"price": "-1",
            "download_rate": "fast", "duration": "forever", "colour": "red"})))
        .unwrap_err() else {
            panic!()
        };
        for f in ["name", "price", "download_rate", "upload_rate", "duration", "colour"] {
            assert!(errs.contains_key(f), "{f}: {errs:?}");
        }
    }

    #[test]
    fn a_form_and_json_give_the_same_package() {
        let form: PackageRequest = serde_urlencoded::from_str(
            "name=Free+trial&price=0&free=on&download_rate=2M&upload_rate=1M&duration=1h&shared_users=2&active=off",
        )
        .unwrap();
        let from_json = json(serde_json::json!({"name": "Free trial", "price": 0, "free": true,
            "download_rate": "2M", "upload_rate": "1M", "duration": "1h", "shared_users": 2, "active": false}));
        let (a, b) = (parse_package(&form).unwrap(), parse_package(&from_json).unwrap());
        assert_eq!(a, b);
        assert_eq!((a.price.minor(), a.shared_users, a.active), (0, 2, false));
        // The same refusals, with the same messages.
        let form: PackageRequest = serde_urlencoded::from_str("name=X&price=0&download_rate=2M").unwrap();
        let AppError::Validation(e) = parse_package(&form).unwrap_err() else { panic!() };
        assert_eq!(e["price"], ["is 0: to offer this package free of charge, also send \"free\": true"]);
        assert_eq!(e["upload_rate"], ["is required"]);
    }
}
