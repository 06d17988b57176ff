//! Checking a token and naming who sent it.
//!
//! Three kinds of token are told apart by their issuer and algorithm:
//!
//! - a service's token (`iss` = [`SERVICE_ISSUER`]): ES256, signed with that
//!   service's own key, found by `kid` = the service's name among the
//!   configured service keys; it names that service with the role `service`;
//! - a person's token from the identity provider: RS256, ES256 or EdDSA,
//!   checked with the provider's published keys (JWKS, by `kid`) or its
//!   configured public keys; the role comes from the configured claim and
//!   mapping and is never `service`;
//! - an HS256 token signed with the shared secret: the development suite's
//!   and tests' tokens, whose `role` claim is taken as it is (`service` only
//!   while no service keys are configured).

use std::collections::HashMap;
use std::fmt;

use complaints_domain::role::{Actor, Role};
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;

use crate::config::{AuthConfig, KeyAlgorithm, MIN_SECRET_BYTES, RoleClaim};
use crate::error::{AuthError, ConfigError};
use crate::jwks::{Lookup, ProviderKeys};
use crate::service_calls::is_known_service;

/// How far, in seconds, a token's `exp` (and `nbf`) may be past (or ahead)
/// before it is refused: room for clocks that disagree by a little.
pub const LEEWAY_SECONDS: u64 = 30;

/// The `iss` of every service's token.
pub const SERVICE_ISSUER: &str = "complaints-services";

/// The longest a service's token may live (`exp` - `iat`): services sign
/// tokens of minutes and renew them, so a leaked one is soon useless.
pub const MAX_SERVICE_TOKEN_SECONDS: i64 = 60 * 60;

/// Checks bearer tokens against an [`AuthConfig`].
///
/// Expiry is checked against the machine's wall clock, never the platform's
/// [`Clock`](complaints_domain::clock::Clock): a test clock that skips a month
/// ahead to fire deadlines must not expire the tokens of the session watching.
///
/// Cheap to share behind an `Arc`; verification from cached keys takes no
/// lock and does not wait. A token signed with a provider key not cached
/// yet is refused by [`verify`](Self::verify) as [`AuthError::UnknownKey`];
/// [`verify_fetching`](Self::verify_fetching) fetches the keys then.
pub struct TokenVerifier {
    issuer: String,
    audience: String,
    /// The HS256 secret.
    shared: Option<DecodingKey>,
    /// The provider's configured public keys.
    keys: Vec<VerificationKey>,
    provider: Option<ProviderKeys>,
    roles: RoleRule,
    /// Each service's public key, by name.
    services: HashMap<String, DecodingKey>,
}

/// A key together with the one algorithm it may verify, so that a token
/// cannot pick a different use for it (the HS256-with-a-public-key trick).
struct VerificationKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The registered claims a person's token must carry, and `role`.
#[derive(Deserialize)]
struct SharedClaims {
    sub: Option<String>,
    role: Option<String>,
}

#[derive(Deserialize)]
struct ServiceClaims {
    sub: String,
    role: String,
    iat: Option<i64>,
    exp: i64,
}

#[derive(Deserialize)]
struct IssuerOnly {
    #[serde(default)]
    iss: Option<serde_json::Value>,
}

/// The configured claim and mapping, read.
struct RoleRule {
    claim: String,
    /// Empty: the claim holds the platform's role names.
    map: HashMap<String, Role>,
}

