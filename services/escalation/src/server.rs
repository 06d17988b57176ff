//! The production `escalation` process: its gRPC server, its firing worker,
//! its outbox relay and, with Redis, the index reconciler.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use complaints_auth::TokenVerifier;
use complaints_config::Settings;
use complaints_deadlines::{DeadlineQueue, RedisQueue, RedisQueueConfig, SqlQueue, SqlQueueConfig};
use complaints_domain::clock::Clock;
use complaints_proto::complaints::escalation::v1::escalation_service_server::EscalationServiceServer;
use complaints_rpc::peers::{self, CasePeer, NotificationPeer};
use complaints_store::relay::Relay;
use tokio::net::TcpListener;

use crate::{
    CASE_TOPIC, EscalationApp, EscalationDelivery, EscalationGrpc, NOTIFY_TOPIC, SERVICE_NAME,
};

/// How often the Redis index is checked against the database.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    app: EscalationApp,
    relays: Vec<Relay>,
    verifier: TokenVerifier,
    redis: Option<Arc<RedisQueue>>,
}

impl Application {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        settings.check_production_keys()?;
        let verifier = TokenVerifier::new(&settings.auth)?;
        let db = complaints_store::db::connect(&settings.database_url).await?;
        let (queue, redis): (Arc<dyn DeadlineQueue>, _) = match &settings.redis_url {
            Some(url) => {
                let config = RedisQueueConfig {
                    key_prefix: settings.redis_prefix.clone(),
                    ..RedisQueueConfig::default()
                };
                let queue = Arc::new(RedisQueue::connect(db.clone(), url, config).await?);
                (queue.clone(), Some(queue))
            }
            None => {
                tracing::warn!(
                    "REDIS_URL is not set: the deadline queue is served from the database alone"
                );
                (
                    Arc::new(SqlQueue::new(db.clone(), SqlQueueConfig::default())),
                    None,
                )
            }
        };
        let token = peers::service_token(&settings, "escalation")?;
        let case = CasePeer::remote(
            "escalation",
            peers::channel("COMPLAINTS_CASE_URL", &settings.case_url)?,
            token.clone(),
        );
        let notification = NotificationPeer::remote(
            "escalation",
            peers::channel("COMPLAINTS_NOTIFICATION_URL", &settings.notification_url)?,
            token,
        );
        let app = EscalationApp::new(
            queue,
            settings.calendar,
            settings.policy.warn_before_working_days,
            clock.clone(),
            case.clone(),
        )
        .with_lease(settings.deadline_lease);
        let delivery = Arc::new(EscalationDelivery { notification, case });
        let relays = [NOTIFY_TOPIC, CASE_TOPIC]
            .into_iter()
            .map(|topic| {
                Relay::new(
                    db.clone(),
                    topic,
                    delivery.clone(),
                    clock.clone(),
                    app.outbox_wake(),
                )
            })
            .collect();
        let listener = TcpListener::bind(settings.listen).await?;
        let port = listener.local_addr()?.port();
        Ok(Application {
            listener,
            port,
            app,
            relays,
            verifier,
            redis,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        // Health and reflection are added by `complaints_rpc::serve`.
        let mut routes = tonic::service::RoutesBuilder::default();
        routes.add_service(EscalationServiceServer::new(EscalationGrpc::new(
            self.app.clone(),
        )));

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let mut background = tokio::task::JoinSet::new();
        {
            let app = self.app.clone();
            let done = wait(stopped.clone());
            background.spawn(async move { app.run_worker(done).await });
        }
        for relay in self.relays {
            let done = wait(stopped.clone());
            background.spawn(async move { relay.run(done).await });
        }
        let reconciler = self
            .redis
            .as_ref()
            .map(|redis| redis.spawn_reconciler(RECONCILE_EVERY, wait(stopped.clone())));

        tracing::info!(port = self.port, "escalation service listening");
        complaints_rpc::serve(
            self.listener,
            self.verifier,
            routes,
            &[SERVICE_NAME],
            shutdown,
        )
        .await?;
        let _ = stop.send(true);
        while background.join_next().await.is_some() {}
        if let Some(reconciler) = reconciler {
            let _ = reconciler.await;
        }
        tracing::info!("escalation service stopped");
        Ok(())
    }
}
