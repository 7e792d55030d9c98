//! Vouchers: batches made in one transaction (10,000 codes in a few statements), their
//! lists and counts, revoking, and a code's first use: a guarded update that activates
//! it once, with its sale recorded as a completed `voucher` payment in the same
//! transaction, however many routers ask at the same instant.

use crate::entities::{customer, package, payment, voucher, voucher_batch};
use crate::{SqlStore, audit, corrupt, db_err, from_db, page_of, to_db};
use async_trait::async_trait;
use broadnet_domain::{
    Money, PaymentProvider, PaymentStatus, VoucherCharset, VoucherMode, VoucherStatus, VoucherValidity,
};
use broadnet_store::{
    Actor, BatchSummary, NewVoucherBatch, Page, StoreError, StoreResult, Voucher, VoucherActivation, VoucherBatch,
    VoucherQuery, VoucherRepo,
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::json;

/// Rows per INSERT: far below every backend's bound-parameter limit.
const INSERT_CHUNK: usize = 1000;
/// Codes per `IN (…)` list.
const LOOKUP_CHUNK: usize = 1000;
/// The largest page of vouchers (a whole batch, for print and CSV).
const MAX_VOUCHER_PAGE: u64 = 10_000;

fn u32_of(what: &str, v: i64) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| corrupt(what, &v.to_string()))
}

fn money(v: i64) -> StoreResult<Money> {
    Money::from_minor(v).map_err(|_| corrupt("amount", &v.to_string()))
}

fn batch_record(m: voucher_batch::Model) -> StoreResult<VoucherBatch> {
    Ok(VoucherBatch {
        id: m.id,
        quantity: u32_of("quantity", m.quantity)?,
        code_length: u32_of("code length", m.code_length)?,
        charset: VoucherCharset::parse(&m.charset).map_err(|_| corrupt("voucher charset", &m.charset))?,
        mode: VoucherMode::parse(&m.mode).map_err(|_| corrupt("voucher mode", &m.mode))?,
        validity: VoucherValidity::parse(&m.validity).map_err(|_| corrupt("voucher validity", &m.validity))?,
        valid_until: m.valid_until.map(from_db),
        max_devices: u32_of("max devices", m.max_devices)?,
        price: money(m.price_minor)?,
        name: m.name,
        package_id: m.package_id,
        prefix: m.prefix,
        created_by: m.created_by,
        created_at: from_db(m.created_at),
        revoked_at: m.revoked_at.map(from_db),
    })
}

pub(crate) fn voucher_record(m: voucher::Model) -> StoreResult<Voucher> {
    Ok(Voucher {
        id: m.id,
        status: VoucherStatus::parse(&m.status).map_err(|_| corrupt("voucher status", &m.status))?,
        max_devices: u32_of("max devices", m.max_devices)?,
        price: money(m.price_minor)?,
        code: m.code,
        package_id: m.package_id,
        batch_id: m.batch_id,
        pin: m.pin,
        used_at: m.used_at.map(from_db),
        expires_at: m.expires_at.map(from_db),
        revoked_at: m.revoked_at.map(from_db),
        created_at: from_db(m.created_at),
    })
}

