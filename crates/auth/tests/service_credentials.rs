//! Services' own credentials against a real tonic server behind the layer:
//! each service signs its tokens with its own key, the receiver knows the
//! services' public keys, and a service may make only its own calls.
// Test helpers outside `#[test]` functions may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use complaints_auth::{
    AuthConfig, AuthLayer, BearerToken, DEVELOPMENT_AUDIENCE, ServiceKey, ServiceSigner,
    TokenIssuer, TokenVerifier, actor,
};
use complaints_domain::role::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::rand_core::OsRng;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::json;
use tokio::sync::oneshot;
use tonic::body::Body;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::server::{NamedService, UnaryService};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;

/// Stands in for the case service: every method answers with the caller.
#[derive(Clone)]
struct FakeCase;

impl NamedService for FakeCase {
    const NAME: &'static str = "complaints.case.v1.CaseService";
}

struct WhoCalled;

impl UnaryService<()> for WhoCalled {
    type Response = String;
    type Future = Ready<Result<Response<String>, Status>>;

    fn call(&mut self, request: Request<()>) -> Self::Future {
        ready(actor(&request).map(|actor| Response::new(actor.to_string())))
    }
}

impl tower::Service<http::Request<Body>> for FakeCase {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<String, ()>::default());
            Ok(grpc.unary(WhoCalled, request).await)
        })
    }
}

/// A P-256 key pair made now: (private PKCS#8 PEM, public PEM).
fn key_pair() -> (String, String) {
    let secret = p256::SecretKey::random(&mut OsRng);
    (
        secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    )
}

/// The deployment: every service's key pair, and the receiving side's
/// configuration (the development secret for people's tokens here, so that
/// the test can also show what it may no longer carry).
struct Deployment {
    intake_private: String,
    escalation_private: String,
    receiver: AuthConfig,
}

fn deployment() -> Deployment {
    let (intake_private, intake_public) = key_pair();
    let (escalation_private, escalation_public) = key_pair();
    let receiver = AuthConfig::development()
        .with_service_key(ServiceKey::new("intake", intake_public))
        .with_service_key(ServiceKey::new("escalation", escalation_public));
    Deployment {
        intake_private,
        escalation_private,
        receiver,
    }
}

/// A running server; dropping it stops the server.
struct TestServer {
    address: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn spawn_server(config: &AuthConfig) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let verifier = TokenVerifier::new(config).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        Server::builder()
            .layer(AuthLayer::new(verifier))
            .add_service(FakeCase)
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            }),
    );
    TestServer {
        address,
        _stop: stop,
    }
}

async fn call(server: &TestServer, method: &str, token: BearerToken) -> Result<String, Status> {
    let channel = Channel::from_shared(format!("http://{}", server.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(InterceptedService::new(channel, token));
    client.ready().await.unwrap();
    let path = PathAndQuery::try_from(format!("/complaints.case.v1.CaseService/{method}")).unwrap();
    client
        .unary(Request::new(()), path, ProstCodec::<(), String>::default())
        .await
        .map(Response::into_inner)
}

/// What a service holds: its own private key, for its own name.
fn credential(private_pem: &str, service: &str) -> BearerToken {
    let config = AuthConfig::new("unused-by-service-tokens", DEVELOPMENT_AUDIENCE)
        .with_service_signing_key(private_pem);
    BearerToken::signed(ServiceSigner::own_key(&config, service).unwrap())
}

#[tokio::test]
async fn a_service_makes_its_own_calls_with_its_own_key_and_no_others() {
    let deployment = deployment();
    let server = spawn_server(&deployment.receiver).await;
    let intake = || credential(&deployment.intake_private, "intake");

    for method in ["OpenCase", "FindCaseByMessage", "AddCorrespondence"] {
        assert_eq!(
            call(&server, method, intake()).await.unwrap(),
            "intake (service)",
            "{method}"
        );
    }
    // A person's step, and a call only another service makes.
    for method in [
        "CloseCase",
        "IssueStageResponse",
        "RecordClockChange",
        "RunRetention",
    ] {
        let status = call(&server, method, intake()).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{method}: {status:?}"
        );
        assert!(
            status.message().contains("\"intake\" may not call"),
            "{status:?}"
        );
    }
    // Escalation's key makes escalation's calls.
    let escalation = credential(&deployment.escalation_private, "escalation");
    assert_eq!(
        call(&server, "RecordClockChange", escalation)
            .await
            .unwrap(),
        "escalation (service)"
    );
}

#[tokio::test]
async fn a_service_key_speaks_only_for_its_own_service() {
    let deployment = deployment();
    let server = spawn_server(&deployment.receiver).await;
    // Intake's key, claiming to be escalation (whose calls it would get).
    let impostor = credential(&deployment.intake_private, "escalation");
    let status = call(&server, "RecordClockChange", impostor)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // A key the receiver does not know (case's, not configured here).
    let (case_private, _) = key_pair();
    let status = call(&server, "GetCase", credential(&case_private, "case"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().contains("no key is configured"),
        "{status:?}"
    );

    // Intake's key, but a token that lives for a day.
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": complaints_auth::SERVICE_ISSUER, "aud": DEVELOPMENT_AUDIENCE,
        "sub": "intake", "role": "service", "iat": now, "exp": now + 86_400,
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("intake".into());
    let key = EncodingKey::from_ec_pem(deployment.intake_private.as_bytes()).unwrap();
    let long_lived = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let status = call(&server, "OpenCase", BearerToken::new(long_lived).unwrap())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().contains("lives 86400 seconds"),
        "{status:?}"
    );
}

#[tokio::test]
async fn with_service_keys_the_shared_secret_makes_no_service() {
    let deployment = deployment();
    let server = spawn_server(&deployment.receiver).await;
    let issuer = TokenIssuer::new(&deployment.receiver).unwrap();
    let shared = |subject: &str, role: Role| {
        BearerToken::new(
            issuer
                .issue(subject, role, Duration::from_secs(60))
                .unwrap(),
        )
        .unwrap()
    };
    // What any pod holding the secret could once mint for itself.
    let status = call(&server, "OpenCase", shared("intake", Role::Service))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().contains("service's own signing key"),
        "{status:?}"
    );
    // People's tokens are unaffected.
    assert_eq!(
        call(
            &server,
            "CloseCase",
            shared("hana", Role::ComplaintsHandler)
        )
        .await
        .unwrap(),
        "hana (complaints_handler)"
    );
}

#[tokio::test]
async fn without_service_keys_the_shared_secret_still_serves_the_development_suite() {
    let server = spawn_server(&AuthConfig::development()).await;
    let signer = ServiceSigner::from_config(&AuthConfig::development(), "case").unwrap();
    assert_eq!(
        call(&server, "GetCase", BearerToken::signed(signer))
            .await
            .unwrap(),
        "case (service)"
    );
}
