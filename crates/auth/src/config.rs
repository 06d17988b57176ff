//! What a process needs to know to accept (and, in development, mint) tokens.

use std::fmt;

use serde::Deserialize;

/// The HS256 signing secret of the embedded suite and of `complaints token`.
///
/// It is public, in this source file, on purpose: it lets a developer run the
/// whole platform on one machine and print tokens that it accepts. It must
/// never protect real data. Production configuration sets its own secret or,
/// better, only the identity provider's public keys; a production binary calls
/// [`AuthConfig::is_development`] at start-up and refuses to run with this key.
pub const DEVELOPMENT_SECRET: &str =
    "complaints-DEVELOPMENT-ONLY-signing-key--embedded-suite--never-in-production";

/// The `iss` claim of development tokens.
pub const DEVELOPMENT_ISSUER: &str = "complaints-dev";

/// The `aud` claim of development tokens.
pub const DEVELOPMENT_AUDIENCE: &str = "complaints";

/// The shortest HS256 secret accepted: the size of the SHA-256 output, as
/// RFC 7518 section 3.2 requires.
pub const MIN_SECRET_BYTES: usize = 32;

/// A value that must not be printed: its `Debug` shows only that it exists.
///
/// It has no `Display` and no `Serialize`, so it cannot reach a log line or a
/// written configuration file by accident; [`Secret::expose`] is the one way
/// to read it, and is easy to search for.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for handing to the signing library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// The asymmetric algorithms accepted from an identity provider.
///
/// Deliberately few: each public key is bound to exactly one algorithm, so a
/// token cannot choose how its own signature is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum KeyAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl KeyAlgorithm {
    /// The name used in a token's `alg` header and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Rs256 => "RS256",
            KeyAlgorithm::Es256 => "ES256",
            KeyAlgorithm::EdDsa => "EdDSA",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An identity provider's public key, in PEM (`-----BEGIN PUBLIC KEY-----`;
/// for RS256 a `BEGIN RSA PUBLIC KEY` block is accepted too).
///
/// Several keys may share an algorithm, so a provider's key can be rotated
/// without a gap: a token is accepted if any key of its algorithm verifies it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct PublicKey {
    pub algorithm: KeyAlgorithm,
    pub pem: String,
}

impl PublicKey {
    pub fn new(algorithm: KeyAlgorithm, pem: impl Into<String>) -> Self {
        Self {
            algorithm,
            pem: pem.into(),
        }
    }
}

impl fmt::Debug for PublicKey {
    /// Public, so not secret, but a PEM block in a log line is only noise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("pem_bytes", &self.pem.len())
            .finish()
    }
}

/// Which tokens a process accepts.
///
/// A token is accepted when its `iss` equals `issuer`, its `aud` is (or
/// contains) `audience`, and its signature verifies with the HS256 secret or
/// with one of the public keys of the algorithm named in its header.
///
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    /// The shared secret for HS256 tokens; needed to issue tokens. `None` in a
    /// deployment that accepts only its identity provider's tokens.
    #[serde(default)]
    pub hs256_secret: Option<Secret>,
    /// The identity provider's verification keys.
    #[serde(default)]
    pub public_keys: Vec<PublicKey>,
}

impl AuthConfig {
    /// A configuration with no keys yet: add them with
    /// [`with_hs256_secret`](Self::with_hs256_secret) or
    /// [`with_public_key`](Self::with_public_key).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            hs256_secret: None,
            public_keys: Vec::new(),
        }
    }

    /// The embedded suite's configuration, signed with [`DEVELOPMENT_SECRET`].
    ///
    /// For the embedded suite, `complaints token` and tests only. Production
    /// configuration must set a real key; see [`Self::is_development`].
    pub fn development() -> Self {
        Self::new(DEVELOPMENT_ISSUER, DEVELOPMENT_AUDIENCE).with_hs256_secret(DEVELOPMENT_SECRET)
    }

    pub fn with_hs256_secret(mut self, secret: impl Into<Secret>) -> Self {
        self.hs256_secret = Some(secret.into());
        self
    }

    pub fn with_public_key(mut self, key: PublicKey) -> Self {
        self.public_keys.push(key);
        self
    }

    /// Whether this configuration accepts tokens signed with the public
    /// [`DEVELOPMENT_SECRET`], so that anyone can mint any role.
    ///
    /// A production binary checks this at start-up and refuses to serve.
    pub fn is_development(&self) -> bool {
        self.hs256_secret
            .as_ref()
            .is_some_and(|secret| secret.expose() == DEVELOPMENT_SECRET)
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("hs256_secret", &self.hs256_secret)
            .field("public_keys", &self.public_keys)
            .field("is_development", &self.is_development())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let production = AuthConfig::new("https://idp.example", "complaints")
            .with_hs256_secret("a-real-production-secret-of-enough-length");
        for config in [AuthConfig::development(), production] {
            let secret = config
                .hs256_secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default();
            let printed = format!("{config:?} {config:#?}");
            assert!(!printed.contains(&secret), "{printed}");
            assert!(printed.contains("<redacted>"), "{printed}");
        }
    }

    #[test]
    fn only_the_development_secret_counts_as_development() {
        assert!(AuthConfig::development().is_development());
        let production = AuthConfig::new(DEVELOPMENT_ISSUER, DEVELOPMENT_AUDIENCE)
            .with_hs256_secret("a-real-production-secret-of-enough-length");
        assert!(!production.is_development());
        assert!(!AuthConfig::new("iss", "aud").is_development());
    }

    #[test]
    fn a_configuration_file_names_algorithms_as_tokens_do() {
        let config: AuthConfig = toml::from_str(
            r#"
            issuer = "https://idp.example"
            audience = "complaints"
            [[public_keys]]
            algorithm = "EdDSA"
            pem = "-----BEGIN PUBLIC KEY-----"
            [[public_keys]]
            algorithm = "RS256"
            pem = "-----BEGIN PUBLIC KEY-----"
            "#,
        )
        .unwrap();
        assert_eq!(config.hs256_secret, None);
        let algorithms: Vec<_> = config.public_keys.iter().map(|k| k.algorithm).collect();
        assert_eq!(algorithms, [KeyAlgorithm::EdDsa, KeyAlgorithm::Rs256]);
        assert!(!config.is_development());
    }

    #[test]
    fn the_development_secret_is_long_enough_for_hs256() {
        assert!(DEVELOPMENT_SECRET.len() >= MIN_SECRET_BYTES);
    }
}
