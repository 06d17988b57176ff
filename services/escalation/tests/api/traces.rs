//! A deadline's firing continues the trace of the change that started its
//! clock: the breach alerts it queues carry that trace to the notification
//! service, so one complaint stays one trace even days later.

use std::sync::Arc;

use complaints_deadlines::{SqlQueue, SqlQueueConfig};
use complaints_domain::clock::{Clock, ManualClock};
use complaints_escalation::NOTIFY_TOPIC;
use complaints_store::entity::outbox;
use complaints_test_support::time::monday_morning;
use complaints_test_support::{TestDb, on_every_backend};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::support::{after_end_of_march, app, change, resolve_by};

on_every_backend!(
    #[tokio::test]
    a_breach_alert_continues_the_trace_that_started_its_clock,
);

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn a_breach_alert_continues_the_trace_that_started_its_clock(db: TestDb) {
    // Spans recorded on this (the test's only) thread, exported nowhere.
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = SdkTracerProvider::builder().build();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test"))),
    );

    let clock = ManualClock::new(monday_morning());
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let queue = Arc::new(SqlQueue::new(db.db.clone(), SqlQueueConfig::default()));
    let (app, peer) = app(queue, shared, 0);
    let case_id = uuid::Uuid::now_v7().to_string();

    // The case service's change, delivered in the complaint's trace.
    let request = tracing::info_span!("case change delivered");
    let _ = request.set_parent(opentelemetry::Context::new().with_remote_span_context(
        SpanContext::new(
            TraceId::from_hex(TRACE_ID).unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ),
    ));
    peer.apply_case_change(change(&case_id, 1, vec![resolve_by(4)], vec![]))
        .instrument(request)
        .await
        .unwrap();

    // Days later, outside any trace, the clock is breached.
    clock.advance(after_end_of_march(4) - clock.now()).unwrap();
    app.fire_due().await.unwrap();

    let queued = outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(NOTIFY_TOPIC))
        .all(&db.db)
        .await
        .unwrap();
    assert!(!queued.is_empty(), "the breach queued its alerts");
    for row in queued {
        let trace = row.trace_context.unwrap_or_default();
        assert!(
            trace.starts_with(&format!("00-{TRACE_ID}-")),
            "an alert outside the complaint's trace: {trace:?}"
        );
    }
}