impl TokenVerifier {
    /// Reads the configured keys. Fails on an empty issuer or audience, a
    /// secret shorter than [`MIN_SECRET_BYTES`], an unreadable public key,
    /// an unusable key URL or role mapping, or no key at all.
    pub fn new(config: &AuthConfig) -> Result<Self, ConfigError> {
        if config.issuer.trim().is_empty() {
            return Err(ConfigError::Empty("issuer"));
        }
        if config.audience.trim().is_empty() {
            return Err(ConfigError::Empty("audience"));
        }
        let shared = match &config.hs256_secret {
            Some(secret) => Some(DecodingKey::from_secret(checked_secret(secret.expose())?)),
            None => None,
        };
        let mut keys = Vec::with_capacity(config.public_keys.len());
        for public_key in &config.public_keys {
            let pem = public_key.pem.as_bytes();
            let (algorithm, key) = match public_key.algorithm {
                KeyAlgorithm::Rs256 => (Algorithm::RS256, DecodingKey::from_rsa_pem(pem)),
                KeyAlgorithm::Es256 => (Algorithm::ES256, DecodingKey::from_ec_pem(pem)),
                KeyAlgorithm::EdDsa => (Algorithm::EdDSA, DecodingKey::from_ed_pem(pem)),
            };
            let key = key.map_err(|error| ConfigError::InvalidPublicKey {
                algorithm: public_key.algorithm,
                reason: error.to_string(),
            })?;
            keys.push(VerificationKey { algorithm, key });
        }
        let provider = match &config.provider {
            Some(provider) => Some(ProviderKeys::new(&config.issuer, provider)?),
            None => None,
        };
        let mut services = HashMap::new();
        for service in &config.service_keys {
            let refuse = |reason: String| ConfigError::InvalidServiceKey {
                name: service.name.clone(),
                reason,
            };
            if !is_known_service(&service.name) {
                return Err(refuse(
                    "not a service of this platform (intake, case, escalation, notification)"
                        .to_owned(),
                ));
            }
            let key = DecodingKey::from_ec_pem(service.pem.as_bytes())
                .map_err(|error| refuse(format!("not a P-256 public key in PEM: {error}")))?;
            if services.insert(service.name.clone(), key).is_some() {
                return Err(refuse("given twice".to_owned()));
            }
        }
        if shared.is_none() && keys.is_empty() && provider.is_none() && services.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        Ok(Self {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            shared,
            keys,
            provider,
            roles: RoleRule::new(&config.role_claim)?,
            services,
        })
    }

