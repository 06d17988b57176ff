//! Authentication for every gRPC call: who is calling, proven by a bearer
//! token (a JWT), and nothing more.
//!
//! - [`TokenVerifier`] checks a token's signature, expiry, issuer, audience,
//!   subject and role, and names the caller as a domain [`Actor`].
//! - [`AuthLayer`] wraps a whole tonic server, refuses calls without a good
//!   token with `UNAUTHENTICATED` (health and reflection stay open), and puts
//!   the [`Actor`] in the request's extensions; handlers read it with
//!   [`actor`].
//! - [`BearerToken`] is the client-side interceptor that sends a token.
//! - [`TokenIssuer`] mints HS256 tokens for `complaints token`, the embedded
//!   suite and tests; [`AuthConfig::development`] is their well-known key,
//!   which [`AuthConfig::is_development`] lets production refuse.
//!
//! What it must not do: decide what a role may do. That is the domain's
//! permission table; this crate only establishes who the caller is. It also
//! never logs, returns or prints key material, and never reads the platform's
//! (possibly test-driven) clock for token expiry.
//!
//! [`Actor`]: complaints_domain::role::Actor

mod claims;
mod client;
mod config;
mod error;
mod issue;
mod layer;
mod verify;

pub use claims::Claims;
pub use client::{BearerToken, InvalidBearerToken};
pub use config::{
    AuthConfig, DEVELOPMENT_AUDIENCE, DEVELOPMENT_ISSUER, DEVELOPMENT_SECRET, KeyAlgorithm,
    MIN_SECRET_BYTES, PublicKey, Secret,
};
pub use error::{AuthError, ConfigError, IssueError};
pub use issue::TokenIssuer;
pub use layer::{AuthLayer, AuthService, ResponseFuture, actor};
pub use verify::{LEEWAY_SECONDS, TokenVerifier};
