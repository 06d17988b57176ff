//! The escalation service's application, in process, on a fresh database
//! (SQLite always, Postgres when there is one; see
//! `complaints_test_support`), with a manual clock: what its alerts say and
//! whom they name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod assignees;