impl SqlStore {
    async fn summaries(&self, batches: Vec<voucher_batch::Model>) -> StoreResult<Vec<BatchSummary>> {
        let ids: Vec<i64> = batches.iter().map(|b| b.id).collect();
        let package_ids: Vec<i64> = batches.iter().map(|b| b.package_id).collect();
        let counts: Vec<(Option<i64>, String, i64)> = if ids.is_empty() {
            Vec::new()
        } else {
            voucher::Entity::find()
                .select_only()
                .column(voucher::Column::BatchId)
                .column(voucher::Column::Status)
                .column_as(voucher::Column::Id.count(), "n")
                .filter(voucher::Column::BatchId.is_in(ids))
                .group_by(voucher::Column::BatchId)
                .group_by(voucher::Column::Status)
                .into_tuple()
                .all(&self.read)
                .await
                .map_err(db_err)?
        };
        let names: Vec<(i64, String)> = if package_ids.is_empty() {
            Vec::new()
        } else {
            package::Entity::find()
                .select_only()
                .column(package::Column::Id)
                .column(package::Column::Name)
                .filter(package::Column::Id.is_in(package_ids))
                .into_tuple()
                .all(&self.read)
                .await
                .map_err(db_err)?
        };
        batches
            .into_iter()
            .map(|b| {
                let package_name = names.iter().find(|(id, _)| *id == b.package_id).map(|(_, n)| n.clone());
                let counts = VoucherStatus::ALL
                    .iter()
                    .map(|s| {
                        let n = counts
                            .iter()
                            .filter(|(bid, st, _)| *bid == Some(b.id) && st == s.as_str())
                            .map(|(_, _, n)| u64::try_from(*n).unwrap_or(0))
                            .sum();
                        (*s, n)
                    })
                    .collect();
                Ok(BatchSummary {
                    package_name: package_name.unwrap_or_else(|| format!("package {}", b.package_id)),
                    batch: batch_record(b)?,
                    counts,
                })
            })
            .collect()
    }

