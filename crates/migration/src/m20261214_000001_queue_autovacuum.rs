//! Autovacuum thresholds for the tables that work passes through: each
//! delivered outbox message, relay lease, notification claim, deadline
//! claim, clock version and register number leaves a dead row version
//! behind, and until a vacuum clears them every index scan of the table
//! steps over them (the intake benchmark saw Postgres rows read per
//! complaint grow twenty-fold across a run, and fall back once vacuumed).
//! Postgres's default waits for a fifth of a table to be dead, which on a
//! table that only grows (the outbox keeps its delivered messages) comes
//! later and later; here a table is vacuumed after 1,000 dead rows plus 1 %
//! of it, and analysed after 1,000 changed rows plus 2 %, so the planner's
//! picture of a queue follows a burst. Postgres only: SQLite has no
//! autovacuum to tune.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables work passes through.
const QUEUES: [&str; 6] = [
    "outbox",
    "outbox_leases",
    "notifications",
    "deadlines",
    "clock_versions",
    "register_sequences",
];

const SETTINGS: [&str; 4] = [
    "autovacuum_vacuum_threshold",
    "autovacuum_vacuum_scale_factor",
    "autovacuum_analyze_threshold",
    "autovacuum_analyze_scale_factor",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let values = ["1000", "0.01", "1000", "0.02"];
        let set: Vec<String> = SETTINGS
            .iter()
            .zip(values)
            .map(|(name, value)| format!("{name} = {value}"))
            .collect();
        for table in QUEUES {
            manager
                .get_connection()
                .execute_unprepared(&format!("ALTER TABLE {table} SET ({})", set.join(", ")))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for table in QUEUES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE {table} RESET ({})",
                    SETTINGS.join(", ")
                ))
                .await?;
        }
        Ok(())
    }
}
