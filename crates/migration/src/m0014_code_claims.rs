//! "I already paid": an M-Pesa code typed on the portal logs a device in once. The
//! unique receipt is what makes a second claim of the same code (or two at once)
//! fail, on every database.

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0014_code_claims"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(table(
                "code_claims",
                vec![
                    id("id"),
                    s("receipt", 64),
                    // The hotspot account the code opened (its RADIUS username).
                    s("username", 64),
                    s_null("mac", 17),
                    s_null("ip", 64),
                    ts("created_at"),
                ],
            ))
            .await?;
        manager.create_index(unique("code_claims", &["receipt"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("code_claims")).to_owned()).await
    }
}
