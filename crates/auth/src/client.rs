//! The client side: attaching a bearer token to every call.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;

use crate::issue::ServiceSigner;

/// Adds `authorization: Bearer <token>` to every request of a client.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use complaints_auth::BearerToken;
/// use tonic::transport::Channel;
/// use tonic_health::pb::health_client::HealthClient;
///
/// let channel = Channel::from_static("http://127.0.0.1:50051").connect().await?;
/// let token = BearerToken::new(std::env::var("COMPLAINTS_TOKEN")?)?;
/// let client = HealthClient::with_interceptor(channel, token); // any generated client
/// # Ok(())
/// # }
/// ```
///
/// The header value is built once, when the token is given, so a token that
/// cannot be sent is refused there rather than on every call. The value is
/// marked sensitive (kept out of HPACK tables) and `Debug` hides it.
///
/// [`BearerToken::signed`] is the other kind: a service's credential that
/// signs a fresh short-lived token when the one in hand is half used.
#[derive(Clone)]
pub struct BearerToken {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Fixed(MetadataValue<Ascii>),
    Signed(Arc<Signed>),
}

struct Signed {
    signer: ServiceSigner,
    /// The header in use and when to sign the next.
    current: Mutex<Option<(MetadataValue<Ascii>, Instant)>>,
}

impl Signed {
    fn header(&self) -> Result<MetadataValue<Ascii>, tonic::Status> {
        let mut current = match self.current.lock() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((header, renew_at)) = current.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(header.clone());
        }
        let renew_at = Instant::now() + self.signer.ttl() / 2;
        let header = self
            .signer
            .sign()
            .ok()
            .and_then(|token| header_value(&token).ok())
            .ok_or_else(|| tonic::Status::internal("this service could not sign its token"))?;
        *current = Some((header.clone(), renew_at));
        Ok(header)
    }
}

fn header_value(token: &str) -> Result<MetadataValue<Ascii>, InvalidBearerToken> {
    let token = token.trim();
    // A JWT is base64url parts and dots; anything beyond visible ASCII
    // would not survive the server's header parsing, so refuse it here.
    if token.is_empty() || !token.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(InvalidBearerToken);
    }
    let mut header: MetadataValue<Ascii> = format!("Bearer {token}")
        .parse()
        .map_err(|_| InvalidBearerToken)?;
    header.set_sensitive(true);
    Ok(header)
}

/// A token with characters that cannot travel in an HTTP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the bearer token is empty or has characters other than visible ASCII")]
pub struct InvalidBearerToken;

impl BearerToken {
    pub fn new(token: impl AsRef<str>) -> Result<Self, InvalidBearerToken> {
        Ok(Self {
            source: Source::Fixed(header_value(token.as_ref())?),
        })
    }

    /// A token signed by `signer`, renewed when half its life has passed:
    /// what a service presents to the others.
    pub fn signed(signer: ServiceSigner) -> Self {
        Self {
            source: Source::Signed(Arc::new(Signed {
                signer,
                current: Mutex::new(None),
            })),
        }
    }
}

impl FromStr for BearerToken {
    type Err = InvalidBearerToken;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        Self::new(token)
    }
}

impl TryFrom<String> for BearerToken {
    type Error = InvalidBearerToken;

    fn try_from(token: String) -> Result<Self, Self::Error> {
        Self::new(token)
    }
}

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let header = match &self.source {
            Source::Fixed(header) => header.clone(),
            Source::Signed(signed) => signed.header()?,
        };
        request.metadata_mut().insert("authorization", header);
        Ok(request)
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_bearer_scheme_and_the_token() {
        let mut interceptor = BearerToken::new("abc.def.ghi").unwrap();
        let request = interceptor.call(tonic::Request::new(())).unwrap();
        let header = request.metadata().get("authorization").unwrap();
        assert_eq!(header.to_str().unwrap(), "Bearer abc.def.ghi");
        assert!(header.is_sensitive());
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused_when_given() {
        assert_eq!(
            BearerToken::new("abc\ndef").unwrap_err(),
            InvalidBearerToken
        );
        assert_eq!(
            BearerToken::new("caf\u{e9}").unwrap_err(),
            InvalidBearerToken
        );
        assert_eq!(BearerToken::new("abc def").unwrap_err(), InvalidBearerToken);
        assert_eq!(BearerToken::new("  ").unwrap_err(), InvalidBearerToken);
    }

    #[test]
    fn a_signed_token_is_kept_while_fresh_and_names_the_service() {
        let config = crate::AuthConfig::development();
        let signer = ServiceSigner::shared_secret(&config, "case").unwrap();
        let mut interceptor = BearerToken::signed(signer);
        let first = interceptor.call(tonic::Request::new(())).unwrap();
        let second = interceptor.call(tonic::Request::new(())).unwrap();
        let header = |request: &tonic::Request<()>| {
            request
                .metadata()
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(header(&first), header(&second));
        let token = header(&first).strip_prefix("Bearer ").unwrap().to_owned();
        let verifier = crate::TokenVerifier::new(&config).unwrap();
        assert_eq!(
            verifier.verify(&token),
            Ok(complaints_domain::role::Actor::new(
                "case",
                complaints_domain::role::Role::Service
            ))
        );
        assert!(!format!("{interceptor:?}").contains(&token));
    }

    #[test]
    fn debug_hides_the_token() {
        let token = BearerToken::new("secret.token.value").unwrap();
        assert!(!format!("{token:?}").contains("secret"));
    }
}
