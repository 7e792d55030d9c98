//! Customers: CRUD, the searchable list, and bulk insert for seeding.

use crate::entities::customer::{self, ActiveModel, Column, Entity};
use crate::{SqlStore, audit, corrupt, db_err, from_db, to_db};
use async_trait::async_trait;
use broadnet_domain::{CustomerStatus, CustomerType, Money, Phone, Username};
use broadnet_store::{
    Actor, Customer, CustomerPatch, CustomerQuery, CustomerRepo, CustomerSort, NewCustomer, NewOutbox, Page,
    StoreError, StoreResult,
};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DbBackend, EntityTrait, IntoActiveModel, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

pub(crate) fn to_record(m: customer::Model) -> StoreResult<Customer> {
    Ok(Customer {
        id: m.id,
        username: Username::parse(&m.username).map_err(|_| corrupt("username", &m.username))?,
        phone: Phone::parse(&m.phone).map_err(|_| corrupt("phone", &m.phone))?,
        customer_type: CustomerType::parse(&m.customer_type).map_err(|_| corrupt("customer type", &m.customer_type))?,
        status: CustomerStatus::parse(&m.status).map_err(|_| corrupt("status", &m.status))?,
        full_name: m.full_name,
        password: m.password,
        email: m.email,
        package_id: m.package_id,
        router_id: m.router_id,
        expires_at: m.expires_at.map(from_db),
        balance: Money::from_minor(m.balance_minor).map_err(|_| corrupt("balance", &m.balance_minor.to_string()))?,
        mac_address: m.mac_address,
        static_ip: m.static_ip,
        location: m.location,
        notes: m.notes,
        created_at: from_db(m.created_at),
        updated_at: from_db(m.updated_at),
    })
}

