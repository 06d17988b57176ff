//! The case service through its real gRPC surface: the production
//! `Application` on a port-0 listener, behind token authentication, with a
//! manual clock, on SQLite always and on Postgres when `DATABASE_URL` names
//! one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod access;
mod idempotency;
mod lifecycle;
mod listing;
mod statistics;
mod timeline;
