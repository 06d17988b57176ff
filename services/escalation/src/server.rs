//! The escalation service, built: its gRPC handler, its firing worker, its
//! outbox relays and, with Redis, the keeper of the index. Its binary and the
//! embedded suite both build it here.

use std::sync::Arc;
use std::time::Duration;

use complaints_config::Settings;
use complaints_deadlines::{
    DeadlineQueue, FailoverQueue, RedisQueueConfig, SqlQueue, SqlQueueConfig,
};
use complaints_domain::clock::Clock;
use complaints_proto::complaints::escalation::v1::escalation_service_server::EscalationServiceServer;
use complaints_rpc::peers::LocalHandle;
use complaints_rpc::service::{Application, BoxFuture, Pass, Service, ServiceParts, Stop, Worker};
use complaints_store::relay::Relay;

use crate::{
    CASE_TOPIC, EscalationApp, EscalationDelivery, EscalationGrpc, NOTIFY_TOPIC, SERVICE_NAME,
};

/// The subject of the escalation service's own credentials.
pub const SUBJECT: &str = "escalation";

/// How often the Redis index is checked against the database.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);
/// How often Redis is tried while the queue is served from the database
/// alone.
const RETRY_INDEX_EVERY: Duration = Duration::from_secs(5);

/// Builds the service on the deadline queue the settings name: the Redis
/// index over the database rows when `REDIS_URL` is set (served from the
/// database alone while Redis does not answer, at start too), else the
/// database alone.
pub async fn build(parts: ServiceParts) -> anyhow::Result<Service> {
    let ServiceParts {
        settings,
        clock,
        db,
        peers,
    } = parts;
    let (queue, failover): (Arc<dyn DeadlineQueue>, _) = match &settings.redis_url {
        Some(url) => {
            let config = RedisQueueConfig {
                key_prefix: settings.redis_prefix.clone(),
                ca_pem: settings.redis_ca_pem.clone(),
                ..RedisQueueConfig::default()
            };
            let queue = Arc::new(FailoverQueue::connect(db.clone(), url, config).await?);
            (queue.clone(), Some(queue))
        }
        None => {
            tracing::info!(
                "REDIS_URL is not set: the deadline queue is served from the database alone"
            );
            (
                Arc::new(SqlQueue::new(db.clone(), SqlQueueConfig::default())),
                None,
            )
        }
    };
    let app = EscalationApp::new(
        queue,
        settings.calendar,
        settings.policy.warn_before_working_days,
        clock.clone(),
        peers.case.clone(),
    )
    .with_lease(settings.deadline_lease)
    .with_extensions(settings.policy.extensions.clone());
    let delivery = Arc::new(EscalationDelivery {
        notification: peers.notification,
        case: peers.case,
    });
    let handler = EscalationGrpc::new(app.clone());
    let local = LocalHandle::Escalation(Arc::new(handler.clone()));
    let mut service = Service::new(SERVICE_NAME, move |routes| {
        routes.add_service(EscalationServiceServer::new(handler));
    })
    .with_local(local)
    .with_worker(Firing(app.clone()));
    for topic in [NOTIFY_TOPIC, CASE_TOPIC] {
        service = service.with_worker(Relay::new(
            db.clone(),
            topic,
            delivery.clone(),
            clock.clone(),
            app.outbox_wake().of_topic(topic),
        ));
    }
    if let Some(failover) = failover {
        service = service.with_worker(IndexKeeper(failover));
    }
    Ok(service.with_worker(crate::metrics::register(db, clock)))
}

/// The service as the `escalation` binary runs it, on `clock`.
pub async fn application(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
    Application::production(settings, SUBJECT, clock, build).await
}

/// The firing worker: claims due deadlines and fires each once in effect.
#[derive(Debug)]
struct Firing(EscalationApp);

impl Worker for Firing {
    fn run(&self, stop: Stop) -> BoxFuture<'_, ()> {
        Box::pin(self.0.run_worker(stop))
    }

    fn run_once(&self) -> BoxFuture<'_, anyhow::Result<Pass>> {
        Box::pin(async {
            let fired = self.0.fire_due().await?;
            Ok(Pass {
                work: fired.total(),
                fired: fired.breached + fired.referral_updates + fired.settled_quietly,
            })
        })
    }

    fn next_due(&self) -> BoxFuture<'_, anyhow::Result<Option<chrono::DateTime<chrono::Utc>>>> {
        Box::pin(async { Ok(self.0.queue().next_due_at().await?) })
    }
}

/// Keeps the Redis index: checks it against the database rows every
/// [`RECONCILE_EVERY`] (rebuilding it when Redis lost it) and, while Redis
/// does not answer and the queue is served from the rows alone, tries to
/// reach it every [`RETRY_INDEX_EVERY`], rebuilding the index and switching
/// back once it answers.
#[derive(Debug)]
struct IndexKeeper(Arc<FailoverQueue>);

impl Worker for IndexKeeper {
    fn run(&self, stop: Stop) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                match self.0.check().await {
                    Ok(health) => tracing::debug!(?health, "deadline index checked"),
                    Err(error) => tracing::warn!(%error, "deadline index check failed"),
                }
                let pause = if self.0.is_degraded() {
                    RETRY_INDEX_EVERY
                } else {
                    RECONCILE_EVERY
                };
                if stop.sleep(pause).await.is_break() {
                    return;
                }
            }
        })
    }

    fn run_once(&self) -> BoxFuture<'_, anyhow::Result<Pass>> {
        Box::pin(async {
            self.0.check().await?;
            Ok(Pass::default())
        })
    }
}
