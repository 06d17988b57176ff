//! The production `case` process: its gRPC server, and the relay that
//! delivers its outbox to the escalation and notification services.

use std::future::Future;
use std::sync::Arc;

use complaints_auth::TokenVerifier;
use complaints_config::Settings;
use complaints_domain::clock::Clock;
use complaints_proto::complaints::case::v1::case_service_server::CaseServiceServer;
use complaints_rpc::peers::{self, EscalationPeer, NotificationPeer};
use complaints_store::relay::Relay;
use tokio::net::TcpListener;

use crate::relay::CaseChangeDelivery;
use crate::{CaseApp, CaseGrpc, SERVICE_NAME};

/// A built case service, bound and ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    app: CaseApp,
    relay: Relay,
    verifier: TokenVerifier,
}

impl Application {
    /// Connects to the database (migrating it), records the policy and
    /// binds the listener. Port 0 picks a free port (see [`port`](Self::port)).
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        settings.check_production_keys()?;
        let verifier = TokenVerifier::new(&settings.auth)?;
        let db = complaints_store::db::connect(&settings.database_url).await?;
        let token = peers::service_token(&settings, "case")?;
        let delivery = CaseChangeDelivery {
            escalation: EscalationPeer::remote(
                "case",
                peers::channel("COMPLAINTS_ESCALATION_URL", &settings.escalation_url)?,
                token.clone(),
            ),
            notification: NotificationPeer::remote(
                "case",
                peers::channel("COMPLAINTS_NOTIFICATION_URL", &settings.notification_url)?,
                token,
            ),
        };
        let app = CaseApp::new(db, settings.policy, settings.calendar, clock).await?;
        let relay = app.outbox_relay(delivery);
        let listener = TcpListener::bind(settings.listen).await?;
        let port = listener.local_addr()?.port();
        Ok(Application {
            listener,
            port,
            app,
            relay,
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
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let relay = self.relay;
        let relaying = tokio::spawn(async move {
            relay
                .run(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
        });
        tracing::info!(port = self.port, "case service listening");
        complaints_rpc::serve(
            self.listener,
            self.verifier,
            routes,
            &[SERVICE_NAME],
            shutdown,
        )
        .await?;
        // Calls in flight have finished; the relay finishes its pass and
        // stops. Anything left in the outbox is delivered after a restart.
        let _ = stop.send(true);
        let _ = relaying.await;
        tracing::info!("case service stopped");
        Ok(())
    }
}
