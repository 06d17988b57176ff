//! The deadline queue conformance suite. Every test runs against the SQL
//! backend on SQLite, on Postgres when `DATABASE_URL` is set, and against
//! the Redis backend on Postgres when `REDIS_URL` is set too (both always
//! in CI). Time is passed in explicitly: no test sleeps to make time pass.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod claiming;
mod index;
mod listing;
mod scale;
mod scheduling;
mod settling;
mod waking;
mod warnings;
