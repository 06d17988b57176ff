//! One migrator at a time: every way of migrating (a service at start, the
//! `complaints-migrate` CLI) holds a Postgres advisory lock while it runs,
//! so replicas starting together, or a migration job beside them, never run
//! the same migration twice at once (a concurrent `CREATE TABLE` fails on
//! Postgres, and a half-applied migration list is worse). SQLite needs
//! nothing: its writers already queue for the file.

use std::sync::Arc;

use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::sqlx::{self, Postgres, pool::PoolConnection};
use sea_orm_migration::sea_orm::{DatabaseConnection, DbBackend, DbErr, RuntimeErr};

use crate::Migrator;

/// The advisory lock's key: the same in every process of the platform
/// (the bytes of `"cmplmigr"`).
pub const MIGRATION_LOCK_KEY: i64 = 0x636d_706c_6d69_6772;

/// Holds the migration lock on a connection of its own until released or
/// dropped; nothing on SQLite.
#[derive(Debug)]
pub struct MigrationLock(Option<PoolConnection<Postgres>>);

impl MigrationLock {
    /// Waits for the migration lock of `db`'s database and takes it.
    pub async fn acquire(db: &DatabaseConnection) -> Result<Self, DbErr> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(Self(None));
        }
        let mut connection = db
            .get_postgres_connection_pool()
            .acquire()
            .await
            .map_err(connection_error)?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut *connection)
            .await
            .map_err(query_error)?;
        Ok(Self(Some(connection)))
    }

    /// Gives the lock back and returns its connection to the pool.
    pub async fn release(mut self) -> Result<(), DbErr> {
        let Some(mut connection) = self.0.take() else {
            return Ok(());
        };
        let released = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut *connection)
            .await;
        if released.is_err() {
            // Ending the session is what frees the lock for sure.
            drop(connection.detach());
        }
        released.map(drop).map_err(query_error)
    }
}

impl Drop for MigrationLock {
    /// Not released: the connection is closed rather than pooled, which
    /// ends its session and with it the lock.
    fn drop(&mut self) {
        if let Some(connection) = self.0.take() {
            drop(connection.detach());
        }
    }
}

/// Applies every pending migration to `db`, holding the migration lock
/// while it does: a second migrator waits, then finds nothing to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let lock = MigrationLock::acquire(db).await?;
    let migrated = Migrator::up(db, None).await;
    let released = lock.release().await;
    migrated?;
    released
}

fn connection_error(error: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(Arc::new(error)))
}

fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
}
