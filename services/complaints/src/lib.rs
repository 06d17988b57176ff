//! The front door of the complaints platform.
//!
//! - `complaints dev`: the embedded suite — every service, health and
//!   reflection on one address, SQLite under a data folder — for a laptop
//!   with nothing installed but Rust.
//! - `complaints token`: a bearer token the embedded suite accepts.
//! - Client commands (`submit`, `show`, `timeline`, `stats`) for a person at
//!   a terminal.
//!
//! It wires the services together; it must not hold their logic.

pub mod cli;
mod client;
pub mod embedded;
mod test_clock;
