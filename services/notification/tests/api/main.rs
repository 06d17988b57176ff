//! The notification service's integration tests: its gRPC handlers, its
//! delivery worker and its notice relay, over a real database (SQLite
//! always, Postgres when there is one: see `complaints_test_support`), with
//! the real case service in process, a real SMTP server on loopback
//! (aiosmtpd) and a manual clock that retries are driven by.

// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

use complaints_test_support::smtp;

mod concurrency;
mod email;
mod erasure;
mod letters;
mod replicas;
mod requests;
mod requeue;
mod retries;
mod templates;
