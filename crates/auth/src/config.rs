//! What a process needs to know to accept (and, in development, mint) tokens.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// The HS256 signing secret of the embedded suite and of `complaints token`.
///
/// It is public, in this source file, on purpose: it lets a developer run the
/// whole platform on one machine and print tokens that it accepts. It must
/// never protect real data. Production configuration names the identity
/// provider's keys (its JWKS) and each service's own key instead; a
/// production binary calls [`AuthConfig::is_development`] at start-up and
/// refuses to run with this key.
pub const DEVELOPMENT_SECRET: &str =
    "complaints-DEVELOPMENT-ONLY-signing-key--embedded-suite--never-in-production";

/// The `iss` claim of development tokens.
pub const DEVELOPMENT_ISSUER: &str = "complaints-dev";

/// The `aud` claim of development tokens.
pub const DEVELOPMENT_AUDIENCE: &str = "complaints";

/// The shortest HS256 secret accepted: the size of the SHA-256 output, as
/// RFC 7518 section 3.2 requires.
pub const MIN_SECRET_BYTES: usize = 32;

/// Words that mark a value as an example to be replaced, as in the
/// deployment's example Secrets (`CHANGE-ME-...`): a secret containing one
/// (in any case) is refused at start.
pub const PLACEHOLDER_WORDS: [&str; 4] = ["change-me", "changeme", "placeholder", "example"];

/// Why a configured HS256 secret cannot protect anything; `None` if it can.
///
/// Too short (under [`MIN_SECRET_BYTES`]), or an example value still in
/// place. The development secret is judged elsewhere
/// ([`AuthConfig::is_development`]): it is fine on a laptop.
pub fn weak_secret_reason(secret: &str) -> Option<String> {
    let lower = secret.to_ascii_lowercase();
    if let Some(word) = PLACEHOLDER_WORDS.iter().find(|word| lower.contains(*word)) {
        return Some(format!(
            "looks like an example value (it contains {word:?}); set a random secret of at least {MIN_SECRET_BYTES} bytes"
        ));
    }
    if secret.len() < MIN_SECRET_BYTES {
        return Some(format!(
            "is {} bytes; at least {MIN_SECRET_BYTES} are required",
            secret.len()
        ));
    }
    None
}

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

/// Where an identity provider publishes its signing keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// OpenID Connect discovery: `<issuer>/.well-known/openid-configuration`
    /// names the `jwks_uri` (and must name the same issuer).
    Discovery,
    /// A JWKS document at this URL.
    JwksUrl(String),
}

/// How often an identity provider's keys are fetched again: every
/// `refresh_seconds` in the background, and at once for a token signed
/// with a key (`kid`) not seen yet, but not more often than every
/// `min_refetch_seconds`, so that tokens naming made-up keys cannot make
/// this process hammer the provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderConfig {
    pub keys: KeySource,
    #[serde(default = "ProviderConfig::default_refresh_seconds")]
    pub refresh_seconds: u64,
    #[serde(default = "ProviderConfig::default_min_refetch_seconds")]
    pub min_refetch_seconds: u64,
}

impl ProviderConfig {
    pub const DEFAULT_REFRESH_SECONDS: u64 = 15 * 60;
    pub const DEFAULT_MIN_REFETCH_SECONDS: u64 = 30;

    pub fn new(keys: KeySource) -> Self {
        Self {
            keys,
            refresh_seconds: Self::DEFAULT_REFRESH_SECONDS,
            min_refetch_seconds: Self::DEFAULT_MIN_REFETCH_SECONDS,
        }
    }

    fn default_refresh_seconds() -> u64 {
        Self::DEFAULT_REFRESH_SECONDS
    }

    fn default_min_refetch_seconds() -> u64 {
        Self::DEFAULT_MIN_REFETCH_SECONDS
    }
}

