//! Billing rules: a customer's balance (credit kept from payments that bought no
//! whole period), what each invoice applied, and the unmatched payments queue.
//! Existing customers keep their status: an upgrade never takes anyone offline.

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_billing"
    }
}

async fn add(manager: &SchemaManager<'_>, table_name: &str, col: ColumnDef) -> Result<(), DbErr> {
    // One column per statement: SQLite adds one at a time.
    manager.alter_table(Table::alter().table(Alias::new(table_name)).add_column(col).take()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add(manager, "customers", big_default("balance_minor", 0)).await?;
        // Invoices issued before this were one period for exactly the price.
        add(manager, "invoices", big_default("periods", 1)).await?;
        add(manager, "invoices", big_null("applied_minor")).await?;
        add(manager, "invoices", big_default("balance_after_minor", 0)).await?;
        manager
            .create_table(table(
                "unmatched_payments",
                vec![
                    id("id"),
                    s("provider", 16),
                    s("receipt", 64),
                    big("amount_minor"),
                    s("currency", 8),
                    s_null("phone", 32),
                    s_null("payer_name", 128),
                    s_null("account_reference", 64),
                    s("reason", 500),
                    s("status", 16),
                    big_null("payment_id"),
                    big_null("customer_id"),
                    s_null("resolved_by", 128),
                    ts_null("resolved_at"),
                    s_null("note", 500),
                    ts("created_at"),
                ],
            ))
            .await?;
        manager.create_index(unique("unmatched_payments", &["receipt"])).await?;
        manager.create_index(index("unmatched_payments", &["status", "created_at"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("unmatched_payments")).to_owned()).await
    }
}
