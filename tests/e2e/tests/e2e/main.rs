//! End-to-end tests: the platform's real binaries as separate processes,
//! driven over gRPC the way integrations and operators use them.
//!
//! - `embedded`: `complaints dev`, the one-process suite on SQLite.
//! - `production`: the `case` and `intake` processes on Postgres, talking to
//!   each other over gRPC (only when `DATABASE_URL` names a Postgres server;
//!   always in CI).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod embedded;
mod production;
