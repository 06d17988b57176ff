//! Who may ask for a notification, and what a request must say. A refused
//! request leaves nothing behind.

use complaints_domain::role::Role;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::notification::v1 as pb;
use complaints_proto::complaints::notification::v1::notification_service_server::NotificationService;
use complaints_proto::google::r#type::Date;
use complaints_test_support::TestDb;
use tonic::{Code, Request};

use crate::helpers::{
    Opened, TestApp, acknowledgement, as_actor, email_complaint, on_every_backend, refused,
    spawn_app, violated_fields,
};
use crate::smtp::free_port;

on_every_backend!(
    wrap = crate::helpers::bounded;
    only_the_platforms_services_may_request_a_notification,
    a_request_without_a_kind_or_a_stage_is_refused_with_both_fields_named,
    an_internal_alert_without_a_role_to_alert_is_refused,
    a_request_for_a_case_id_that_is_not_a_uuid_is_refused,
    a_dedupe_key_longer_than_its_column_is_refused,
    requests_sent_together_each_get_their_own_answer,
    a_request_with_an_impossible_due_date_is_refused,
    content_is_refused_for_an_unknown_notification_and_for_one_not_yet_sent,
);

async fn app_with_case(db: TestDb) -> (TestApp, Opened) {
    let app = spawn_app(db, free_port()).await;
    let case = app
        .open(email_complaint("margaret.smith@example.com"))
        .await;
    (app, case)
}

async fn assert_nothing_was_queued(app: &TestApp, case: &Opened) {
    assert!(app.notifications(&case.case_id).await.is_empty());
    assert_eq!(app.deliver().await, 0);
}

async fn only_the_platforms_services_may_request_a_notification(db: TestDb) {
    let (app, case) = app_with_case(db).await;
    for role in [
        Role::ComplaintsHandler,
        Role::Adviser,
        Role::Integration,
        Role::Director,
    ] {
        let result = app
            .notifications
            .request_notification(as_actor(acknowledgement(&case), "someone", role))
            .await;
        refused(result, Code::PermissionDenied);
    }
    // Without a verified principal at all.
    let result = app
        .notifications
        .request_notification(Request::new(acknowledgement(&case)))
        .await;
    refused(result, Code::Unauthenticated);
    assert_nothing_was_queued(&app, &case).await;

    // The same request from a service is taken.
    assert!(app.request_acknowledgement(&case).await.created);
}

async fn a_request_without_a_kind_or_a_stage_is_refused_with_both_fields_named(db: TestDb) {
    let (app, case) = app_with_case(db).await;
    let request = pb::RequestNotificationRequest {
        kind: pb::NotificationKind::Unspecified as i32,
        stage: common::Stage::Unspecified as i32,
        ..acknowledgement(&case)
    };
    assert_eq!(
        violated_fields(app.request(request).await),
        ["kind", "stage"]
    );

    // An enum value the contract does not have counts as missing.
    let request = pb::RequestNotificationRequest {
        kind: 99,
        ..acknowledgement(&case)
    };
    assert_eq!(violated_fields(app.request(request).await), ["kind"]);
    assert_nothing_was_queued(&app, &case).await;
}

async fn an_internal_alert_without_a_role_to_alert_is_refused(db: TestDb) {
    let (app, case) = app_with_case(db).await;
    let alert = pb::RequestNotificationRequest {
        case_id: case.case_id.clone(),
        kind: pb::NotificationKind::InternalAlert as i32,
        stage: common::Stage::Stage1 as i32,
        reason: "the acknowledgement is due tomorrow".to_owned(),
        alert_level: pb::AlertLevel::Warning as i32,
        ..pb::RequestNotificationRequest::default()
    };
    assert_eq!(
        violated_fields(app.request(alert.clone()).await),
        ["to_role"]
    );
    assert_nothing_was_queued(&app, &case).await;

    let addressed = pb::RequestNotificationRequest {
        to_role: common::Role::ComplaintsHandler as i32,
        ..alert
    };
    assert!(app.request(addressed).await.unwrap().into_inner().created);
}

async fn a_dedupe_key_longer_than_its_column_is_refused(db: TestDb) {
    let (app, case) = app_with_case(db).await;
    let request = pb::RequestNotificationRequest {
        dedupe_key: "k".repeat(256),
        ..acknowledgement(&case)
    };
    assert_eq!(violated_fields(app.request(request).await), ["dedupe_key"]);
    assert_nothing_was_queued(&app, &case).await;

    let longest = pb::RequestNotificationRequest {
        dedupe_key: "é".repeat(255),
        ..acknowledgement(&case)
    };
    assert!(app.request(longest).await.unwrap().into_inner().created);
}