    /// The caller named by `token`, if its signature, `exp` (and `nbf`, when
    /// present), `iss` and `aud` are good, its `sub` is not blank and its
    /// role is a known [`Role`] that its kind of token may carry.
    ///
    /// Uses the cached provider keys only: a token signed with a key not in
    /// the cache is [`AuthError::UnknownKey`].
    ///
    /// Only authentication: whether that role may make the call is the
    /// domain's permission table's decision.
    pub fn verify(&self, token: &str) -> Result<Actor, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|error| refusal(&error))?;
        let issuer = jsonwebtoken::dangerous::insecure_decode_claims::<IssuerOnly>(token)
            .ok()
            .and_then(|claims| claims.iss);
        if issuer.as_ref().and_then(serde_json::Value::as_str) == Some(SERVICE_ISSUER) {
            return self.verify_service(token, &header);
        }
        match header.alg {
            Algorithm::HS256 => self.verify_shared(token),
            algorithm => self.verify_person(token, algorithm, header.kid.as_deref()),
        }
    }

    /// [`verify`](Self::verify), fetching the provider's keys first when the
    /// token names one not cached (at most once per the configured minimum
    /// interval).
    pub async fn verify_fetching(&self, token: &str) -> Result<Actor, AuthError> {
        match (self.verify(token), &self.provider) {
            (Err(AuthError::UnknownKey(_)), Some(provider)) => {
                if provider.refetch_for_unknown_key().await.is_err() {
                    return Err(AuthError::KeysUnavailable);
                }
                self.verify(token)
            }
            (outcome, _) => outcome,
        }
    }

    /// Whether a token may need a fetch of the provider's keys.
    pub fn fetches_keys(&self) -> bool {
        self.provider.is_some()
    }

    /// Fetches the provider's keys now (at start-up, to find a bad URL
    /// early; tests, to see a rotation at once). Nothing to do without a
    /// provider. On failure the cached keys stay.
    pub async fn refresh_keys(&self) -> Result<(), String> {
        match &self.provider {
            Some(provider) => provider.refresh().await,
            None => Ok(()),
        }
    }

    /// Whether service keys are configured: then the role `service` comes
    /// only from them, and each service may make only its own calls.
    pub fn restricts_services(&self) -> bool {
        !self.services.is_empty()
    }

    fn verify_shared(&self, token: &str) -> Result<Actor, AuthError> {
        let Some(key) = &self.shared else {
            return Err(self.unsupported(Algorithm::HS256));
        };
        let data = jsonwebtoken::decode::<SharedClaims>(
            token,
            key,
            &self.validation(Algorithm::HS256, &self.issuer),
        )
        .map_err(|error| refusal(&error))?;
        let subject = subject(data.claims.sub)?;
        let role = data
            .claims
            .role
            .ok_or_else(|| AuthError::MissingClaim("role".to_owned()))?;
        let role: Role = role.parse().map_err(|_| AuthError::UnknownRole(role))?;
        if role == Role::Service && self.restricts_services() {
            return Err(AuthError::ServiceRoleRefused);
        }
        Ok(Actor::new(subject, role))
    }

    fn verify_person(
        &self,
        token: &str,
        algorithm: Algorithm,
        kid: Option<&str>,
    ) -> Result<Actor, AuthError> {
        let configured = self
            .keys
            .iter()
            .filter(|key| key.algorithm == algorithm)
            .map(|key| &key.key);
        let (published, unknown) = match &self.provider {
            Some(provider) => match provider.lookup(kid, algorithm) {
                Lookup::Found(keys) => (keys, false),
                Lookup::Unknown => (Vec::new(), true),
            },
            None => (Vec::new(), false),
        };
        let mut candidates = configured
            .chain(published.iter().map(|key| &key.key))
            .peekable();
        if candidates.peek().is_none() {
            return Err(if unknown {
                AuthError::UnknownKey(kid.unwrap_or("(none)").to_owned())
            } else {
                self.unsupported(algorithm)
            });
        }
        let validation = self.validation(algorithm, &self.issuer);
        // Several keys of one algorithm exist while a provider rotates its
        // key; a signature that fails under one may pass under the next.
        for candidate in candidates {
            match jsonwebtoken::decode::<serde_json::Value>(token, candidate, &validation) {
                Ok(data) => {
                    let sub = data
                        .claims
                        .get("sub")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned);
                    let subject = subject(sub)?;
                    let role = self.roles.role_of(&data.claims)?;
                    return Ok(Actor::new(subject, role));
                }
                Err(error) if matches!(error.kind(), ErrorKind::InvalidSignature) => continue,
                Err(error) => return Err(refusal(&error)),
            }
        }
        if unknown {
            return Err(AuthError::UnknownKey(kid.unwrap_or("(none)").to_owned()));
        }
        Err(AuthError::InvalidSignature)
    }

    fn verify_service(&self, token: &str, header: &Header) -> Result<Actor, AuthError> {
        let bad = |reason: String| AuthError::BadServiceToken(reason);
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| bad("no kid naming the service".to_owned()))?;
        let key = self
            .services
            .get(kid)
            .ok_or_else(|| bad(format!("no key is configured for service {kid:?}")))?;
        if header.alg != Algorithm::ES256 {
            return Err(bad(format!("signed with {:?}, not ES256", header.alg)));
        }
        let mut validation = self.validation(Algorithm::ES256, SERVICE_ISSUER);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<ServiceClaims>(token, key, &validation)
            .map_err(|error| refusal(&error))?
            .claims;
        if claims.sub != kid {
            return Err(bad(format!(
                "subject {:?} is not the key's service {kid:?}",
                claims.sub
            )));
        }
        if claims.role != Role::Service.as_str() {
            return Err(bad(format!("role {:?} is not service", claims.role)));
        }
        let lifetime = claims.exp - claims.iat.unwrap_or(i64::MIN / 2);
        if lifetime > MAX_SERVICE_TOKEN_SECONDS {
            return Err(bad(format!(
                "lives {lifetime} seconds; at most {MAX_SERVICE_TOKEN_SECONDS} are accepted"
            )));
        }
        Ok(Actor::new(claims.sub, Role::Service))
    }

    fn validation(&self, algorithm: Algorithm, issuer: &str) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[&self.audience]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation
    }

    fn algorithms(&self) -> Vec<Algorithm> {
        let mut algorithms: Vec<Algorithm> = self.shared.iter().map(|_| Algorithm::HS256).collect();
        for key in &self.keys {
            if !algorithms.contains(&key.algorithm) {
                algorithms.push(key.algorithm);
            }
        }
        if self.provider.is_some() {
            for algorithm in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
                if !algorithms.contains(&algorithm) {
                    algorithms.push(algorithm);
                }
            }
        }
        algorithms
    }

    fn unsupported(&self, algorithm: Algorithm) -> AuthError {
        let accepted: Vec<String> = self
            .algorithms()
            .iter()
            .map(|algorithm| format!("{algorithm:?}"))
            .collect();
        AuthError::UnsupportedAlgorithm(format!(
            "{algorithm:?} (accepted: {})",
            accepted.join(", ")
        ))
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut services: Vec<&String> = self.services.keys().collect();
        services.sort();
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algorithms", &self.algorithms())
            .field("provider", &self.provider)
            .field("services", &services)
            .finish_non_exhaustive()
    }
}

