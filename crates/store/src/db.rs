//! Connecting to Postgres or SQLite and bringing the schema up to date.

use std::time::Duration;

use complaints_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

use crate::StoreError;

/// Opens a connection pool for `url` (`postgres://...` or `sqlite://path?mode=rwc`)
/// and applies any pending migrations.
///
/// SQLite gets a single connection: the embedded suite's writes are then
/// serialised in the pool instead of failing with "database is locked".
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        options.max_connections(1).min_connections(1);
    } else {
        options.max_connections(20).min_connections(1);
    }
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;")
            .await?;
    }
    Migrator::up(&db, None).await?;
    Ok(db)
}
