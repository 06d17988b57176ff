//! The production `case` process: one gRPC server on its own port.

use std::future::Future;
use std::sync::Arc;

use complaints_auth::{AuthLayer, TokenVerifier};
use complaints_config::Settings;
use complaints_domain::clock::Clock;
use complaints_proto::complaints::case::v1::case_service_server::CaseServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::{CaseApp, CaseGrpc, SERVICE_NAME};

/// A built case service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    app: CaseApp,
    verifier: TokenVerifier,
}

impl Application {
    /// Connects to the database (migrating it), records the policy and
    /// binds the listener. Port 0 picks a free port (see [`port`](Self::port)).
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        settings.check_production_keys()?;
        let verifier = TokenVerifier::new(&settings.auth)?;
        let db = complaints_store::db::connect(&settings.database_url).await?;
        let app = CaseApp::new(db, settings.policy, settings.calendar, clock).await?;
        let listener = TcpListener::bind(settings.listen).await?;
        let port = listener.local_addr()?.port();
        Ok(Application {
            listener,
            port,
            app,
            verifier,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then stops taking calls and lets
    /// the ones in flight finish.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_service_status(SERVICE_NAME, tonic_health::ServingStatus::Serving)
            .await;
        let mut routes = tonic::service::RoutesBuilder::default();
        routes
            .add_service(health_service)
            .add_service(CaseServiceServer::new(CaseGrpc::new(self.app)));
        complaints_rpc::reflection_services(&mut routes)?;
        tracing::info!(port = self.port, "case service listening");
        let shutdown = async {
            shutdown.await;
            health
                .set_service_status(SERVICE_NAME, tonic_health::ServingStatus::NotServing)
                .await;
        };
        tonic::transport::Server::builder()
            .layer(AuthLayer::new(self.verifier))
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await?;
        tracing::info!("case service stopped");
        Ok(())
    }
}
