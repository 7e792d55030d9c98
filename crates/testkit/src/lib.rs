//! A fresh, empty database per test, on the backend named by `BROADNET_TEST_DB`
//! (`sqlite` by default, `postgres`, `mysql`), so tests run in parallel.
//! Server addresses default to the local servers and are overridable:
//! `BROADNET_TEST_PG_URL`, `BROADNET_TEST_MYSQL_URL`.

#![allow(clippy::expect_used)]

use sea_orm::{ConnectionTrait, Database};

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
