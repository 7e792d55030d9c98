//! The one implementation of `broadnet_store` for SQLite, PostgreSQL and
//! MySQL/MariaDB, chosen at run time by the database URL.

mod admins;
mod audit;
mod customers;
mod devices;
mod entities;
mod jobs;
mod outbox;
mod packages;
mod payments;
mod portal;
mod radius;
mod retention;
mod routers;
mod settings;
mod stats;
mod unmatched;
mod vouchers;

use async_trait::async_trait;
use broadnet_store::{Actor, DatabaseError, Store, StoreError, StoreResult};
use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Set,
    SqlErr,
};
use sea_orm_migration::MigratorTrait;
use std::sync::Arc;
use std::time::Duration;

pub use broadnet_migration::Migrator;

/// A store on one database. On SQLite, writes go through a single connection (one
/// writer, no `SQLITE_BUSY` on transaction upgrade) while reads use a small pool;
/// on PostgreSQL and MySQL both are the same pool.
#[derive(Clone)]
pub struct SqlStore {
    read: DatabaseConnection,
    write: DatabaseConnection,
    backend: DbBackend,
    /// SQLite: payment completions are group-committed by one task (see payments.rs).
    completions: Option<tokio::sync::mpsc::Sender<payments::CompletionJob>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL (use sqlite:, postgres:// or mysql://): {0}")]
    Unsupported(String),
    #[error("cannot create the database directory {0}: {1}")]
    Directory(String, std::io::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(DbErr),
    #[error("migration failed: {0}")]
    Migrate(DbErr),
}

impl SqlStore {
    /// Connects without touching the schema.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let backend = backend_of(url)?;
        match backend {
            DbBackend::Sqlite => {
                ensure_sqlite_dir(url)?;
                let write = connect_sqlite(url, 1).await?;
                let read = connect_sqlite(url, 4).await?;
                let completions = Some(payments::spawn_completion_writer(write.clone()));
                Ok(SqlStore { read, write, backend, completions })
            }
            _ => {
                let mut opts = ConnectOptions::new(url.to_string());
                opts.max_connections(16)
                    .min_connections(1)
                    .connect_timeout(Duration::from_secs(10))
                    .acquire_timeout(Duration::from_secs(10));
                let db = Database::connect(opts).await.map_err(ConnectError::Connect)?;
                Ok(SqlStore { read: db.clone(), write: db, backend, completions: None })
            }
        }
    }

    /// Connects and applies every pending migration.
    pub async fn open(url: &str) -> Result<Self, ConnectError> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        store.optimize().await;
        Ok(store)
    }

    /// Keeps the query planner's statistics current where the database does not do
    /// it by itself: SQLite (PostgreSQL's autovacuum and InnoDB's persistent
    /// statistics do). Cheap; called at open and close, as SQLite recommends.
    pub async fn optimize(&self) {
        if self.backend == DbBackend::Sqlite
            && let Err(e) = self.write.execute_unprepared("PRAGMA analysis_limit=1000; PRAGMA optimize=0x10002;").await
        {
            tracing::warn!(error = %e, "PRAGMA optimize failed");
        }
    }

    /// Recomputes statistics now, on every backend (after a bulk import).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        let sql = match self.backend {
            DbBackend::MySql => "ANALYZE TABLE customers",
            _ => "ANALYZE",
        };
        self.write.execute_unprepared(sql).await.map_err(db_err)?;
        Ok(())
    }

    pub async fn migrate(&self) -> Result<Vec<String>, ConnectError> {
        let pending: Vec<String> = Migrator::get_pending_migrations(&self.write)
            .await
            .map_err(ConnectError::Migrate)?
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        Migrator::up(&self.write, None).await.map_err(ConnectError::Migrate)?;
        Ok(pending)
    }

    pub async fn close(self) {
        self.optimize().await;
        let _ = self.read.close().await;
        let _ = self.write.close().await;
    }
}

fn backend_of(url: &str) -> Result<DbBackend, ConnectError> {
    if url.starts_with("sqlite:") {
        Ok(DbBackend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(DbBackend::Postgres)
    } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        Ok(DbBackend::MySql)
    } else {
        Err(ConnectError::Unsupported(redact_url(url)))
    }
}

/// The URL with its password replaced, for messages and `config check`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" { None } else { Some(path) }
}

