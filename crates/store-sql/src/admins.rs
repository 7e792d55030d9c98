//! Admin accounts and revoked login tokens.

use crate::entities::{
    admin::{self, ActiveModel, Column, Entity},
    revoked_token,
};
use crate::{SqlStore, audit, corrupt, db_err, from_db, to_db};
use async_trait::async_trait;
use broadnet_domain::Role;
use broadnet_store::{Actor, Admin, AdminPatch, AdminRepo, NewAdmin, StoreError, StoreResult, admin_username_key};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

fn to_record(m: admin::Model) -> StoreResult<Admin> {
    Ok(Admin {
        id: m.id,
        role: Role::parse(&m.role).map_err(|_| corrupt("role", &m.role))?,
        username: m.username,
        password_hash: m.password_hash,
        full_name: m.full_name,
        email: m.email,
        active: m.active,
        tokens_valid_after: m.tokens_valid_after.map(from_db),
        session_epoch: m.session_epoch,
        last_login_at: m.last_login_at.map(from_db),
        created_at: from_db(m.created_at),
        updated_at: from_db(m.updated_at),
    })
}

/// Refuses a change that would take away the last active superadmin, inside the
/// transaction that makes it. On PostgreSQL and MySQL every active superadmin row
/// is locked (`FOR UPDATE`) before counting, so of two superadmins demoting each
/// other at once the second waits, then counts again and is refused. On SQLite the
/// store has a single writer connection, so write transactions never interleave.
/// Returns the target row as read under the lock.
async fn lock_superadmins(txn: &DatabaseTransaction, id: i64) -> StoreResult<(admin::Model, usize)> {
    let supers = Entity::find()
        .filter(Column::Role.eq(Role::Superadmin.as_str()))
        .filter(Column::Active.eq(true))
        .order_by_asc(Column::Id)
        .lock_exclusive()
        .all(txn)
        .await
        .map_err(db_err)?;
    // Locking too, so MySQL reads the latest version, not its snapshot.
    let current =
        Entity::find_by_id(id).lock_exclusive().one(txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
    let others = supers.iter().filter(|a| a.id != id).count();
    Ok((current, others))
}

fn is_active_superadmin(m: &admin::Model) -> bool {
    m.active && m.role == Role::Superadmin.as_str()
}

const LAST_SUPERADMIN: &str = "this is the last active superadmin";

fn json(a: &Admin) -> Option<serde_json::Value> {
    serde_json::to_value(a).ok()
}

#[async_trait]
impl AdminRepo for SqlStore {
    async fn create_admin(&self, actor: &Actor, n: NewAdmin) -> StoreResult<Admin> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let m = ActiveModel {
            username_key: Set(admin_username_key(&n.username)),
            username: Set(n.username),
            password_hash: Set(n.password_hash),
            full_name: Set(n.full_name),
            email: Set(n.email),
            role: Set(n.role.as_str().to_string()),
            active: Set(true),
            created_at: Set(to_db(actor.at)),
            updated_at: Set(to_db(actor.at)),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(db_err)?;
        let created = to_record(m)?;
        audit(&txn, actor, "admin.create", "admin", Some(created.id.to_string()), None, json(&created)).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn get_admin(&self, id: i64) -> StoreResult<Admin> {
        let m = Entity::find_by_id(id).one(&self.read).await.map_err(db_err)?;
        to_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn get_admin_by_username(&self, username: &str) -> StoreResult<Admin> {
        let m = Entity::find()
            .filter(Column::UsernameKey.eq(admin_username_key(username)))
            .one(&self.read)
            .await
            .map_err(db_err)?;
        to_record(m.ok_or(StoreError::NotFound)?)
    }

    async fn update_admin(&self, actor: &Actor, id: i64, p: AdminPatch) -> StoreResult<Admin> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let (current, other_supers) = lock_superadmins(&txn, id).await?;
        let stays_super = p.active.unwrap_or(current.active)
            && p.role.map_or(current.role == Role::Superadmin.as_str(), |r| r == Role::Superadmin);
        if is_active_superadmin(&current) && !stays_super && other_supers == 0 {
            return Err(StoreError::InUse(LAST_SUPERADMIN.into()));
        }
        let before = to_record(current.clone())?;
        let password_changed = p.password_hash.is_some();
        let mut am = current.into_active_model();
        if let Some(v) = p.password_hash {
            am.password_hash = Set(v)
        }
        if let Some(v) = p.full_name {
            am.full_name = Set(v)
        }
        if let Some(v) = p.email {
            am.email = Set(v)
        }
        if let Some(v) = p.role {
            am.role = Set(v.as_str().to_string())
        }
        if let Some(v) = p.active {
            am.active = Set(v)
        }
        if p.end_sessions {
            am.session_epoch = Set(before.session_epoch + 1);
            am.tokens_valid_after = Set(Some(to_db(actor.at)));
        }
        am.updated_at = Set(to_db(actor.at));
        let after = to_record(am.update(&txn).await.map_err(db_err)?)?;
        let mut a = json(&after);
        if password_changed && let Some(serde_json::Value::Object(o)) = &mut a {
            o.insert("password".into(), "(changed)".into());
        }
        audit(&txn, actor, "admin.update", "admin", Some(id.to_string()), json(&before), a).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn delete_admin(&self, actor: &Actor, id: i64) -> StoreResult<()> {
        let txn = self.write.begin().await.map_err(db_err)?;
        let (current, other_supers) = lock_superadmins(&txn, id).await?;
        if is_active_superadmin(&current) && other_supers == 0 {
            return Err(StoreError::InUse(LAST_SUPERADMIN.into()));
        }
        let before = to_record(current)?;
        Entity::delete_by_id(id).exec(&txn).await.map_err(db_err)?;
        audit(&txn, actor, "admin.delete", "admin", Some(id.to_string()), json(&before), None).await?;
        txn.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn list_admins(&self) -> StoreResult<Vec<Admin>> {
        Entity::find()
            .order_by_asc(Column::Username)
            .all(&self.read)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_record)
            .collect()
    }

    async fn count_admins(&self) -> StoreResult<u64> {
        Entity::find().count(&self.read).await.map_err(db_err)
    }

    async fn record_login(&self, id: i64, at: DateTime<Utc>) -> StoreResult<()> {
        Entity::update_many()
            .col_expr(Column::LastLoginAt, sea_orm::sea_query::Expr::value(Some(to_db(at))))
            .filter(Column::Id.eq(id))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn revoke_token(&self, jti: &str, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let res = revoked_token::ActiveModel { jti: Set(jti.to_string()), expires_at: Set(to_db(expires_at)) }
            .insert(&self.write)
            .await;
        match res.map_err(db_err) {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn is_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let n = revoked_token::Entity::find_by_id(jti.to_string()).count(&self.read).await.map_err(db_err)?;
        Ok(n > 0)
    }

    async fn purge_revoked_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let res = revoked_token::Entity::delete_many()
            .filter(revoked_token::Column::ExpiresAt.lt(to_db(now)))
            .exec(&self.write)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected)
    }
}
