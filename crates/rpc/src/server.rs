use std::future::Future;

use complaints_auth::{AuthLayer, TokenVerifier};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::RoutesBuilder;

use crate::observe::GrpcMetricsLayer;

/// Server reflection, v1 and v1alpha, over every contract of the platform.
pub fn reflection_services(
    routes: &mut RoutesBuilder,
) -> Result<(), tonic_reflection::server::Error> {
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(complaints_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(complaints_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    routes.add_service(v1).add_service(v1alpha);
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C, saying which arrived.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutting down"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}

/// Serves `routes` on `listener` behind the auth layer, each call in its
/// own span (joined to the caller's trace) and counted, with health (each of
/// `service_names` SERVING until `shutdown` resolves, then NOT_SERVING so
/// load balancers stop sending) and reflection. After `shutdown`, no new
/// calls are taken and the calls in flight finish before this returns.
pub async fn serve(
    listener: TcpListener,
    verifier: TokenVerifier,
    mut routes: RoutesBuilder,
    service_names: &[&'static str],
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in service_names {
        health
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    routes.add_service(health_service);
    reflection_services(&mut routes)?;
    let shutdown = async {
        shutdown.await;
        for name in service_names {
            health
                .set_service_status(*name, tonic_health::ServingStatus::NotServing)
                .await;
        }
        tracing::info!("stopping: finishing calls in flight");
    };
    tonic::transport::Server::builder()
        .trace_fn(complaints_telemetry::grpc_server_span)
        .layer(GrpcMetricsLayer)
        .layer(AuthLayer::new(verifier))
        .add_routes(routes.routes())
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
