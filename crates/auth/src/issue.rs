//! Minting HS256 tokens: for `complaints token`, the embedded suite and tests.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use complaints_domain::role::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::claims::Claims;
use crate::config::AuthConfig;
use crate::error::{ConfigError, IssueError};
use crate::verify::{SERVICE_ISSUER, checked_secret};

/// Signs tokens with the configuration's HS256 secret, for its issuer and
/// audience, so that a [`crate::TokenVerifier`] built from the same
/// configuration accepts them.
///
/// People's production tokens come from the identity provider, and each
/// service signs its own ([`ServiceSigner`]); this exists for the
/// development secret, `complaints token` and tests.
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

/// How long a service's token lives. [`crate::BearerToken::signed`] signs a
/// new one when half of it has passed.
pub const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

/// What a service signs its own tokens with, for the calls it makes to the
/// other services.
///
/// With the service's own key ([`ServiceSigner::own_key`], production): an
/// ES256 token, `iss` [`SERVICE_ISSUER`], `kid` and `sub` the service's
/// name, role `service`, for [`SERVICE_TOKEN_TTL`]. The receivers hold the
/// public half ([`crate::ServiceKey`]) and let each service make only its
/// own calls.
///
/// With the shared HS256 secret ([`ServiceSigner::shared_secret`]): the
/// development suite and test deployments, which have no service keys.
pub struct ServiceSigner {
    subject: String,
    issuer: String,
    audience: String,
    header: Header,
    key: EncodingKey,
    ttl: Duration,
}

impl ServiceSigner {
    /// Signs as `subject` with its own P-256 key (PKCS#8 PEM, `BEGIN
    /// PRIVATE KEY`), for `config`'s audience. Signs once here, so a key
    /// that cannot sign is a start-up error.
    pub fn own_key(config: &AuthConfig, subject: &str) -> Result<Self, ConfigError> {
        let pem = config.service_signing_key.as_ref().ok_or_else(|| {
            ConfigError::InvalidSigningKey("no service signing key is configured".to_owned())
        })?;
        let key = EncodingKey::from_ec_pem(pem.expose().as_bytes()).map_err(|error| {
            ConfigError::InvalidSigningKey(format!("not a P-256 private key in PEM: {error}"))
        })?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(subject.to_owned());
        Self::checked(Self {
            subject: subject.to_owned(),
            issuer: SERVICE_ISSUER.to_owned(),
            audience: config.audience.clone(),
            header,
            key,
            ttl: SERVICE_TOKEN_TTL,
        })
    }

    /// Signs as `subject` with the shared HS256 secret and `config`'s
    /// issuer: accepted only by receivers without service keys.
    pub fn shared_secret(config: &AuthConfig, subject: &str) -> Result<Self, ConfigError> {
        let secret = config
            .hs256_secret
            .as_ref()
            .ok_or(ConfigError::NoSigningSecret)?;
        Self::checked(Self {
            subject: subject.to_owned(),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            header: Header::new(Algorithm::HS256),
            key: EncodingKey::from_secret(checked_secret(secret.expose())?),
            ttl: SERVICE_TOKEN_TTL,
        })
    }

    /// The configured kind: the service's own key when there is one, else
    /// the shared secret.
    pub fn from_config(config: &AuthConfig, subject: &str) -> Result<Self, ConfigError> {
        if config.service_signing_key.is_some() {
            Self::own_key(config, subject)
        } else {
            Self::shared_secret(config, subject)
        }
    }

    fn checked(signer: Self) -> Result<Self, ConfigError> {
        if signer.subject.trim().is_empty() {
            return Err(ConfigError::Empty("service name"));
        }
        signer
            .sign()
            .map_err(|error| ConfigError::InvalidSigningKey(error.to_string()))?;
        Ok(signer)
    }

    /// How long each token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A fresh token, valid from now for [`ttl`](Self::ttl).
    pub fn sign(&self) -> Result<String, IssueError> {
        let now = Utc::now();
        let expires_at = TimeDelta::from_std(self.ttl)
            .ok()
            .and_then(|ttl| now.checked_add_signed(ttl))
            .ok_or(IssueError::TtlOutOfRange)?;
        let claims = Claims {
            sub: self.subject.clone(),
            role: Role::Service.as_str().to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            name: None,
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key)
            .map_err(|error| IssueError::Signing(error.to_string()))
    }
}

impl fmt::Debug for ServiceSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceSigner")
            .field("subject", &self.subject)
            .field("algorithm", &self.header.alg)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}
