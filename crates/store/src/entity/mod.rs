//! sea-orm entities, one module per table. Column meanings are documented in
//! the migration that creates them (`complaints-migration`).

pub mod case_events;
pub mod cases;
pub mod complainants;
pub mod correspondence;
pub mod evidence;
pub mod idempotency_records;
pub mod outbox;
pub mod policies;
