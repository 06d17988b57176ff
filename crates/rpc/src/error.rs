use complaints_domain::{DomainError, FieldViolation};
use complaints_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// An error in an application function, before it reaches the caller.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(DomainError),
    #[error(transparent)]
    Store(StoreError),
    #[error("{}: {}", .0.code(), .0.message())]
    Status(Status),
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        AppError::Domain(e)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Store(e)
    }
}

impl From<Status> for AppError {
    fn from(s: Status) -> Self {
        AppError::Status(s)
    }
}

impl From<FieldViolation> for AppError {
    fn from(v: FieldViolation) -> Self {
        AppError::Domain(DomainError::from(v))
    }
}

impl From<Vec<FieldViolation>> for AppError {
    fn from(v: Vec<FieldViolation>) -> Self {
        AppError::Domain(DomainError::from(v))
    }
}

impl From<AppError> for Status {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Domain(e) => status_from_domain(e),
            AppError::Store(e) => status_from_store(e),
            AppError::Status(s) => s,
        }
    }
}

/// `INVALID_ARGUMENT` for one field, with its `google.rpc.BadRequest` detail.
pub fn invalid_field(field: &str, description: &str) -> Status {
    status_from_domain(DomainError::from(FieldViolation::new(field, description)))
}

/// The caller's mistakes get their own codes; nothing here is `INTERNAL`.
pub fn status_from_domain(error: DomainError) -> Status {
    match error {
        DomainError::InvalidArgument(violations) => {
            let message = violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            let details = ErrorDetails::with_bad_request(
                violations
                    .into_iter()
                    .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                    .collect::<Vec<_>>(),
            );
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        DomainError::FailedPrecondition(message) => Status::failed_precondition(message),
        DomainError::PermissionDenied(message) => Status::permission_denied(message),
    }
}

/// Storage errors: the caller's (not found, clash, conflict) by their codes;
/// faults are logged with their cause and reach the caller as a plain message.
pub fn status_from_store(error: StoreError) -> Status {
    match error {
        StoreError::NotFound(what) => Status::not_found(format!("{what} not found")),
        StoreError::IdempotencyClash(id) => Status::already_exists(format!(
            "request_id {id:?} was already used for a different request"
        )),
        StoreError::Conflict => {
            Status::aborted("the case was changed by someone else at the same time; retry the call")
        }
        StoreError::Domain(e) => status_from_domain(e),
        error @ (StoreError::Database(_) | StoreError::Corrupt(_)) => {
            tracing::error!(error = %error, "storage failure");
            Status::unavailable("the service could not complete the call; it is safe to retry")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_arguments_carry_every_field_violation() {
        let status = status_from_domain(DomainError::InvalidArgument(vec![
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
        let status = status_from_store(StoreError::Corrupt("bad json".to_owned()));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.message().contains("json"));
        assert_eq!(
            status_from_store(StoreError::NotFound("case x".to_owned())).code(),
            Code::NotFound
        );
        assert_eq!(
            status_from_store(StoreError::IdempotencyClash("r".to_owned())).code(),
            Code::AlreadyExists
        );
    }
}
