//! Database migrations for the complaints platform, for Postgres and SQLite
//! alike. Also a CLI (`complaints-migrate up|down|status|fresh`), run as a
//! Kubernetes Job before a release.
//!
//! It defines schema only; it must not hold queries the services run.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_case_store;
mod m20261201_000001_deadlines;
mod m20261202_000001_notifications;
mod m20261203_000001_outbox_trace;
mod m20261204_000001_assignee;
mod m20261204_000003_deadline_extensions;
mod m20261204_000004_notification_erasure;
mod m20261205_000001_correspondence;
mod m20261205_000003_evidence;

/// Every migration, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_case_store::Migration),
            Box::new(m20261201_000001_deadlines::Migration),
            Box::new(m20261202_000001_notifications::Migration),
            Box::new(m20261203_000001_outbox_trace::Migration),
            Box::new(m20261204_000001_assignee::Migration),
            Box::new(m20261204_000003_deadline_extensions::Migration),
            Box::new(m20261204_000004_notification_erasure::Migration),
            Box::new(m20261205_000001_correspondence::Migration),
            Box::new(m20261205_000003_evidence::Migration),
        ]
    }
}
