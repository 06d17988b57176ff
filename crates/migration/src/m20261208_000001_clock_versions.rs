//! `clock_versions`, the escalation service's: for each clock of each case,
//! the newest case change applied to it and whether that change started or
//! settled it. Case changes arrive at least once and in any order; with
//! this a settle that arrives before its start is remembered, and the late
//! start (or any older change) is ignored.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("clock_versions")
                    .if_not_exists()
                    .col(uuid("case_id"))
                    .col(string_len("kind", 32))
                    .col(big_integer("version"))
                    .col(string_len("state", 16))
                    .col(timestamp_with_time_zone("recorded_at"))
                    .primary_key(Index::create().col("case_id").col("kind"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("clock_versions").if_exists().to_owned())
            .await
    }
}
