//! `complaints-migrate`: applies the platform's migrations to `DATABASE_URL`.
//! Run `complaints-migrate up` (or `status`, `down`, `fresh`; `--help`).

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(complaints_migration::Migrator).await;
}
