use complaints_domain::{ErrorCode, FieldViolation, ServiceError};
use sea_orm::DbErr;

/// Why a queue operation did not happen.
///
/// A database error means the row was not changed. A Redis error after the
/// row was changed leaves the index behind the truth; that heals itself
/// (a stale entry is dropped when claimed, a missing one is restored by the
/// reconciler or the next schedule of the same deadline).
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The caller passed something unusable (a bad page token, a zero limit).
    #[error("invalid {field}: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored value no longer decodes: a bug or tampering, never the caller's fault.
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
}

impl QueueError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        QueueError::InvalidArgument {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        QueueError::Corrupt(what.to_string())
    }
}

impl ServiceError for QueueError {
    fn error_code(&self) -> ErrorCode {
        match self {
            QueueError::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            QueueError::Database(_) | QueueError::Redis(_) | QueueError::Corrupt(_) => {
                ErrorCode::Unavailable
            }
        }
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            QueueError::InvalidArgument { field, message } => {
                vec![FieldViolation::new(*field, message.clone())]
            }
            _ => Vec::new(),
        }
    }

    fn public_message(&self) -> String {
        match self {
            QueueError::InvalidArgument { field, message } => format!("{field}: {message}"),
            _ => "the deadline store could not complete the call; it is safe to retry".to_owned(),
        }
    }
}
