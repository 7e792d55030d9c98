//! A fresh, empty database per test, on the backend named by `BROADNET_TEST_DB`
//! (`sqlite` by default, `postgres`, `mysql`), so tests run in parallel.
//! Server addresses default to the local servers and are overridable:
//! `BROADNET_TEST_PG_URL`, `BROADNET_TEST_MYSQL_URL`.
//!
//! With the `app` feature, [`app`] serves the whole app on a real port for
//! integration tests; [`eventually`] waits on a condition instead of sleeping.

#![allow(clippy::expect_used)]

use sea_orm::{ConnectionTrait, Database};
use std::future::Future;
use std::time::Duration;

#[cfg(feature = "app")]
pub mod app;

/// How long [`eventually`] waits when a test has no better bound: generous, since the
/// machine running the tests may be loaded; a passing test never waits for it.
pub const WAIT: Duration = Duration::from_secs(10);

/// Polls `check` until it returns `Some`, and returns that; panics naming `what` when
/// `timeout` passes first. For what a test waits for (a callback delivered, a row
/// written after the reply), instead of a fixed sleep.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "not within {timeout:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

pub fn backend() -> Backend {
    match std::env::var("BROADNET_TEST_DB").unwrap_or_default().as_str() {
        "postgres" | "postgresql" | "pg" => Backend::Postgres,
        "mysql" | "mariadb" => Backend::MySql,
        _ => Backend::Sqlite,
    }
}

pub fn pg_server_url() -> String {
    std::env::var("BROADNET_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn mysql_server_url() -> String {
    std::env::var("BROADNET_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn with_database(server_url: &str, db: &str) -> String {
    match server_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => format!("{server_url}/{db}"),
    }
}

pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Creates an empty database; panics with a clear message when the server is down.
    pub async fn new() -> TestDb {
        let backend = backend();
        let name = format!("bn_t_{:016x}", rand::random::<u64>());
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb { url, backend, name, _dir: Some(dir) }
            }
            Backend::Postgres | Backend::MySql => {
                let server = if backend == Backend::Postgres { pg_server_url() } else { mysql_server_url() };
                let admin = Database::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("test database server {server} is not reachable: {e}"));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {server}: {e}"));
                let _ = admin.close().await;
                TestDb { url: with_database(&server, &name), backend, name, _dir: None }
            }
        }
    }

    /// Drops the database (SQLite files go with the temporary directory).
    pub async fn cleanup(self) {
        if self.backend == Backend::Sqlite {
            return;
        }
        let server = if self.backend == Backend::Postgres { pg_server_url() } else { mysql_server_url() };
        if let Ok(admin) = Database::connect(&server).await {
            let force = if self.backend == Backend::Postgres { " WITH (FORCE)" } else { "" };
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {}{force}", self.name)).await;
            let _ = admin.close().await;
        }
    }
}
