//! Checking a token and naming who sent it.

use std::fmt;

use complaints_domain::role::{Actor, Role};
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::{AuthConfig, KeyAlgorithm, MIN_SECRET_BYTES};
use crate::error::{AuthError, ConfigError};

/// How far, in seconds, a token's `exp` (and `nbf`) may be past (or ahead)
/// before it is refused: room for clocks that disagree by a little.
pub const LEEWAY_SECONDS: u64 = 30;

/// Checks bearer tokens against an [`AuthConfig`].
///
/// Expiry is checked against the machine's wall clock, never the platform's
/// [`Clock`](complaints_domain::clock::Clock): a test clock that skips a month
/// ahead to fire deadlines must not expire the tokens of the session watching.
///
/// Cheap to share behind an `Arc`; verification takes no lock.
pub struct TokenVerifier {
    issuer: String,
    audience: String,
    keys: Vec<VerificationKey>,
}

/// A key together with the one algorithm it may verify, so that a token
/// cannot pick a different use for it (the HS256-with-a-public-key trick).
struct VerificationKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

/// What verification reads from the payload beyond the registered claims
/// that `jsonwebtoken` checks itself. Optional fields, so that a missing
/// claim is reported by name rather than as unreadable JSON.
#[derive(Deserialize)]
struct IncomingClaims {
    sub: Option<String>,
    role: Option<String>,
}

impl TokenVerifier {
    /// Reads the configured keys. Fails on an empty issuer or audience, a
    /// secret shorter than [`MIN_SECRET_BYTES`], an unreadable public key, or
    /// no key at all.
    pub fn new(config: &AuthConfig) -> Result<Self, ConfigError> {
        if config.issuer.trim().is_empty() {
            return Err(ConfigError::Empty("issuer"));
        }
        if config.audience.trim().is_empty() {
            return Err(ConfigError::Empty("audience"));
        }
        let mut keys = Vec::with_capacity(1 + config.public_keys.len());
        if let Some(secret) = &config.hs256_secret {
            let secret = checked_secret(secret.expose())?;
            keys.push(VerificationKey {
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret),
            });
        }
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
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        Ok(Self {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            keys,
        })
    }

    /// The caller named by `token`, if its signature, `exp` (and `nbf`, when
    /// present), `iss` and `aud` are good, its `sub` is not blank and its
    /// `role` is a known [`Role`].
    ///
    /// Only authentication: whether that role may make the call is the
    /// domain's permission table's decision.
    pub fn verify(&self, token: &str) -> Result<Actor, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|error| refusal(&error))?;
        let validation = self.validation(header.alg);
        let mut candidates = self
            .keys
            .iter()
            .filter(|key| key.algorithm == header.alg)
            .peekable();
        if candidates.peek().is_none() {
            let accepted: Vec<String> = self
                .keys
                .iter()
                .map(|key| format!("{:?}", key.algorithm))
                .collect();
            return Err(AuthError::UnsupportedAlgorithm(format!(
                "{:?} (accepted: {})",
                header.alg,
                accepted.join(", ")
            )));
        }
        // Several keys of one algorithm exist only while a provider rotates
        // its key; a signature that fails under one may pass under the next.
        for candidate in candidates {
            match jsonwebtoken::decode::<IncomingClaims>(token, &candidate.key, &validation) {
                Ok(data) => return actor_from(data.claims),
                Err(error) if matches!(error.kind(), ErrorKind::InvalidSignature) => continue,
                Err(error) => return Err(refusal(&error)),
            }
        }
        Err(AuthError::InvalidSignature)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithms: Vec<Algorithm> = self.keys.iter().map(|key| key.algorithm).collect();
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algorithms", &algorithms)
            .finish_non_exhaustive()
    }
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

fn actor_from(claims: IncomingClaims) -> Result<Actor, AuthError> {
    let subject = claims
        .sub
        .ok_or_else(|| AuthError::MissingClaim("sub".to_owned()))?;
    if subject.trim().is_empty() {
        return Err(AuthError::EmptySubject);
    }
    let role = claims
        .role
        .ok_or_else(|| AuthError::MissingClaim("role".to_owned()))?;
    let role: Role = role.parse().map_err(|_| AuthError::UnknownRole(role))?;
    Ok(Actor::new(subject, role))
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
