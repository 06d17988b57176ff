//! The server side: a tower layer in front of every gRPC service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use complaints_domain::role::{Actor, Role};
use http::HeaderMap;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::error::AuthError;
use crate::service_calls::service_may_call;
use crate::verify::TokenVerifier;

/// Path prefixes served without a token: probes and tooling must work
/// before anyone holds one, and they reveal nothing about cases.
const PUBLIC_PATH_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Authenticates every call before any service sees it.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use complaints_auth::{AuthConfig, AuthLayer, TokenVerifier};
/// use tonic::transport::Server;
///
/// let verifier = TokenVerifier::new(&AuthConfig::development())?;
/// let (_reporter, health) = tonic_health::server::health_reporter();
/// Server::builder()
///     .layer(AuthLayer::new(verifier))
///     .add_service(health) // and every other service
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// For each request, except health checks and reflection, it reads
/// `authorization: Bearer <jwt>`, verifies it, and puts the [`Actor`] into
/// the request's extensions, where handlers read it with [`actor`]. A call
/// without a good token is answered `UNAUTHENTICATED` with the reason, and
/// the service behind is not called. A token signed with an identity
/// provider key not cached yet waits for one fetch of the provider's keys.
/// A service's own credential (when service keys are configured) is good
/// only for the calls that service makes ([`crate::SERVICE_CALLS`]); any
/// other call is `PERMISSION_DENIED`.
#[derive(Clone)]
pub struct AuthLayer {
    verifier: Arc<TokenVerifier>,
}

impl AuthLayer {
    pub fn new(verifier: impl Into<Arc<TokenVerifier>>) -> Self {
        Self {
            verifier: verifier.into(),
        }
    }
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("verifier", &self.verifier)
            .finish()
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: Arc::clone(&self.verifier),
        }
    }
}

/// The service [`AuthLayer`] wraps around the server's router.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    verifier: Arc<TokenVerifier>,
}

impl<S> fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for AuthService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let path = request.uri().path().to_owned();
        if is_public(&path) {
            return ResponseFuture::inner(self.inner.call(request));
        }
        let token = match bearer_token(request.headers()) {
            Ok(token) => token,
            Err(refusal) => return ResponseFuture::refused(refusal),
        };
        match self.verifier.verify(&token) {
            Err(AuthError::UnknownKey(_)) if self.verifier.fetches_keys() => {
                // A key not cached yet: fetch the provider's keys, then
                // verify again. The service that was made ready is the one
                // that serves the call; a clone stays for the next.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let verifier = Arc::clone(&self.verifier);
                ResponseFuture::waiting(Box::pin(async move {
                    match verifier
                        .verify_fetching(&token)
                        .await
                        .and_then(|actor| allowed(&verifier, actor, &path))
                    {
                        Ok(actor) => {
                            request.extensions_mut().insert(actor);
                            inner.call(request).await
                        }
                        Err(refusal) => Ok(refusal_response(refusal)),
                    }
                }))
            }
            outcome => match outcome.and_then(|actor| allowed(&self.verifier, actor, &path)) {
                Ok(actor) => {
                    request.extensions_mut().insert(actor);
                    ResponseFuture::inner(self.inner.call(request))
                }
                Err(refusal) => ResponseFuture::refused(refusal),
            },
        }
    }
}

