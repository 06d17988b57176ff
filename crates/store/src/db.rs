//! Connecting to Postgres or SQLite and bringing the schema up to date.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

use crate::StoreError;

/// Opens a connection pool for `url` (`postgres://...` or `sqlite://path?mode=rwc`)
/// and applies any pending migrations ([`migrate`]).
///
/// SQLite gets a single connection: the embedded suite's writes are then
/// serialised in the pool instead of failing with "database is locked". It
/// runs with `secure_delete`, so erased data does not linger in the file.
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    let db = open(url).await?;
    migrate(&db).await?;
    Ok(db)
}

/// Applies any pending migrations to `db`, one migrator at a time: on
/// Postgres under an advisory lock that every service and the
/// `complaints-migrate` CLI take, so replicas starting together do not
/// race.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    complaints_migration::migrate(db).await?;
    Ok(())
}

/// [`connect`] without migrating: for a service whose schema a migration
/// job keeps (`COMPLAINTS_MIGRATE_ON_START=false`).
pub async fn open(url: &str) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        options.max_connections(1).min_connections(1);
        // Erasure must not leave a person's data in freed pages of the file:
        // SQLite then overwrites deleted and replaced content with zeros. Set
        // on every connection the pool opens, not once.
        options.map_sqlx_sqlite_opts(|sqlite| sqlite.pragma("secure_delete", "ON"));
    } else {
        options.max_connections(20).min_connections(1);
    }
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;")
            .await?;
    }
    Ok(db)
}

/// After an erasure has committed: on SQLite, copies the write-ahead log
/// into the database file and truncates the log, so the pages written
/// before the erasure (which still hold the erased data) are gone from the
/// log as well; `secure_delete` already zeroes them in the file. Nothing to
/// do on Postgres, whose dead row versions go with its own vacuuming.
pub async fn forget_overwritten_pages(db: &impl ConnectionTrait) -> Result<(), StoreError> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE);")
            .await?;
    }
    Ok(())
}
