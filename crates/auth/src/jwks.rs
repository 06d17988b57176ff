//! An identity provider's published signing keys (a JWKS), fetched over
//! HTTPS, cached by `kid` and fetched again: in the background when the
//! copy is older than the refresh interval, and at once (rate-limited) when
//! a token names a key not in the copy. Each fetch replaces the whole copy,
//! so a key the provider withdraws stops verifying after the next fetch.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::config::{KeySource, ProviderConfig};
use crate::error::ConfigError;

/// The largest discovery document or JWKS read; real ones are a few KiB.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// One usable key of the provider's set.
pub(crate) struct ProviderKey {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// What the copy says about a token's key.
pub(crate) enum Lookup {
    /// The keys that may have signed it (one for a known `kid`).
    Found(Vec<Arc<ProviderKey>>),
    /// Not in the copy (or there is no copy yet): fetch, then look again.
    Unknown,
}

#[derive(Default)]
struct Copy {
    keys: Vec<Arc<ProviderKey>>,
    fetched_at: Option<Instant>,
}

struct Inner {
    issuer: String,
    source: KeySource,
    refresh_every: Duration,
    min_refetch: Duration,
    client: reqwest::Client,
    copy: RwLock<Copy>,
    /// Held while fetching, so that concurrent callers share one fetch;
    /// holds when the last fetch was tried.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    /// A background refresh is under way.
    refreshing: AtomicBool,
}

/// A provider's keys. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ProviderKeys {
    inner: Arc<Inner>,
}

impl ProviderKeys {
    pub(crate) fn new(issuer: &str, config: &ProviderConfig) -> Result<Self, ConfigError> {
        let base = match &config.keys {
            KeySource::Discovery => issuer.to_owned(),
            KeySource::JwksUrl(url) => url.clone(),
        };
        check_url(&base)?;
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|error| ConfigError::ProviderUrl {
                url: base.clone(),
                reason: format!("no HTTP client: {error}"),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: issuer.to_owned(),
                source: config.keys.clone(),
                refresh_every: Duration::from_secs(config.refresh_seconds.max(1)),
                min_refetch: Duration::from_secs(config.min_refetch_seconds),
                client,
                copy: RwLock::new(Copy::default()),
                fetching: tokio::sync::Mutex::new(None),
                refreshing: AtomicBool::new(false),
            }),
        })
    }

    /// The cached keys for a token with this header, without waiting. A
    /// copy older than the refresh interval is used, and a fresh one is
    /// fetched in the background.
    pub(crate) fn lookup(&self, kid: Option<&str>, algorithm: Algorithm) -> Lookup {
        let (found, stale) = {
            let copy = match self.inner.copy.read() {
                Ok(copy) => copy,
                Err(poisoned) => poisoned.into_inner(),
            };
            let Some(fetched_at) = copy.fetched_at else {
                return Lookup::Unknown;
            };
            let found: Vec<Arc<ProviderKey>> = copy
                .keys
                .iter()
                .filter(|key| key.algorithm == algorithm)
                .filter(|key| kid.is_none() || key.kid.as_deref() == kid)
                .cloned()
                .collect();
            (found, fetched_at.elapsed() >= self.inner.refresh_every)
        };
        if stale {
            self.refresh_in_background();
        }
        if found.is_empty() {
            Lookup::Unknown
        } else {
            Lookup::Found(found)
        }
    }

    /// Fetches the keys again unless a fetch was tried within the minimum
    /// interval (then the copy stays as it is). `Err` only if the fetch
    /// was tried and failed.
    pub(crate) async fn refetch_for_unknown_key(&self) -> Result<(), String> {
        let mut last_try = self.inner.fetching.lock().await;
        if last_try.is_some_and(|at| at.elapsed() < self.inner.min_refetch) {
            return Ok(());
        }
        self.fetch_holding(&mut last_try).await
    }

    /// Fetches the keys now, whenever the last fetch was.
    pub(crate) async fn refresh(&self) -> Result<(), String> {
        let mut last_try = self.inner.fetching.lock().await;
        self.fetch_holding(&mut last_try).await
    }

    async fn fetch_holding(&self, last_try: &mut Option<Instant>) -> Result<(), String> {
        *last_try = Some(Instant::now());
        match self.inner.fetch().await {
            Ok(keys) => {
                let count = keys.len();
                let mut copy = match self.inner.copy.write() {
                    Ok(copy) => copy,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *copy = Copy {
                    keys: keys.into_iter().map(Arc::new).collect(),
                    fetched_at: Some(Instant::now()),
                };
                tracing::debug!(keys = count, "identity provider keys fetched");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "fetching the identity provider's keys failed");
                Err(error)
            }
        }
    }

    fn refresh_in_background(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // One background refresh at a time, however many calls see the
        // copy stale meanwhile.
        if self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let keys = self.clone();
        runtime.spawn(async move {
            let _ = keys.refetch_for_unknown_key().await;
            keys.inner.refreshing.store(false, Ordering::Release);
        });
    }
}

impl fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderKeys")
            .field("source", &self.inner.source)
            .field("refresh_every", &self.inner.refresh_every)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Inner {
    async fn fetch(&self) -> Result<Vec<ProviderKey>, String> {
        let jwks_url = match &self.source {
            KeySource::JwksUrl(url) => url.clone(),
            KeySource::Discovery => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                );
                let document: Discovery = serde_json::from_slice(&self.get(&url).await?)
                    .map_err(|e| format!("{url}: not an OpenID configuration: {e}"))?;
                if document.issuer != self.issuer {
                    return Err(format!(
                        "{url} names the issuer {:?}, not {:?}",
                        document.issuer, self.issuer
                    ));
                }
                check_url(&document.jwks_uri).map_err(|e| e.to_string())?;
                document.jwks_uri
            }
        };
        let body = self.get(&jwks_url).await?;
        let keys = parse_jwks(&body).map_err(|e| format!("{jwks_url}: {e}"))?;
        if keys.is_empty() {
            return Err(format!(
                "{jwks_url}: no RS256, ES256 or EdDSA signing key in the set"
            ));
        }
        Ok(keys)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("{url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The signing keys of a JWKS document this platform can use. Keys for
/// encryption, of other algorithms or unreadable are skipped, not fatal:
/// providers publish all sorts.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<ProviderKey>, String> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = Vec::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(ref usage) if *usage != PublicKeyUse::Signature)
        {
            continue;
        }
        let Some(algorithm) = signing_algorithm(&jwk) else {
            continue;
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        keys.push(ProviderKey {
            kid: jwk.common.key_id.clone(),
            algorithm,
            key,
        });
    }
    Ok(keys)
}

/// The one algorithm a key verifies: its `alg`, else what its type implies.
fn signing_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(implied),
        Some(KeyAlgorithm::RS256) if implied == Algorithm::RS256 => Some(implied),
        Some(KeyAlgorithm::ES256) if implied == Algorithm::ES256 => Some(implied),
        Some(KeyAlgorithm::EdDSA) if implied == Algorithm::EdDSA => Some(implied),
        Some(_) => None,
    }
}

/// Keys come over HTTPS; plain HTTP only from this machine (tests, a local
/// provider).
fn check_url(url: &str) -> Result<(), ConfigError> {
    let refuse = |reason: &str| ConfigError::ProviderUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| refuse(&e.to_string()))?;
    let Some(host) = parsed.host_str() else {
        return Err(refuse("it names no host"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(refuse("keys are fetched over https only")),
    }
}