/// Where a person's role is in an identity provider's token, and which of
/// the provider's names means which platform role.
///
/// `claim` is a claim name (`roles`, `groups`, `https://example.org/roles`)
/// or a dotted path into nested objects (`realm_access.roles`); its value is
/// a string or a list of strings. With an empty `map` the values must be
/// the platform's role names themselves. Either way `service` never comes
/// from a person's token: services prove themselves with their own keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoleClaim {
    #[serde(default = "RoleClaim::default_claim")]
    pub claim: String,
    /// Provider name (a group, an app role) to platform role name.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

impl RoleClaim {
    fn default_claim() -> String {
        "role".to_owned()
    }
}

impl Default for RoleClaim {
    fn default() -> Self {
        Self {
            claim: Self::default_claim(),
            map: BTreeMap::new(),
        }
    }
}

/// A service's public key (PEM, P-256), with which it signs the short-lived
/// tokens it presents to the other services; `name` is its subject and the
/// tokens' `kid`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceKey {
    pub name: String,
    pub pem: String,
}

impl ServiceKey {
    pub fn new(name: impl Into<String>, pem: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            pem: pem.into(),
        }
    }
}

impl fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceKey")
            .field("name", &self.name)
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
    /// The identity provider's published keys (JWKS), fetched and refreshed.
    #[serde(default)]
    pub provider: Option<ProviderConfig>,
    /// Where a person's role is in a provider's token (JWKS or public key).
    #[serde(default)]
    pub role_claim: RoleClaim,
    /// The services' public keys. When there are any, the role `service`
    /// is accepted only from a token signed with one of them, and each
    /// service may make only the calls it needs (see `service_calls`).
    #[serde(default)]
    pub service_keys: Vec<ServiceKey>,
    /// This process's own service signing key (PKCS#8 PEM, P-256), for the
    /// tokens it presents to the other services.
    #[serde(default)]
    pub service_signing_key: Option<Secret>,
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
            provider: None,
            role_claim: RoleClaim::default(),
            service_keys: Vec::new(),
            service_signing_key: None,
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

    /// Accept people's tokens signed with the keys the provider publishes.
    pub fn with_provider(mut self, provider: ProviderConfig) -> Self {
        self.provider = Some(provider);
        self
    }

    pub fn with_role_claim(mut self, role_claim: RoleClaim) -> Self {
        self.role_claim = role_claim;
        self
    }

    /// Accept `service` tokens signed by this service's key.
    pub fn with_service_key(mut self, key: ServiceKey) -> Self {
        self.service_keys.push(key);
        self
    }

    /// Sign this process's own service tokens with `pem`.
    pub fn with_service_signing_key(mut self, pem: impl Into<Secret>) -> Self {
        self.service_signing_key = Some(pem.into());
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
            .field("provider", &self.provider)
            .field("role_claim", &self.role_claim)
            .field("service_keys", &self.service_keys)
            .field("service_signing_key", &self.service_signing_key)
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
        assert_eq!(weak_secret_reason(DEVELOPMENT_SECRET), None);
    }

    #[test]
    fn example_and_short_secrets_are_weak() {
        // The value the deployment's example Secrets carry.
        let example = "CHANGE-ME-to-at-least-32-random-bytes-0000000000";
        assert!(weak_secret_reason(example).is_some_and(|r| r.contains("change-me")));
        for placeholder in [
            "this-is-a-placeholder-secret-of-many-bytes",
            "an-Example-secret-that-is-long-enough-to-pass",
            "changeme-changeme-changeme-changeme",
        ] {
            assert!(weak_secret_reason(placeholder).is_some(), "{placeholder}");
        }
        let short = weak_secret_reason("only-31-bytes-long-xxxxxxxxxxxx").unwrap();
        assert!(short.contains("31 bytes"), "{short}");
        assert_eq!(weak_secret_reason("k3Jd9s0PqLx7Vb2Nw8Rt5Yz1Hc4Mg6Fa"), None);
    }
}
