//! Timeline events in one feed across cases, for `WatchCaseEvents`.
//!
//! Postgres: `case_events.feed_tx` (`xid8`, the writing transaction's id) and
//! `feed_seq` (an insertion counter), indexed together; the feed is read in
//! that order and only below the oldest running transaction, so a
//! transaction that commits late never lands behind a reader. SQLite writes
//! one transaction at a time, so its `rowid` order is already the feed order
//! and nothing is added.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "ALTER TABLE case_events \
               ADD COLUMN feed_tx xid8 NOT NULL DEFAULT pg_current_xact_id(), \
               ADD COLUMN feed_seq bigserial NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS case_events_feed ON case_events (feed_tx, feed_seq)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "DROP INDEX IF EXISTS case_events_feed; \
                 ALTER TABLE case_events DROP COLUMN feed_tx, DROP COLUMN feed_seq",
            )
            .await?;
        Ok(())
    }
}
