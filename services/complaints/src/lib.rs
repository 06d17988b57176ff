//! The front door of the complaints platform.
//!
//! - `complaints dev`: the embedded suite — every service, health and
//!   reflection on one address, SQLite under a data folder — for a laptop
//!   with nothing installed but Rust.
//! - `complaints token`: a bearer token the embedded suite accepts.
//! - `complaints bench`: a load driver for `SubmitComplaint`.
//! - Client commands for a person at a terminal: `submit`, `show`,
//!   `timeline`, `note`, `list`, `deadlines`, `notices`, `stats`, and one per case step
//!   (`refer`, `answer-referral`, `respond`, `review`, `escalate`,
//!   `escalate-to-director`, `tsa`, `close`, `erase`, `assign`,
//!   `acknowledge`, `extend`, `pause`, `resume`), printing states and dates
//!   in words.
//!
//! It wires the services together; it must not hold their logic.

mod bench;
pub mod cli;
mod client;
pub mod embedded;
mod test_clock;
