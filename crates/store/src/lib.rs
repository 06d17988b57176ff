//! Storage for the complaints platform: sea-orm entities and repositories
//! that run on Postgres and SQLite alike.
//!
//! It keeps the case record, the complainant's personal data (apart, so it
//! can be erased), the append-only hash-chained timeline, register numbers,
//! idempotency records and the outbox. It carries out what the domain
//! decided; it must not make policy decisions of its own, and it offers no
//! way to update or delete a timeline event.

pub mod backlog;
pub mod cases;
pub mod chain;
pub mod correspondence;
pub mod db;
pub mod entity;
mod error;
pub mod evidence;
pub mod feed;
pub mod group_commit;
pub mod idempotency;
pub mod outbox;
pub mod policies;
pub mod register;
pub mod relay;
pub mod stop;

pub use error::StoreError;
pub use sea_orm::DatabaseConnection;