fn is_public(path: &str) -> bool {
    PUBLIC_PATH_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// `actor`, unless it is a service's own credential used for a call that
/// service never makes.
fn allowed(verifier: &TokenVerifier, actor: Actor, path: &str) -> Result<Actor, AuthError> {
    if actor.role == Role::Service
        && verifier.restricts_services()
        && !service_may_call(&actor.subject, path)
    {
        return Err(AuthError::CallNotAllowed {
            service: actor.subject,
            path: path.to_owned(),
        });
    }
    Ok(actor)
}

fn refusal_response<B: Default>(refusal: AuthError) -> http::Response<B> {
    tonic::Status::from(refusal).into_http()
}

/// The bearer token of the request's one `authorization` header.
fn bearer_token(headers: &HeaderMap) -> Result<String, AuthError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthError::MissingToken)?;
    if values.next().is_some() {
        // Two credentials: which one counts is anyone's guess, so neither does.
        return Err(AuthError::MalformedHeader);
    }
    let value = value.to_str().map_err(|_| AuthError::MalformedHeader)?;
    let value = value.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    // RFC 9110 section 11.1: the scheme is case-insensitive.
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token.to_owned())
}

/// The verified caller of a request that passed [`AuthLayer`].
///
/// `UNAUTHENTICATED` if there is none, which means the server was built
/// without the layer: a handler that needs to know who acts calls this, so a
/// wiring mistake refuses calls instead of serving them anonymously.
pub fn actor<T>(request: &tonic::Request<T>) -> Result<Actor, tonic::Status> {
    request
        .extensions()
        .get::<Actor>()
        .cloned()
        .ok_or_else(|| AuthError::NotAuthenticated.into())
}

/// A boxed response future: a call that waits for the provider's keys.
type Waiting<B, E> = Pin<Box<dyn Future<Output = Result<http::Response<B>, E>> + Send>>;

