//! The layer in front of a real tonic server, called by a real tonic client
//! over a loopback port: health open, everything else behind a token, and
//! the verified actor reaching a handler through `tonic::Request`.
// Test helpers outside `#[test]` functions may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use complaints_auth::{AuthConfig, AuthLayer, BearerToken, TokenIssuer, TokenVerifier, actor};
use complaints_domain::role::Role;
use tokio::sync::oneshot;
use tonic::body::Body;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::server::{NamedService, UnaryService};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_prost::ProstCodec;

/// A one-method service, `/test.WhoAmI/Call`, that answers with the caller
/// the handler reads through [`actor`]: what every real handler will do.
#[derive(Clone)]
struct WhoAmI;

impl NamedService for WhoAmI {
    const NAME: &'static str = "test.WhoAmI";
}

struct Call;

impl UnaryService<()> for Call {
    type Response = String;
    type Future = Ready<Result<Response<String>, Status>>;

    fn call(&mut self, request: Request<()>) -> Self::Future {
        ready(actor(&request).map(|actor| Response::new(actor.to_string())))
    }
}

impl tower::Service<http::Request<Body>> for WhoAmI {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<String, ()>::default());
            Ok(grpc.unary(Call, request).await)
        })
    }
}

/// A running server; dropping it stops the server.
struct TestServer {
    address: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn spawn_server() -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let verifier = TokenVerifier::new(&AuthConfig::development()).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        Server::builder()
            .layer(AuthLayer::new(verifier))
            .add_service(health)
            .add_service(WhoAmI)
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            }),
    );
    TestServer {
        address,
        _stop: stop,
    }
}

async fn channel(server: &TestServer) -> Channel {
    Channel::from_shared(format!("http://{}", server.address))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn who_am_i(channel: Channel, token: Option<&str>) -> Result<String, Status> {
    let path = PathAndQuery::from_static("/test.WhoAmI/Call");
    let codec = ProstCodec::<(), String>::default();
    let reply = match token {
        Some(token) => {
            let service = InterceptedService::new(channel, BearerToken::new(token).unwrap());
            let mut client = tonic::client::Grpc::new(service);
            client.ready().await.unwrap();
            client.unary(Request::new(()), path, codec).await
        }
        None => {
            let mut client = tonic::client::Grpc::new(channel);
            client.ready().await.unwrap();
            client.unary(Request::new(()), path, codec).await
        }
    };
    reply.map(Response::into_inner)
}

fn development_token(subject: &str, role: Role) -> String {
    TokenIssuer::new(&AuthConfig::development())
        .unwrap()
        .issue(subject, role, Duration::from_secs(300))
        .unwrap()
}

#[tokio::test]
async fn a_handler_behind_the_layer_sees_the_caller_named_by_the_token() {
    let server = spawn_server().await;
    let token = development_token("director-1", Role::Director);
    let reply = who_am_i(channel(&server).await, Some(&token)).await;
    assert_eq!(reply.unwrap(), "director-1 (director)");
}

#[tokio::test]
async fn a_call_without_a_token_is_unauthenticated_before_the_handler() {
    let server = spawn_server().await;
    let status = who_am_i(channel(&server).await, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "missing bearer token");
}

#[tokio::test]
async fn a_token_for_another_issuer_is_unauthenticated_with_the_reason() {
    let server = spawn_server().await;
    let other = AuthConfig::new("someone-else", complaints_auth::DEVELOPMENT_AUDIENCE)
        .with_hs256_secret(complaints_auth::DEVELOPMENT_SECRET);
    let token = TokenIssuer::new(&other)
        .unwrap()
        .issue("adviser-1", Role::Adviser, Duration::from_secs(300))
        .unwrap();
    let status = who_am_i(channel(&server).await, Some(&token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "token issuer is not accepted");
}

#[tokio::test]
async fn health_answers_without_a_token() {
    let server = spawn_server().await;
    let mut health = HealthClient::new(channel(&server).await);
    let reply = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(
        reply.into_inner().status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}
