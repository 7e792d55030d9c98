//! Indexes for the dashboard's figures: revenue by completion time (covering, so
//! a month of payments is summed from the index alone), today's prompts by
//! creation time, today's SMS by kind and creation time, customers expiring soon.

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0011_dashboard"
    }
}

/// `(name, table, columns)`; names fit MySQL's 64 characters.
const INDEXES: [(&str, &str, &[&str]); 4] = [
    ("ix_payments_revenue", "payments", &["status", "completed_at", "provider", "amount_minor", "checkout_request_id"]),
    ("ix_payments_created_at", "payments", &["created_at"]),
    ("ix_outbox_kind_created_at", "outbox", &["kind", "created_at"]),
    ("ix_customers_status_expires_at", "customers", &["status", "expires_at"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in INDEXES {
            manager.create_index(index(table, cols).name(name).take()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager.drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
