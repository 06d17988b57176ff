//! `idx_outbox_undelivered`: a topic's undelivered messages in delivery
//! order. The relay reads its next batch from the front of it, so finding
//! work costs the batch, not the backlog, however many messages wait
//! behind a receiver that is down.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Postgres and SQLite share the partial-index syntax.
const CREATE: &str = "CREATE INDEX IF NOT EXISTS idx_outbox_undelivered \
                      ON outbox (topic, id) WHERE delivered_at IS NULL";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(CREATE).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_outbox_undelivered")
            .await?;
        Ok(())
    }
}
