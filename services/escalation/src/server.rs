//! The escalation service, built: its gRPC handler, its firing worker, its
//! outbox relays and, with Redis, the index reconciler. Its binary and the
//! embedded suite both build it here.

use std::sync::Arc;
use std::time::Duration;

use complaints_config::Settings;
use complaints_deadlines::{DeadlineQueue, RedisQueue, RedisQueueConfig, SqlQueue, SqlQueueConfig};
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

/// Builds the service on the deadline queue the settings name: the Redis
/// index over the database rows when `REDIS_URL` is set, else the database
/// alone.
pub async fn build(parts: ServiceParts) -> anyhow::Result<Service> {
    let ServiceParts {
        settings,
        clock,
        db,
        peers,
    } = parts;
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
            app.outbox_wake(),
        ));
    }
    if let Some(redis) = redis {
        service = service.with_worker(Reconciler(redis));
    }
    Ok(service)
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
        Box::pin(self.0.run_worker(stop.wait()))
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

/// Checks the Redis index against the database rows, and rebuilds it when
/// Redis has lost it.
#[derive(Debug)]
struct Reconciler(Arc<RedisQueue>);

impl Worker for Reconciler {
    fn run(&self, stop: Stop) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.0.spawn_reconciler(RECONCILE_EVERY, stop.wait()).await;
        })
    }

    fn run_once(&self) -> BoxFuture<'_, anyhow::Result<Pass>> {
        Box::pin(async {
            self.0.reconcile().await?;
            Ok(Pass::default())
        })
    }
}
