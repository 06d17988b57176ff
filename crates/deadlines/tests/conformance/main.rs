//! The deadline queue conformance suite. Every test runs against the SQL
//! backend on SQLite, on Postgres, and against the Redis backend on
//! Postgres, when there are servers for them (`DATABASE_URL` and
//! `REDIS_URL`, else the machine's own; always in CI; see
//! `complaints_test_support`). Time is passed in explicitly: no test
//! sleeps to make time pass. `tls` runs the Redis backend on a TLS-only
//! Redis of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod assignees;
mod claiming;
mod clock_changes;
mod index;
mod listing;
mod moving;
mod scale;
mod scheduling;
mod settling;
mod tls;
mod waking;
mod warnings;
