//! Admin usernames unique regardless of case and surrounding white space: a
//! normalised `username_key` (trimmed, ASCII-lowercased) with a unique index, which
//! logins look up. A column rather than an index on `LOWER(username)` because
//! MariaDB has no expression indexes.

use crate::schema::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, FromQueryResult, Statement};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_admin_usernames"
    }
}

/// Must equal `broadnet_store::admin_username_key` (this crate does not depend on it).
fn key(username: &str) -> String {
    username.trim().to_ascii_lowercase()
}

#[derive(FromQueryResult)]
struct Row {
    id: i64,
    username: String,
}

/// Usernames that would share a key, grouped; empty when none clash.
fn clashes(rows: &[Row]) -> Vec<Vec<String>> {
    crate::schema::clashes(rows.iter().map(|r| r.username.as_str()), key)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let rows =
            Row::find_by_statement(Statement::from_string(backend, "SELECT id, username FROM admins ORDER BY id"))
                .all(db)
                .await?;
        // Checked before any change: MySQL cannot roll DDL back, and the operator
        // must be told which accounts to rename, not that an index failed.
        let clashing = clashes(&rows);
        if !clashing.is_empty() {
            let list: Vec<String> = clashing
                .iter()
                .map(|names| names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(" = "))
                .collect();
            return Err(DbErr::Migration(format!(
                "admin usernames must be unique regardless of case and surrounding spaces, but these clash: {}; \
                 rename or delete all but one of each (e.g. UPDATE admins SET username = 'root2' WHERE id = …) \
                 and start again",
                list.join("; ")
            )));
        }
        manager
            .alter_table(
                Table::alter().table(Alias::new("admins")).add_column(s_default("username_key", 64, "")).take(),
            )
            .await?;
        // In Rust, not SQL LOWER/TRIM, so the key is computed exactly as the store does.
        for r in &rows {
            let update = Query::update()
                .table(Alias::new("admins"))
                .value(Alias::new("username_key"), key(&r.username))
                .and_where(Expr::col(Alias::new("id")).eq(r.id))
                .take();
            manager.exec_stmt(update).await?;
        }
        manager.create_index(unique("admins", &["username_key"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ux_admins_username_key").table(Alias::new("admins")).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Alias::new("admins")).drop_column(Alias::new("username_key")).take())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_space_variants_clash() {
        let rows = |names: &[&str]| -> Vec<Row> {
            names.iter().enumerate().map(|(i, n)| Row { id: i as i64, username: String::from(*n) }).collect()
        };
        assert!(clashes(&rows(&["root", "ops", "viewer"])).is_empty());
        assert_eq!(clashes(&rows(&["root", "ops", "ROOT", " Ops"])), vec![vec![" Ops", "ops"], vec!["ROOT", "root"]]);
    }
}
