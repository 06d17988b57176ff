//! The storage conformance suite: every test runs against SQLite, and
//! against Postgres: `DATABASE_URL`'s, or the machine's own when that is
//! unset, else skipped visibly (always run in CI; see
//! `complaints-test-support`). `tls` runs on a TLS-only Postgres of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod basics;
mod migrations;
mod opening;
mod register;
mod relay;
mod tls;
mod together;
