//! The complaints policy as types and pure functions.
//!
//! This crate decides; the other crates carry out. It holds the validating
//! value types, the working-day calendar, the policy as data, the roles, the
//! clock abstraction and the case state machine. It must not do I/O: no
//! tokio, no tonic, no database, no reading files or the system clock except
//! through [`clock::SystemClock`]. Time is always passed in.

pub mod calendar;
pub mod case;
pub mod clock;
pub mod complainant;
pub mod error;
pub mod policy;
pub mod role;
pub mod values;

pub use error::{DomainError, ErrorCode, FieldViolation, ServiceError};
