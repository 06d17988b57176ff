//! The notify crate's integration tests: one binary, one module per area.

// Test helpers outside #[test] functions may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use complaints_test_support::smtp;

mod letters;
mod outbox;
mod smtp_delivery;
mod support;
mod templates;