/// Requests that arrive at once (as a relay sends them) are written
/// together: each new key gets its own notification, a key sent twice at
/// once gets one notification, and a key already taken gets the one that
/// took it.
async fn requests_sent_together_each_get_their_own_answer(db: TestDb) {
    let (app, case) = app_with_case(db).await;
    let first = app
        .request(alert_keyed(&case, "taken"))
        .await
        .unwrap()
        .into_inner();
    let keys = ["taken", "a", "b", "a", "c", "d", "e", "f"];
    let answers =
        futures_util::future::join_all(keys.iter().map(|key| app.request(alert_keyed(&case, key))))
            .await;
    let answers: Vec<pb::RequestNotificationResponse> = answers
        .into_iter()
        .map(|answer| answer.unwrap().into_inner())
        .collect();
    assert_eq!(answers[0].notification_id, first.notification_id);
    assert!(!answers[0].created);
    assert_eq!(answers[1].notification_id, answers[3].notification_id);
    assert_eq!(
        u8::from(answers[1].created) + u8::from(answers[3].created),
        1,
        "one of the two requests for key a created it"
    );
    for answer in [
        &answers[2],
        &answers[4],
        &answers[5],
        &answers[6],
        &answers[7],
    ] {
        assert!(answer.created);
    }
    let ids: std::collections::HashSet<&str> = answers
        .iter()
        .map(|answer| answer.notification_id.as_str())
        .collect();
    assert_eq!(ids.len(), 7, "one notification per key");
    let alerts = app.notifications(&case.case_id).await;
    assert_eq!(
        alerts
            .iter()
            .filter(|n| n.kind == pb::NotificationKind::InternalAlert as i32)
            .count(),
        7
    );
}

/// An internal alert about the case with its own dedupe key.
fn alert_keyed(case: &Opened, key: &str) -> pb::RequestNotificationRequest {
    pb::RequestNotificationRequest {
        case_id: case.case_id.clone(),
        kind: pb::NotificationKind::InternalAlert as i32,
        stage: common::Stage::Stage1 as i32,
        to_role: common::Role::ComplaintsHandler as i32,
        reason: format!("alert {key}"),
        alert_level: pb::AlertLevel::Warning as i32,
        dedupe_key: format!("{}/{key}", case.case_id),
        ..pb::RequestNotificationRequest::default()
    }
}

async fn a_request_for_a_case_id_that_is_not_a_uuid_is_refused(db: TestDb) {
    let (app, case) = app_with_case(db).await;
    for bad in ["", "not-a-case", &case.register_number] {
        let request = pb::RequestNotificationRequest {
            case_id: bad.to_owned(),
            ..acknowledgement(&case)
        };
        assert_eq!(
            violated_fields(app.request(request).await),
            ["case_id"],
            "{bad:?}"
        );
    }
    // Every mistake at once is reported at once.
    let request = pb::RequestNotificationRequest {
        case_id: "not-a-case".to_owned(),
        kind: pb::NotificationKind::InternalAlert as i32,
        stage: common::Stage::Unspecified as i32,
        ..pb::RequestNotificationRequest::default()
    };
    assert_eq!(
        violated_fields(app.request(request).await),
        ["case_id", "stage", "to_role"]
    );
    assert_nothing_was_queued(&app, &case).await;
}

async fn a_request_with_an_impossible_due_date_is_refused(db: TestDb) {
    let (app, case) = app_with_case(db).await;
    let request = pb::RequestNotificationRequest {
        due_date: Some(Date {
            year: 2026,
            month: 2,
            day: 30,
        }),
        ..acknowledgement(&case)
    };
    assert_eq!(violated_fields(app.request(request).await), ["due_date"]);
    assert_nothing_was_queued(&app, &case).await;
}

async fn content_is_refused_for_an_unknown_notification_and_for_one_not_yet_sent(db: TestDb) {
    let (app, case) = app_with_case(db).await;
    refused(app.content("ntf-nothing-like-this").await, Code::NotFound);
    assert_eq!(
        violated_fields(app.content("  ").await),
        ["notification_id"]
    );

    // Nothing listens on the SMTP port: the first attempt fails for now.
    let id = app.request_acknowledgement(&case).await.notification_id;
    assert_eq!(app.deliver().await, 1);
    refused(app.content(&id).await, Code::FailedPrecondition);
}
