//! The settings as a process reads them: one configuration file and the
//! environment merged, secrets from files, and the README's table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod readme;
mod sources;
