//! Routers: the wizard's record, provisioning tokens and health.

use crate::entities::{customer, provision_token, router};
use crate::{SqlStore, audit, corrupt, db_err, from_db, to_db};
use broadnet_domain::ServiceType;
use broadnet_store::{Actor, Router, RouterHealth, RouterPatch, StoreError, StoreResult, TokenRefusal};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};

pub(crate) fn to_record(m: router::Model) -> StoreResult<Router> {
    Ok(Router {
        id: m.id,
        name: m.name,
        nas_ip: m.nas_ip,
        radius_secret: m.radius_secret,
        service_types: ServiceType::parse(&m.service_types).map_err(|_| corrupt("service types", &m.service_types))?,
        bridge_ports: m.bridge_ports.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect(),
        anti_sharing: m.anti_sharing,
        require_message_authenticator: m.require_message_authenticator,
        api_host: m.api_host,
        api_port: m.api_port,
        api_tls: m.api_tls,
        api_tls_insecure: m.api_tls_insecure,
        api_username: m.api_username,
        api_password_enc: m.api_password_enc,
        state: broadnet_domain::RouterState::parse(&m.state).map_err(|_| crate::corrupt("router state", &m.state))?,
        identity: m.identity,
        ros_version: m.ros_version,
        board: m.board,
        online: m.online,
        last_seen_at: m.last_seen_at.map(from_db),
        uptime_secs: m.uptime_secs,
        cpu_load: m.cpu_load,
        free_memory: m.free_memory,
        total_memory: m.total_memory,
        active_pppoe: m.active_pppoe,
        active_hotspot: m.active_hotspot,
        health_error: m.health_error,
        created_at: from_db(m.created_at),
        updated_at: from_db(m.updated_at),
    })
}

