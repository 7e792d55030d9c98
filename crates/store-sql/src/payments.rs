//! Payments, and completing one: the single transaction that renews a customer.

use crate::entities::{counter, customer, invoice, package, payment, setting};
use crate::{SqlStore, corrupt, db_err, from_db, to_db};
use async_trait::async_trait;
use broadnet_domain::billing::{self, Renewal};
use broadnet_domain::{CustomerStatus, Money, PaymentProvider, PaymentStatus, Phone};
use broadnet_store::{
    CompleteOutcome, Completion, Invoice, InvoiceQuery, NewPayment, Page, Payment, PaymentQuery, PaymentRepo,
    StoreError, StoreResult,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

pub(crate) fn to_record(m: payment::Model) -> StoreResult<Payment> {
    Ok(Payment {
        id: m.id,
        customer_id: m.customer_id,
        package_id: m.package_id,
        provider: PaymentProvider::parse(&m.provider).map_err(|_| corrupt("payment provider", &m.provider))?,
        amount: Money::from_minor(m.amount_minor).map_err(|_| corrupt("amount", &m.amount_minor.to_string()))?,
        currency: m.currency,
        phone: match m.phone {
            Some(p) => Some(Phone::parse(&p).map_err(|_| corrupt("phone", &p))?),
            None => None,
        },
        status: PaymentStatus::parse(&m.status).map_err(|_| corrupt("payment status", &m.status))?,
        checkout_request_id: m.checkout_request_id,
        merchant_request_id: m.merchant_request_id,
        provider_receipt: m.provider_receipt,
        account_reference: m.account_reference,
        result_code: m.result_code,
        result_desc: m.result_desc,
        created_at: from_db(m.created_at),
        updated_at: from_db(m.updated_at),
        completed_at: m.completed_at.map(from_db),
    })
}

fn invoice_record(m: invoice::Model) -> StoreResult<Invoice> {
    Ok(Invoice {
        id: m.id,
        number: m.number,
        payment_id: m.payment_id,
        customer_id: m.customer_id,
        customer_name: m.customer_name,
        package_name: m.package_name,
        amount: Money::from_minor(m.amount_minor).map_err(|_| corrupt("amount", &m.amount_minor.to_string()))?,
        currency: m.currency,
        period_start: m.period_start.map(from_db),
        period_end: m.period_end.map(from_db),
        issued_at: from_db(m.issued_at),
        periods: u32::try_from(m.periods).unwrap_or(0),
        applied: Money::from_minor(m.applied_minor.unwrap_or(m.amount_minor))
            .map_err(|_| corrupt("applied", &m.amount_minor.to_string()))?,
        balance_after: Money::from_minor(m.balance_after_minor)
            .map_err(|_| corrupt("balance", &m.balance_after_minor.to_string()))?,
    })
}

/// Next value of a named counter, inside the caller's transaction (the row lock
/// the UPDATE takes keeps two transactions from getting the same number).
async fn next_counter(txn: &DatabaseTransaction, name: &str) -> StoreResult<i64> {
    for _ in 0..2 {
        let res = counter::Entity::update_many()
            .col_expr(counter::Column::Value, Expr::col(counter::Column::Value).add(1))
            .filter(counter::Column::Name.eq(name))
            .exec(txn)
            .await
            .map_err(db_err)?;
        if res.rows_affected == 1 {
            let row = counter::Entity::find_by_id(name.to_string()).one(txn).await.map_err(db_err)?;
            return row.map(|r| r.value).ok_or(StoreError::NotFound);
        }
        let first = counter::ActiveModel { name: Set(name.to_string()), value: Set(1) };
        match first.insert(txn).await.map_err(db_err) {
            Ok(_) => return Ok(1),
            // Another transaction created it first: increment it instead.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Backend(format!("counter {name} could not be advanced")))
}

/// The answer for a payment no longer pending: a duplicate of the callback that
/// completed it, or a refusal.
fn settled(payment: Payment, receipt: &str) -> CompleteOutcome {
    if payment.provider_receipt.as_deref() == Some(receipt) {
        return CompleteOutcome::AlreadyCompleted { payment };
    }
    let reason = if payment.status == PaymentStatus::Completed {
        format!("already completed with another receipt; {receipt} not applied")
    } else {
        format!("payment is {}, not pending", payment.status)
    };
    CompleteOutcome::Refused { payment, reason }
}

pub use billing::NO_ANSWER;
use billing::OUR_REFUSALS;

/// The SQL form of `billing::open_for_completion`, for the guard update.
fn open_for_completion(provider_confirmed: bool) -> sea_orm::Condition {
    let open = sea_orm::Condition::any().add(payment::Column::Status.eq(PaymentStatus::Pending.as_str())).add(
        sea_orm::Condition::all()
            .add(payment::Column::Status.eq(PaymentStatus::Expired.as_str()))
            .add(payment::Column::ResultCode.eq(NO_ANSWER)),
    );
    if !provider_confirmed {
        return open;
    }
    open.add(
        sea_orm::Condition::all()
            .add(payment::Column::Status.is_in([
                PaymentStatus::Failed.as_str(),
                PaymentStatus::Cancelled.as_str(),
                PaymentStatus::Expired.as_str(),
            ]))
            .add(
                sea_orm::Condition::any()
                    .add(payment::Column::ResultCode.is_null())
                    .add(payment::Column::ResultCode.is_not_in(OUR_REFUSALS)),
            ),
    )
}

fn rand_jitter() -> u8 {
    // Spread retries so the same two transactions do not collide again.
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) % 7)
        as u8
}

/// What completing a payment did.
#[derive(Debug, Clone)]
pub(crate) struct Renewed {
    pub invoice_number: String,
    /// The customer's expiry afterwards.
    pub expires_at: Option<DateTime<Utc>>,
    pub renewal: Renewal,
}

/// One completion waiting for the SQLite group-commit writer.
pub(crate) struct CompletionJob {
    c: Completion,
    current: Payment,
    reply: tokio::sync::oneshot::Sender<StoreResult<Option<Renewed>>>,
}

/// SQLite has one writer and each commit is an fsync (synchronous=FULL): completions
/// arriving together are applied in one transaction, each inside its own savepoint
/// (one failing rolls back alone), and made durable by one commit. Nobody is answered
/// before that commit.
pub(crate) fn spawn_completion_writer(write: sea_orm::DatabaseConnection) -> tokio::sync::mpsc::Sender<CompletionJob> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<CompletionJob>(1024);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(64);
        while rx.recv_many(&mut batch, 64).await > 0 {
            let jobs = std::mem::take(&mut batch);
            let results = match write.begin().await.map_err(db_err) {
                Ok(txn) => {
                    let mut results = Vec::with_capacity(jobs.len());
                    for job in &jobs {
                        results.push(in_savepoint(&txn, &job.c, &job.current).await);
                    }
                    match txn.commit().await.map_err(db_err) {
                        Ok(()) => results,
                        Err(e) => jobs.iter().map(|_| Err(e.clone())).collect(),
                    }
                }
                Err(e) => jobs.iter().map(|_| Err(e.clone())).collect(),
            };
            for (job, r) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(r);
            }
        }
    });
    tx
}