    /// The activation itself, in `txn`; `None` when the guard lost (someone else
    /// changed it first).
    async fn activate_in(
        txn: &DatabaseTransaction,
        v: &voucher::Model,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<voucher::Model>> {
        let expires_at = match v.expires_at {
            // A fixed-date batch: the date was written with the code.
            Some(t) => t,
            None => {
                let p = package::Entity::find_by_id(v.package_id).one(txn).await.map_err(db_err)?;
                let minutes = p.map(|p| p.duration_minutes).ok_or(StoreError::NotFound)?;
                to_db(at + Duration::minutes(minutes))
            }
        };
        let won = voucher::Entity::update_many()
            .col_expr(voucher::Column::Status, Expr::value(VoucherStatus::Active.as_str()))
            .col_expr(voucher::Column::UsedAt, Expr::value(to_db(at)))
            .col_expr(voucher::Column::ExpiresAt, Expr::value(expires_at))
            .filter(voucher::Column::Id.eq(v.id))
            .filter(voucher::Column::Status.eq(VoucherStatus::Unused.as_str()))
            .exec(txn)
            .await
            .map_err(db_err)?;
        if won.rows_affected == 0 {
            return Ok(None);
        }
        if v.price_minor > 0 {
            // The sale: revenue at the voucher's price, on the day it was first used.
            payment::ActiveModel {
                customer_id: Set(None),
                package_id: Set(Some(v.package_id)),
                provider: Set(PaymentProvider::Voucher.as_str().to_string()),
                amount_minor: Set(v.price_minor),
                currency: Set("KES".into()),
                phone: Set(None),
                status: Set(PaymentStatus::Completed.as_str().to_string()),
                checkout_request_id: Set(None),
                merchant_request_id: Set(None),
                provider_receipt: Set(Some(format!("VOUCHER-{}", v.code))),
                account_reference: Set(Some(v.code.clone())),
                result_code: Set(Some("0".into())),
                result_desc: Set(Some(format!("voucher {} first used", v.code))),
                initiated_by_admin_id: Set(None),
                created_at: Set(to_db(at)),
                updated_at: Set(to_db(at)),
                completed_at: Set(Some(to_db(at))),
                ..Default::default()
            }
            .insert(txn)
            .await
            .map_err(db_err)?;
        }
        voucher::Entity::find_by_id(v.id).one(txn).await.map_err(db_err)
    }
}

#[async_trait]
impl VoucherRepo for SqlStore {
    async fn existing_voucher_codes(&self, codes: &[String]) -> StoreResult<Vec<String>> {
        let mut taken = Vec::new();
        for chunk in codes.chunks(LOOKUP_CHUNK) {
            let found: Vec<String> = voucher::Entity::find()
                .select_only()
                .column(voucher::Column::Code)
                .filter(voucher::Column::Code.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(&self.read)
                .await
                .map_err(db_err)?;
            taken.extend(found);
            // A customer's username is a login too (RADIUS looks customers up first):
            // a code equal to one would never log in.
            let keys: Vec<String> = chunk.iter().map(|c| c.to_lowercase()).collect();
            let users: Vec<String> = customer::Entity::find()
                .select_only()
                .column(customer::Column::UsernameKey)
                .filter(customer::Column::UsernameKey.is_in(keys))
                .into_tuple()
                .all(&self.read)
                .await
                .map_err(db_err)?;
            taken.extend(chunk.iter().filter(|c| users.contains(&c.to_lowercase())).cloned());
        }
        taken.sort();
        taken.dedup();
        Ok(taken)
    }

    async fn create_voucher_batch(&self, actor: &Actor, new: NewVoucherBatch) -> StoreResult<VoucherBatch> {
        let at = to_db(new.created_at);
        let quantity = i64::try_from(new.codes.len()).map_err(|_| StoreError::Backend("too many codes".into()))?;
        let txn = self.write.begin().await.map_err(db_err)?;
        let result: StoreResult<VoucherBatch> = async {
            let batch = voucher_batch::ActiveModel {
                name: Set(new.name.clone()),
                package_id: Set(new.package_id),
                quantity: Set(quantity),
                prefix: Set(new.prefix.clone()),
                code_length: Set(i64::from(new.code_length)),
                charset: Set(new.charset.as_str().into()),
                mode: Set(new.mode.as_str().into()),
                validity: Set(new.validity.as_str().into()),
                valid_until: Set(new.valid_until.map(to_db)),
                max_devices: Set(i64::from(new.max_devices)),
                price_minor: Set(new.price.minor()),
                created_by: Set(actor.username.chars().take(128).collect()),
                created_at: Set(at),
                revoked_at: Set(None),
                ..Default::default()
            }
            .insert(&txn)
            .await
            .map_err(db_err)?;
            let expires_at = match new.validity {
                VoucherValidity::Fixed => new.valid_until.map(to_db),
                VoucherValidity::FirstUse => None,
            };
            let mut rows = new.codes.iter().map(|(code, pin)| voucher::ActiveModel {
                code: Set(code.clone()),
                package_id: Set(new.package_id),
                batch: Set(None),
                status: Set(VoucherStatus::Unused.as_str().into()),
                customer_id: Set(None),
                used_at: Set(None),
                expires_at: Set(expires_at),
                created_at: Set(at),
                batch_id: Set(Some(batch.id)),
                pin: Set(pin.clone()),
                max_devices: Set(i64::from(new.max_devices)),
                price_minor: Set(new.price.minor()),
                revoked_at: Set(None),
                ..Default::default()
            });
            loop {
                let chunk: Vec<voucher::ActiveModel> = rows.by_ref().take(INSERT_CHUNK).collect();
                if chunk.is_empty() {
                    break;
                }
                voucher::Entity::insert_many(chunk).exec(&txn).await.map_err(db_err)?;
            }
            let record = batch_record(batch)?;
            let after = json!({"name": record.name, "package_id": record.package_id, "quantity": record.quantity,
                "mode": record.mode, "validity": record.validity, "valid_until": record.valid_until,
                "max_devices": record.max_devices, "price": record.price.to_string()});
            audit(&txn, actor, "voucher_batch.create", "voucher_batch", Some(record.id.to_string()), None, Some(after))
                .await?;
            Ok(record)
        }
        .await;
        match result {
            Ok(batch) => {
                txn.commit().await.map_err(db_err)?;
                Ok(batch)
            }
            Err(e) => {
                let _ = txn.rollback().await;
                Err(e)
            }
        }
    }

    async fn list_voucher_batches(&self, page: u64, per_page: u64) -> StoreResult<Page<BatchSummary>> {
        let (page, per_page) = page_of(page, per_page);
        let q = voucher_batch::Entity::find().order_by_desc(voucher_batch::Column::Id);
        let total = q.clone().count(&self.read).await.map_err(db_err)?;
        let rows = q.paginate(&self.read, per_page).fetch_page(page - 1).await.map_err(db_err)?;
        let items = self.summaries(rows).await?;
        Ok(Page { items, total, page, per_page })
    }

    async fn get_voucher_batch(&self, id: i64) -> StoreResult<BatchSummary> {
        let b =
            voucher_batch::Entity::find_by_id(id).one(&self.read).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
        self.summaries(vec![b]).await?.pop().ok_or(StoreError::NotFound)
    }

    async fn list_vouchers(&self, query: &VoucherQuery) -> StoreResult<Page<Voucher>> {
        let per_page = if query.per_page == 0 { 50 } else { query.per_page.min(MAX_VOUCHER_PAGE) };
        let page = query.page.clamp(1, broadnet_store::MAX_PAGE);
        let mut q = voucher::Entity::find();
        if let Some(b) = query.batch_id {
            q = q.filter(voucher::Column::BatchId.eq(b));
        }
        if let Some(s) = query.status {
            q = q.filter(voucher::Column::Status.eq(s.as_str()));
        }
        if let Some(code) = query.code.as_deref().and_then(broadnet_domain::hotspot::normalise_voucher_code) {
            // Normalised codes are letters and digits only: nothing for LIKE to escape.
            q = q.filter(voucher::Column::Code.like(format!("{code}%")));
        }
        if !query.ids.is_empty() {
            q = q.filter(voucher::Column::Id.is_in(query.ids.iter().copied()));
        }
        let q = q.order_by_asc(voucher::Column::Id);
        let total = q.clone().count(&self.read).await.map_err(db_err)?;
        let rows = q.paginate(&self.read, per_page).fetch_page(page - 1).await.map_err(db_err)?;
        let items = rows.into_iter().map(voucher_record).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items, total, page, per_page })
    }

