//! How every server is served: the auth layer, per-call span and metrics,
//! health, optional reflection, optional TLS, and the limits on calls.

use std::future::Future;

use anyhow::Context as _;
use complaints_auth::{AuthLayer, TokenVerifier};
use complaints_config::{ServerLimits, ServerTls, Settings};
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tower::limit::ConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;

use crate::limits::{MessageLimitLayer, MessageLimits};
use crate::observe::GrpcMetricsLayer;

/// How one server is served, beside its routes.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// TLS, when the server has a certificate; else plaintext.
    pub tls: Option<ServerTls>,
    /// Concurrency and time limits.
    pub limits: ServerLimits,
    /// The largest request message of each kind of call.
    pub messages: MessageLimits,
    /// Whether server reflection is served (it answers without a token).
    pub reflection: bool,
}

impl Default for ServeOptions {
    /// Plaintext, the default limits, reflection on: the embedded suite.
    fn default() -> Self {
        ServeOptions {
            tls: None,
            limits: ServerLimits::default(),
            messages: MessageLimits::default(),
            reflection: true,
        }
    }
}

impl ServeOptions {
    /// As `settings` say (`COMPLAINTS_TLS_*`, `COMPLAINTS_MAX_*`,
    /// `COMPLAINTS_CALL_TIMEOUT_SECONDS`, `COMPLAINTS_REFLECTION`, and the
    /// evidence limit for the calls that carry documents).
    pub fn from_settings(settings: &Settings) -> Self {
        let server = &settings.server;
        ServeOptions {
            tls: server.tls.clone(),
            limits: server.limits,
            messages: MessageLimits::from_settings(settings),
            reflection: server.reflection,
        }
    }

    fn tls_config(&self) -> Option<ServerTlsConfig> {
        let tls = self.tls.as_ref()?;
        let config = ServerTlsConfig::new()
            .identity(Identity::from_pem(&tls.cert_pem, tls.key_pem.expose()));
        Some(match &tls.client_ca_pem {
            Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
            None => config,
        })
    }
}

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

/// How often a stopping server says it still waits for connections.
const STILL_DRAINING_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The connections `listener` accepts, each with `TCP_NODELAY` set.
///
/// A gRPC response goes out as several writes (headers, then the message and
/// its trailers); with Nagle's algorithm on, the kernel holds a later small
/// write back until the peer acknowledges the earlier one, and the peer
/// delays that acknowledgement by up to 40 ms. Tonic sets the option only on
/// listeners it binds itself, not on one handed to it, so it is set here.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Serves `routes` on `listener` behind the auth layer, each call in its
/// own span (joined to the caller's trace) and counted, with health (each of
/// `service_names` SERVING until `shutdown` resolves, then NOT_SERVING so
/// load balancers stop sending) and, if `options` say so, reflection and TLS.
/// A call beyond the concurrency limit is refused at once
/// (`RESOURCE_EXHAUSTED`), one that outlives the call timeout is ended
/// (`CANCELLED`), and a request message over its call's size limit is
/// refused (`RESOURCE_EXHAUSTED`). After `shutdown`, no new calls are taken
/// and the calls in flight finish before this returns.
pub async fn serve(
    listener: TcpListener,
    verifier: TokenVerifier,
    mut routes: RoutesBuilder,
    service_names: &[&'static str],
    options: &ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in service_names {
        health
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    routes.add_service(health_service);
    if options.reflection {
        reflection_services(&mut routes)?;
    }
    let (stopping, mut draining) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        for name in service_names {
            health
                .set_service_status(*name, tonic_health::ServingStatus::NotServing)
                .await;
        }
        tracing::info!("stopping: finishing calls in flight");
        let _ = stopping.send(true);
    };
    // Once stopping, says every few seconds that connections are still
    // open, so a shutdown cut short by the orchestrator says why.
    let still_draining = async move {
        if draining.wait_for(|stopping| *stopping).await.is_err() {
            return std::future::pending().await;
        }
        loop {
            tokio::time::sleep(STILL_DRAINING_EVERY).await;
            tracing::warn!("still finishing calls in flight: a connection has not closed");
        }
    };
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = options.tls_config() {
        server = server
            .tls_config(tls)
            .context("the server's TLS certificate and key (COMPLAINTS_TLS_CERT_FILE, COMPLAINTS_TLS_KEY_FILE)")?;
    }
    let serving = server
        .timeout(options.limits.call_timeout)
        .concurrency_limit_per_connection(options.limits.max_concurrent_calls_per_connection)
        .trace_fn(complaints_telemetry::grpc_server_span)
        .layer(GrpcMetricsLayer)
        // One limit over every connection (the layer's clones share its
        // permits); a call beyond it is shed at once, not queued.
        .layer(LoadShedLayer::new())
        .layer(ConcurrencyLimitLayer::new(
            options.limits.max_concurrent_calls,
        ))
        .layer(MessageLimitLayer::new(options.messages))
        .layer(AuthLayer::new(verifier))
        .add_routes(routes.routes())
        .serve_with_incoming_shutdown(incoming(listener), shutdown);
    tokio::select! {
        served = serving => served?,
        () = still_draining => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt as _;

    use super::*;

    #[tokio::test]
    async fn accepted_connections_send_small_writes_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut accepted = incoming(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let stream = accepted.next().await.unwrap().unwrap();
        assert!(stream.nodelay().unwrap(), "TCP_NODELAY is not set");
    }
}
