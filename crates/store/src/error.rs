use complaints_domain::{DomainError, ErrorCode, FieldViolation, ServiceError};
use sea_orm::DbErr;

/// Why a storage operation did not happen. Nothing was written when any of
/// these is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    /// Another writer changed the case first; reload and try again.
    #[error("the case was changed by someone else at the same time; retry the call")]
    Conflict,
    /// The request id was used before for a request with other content.
    #[error("request_id {0:?} was already used for a different request")]
    IdempotencyClash(String),
    /// The domain refused the change.
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    /// A stored value no longer decodes: a bug or tampering, never the caller's fault.
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}

impl ServiceError for StoreError {
    fn error_code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound(_) => ErrorCode::NotFound,
            StoreError::Conflict => ErrorCode::Aborted,
            StoreError::IdempotencyClash(_) => ErrorCode::AlreadyExists,
            StoreError::Domain(e) => e.error_code(),
            StoreError::Database(_) | StoreError::Corrupt(_) => ErrorCode::Unavailable,
        }
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            StoreError::Domain(e) => e.field_violations(),
            _ => Vec::new(),
        }
    }

    fn public_message(&self) -> String {
        match self {
            StoreError::Domain(e) => e.public_message(),
            StoreError::Database(_) | StoreError::Corrupt(_) => {
                "the service could not complete the call; it is safe to retry".to_owned()
            }
            other => other.to_string(),
        }
    }
}
