//! The one road from an error to a `tonic::Status`.
//!
//! Every crate's error type implements [`ServiceError`] (the domain's,
//! storage's, the deadline queue's, each service's own), saying which
//! [`ErrorCode`] it is. [`status`] turns any of them into the caller's
//! status: the code, the message the error gives callers, and for bad input
//! a `google.rpc.BadRequest` with every field violation. Faults
//! (`UNAVAILABLE`, `INTERNAL`) are logged here with their cause chain and
//! reach the caller as a plain message.
//!
//! A peer's answer (a status from another service) goes through
//! [`PeerFailure`], which says what it means for this service's caller.

use complaints_domain::{DomainError, ErrorCode, FieldViolation, ServiceError};
use complaints_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// An error in an application function, before it reaches the caller:
/// any [`ServiceError`], or a status made at the edge.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Service(Box<dyn ServiceError>),
    #[error("{}: {}", .0.code(), .0.message())]
    Status(Status),
}

impl AppError {
    /// Wraps any error that knows its kind.
    pub fn service(error: impl ServiceError) -> Self {
        AppError::Service(Box::new(error))
    }
}

macro_rules! app_error_from {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for AppError {
            fn from(e: $error) -> Self {
                AppError::service(e)
            }
        })*
    };
}

app_error_from!(DomainError, StoreError, FieldViolation, PeerFailure);

impl From<Vec<FieldViolation>> for AppError {
    fn from(v: Vec<FieldViolation>) -> Self {
        AppError::service(DomainError::from(v))
    }
}

impl From<Status> for AppError {
    fn from(s: Status) -> Self {
        AppError::Status(s)
    }
}

impl From<AppError> for Status {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Service(e) => status(e.as_ref()),
            AppError::Status(s) => s,
        }
    }
}

/// The caller's status for `error`: see the module doc.
pub fn status<E: ServiceError + ?Sized>(error: &E) -> Status {
    let code = error.error_code();
    if code.is_fault() {
        tracing::error!(error = %Chain(error), code = ?code, "call failed");
    }
    let message = error.public_message();
    match code {
        ErrorCode::InvalidArgument => {
            let violations = error.field_violations();
            let details = ErrorDetails::with_bad_request(
                violations
                    .into_iter()
                    .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                    .collect::<Vec<_>>(),
            );
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        other => Status::new(grpc_code(other), message),
    }
}

/// [`status`], taking the error by value: `.map_err(into_status)`.
pub fn into_status<E: ServiceError>(error: E) -> Status {
    status(&error)
}

/// Each kind of failure as exactly one gRPC code.
pub fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidArgument => Code::InvalidArgument,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::AlreadyExists => Code::AlreadyExists,
        ErrorCode::FailedPrecondition => Code::FailedPrecondition,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::Aborted => Code::Aborted,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::Internal => Code::Internal,
    }
}

/// `INVALID_ARGUMENT` for one field, with its `google.rpc.BadRequest` detail.
pub fn invalid_field(field: &str, description: &str) -> Status {
    status(&FieldViolation::new(field, description))
}

/// An error and its sources, on one line, for the log.
struct Chain<'a, E: ?Sized>(&'a E);

impl<E: std::error::Error + ?Sized> std::fmt::Display for Chain<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Another service's refusal or failure, as this service's caller should see
/// it. The caller's own mistakes (bad input, a clash, a state that does not
/// allow the step, something not found) pass through with their field
/// details. A refusal of this service's own credentials is a deployment
/// fault (`INTERNAL`). Anything else means the peer could not do the work
/// now (`UNAVAILABLE`): the caller retries, with the same request id.
#[derive(Debug, thiserror::Error)]
#[error("{peer} answered {}: {}", .status.code(), .status.message())]
pub struct PeerFailure {
    peer: &'static str,
    status: Status,
}

impl PeerFailure {
    /// `status`, as the `peer` service (e.g. "case") answered it.
    pub fn new(peer: &'static str, status: Status) -> Self {
        Self { peer, status }
    }
}

impl ServiceError for PeerFailure {
    fn error_code(&self) -> ErrorCode {
        match self.status.code() {
            Code::InvalidArgument => ErrorCode::InvalidArgument,
            Code::AlreadyExists => ErrorCode::AlreadyExists,
            Code::FailedPrecondition => ErrorCode::FailedPrecondition,
            Code::NotFound => ErrorCode::NotFound,
            Code::Unauthenticated | Code::PermissionDenied => ErrorCode::Internal,
            _ => ErrorCode::Unavailable,
        }
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        self.status
            .get_error_details()
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| FieldViolation::new(v.field.clone(), v.description.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn public_message(&self) -> String {
        match self.error_code() {
            ErrorCode::Internal => format!(
                "this service is not allowed to call the {} service; the platform is misconfigured",
                self.peer
            ),
            ErrorCode::Unavailable => format!(
                "the {} service could not be reached; retry with the same request_id",
                self.peer
            ),
            _ => self.status.message().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_arguments_carry_every_field_violation() {
        let status = status(&DomainError::InvalidArgument(vec![
            FieldViolation::new("summary", "must not be empty"),
            FieldViolation::new("complainant.email", "must contain @"),
        ]));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad_request = details.bad_request().unwrap();
        assert_eq!(bad_request.field_violations.len(), 2);
        assert_eq!(bad_request.field_violations[1].field, "complainant.email");
    }

    #[test]
    fn storage_faults_are_not_reported_as_the_callers_mistake() {
        let status = status(&StoreError::Corrupt("bad json".to_owned()));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.message().contains("json"));
        assert_eq!(
            super::status(&StoreError::NotFound("case x".to_owned())).code(),
            Code::NotFound
        );
        assert_eq!(
            super::status(&StoreError::IdempotencyClash("r".to_owned())).code(),
            Code::AlreadyExists
        );
    }

    #[test]
    fn a_peers_bad_request_passes_through_with_its_fields() {
        let from_peer = status(&FieldViolation::new("complainant.email", "must contain @"));
        let relayed = status(&PeerFailure::new("case", from_peer));
        assert_eq!(relayed.code(), Code::InvalidArgument);
        let details = relayed.get_error_details();
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            "complainant.email"
        );
    }

    #[test]
    fn a_peer_refusing_our_credentials_is_our_fault_and_an_outage_is_retryable() {
        let refused = status(&PeerFailure::new("case", Status::permission_denied("no")));
        assert_eq!(refused.code(), Code::Internal);
        let down = status(&PeerFailure::new("case", Status::unavailable("connect")));
        assert_eq!(down.code(), Code::Unavailable);
        assert!(down.message().contains("same request_id"));
    }
}
