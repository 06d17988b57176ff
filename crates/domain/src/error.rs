//! The domain's closed set of errors, and the one vocabulary every crate's
//! errors use to say what kind of failure they are ([`ServiceError`],
//! [`ErrorCode`]). The gRPC edge (`complaints_rpc`) turns an [`ErrorCode`]
//! into a status in one place; nothing in this crate knows about gRPC.

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

/// What kind of failure an error is, as the caller of a service sees it:
/// the small closed set every crate's errors map onto. The edge turns each
/// into exactly one gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The input is wrong; [`ServiceError::field_violations`] says where.
    InvalidArgument,
    /// The thing asked for does not exist.
    NotFound,
    /// A request id was used before for a different request.
    AlreadyExists,
    /// The input is fine but the current state does not allow the step.
    FailedPrecondition,
    /// The caller may not take the step.
    PermissionDenied,
    /// Someone else changed the same thing at the same time; retrying works.
    Aborted,
    /// A dependency failed or could not be reached; retrying later works.
    /// The cause is logged, never sent to the caller.
    Unavailable,
    /// The platform itself is wrong (misconfigured, a bug). The cause is
    /// logged, never sent to the caller.
    Internal,
}

impl ErrorCode {
    /// Whether the failure is the platform's, not the caller's: its cause is
    /// logged and the caller gets a plain message instead.
    pub fn is_fault(self) -> bool {
        matches!(self, ErrorCode::Unavailable | ErrorCode::Internal)
    }
}

/// An error that knows what kind of failure it is. Every crate's own error
/// type implements this, so there is one road from any error to what the
/// caller sees.
pub trait ServiceError: std::error::Error + Send + Sync + 'static {
    /// The kind of failure.
    fn error_code(&self) -> ErrorCode;

    /// For [`ErrorCode::InvalidArgument`]: every field that was refused.
    fn field_violations(&self) -> Vec<FieldViolation> {
        Vec::new()
    }

    /// What the caller is told. By default the error's own words for the
    /// caller's mistakes, and a plain "safe to retry" for faults, whose
    /// cause the edge logs instead.
    fn public_message(&self) -> String {
        match self.error_code() {
            ErrorCode::Unavailable => {
                "the service could not complete the call; it is safe to retry".to_owned()
            }
            ErrorCode::Internal => "the service failed; the fault has been logged".to_owned(),
            _ => self.to_string(),
        }
    }
}

impl ServiceError for DomainError {
    fn error_code(&self) -> ErrorCode {
        match self {
            DomainError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            DomainError::FailedPrecondition(_) => ErrorCode::FailedPrecondition,
            DomainError::PermissionDenied(_) => ErrorCode::PermissionDenied,
        }
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            DomainError::InvalidArgument(violations) => violations.clone(),
            _ => Vec::new(),
        }
    }

    fn public_message(&self) -> String {
        match self {
            DomainError::InvalidArgument(violations) => join(violations),
            DomainError::FailedPrecondition(message) | DomainError::PermissionDenied(message) => {
                message.clone()
            }
        }
    }
}

impl ServiceError for FieldViolation {
    fn error_code(&self) -> ErrorCode {
        ErrorCode::InvalidArgument
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        vec![self.clone()]
    }
}