/// What the search scans: lower-cased name, username and phone.
fn search_text(full_name: &str, username: &str, phone: &str) -> String {
    let mut s = format!("{} {} {}", full_name.to_lowercase(), username.to_lowercase(), phone);
    if s.len() > 400 {
        let mut cut = 400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

fn new_model(n: NewCustomer) -> ActiveModel {
    let search = search_text(&n.full_name, n.username.as_str(), n.phone.as_str());
    ActiveModel {
        search_text: Set(search),
        full_name: Set(n.full_name),
        username_key: Set(n.username.as_str().to_ascii_lowercase()),
        username: Set(n.username.into()),
        password: Set(n.password),
        phone: Set(n.phone.into()),
        email: Set(n.email),
        customer_type: Set(n.customer_type.as_str().to_string()),
        package_id: Set(n.package_id),
        router_id: Set(n.router_id),
        status: Set(n.status.as_str().to_string()),
        expires_at: Set(n.expires_at.map(to_db)),
        mac_address: Set(n.mac_address),
        static_ip: Set(n.static_ip),
        location: Set(n.location),
        notes: Set(n.notes),
        balance_minor: Set(0),
        created_at: Set(to_db(n.created_at)),
        updated_at: Set(to_db(n.created_at)),
        ..Default::default()
    }
}

fn json(c: &Customer) -> Option<serde_json::Value> {
    serde_json::to_value(c).ok()
}

/// `%text%` with the user's `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> LikeExpr {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    LikeExpr::new(escaped).escape('\\')
}

/// The search by name, username or phone.
///
/// A whole phone number (any form) is looked up through the phone and username
/// indexes. Anything else is a substring of `search_text`. On SQLite the match runs
/// in a subquery answered from the narrow `search_text` index alone, and the outer
/// query sorts only the matches (in the outer query, the planner walks the sort
/// index and tests every row: fast for common words, a full table walk for rare
/// ones). PostgreSQL (trigram index) and MariaDB (which turns the subquery into a
/// primary-key join over every row) take the predicate directly.
fn search_condition(backend: DbBackend, raw: &str) -> Condition {
    let q = raw.trim();
    if let Ok(phone) = Phone::parse(q) {
        let matches = Query::select()
            .column(Column::Id)
            .from(Entity)
            .cond_where(
                Condition::any()
                    .add(Column::Phone.eq(phone.as_str()))
                    .add(Column::Username.is_in([q.to_string(), phone.as_str().to_string()])),
            )
            .to_owned();
        return Condition::all().add(Column::Id.in_subquery(matches));
    }
    let mut needle = q.to_lowercase();
    if needle.len() >= 3 && needle.chars().all(|c| c.is_ascii_digit()) {
        // A partial number: drop a leading trunk zero so "0712" finds "254712…".
        if let Some(rest) = needle.strip_prefix('0') {
            needle = rest.to_string();
        }
    }
    let matching = Expr::col(Column::SearchText).like(contains_pattern(&needle));
    if backend != DbBackend::Sqlite {
        return Condition::all().add(matching);
    }
    let matches = Query::select().column(Column::Id).from(Entity).and_where(matching).to_owned();
    Condition::all().add(Column::Id.in_subquery(matches))
}

#[async_trait]
impl CustomerRepo for SqlStore {
    async fn create_customer_with(
        &self,
        actor: &Actor,
        new: NewCustomer,
        effects: &(dyn for<'c> Fn(&'c Customer) -> Vec<NewOutbox> + Sync),
    ) -> StoreResult<Customer> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let model = new_model(new).insert(&txn).await.map_err(db_err)?;
        let created = to_record(model)?;
        audit(&txn, actor, "customer.create", "customer", Some(created.id.to_string()), None, json(&created)).await?;
        for item in effects(&created) {
            crate::outbox::new_row(&item).insert(&txn).await.map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn get_customer(&self, id: i64) -> StoreResult<Customer> {
        let m = Entity::find_by_id(id).one(&self.read).await.map_err(db_err)?;
        to_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn get_customer_by_username(&self, username: &str) -> StoreResult<Customer> {
        let key = username.trim().to_ascii_lowercase();
        let m = Entity::find().filter(Column::UsernameKey.eq(key)).one(&self.read).await.map_err(db_err)?;
        to_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn update_customer(&self, actor: &Actor, id: i64, p: CustomerPatch) -> StoreResult<Customer> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let current = Entity::find_by_id(id).one(&txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
        let before = to_record(current.clone())?;
        let mut am = current.into_active_model();
        if let Some(v) = p.full_name {
            am.full_name = Set(v)
        }
        if let Some(v) = p.username {
            am.username_key = Set(v.as_str().to_ascii_lowercase());
            am.username = Set(v.into())
        }
        if let Some(v) = p.password {
            am.password = Set(v)
        }
        if let Some(v) = p.phone {
            am.phone = Set(v.into())
        }
        if let Some(v) = p.email {
            am.email = Set(v)
        }
        if let Some(v) = p.customer_type {
            am.customer_type = Set(v.as_str().to_string())
        }
        if let Some(v) = p.package_id {
            am.package_id = Set(v)
        }
        if let Some(v) = p.router_id {
            am.router_id = Set(v)
        }
        if let Some(v) = p.status {
            am.status = Set(v.as_str().to_string())
        }
        if let Some(v) = p.expires_at {
            am.expires_at = Set(v.map(to_db))
        }
        if let Some(v) = p.mac_address {
            am.mac_address = Set(v)
        }
        if let Some(v) = p.static_ip {
            am.static_ip = Set(v)
        }
        if let Some(v) = p.location {
            am.location = Set(v)
        }
        if let Some(v) = p.notes {
            am.notes = Set(v)
        }
        if am.full_name.is_set() || am.username.is_set() || am.phone.is_set() {
            let text = search_text(am.full_name.as_ref(), am.username.as_ref(), am.phone.as_ref());
            am.search_text = Set(text);
        }
        let at = actor.at;
        am.updated_at = Set(to_db(at));
        let after = if am.is_changed() { to_record(am.update(&txn).await.map_err(db_err)?)? } else { before.clone() };
        let mut b = json(&before);
        let mut a = json(&after);
        if before.password != after.password {
            // The audit log says that a password changed, never what it is.
            for (v, text) in [(&mut b, "(old)"), (&mut a, "(new)")] {
                if let Some(serde_json::Value::Object(o)) = v {
                    o.insert("password".into(), text.into());
                }
            }
        }
        audit(&txn, actor, "customer.update", "customer", Some(id.to_string()), b, a).await?;
        // Rule 2: what the routers must do about live sessions is committed with the change.
        let action = broadnet_domain::billing::session_action(
            (before.status, before.package_id),
            (after.status, after.package_id),
        );
        if let Some(action) = action {
            let action = match action {
                broadnet_domain::billing::SessionAction::Disconnect => "disconnect",
                broadnet_domain::billing::SessionAction::ApplyPackage => "apply_package",
            };
            let item = NewOutbox {
                kind: broadnet_store::OutboxKind::CustomerSessions,
                // Sessions are under the username they logged in with, which this
                // change may have replaced.
                payload: serde_json::json!({"customer_id": id, "username": before.username, "action": action}),
                dedupe_key: None,
                at: actor.at,
            };
            crate::outbox::new_row(&item).insert(&txn).await.map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn delete_customer(&self, actor: &Actor, id: i64) -> StoreResult<()> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let current = Entity::find_by_id(id).one(&txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
        let before = to_record(current)?;
        Entity::delete_by_id(id).exec(&txn).await.map_err(db_err)?;
        audit(&txn, actor, "customer.delete", "customer", Some(id.to_string()), json(&before), None).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn list_customers(&self, q: &CustomerQuery) -> StoreResult<Page<Customer>> {
        let mut cond = Condition::all();
        if let Some(s) = q.search.as_deref().filter(|s| !s.trim().is_empty()) {
            cond = cond.add(search_condition(self.backend, s));
        }
        if let Some(v) = q.status {
            cond = cond.add(Column::Status.eq(v.as_str()))
        }
        if let Some(v) = q.customer_type {
            cond = cond.add(Column::CustomerType.eq(v.as_str()))
        }
        if let Some(v) = q.package_id {
            cond = cond.add(Column::PackageId.eq(v))
        }
        if let Some(v) = q.router_id {
            cond = cond.add(Column::RouterId.eq(v))
        }
        if let Some((from, to)) = q.expires_between {
            cond = cond.add(Column::ExpiresAt.gt(to_db(from))).add(Column::ExpiresAt.lte(to_db(to)))
        }
        let per_page = q.per_page.clamp(1, 500);
        // Bounded like `page_of`, so the OFFSET below fits an i64.
        let page = q.page.clamp(1, broadnet_store::MAX_PAGE);
        let filtered = Entity::find().filter(cond);
        let total = filtered.clone().count(&self.read).await.map_err(db_err)?;
        let order = if q.descending { Order::Desc } else { Order::Asc };
        let col = match q.sort {
            CustomerSort::CreatedAt => Column::CreatedAt,
            CustomerSort::FullName => Column::FullName,
            CustomerSort::Username => Column::Username,
            CustomerSort::ExpiresAt => Column::ExpiresAt,
            CustomerSort::Status => Column::Status,
        };
        let rows = filtered
            .order_by(col, order.clone())
            .order_by(Column::Id, order)
            .offset((page - 1) * per_page)
            .limit(per_page)
            .all(&self.read)
            .await
            .map_err(db_err)?;
        let items = rows.into_iter().map(to_record).collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items, total, page, per_page })
    }

    async fn customer_names(&self, ids: &[i64]) -> StoreResult<Vec<(i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String)> = Entity::find()
            .select_only()
            .column(Column::Id)
            .column(Column::FullName)
            .filter(Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(&self.read)
            .await
            .map_err(db_err)?;
        Ok(rows)
    }

    async fn insert_customers_bulk(&self, rows: Vec<NewCustomer>) -> StoreResult<u64> {
        let n = rows.len() as u64;
        let txn = self.write.begin().await.map_err(db_err)?;
        // Stay far below every backend's bound-parameter limit (SQLite: 32766).
        let mut models: Vec<ActiveModel> = rows.into_iter().map(new_model).collect();
        while !models.is_empty() {
            let rest = models.split_off(models.len().min(500));
            let chunk = std::mem::replace(&mut models, rest);
            Entity::insert_many(chunk).exec(&txn).await.map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)?;
        Ok(n)
    }

    async fn activate_customer(
        &self,
        actor: &Actor,
        id: i64,
        until: chrono::DateTime<chrono::Utc>,
        reason: &str,
    ) -> StoreResult<Customer> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let current = Entity::find_by_id(id).one(&txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
        let before = to_record(current.clone())?;
        let mut am = current.into_active_model();
        am.status = Set(CustomerStatus::Active.as_str().to_string());
        am.expires_at = Set(Some(to_db(until)));
        am.updated_at = Set(to_db(actor.at));
        let after = to_record(am.update(&txn).await.map_err(db_err)?)?;
        let detail = |c: &Customer| serde_json::json!({"status": c.status, "expires_at": c.expires_at});
        let mut a = detail(&after);
        if let serde_json::Value::Object(o) = &mut a {
            o.insert("reason".into(), serde_json::Value::String(reason.to_string()));
        }
        audit(&txn, actor, "customer.activate", "customer", Some(id.to_string()), Some(detail(&before)), Some(a))
            .await?;
        txn.commit().await.map_err(db_err)?;
        Ok(after)
    }
}
