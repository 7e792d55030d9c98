//! Customer usernames unique regardless of case: a paybill account typed as
//! `PAYONE` or `PayOne` must name one customer, not whichever case variant exists.
//! A `username_key` column (the username in lowercase; usernames are ASCII) with a
//! unique index, as for admins, because MariaDB has no expression indexes.

use crate::schema::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, FromQueryResult, Statement};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_customer_usernames"
    }
}

#[derive(FromQueryResult)]
struct Row {
    username: String,
}

/// Usernames that differ only in case, grouped; empty when none clash.
fn clashes(rows: &[Row]) -> Vec<Vec<String>> {
    crate::schema::clashes(rows.iter().map(|r| r.username.as_str()), |u| u.to_ascii_lowercase())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let rows =
            Row::find_by_statement(Statement::from_string(backend, "SELECT username FROM customers")).all(db).await?;
        // Checked before any change (MySQL cannot roll DDL back): the operator is told
        // which customers to rename, not that an index failed.
        let clashing = clashes(&rows);
        if !clashing.is_empty() {
            let shown: Vec<String> = clashing
                .iter()
                .take(50)
                .map(|names| names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(" = "))
                .collect();
            return Err(DbErr::Migration(format!(
                "customer usernames must be unique regardless of case (they are paybill account numbers), but {} \
                 group(s) clash: {}; rename all but one of each (PATCH /api/customers/{{id}} with a new username, \
                 or UPDATE customers SET username = … WHERE id = …) and start again",
                clashing.len(),
                shown.join("; ")
            )));
        }
        manager
            .alter_table(
                Table::alter().table(Alias::new("customers")).add_column(s_default("username_key", 64, "")).take(),
            )
            .await?;
        // Usernames are ASCII (letters, digits, . _ - @), where SQL LOWER and Rust agree.
        db.execute_unprepared("UPDATE customers SET username_key = LOWER(username)").await?;
        manager.create_index(unique("customers", &["username_key"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("ux_customers_username_key").table(Alias::new("customers")).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(Alias::new("customers")).drop_column(Alias::new("username_key")).take())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_variants_clash() {
        let rows = |names: &[&str]| -> Vec<Row> { names.iter().map(|n| Row { username: String::from(*n) }).collect() };
        assert!(clashes(&rows(&["payone", "paytwo"])).is_empty());
        assert_eq!(clashes(&rows(&["payone", "PAYONE", "x", "PayOne"])), vec![vec!["PAYONE", "PayOne", "payone"]]);
    }
}