async fn in_savepoint(txn: &DatabaseTransaction, c: &Completion, current: &Payment) -> StoreResult<Option<Renewed>> {
    let sp = txn.begin().await.map_err(db_err)?;
    match complete_in(&sp, c, current).await {
        Ok(r) => {
            sp.commit().await.map_err(db_err)?;
            Ok(r)
        }
        Err(e) => {
            sp.rollback().await.map_err(db_err)?;
            Err(e)
        }
    }
}

/// The work of completing a payment, inside the caller's transaction. `None` when
/// another transaction completed (or closed) it first.
pub(crate) async fn complete_in(
    txn: &DatabaseTransaction,
    c: &Completion,
    current: &Payment,
) -> StoreResult<Option<Renewed>> {
    let at = to_db(c.at);
    // The guard: only one transaction can move the payment out of pending.
    let won = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(PaymentStatus::Completed.as_str()))
        .col_expr(payment::Column::ProviderReceipt, Expr::value(c.provider_receipt.clone()))
        .col_expr(payment::Column::ResultCode, Expr::value("0"))
        .col_expr(payment::Column::ResultDesc, Expr::value(c.result_desc.clone()))
        .col_expr(payment::Column::CompletedAt, Expr::value(at))
        .col_expr(payment::Column::UpdatedAt, Expr::value(at))
        .filter(payment::Column::Id.eq(c.payment_id))
        .filter(open_for_completion(c.provider_confirmed))
        .exec(txn)
        .await
        .map_err(db_err)?;
    if won.rows_affected == 0 {
        return Ok(None);
    }
    let (Some(customer_id), Some(package_id)) = (current.customer_id, current.package_id) else {
        return Err(StoreError::Backend("payment without customer or package".into()));
    };
    // Lock the customer row so two payments cannot both extend from the same expiry.
    let mut q = customer::Entity::find_by_id(customer_id);
    if txn.get_database_backend() != DbBackend::Sqlite {
        q = q.lock_exclusive();
    }
    let cust = q.one(txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
    let pkg = package::Entity::find_by_id(package_id).one(txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
    let balance =
        Money::from_minor(cust.balance_minor).map_err(|_| corrupt("balance", &cust.balance_minor.to_string()))?;
    let price = Money::from_minor(pkg.price_minor).map_err(|_| corrupt("price", &pkg.price_minor.to_string()))?;
    let current_status = CustomerStatus::parse(&cust.status).map_err(|_| corrupt("status", &cust.status))?;
    // Rule 6: the whole amount counts, with any credit already on the account; whole
    // periods renew, the rest stays as credit.
    let renewal =
        billing::apply_payment(balance, c.amount, price, pkg.duration_minutes, cust.expires_at.map(from_db), c.at);
    let status = billing::status_after_payment(current_status, renewal.periods);
    let until = renewal.until.or(cust.expires_at.map(from_db));
    // Plain statements, not ActiveModel round trips: this runs once per payment on
    // the one SQLite writer.
    let mut update = customer::Entity::update_many()
        .col_expr(customer::Column::Status, Expr::value(status.as_str()))
        .col_expr(customer::Column::BalanceMinor, Expr::value(renewal.balance_after.minor()))
        .col_expr(customer::Column::UpdatedAt, Expr::value(at));
    if let Some(until) = renewal.until {
        // A renewal starts a new data allowance: what the sessions open now have used
        // already is not counted against it.
        let open = crate::devices::account_octets(txn, &cust.username, None, None, true).await?;
        update = update
            .col_expr(customer::Column::ExpiresAt, Expr::value(to_db(until)))
            .col_expr(customer::Column::PackageId, Expr::value(package_id))
            .col_expr(sea_orm::sea_query::Alias::new("data_start_at"), Expr::value(at))
            .col_expr(
                sea_orm::sea_query::Alias::new("data_offset_bytes"),
                Expr::value(i64::try_from(open).unwrap_or(i64::MAX)),
            );
    }
    update.filter(customer::Column::Id.eq(customer_id)).exec(txn).await.map_err(db_err)?;

    let seq = next_counter(txn, "invoice").await?;
    let prefix = setting::Entity::find()
        .filter(setting::Column::Category.eq("general"))
        .filter(setting::Column::SettingKey.eq("invoice_prefix"))
        .one(txn)
        .await
        .map_err(db_err)?
        .map(|s| s.value);
    let number = billing::invoice_number(prefix.as_deref(), seq);
    invoice::Entity::insert(invoice::ActiveModel {
        seq: Set(seq),
        number: Set(number.clone()),
        payment_id: Set(c.payment_id),
        customer_id: Set(Some(customer_id)),
        customer_name: Set(cust.full_name.clone()),
        package_name: Set(Some(pkg.name.clone())),
        amount_minor: Set(current.amount.minor()),
        currency: Set(current.currency.clone()),
        period_start: Set(renewal.until.map(|_| to_db(renewal.from))),
        period_end: Set(renewal.until.map(to_db)),
        issued_at: Set(at),
        pdf: Set(None),
        periods: Set(i64::from(renewal.periods)),
        applied_minor: Set(Some(renewal.applied.minor())),
        balance_after_minor: Set(renewal.balance_after.minor()),
        ..Default::default()
    })
    .exec(txn)
    .await
    .map_err(db_err)?;
    // Rule 2: the receipt SMS/email and the reconnect go out through the outbox.
    let payload = serde_json::json!({
        "payment_id": c.payment_id, "customer_id": customer_id, "invoice": number,
        "receipt": c.provider_receipt, "amount_minor": current.amount.minor(),
        "currency": current.currency, "expires_at": until, "periods": renewal.periods,
        "balance_minor": renewal.balance_after.minor(), "shortfall_minor": renewal.shortfall.minor(),
    });
    crate::entities::outbox::Entity::insert(crate::outbox::new_row(&broadnet_store::NewOutbox {
        kind: broadnet_store::OutboxKind::PaymentCompleted,
        payload,
        dedupe_key: Some(format!("payment.completed:{}", c.payment_id)),
        at: c.at,
    }))
    .exec(txn)
    .await
    .map_err(db_err)?;
    Ok(Some(Renewed { invoice_number: number, expires_at: until, renewal }))
}

impl SqlStore {
    /// The transaction of `complete_payment`, run once.
    async fn complete_txn(&self, c: &Completion, current: &Payment) -> StoreResult<CompleteOutcome> {
        let done = match &self.completions {
            Some(tx) => {
                let (reply, rx) = tokio::sync::oneshot::channel();
                let job = CompletionJob { c: c.clone(), current: current.clone(), reply };
                tx.send(job).await.map_err(|_| StoreError::Backend("the completion writer has stopped".into()))?;
                rx.await.map_err(|_| StoreError::Backend("the completion writer has stopped".into()))??
            }
            None => {
                let txn = self.write.begin().await.map_err(db_err)?;
                match complete_in(&txn, c, current).await? {
                    Some(done) => {
                        txn.commit().await.map_err(db_err)?;
                        Some(done)
                    }
                    None => {
                        txn.rollback().await.map_err(db_err)?;
                        None
                    }
                }
            }
        };
        let payment = self.get_payment(c.payment_id).await?;
        Ok(match done {
            Some(Renewed { invoice_number, expires_at, renewal }) => {
                CompleteOutcome::Completed { payment, invoice_number, expires_at, renewal }
            }
            None => settled(payment, &c.provider_receipt),
        })
    }

    async fn note_refusal(&self, id: i64, reason: &str, at: DateTime<Utc>) -> StoreResult<Payment> {
        payment::Entity::update_many()
            .col_expr(payment::Column::ResultCode, Expr::value("refused"))
            .col_expr(payment::Column::ResultDesc, Expr::value(reason))
            .col_expr(payment::Column::UpdatedAt, Expr::value(to_db(at)))
            .filter(payment::Column::Id.eq(id))
            .filter(payment::Column::Status.eq(PaymentStatus::Pending.as_str()))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        self.get_payment(id).await
    }
}

#[async_trait]
impl PaymentRepo for SqlStore {
    async fn create_payment(&self, n: NewPayment) -> StoreResult<Payment> {
        let at = to_db(n.created_at);
        let m = payment::ActiveModel {
            customer_id: Set(Some(n.customer_id)),
            package_id: Set(Some(n.package_id)),
            provider: Set(n.provider.as_str().to_string()),
            amount_minor: Set(n.amount.minor()),
            currency: Set(n.currency),
            phone: Set(n.phone.map(String::from)),
            status: Set(PaymentStatus::Pending.as_str().to_string()),
            checkout_request_id: Set(n.checkout_request_id),
            merchant_request_id: Set(n.merchant_request_id),
            provider_receipt: Set(None),
            account_reference: Set(n.account_reference),
            result_code: Set(None),
            result_desc: Set(None),
            initiated_by_admin_id: Set(n.initiated_by_admin_id),
            created_at: Set(at),
            updated_at: Set(at),
            completed_at: Set(None),
            ..Default::default()
        }
        .insert(&self.write)
        .await
        .map_err(db_err)?;
        to_record(m)
    }

    async fn get_payment(&self, id: i64) -> StoreResult<Payment> {
        let m = payment::Entity::find_by_id(id).one(&self.read).await.map_err(db_err)?;
        to_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn find_payment_by_checkout(&self, checkout_request_id: &str) -> StoreResult<Payment> {
        let m = payment::Entity::find()
            .filter(payment::Column::CheckoutRequestId.eq(checkout_request_id))
            .one(&self.read)
            .await
            .map_err(db_err)?;
        to_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn find_payment_by_receipt(&self, provider_receipt: &str) -> StoreResult<Payment> {
        let m = payment::Entity::find()
            .filter(payment::Column::ProviderReceipt.eq(provider_receipt))
            .one(&self.read)
            .await
            .map_err(db_err)?;
        to_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn list_payments(&self, q: &PaymentQuery) -> StoreResult<Page<Payment>> {
        let mut find = payment::Entity::find();
        if let Some(c) = q.customer_id {
            find = find.filter(payment::Column::CustomerId.eq(c));
        }
        if let Some(s) = q.status {
            find = find.filter(payment::Column::Status.eq(s.as_str()));
        }
        if let Some(p) = q.provider {
            find = find.filter(payment::Column::Provider.eq(p.as_str()));
        }
        if let Some(t) = q.created_from {
            find = find.filter(payment::Column::CreatedAt.gte(to_db(t)));
        }
        if let Some(t) = q.created_before {
            find = find.filter(payment::Column::CreatedAt.lt(to_db(t)));
        }
        let find = find.order_by_desc(payment::Column::CreatedAt).order_by_desc(payment::Column::Id);
        crate::fetch_page(&self.read, find, q.page, q.per_page, to_record).await
    }

    async fn complete_payment(&self, c: Completion) -> StoreResult<CompleteOutcome> {
        let current = self.get_payment(c.payment_id).await?;
        if current.status == PaymentStatus::Completed {
            // Completed from the status query (which has no receipt number): the real
            // receipt, when the callback finally brings it, replaces the stand-in.
            if let (Some(stored), Some(checkout)) = (&current.provider_receipt, &current.checkout_request_id)
                && *stored == format!("Q-{checkout}")
                && c.provider_receipt != *stored
            {
                payment::Entity::update_many()
                    .col_expr(payment::Column::ProviderReceipt, Expr::value(c.provider_receipt.clone()))
                    .filter(payment::Column::Id.eq(current.id))
                    .filter(payment::Column::ProviderReceipt.eq(stored.clone()))
                    .exec(&self.write)
                    .await
                    .map_err(db_err)?;
                return Ok(CompleteOutcome::AlreadyCompleted { payment: self.get_payment(current.id).await? });
            }
            return Ok(settled(current, &c.provider_receipt));
        }
        // The customer or package may have been deleted since the payment started.
        let gone = match (current.customer_id, current.package_id) {
            (Some(cid), Some(pid)) => {
                customer::Entity::find_by_id(cid).count(&self.read).await.map_err(db_err)? == 0
                    || package::Entity::find_by_id(pid).count(&self.read).await.map_err(db_err)? == 0
            }
            _ => true,
        };
        if gone {
            let reason = "the customer or package of this payment no longer exists".to_string();
            let payment = self.note_refusal(c.payment_id, &reason, c.at).await?;
            return Ok(CompleteOutcome::Refused { payment, reason });
        }
        // Rule 3: a callback must match the payment we started.
        let open = billing::open_for_completion(current.status, current.result_code.as_deref(), c.provider_confirmed);
        let mismatch = billing::completion_mismatch(
            open,
            current.status,
            current.amount,
            c.amount,
            current.phone.as_ref(),
            c.phone.as_ref(),
        );
        if let Some(reason) = mismatch {
            let payment = self.note_refusal(c.payment_id, &reason, c.at).await?;
            return Ok(CompleteOutcome::Refused { payment, reason });
        }

        // InnoDB may pick this transaction as a deadlock victim (and PostgreSQL abort it
        // on a serialization failure) when callbacks race: it was rolled back whole, so
        // it is safe to run again.
        let mut attempt = 0;
        loop {
            match self.complete_txn(&c, &current).await {
                Err(e) if e.is_retryable() && attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5 * attempt + u64::from(rand_jitter()))).await;
                }
                other => return other,
            }
        }
    }

    async fn set_payment_checkout(
        &self,
        id: i64,
        checkout_request_id: &str,
        merchant_request_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        payment::Entity::update_many()
            .col_expr(payment::Column::CheckoutRequestId, Expr::value(checkout_request_id))
            .col_expr(payment::Column::MerchantRequestId, Expr::value(merchant_request_id.map(str::to_string)))
            .col_expr(payment::Column::UpdatedAt, Expr::value(to_db(at)))
            .filter(payment::Column::Id.eq(id))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn pending_payments(&self, before: DateTime<Utc>, limit: u64) -> StoreResult<Vec<Payment>> {
        let rows = payment::Entity::find()
            .filter(payment::Column::Status.eq(PaymentStatus::Pending.as_str()))
            .filter(
                payment::Column::Provider.is_in([PaymentProvider::Mpesa.as_str(), PaymentProvider::Airtel.as_str()]),
            )
            .filter(payment::Column::CreatedAt.lt(to_db(before)))
            .order_by_asc(payment::Column::CreatedAt)
            .order_by_asc(payment::Column::Id)
            .limit(limit)
            .all(&self.read)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(to_record).collect()
    }

    async fn get_invoice_for_payment(&self, payment_id: i64) -> StoreResult<Invoice> {
        let m = invoice::Entity::find()
            .filter(invoice::Column::PaymentId.eq(payment_id))
            .one(&self.read)
            .await
            .map_err(db_err)?;
        invoice_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn get_invoice(&self, number: &str) -> StoreResult<Invoice> {
        let m =
            invoice::Entity::find().filter(invoice::Column::Number.eq(number)).one(&self.read).await.map_err(db_err)?;
        invoice_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn close_payment(
        &self,
        id: i64,
        status: PaymentStatus,
        result_code: &str,
        result_desc: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Payment> {
        if matches!(status, PaymentStatus::Pending | PaymentStatus::Completed) {
            return Err(StoreError::Backend(format!("close_payment cannot set {status}")));
        }
        payment::Entity::update_many()
            .col_expr(payment::Column::Status, Expr::value(status.as_str()))
            .col_expr(payment::Column::ResultCode, Expr::value(result_code))
            .col_expr(payment::Column::ResultDesc, Expr::value(result_desc))
            .col_expr(payment::Column::UpdatedAt, Expr::value(to_db(at)))
            .filter(payment::Column::Id.eq(id))
            .filter(payment::Column::Status.eq(PaymentStatus::Pending.as_str()))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        self.get_payment(id).await
    }

    async fn list_invoices(&self, q: &InvoiceQuery) -> StoreResult<Page<Invoice>> {
        use sea_orm::Condition;
        use sea_orm::sea_query::Func;
        let mut find = invoice::Entity::find();
        if let Some(c) = q.customer_id {
            find = find.filter(invoice::Column::CustomerId.eq(c));
        }
        if let Some(text) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            // Lowered on both sides: PostgreSQL's LIKE is case-sensitive, the others' not.
            let lower = |c: invoice::Column| Expr::expr(Func::lower(Expr::col(c)));
            let needle = text.to_lowercase();
            find = find.filter(
                Condition::any()
                    .add(lower(invoice::Column::Number).like(contains(&needle)))
                    .add(lower(invoice::Column::CustomerName).like(contains(&needle))),
            );
        }
        let find = find.order_by_desc(invoice::Column::Id);
        crate::fetch_page(&self.read, find, q.page, q.per_page, invoice_record).await
    }
}

/// `%text%` with the user's `%`, `_` and `\\` taken literally.
fn contains(text: &str) -> sea_orm::sea_query::LikeExpr {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    sea_orm::sea_query::LikeExpr::new(escaped).escape('\\')
}
