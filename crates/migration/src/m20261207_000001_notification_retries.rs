//! `notifications.queued_at` and `notifications.failed_at`: when a
//! notification last entered the delivery queue (created, or put back by
//! `RequeueNotifications`), from which its retry window runs, and when it
//! was given up on (FAILED), so that staff can requeue what failed since a
//! time. Both are empty on older rows: the window then runs from
//! `created_at`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in ["queued_at", "failed_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("notifications")
                        .add_column(timestamp_with_time_zone_null(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["failed_at", "queued_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("notifications")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
