//! The test clock itself, `complaints.testing.v1.ClockService`, which the
//! policy tests move time with: it refuses to move time by nothing or
//! backwards (and a refused advance moves nothing), the read APIs the tests
//! rely on refuse bad input with the right code, and without
//! `--test-clock` the service does not exist at all.

use complaints_proto::complaints::escalation::v1 as escalation_pb;
use complaints_proto::complaints::notification::v1 as notification_pb;
use complaints_proto::complaints::testing::v1 as testing_pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::clock_suite::{Clients, Suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_to_the_clock_and_the_read_apis_is_refused_with_the_right_code() {
    let mut suite = Suite::start(true);
    let mut c = Clients::new(&mut suite);
    let start = c.now().await;

    for (by, what) in [
        (Some(prost_types::Duration::default()), "zero"),
        (
            Some(prost_types::Duration {
                seconds: -60,
                nanos: 0,
            }),
            "negative",
        ),
        (
            Some(prost_types::Duration {
                seconds: 0,
                nanos: -1,
            }),
            "a nanosecond back",
        ),
        (None, "missing"),
    ] {
        let refused = c
            .clock
            .advance(testing_pb::AdvanceRequest { by })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{what}: {refused:?}");
        let fields: Vec<String> = refused
            .get_details_bad_request()
            .unwrap_or_else(|| panic!("{what}: no BadRequest detail in {refused:?}"))
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["by"], "{what}");
    }
    assert_eq!(c.now().await, start, "a refused advance does not move time");

    let unknown_case = "0190a6f2-6c3e-7b2a-9d41-5f8e2c7a1b00";
    let refused = c
        .escalation
        .get_deadlines(escalation_pb::GetDeadlinesRequest {
            case_id: unknown_case.to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");

    let refused = c
        .notifications
        .list_notifications(notification_pb::ListNotificationsRequest {
            case_id: "not-a-case-id".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused
            .get_details_bad_request()
            .is_some_and(|bad| bad.field_violations.iter().any(|v| v.field == "case_id")),
        "{refused:?}"
    );

    let refused = c
        .notifications
        .get_notification_content(notification_pb::GetNotificationContentRequest {
            notification_id: "ntf-0190a6f26c3e7b2a9d415f8e2c7a1b00".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");

    suite.process.ensure_running().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_test_clock_the_clock_service_does_not_exist() {
    let mut suite = Suite::start(false);
    let mut clock = suite.clock("complaints_handler", "hana");
    let refused = clock
        .advance(testing_pb::AdvanceRequest {
            by: Some(prost_types::Duration {
                seconds: 86_400,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    let refused = clock.now(testing_pb::NowRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    suite.process.ensure_running().unwrap();
}
