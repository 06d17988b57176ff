//! The embedded suite: all four services in one process, on one address,
//! on one SQLite database, with the deadline queue served from the database
//! and emails and letters written to an outbox folder.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use complaints_auth::TokenVerifier;
use complaints_case::relay::CaseChangeDelivery;
use complaints_case::{CaseApp, CaseGrpc};
use complaints_config::Settings;
use complaints_deadlines::{DeadlineQueue, SqlQueue, SqlQueueConfig};
use complaints_domain::clock::{Clock, ManualClock, SystemClock};
use complaints_escalation::{
    CASE_TOPIC, EscalationApp, EscalationDelivery, EscalationGrpc, NOTIFY_TOPIC,
};
use complaints_intake::{CaseGateway, IntakeApp};
use complaints_notification::{Delivery, DeliverySettings, NoticeRelay, NotificationGrpc};
use complaints_proto::complaints::case::v1::case_service_server::{CaseService, CaseServiceServer};
use complaints_proto::complaints::escalation::v1::escalation_service_server::{
    EscalationService, EscalationServiceServer,
};
use complaints_proto::complaints::notification::v1::notification_service_server::{
    NotificationService, NotificationServiceServer,
};
use complaints_proto::complaints::testing::v1::clock_service_server::ClockServiceServer;
use complaints_rpc::peers::{CasePeer, EscalationPeer, NotificationPeer};
use complaints_store::relay::Relay;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::test_clock::TestClock;

/// The services `complaints dev` serves, as health reports them.
pub const SERVICE_NAMES: [&str; 4] = [
    complaints_intake::SERVICE_NAME,
    complaints_case::SERVICE_NAME,
    complaints_escalation::SERVICE_NAME,
    complaints_notification::SERVICE_NAME,
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

/// The background work of the suite, which a test clock also drives.
pub struct Workers {
    pub case_relay: Relay,
    pub escalation: EscalationApp,
    pub escalation_relays: Vec<Relay>,
    pub delivery: Delivery,
    pub delivery_wake: Arc<Notify>,
    pub notice_relay: Relay,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers").finish_non_exhaustive()
    }
}

impl Workers {
    /// Runs every worker's pass until none has anything left to do: case
    /// changes reach the clocks and the notification queue, due deadlines
    /// fire, notices are sent and recorded. Returns the deadlines fired.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut fired = 0;
        for _ in 0..100 {
            let mut work = self.case_relay.run_once().await?;
            let passed = self.escalation.fire_due().await?;
            fired += passed.breached + passed.referral_updates + passed.settled_quietly;
            work += passed.total();
            for relay in &self.escalation_relays {
                work += relay.run_once().await?;
            }
            work += self.delivery.deliver_due().await?;
            work += self.notice_relay.run_once().await?;
            if work == 0 {
                return Ok(fired);
            }
        }
        anyhow::bail!("the suite did not settle after 100 passes")
    }

    /// When the next deadline or notification retry is due.
    pub async fn next_due(&self) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        let deadline = self.escalation.queue().next_due_at().await?;
        let delivery = self.delivery.next_due().await?;
        Ok(match (deadline, delivery) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}

