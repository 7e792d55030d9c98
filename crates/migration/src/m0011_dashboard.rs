//! Indexes for the dashboard's figures: revenue by completion time, today's
//! prompts by creation time, today's SMS by kind and creation time.

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0011_dashboard"
    }
}

const INDEXES: [(&str, &[&str]); 3] =
    [("payments", &["status", "completed_at"]), ("payments", &["created_at"]), ("outbox", &["kind", "created_at"])];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, cols) in INDEXES {
            manager.create_index(index(table, cols)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, cols) in INDEXES {
            let name = format!("ix_{table}_{}", cols.join("_"));
            manager.drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
