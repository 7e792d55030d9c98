//! Job runs: when each background job last ran, when it runs next, and its last
//! error, for the System page (the lease says only which node holds it).

use crate::schema::*;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0010_job_runs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(table(
                "job_runs",
                vec![
                    ColumnDef::new(Alias::new("name")).string_len(64).not_null().primary_key().take(),
                    s("holder", 128),
                    ts("last_run_at"),
                    ts_null("next_run_at"),
                    boolean("last_run_ok", true),
                    // The last error, kept after later runs that succeed.
                    text_null("last_error"),
                    ts_null("last_error_at"),
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("job_runs")).to_owned()).await
    }
}
