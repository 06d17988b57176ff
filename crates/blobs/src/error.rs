//! Why a blob store call did not happen, and what kind of failure that is.

use complaints_domain::{ErrorCode, FieldViolation, ServiceError};

/// Why a blob store call did not happen. Whenever an upload returns one of
/// these, nothing of it is stored.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The upload grew past the limit; nothing was stored.
    #[error("the evidence is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in force, in bytes.
        limit: u64,
    },
    /// The evidence's media type is not one the limits allow.
    #[error("evidence of media type {media_type:?} is not accepted")]
    RefusedMediaType {
        /// The media type as the caller gave it.
        media_type: String,
    },
    /// The stream of bytes ended with an error before its end (the caller
    /// went away, the connection broke); nothing was stored.
    #[error("the upload was cut off before its end: {source}")]
    Incomplete {
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// No blob is stored at this address.
    #[error("no evidence is stored under this sha256")]
    NotFound,
    /// The address is not a lowercase hex SHA-256.
    #[error("a sha256 is 64 lowercase hexadecimal digits")]
    InvalidAddress,
    /// The store's URL cannot be used (the platform is misconfigured). The
    /// reason never quotes the URL, which may hold credentials.
    #[error("the blob store URL cannot be used: {reason}")]
    InvalidUrl { reason: String },
    /// The store failed or could not be reached.
    #[error("blob store error: {0}")]
    Store(#[from] object_store::Error),
}

impl ServiceError for BlobError {
    fn error_code(&self) -> ErrorCode {
        match self {
            BlobError::TooLarge { .. }
            | BlobError::RefusedMediaType { .. }
            | BlobError::InvalidAddress => ErrorCode::InvalidArgument,
            BlobError::Incomplete { .. } => ErrorCode::Aborted,
            BlobError::NotFound => ErrorCode::NotFound,
            BlobError::InvalidUrl { .. } => ErrorCode::Internal,
            BlobError::Store(_) => ErrorCode::Unavailable,
        }
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            BlobError::TooLarge { limit } => vec![FieldViolation::new(
                "chunk",
                format!("the evidence must be at most {limit} bytes"),
            )],
            BlobError::RefusedMediaType { media_type } => vec![FieldViolation::new(
                "metadata.media_type",
                format!("{media_type:?} is not an accepted media type"),
            )],
            BlobError::InvalidAddress => vec![FieldViolation::new(
                "sha256",
                "must be 64 lowercase hexadecimal digits",
            )],
            _ => Vec::new(),
        }
    }

    fn public_message(&self) -> String {
        match self {
            BlobError::Incomplete { .. } => {
                "the upload was cut off before its end; nothing was stored".to_owned()
            }
            BlobError::InvalidUrl { .. } => {
                "the service failed; the fault has been logged".to_owned()
            }
            BlobError::Store(_) => {
                "the evidence store could not complete the call; it is safe to retry".to_owned()
            }
            _ => self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_upload_is_the_callers_mistake_on_a_named_field() {
        let too_large = BlobError::TooLarge { limit: 10 };
        assert_eq!(too_large.error_code(), ErrorCode::InvalidArgument);
        assert_eq!(too_large.field_violations()[0].field, "chunk");

        let refused = BlobError::RefusedMediaType {
            media_type: "application/x-msdownload".to_owned(),
        };
        assert_eq!(refused.error_code(), ErrorCode::InvalidArgument);
        assert_eq!(refused.field_violations()[0].field, "metadata.media_type");
        assert!(
            refused
                .public_message()
                .contains("application/x-msdownload")
        );
    }

    #[test]
    fn a_cut_off_upload_is_aborted_and_a_store_failure_is_a_fault() {
        let cut_off = BlobError::Incomplete {
            source: "connection reset".into(),
        };
        assert_eq!(cut_off.error_code(), ErrorCode::Aborted);
        assert_eq!(BlobError::NotFound.error_code(), ErrorCode::NotFound);
        let store = BlobError::Store(object_store::Error::Generic {
            store: "S3",
            source: "connection refused".into(),
        });
        assert!(store.error_code().is_fault());
        assert!(!store.public_message().contains("connection refused"));
    }
}
