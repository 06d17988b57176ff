//! The storage conformance suite: every test runs against SQLite, and
//! against Postgres when `DATABASE_URL` is set (always in CI).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod basics;
