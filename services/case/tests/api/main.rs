//! The case service through its real gRPC surface: the production
//! `Application` on a port-0 listener, behind token authentication, with a
//! manual clock, on SQLite always and on Postgres when there is one
//! (`DATABASE_URL`, else the machine's own; see `complaints_test_support`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod access;
mod assignment;
mod clock_changes;
mod correspondence;
mod duplicates;
mod erasure;
mod evidence;
mod handler_steps;
mod idempotency;
mod lifecycle;
mod listing;
mod notices_together;
mod opening_together;
mod retention;
mod statistics;
mod statistics_reference;
mod timeline;
mod watch;
