//! The unmatched payments queue, and assigning an entry to a customer: one
//! transaction that turns the queued money into a completed payment.

use crate::entities::{customer, payment, unmatched};
use crate::payments::{Renewed, complete_in, to_record as payment_record};
use crate::{SqlStore, audit, corrupt, db_err, from_db, to_db};
use async_trait::async_trait;
use broadnet_domain::{PaymentProvider, PaymentStatus};
use broadnet_store::{
    Actor, AssignOutcome, Assignment, CompleteOutcome, Completion, NewUnmatched, Page, PaymentRepo, StoreError,
    StoreResult, UnmatchedPayment, UnmatchedQuery, UnmatchedRepo, UnmatchedStatus,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

fn to_record(m: unmatched::Model) -> StoreResult<UnmatchedPayment> {
    Ok(UnmatchedPayment {
        id: m.id,
        provider: PaymentProvider::parse(&m.provider).map_err(|_| corrupt("payment provider", &m.provider))?,
        amount: broadnet_domain::Money::from_minor(m.amount_minor)
            .map_err(|_| corrupt("amount", &m.amount_minor.to_string()))?,
        status: UnmatchedStatus::parse(&m.status).map_err(|_| corrupt("unmatched status", &m.status))?,
        receipt: m.receipt,
        currency: m.currency,
        phone: m.phone,
        payer_name: m.payer_name,
        account_reference: m.account_reference,
        reason: m.reason,
        payment_id: m.payment_id,
        customer_id: m.customer_id,
        resolved_by: m.resolved_by,
        resolved_at: m.resolved_at.map(from_db),
        note: m.note,
        created_at: from_db(m.created_at),
    })
}

/// Keeps a value within its column, on a character boundary.
fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

impl SqlStore {
    /// The assignment, run once; `None` when the entry was no longer open.
    async fn assign_txn(&self, actor: &Actor, a: &Assignment) -> StoreResult<Option<(UnmatchedPayment, Renewed)>> {
        let txn = self.write.begin().await.map_err(db_err)?;
        match assign_in(&txn, actor, a).await {
            Ok(Some(done)) => {
                txn.commit().await.map_err(db_err)?;
                Ok(Some(done))
            }
            Ok(None) => {
                txn.rollback().await.map_err(db_err)?;
                Ok(None)
            }
            Err(e) => {
                let _ = txn.rollback().await;
                Err(e)
            }
        }
    }
}

async fn assign_in(
    txn: &DatabaseTransaction,
    actor: &Actor,
    a: &Assignment,
) -> StoreResult<Option<(UnmatchedPayment, Renewed)>> {
    let at = to_db(actor.at);
    // The guard: of two admins assigning at once, one moves it out of open.
    let won = unmatched::Entity::update_many()
        .col_expr(unmatched::Column::Status, Expr::value(UnmatchedStatus::Assigned.as_str()))
        .col_expr(unmatched::Column::CustomerId, Expr::value(a.customer_id))
        .col_expr(unmatched::Column::ResolvedBy, Expr::value(cut(&actor.username, 128)))
        .col_expr(unmatched::Column::ResolvedAt, Expr::value(at))
        .col_expr(unmatched::Column::Note, Expr::value(a.note.as_deref().map(|n| cut(n, 500))))
        .filter(unmatched::Column::Id.eq(a.unmatched_id))
        .filter(unmatched::Column::Status.eq(UnmatchedStatus::Open.as_str()))
        .exec(txn)
        .await
        .map_err(db_err)?;
    if won.rows_affected == 0 {
        return Ok(None);
    }
    let entry =
        unmatched::Entity::find_by_id(a.unmatched_id).one(txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
    let before = to_record(entry.clone())?;
    let cust =
        customer::Entity::find_by_id(a.customer_id).one(txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
    let package_id =
        a.package_id.or(cust.package_id).ok_or_else(|| StoreError::InUse("the customer has no package".into()))?;
    // A payment made of the queued money, pending for the one instant before the
    // completion below applies it in this same transaction.
    let created = payment::ActiveModel {
        customer_id: Set(Some(a.customer_id)),
        package_id: Set(Some(package_id)),
        provider: Set(entry.provider.clone()),
        amount_minor: Set(entry.amount_minor),
        currency: Set(entry.currency.clone()),
        phone: Set(None),
        status: Set(PaymentStatus::Pending.as_str().to_string()),
        checkout_request_id: Set(Some(format!("unmatched:{}", entry.id))),
        merchant_request_id: Set(None),
        provider_receipt: Set(None),
        account_reference: Set(entry.account_reference.clone()),
        result_code: Set(None),
        result_desc: Set(None),
        initiated_by_admin_id: Set(actor.admin_id),
        created_at: Set(at),
        updated_at: Set(at),
        completed_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(db_err)?;
    let current = payment_record(created)?;
    let completion = Completion {
        payment_id: current.id,
        provider_receipt: entry.receipt.clone(),
        amount: current.amount,
        phone: None,
        result_desc: format!("assigned from the unmatched queue by {}", actor.username),
        at: actor.at,
        provider_confirmed: false,
    };
    let Some(renewed) = complete_in(txn, &completion, &current).await? else {
        return Err(StoreError::Backend("a payment made in this transaction could not be completed".into()));
    };
    unmatched::Entity::update_many()
        .col_expr(unmatched::Column::PaymentId, Expr::value(current.id))
        .filter(unmatched::Column::Id.eq(entry.id))
        .exec(txn)
        .await
        .map_err(db_err)?;
    let after = to_record(
        unmatched::Entity::find_by_id(entry.id).one(txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?,
    )?;
    let detail = |u: &UnmatchedPayment| {
        serde_json::json!({"status": u.status, "customer_id": u.customer_id, "payment_id": u.payment_id,
            "receipt": u.receipt, "amount_minor": u.amount.minor(), "note": u.note})
    };
    audit(
        txn,
        actor,
        "unmatched.assign",
        "unmatched_payment",
        Some(entry.id.to_string()),
        Some(detail(&before)),
        Some(detail(&after)),
    )
    .await?;
    Ok(Some((after, renewed)))
}

#[async_trait]
impl UnmatchedRepo for SqlStore {
    async fn record_unmatched(&self, n: NewUnmatched) -> StoreResult<UnmatchedPayment> {
        let row = unmatched::ActiveModel {
            provider: Set(n.provider.as_str().to_string()),
            receipt: Set(cut(&n.receipt, 64)),
            amount_minor: Set(n.amount.minor()),
            currency: Set("KES".into()),
            phone: Set(n.phone.as_deref().map(|p| cut(p, 32))),
            payer_name: Set(n.payer_name.as_deref().map(|p| cut(p, 128))),
            account_reference: Set(n.account_reference.as_deref().map(|p| cut(p, 64))),
            reason: Set(cut(&n.reason, 500)),
            status: Set(UnmatchedStatus::Open.as_str().to_string()),
            payment_id: Set(n.payment_id),
            customer_id: Set(None),
            resolved_by: Set(None),
            resolved_at: Set(None),
            note: Set(None),
            created_at: Set(to_db(n.at)),
            ..Default::default()
        };
        match row.insert(&self.write).await.map_err(db_err) {
            Ok(m) => to_record(m),
            // The same money reported again: queued once.
            Err(StoreError::Conflict(_)) => self.find_unmatched_by_receipt(&cut(&n.receipt, 64)).await,
            Err(e) => Err(e),
        }
    }

    async fn get_unmatched(&self, id: i64) -> StoreResult<UnmatchedPayment> {
        let m = unmatched::Entity::find_by_id(id).one(&self.read).await.map_err(db_err)?;
        to_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn find_unmatched_by_receipt(&self, receipt: &str) -> StoreResult<UnmatchedPayment> {
        let m = unmatched::Entity::find()
            .filter(unmatched::Column::Receipt.eq(receipt))
            .one(&self.read)
            .await
            .map_err(db_err)?;
        to_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn list_unmatched(&self, q: &UnmatchedQuery) -> StoreResult<Page<UnmatchedPayment>> {
        let mut find = unmatched::Entity::find();
        if let Some(s) = q.status {
            find = find.filter(unmatched::Column::Status.eq(s.as_str()));
        }
        let find = find.order_by_desc(unmatched::Column::CreatedAt).order_by_desc(unmatched::Column::Id);
        crate::fetch_page(&self.read, find, q.page, q.per_page, to_record).await
    }

    async fn assign_unmatched(&self, actor: &Actor, a: Assignment) -> StoreResult<AssignOutcome> {
        // Deadlock victims (InnoDB) and serialization failures were rolled back whole.
        let mut attempt = 0;
        let done = loop {
            match self.assign_txn(actor, &a).await {
                Err(e) if e.is_retryable() && attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5 * attempt)).await;
                }
                other => break other?,
            }
        };
        match done {
            Some((unmatched, r)) => {
                let id = unmatched.payment_id.ok_or(StoreError::NotFound)?;
                let payment = self.get_payment(id).await?;
                Ok(AssignOutcome::Assigned {
                    unmatched: Box::new(unmatched),
                    outcome: Box::new(CompleteOutcome::Completed {
                        payment,
                        invoice_number: r.invoice_number,
                        expires_at: r.expires_at,
                        renewal: r.renewal,
                    }),
                })
            }
            None => {
                Ok(AssignOutcome::AlreadyResolved { unmatched: Box::new(self.get_unmatched(a.unmatched_id).await?) })
            }
        }
    }
}
