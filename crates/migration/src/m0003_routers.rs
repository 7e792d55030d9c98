//! Router provisioning: single-use tokens for the one-line command an admin pastes
//! into the MikroTik terminal, and a log of each configuration run.

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_routers"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table(
                    "provision_tokens",
                    vec![
                        id("id"),
                        s("jti", 64),
                        big("router_id"),
                        ts("expires_at"),
                        ts_null("used_at"),
                        ts("created_at"),
                    ],
                )
                .foreign_key(&mut fk("provision_tokens", "router_id", "routers", ForeignKeyAction::Cascade))
                .take(),
            )
            .await?;
        manager.create_index(unique("provision_tokens", &["jti"])).await?;
        manager.create_index(index("provision_tokens", &["router_id"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("provision_tokens")).to_owned()).await
    }
}
