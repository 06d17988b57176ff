//! Why a call was refused, and why a verifier or issuer could not be built.

/// Why a call's credentials were refused.
///
/// Every variant becomes `UNAUTHENTICATED` with its message as the
/// `grpc-message` (specific enough for a caller to fix their token, never
/// containing key material), except [`AuthError::CallNotAllowed`], which is
/// `PERMISSION_DENIED`, and [`AuthError::KeysUnavailable`], `UNAVAILABLE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    MissingToken,
    #[error("malformed authorization header: expected \"Bearer <token>\"")]
    MalformedHeader,
    #[error("authorization scheme is not Bearer")]
    NotBearer,
    #[error("token is malformed: {0}")]
    MalformedToken(String),
    #[error("token algorithm is not accepted: {0}")]
    UnsupportedAlgorithm(String),
    #[error("token signature is invalid")]
    InvalidSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token issuer is not accepted")]
    WrongIssuer,
    #[error("token audience is not accepted")]
    WrongAudience,
    #[error("token has no {0} claim")]
    MissingClaim(String),
    #[error("token subject is empty")]
    EmptySubject,
    #[error("token role {0:?} is not a known role")]
    UnknownRole(String),
    #[error("token signing key {0:?} is not known")]
    UnknownKey(String),
    /// The identity provider's keys could not be fetched, so a token signed
    /// with a key not yet seen cannot be checked: worth retrying.
    #[error("the identity provider's signing keys cannot be fetched just now")]
    KeysUnavailable,
    #[error("token names no role of this platform in its {0:?} claim")]
    NoRole(String),
    #[error("token names more than one platform role ({0}); the platform acts as one")]
    SeveralRoles(String),
    /// `service` from anything but a service's own key.
    #[error("the role service is accepted only from a service's own signing key")]
    ServiceRoleRefused,
    /// A service token that breaks the rules for service tokens.
    #[error("service token refused: {0}")]
    BadServiceToken(String),
    /// A service's credential used for a call that service never makes.
    #[error("service {service:?} may not call {path}")]
    CallNotAllowed { service: String, path: String },
    /// The server was wired without [`crate::AuthLayer`]; see [`crate::actor`].
    #[error("request was not authenticated")]
    NotAuthenticated,
}

impl From<AuthError> for tonic::Status {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::CallNotAllowed { .. } => tonic::Status::permission_denied(error.to_string()),
            AuthError::KeysUnavailable => tonic::Status::unavailable(error.to_string()),
            _ => tonic::Status::unauthenticated(error.to_string()),
        }
    }
}

/// A verifier or issuer could not be built from its configuration: a start-up
/// error, never a per-call one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the HS256 secret is {len} bytes; at least {min} are required")]
    WeakSecret { len: usize, min: usize },
    #[error("no verification key is configured: set an HS256 secret or a public key")]
    NoKeys,
    #[error("the {algorithm} public key cannot be read: {reason}")]
    InvalidPublicKey {
        algorithm: crate::KeyAlgorithm,
        reason: String,
    },
    #[error("no HS256 secret is configured, so this process cannot issue tokens")]
    NoSigningSecret,
    #[error("the {0} must not be empty")]
    Empty(&'static str),
    #[error("the role mapping is unusable: {0}")]
    RoleMapping(String),
    #[error("the identity provider's key URL {url:?} is unusable: {reason}")]
    ProviderUrl { url: String, reason: String },
    #[error("the public key of service {name:?} is unusable: {reason}")]
    InvalidServiceKey { name: String, reason: String },
    #[error("this service's signing key is unusable: {0}")]
    InvalidSigningKey(String),
}

/// A token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error("the subject must not be empty")]
    EmptySubject,
    #[error("the token lifetime must be positive and end before the year 262143")]
    TtlOutOfRange,
    #[error("signing failed: {0}")]
    Signing(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_outside_its_calls_is_denied_and_missing_keys_are_unavailable() {
        let status = tonic::Status::from(AuthError::CallNotAllowed {
            service: "intake".into(),
            path: "/complaints.case.v1.CaseService/CloseCase".into(),
        });
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            tonic::Status::from(AuthError::KeysUnavailable).code(),
            tonic::Code::Unavailable
        );
    }

    #[test]
    fn every_refusal_is_unauthenticated_with_its_reason() {
        let status = tonic::Status::from(AuthError::Expired);
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert_eq!(status.message(), "token expired");
    }
}
