//! `idx_notifications_queued_case`: each case's queued notifications in
//! the order they were requested. A claim asks, for the cases of the page
//! it read, which queued notification of each is the earliest, and checks
//! again as it leases that none earlier is queued; both read this index,
//! which holds only what is queued, instead of every notification a case
//! ever had.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Postgres and SQLite share the partial-index syntax. The queries that
/// use it spell the state as this literal, never as a parameter, so the
/// planner can see that the index covers them.
const CREATE: &str = "CREATE INDEX IF NOT EXISTS idx_notifications_queued_case \
                      ON notifications (case_id, notification_id) WHERE state = 'queued'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(CREATE).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_notifications_queued_case")
            .await?;
        Ok(())
    }
}
