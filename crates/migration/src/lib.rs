//! Database migrations for the complaints platform, for Postgres and SQLite
//! alike. Also a CLI (`complaints-migrate up|down|status|fresh`), run as a
//! Kubernetes Job before a release. Whoever migrates ([`migrate`], the
//! CLI) holds a Postgres advisory lock, so one migrator runs at a time.
//!
//! It defines schema only; it must not hold queries the services run.

pub use sea_orm_migration::prelude::*;

mod lock;
pub use lock::{MIGRATION_LOCK_KEY, MigrationLock, migrate};

mod m20261128_000001_case_store;
mod m20261201_000001_deadlines;
mod m20261202_000001_notifications;
mod m20261203_000001_outbox_trace;
mod m20261204_000001_assignee;
mod m20261204_000003_deadline_extensions;
mod m20261204_000004_notification_erasure;
mod m20261205_000001_correspondence;
mod m20261205_000003_evidence;
mod m20261206_000001_event_feed;
mod m20261207_000001_notification_retries;
mod m20261208_000001_clock_versions;
mod m20261209_000001_complainant_email;
mod m20261210_000002_outbox_leases;
mod m20261211_000001_trace_contexts;
mod m20261212_000001_outbox_undelivered;
mod m20261214_000001_queue_autovacuum;
mod m20261215_000001_intake_records;
mod m20261216_000001_notification_queue;

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
            Box::new(m20261206_000001_event_feed::Migration),
            Box::new(m20261207_000001_notification_retries::Migration),
            Box::new(m20261208_000001_clock_versions::Migration),
            Box::new(m20261209_000001_complainant_email::Migration),
            Box::new(m20261210_000002_outbox_leases::Migration),
            Box::new(m20261211_000001_trace_contexts::Migration),
            Box::new(m20261212_000001_outbox_undelivered::Migration),
            Box::new(m20261214_000001_queue_autovacuum::Migration),
            Box::new(m20261215_000001_intake_records::Migration),
            Box::new(m20261216_000001_notification_queue::Migration),
        ]
    }
}
