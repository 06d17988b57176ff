//! Minting HS256 tokens: for `complaints token`, the embedded suite and tests.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use complaints_domain::role::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::claims::Claims;
use crate::config::AuthConfig;
use crate::error::{ConfigError, IssueError};
use crate::verify::checked_secret;

/// Signs tokens with the configuration's HS256 secret, for its issuer and
/// audience, so that a [`crate::TokenVerifier`] built from the same
/// configuration accepts them.
///
/// Production tokens come from the identity provider; this exists for the
/// development secret and for service-to-service tokens where a shared
/// secret is configured.
pub struct TokenIssuer {
    issuer: String,
    audience: String,
    key: EncodingKey,
}

impl TokenIssuer {
    /// Fails if the configuration has no HS256 secret, or a short one.
    pub fn new(config: &AuthConfig) -> Result<Self, ConfigError> {
        let secret = config
            .hs256_secret
            .as_ref()
            .ok_or(ConfigError::NoSigningSecret)?;
        let secret = checked_secret(secret.expose())?;
        Ok(Self {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            key: EncodingKey::from_secret(secret),
        })
    }

    /// A token for `subject` acting as `role`, valid from now for `ttl`.
    pub fn issue(&self, subject: &str, role: Role, ttl: Duration) -> Result<String, IssueError> {
        let claims = self.claims(subject, role, Utc::now(), ttl)?;
        self.sign(&claims)
    }

    /// The claims [`issue`](Self::issue) would sign at `issued_at`; change
    /// them (a display `name`, say) and pass them to [`sign`](Self::sign).
    pub fn claims(
        &self,
        subject: &str,
        role: Role,
        issued_at: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Claims, IssueError> {
        if subject.trim().is_empty() {
            return Err(IssueError::EmptySubject);
        }
        let expires_at = TimeDelta::from_std(ttl)
            .ok()
            .filter(|ttl| *ttl > TimeDelta::zero())
            .and_then(|ttl| issued_at.checked_add_signed(ttl))
            .ok_or(IssueError::TtlOutOfRange)?;
        Ok(Claims {
            sub: subject.to_owned(),
            role: role.as_str().to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: expires_at.timestamp(),
            iat: issued_at.timestamp(),
            name: None,
        })
    }

    /// Signs `claims` exactly as given, unchecked: tests use it to make the
    /// tokens that verification must refuse.
    pub fn sign(&self, claims: &Claims) -> Result<String, IssueError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.key)
            .map_err(|error| IssueError::Signing(error.to_string()))
    }
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}
