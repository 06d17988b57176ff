//! The limits every server applies: one call too many is refused at once, a
//! call that outlives the call timeout is ended, a message over its call's
//! size is refused, and reflection is served only when turned on.

use std::time::Duration;

use complaints_auth::BearerToken;
use complaints_config::ServerLimits;
use complaints_proto::complaints::testing::v1::clock_service_client::ClockServiceClient;
use complaints_proto::complaints::testing::v1::{AdvanceRequest, NowRequest};
use complaints_rpc::ServeOptions;
use complaints_rpc::peers::channel;
use complaints_telemetry::WithTraceContext;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{SERVICE, serve, token};

fn plain(address: std::net::SocketAddr) -> Channel {
    channel(
        "COMPLAINTS_CASE_URL",
        &format!("http://{address}"),
        &Default::default(),
    )
    .unwrap()
}

fn clock(
    channel: Channel,
) -> ClockServiceClient<InterceptedService<Channel, WithTraceContext<BearerToken>>> {
    ClockServiceClient::with_interceptor(channel, WithTraceContext::new(token()))
}

fn with_limits(limits: ServerLimits) -> ServeOptions {
    ServeOptions {
        limits,
        ..ServeOptions::default()
    }
}

#[tokio::test]
async fn a_call_that_outlives_the_call_timeout_is_ended_with_cancelled() {
    let server = serve(with_limits(ServerLimits {
        call_timeout: Duration::from_millis(200),
        ..ServerLimits::default()
    }))
    .await;
    let status = clock(plain(server.address))
        .advance(AdvanceRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    // The server still answers.
    clock(plain(server.address))
        .now(NowRequest {})
        .await
        .unwrap();
    server.served.stop().await;
}

#[tokio::test]
async fn a_call_beyond_the_concurrency_limit_is_refused_at_once_with_resource_exhausted() {
    let mut server = serve(with_limits(ServerLimits {
        max_concurrent_calls: 1,
        ..ServerLimits::default()
    }))
    .await;
    let mut slow = clock(plain(server.address));
    let in_flight = tokio::spawn(async move { slow.advance(AdvanceRequest::default()).await });
    server.started.recv().await.unwrap();

    // Another connection: the limit is the server's, not the connection's.
    let status = clock(plain(server.address))
        .now(NowRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // The slow call's caller gives up; its place is free again.
    in_flight.abort();
    let _ = in_flight.await;
    let mut answered = false;
    while !answered {
        match clock(plain(server.address)).now(NowRequest {}).await {
            Ok(_) => answered = true,
            Err(status) => assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}"),
        }
        tokio::task::yield_now().await;
    }
    server.served.stop().await;
}

#[tokio::test]
async fn a_message_over_the_ordinary_limit_is_refused_with_resource_exhausted() {
    let server = serve(ServeOptions::default()).await;
    let mut health = HealthClient::new(plain(server.address));
    let within = health
        .check(HealthCheckRequest {
            service: SERVICE.to_owned(),
        })
        .await
        .unwrap();
    assert_eq!(within.into_inner().status, 1, "SERVING");

    let oversized = health
        .check(HealthCheckRequest {
            service: "x".repeat(1024 * 1024 + 1),
        })
        .await
        .unwrap_err();
    assert_eq!(oversized.code(), Code::ResourceExhausted, "{oversized:?}");
    assert!(
        oversized.message().contains("at most 1048576"),
        "{oversized:?}"
    );
    server.served.stop().await;
}

/// The services a server lists through reflection, or the status refusing it.
async fn reflected(address: std::net::SocketAddr) -> Result<Vec<String>, tonic::Status> {
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

    let mut grpc = tonic::client::Grpc::new(plain(address));
    grpc.ready().await.unwrap();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let path = http::uri::PathAndQuery::from_static(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    );
    let codec =
        tonic_prost::ProstCodec::<ServerReflectionRequest, ServerReflectionResponse>::default();
    let mut responses = grpc
        .streaming(
            tonic::Request::new(tokio_stream::once(request)),
            path,
            codec,
        )
        .await?
        .into_inner();
    let mut names = Vec::new();
    while let Some(response) = responses.message().await? {
        if let Some(MessageResponse::ListServicesResponse(list)) = response.message_response {
            names.extend(list.service.into_iter().map(|s| s.name));
        }
    }
    Ok(names)
}

#[tokio::test]
async fn reflection_is_served_only_when_turned_on() {
    let on = serve(ServeOptions::default()).await;
    let names = reflected(on.address).await.unwrap();
    assert!(names.iter().any(|n| n == SERVICE), "{names:?}");
    on.served.stop().await;

    let off = serve(ServeOptions {
        reflection: false,
        ..ServeOptions::default()
    })
    .await;
    let status = reflected(off.address).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    off.served.stop().await;
}
