//! Which customer an outbox entry is about (taken from its payload's `customer_id`
//! when it is queued), so a customer's page lists the messages sent to them.
//! Entries queued before this have none.

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0012_outbox_customer"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Alias::new("outbox")).add_column(big_null("customer_id")).take())
            .await?;
        manager.create_index(index("outbox", &["customer_id"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("ix_outbox_customer_id").table(Alias::new("outbox")).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Alias::new("outbox")).drop_column(Alias::new("customer_id")).take())
            .await
    }
}
