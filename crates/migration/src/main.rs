//! `complaints-migrate`: applies the platform's migrations to `DATABASE_URL`.
//! Run `complaints-migrate up` (or `status`, `down`, `fresh`; `--help`).
//!
//! It holds the migration lock (see [`MigrationLock`]) from connecting until
//! it is done, so it never runs beside a service migrating at start or
//! another run of itself.

use std::sync::{Arc, Mutex, PoisonError};

use complaints_migration::{MigrationLock, Migrator};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Database;

#[tokio::main]
async fn main() {
    let held: Arc<Mutex<Option<MigrationLock>>> = Arc::default();
    let holder = held.clone();
    cli::run_cli_with_connection(Migrator, move |options| async move {
        let db = Database::connect(options).await?;
        let lock = MigrationLock::acquire(&db).await?;
        *holder.lock().unwrap_or_else(PoisonError::into_inner) = Some(lock);
        Ok(db)
    })
    .await;
    let lock = held.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(lock) = lock
        && let Err(error) = lock.release().await
    {
        eprintln!("releasing the migration lock: {error}");
    }
}