pin_project! {
    /// The response of [`AuthService`]: the inner service's, a refusal, or
    /// (for a token whose key must be fetched first) both in turn.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProjection]
    enum Kind<F, B, E> {
        Inner { #[pin] future: F },
        Refused { response: Option<http::Response<B>> },
        Waiting { future: Waiting<B, E> },
    }
}

impl<F, B: Default, E> ResponseFuture<F, B, E> {
    fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    fn refused(refusal: AuthError) -> Self {
        Self {
            kind: Kind::Refused {
                response: Some(refusal_response(refusal)),
            },
        }
    }

    fn waiting(future: Waiting<B, E>) -> Self {
        Self {
            kind: Kind::Waiting { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProjection::Inner { future } => future.poll(cx),
            KindProjection::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled again after completion: a caller bug, answered by
                // never completing twice rather than by a panic.
                None => Poll::Pending,
            },
            KindProjection::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.kind {
            Kind::Inner { .. } => "inner",
            Kind::Refused { .. } => "refused",
            Kind::Waiting { .. } => "waiting for keys",
        };
        f.debug_tuple("ResponseFuture").field(&state).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use complaints_domain::role::Role;
    use tonic::Code;
    use tower::ServiceExt;

    use super::*;
    use crate::{AuthConfig, TokenIssuer};

    const CASE_PATH: &str = "/complaints.case.v1.CaseService/GetCase";

    /// Runs one request through the layer in front of a service that counts
    /// its calls and answers with the actor it was given, if any.
    async fn call(path: &str, authorization: &[&str]) -> (http::Response<String>, usize) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let inner = tower::service_fn(move |request: http::Request<()>| {
            counted.fetch_add(1, Ordering::SeqCst);
            let actor = request.extensions().get::<Actor>().cloned();
            async move {
                let body = actor.map(|actor| actor.to_string()).unwrap_or_default();
                Ok::<_, Infallible>(http::Response::new(body))
            }
        });
        let verifier = TokenVerifier::new(&AuthConfig::development()).unwrap();
        let service = AuthLayer::new(verifier).layer(inner);
        let mut request = http::Request::builder().uri(format!("http://localhost{path}"));
        for value in authorization {
            request = request.header(http::header::AUTHORIZATION, *value);
        }
        let response = service.oneshot(request.body(()).unwrap()).await.unwrap();
        (response, calls.load(Ordering::SeqCst))
    }

    fn token(role: Role, ttl: Duration) -> String {
        TokenIssuer::new(&AuthConfig::development())
            .unwrap()
            .issue("handler-3", role, ttl)
            .unwrap()
    }

    async fn assert_refused(path: &str, authorization: &[&str], reason: &str) {
        let (response, calls) = call(path, authorization).await;
        assert_eq!(calls, 0, "the service behind was called");
        assert_eq!(response.status(), http::StatusCode::OK);
        let status = tonic::Status::from_header_map(response.headers()).unwrap();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert!(
            status.message().starts_with(reason),
            "{:?} does not start with {reason:?}",
            status.message()
        );
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            "application/grpc"
        );
    }

    #[tokio::test]
    async fn a_good_token_reaches_the_service_with_its_actor() {
        let bearer = format!(
            "Bearer {}",
            token(Role::ComplaintsHandler, Duration::from_secs(60))
        );
        let (response, calls) = call(CASE_PATH, &[&bearer]).await;
        assert_eq!(calls, 1);
        assert_eq!(response.body(), "handler-3 (complaints_handler)");
    }

    #[tokio::test]
    async fn the_scheme_is_case_insensitive() {
        let bearer = format!("bearer {}", token(Role::Adviser, Duration::from_secs(60)));
        let (response, calls) = call(CASE_PATH, &[&bearer]).await;
        assert_eq!(
            (calls, response.body().as_str()),
            (1, "handler-3 (adviser)")
        );
    }

    #[tokio::test]
    async fn a_call_without_a_good_token_is_refused_with_the_reason() {
        assert_refused(CASE_PATH, &[], "missing bearer token").await;
        assert_refused(CASE_PATH, &["Bearer "], "missing bearer token").await;
        assert_refused(CASE_PATH, &["Bearer"], "missing bearer token").await;
        assert_refused(
            CASE_PATH,
            &["Basic YWxhZGRpbjpvcGVuc2VzYW1l"],
            "authorization scheme is not Bearer",
        )
        .await;
        assert_refused(CASE_PATH, &["Bearer not.a.jwt"], "token is malformed").await;
    }

    #[tokio::test]
    async fn an_expired_token_is_refused_as_expired() {
        let issuer = TokenIssuer::new(&AuthConfig::development()).unwrap();
        let mut claims = issuer
            .claims(
                "handler-3",
                Role::Adviser,
                chrono::Utc::now() - chrono::TimeDelta::hours(2),
                Duration::from_secs(3600),
            )
            .unwrap();
        claims.name = Some("Expired Person".into());
        let bearer = format!("Bearer {}", issuer.sign(&claims).unwrap());
        assert_refused(CASE_PATH, &[&bearer], "token expired").await;
    }

    #[tokio::test]
    async fn two_authorization_headers_are_refused() {
        let bearer = format!("Bearer {}", token(Role::Adviser, Duration::from_secs(60)));
        assert_refused(
            CASE_PATH,
            &[&bearer, &bearer],
            "malformed authorization header",
        )
        .await;
    }

    #[tokio::test]
    async fn health_and_reflection_need_no_token_and_get_no_actor() {
        for path in [
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            let (response, calls) = call(path, &[]).await;
            assert_eq!((calls, response.body().as_str()), (1, ""), "{path}");
        }
    }

    #[tokio::test]
    async fn paths_that_only_resemble_the_open_services_are_guarded() {
        for path in [
            "/grpc.health.v1.HealthX/Check",
            "/complaints.case.v1.CaseService/grpc.health.v1.Health/Check",
            "/grpc.reflection.v2.Anything/Call",
        ] {
            assert_refused(path, &[], "missing bearer token").await;
        }
    }

    #[test]
    fn a_handler_outside_the_layer_gets_unauthenticated() {
        let status = actor(&tonic::Request::new(())).unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        let mut request = tonic::Request::new(());
        request
            .extensions_mut()
            .insert(Actor::new("ops-1", Role::OpsLead));
        assert_eq!(actor(&request).unwrap(), Actor::new("ops-1", Role::OpsLead));
    }
}