impl RoleRule {
    fn new(config: &RoleClaim) -> Result<Self, ConfigError> {
        if config.claim.trim().is_empty() {
            return Err(ConfigError::RoleMapping(
                "the role claim is empty".to_owned(),
            ));
        }
        let mut map = HashMap::new();
        for (name, role) in &config.map {
            let role: Role = role.parse().map_err(|_| {
                ConfigError::RoleMapping(format!(
                    "{name:?} maps to {role:?}, which is not a role of this platform"
                ))
            })?;
            if role == Role::Service {
                return Err(ConfigError::RoleMapping(format!(
                    "{name:?} maps to service; services use their own keys, never a person's token"
                )));
            }
            map.insert(name.clone(), role);
        }
        Ok(Self {
            claim: config.claim.clone(),
            map,
        })
    }

    /// The one platform role a person's token names.
    fn role_of(&self, claims: &serde_json::Value) -> Result<Role, AuthError> {
        let value = claims
            .get(&self.claim)
            .or_else(|| {
                self.claim
                    .split('.')
                    .try_fold(claims, |value, part| value.get(part))
            })
            .ok_or_else(|| AuthError::MissingClaim(self.claim.clone()))?;
        let wrong_type =
            || AuthError::MalformedToken(format!("claim {} has the wrong type", self.claim));
        let (names, single): (Vec<&str>, bool) = match value {
            serde_json::Value::String(name) => (vec![name.as_str()], true),
            serde_json::Value::Array(items) => (
                items
                    .iter()
                    .map(|item| item.as_str().ok_or_else(wrong_type))
                    .collect::<Result<_, _>>()?,
                false,
            ),
            _ => return Err(wrong_type()),
        };
        let mut roles: Vec<Role> = Vec::new();
        for name in names {
            let role = if self.map.is_empty() {
                match name.parse::<Role>() {
                    Ok(Role::Service) => return Err(AuthError::ServiceRoleRefused),
                    Ok(role) => Some(role),
                    Err(_) if single => return Err(AuthError::UnknownRole(name.to_owned())),
                    // A list of groups holds many that mean nothing here.
                    Err(_) => None,
                }
            } else {
                self.map.get(name).copied()
            };
            if let Some(role) = role.filter(|role| !roles.contains(role)) {
                roles.push(role);
            }
        }
        match roles.as_slice() {
            [] => Err(AuthError::NoRole(self.claim.clone())),
            [role] => Ok(*role),
            several => Err(AuthError::SeveralRoles(
                several
                    .iter()
                    .map(|role| role.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }
}

fn subject(sub: Option<String>) -> Result<String, AuthError> {
    let subject = sub.ok_or_else(|| AuthError::MissingClaim("sub".to_owned()))?;
    if subject.trim().is_empty() {
        return Err(AuthError::EmptySubject);
    }
    Ok(subject)
}

pub(crate) fn checked_secret(secret: &str) -> Result<&[u8], ConfigError> {
    let bytes = secret.as_bytes();
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(ConfigError::WeakSecret {
            len: bytes.len(),
            min: MIN_SECRET_BYTES,
        });
    }
    Ok(bytes)
}

/// The caller-facing reason for a library error. Key problems surface as an
/// invalid signature: the caller cannot fix the server's keys, and the
/// details belong in the server's configuration check, not in a reply.
fn refusal(error: &JwtError) -> AuthError {
    match error.kind() {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::Provider(_) => AuthError::InvalidSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm => {
            AuthError::UnsupportedAlgorithm("the header names no usable algorithm".to_owned())
        }
        ErrorKind::InvalidToken => {
            AuthError::MalformedToken("expected three base64url parts separated by dots".into())
        }
        ErrorKind::Base64(_) => AuthError::MalformedToken("a part is not base64url".into()),
        ErrorKind::Json(_) => AuthError::MalformedToken("a part is not the expected JSON".into()),
        ErrorKind::Utf8(_) => AuthError::MalformedToken("a part is not UTF-8".into()),
        ErrorKind::InvalidClaimFormat(claim) => {
            AuthError::MalformedToken(format!("claim {claim} has the wrong type"))
        }
        other => AuthError::MalformedToken(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;
    use crate::{Claims, IssueError, PublicKey, TokenIssuer};

    // A throwaway Ed25519 key pair made for these tests with
    // `openssl genpkey -algorithm ed25519`; it protects nothing.
    const TEST_ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIL5m/Z3Uc/myVvajjkl5c3uNPl4ErW+iSsfn8YUdaBba
-----END PRIVATE KEY-----
";
    const TEST_ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAu/C8hFR4q7LkVwEDkf65+GthO0/ft8ZioxSQjxGMSvw=
-----END PUBLIC KEY-----
";
    // A second pair, standing for the provider's next key during rotation.
    const TEST_ED25519_NEXT_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIMOOXLaJO/sP5stx++r0StrxXIJTNW7OkDecpBXPryVj
-----END PRIVATE KEY-----
";
    const TEST_ED25519_NEXT_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA0te+pq+9Gp16fGfJaAdXSFS6lgRn7TpQw5QnEqyWw2Q=
-----END PUBLIC KEY-----
";
    const PROVIDER_ISSUER: &str = "https://idp.example.invalid";
    const HOUR: Duration = Duration::from_secs(3600);

    fn development() -> (TokenVerifier, TokenIssuer) {
        let config = AuthConfig::development();
        (
            TokenVerifier::new(&config).unwrap(),
            TokenIssuer::new(&config).unwrap(),
        )
    }

    fn valid_claims(issuer: &TokenIssuer) -> Claims {
        issuer
            .claims("adviser-17", Role::Adviser, Utc::now(), HOUR)
            .unwrap()
    }

    fn verify_claims(edit: impl FnOnce(&mut Claims)) -> Result<Actor, AuthError> {
        let (verifier, issuer) = development();
        let mut claims = valid_claims(&issuer);
        edit(&mut claims);
        verifier.verify(&issuer.sign(&claims).unwrap())
    }

    fn sign_ed25519(private_pem: &str, claims: &Claims) -> String {
        let key = EncodingKey::from_ed_pem(private_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &key).unwrap()
    }

    #[test]
    fn a_valid_token_names_its_subject_and_role() {
        let (verifier, issuer) = development();
        for role in Role::ALL {
            let token = issuer.issue("someone", role, HOUR).unwrap();
            assert_eq!(verifier.verify(&token), Ok(Actor::new("someone", role)));
        }
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let now = Utc::now().timestamp();
        let result = verify_claims(|claims| {
            claims.iat = now - 7200;
            claims.exp = now - 3600;
        });
        assert_eq!(result, Err(AuthError::Expired));
    }

    #[test]
    fn a_token_just_past_expiry_is_within_the_leeway() {
        let now = Utc::now().timestamp();
        let result = verify_claims(|claims| claims.exp = now - 5);
        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused_as_badly_signed() {
        let (verifier, _) = development();
        let other =
            AuthConfig::development().with_hs256_secret("another-secret-of-at-least-32-bytes!!");
        let issuer = TokenIssuer::new(&other).unwrap();
        let token = issuer.issue("adviser-17", Role::Adviser, HOUR).unwrap();
        assert_eq!(verifier.verify(&token), Err(AuthError::InvalidSignature));
    }

    #[test]
    fn a_tampered_payload_is_refused_as_badly_signed() {
        let (verifier, issuer) = development();
        let adviser = issuer.issue("adviser-17", Role::Adviser, HOUR).unwrap();
        let director = issuer.issue("adviser-17", Role::Director, HOUR).unwrap();
        let adviser: Vec<&str> = adviser.split('.').collect();
        let director: Vec<&str> = director.split('.').collect();
        let forged = format!("{}.{}.{}", adviser[0], director[1], adviser[2]);
        assert_eq!(verifier.verify(&forged), Err(AuthError::InvalidSignature));
    }

    #[test]
    fn a_wrong_issuer_or_audience_is_refused_by_name() {
        assert_eq!(
            verify_claims(|claims| claims.iss = "someone-else".into()),
            Err(AuthError::WrongIssuer)
        );
        assert_eq!(
            verify_claims(|claims| claims.aud = "another-product".into()),
            Err(AuthError::WrongAudience)
        );
    }

    #[test]
    fn an_unknown_role_is_refused_by_name() {
        assert_eq!(
            verify_claims(|claims| claims.role = "root".into()),
            Err(AuthError::UnknownRole("root".into()))
        );
    }

    #[test]
    fn a_blank_subject_is_refused() {
        assert_eq!(
            verify_claims(|claims| claims.sub = " ".into()),
            Err(AuthError::EmptySubject)
        );
    }

    #[test]
    fn a_missing_claim_is_refused_by_name() {
        let (verifier, issuer) = development();
        let claims = valid_claims(&issuer);
        for missing in ["sub", "role", "iss", "aud", "exp"] {
            let mut payload = serde_json::to_value(&claims).unwrap();
            payload.as_object_mut().unwrap().remove(missing);
            let key = EncodingKey::from_secret(crate::DEVELOPMENT_SECRET.as_bytes());
            let token =
                jsonwebtoken::encode(&Header::new(Algorithm::HS256), &payload, &key).unwrap();
            assert_eq!(
                verifier.verify(&token),
                Err(AuthError::MissingClaim(missing.into())),
                "without {missing}"
            );
        }
    }

    #[test]
    fn garbage_is_refused_as_malformed() {
        let (verifier, _) = development();
        for garbage in ["", "not-a-jwt", "a.b.c", "a.b", "....", "eyJ.eyJ.sig"] {
            let result = verifier.verify(garbage);
            assert!(
                matches!(result, Err(AuthError::MalformedToken(_))),
                "{garbage:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn an_algorithm_without_a_configured_key_is_refused() {
        let (verifier, issuer) = development();
        let token = sign_ed25519(TEST_ED25519_PRIVATE, &valid_claims(&issuer));
        let result = verifier.verify(&token);
        assert!(
            matches!(&result, Err(AuthError::UnsupportedAlgorithm(reason)) if reason.contains("EdDSA")),
            "{result:?}"
        );
    }

    #[test]
    fn a_provider_token_verifies_with_its_public_key_through_a_rotation() {
        let config = AuthConfig::new(PROVIDER_ISSUER, "complaints")
            .with_public_key(PublicKey::new(KeyAlgorithm::EdDsa, TEST_ED25519_PUBLIC))
            .with_public_key(PublicKey::new(
                KeyAlgorithm::EdDsa,
                TEST_ED25519_NEXT_PUBLIC,
            ));
        let verifier = TokenVerifier::new(&config).unwrap();
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: "director-2".into(),
            role: "director".into(),
            iss: PROVIDER_ISSUER.into(),
            aud: "complaints".into(),
            exp: now + 600,
            iat: now,
            name: Some("A. Director".into()),
        };
        for private in [TEST_ED25519_PRIVATE, TEST_ED25519_NEXT_PRIVATE] {
            let token = sign_ed25519(private, &claims);
            assert_eq!(
                verifier.verify(&token),
                Ok(Actor::new("director-2", Role::Director))
            );
        }
        // Without an HS256 secret, an HS256 token has nothing to verify it,
        // however it was signed: no confusing the public key for a secret.
        let key = EncodingKey::from_secret(TEST_ED25519_PUBLIC.as_bytes());
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap();
        assert!(matches!(
            verifier.verify(&token),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn a_bad_configuration_fails_at_start_up() {
        assert_eq!(
            TokenVerifier::new(&AuthConfig::new("iss", "aud")).unwrap_err(),
            ConfigError::NoKeys
        );
        assert_eq!(
            TokenVerifier::new(&AuthConfig::new("iss", "aud").with_hs256_secret("short"))
                .unwrap_err(),
            ConfigError::WeakSecret {
                len: 5,
                min: MIN_SECRET_BYTES
            }
        );
        let mut no_issuer = AuthConfig::development();
        no_issuer.issuer = " ".into();
        assert_eq!(
            TokenVerifier::new(&no_issuer).unwrap_err(),
            ConfigError::Empty("issuer")
        );
        let bad_pem = AuthConfig::new("iss", "aud")
            .with_public_key(PublicKey::new(KeyAlgorithm::Es256, "not a pem"));
        assert!(matches!(
            TokenVerifier::new(&bad_pem).unwrap_err(),
            ConfigError::InvalidPublicKey {
                algorithm: KeyAlgorithm::Es256,
                ..
            }
        ));
        assert_eq!(
            TokenIssuer::new(&AuthConfig::new("iss", "aud")).unwrap_err(),
            ConfigError::NoSigningSecret
        );
    }

    #[test]
    fn issuing_refuses_a_blank_subject_or_a_lifetime_that_is_not_positive() {
        let (_, issuer) = development();
        assert_eq!(
            issuer.issue(" ", Role::Adviser, HOUR).unwrap_err(),
            IssueError::EmptySubject
        );
        assert_eq!(
            issuer
                .issue("a", Role::Adviser, Duration::ZERO)
                .unwrap_err(),
            IssueError::TtlOutOfRange
        );
        assert_eq!(
            issuer.issue("a", Role::Adviser, Duration::MAX).unwrap_err(),
            IssueError::TtlOutOfRange
        );
    }
}