/// A built embedded suite, bound and ready.
#[derive(Debug)]
pub struct Embedded {
    listener: TcpListener,
    address: SocketAddr,
    case: CaseApp,
    intake: IntakeApp,
    escalation: EscalationApp,
    notification: NotificationGrpc,
    workers: Arc<Workers>,
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
        settings.delivery.outbox_dir = options.data_dir.join("outbox");
        let delivery_parts = DeliverySettings::from_config(&settings.delivery)?;
        let (clock, manual): (Arc<dyn Clock>, Option<ManualClock>) = if options.test_clock {
            let manual = ManualClock::new(chrono::Utc::now());
            (Arc::new(manual.clone()), Some(manual))
        } else {
            (Arc::new(SystemClock), None)
        };
        let db = complaints_store::db::connect(&database_url)
            .await
            .with_context(|| format!("opening {database_url}"))?;
        let calendar = settings.calendar.clone();
        let policy = settings.policy.clone();
        let case = CaseApp::new(
            db.clone(),
            settings.policy,
            settings.calendar,
            clock.clone(),
        )
        .await
        .context("starting the case service")?;
        let case_service: Arc<dyn CaseService> = Arc::new(CaseGrpc::new(case.clone()));
        let queue: Arc<dyn DeadlineQueue> =
            Arc::new(SqlQueue::new(db.clone(), SqlQueueConfig::default()));
        let escalation = EscalationApp::new(
            queue,
            calendar.clone(),
            policy.warn_before_working_days,
            clock.clone(),
            CasePeer::in_process("escalation", case_service.clone()),
        );
        let escalation_service: Arc<dyn EscalationService> =
            Arc::new(EscalationGrpc::new(escalation.clone()));
        let delivery_wake = Arc::new(Notify::new());
        let notification = NotificationGrpc::new(db.clone(), clock.clone(), delivery_wake.clone());
        let notification_service: Arc<dyn NotificationService> = Arc::new(notification.clone());
        let delivery = delivery_parts.delivery(
            db.clone(),
            CasePeer::in_process("notification", case_service.clone()),
            clock.clone(),
            calendar,
            policy,
        );
        let case_relay = case.outbox_relay(CaseChangeDelivery {
            escalation: EscalationPeer::in_process("case", escalation_service),
            notification: NotificationPeer::in_process("case", notification_service.clone()),
        });
        let escalation_delivery = Arc::new(EscalationDelivery {
            notification: NotificationPeer::in_process("escalation", notification_service),
            case: CasePeer::in_process("escalation", case_service.clone()),
        });
        let escalation_relays = [NOTIFY_TOPIC, CASE_TOPIC]
            .into_iter()
            .map(|topic| {
                Relay::new(
                    db.clone(),
                    topic,
                    escalation_delivery.clone(),
                    clock.clone(),
                    escalation.outbox_wake(),
                )
            })
            .collect();
        let notice_relay = Relay::new(
            db.clone(),
            complaints_notification::CASE_TOPIC,
            Arc::new(NoticeRelay {
                case: CasePeer::in_process("notification", case_service.clone()),
            }),
            clock.clone(),
            Arc::new(Notify::new()),
        );
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
            escalation: escalation.clone(),
            notification,
            workers: Arc::new(Workers {
                case_relay,
                escalation,
                escalation_relays,
                delivery,
                delivery_wake,
                notice_relay,
            }),
            clock: manual,
            verifier,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` resolves; calls in flight finish first, then
    /// the workers stop and release their leases.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut routes = tonic::service::RoutesBuilder::default();
        routes
            .add_service(CaseServiceServer::new(CaseGrpc::new(self.case)))
            .add_service(complaints_intake::service(self.intake))
            .add_service(EscalationServiceServer::new(EscalationGrpc::new(
                self.escalation,
            )))
            .add_service(NotificationServiceServer::new(self.notification));
        let test_clock = self
            .clock
            .map(|clock| TestClock::new(clock, self.workers.clone()));
        if let Some(test_clock) = &test_clock {
            routes.add_service(ClockServiceServer::new(test_clock.clone()));
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let background = match test_clock {
            // One task, taking turns with Advance: see `TestClock`.
            Some(test_clock) => {
                let mut stopped = stopped.clone();
                vec![tokio::spawn(async move {
                    let done = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    test_clock.run_between_advances(done).await;
                })]
            }
            None => spawn_workers(&self.workers, &stopped),
        };
        complaints_rpc::serve(
            self.listener,
            self.verifier,
            routes,
            &SERVICE_NAMES,
            shutdown,
        )
        .await?;
        let _ = stop.send(true);
        for task in background {
            let _ = task.await;
        }
        Ok(())
    }
}

fn spawn_workers(
    workers: &Arc<Workers>,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let mut tasks = Vec::new();
    {
        let (w, done) = (workers.clone(), wait(stopped.clone()));
        tasks.push(tokio::spawn(async move { w.case_relay.run(done).await }));
    }
    {
        let (w, done) = (workers.clone(), wait(stopped.clone()));
        tasks.push(tokio::spawn(
            async move { w.escalation.run_worker(done).await },
        ));
    }
    for index in 0..workers.escalation_relays.len() {
        let (w, done) = (workers.clone(), wait(stopped.clone()));
        tasks.push(tokio::spawn(async move {
            if let Some(relay) = w.escalation_relays.get(index) {
                relay.run(done).await;
            }
        }));
    }
    {
        let (w, done) = (workers.clone(), wait(stopped.clone()));
        tasks.push(tokio::spawn(async move {
            complaints_notification::run_delivery(&w.delivery, &w.delivery_wake, done).await;
        }));
    }
    {
        let (w, done) = (workers.clone(), wait(stopped.clone()));
        tasks.push(tokio::spawn(async move { w.notice_relay.run(done).await }));
    }
    tasks
}
