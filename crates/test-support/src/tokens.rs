//! Bearer tokens for a test deployment, signed the way its identity
//! provider would sign them.

use std::time::Duration;

use complaints_auth::{AuthConfig, BearerToken, TokenIssuer};
use complaints_domain::role::Role;

/// How long a token from [`bearer`] is valid: longer than any test.
pub const TTL: Duration = Duration::from_secs(600);

/// A token naming `subject` as `role`, signed with `config`'s key, valid
/// for `ttl`.
pub fn mint(config: &AuthConfig, subject: &str, role: Role, ttl: Duration) -> String {
    TokenIssuer::new(config)
        .expect("a token issuer for the test key")
        .issue(subject, role, ttl)
        .expect("a signed test token")
}

/// [`mint`] for [`TTL`], to put on a client's calls.
pub fn bearer(config: &AuthConfig, subject: &str, role: Role) -> BearerToken {
    BearerToken::new(mint(config, subject, role, TTL)).expect("a token is a valid header value")
}
