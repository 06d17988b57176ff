//! Every metric family the platform exports, each with its help text, and
//! present from a process's first scrape: a counter that has not counted
//! yet is exported as 0 rather than missing, so `rate()` and `absent()`
//! alerts work from the start.
//!
//! [`describe`] gives every family its `# HELP`; [`preregister`] makes the
//! series a process will report exist at 0. Services call
//! [`preregister`] for what they report from their builders; every server
//! reports its calls and its build ([`register_server`]). The outbox's
//! backlog is measured by [`OutboxGauges`], a worker beside the relays.

use std::sync::Arc;
use std::time::Duration;

use complaints_domain::clock::Clock;
use complaints_store::DatabaseConnection;
use complaints_store::backlog::outbox_backlog;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

use crate::observe::known_methods;
use crate::service::{BoxFuture, Pass, Stop, Worker};

pub const BUILD_INFO: &str = "complaints_build_info";
pub const OUTBOX_PENDING: &str = "complaints_outbox_pending";
pub const OUTBOX_OLDEST_AGE: &str = "complaints_outbox_oldest_age_seconds";

/// How many writes shared each group commit's transaction, by `name`.
pub const GROUP_COMMIT_BATCH: &str = complaints_store::group_commit::BATCH_METRIC;

/// What a family is, as [`preregister`] creates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every family, its kind, unit and help text.
const FAMILIES: &[(&str, Kind, Option<Unit>, &str)] = &[
    (
        BUILD_INFO,
        Kind::Gauge,
        None,
        "Always 1; its labels name the service and the version running.",
    ),
    (
        "grpc_server_requests_total",
        Kind::Counter,
        None,
        "gRPC calls answered, by service, method and status code.",
    ),
    (
        "grpc_server_request_duration_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time to answer a gRPC call, by service and method.",
    ),
    (
        OUTBOX_PENDING,
        Kind::Gauge,
        None,
        "Outbox messages not yet delivered, by topic.",
    ),
    (
        OUTBOX_OLDEST_AGE,
        Kind::Gauge,
        Some(Unit::Seconds),
        "Age of the oldest outbox message not yet delivered, by topic; 0 when none waits.",
    ),
    (
        "complaints_outbox_given_up_total",
        Kind::Counter,
        None,
        "Outbox messages set aside because their receiver refused them for good, by topic and step.",
    ),
    (
        GROUP_COMMIT_BATCH,
        Kind::Histogram,
        None,
        "Writes that shared one transaction (group commit), by kind of write: 1 when calls come one at a time.",
    ),
    (
        "complaints_deadlines_pending",
        Kind::Gauge,
        None,
        "Deadlines scheduled and not yet fired, settled or cancelled.",
    ),
    (
        "complaints_deadline_firing_lag_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "How long after its due instant each deadline fired.",
    ),
    (
        "complaints_deadlines_breached_total",
        Kind::Counter,
        None,
        "Deadlines that fell due unmet (breaches), by kind.",
    ),
    (
        "complaints_deadline_index_degraded",
        Kind::Gauge,
        None,
        "1 while the deadline queue runs from the database alone because its Redis index is unreachable.",
    ),
    (
        "complaints_notifications_pending",
        Kind::Gauge,
        None,
        "Notifications queued and not yet sent or failed.",
    ),
    (
        "complaints_notifications_sent_total",
        Kind::Counter,
        None,
        "Notifications sent, by kind and channel.",
    ),
    (
        "complaints_notifications_failed_total",
        Kind::Counter,
        None,
        "Notifications that failed for good, by kind.",
    ),
    (
        "complaints_notification_retries_total",
        Kind::Counter,
        None,
        "Notification attempts that failed and will be tried again, by kind.",
    ),
    (
        "complaints_notification_leases_lost_total",
        Kind::Counter,
        None,
        "Notifications not sent because another replica took them over first.",
    ),
];

/// Gives every family its help text and unit.
pub fn describe() {
    for &(name, kind, unit, help) in FAMILIES {
        match (kind, unit) {
            (Kind::Counter, Some(unit)) => describe_counter!(name, unit, help),
            (Kind::Counter, None) => describe_counter!(name, help),
            (Kind::Gauge, Some(unit)) => describe_gauge!(name, unit, help),
            (Kind::Gauge, None) => describe_gauge!(name, help),
            (Kind::Histogram, Some(unit)) => describe_histogram!(name, unit, help),
            (Kind::Histogram, None) => describe_histogram!(name, help),
        }
    }
}

/// Makes the series `name{labels}` exist, at 0 for a counter or gauge,
/// without changing a value it already has.
pub fn preregister(name: &'static str, labels: &[(&'static str, &str)]) {
    let labels: Vec<metrics::Label> = labels
        .iter()
        .map(|(key, value)| metrics::Label::new(*key, (*value).to_owned()))
        .collect();
    let kind = FAMILIES
        .iter()
        .find(|(family, ..)| *family == name)
        .map_or(Kind::Counter, |(_, kind, ..)| *kind);
    match kind {
        Kind::Counter => metrics::counter!(name, labels).increment(0),
        Kind::Gauge => metrics::gauge!(name, labels).increment(0.0),
        Kind::Histogram => {
            // Registered, so it is rendered with empty buckets.
            let _ = metrics::histogram!(name, labels);
        }
    }
}

