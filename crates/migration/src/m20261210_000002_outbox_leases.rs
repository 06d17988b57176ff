//! `outbox_leases`: which relay replica is delivering an aggregate's
//! messages, and until when. A relay claims an aggregate (a case) before
//! delivering its messages, so two replicas never deliver messages of the
//! same aggregate at the same time, out of order. `idx_outbox_aggregate`
//! finds an aggregate's undelivered messages in order.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("outbox_leases")
                    .if_not_exists()
                    .col(string_len("topic", 64))
                    .col(uuid("aggregate_id"))
                    .col(string_len("holder", 64))
                    .col(timestamp_with_time_zone("leased_until"))
                    .primary_key(Index::create().col("topic").col("aggregate_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_aggregate")
                    .table("outbox")
                    .col("topic")
                    .col("aggregate_id")
                    .col("id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_outbox_aggregate")
                    .table("outbox")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("outbox_leases").to_owned())
            .await?;
        Ok(())
    }
}
