//! FreeRADIUS 3.x as an alternative to the built-in server: the tables its rlm_sql
//! module reads, as views over our customers, packages and routers, so they always
//! say the same thing as the built-in server. `radacct` and `radpostauth` are already
//! in FreeRADIUS's shape (m0001); `nasreload` is added for its Accounting-On queries.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_freeradius"
    }
}

const VIEWS: [&str; 6] = ["radcheck", "radreply", "radusergroup", "radgroupcheck", "radgroupreply", "nas"];

fn view_sql(backend: DbBackend) -> Vec<String> {
    // Timestamps are stored as UTC without a zone.
    let now = match backend {
        DbBackend::Postgres => "(now() AT TIME ZONE 'UTC')",
        DbBackend::MySql => "UTC_TIMESTAMP()",
        _ => "datetime('now')",
    };
    let text = |s: &str| match backend {
        DbBackend::Postgres => format!("CAST('{s}' AS TEXT)"),
        _ => format!("'{s}'"),
    };
    let int_text = |col: &str| match backend {
        DbBackend::MySql => format!("CAST({col} AS CHAR)"),
        _ => format!("CAST({col} AS TEXT)"),
    };
    vec![
        // Every customer has their password; one who may not connect also gets a reject.
        format!(
            "CREATE VIEW radcheck AS \
             SELECT c.id * 2 AS id, c.username AS username, {cleartext} AS attribute, {set} AS op, c.password AS value \
             FROM customers c \
             UNION ALL \
             SELECT c.id * 2 + 1, c.username, {auth_type}, {set}, {reject} FROM customers c \
             WHERE c.status <> 'active' OR c.package_id IS NULL OR (c.expires_at IS NOT NULL AND c.expires_at <= {now})",
            cleartext = text("Cleartext-Password"),
            set = text(":="),
            auth_type = text("Auth-Type"),
            reject = text("Reject"),
        ),
        format!(
            "CREATE VIEW radreply AS \
             SELECT c.id AS id, c.username AS username, {attr} AS attribute, {op} AS op, c.static_ip AS value \
             FROM customers c WHERE c.static_ip IS NOT NULL AND c.static_ip <> ''",
            attr = text("Framed-IP-Address"),
            op = text("="),
        ),
        "CREATE VIEW radusergroup AS \
         SELECT c.id AS id, c.username AS username, p.name AS groupname, 1 AS priority \
         FROM customers c JOIN packages p ON p.id = c.package_id"
            .to_string(),
        format!(
            "CREATE VIEW radgroupcheck AS \
             SELECT p.id AS id, p.name AS groupname, {e} AS attribute, {e} AS op, {e} AS value FROM packages p WHERE 1 = 0",
            e = text(""),
        ),
        format!(
            "CREATE VIEW radgroupreply AS \
             SELECT p.id * 4 AS id, p.name AS groupname, {rate} AS attribute, {set} AS op, p.mikrotik_rate_limit AS value \
             FROM packages p \
             UNION ALL \
             SELECT p.id * 4 + 1, p.name, {interim}, {set}, {v300} FROM packages p \
             UNION ALL \
             SELECT p.id * 4 + 2, p.name, {pool}, {set}, p.framed_pool FROM packages p \
             WHERE p.framed_pool IS NOT NULL AND p.framed_pool <> ''",
            pool = text("Framed-Pool"),
            rate = text("Mikrotik-Rate-Limit"),
            set = text(":="),
            interim = text("Acct-Interim-Interval"),
            v300 = text("300"),
        ),
        format!(
            "CREATE VIEW nas AS \
             SELECT r.id AS id, r.nas_ip AS nasname, r.name AS shortname, {other} AS type, NULL AS ports, \
             r.radius_secret AS secret, NULL AS server, NULL AS community, {desc} AS description \
             FROM routers r WHERE r.nas_ip IS NOT NULL",
            other = text("other"),
            desc = int_text("r.id"),
        ),
    ]
}

/// FreeRADIUS's SQLite queries write times as Unix epoch numbers; everything else
/// here stores `YYYY-MM-DD HH:MM:SS` text. These triggers convert on the way in
/// (SQLite does not re-fire triggers from a trigger's own UPDATE).
fn sqlite_time_triggers() -> Vec<String> {
    let mut out = Vec::new();
    for (table, key, cols) in [
        ("radacct", "radacctid", &["acctstarttime", "acctupdatetime", "acctstoptime"][..]),
        ("radpostauth", "id", &["authdate"][..]),
    ] {
        // An epoch arrives as an integer, or as digits in text (the columns have TEXT affinity).
        let epoch = |v: String| format!("({v} IS NOT NULL AND {v} NOT GLOB '*[^0-9]*')");
        let when: Vec<String> = cols.iter().map(|c| epoch(format!("NEW.{c}"))).collect();
        let set: Vec<String> = cols
            .iter()
            .map(|c| {
                format!(
                    "{c} = CASE WHEN {} THEN datetime(CAST({c} AS INTEGER), 'unixepoch') ELSE {c} END",
                    epoch(String::from(*c))
                )
            })
            .collect();
        for event in ["INSERT", "UPDATE"] {
            out.push(format!(
                "CREATE TRIGGER {table}_epoch_{} AFTER {event} ON {table} WHEN {} BEGIN UPDATE {table} SET {} WHERE {key} = NEW.{key}; END",
                event.to_lowercase(),
                when.join(" OR "),
                set.join(", ")
            ));
        }
    }
    out
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("nasreload"))
                    .col(ColumnDef::new(Alias::new("nasipaddress")).string_len(45).not_null().primary_key())
                    .col(ColumnDef::new(Alias::new("reloadtime")).date_time().not_null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in view_sql(manager.get_database_backend()) {
            db.execute_unprepared(&sql).await?;
        }
        if manager.get_database_backend() == DbBackend::Sqlite {
            for sql in sqlite_time_triggers() {
                db.execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for v in VIEWS {
            db.execute_unprepared(&format!("DROP VIEW IF EXISTS {v}")).await?;
        }
        manager.drop_table(Table::drop().table(Alias::new("nasreload")).to_owned()).await
    }
}
