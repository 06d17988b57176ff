//! The production `case` process: one gRPC server on its own port.

use std::future::Future;
use std::sync::Arc;

use complaints_auth::TokenVerifier;
use complaints_config::Settings;
use complaints_domain::clock::Clock;
use complaints_proto::complaints::case::v1::case_service_server::CaseServiceServer;
use tokio::net::TcpListener;

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
        let mut routes = tonic::service::RoutesBuilder::default();
        routes.add_service(CaseServiceServer::new(CaseGrpc::new(self.app)));
        tracing::info!(port = self.port, "case service listening");
        complaints_rpc::serve(
            self.listener,
            self.verifier,
            routes,
            &[SERVICE_NAME],
            shutdown,
        )
        .await?;
        tracing::info!("case service stopped");
        Ok(())
    }
}
