//! `ListDueSoon` refuses a window that runs beyond the dates kept, as bad
//! input, instead of failing on it.

use std::sync::Arc;

use complaints_deadlines::{SqlQueue, SqlQueueConfig};
use complaints_domain::clock::ManualClock;
use complaints_domain::role::{Actor, Role};
use complaints_escalation::EscalationGrpc;
use complaints_proto::complaints::escalation::v1 as pb;
use complaints_proto::complaints::escalation::v1::escalation_service_server::EscalationService;
use complaints_test_support::time::monday_morning;
use complaints_test_support::{TestDb, on_every_backend};
use tonic_types::StatusExt;

use crate::support::app;

on_every_backend!(a_window_beyond_the_dates_kept_is_an_invalid_argument_on_within);

fn list(within: prost_types::Duration) -> tonic::Request<pb::ListDueSoonRequest> {
    let mut request = tonic::Request::new(pb::ListDueSoonRequest {
        within: Some(within),
        ..Default::default()
    });
    request
        .extensions_mut()
        .insert(Actor::new("hana", Role::CxManager));
    request
}

async fn a_window_beyond_the_dates_kept_is_an_invalid_argument_on_within(db: TestDb) {
    let queue = Arc::new(SqlQueue::new(db.db.clone(), SqlQueueConfig::default()));
    let (app, _) = app(queue, Arc::new(ManualClock::new(monday_morning())), 1);
    let grpc = EscalationGrpc::new(app);
    // Too many seconds for a span at all, and a span that ends beyond
    // the last date kept.
    for seconds in [i64::MAX, 9_000_000_000_000] {
        let status = grpc
            .list_due_soon(list(prost_types::Duration { seconds, nanos: 0 }))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        let fields: Vec<String> = status
            .get_error_details()
            .bad_request()
            .unwrap_or_else(|| panic!("no field violations in {status:?}"))
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["within"], "{seconds}");
    }
    // A year is fine.
    let reply = grpc
        .list_due_soon(list(prost_types::Duration {
            seconds: 365 * 24 * 3600,
            nanos: 0,
        }))
        .await
        .unwrap();
    assert!(reply.into_inner().deadlines.is_empty());
}
