//! End-to-end tests: the platform's real binaries as separate processes,
//! driven over gRPC the way integrations and operators use them.
//!
//! - `embedded`: `complaints dev`, the one-process suite on SQLite.
//! - `production`: the `case` and `intake` processes on Postgres, talking to
//!   each other over gRPC (only when `DATABASE_URL` names a Postgres server;
//!   always in CI).
//! - `policy_clocks`: `complaints dev --test-clock`, time moved over gRPC,
//!   every deadline, alert and letter of the policy checked (R1-R7).
//! - `escalation_processes`: several `escalation` processes on one Postgres
//!   and one Redis fire every deadline once in effect, through lost
//!   indexes and SIGKILLs (only when `DATABASE_URL` and `REDIS_URL` are set;
//!   always in CI).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod clock_suite;
mod support;

mod embedded;
mod escalation_processes;
mod policy_clocks;
mod production;