/// Creates the database's directory (owner only) and makes the database and its
/// `-wal`/`-shm` files readable by the owner alone: they hold customers' RADIUS
/// passwords and routers' RADIUS secrets in clear, which CHAP and MS-CHAP need.
/// SQLite gives the `-wal` and `-shm` files it creates the database file's mode.
fn ensure_sqlite_dir(url: &str) -> Result<(), ConnectError> {
    let Some(path) = sqlite_path(url) else { return Ok(()) };
    let path = std::path::Path::new(path);
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        private_dir(dir).map_err(|e| ConnectError::Directory(dir.display().to_string(), e))?;
    }
    private_file(path).map_err(|e| ConnectError::Directory(path.display().to_string(), e))?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        if side.exists() {
            restrict(&side, 0o600).map_err(|e| ConnectError::Directory(side.display().to_string(), e))?;
        }
    }
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)?;
    restrict(dir, 0o700)
}

/// Creates `path` empty with mode 0600 when missing, and sets 0600 when it exists.
fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)?;
    restrict(path, 0o600)
}

/// Takes group and other permissions away (never adds any).
fn restrict(path: &std::path::Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if current & !mode != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

async fn connect_sqlite(url: &str, max: u32) -> Result<DatabaseConnection, ConnectError> {
    let url = if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(max).min_connections(1).acquire_timeout(Duration::from_secs(30)).map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            // FULL: an acknowledged commit (accounting, payments) survives power loss; the
            // RADIUS server batches its writes so this costs little.
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
    });
    Database::connect(opts).await.map_err(ConnectError::Connect)
}

/// Maps database errors to what callers can act on; unique violations name the field.
pub(crate) fn db_err(e: DbErr) -> StoreError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(msg)) => StoreError::Conflict(conflict_field(&msg)),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
            StoreError::InUse("the record is referenced by, or refers to, another record".into())
        }
        _ => match e {
            DbErr::RecordNotFound(_) => StoreError::NotFound,
            other => {
                let retryable = is_retryable(&other);
                StoreError::Database(DatabaseError::new(other.to_string(), retryable, Some(Arc::new(other))))
            }
        },
    }
}

fn conflict_field(msg: &str) -> String {
    // Index names (PostgreSQL, MySQL) and table.column (SQLite) both end in the field.
    for (needle, field) in [
        ("username", "username"),
        ("setting_key", "key"),
        ("checkout_request_id", "checkout_request_id"),
        ("provider_receipt", "provider_receipt"),
        ("number", "number"),
        ("code", "code"),
        ("nas_ip", "nas_ip"),
        ("name", "name"),
    ] {
        if msg.contains(needle) {
            return field.to_string();
        }
    }
    "value".to_string()
}

/// Database time: UTC, whole seconds (MySQL `DATETIME` keeps no fraction, so every
/// backend is made to agree).
pub(crate) fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc().with_nanosecond(0).unwrap_or(t.naive_utc())
}

pub(crate) fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
}

/// A deadlock victim, serialization failure or lock timeout: the transaction was rolled
/// back and may simply be run again. Decided from the driver's error code, never its text.
fn is_retryable(e: &DbErr) -> bool {
    use sea_orm::sqlx::mysql::MySqlDatabaseError;
    use sea_orm::sqlx::postgres::PgDatabaseError;
    use sea_orm::sqlx::sqlite::SqliteError;
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = e
    else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(e) = &**e else { return false };
    let code = if let Some(pg) = e.try_downcast_ref::<PgDatabaseError>() {
        DriverCode::Postgres(pg.code())
    } else if let Some(my) = e.try_downcast_ref::<MySqlDatabaseError>() {
        DriverCode::MySql(my.number())
    } else if e.try_downcast_ref::<SqliteError>().is_some() {
        match e.code().and_then(|c| c.parse().ok()) {
            Some(c) => DriverCode::Sqlite(c),
            None => return false,
        }
    } else {
        return false;
    };
    retryable_code(code)
}

/// The error code of each driver, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
enum DriverCode<'a> {
    /// SQLSTATE.
    Postgres(&'a str),
    /// The server's error number.
    MySql(u16),
    /// The extended result code.
    Sqlite(i32),
}

fn retryable_code(code: DriverCode<'_>) -> bool {
    match code {
        // serialization_failure, deadlock_detected
        DriverCode::Postgres(state) => matches!(state, "40001" | "40P01"),
        // ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
        DriverCode::MySql(number) => matches!(number, 1213 | 1205),
        // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes (BUSY_SNAPSHOT, ...)
        DriverCode::Sqlite(code) => matches!(code & 0xff, 5 | 6),
    }
}

