//! Retention: closed RADIUS sessions older than the retention period are folded into
//! one row of usage per user and month before they are deleted, so usage reports
//! outlive the detail.

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_retention"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(table(
                "usage_monthly",
                vec![
                    id("id"),
                    s("username", 64),
                    big_null("customer_id"),
                    // "2026-11": months in UTC.
                    s("month", 7),
                    big_default("sessions", 0),
                    big_default("session_time", 0),
                    big_default("input_octets", 0),
                    big_default("output_octets", 0),
                ],
            ))
            .await?;
        manager.create_index(unique("usage_monthly", &["username", "month"])).await?;
        manager.create_index(index("usage_monthly", &["customer_id"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("usage_monthly")).to_owned()).await
    }
}
