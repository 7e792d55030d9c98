//! Packages: speed, duration and price plans.

use crate::entities::{
    customer,
    package::{self, ActiveModel, Column, Entity},
};
use crate::{SqlStore, audit, corrupt, db_err, from_db, to_db};
use async_trait::async_trait;
use broadnet_domain::{Money, ServiceType};
use broadnet_store::{Actor, NewPackage, Package, PackageBurst, PackageRepo, StoreError, StoreResult};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde_json::json;

pub(crate) fn to_record(m: package::Model) -> StoreResult<Package> {
    let burst = match (
        m.burst_download_bps,
        m.burst_upload_bps,
        m.burst_threshold_download_bps,
        m.burst_threshold_upload_bps,
        m.burst_time_secs,
    ) {
        (Some(d), Some(u), Some(td), Some(tu), Some(t)) => Some(PackageBurst {
            download_bps: d as u64,
            upload_bps: u as u64,
            threshold_download_bps: td as u64,
            threshold_upload_bps: tu as u64,
            time_secs: t as u32,
        }),
        _ => None,
    };
    Ok(Package {
        id: m.id,
        service_type: ServiceType::parse(&m.service_type).map_err(|_| corrupt("service type", &m.service_type))?,
        price: Money::from_minor(m.price_minor).map_err(|_| corrupt("price", &m.price_minor.to_string()))?,
        name: m.name,
        description: m.description,
        download_bps: m.download_bps as u64,
        upload_bps: m.upload_bps as u64,
        burst,
        duration_minutes: m.duration_minutes,
        data_limit_mb: m.data_limit_mb,
        shared_users: m.shared_users,
        framed_pool: m.framed_pool,
        active: m.active,
        created_at: from_db(m.created_at),
        updated_at: from_db(m.updated_at),
    })
}

fn apply(am: &mut ActiveModel, n: NewPackage) {
    am.name = Set(n.name);
    am.description = Set(n.description);
    am.service_type = Set(n.service_type.as_str().to_string());
    am.price_minor = Set(n.price.minor());
    am.download_bps = Set(n.download_bps as i64);
    am.upload_bps = Set(n.upload_bps as i64);
    am.burst_download_bps = Set(n.burst.map(|b| b.download_bps as i64));
    am.burst_upload_bps = Set(n.burst.map(|b| b.upload_bps as i64));
    am.burst_threshold_download_bps = Set(n.burst.map(|b| b.threshold_download_bps as i64));
    am.burst_threshold_upload_bps = Set(n.burst.map(|b| b.threshold_upload_bps as i64));
    am.burst_time_secs = Set(n.burst.map(|b| b.time_secs as i32));
    am.duration_minutes = Set(n.duration_minutes);
    am.data_limit_mb = Set(n.data_limit_mb);
    am.shared_users = Set(n.shared_users);
    am.framed_pool = Set(n.framed_pool.clone());
    am.active = Set(n.active);
    let rate = broadnet_store::rate_limit_of(n.download_bps, n.upload_bps, n.burst).mikrotik();
    am.mikrotik_rate_limit = Set(rate);
}

fn audit_json(p: &Package) -> serde_json::Value {
    json!({
        "id": p.id, "name": p.name, "description": p.description,
        "service_type": p.service_type, "price_minor": p.price.minor(),
        "download_bps": p.download_bps, "upload_bps": p.upload_bps, "burst": p.burst,
        "duration_minutes": p.duration_minutes, "data_limit_mb": p.data_limit_mb,
        "shared_users": p.shared_users, "framed_pool": p.framed_pool, "active": p.active,
    })
}

#[async_trait]
impl PackageRepo for SqlStore {
    async fn create_package(&self, actor: &Actor, new: NewPackage) -> StoreResult<Package> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let mut am =
            ActiveModel { created_at: Set(to_db(actor.at)), updated_at: Set(to_db(actor.at)), ..Default::default() };
        apply(&mut am, new);
        let created = to_record(am.insert(&txn).await.map_err(db_err)?)?;
        audit(&txn, actor, "package.create", "package", Some(created.id.to_string()), None, Some(audit_json(&created)))
            .await?;
        txn.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn get_package(&self, id: i64) -> StoreResult<Package> {
        let m = Entity::find_by_id(id).one(&self.read).await.map_err(db_err)?;
        to_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn update_package(&self, actor: &Actor, id: i64, new: NewPackage) -> StoreResult<Package> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let current = Entity::find_by_id(id).one(&txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
        let before = to_record(current.clone())?;
        let mut am = current.into_active_model();
        apply(&mut am, new);
        am.updated_at = Set(to_db(actor.at));
        let after = to_record(am.update(&txn).await.map_err(db_err)?)?;
        audit(
            &txn,
            actor,
            "package.update",
            "package",
            Some(id.to_string()),
            Some(audit_json(&before)),
            Some(audit_json(&after)),
        )
        .await?;
        txn.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn delete_package(&self, actor: &Actor, id: i64) -> StoreResult<()> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let current = Entity::find_by_id(id).one(&txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
        let before = to_record(current)?;
        let users =
            customer::Entity::find().filter(customer::Column::PackageId.eq(id)).count(&txn).await.map_err(db_err)?;
        if users > 0 {
            return Err(StoreError::InUse(format!("{users} customer(s) are on this package")));
        }
        Entity::delete_by_id(id).exec(&txn).await.map_err(db_err)?;
        audit(&txn, actor, "package.delete", "package", Some(id.to_string()), Some(audit_json(&before)), None).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn list_packages(&self) -> StoreResult<Vec<Package>> {
        Entity::find()
            .order_by_asc(Column::Name)
            .all(&self.read)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_record)
            .collect()
    }
}