pub(crate) async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> StoreResult<Router> {
    to_record(router::Entity::find_by_id(id).one(conn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?)
}

pub(crate) async fn list<C: ConnectionTrait>(conn: &C) -> StoreResult<Vec<Router>> {
    router::Entity::find()
        .order_by_asc(router::Column::Id)
        .all(conn)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(to_record)
        .collect()
}

/// What the audit log shows of a router (never its secrets).
fn audited(r: &Router) -> serde_json::Value {
    serde_json::json!({"name": r.name, "nas_ip": r.nas_ip, "service_types": r.service_types,
        "bridge_ports": r.bridge_ports, "anti_sharing": r.anti_sharing, "api_host": r.api_host, "api_port": r.api_port,
        "api_tls": r.api_tls, "api_tls_insecure": r.api_tls_insecure, "api_username": r.api_username,
        "api_password": r.api_password_enc.as_ref().map(|_| "(secret)"), "state": r.state, "identity": r.identity,
        "ros_version": r.ros_version, "board": r.board})
}

pub(crate) async fn update(s: &SqlStore, actor: &Actor, id: i64, p: RouterPatch) -> StoreResult<Router> {
    let txn = s.write.begin().await.map_err(db_err)?;
    let m = router::Entity::find_by_id(id).one(&txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
    let before = to_record(m.clone())?;
    let mut am = m.into_active_model();
    if let Some(v) = p.name {
        am.name = Set(v);
    }
    if let Some(v) = p.nas_ip {
        am.nas_ip = Set(v);
    }
    if let Some(v) = p.service_types {
        am.service_types = Set(v.as_str().to_string());
    }
    if let Some(v) = p.bridge_ports {
        am.bridge_ports = Set(v.join(","));
    }
    if let Some(v) = p.anti_sharing {
        am.anti_sharing = Set(v);
    }
    if let Some(v) = p.api_host {
        am.api_host = Set(v);
    }
    if let Some(v) = p.api_port {
        am.api_port = Set(v);
    }
    if let Some(v) = p.api_tls {
        am.api_tls = Set(v);
    }
    if let Some(v) = p.api_tls_insecure {
        am.api_tls_insecure = Set(v);
    }
    if let Some(v) = p.api_username {
        am.api_username = Set(v);
    }
    if let Some(v) = p.api_password_enc {
        am.api_password_enc = Set(v);
    }
    if let Some(v) = p.state {
        am.state = Set(v.as_str().to_string());
    }
    if let Some(v) = p.identity {
        am.identity = Set(v);
    }
    if let Some(v) = p.ros_version {
        am.ros_version = Set(v);
    }
    if let Some(v) = p.board {
        am.board = Set(v);
    }
    am.updated_at = Set(to_db(actor.at));
    let after = to_record(am.update(&txn).await.map_err(db_err)?)?;
    let (b, a) = (audited(&before), audited(&after));
    if b != a {
        audit(&txn, actor, "router.update", "router", Some(id.to_string()), Some(b), Some(a)).await?;
    }
    txn.commit().await.map_err(db_err)?;
    Ok(after)
}

pub(crate) async fn delete(s: &SqlStore, actor: &Actor, id: i64) -> StoreResult<()> {
    let txn = s.write.begin().await.map_err(db_err)?;
    let m = router::Entity::find_by_id(id).one(&txn).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
    let used = customer::Entity::find().filter(customer::Column::RouterId.eq(id)).count(&txn).await.map_err(db_err)?;
    if used > 0 {
        return Err(StoreError::InUse(format!("{used} customers are on this router; move them first")));
    }
    let before = audited(&to_record(m)?);
    router::Entity::delete_by_id(id).exec(&txn).await.map_err(db_err)?;
    audit(&txn, actor, "router.delete", "router", Some(id.to_string()), Some(before), None).await?;
    txn.commit().await.map_err(db_err)?;
    Ok(())
}

pub(crate) async fn record_health<C: ConnectionTrait>(conn: &C, id: i64, h: RouterHealth) -> StoreResult<()> {
    let mut q = router::Entity::update_many()
        .col_expr(router::Column::Online, Expr::value(h.online))
        .col_expr(router::Column::HealthError, Expr::value(h.error.clone()))
        .filter(router::Column::Id.eq(id));
    if h.online {
        q = q
            .col_expr(router::Column::LastSeenAt, Expr::value(to_db(h.at)))
            .col_expr(router::Column::UptimeSecs, Expr::value(h.uptime_secs))
            .col_expr(router::Column::CpuLoad, Expr::value(h.cpu_load))
            .col_expr(router::Column::FreeMemory, Expr::value(h.free_memory))
            .col_expr(router::Column::TotalMemory, Expr::value(h.total_memory))
            .col_expr(router::Column::ActivePppoe, Expr::value(h.active_pppoe))
            .col_expr(router::Column::ActiveHotspot, Expr::value(h.active_hotspot));
        if let Some(v) = h.ros_version {
            q = q.col_expr(router::Column::RosVersion, Expr::value(v));
        }
    }
    q.exec(conn).await.map_err(db_err)?;
    Ok(())
}

pub(crate) async fn create_token<C: ConnectionTrait>(
    conn: &C,
    router_id: i64,
    jti: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    provision_token::ActiveModel {
        jti: Set(jti.to_string()),
        router_id: Set(router_id),
        expires_at: Set(to_db(expires_at)),
        used_at: Set(None),
        created_at: Set(to_db(now)),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn find_token<C: ConnectionTrait>(conn: &C, jti: &str) -> StoreResult<Option<provision_token::Model>> {
    provision_token::Entity::find().filter(provision_token::Column::Jti.eq(jti)).one(conn).await.map_err(db_err)
}

pub(crate) async fn use_token<C: ConnectionTrait>(
    conn: &C,
    jti: &str,
    now: DateTime<Utc>,
    fetched_by: Option<&str>,
) -> StoreResult<Result<i64, TokenRefusal>> {
    let Some(t) = find_token(conn, jti).await? else {
        return Ok(Err(TokenRefusal::Unknown));
    };
    // Expiry first: a used token is also worthless after its hour.
    if from_db(t.expires_at) < now {
        return Ok(Err(TokenRefusal::Expired));
    }
    if t.used_at.is_some() {
        return Ok(Err(TokenRefusal::Used));
    }
    // Guarded: of two uses at once, one wins.
    let res = provision_token::Entity::update_many()
        .col_expr(provision_token::Column::UsedAt, Expr::value(to_db(now)))
        .col_expr(provision_token::Column::FetchedIp, Expr::value(fetched_by.map(str::to_string)))
        .filter(provision_token::Column::Id.eq(t.id))
        .filter(provision_token::Column::UsedAt.is_null())
        .exec(conn)
        .await
        .map_err(db_err)?;
    if res.rows_affected == 0 {
        return Ok(Err(TokenRefusal::Used));
    }
    Ok(Ok(t.router_id))
}

pub(crate) async fn callback_token<C: ConnectionTrait>(
    conn: &C,
    jti: &str,
    now: DateTime<Utc>,
    from: &str,
) -> StoreResult<Result<i64, TokenRefusal>> {
    // One conditional UPDATE decides: whichever of two callbacks runs it first wins.
    let res = provision_token::Entity::update_many()
        .col_expr(provision_token::Column::CalledBackAt, Expr::value(to_db(now)))
        .filter(provision_token::Column::Jti.eq(jti))
        .filter(provision_token::Column::UsedAt.is_not_null())
        .filter(provision_token::Column::CalledBackAt.is_null())
        .filter(provision_token::Column::ExpiresAt.gte(to_db(now)))
        .filter(provision_token::Column::FetchedIp.eq(from))
        .exec(conn)
        .await
        .map_err(db_err)?;
    // Read afterwards, for the router on success and the reason on refusal.
    let Some(t) = find_token(conn, jti).await? else {
        return Ok(Err(TokenRefusal::Unknown));
    };
    if res.rows_affected == 1 {
        return Ok(Ok(t.router_id));
    }
    Ok(Err(if from_db(t.expires_at) < now {
        TokenRefusal::Expired
    } else if t.used_at.is_none() {
        TokenRefusal::NotFetched
    } else if t.called_back_at.is_some() {
        TokenRefusal::CalledBack
    } else {
        TokenRefusal::WrongAddress
    }))
}
