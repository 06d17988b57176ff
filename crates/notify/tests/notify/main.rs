//! The notify crate's integration tests: one binary, one module per area.

#[path = "../smtp/mod.rs"]
mod smtp;

mod letters;
mod outbox;
mod smtp_delivery;
mod support;
mod templates;
