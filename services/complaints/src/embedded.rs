//! The embedded suite: all four services in one process, on one address,
//! on one SQLite database, with the deadline queue served from the database
//! and emails and letters written to an outbox folder. It composes the four
//! services' builders and nothing else.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use complaints_auth::TokenVerifier;
use complaints_config::Settings;
use complaints_domain::clock::{Clock, ManualClock, SystemClock};
use complaints_proto::complaints::testing::v1::clock_service_server::ClockServiceServer;
use complaints_rpc::peers::LocalServices;
use complaints_rpc::service::{Application, ServiceParts};

use crate::test_clock::{TestClock, Workers};

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
    application: Application,
}

impl Embedded {
    /// Creates the data folder and its SQLite database, builds every
    /// service, and binds the address (port 0 picks a free one).
    pub async fn build(options: DevOptions, mut settings: Settings) -> anyhow::Result<Embedded> {
        std::fs::create_dir_all(&options.data_dir)
            .with_context(|| format!("creating the data folder {}", options.data_dir.display()))?;
        let database_url = complaints_config::sqlite_url(&options.data_dir);
        settings.data_dir = options.data_dir.clone();
        settings.database_url = database_url.clone();
        settings.delivery.outbox_dir = options.data_dir.join("outbox");
        // One process: the deadline queue is served from the database.
        settings.redis_url = None;
        let (clock, manual): (Arc<dyn Clock>, Option<ManualClock>) = if options.test_clock {
            let manual = ManualClock::new(chrono::Utc::now());
            (Arc::new(manual.clone()), Some(manual))
        } else {
            (Arc::new(SystemClock), None)
        };
        let db = complaints_store::db::connect(&database_url)
            .await
            .with_context(|| format!("opening {database_url}"))?;
        let local = LocalServices::default();
        let parts = |subject| {
            ServiceParts::in_process(settings.clone(), subject, clock.clone(), db.clone(), &local)
        };
        let services = vec![
            complaints_case::build(parts(complaints_case::SUBJECT)).await?,
            complaints_escalation::build(parts(complaints_escalation::SUBJECT)).await?,
            complaints_notification::build(parts(complaints_notification::SUBJECT)).await?,
            complaints_intake::build(parts(complaints_intake::SUBJECT).without_database()).await?,
        ];
        for service in &services {
            service.register_in(&local);
        }
        let verifier = TokenVerifier::new(&settings.auth).context("token settings")?;
        let mut application = Application::bind(options.listen, verifier, services)
            .await?
            .with_serve_options(complaints_rpc::ServeOptions::from_settings(&settings));
        if let Some(manual) = manual {
            // One task runs every worker's passes, taking turns with
            // Advance: see `TestClock`.
            let test_clock = TestClock::new(manual, Workers::new(application.take_workers()));
            let served = test_clock.clone();
            application.add_routes(move |routes| {
                routes.add_service(ClockServiceServer::new(served));
            });
            application.add_background(move |stop| async move {
                test_clock.run_between_advances(stop.wait()).await
            });
        }
        Ok(Embedded { application })
    }

    pub fn address(&self) -> SocketAddr {
        self.application.address()
    }

    /// Serves until `shutdown` resolves; calls in flight finish first, then
    /// the workers stop and release their leases.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        self.application.run_until_stopped(shutdown).await
    }
}
