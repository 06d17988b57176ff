//! People's tokens from an identity provider, checked with the keys it
//! publishes: a JWKS served on a loopback port by a small HTTP server in
//! this test, holding keys made for the test; and services' own keys.
// Test helpers outside `#[test]` functions may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use complaints_auth::{
    AuthConfig, AuthError, ConfigError, KeyAlgorithm, KeySource, ProviderConfig, PublicKey,
    RoleClaim, TokenVerifier,
};
use complaints_domain::role::{Actor, Role};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::rand_core::OsRng;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const AUDIENCE: &str = "complaints";

/// A throwaway RSA key made for these tests with `openssl genpkey`
/// (RSA key generation is slow in an unoptimised build); it protects nothing.
const TEST_RSA_PRIVATE: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEogIBAAKCAQEAypkgmah46emysUMRN7U5n3yeEeQnwKJuKB6wT4PuujWk1PSI
1sEO1n/shRvFVAUgwhDvZbc1/Z85nY2AwHwxgHLNi8Ri3KuO0DVAayde9pXOPqBT
Z9OX8sDk5pLXSw0hKZngN+ljn7PNFacoyoSRoGnsUmzCAeV8EJOjfG3cNhJ8n57q
Yvk3eHUFv0UX8TK2MPeyJV4vT7/c2xO/h/AETT7lXDVuN3zxvLGEu2bqI5jMAady
YPaCjsjlDr4aGVbpHzyNPBk6RB8494nwZ65kNVdVF2bux6ugmEXOumb0Ar4ksUGR
AzpyiVOhOevb1S3LHh9l+lMGEZfwd9V7iOJKQQIDAQABAoIBAEa6JG5gKS4H3tER
R8553s71sz0tuE8ApZIt/IEV3t504cFSSP8n0KVDbW+enUnSrHfzb4/D4P5Uesms
35jTAnkEGwvDGHxPDAFVxdJioT1WWPT2BYgGj1I40vBHrQ9PWxdp16PNP3E+VMdN
XuksVKZ6s/ymaSg+VAx5biZ/N9RMCooBbhyUFfOQRzNbXQnBCl1DGCG6Dp2x6cZV
IfzlJq25RS18wVtvPhIPl5LJnPIFrDjs0i65Oc+4JFDDQ461EeSmWDaCwMyTgd+5
TQDl3MgCSvKu7b4IGcF4JdNzoH/dWikxyxZDOu+b6vyZFtk5Kl+KGWklQdINwHqB
qz7s2L0CgYEA8yHXFqhpnOStEzWoMrnUBxPjj7elG1AEITq+171cobFxN7TU6fsS
E+S1CEJOt3NYw9iG9vRokcuKzQv/+Nav6mYwxPjSAq5M3B6G2jrQm41xVY5O9QPa
AhbmJ/F5ut5gJYKfewjVtaP1ZORLgaPXENto1PCGYCNSqW1IX8vAWbcCgYEA1VIZ
D2D6Ki9Gs9Na8PPaTVaNjm4DA1/azON9qhq5HsqqL93NcjU6KkNijESgNPmlH900
/awu9a/DM4mW892d+xygzYu31X8DtrH4e3KITRgGjGAhiajmLSEGDjNr3UABo9lW
bo1OM02NpjaKqZaoYWMlSQVtmG7XKFt1mjdL28cCgYAqGmEZ7l4jqkICgpc2+ZEr
DJmqqJ2x5iBg9MBZsdQZuBWoFOuN/Ul7Im7rGDhzckkb2SI+H8MABGRr77kLCXp7
N+kYIxKTHkX3FF476lV3qn3G2Bb6PQmCtR50Kk/vOVUjCcS+VKBVjSgQqawdrhav
N5+myGQsv9Evv9n5pNoRbwKBgGLEyGWeeTXe/dV1Hr5Bqen1EUXJGgwN7bi//Acu
qFfhbjsLb3xZuLyoxpA7lhHxJMtEGKz7dCK9ZpwOMJ5pFiSWdL222z82t/l3HZ3K
weEwJpgISn76fNiYWb1pgZ/Havr6PlKhinumhNdYmYs7/mpZBYJxyPSzHVvKPQFS
aQUxAoGAKK5WzG8EQ4WM4pyvVQNY4FzaQnm54ljgcoHyKVKAvTelJtuSmdh1YOjr
47nINajmR/hiwXmZHtNGY0fxgUGmQ0Wnu8anf1QOBC9KJcrN3Tub5XFcB40d5+iP
PIkOANOQ98rxkJABsb9MGrZX+u+Gps7W+aKWRXuiO52vbk1WxX8=
-----END RSA PRIVATE KEY-----
";

