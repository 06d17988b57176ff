//! The JWT payload this platform reads and writes.

use serde::{Deserialize, Serialize};

/// The claims of a bearer token.
///
/// `role` is a string, not a [`complaints_domain::role::Role`], because it is
/// what the token says, not yet what was accepted: verification turns it into
/// a `Role` or refuses the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The principal: a person's staff id or an integration's name.
    pub sub: String,
    /// One of the role names of [`complaints_domain::role::Role::as_str`].
    pub role: String,
    pub iss: String,
    pub aud: String,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: i64,
    /// Issue time, in seconds since the Unix epoch.
    pub iat: i64,
    /// A display name, for people reading the timeline; never used to decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
