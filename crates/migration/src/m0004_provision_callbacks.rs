//! A provisioning token's callback is accepted once, from the address that fetched
//! the script: remember that address and when the callback came.

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_provision_callbacks"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [s_null("fetched_ip", 64), ts_null("called_back_at")] {
            manager.alter_table(Table::alter().table(Alias::new("provision_tokens")).add_column(col).take()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in ["called_back_at", "fetched_ip"] {
            manager
                .alter_table(Table::alter().table(Alias::new("provision_tokens")).drop_column(Alias::new(col)).take())
                .await?;
        }
        Ok(())
    }
}