/// What every server reports from its start: its build, and a series for
/// each of its methods, so that its call rate is 0 rather than missing.
pub fn register_server(services: &[&'static str]) {
    describe();
    for service in services {
        metrics::gauge!(BUILD_INFO, "service" => *service, "version" => env!("CARGO_PKG_VERSION"))
            .set(1.0);
        for method in known_methods(service) {
            preregister(
                "grpc_server_requests_total",
                &[("service", service), ("method", &method), ("code", "OK")],
            );
            preregister(
                "grpc_server_request_duration_seconds",
                &[("service", service), ("method", &method)],
            );
        }
    }
}

/// Measures the outbox backlog of some topics every few seconds
/// (`complaints_outbox_pending`, `complaints_outbox_oldest_age_seconds`):
/// a relay that is stuck, or a receiver that is down, shows as a growing
/// age long before anyone notices a missing letter.
#[derive(Clone)]
pub struct OutboxGauges {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    topics: &'static [&'static str],
}

impl std::fmt::Debug for OutboxGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxGauges")
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

/// How often the backlog is measured.
const MEASURE_EVERY: Duration = Duration::from_secs(10);

impl OutboxGauges {
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        topics: &'static [&'static str],
    ) -> Self {
        for topic in topics {
            preregister(OUTBOX_PENDING, &[("topic", topic)]);
            preregister(OUTBOX_OLDEST_AGE, &[("topic", topic)]);
        }
        describe();
        Self { db, clock, topics }
    }

    /// Measures once and sets the gauges: a topic with nothing waiting
    /// reads 0 and 0.
    pub async fn measure(&self) -> anyhow::Result<()> {
        let backlog = outbox_backlog(&self.db, self.topics).await?;
        let now = self.clock.now();
        for topic in self.topics {
            let waiting = backlog.iter().find(|b| b.topic == *topic);
            let (pending, age) = waiting.map_or((0.0, 0.0), |b| {
                let age = (now - b.oldest).max(chrono::Duration::zero());
                (b.pending as f64, age.as_seconds_f64())
            });
            metrics::gauge!(OUTBOX_PENDING, "topic" => *topic).set(pending);
            metrics::gauge!(OUTBOX_OLDEST_AGE, "topic" => *topic).set(age);
        }
        Ok(())
    }
}

impl Worker for OutboxGauges {
    fn run(&self, stop: Stop) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if !complaints_telemetry::metrics_exported() {
                // Nothing scrapes the gauges (no `COMPLAINTS_METRICS_LISTEN`):
                // measuring would only cost the database a query every
                // `MEASURE_EVERY`, and an idle process its sleep.
                stop.stopped().await;
                return;
            }
            loop {
                if let Err(error) = self.measure().await {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "measuring the outbox backlog failed"
                    );
                }
                tokio::select! {
                    () = stop.stopped() => return,
                    () = tokio::time::sleep(MEASURE_EVERY) => {}
                }
            }
        })
    }

    fn run_once(&self) -> BoxFuture<'_, anyhow::Result<Pass>> {
        Box::pin(async {
            self.measure().await?;
            // Measuring is not work: the suite is quiet whatever it finds.
            Ok(Pass::default())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use complaints_domain::clock::SystemClock;
    use complaints_test_support::TestDb;

    use super::*;

    /// Without a recorder exporting them (no `COMPLAINTS_METRICS_LISTEN`),
    /// the backlog gauges are never measured: an idle process does not
    /// query its database for them.
    #[tokio::test]
    async fn unexported_backlog_gauges_cost_the_database_nothing() {
        assert!(!complaints_telemetry::metrics_exported());
        let test = TestDb::sqlite().await;
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        let mut db = test.db.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let gauges = OutboxGauges::new(db, Arc::new(SystemClock), &["case.events"]);
        let (stop, stopped) = Stop::new();
        let running = gauges.run(stopped);
        let stopping = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stop.stop();
        };
        tokio::join!(running, stopping);
        assert_eq!(statements.load(Ordering::SeqCst), 0);
        // Measured on request (the test clock's passes), it queries.
        gauges.run_once().await.unwrap();
        assert!(statements.load(Ordering::SeqCst) > 0);
    }

    #[test]
    fn a_server_exports_its_calls_and_build_with_help_before_any_call() {
        let recorder = complaints_telemetry::prometheus_builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            register_server(&["complaints.case.v1.CaseService"]);
            preregister(
                "complaints_deadlines_breached_total",
                &[("kind", "resolve")],
            );
        });
        let rendered = handle.render();
        for expected in [
            "# HELP grpc_server_requests_total gRPC calls answered",
            r#"grpc_server_requests_total{service="complaints.case.v1.CaseService",method="WatchCaseEvents",code="OK"} 0"#,
            r#"grpc_server_requests_total{service="complaints.case.v1.CaseService",method="OpenCase",code="OK"} 0"#,
            "# HELP grpc_server_request_duration_seconds",
            r#"complaints_build_info{service="complaints.case.v1.CaseService",version=""#,
            r#"complaints_deadlines_breached_total{kind="resolve"} 0"#,
        ] {
            assert!(
                rendered.contains(expected),
                "missing {expected:?} in:\n{rendered}"
            );
        }
        assert!(
            !rendered.contains("complaints.intake.v1.IntakeService"),
            "only the services this process serves: {rendered}"
        );
    }
}