/// Page numbers from 1 to `MAX_PAGE`; `per_page` 0 means the default, 50, and at most 500.
/// The use cases refuse larger pages with a field error; the clamp here keeps any other
/// caller's OFFSET within what the drivers accept.
pub(crate) fn page_of(page: u64, per_page: u64) -> (u64, u64) {
    let per_page = if per_page == 0 { 50 } else { Ord::min(per_page, 500) };
    (page.clamp(1, broadnet_store::MAX_PAGE), per_page)
}

/// One page of an ordered query (see [`page_of`]), each row made a record by `record`,
/// with the total the query matches.
pub(crate) async fn fetch_page<E, R>(
    conn: &DatabaseConnection,
    ordered: sea_orm::Select<E>,
    page: u64,
    per_page: u64,
    record: impl Fn(E::Model) -> StoreResult<R>,
) -> StoreResult<broadnet_store::Page<R>>
where
    E: sea_orm::EntityTrait,
    E::Model: Sync,
{
    use sea_orm::PaginatorTrait;
    let (page, per_page) = page_of(page, per_page);
    let total = ordered.clone().count(conn).await.map_err(db_err)?;
    let rows = ordered.paginate(conn, per_page).fetch_page(page - 1).await.map_err(db_err)?;
    let items = rows.into_iter().map(record).collect::<StoreResult<Vec<_>>>()?;
    Ok(broadnet_store::Page { items, total, page, per_page })
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("unexpected {what} in database: {value:?}"))
}

