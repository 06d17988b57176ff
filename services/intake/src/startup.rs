//! The intake process: settings in, a listening gRPC server out.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use complaints_auth::{AuthConfig, AuthLayer, TokenVerifier};
use complaints_config::Settings;
use complaints_domain::clock::SystemClock;
use complaints_proto::complaints::intake::v1::intake_service_server::IntakeServiceServer;
use tonic::service::{Routes, RoutesBuilder};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::app::IntakeApp;
use crate::gateway::CaseGateway;
use crate::grpc::{self, IntakeGrpc};

/// The full name of the service, as health checks ask for it.
pub const SERVICE_NAME: &str = "complaints.intake.v1.IntakeService";

/// A bound, not yet serving, intake server.
///
/// `build` binds the listener, so the port is known (and taken) before
/// [`run_until_stopped`](Self::run_until_stopped) serves on it: a test binds
/// port 0 and reads [`port`](Self::port).
#[derive(Debug)]
pub struct Application {
    port: u16,
    incoming: TcpIncoming,
    routes: Routes,
    auth: AuthLayer,
    health: HealthReporter,
}

impl Application {
    /// The production wiring: refuses the development signing key unless
    /// `COMPLAINTS_ALLOW_DEV_KEY=true`, connects to (and migrates) the
    /// database, reaches the case service at `settings.case_url` lazily, and
    /// binds `settings.listen`.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        refuse_development_key(&settings)?;
        if settings.database_url == complaints_config::sqlite_url(&settings.data_dir) {
            std::fs::create_dir_all(&settings.data_dir).with_context(|| {
                format!("creating the data folder {}", settings.data_dir.display())
            })?;
        }
        let db = complaints_store::db::connect(&settings.database_url)
            .await
            .context("connecting to the database")?;
        let gateway = CaseGateway::from_settings(&settings)?;
        let app = IntakeApp::new(db, gateway, Arc::new(SystemClock));
        Self::build_with_app(settings.listen, &settings.auth, app).await
    }

    /// Serves a ready-made [`IntakeApp`] behind authentication from `auth`,
    /// on `listen` (port 0 picks a free port). No check of the key: the
    /// caller chose it (tests use the development key).
    pub async fn build_with_app(
        listen: SocketAddr,
        auth: &AuthConfig,
        app: IntakeApp,
    ) -> anyhow::Result<Application> {
        let verifier = TokenVerifier::new(auth).context("reading the token verification keys")?;
        let incoming = TcpIncoming::bind(listen)
            .with_context(|| format!("binding {listen}"))?
            .with_nodelay(Some(true));
        let address = incoming.local_addr().context("reading the bound address")?;

        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<IntakeServiceServer<IntakeGrpc>>()
            .await;
        let mut routes = RoutesBuilder::default();
        routes
            .add_service(grpc::service(app))
            .add_service(health_service);
        complaints_rpc::reflection_services(&mut routes).context("building reflection")?;

        tracing::info!(%address, "intake listening");
        Ok(Application {
            port: address.port(),
            incoming,
            routes: routes.routes(),
            auth: AuthLayer::new(verifier),
            health,
        })
    }

    /// The port the server is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then reports `NOT_SERVING` to
    /// health checks, stops taking calls and finishes those in flight.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let health = self.health;
        let stopping = async move {
            shutdown.await;
            health
                .set_not_serving::<IntakeServiceServer<IntakeGrpc>>()
                .await;
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            tracing::info!("intake stopping: finishing calls in flight");
        };
        Server::builder()
            .layer(self.auth)
            .add_routes(self.routes)
            .serve_with_incoming_shutdown(self.incoming, stopping)
            .await
            .context("serving gRPC")?;
        tracing::info!("intake stopped");
        Ok(())
    }
}

/// Refuses the public development signing key, with which anyone can mint
/// a token for any role, unless `COMPLAINTS_ALLOW_DEV_KEY=true`; says so in
/// the log either way.
fn refuse_development_key(settings: &Settings) -> anyhow::Result<()> {
    if let Err(error) = settings.check_production_keys() {
        tracing::error!(%error, "intake refuses to start with the development signing key");
        return Err(error.into());
    }
    if settings.auth.is_development() {
        tracing::warn!(
            "accepting tokens signed with the public DEVELOPMENT key ({}=true): anyone can mint any role; never run like this with real data",
            complaints_config::env::ALLOW_DEV_KEY
        );
    }
    Ok(())
}