    async fn revoke_voucher_batch(&self, actor: &Actor, id: i64) -> StoreResult<u64> {
        let at = to_db(actor.at);
        let txn = self.write.begin().await.map_err(db_err)?;
        let result: StoreResult<u64> = async {
            let b =
                voucher_batch::Entity::find_by_id(id).one(&txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
            let done = voucher::Entity::update_many()
                .col_expr(voucher::Column::Status, Expr::value(VoucherStatus::Revoked.as_str()))
                .col_expr(voucher::Column::RevokedAt, Expr::value(at))
                .filter(voucher::Column::BatchId.eq(id))
                .filter(voucher::Column::Status.is_in([VoucherStatus::Unused.as_str(), VoucherStatus::Active.as_str()]))
                .exec(&txn)
                .await
                .map_err(db_err)?;
            voucher_batch::Entity::update_many()
                .col_expr(voucher_batch::Column::RevokedAt, Expr::value(at))
                .filter(voucher_batch::Column::Id.eq(id))
                .exec(&txn)
                .await
                .map_err(db_err)?;
            audit(
                &txn,
                actor,
                "voucher_batch.revoke",
                "voucher_batch",
                Some(id.to_string()),
                Some(json!({"name": b.name, "revoked_at": b.revoked_at.map(from_db)})),
                Some(json!({"revoked": done.rows_affected})),
            )
            .await?;
            Ok(done.rows_affected)
        }
        .await;
        finish(txn, result).await
    }

    async fn revoke_voucher(&self, actor: &Actor, id: i64) -> StoreResult<Voucher> {
        let at = to_db(actor.at);
        let txn = self.write.begin().await.map_err(db_err)?;
        let result: StoreResult<Voucher> = async {
            let v = voucher::Entity::find_by_id(id).one(&txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
            let done = voucher::Entity::update_many()
                .col_expr(voucher::Column::Status, Expr::value(VoucherStatus::Revoked.as_str()))
                .col_expr(voucher::Column::RevokedAt, Expr::value(at))
                .filter(voucher::Column::Id.eq(id))
                .filter(voucher::Column::Status.is_in([VoucherStatus::Unused.as_str(), VoucherStatus::Active.as_str()]))
                .exec(&txn)
                .await
                .map_err(db_err)?;
            if done.rows_affected == 0 {
                return Err(StoreError::InUse(format!("voucher {} is already {}", v.code, v.status.replace('_', " "))));
            }
            let after = voucher::Entity::find_by_id(id).one(&txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
            audit(
                &txn,
                actor,
                "voucher.revoke",
                "voucher",
                Some(id.to_string()),
                Some(json!({"code": v.code, "status": v.status})),
                Some(json!({"code": after.code, "status": after.status})),
            )
            .await?;
            voucher_record(after)
        }
        .await;
        finish(txn, result).await
    }

    async fn get_voucher_by_code(&self, code: &str) -> StoreResult<Voucher> {
        let m = voucher::Entity::find()
            .filter(voucher::Column::Code.eq(code))
            .one(&self.read)
            .await
            .map_err(db_err)?
            .ok_or(StoreError::NotFound)?;
        voucher_record(m)
    }

    async fn activate_voucher(&self, code: &str, at: DateTime<Utc>) -> StoreResult<VoucherActivation> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let result: StoreResult<Option<VoucherActivation>> = async {
            let v = voucher::Entity::find()
                .filter(voucher::Column::Code.eq(code))
                .one(&txn)
                .await
                .map_err(db_err)?
                .ok_or(StoreError::NotFound)?;
            if v.status != VoucherStatus::Unused.as_str() {
                return Ok(None);
            }
            // A fixed-date batch past its date never starts.
            if v.expires_at.is_some_and(|t| from_db(t) <= at) {
                expire_in(&txn, v.id).await?;
                return Ok(None);
            }
            Ok(SqlStore::activate_in(&txn, &v, at)
                .await?
                .map(voucher_record)
                .transpose()?
                .map(VoucherActivation::Activated))
        }
        .await;
        if let Some(done) = finish(txn, result).await? {
            return Ok(done);
        }
        // It was not unused, or another router won the guard: say what it is now, read
        // after that transaction ended (a repeatable-read snapshot would still show
        // the old state).
        let now = voucher::Entity::find()
            .filter(voucher::Column::Code.eq(code))
            .one(&self.write)
            .await
            .map_err(db_err)?
            .ok_or(StoreError::NotFound)?;
        let rec = voucher_record(now)?;
        Ok(match rec.status {
            VoucherStatus::Active => VoucherActivation::AlreadyActive(rec),
            _ => VoucherActivation::NotUsable(rec),
        })
    }

    async fn set_voucher_status(
        &self,
        id: i64,
        from: VoucherStatus,
        to: VoucherStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut q = voucher::Entity::update_many().col_expr(voucher::Column::Status, Expr::value(to.as_str()));
        if to == VoucherStatus::Revoked {
            q = q.col_expr(voucher::Column::RevokedAt, Expr::value(to_db(at)));
        }
        let done = q
            .filter(voucher::Column::Id.eq(id))
            .filter(voucher::Column::Status.eq(from.as_str()))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected == 1)
    }
}

async fn expire_in<C: ConnectionTrait>(conn: &C, id: i64) -> StoreResult<()> {
    voucher::Entity::update_many()
        .col_expr(voucher::Column::Status, Expr::value(VoucherStatus::Expired.as_str()))
        .filter(voucher::Column::Id.eq(id))
        .filter(voucher::Column::Status.eq(VoucherStatus::Unused.as_str()))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Commits on success, rolls back otherwise.
async fn finish<T>(txn: DatabaseTransaction, result: StoreResult<T>) -> StoreResult<T> {
    match result {
        Ok(v) => {
            txn.commit().await.map_err(db_err)?;
            Ok(v)
        }
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}
