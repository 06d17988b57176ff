//! Authentication for every gRPC call: who is calling, proven by a bearer
//! token (a JWT), and nothing more.
//!
//! - [`TokenVerifier`] checks a token's signature, expiry, issuer, audience,
//!   subject and role, and names the caller as a domain [`Actor`]. People's
//!   tokens come from the identity provider: checked with the keys it
//!   publishes (a JWKS, found by OpenID discovery or its URL, cached by
//!   `kid` and fetched again on rotation), their role read from a
//!   configured claim through a configured mapping, never `service`.
//!   Services sign their own short-lived tokens with their own keys
//!   ([`ServiceSigner`]), checked with the configured [`ServiceKey`]s.
//! - [`AuthLayer`] wraps a whole tonic server, refuses calls without a good
//!   token with `UNAUTHENTICATED` (health and reflection stay open), lets a
//!   service's credential make only that service's calls
//!   ([`SERVICE_CALLS`]; others are `PERMISSION_DENIED`), and puts the
//!   [`Actor`] in the request's extensions; handlers read it with [`actor`].
//! - [`BearerToken`] is the client-side interceptor that sends a token, or
//!   signs and renews a service's.
//! - [`TokenIssuer`] mints HS256 tokens for `complaints token`, the embedded
//!   suite and tests; [`AuthConfig::development`] is their well-known key,
//!   which [`AuthConfig::is_development`] lets production refuse, as
//!   [`weak_secret_reason`] refuses short and example secrets.
//!
//! What it must not do: decide what a role may do. That is the domain's
//! permission table; this crate only establishes who the caller is (and
//! which calls a service's own credential is for). It also never logs,
//! returns or prints key material, and never reads the platform's
//! (possibly test-driven) clock for token expiry.
//!
//! [`Actor`]: complaints_domain::role::Actor

mod claims;
mod client;
mod config;
mod error;
mod issue;
mod jwks;
mod layer;
mod service_calls;
mod verify;

pub use claims::Claims;
pub use client::{BearerToken, InvalidBearerToken};
pub use config::{
    AuthConfig, DEVELOPMENT_AUDIENCE, DEVELOPMENT_ISSUER, DEVELOPMENT_SECRET, KeyAlgorithm,
    KeySource, MIN_SECRET_BYTES, PLACEHOLDER_WORDS, ProviderConfig, PublicKey, RoleClaim, Secret,
    ServiceKey, weak_secret_reason,
};
pub use error::{AuthError, ConfigError, IssueError};
pub use issue::{SERVICE_TOKEN_TTL, ServiceSigner, TokenIssuer};
pub use layer::{AuthLayer, AuthService, ResponseFuture, actor};
pub use service_calls::{SERVICE_CALLS, is_known_service, service_may_call};
pub use verify::{LEEWAY_SECONDS, MAX_SERVICE_TOKEN_SECONDS, SERVICE_ISSUER, TokenVerifier};
