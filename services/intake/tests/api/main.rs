//! Intake through its real gRPC surface: a port-0 server behind
//! authentication, in front of the real case service, on SQLite always and
//! on Postgres when there is one (`DATABASE_URL`, else the machine's own;
//! see `complaints_test_support`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod access;
mod channels;
mod duplicates;
mod email;
mod evidence;
mod idempotency;
mod service;
mod threading;
mod validation;
