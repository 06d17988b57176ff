//! The domain's closed set of errors. Each maps to exactly one gRPC status
//! code at the edge (`INVALID_ARGUMENT`, `FAILED_PRECONDITION`,
//! `PERMISSION_DENIED`); nothing here is an internal fault.

use std::fmt;

/// One field that failed validation: which field, and why, in words a caller
/// can act on. Mirrors `google.rpc.BadRequest.FieldViolation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path as the caller sent it, e.g. `complainant.email`.
    pub field: String,
    /// Why it was refused, e.g. "must not be empty".
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }

    /// The same violation with its field path prefixed, for values nested in
    /// a message (`email` inside `complainant` becomes `complainant.email`).
    pub fn nested_in(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

impl std::error::Error for FieldViolation {}

/// Why the domain refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The input itself is wrong; every bad field is listed.
    #[error("invalid argument: {}", join(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The input is well formed but the case's current state does not allow
    /// the step (a review before any stage response, anything on a closed
    /// case, ...).
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// The actor's role, or their part in the case, does not allow the step.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
}

impl From<FieldViolation> for DomainError {
    fn from(violation: FieldViolation) -> Self {
        DomainError::InvalidArgument(vec![violation])
    }
}

impl From<Vec<FieldViolation>> for DomainError {
    fn from(violations: Vec<FieldViolation>) -> Self {
        DomainError::InvalidArgument(violations)
    }
}

fn join(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
