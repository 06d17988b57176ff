//! The embedded suite: every service in one process, on one address.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use complaints_auth::{AuthConfig, AuthLayer, TokenVerifier};
use complaints_case::{CaseApp, CaseGrpc};
use complaints_config::Settings;
use complaints_domain::clock::{Clock, ManualClock, SystemClock};
use complaints_intake::{CaseGateway, IntakeApp};
use complaints_proto::complaints::case::v1::case_service_server::{CaseService, CaseServiceServer};
use complaints_proto::complaints::testing::v1::clock_service_server::ClockServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::test_clock::TestClock;

/// The services `complaints dev` serves, as health reports them.
pub const SERVICE_NAMES: [&str; 2] = [
    "complaints.intake.v1.IntakeService",
    complaints_case::SERVICE_NAME,
];

/// How to run the embedded suite.
#[derive(Debug, Clone)]
pub struct DevOptions {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Serve `complaints.testing.v1.ClockService` with a clock that only
    /// moves when told to.
    pub test_clock: bool,
}

/// A built embedded suite, bound and ready.
#[derive(Debug)]
pub struct Embedded {
    listener: TcpListener,
    address: SocketAddr,
    case: CaseApp,
    intake: IntakeApp,
    clock: Option<ManualClock>,
    verifier: TokenVerifier,
}

impl Embedded {
    /// Creates the data folder and its SQLite database, builds every
    /// service, and binds the address (port 0 picks a free one).
    pub async fn build(options: DevOptions, mut settings: Settings) -> anyhow::Result<Embedded> {
        std::fs::create_dir_all(&options.data_dir)
            .with_context(|| format!("creating the data folder {}", options.data_dir.display()))?;
        let database_url = complaints_config::sqlite_url(&options.data_dir);
        settings.data_dir = options.data_dir.clone();
        let (clock, manual): (Arc<dyn Clock>, Option<ManualClock>) = if options.test_clock {
            let manual = ManualClock::new(chrono::Utc::now());
            (Arc::new(manual.clone()), Some(manual))
        } else {
            (Arc::new(SystemClock), None)
        };
        let db = complaints_store::db::connect(&database_url)
            .await
            .with_context(|| format!("opening {database_url}"))?;
        let case = CaseApp::new(
            db.clone(),
            settings.policy,
            settings.calendar,
            clock.clone(),
        )
        .await
        .context("starting the case service")?;
        let case_service: Arc<dyn CaseService> = Arc::new(CaseGrpc::new(case.clone()));
        let intake = IntakeApp::new(db, CaseGateway::in_process(case_service), clock);
        let verifier = TokenVerifier::new(&settings.auth).context("token settings")?;
        let listener = TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("listening on {}", options.listen))?;
        let address = listener.local_addr()?;
        Ok(Embedded {
            listener,
            address,
            case,
            intake,
            clock: manual,
            verifier,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` resolves; calls in flight finish first.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let (health, health_service) = tonic_health::server::health_reporter();
        for name in SERVICE_NAMES {
            health
                .set_service_status(name, tonic_health::ServingStatus::Serving)
                .await;
        }
        let mut routes = tonic::service::RoutesBuilder::default();
        routes
            .add_service(health_service)
            .add_service(CaseServiceServer::new(CaseGrpc::new(self.case)))
            .add_service(complaints_intake::service(self.intake));
        if let Some(clock) = self.clock {
            routes.add_service(ClockServiceServer::new(TestClock::new(clock)));
        }
        complaints_rpc::reflection_services(&mut routes)?;
        let shutdown = async {
            shutdown.await;
            for name in SERVICE_NAMES {
                health
                    .set_service_status(name, tonic_health::ServingStatus::NotServing)
                    .await;
            }
        };
        tonic::transport::Server::builder()
            .layer(AuthLayer::new(self.verifier))
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), shutdown)
            .await?;
        Ok(())
    }
}

/// Whether `auth` is the development key, which `complaints token` signs with.
pub fn uses_development_key(auth: &AuthConfig) -> bool {
    auth.is_development()
}