/// A signing key of the provider, as it signs and as it publishes it.
struct ProviderKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl ProviderKey {
    /// A P-256 key made now.
    fn es256(kid: &str) -> Self {
        let pem = p256::SecretKey::random(&mut OsRng)
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap();
        Self::from_encoding(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        )
    }

    fn rs256(kid: &str) -> Self {
        Self::from_encoding(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(TEST_RSA_PRIVATE.as_bytes()).unwrap(),
        )
    }

    fn from_encoding(kid: &str, algorithm: Algorithm, encoding: EncodingKey) -> Self {
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            algorithm,
            encoding,
            jwk,
        }
    }

    fn sign(&self, claims: &serde_json::Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// The provider: an issuer URL on a loopback port answering
/// `/.well-known/openid-configuration` and `/jwks.json`, counting the
/// JWKS fetches.
struct Provider {
    address: SocketAddr,
    jwks: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

impl Provider {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let jwks = Arc::new(Mutex::new(String::from(r#"{"keys":[]}"#)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let issuer = format!("http://{address}");
        let (served, counted) = (Arc::clone(&jwks), Arc::clone(&fetches));
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (served, counted, issuer) =
                    (Arc::clone(&served), Arc::clone(&counted), issuer.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0_u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let request = String::from_utf8_lossy(&request);
                    let path = request.split_whitespace().nth(1).unwrap_or("");
                    let (status, body) = match path {
                        "/.well-known/openid-configuration" => (
                            "200 OK",
                            json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks.json") })
                                .to_string(),
                        ),
                        "/jwks.json" => {
                            counted.fetch_add(1, Ordering::SeqCst);
                            ("200 OK", served.lock().unwrap().clone())
                        }
                        _ => ("404 Not Found", String::new()),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            address,
            jwks,
            fetches,
        }
    }

    fn issuer(&self) -> String {
        format!("http://{}", self.address)
    }

    fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.issuer())
    }

    /// Publishes exactly `keys` from now on.
    fn publish(&self, keys: &[&ProviderKey]) {
        let set = JwkSet {
            keys: keys.iter().map(|key| key.jwk.clone()).collect(),
        };
        *self.jwks.lock().unwrap() = serde_json::to_string(&set).unwrap();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// A verifier of this provider's tokens, its keys from the JWKS URL,
    /// fetched again for an unknown key at most every `min_refetch_seconds`.
    fn verifier(&self, min_refetch_seconds: u64, roles: RoleClaim) -> TokenVerifier {
        let mut provider = ProviderConfig::new(KeySource::JwksUrl(self.jwks_url()));
        provider.min_refetch_seconds = min_refetch_seconds;
        TokenVerifier::new(
            &AuthConfig::new(self.issuer(), AUDIENCE)
                .with_provider(provider)
                .with_role_claim(roles),
        )
        .unwrap()
    }

    /// A person's claims as this provider writes them.
    fn claims(&self, subject: &str, roles: serde_json::Value) -> serde_json::Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.issuer(),
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "exp": now + 300,
            "roles": roles,
        })
    }
}

fn roles_claim() -> RoleClaim {
    RoleClaim {
        claim: "roles".to_owned(),
        map: Default::default(),
    }
}

#[tokio::test]
async fn es256_tokens_follow_the_providers_key_rotation() {
    let provider = Provider::start().await;
    let (a, b) = (ProviderKey::es256("key-a"), ProviderKey::es256("key-b"));
    provider.publish(&[&a]);
    let verifier = provider.verifier(0, roles_claim());
    let claims = provider.claims("hana", json!(["complaints_handler"]));
    let hana = Actor::new("hana", Role::ComplaintsHandler);

    // Nothing fetched yet: the first token fetches the set.
    let signed_by_a = a.sign(&claims);
    assert_eq!(
        verifier.verify(&signed_by_a),
        Err(AuthError::UnknownKey("key-a".into()))
    );
    assert_eq!(
        verifier.verify_fetching(&signed_by_a).await,
        Ok(hana.clone())
    );
    assert_eq!(verifier.verify(&signed_by_a), Ok(hana.clone()));

    // The provider adds B beside A: B's first token fetches the set again.
    provider.publish(&[&a, &b]);
    let signed_by_b = b.sign(&claims);
    assert_eq!(
        verifier.verify_fetching(&signed_by_b).await,
        Ok(hana.clone())
    );
    assert_eq!(verifier.verify(&signed_by_a), Ok(hana.clone()));

    // A is withdrawn: after the next refresh its tokens are refused.
    provider.publish(&[&b]);
    verifier.refresh_keys().await.unwrap();
    assert_eq!(
        verifier.verify_fetching(&signed_by_a).await,
        Err(AuthError::UnknownKey("key-a".into()))
    );
    assert_eq!(verifier.verify(&signed_by_b), Ok(hana));

    // A token naming B's kid but signed by A is a forgery, not a key to find.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("key-b".into());
    let forged = jsonwebtoken::encode(&header, &claims, &a.encoding).unwrap();
    assert_eq!(
        verifier.verify_fetching(&forged).await,
        Err(AuthError::InvalidSignature)
    );
}

#[tokio::test]
async fn rs256_keys_are_found_by_openid_discovery() {
    let provider = Provider::start().await;
    let key = ProviderKey::rs256("rsa-1");
    provider.publish(&[&key]);
    let verifier = TokenVerifier::new(
        &AuthConfig::new(provider.issuer(), AUDIENCE)
            .with_provider(ProviderConfig::new(KeySource::Discovery))
            .with_role_claim(roles_claim()),
    )
    .unwrap();
    let token = key.sign(&provider.claims("dara", json!("director")));
    assert_eq!(
        verifier.verify_fetching(&token).await,
        Ok(Actor::new("dara", Role::Director))
    );

    // The same key, but the token's issuer is another provider's.
    let mut claims = provider.claims("dara", json!("director"));
    claims["iss"] = json!("https://someone-else.example.org");
    assert_eq!(
        verifier.verify_fetching(&key.sign(&claims)).await,
        Err(AuthError::WrongIssuer)
    );
    let mut claims = provider.claims("dara", json!("director"));
    claims["aud"] = json!("another-api");
    assert_eq!(
        verifier.verify_fetching(&key.sign(&claims)).await,
        Err(AuthError::WrongAudience)
    );
    let mut claims = provider.claims("dara", json!("director"));
    claims["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    assert_eq!(
        verifier.verify_fetching(&key.sign(&claims)).await,
        Err(AuthError::Expired)
    );
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_gives_no_keys() {
    let provider = Provider::start().await;
    let key = ProviderKey::es256("k");
    provider.publish(&[&key]);
    // The verifier is told the issuer has a trailing path the document
    // does not name: discovery must refuse the mismatch.
    let issuer = format!("{}/", provider.issuer());
    let verifier = TokenVerifier::new(
        &AuthConfig::new(issuer.clone(), AUDIENCE)
            .with_provider(ProviderConfig::new(KeySource::Discovery)),
    )
    .unwrap();
    let mut claims = provider.claims("hana", json!("adviser"));
    claims["iss"] = json!(issuer);
    assert_eq!(
        verifier.verify_fetching(&key.sign(&claims)).await,
        Err(AuthError::KeysUnavailable)
    );
    assert_eq!(provider.fetches(), 0);
}

#[tokio::test]
async fn an_unknown_key_fetches_the_set_at_most_once_per_interval() {
    let provider = Provider::start().await;
    let (a, z) = (ProviderKey::es256("a"), ProviderKey::es256("z"));
    provider.publish(&[&a]);
    let verifier = provider.verifier(3600, roles_claim());
    let claims = provider.claims("ann", json!(["adviser"]));
    assert!(verifier.verify_fetching(&a.sign(&claims)).await.is_ok());
    assert_eq!(provider.fetches(), 1);

    // Tokens naming a key nobody published: one fetch per interval, however
    // many arrive.
    provider.publish(&[&a, &z]);
    let signed_by_z = z.sign(&claims);
    for _ in 0..5 {
        assert_eq!(
            verifier.verify_fetching(&signed_by_z).await,
            Err(AuthError::UnknownKey("z".into()))
        );
    }
    assert_eq!(provider.fetches(), 1);

    // A refresh (the background one, when the copy is old) picks it up.
    verifier.refresh_keys().await.unwrap();
    assert_eq!(provider.fetches(), 2);
    assert_eq!(
        verifier.verify(&signed_by_z),
        Ok(Actor::new("ann", Role::Adviser))
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable_not_a_bad_token() {
    let provider = Provider::start().await;
    let key = ProviderKey::es256("k");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let verifier = TokenVerifier::new(&AuthConfig::new(provider.issuer(), AUDIENCE).with_provider(
        ProviderConfig::new(KeySource::JwksUrl(format!("http://{closed}/jwks.json"))),
    ))
    .unwrap();
    let token = key.sign(&provider.claims("ann", json!("adviser")));
    let refusal = verifier.verify_fetching(&token).await.unwrap_err();
    assert_eq!(refusal, AuthError::KeysUnavailable);
    assert_eq!(
        tonic::Status::from(refusal).code(),
        tonic::Code::Unavailable
    );
}

#[test]
fn roles_come_from_the_configured_claim_through_the_mapping() {
    // A provider key given as a configured public key (PEM): no JWKS needed.
    let secret = p256::SecretKey::random(&mut OsRng);
    let signing =
        EncodingKey::from_ec_pem(secret.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
    let public = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let issuer = "https://idp.example.invalid/realms/staff";
    let config = |claim: &str, map: &[(&str, &str)]| {
        AuthConfig::new(issuer, AUDIENCE)
            .with_public_key(PublicKey::new(KeyAlgorithm::Es256, public.clone()))
            .with_role_claim(RoleClaim {
                claim: claim.to_owned(),
                map: map
                    .iter()
                    .map(|(name, role)| ((*name).to_owned(), (*role).to_owned()))
                    .collect(),
            })
    };
    let sign = |extra: serde_json::Value| {
        let now = chrono::Utc::now().timestamp();
        let mut claims =
            json!({"iss": issuer, "aud": AUDIENCE, "sub": "p-7", "iat": now, "exp": now + 60});
        for (name, value) in extra.as_object().unwrap() {
            claims[name] = value.clone();
        }
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &signing).unwrap()
    };

    // Keycloak's realm roles, through a mapping from the provider's names.
    let keycloak = TokenVerifier::new(&config(
        "realm_access.roles",
        &[
            ("complaint-handlers", "complaints_handler"),
            ("directors", "director"),
        ],
    ))
    .unwrap();
    let token = |roles: serde_json::Value| sign(json!({"realm_access": {"roles": roles}}));
    assert_eq!(
        keycloak.verify(&token(json!(["offline_access", "complaint-handlers"]))),
        Ok(Actor::new("p-7", Role::ComplaintsHandler))
    );
    assert_eq!(
        keycloak.verify(&token(json!(["directors", "complaint-handlers"]))),
        Err(AuthError::SeveralRoles(
            "director, complaints_handler".into()
        ))
    );
    assert_eq!(
        keycloak.verify(&token(json!(["offline_access"]))),
        Err(AuthError::NoRole("realm_access.roles".into()))
    );
    // The platform's own names mean nothing once a mapping is set.
    assert_eq!(
        keycloak.verify(&token(json!(["director"]))),
        Err(AuthError::NoRole("realm_access.roles".into()))
    );
    assert_eq!(
        keycloak.verify(&sign(json!({"roles": ["directors"]}))),
        Err(AuthError::MissingClaim("realm_access.roles".into()))
    );

    // Groups named by the platform's roles, in a namespaced claim.
    let namespaced =
        TokenVerifier::new(&config("https://complaints.example.org/groups", &[])).unwrap();
    assert_eq!(
        namespaced.verify(&sign(
            json!({"https://complaints.example.org/groups": ["everyone", "ops_lead"]})
        )),
        Ok(Actor::new("p-7", Role::OpsLead))
    );
    // A person's token never makes a service.
    assert_eq!(
        namespaced.verify(&sign(
            json!({"https://complaints.example.org/groups": ["service"]})
        )),
        Err(AuthError::ServiceRoleRefused)
    );

    // Nor can a mapping.
    for (name, role, reason) in [
        ("robots", "service", "never a person's token"),
        ("staff", "root", "not a role of this platform"),
    ] {
        match TokenVerifier::new(&config("groups", &[(name, role)])) {
            Err(ConfigError::RoleMapping(message)) => {
                assert!(message.contains(reason), "{message}")
            }
            other => panic!("{name}={role}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_layer_waits_for_the_keys_of_a_token_it_has_not_seen() {
    use tower::{Layer, ServiceExt};

    let provider = Provider::start().await;
    let key = ProviderKey::es256("fresh");
    provider.publish(&[&key]);
    let layer = complaints_auth::AuthLayer::new(provider.verifier(0, roles_claim()));
    let service = layer.layer(tower::service_fn(|request: http::Request<()>| async move {
        let actor = request.extensions().get::<Actor>().cloned();
        Ok::<_, std::convert::Infallible>(http::Response::new(
            actor.map(|actor| actor.to_string()).unwrap_or_default(),
        ))
    }));
    let request = |token: &str| {
        http::Request::builder()
            .uri("http://localhost/complaints.case.v1.CaseService/GetCase")
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .unwrap()
    };
    let token = key.sign(&provider.claims("carol", json!(["cx_manager"])));
    let response = service.clone().oneshot(request(&token)).await.unwrap();
    assert_eq!(response.body(), "carol (cx_manager)");
    assert_eq!(provider.fetches(), 1);

    // A key the provider never published: refused, the service not called.
    let stranger = ProviderKey::es256("stranger");
    let response = service
        .oneshot(request(
            &stranger.sign(&provider.claims("carol", json!(["cx_manager"]))),
        ))
        .await
        .unwrap();
    assert_eq!(response.body(), "");
    let status = tonic::Status::from_header_map(response.headers()).unwrap();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(
        status.message(),
        "token signing key \"stranger\" is not known"
    );
}
