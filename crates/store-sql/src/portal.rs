//! The portal's records: the orders its waiting screen follows (by a random token),
//! the right to ask the provider about one (one caller at a time, however many
//! browsers poll), and the M-Pesa codes claimed on it (each once).

use crate::entities::{code_claim, portal_order};
use crate::{SqlStore, corrupt, db_err, from_db, to_db};
use async_trait::async_trait;
use broadnet_domain::{Mac, Phone};
use broadnet_store::{NewPortalOrder, PortalOrder, PortalRepo, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

fn to_record(m: portal_order::Model) -> StoreResult<PortalOrder> {
    Ok(PortalOrder {
        id: m.id,
        phone: Phone::parse(&m.phone).map_err(|_| corrupt("phone", &m.phone))?,
        mac: m
            .mac
            .as_deref()
            .map(Mac::parse)
            .transpose()
            .map_err(|_| corrupt("MAC", m.mac.as_deref().unwrap_or("")))?,
        token: m.token,
        kind: m.kind,
        customer_id: m.customer_id,
        payment_id: m.payment_id,
        package_id: m.package_id,
        ip: m.ip,
        router_identity: m.router_identity,
        queried_at: m.queried_at.map(from_db),
        created_at: from_db(m.created_at),
    })
}

#[async_trait]
impl PortalRepo for SqlStore {
    async fn create_portal_order(&self, new: NewPortalOrder) -> StoreResult<PortalOrder> {
        let m = portal_order::ActiveModel {
            token: Set(new.token),
            kind: Set(new.kind),
            customer_id: Set(new.customer_id),
            payment_id: Set(new.payment_id),
            package_id: Set(new.package_id),
            phone: Set(new.phone.as_str().to_string()),
            mac: Set(new.mac.map(String::from)),
            ip: Set(new.ip.map(|s| s.chars().take(45).collect())),
            router_identity: Set(new.router_identity.map(|s| s.chars().take(128).collect())),
            queried_at: Set(None),
            created_at: Set(to_db(new.created_at)),
            ..Default::default()
        }
        .insert(&self.write)
        .await
        .map_err(db_err)?;
        to_record(m)
    }

    async fn get_portal_order(&self, token: &str) -> StoreResult<PortalOrder> {
        let m = portal_order::Entity::find()
            .filter(portal_order::Column::Token.eq(token))
            .one(&self.read)
            .await
            .map_err(db_err)?
            .ok_or(StoreError::NotFound)?;
        to_record(m)
    }

    async fn set_portal_order_payment(&self, id: i64, payment_id: i64) -> StoreResult<()> {
        let done = portal_order::Entity::update_many()
            .col_expr(portal_order::Column::PaymentId, Expr::value(payment_id))
            .col_expr(portal_order::Column::QueriedAt, Expr::value(Option::<chrono::NaiveDateTime>::None))
            .filter(portal_order::Column::Id.eq(id))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        if done.rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn claim_portal_query(&self, id: i64, asked_before: DateTime<Utc>, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = portal_order::Entity::update_many()
            .col_expr(portal_order::Column::QueriedAt, Expr::value(to_db(at)))
            .filter(portal_order::Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(portal_order::Column::QueriedAt.is_null())
                    .add(portal_order::Column::QueriedAt.lt(to_db(asked_before))),
            )
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected == 1)
    }

    async fn portal_orders_of_mac(&self, mac: &str, since: DateTime<Utc>) -> StoreResult<Vec<PortalOrder>> {
        portal_order::Entity::find()
            .filter(portal_order::Column::Mac.eq(mac))
            .filter(portal_order::Column::CreatedAt.gte(to_db(since)))
            .order_by_desc(portal_order::Column::CreatedAt)
            .limit(20)
            .all(&self.read)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_record)
            .collect()
    }

    async fn code_claimed(&self, receipt: &str) -> StoreResult<bool> {
        use sea_orm::PaginatorTrait;
        let n = code_claim::Entity::find()
            .filter(code_claim::Column::Receipt.eq(receipt))
            .count(&self.read)
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }

    async fn record_code_claim(
        &self,
        receipt: &str,
        username: &str,
        mac: Option<&str>,
        ip: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let r = code_claim::ActiveModel {
            receipt: Set(receipt.chars().take(64).collect()),
            username: Set(username.chars().take(64).collect()),
            mac: Set(mac.map(|m| m.chars().take(17).collect())),
            ip: Set(ip.map(|i| i.chars().take(64).collect())),
            created_at: Set(to_db(at)),
            ..Default::default()
        }
        .insert(&self.write)
        .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) => match db_err(e) {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }
}