/// Writes one audit entry on the given connection (the change's own transaction).
pub(crate) async fn audit<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    action: &str,
    entity_type: &str,
    entity_id: Option<String>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> StoreResult<()> {
    entities::audit::ActiveModel {
        at: Set(to_db(actor.at)),
        admin_id: Set(actor.admin_id),
        admin_username: Set(actor.username.clone()),
        ip: Set(actor.ip.clone()),
        action: Set(action.to_string()),
        entity_type: Set(entity_type.to_string()),
        entity_id: Set(entity_id),
        before_json: Set(before.map(|v| v.to_string())),
        after_json: Set(after.map(|v| v.to_string())),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read.ping().await.map_err(db_err)?;
        if self.backend == DbBackend::Sqlite {
            self.write.ping().await.map_err(db_err)?;
        }
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        match self.backend {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgres",
            _ => "mysql",
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn conflict_fields_from_each_backend() {
        assert_eq!(conflict_field("UNIQUE constraint failed: customers.username"), "username");
        assert_eq!(conflict_field("duplicate key value violates unique constraint \"ux_packages_name\""), "name");
        assert_eq!(conflict_field("Duplicate entry 'a' for key 'ux_admins_username'"), "username");
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:****@h/db");
        assert_eq!(redact_url("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_sqlite_database_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // A new data directory, and an existing database left world-readable by an
        // older version.
        let fresh = tmp.path().join("data").join("broadnet.db");
        let store = SqlStore::open(&format!("sqlite://{}", fresh.display())).await.unwrap();
        use broadnet_store::Store;
        store.ping().await.unwrap();
        assert_eq!(mode(fresh.parent().unwrap()), 0o700);
        for f in ["broadnet.db", "broadnet.db-wal", "broadnet.db-shm"] {
            let p = fresh.parent().unwrap().join(f);
            if p.exists() {
                assert_eq!(mode(&p), 0o600, "{f}");
            }
        }
        store.close().await;
        let old = tmp.path().join("old.db");
        std::fs::write(&old, b"").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = SqlStore::open(&format!("sqlite://{}", old.display())).await.unwrap();
        assert_eq!(mode(&old), 0o600);
        store.close().await;
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://./data/b.db?mode=rwc"), Some("./data/b.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[test]
    fn retryable_codes_of_each_backend() {
        assert!(retryable_code(DriverCode::Postgres("40001")));
        assert!(retryable_code(DriverCode::Postgres("40P01")));
        assert!(!retryable_code(DriverCode::Postgres("23505")), "unique violation");
        assert!(!retryable_code(DriverCode::Postgres("42601")), "syntax error");
        assert!(retryable_code(DriverCode::MySql(1213)));
        assert!(retryable_code(DriverCode::MySql(1205)));
        assert!(!retryable_code(DriverCode::MySql(1062)), "duplicate entry");
        assert!(retryable_code(DriverCode::Sqlite(5)), "SQLITE_BUSY");
        assert!(retryable_code(DriverCode::Sqlite(517)), "SQLITE_BUSY_SNAPSHOT");
        assert!(retryable_code(DriverCode::Sqlite(6)), "SQLITE_LOCKED");
        assert!(retryable_code(DriverCode::Sqlite(262)), "SQLITE_LOCKED_SHAREDCACHE");
        assert!(!retryable_code(DriverCode::Sqlite(2067)), "SQLITE_CONSTRAINT_UNIQUE");
        assert!(!retryable_code(DriverCode::Sqlite(1)), "SQLITE_ERROR");
    }

    #[test]
    fn only_database_errors_can_be_retryable() {
        assert!(!StoreError::Backend("deadlock detected (40P01)".into()).is_retryable(), "text decides nothing");
        assert!(!StoreError::Conflict("username".into()).is_retryable());
        assert!(StoreError::Database(DatabaseError::new("busy", true, None)).is_retryable());
        assert!(!StoreError::Database(DatabaseError::new("syntax", false, None)).is_retryable());
    }

    #[tokio::test]
    async fn a_driver_error_keeps_its_source_and_text() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let e = db_err(db.execute_unprepared("SELEC 1").await.unwrap_err());
        assert!(!e.is_retryable());
        let StoreError::Database(inner) = &e else { panic!("{e:?}") };
        let source = std::error::Error::source(inner).unwrap();
        let driver = source.downcast_ref::<DbErr>().unwrap();
        assert_eq!(inner.message(), driver.to_string());
        assert_eq!(e.to_string(), format!("database error: {driver}"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[tokio::test]
    async fn sqlite_busy_is_retryable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("busy.db").display());
        let one = |timeout: Duration| {
            ConnectOptions::new(url.clone())
                .max_connections(1)
                .map_sqlx_sqlite_opts(move |o| o.busy_timeout(timeout))
                .clone()
        };
        let holder = Database::connect(one(Duration::from_secs(5))).await.unwrap();
        holder.execute_unprepared("CREATE TABLE t (x INTEGER)").await.unwrap();
        holder.execute_unprepared("BEGIN IMMEDIATE").await.unwrap();
        holder.execute_unprepared("INSERT INTO t VALUES (1)").await.unwrap();
        let other = Database::connect(one(Duration::ZERO)).await.unwrap();
        let e = db_err(other.execute_unprepared("INSERT INTO t VALUES (2)").await.unwrap_err());
        assert!(e.is_retryable(), "{e:?}");
        holder.execute_unprepared("COMMIT").await.unwrap();
        other.execute_unprepared("INSERT INTO t VALUES (2)").await.unwrap();
    }

    /// Runs on PostgreSQL and MySQL/MariaDB (`BROADNET_TEST_DB`); SQLite has no row locks.
    #[tokio::test]
    async fn a_deadlock_victim_is_retryable() {
        use sea_orm::TransactionTrait;
        if broadnet_testkit::backend() == broadnet_testkit::Backend::Sqlite {
            return;
        }
        let tdb = broadnet_testkit::TestDb::new().await;
        let a = Database::connect(&tdb.url).await.unwrap();
        let b = Database::connect(&tdb.url).await.unwrap();
        a.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)").await.unwrap();
        a.execute_unprepared("INSERT INTO t VALUES (1, 0), (2, 0)").await.unwrap();
        let ta = a.begin().await.unwrap();
        let tb = b.begin().await.unwrap();
        ta.execute_unprepared("UPDATE t SET v = 1 WHERE id = 1").await.unwrap();
        tb.execute_unprepared("UPDATE t SET v = 1 WHERE id = 2").await.unwrap();
        let (ra, rb) = tokio::join!(ta.execute_unprepared("UPDATE t SET v = 2 WHERE id = 2"), async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            tb.execute_unprepared("UPDATE t SET v = 2 WHERE id = 1").await
        });
        let victim = match (ra, rb) {
            (Err(e), Ok(_)) | (Ok(_), Err(e)) => db_err(e),
            other => panic!("expected one deadlock victim: {other:?}"),
        };
        assert!(victim.is_retryable(), "{victim:?}");
        drop((ta, tb));
        let _ = (a.close().await, b.close().await);
        tdb.cleanup().await;
    }
}
