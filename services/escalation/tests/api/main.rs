//! The escalation service's application, in process, on a fresh database
//! (SQLite always, Postgres when there is one; see
//! `complaints_test_support`), with a manual clock: what its alerts say and
//! whom they name, case changes in any order, a Redis outage, shutdown, and
//! bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod assignees;
mod failover;
mod listing;
mod ordering;
mod shutdown;
mod support;
mod traces;
