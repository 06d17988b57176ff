//! RequeueNotifications: staff put FAILED notifications back in the queue
//! once an outage is over; a repeat requeues nothing more; only the
//! operations lead and the customer experience manager may.

use chrono::Duration;
use complaints_config::env;
use complaints_domain::role::Role;
use complaints_proto::complaints::notification::v1 as pb;
use complaints_proto::complaints::notification::v1::notification_service_server::NotificationService;
use complaints_rpc::timestamp_to_proto;
use complaints_test_support::TestDb;
use tonic::Code;

use crate::helpers::{
    MAIL_DOMAIN, TestApp, as_actor, email_complaint, kind, on_every_backend, refused,
    spawn_app_with, state, violated_fields,
};
use crate::smtp::{SmtpServer, free_port, smtp_available};

on_every_backend!(
    wrap = crate::helpers::bounded;
    an_acknowledgement_failed_by_an_outage_is_requeued_once_and_sent_when_the_server_is_back,
    requeueing_is_for_the_operations_lead_and_the_cx_manager_and_needs_a_selector,
);

async fn an_acknowledgement_failed_by_an_outage_is_requeued_once_and_sent_when_the_server_is_back(
    db: TestDb,
) {
    if !smtp_available() {
        return;
    }
    // Nothing listens on the port, for longer than the (short) window.
    let port = free_port();
    let app = spawn_app_with(db, port, &[(env::NOTIFICATION_RETRY_FOR, "1h")]).await;
    let case = app
        .open(email_complaint("margaret.smith@example.com"))
        .await;
    let other = app.open(email_complaint("john.smith@example.com")).await;
    let id = app.request_acknowledgement(&case).await.notification_id;
    let other_id = app.request_acknowledgement(&other).await.notification_id;
    let started = app.now();
    run_until_failed(&app, &[(&case.case_id, &id), (&other.case_id, &other_id)]).await;
    let failed = app.notification(&case.case_id, &id).await;
    let failed_at = failed.failed_at.expect("a FAILED notification says when");
    let failed_at = chrono::DateTime::from_timestamp(failed_at.seconds, 0).unwrap();
    assert!(failed.attempts > 5, "{failed:?}");

    // The server is back.
    let inbox = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(port, &inbox.path().join("inbox")).unwrap();

    // Nothing failed after that instant; by id, the one notification.
    let later = failed_at + Duration::hours(1);
    assert_eq!(requeue(&app, since(later), Role::OpsLead).await, 0);
    assert_eq!(requeue(&app, by_ids(&[&id]), Role::OpsLead).await, 1);
    assert_eq!(
        requeue(&app, by_ids(&[&id]), Role::CxManager).await,
        0,
        "a repeat requeues nothing more"
    );
    let queued = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&queued), pb::NotificationState::Queued);
    assert!(queued.failed_at.is_none());

    // Due at once: the next pass sends it, and it is sent once.
    assert!(app.deliver().await >= 1);
    let sent = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&sent), pb::NotificationState::Sent, "{sent:?}");
    let message_id = format!("{id}@{MAIL_DOMAIN}");
    let copies = smtp
        .received()
        .iter()
        .filter(|m| m.parsed().message_id() == Some(message_id.as_str()))
        .count();
    assert_eq!(copies, 1);
    assert_eq!(
        state(&app.notification(&other.case_id, &other_id).await),
        pb::NotificationState::Failed,
        "the other case's notification was not named"
    );

    // By case and time: the other case's failure, since the test began.
    let mut by_case = since(started);
    by_case.case_id = other.case_id.clone();
    assert_eq!(requeue(&app, by_case.clone(), Role::OpsLead).await, 1);
    assert_eq!(requeue(&app, by_case, Role::OpsLead).await, 0);
    app.deliver().await;
    assert_eq!(
        state(&app.notification(&other.case_id, &other_id).await),
        pb::NotificationState::Sent
    );
    // A sent notification is never requeued.
    assert_eq!(
        requeue(&app, by_ids(&[&id, &other_id]), Role::OpsLead).await,
        0
    );
}

async fn requeueing_is_for_the_operations_lead_and_the_cx_manager_and_needs_a_selector(db: TestDb) {
    let app = spawn_app_with(db, free_port(), &[]).await;
    for role in [
        Role::Adviser,
        Role::ComplaintsHandler,
        Role::Director,
        Role::Integration,
        Role::Service,
    ] {
        let result = app
            .notifications
            .requeue_notifications(as_actor(since(app.now()), "someone", role))
            .await;
        refused(result, Code::PermissionDenied);
    }
    let call = |request: pb::RequeueNotificationsRequest| {
        app.notifications
            .requeue_notifications(as_actor(request, "olu", Role::OpsLead))
    };
    assert_eq!(
        violated_fields(call(pb::RequeueNotificationsRequest::default()).await),
        ["notification_ids"]
    );
    let mut not_an_instant = timestamp_to_proto(app.now());
    not_an_instant.nanos = -1;
    let bad = pb::RequeueNotificationsRequest {
        notification_ids: vec!["ntf-1".to_owned(), "../etc".to_owned()],
        case_id: "not-a-case".to_owned(),
        failed_since: Some(not_an_instant),
    };
    assert_eq!(
        violated_fields(call(bad).await),
        ["case_id", "failed_since", "notification_ids[1]"]
    );
    let too_many = pb::RequeueNotificationsRequest {
        notification_ids: (0..501).map(|i| format!("ntf-{i}")).collect(),
        ..Default::default()
    };
    assert_eq!(violated_fields(call(too_many).await), ["notification_ids"]);
}

/// Delivery passes, moving the clock past each retry, until every listed
/// notification is FAILED; each is queued until then.
async fn run_until_failed(app: &TestApp, notifications: &[(&str, &str)]) {
    for _ in 0..100 {
        app.deliver().await;
        let mut failed = 0;
        for (case_id, id) in notifications {
            let n = app.notification(case_id, id).await;
            assert_eq!(kind(&n), pb::NotificationKind::Acknowledgement);
            if state(&n) == pb::NotificationState::Failed {
                failed += 1;
            }
        }
        if failed == notifications.len() {
            return;
        }
        let Some(next) = app.delivery.next_due().await.unwrap() else {
            panic!("nothing queued, yet not every notification FAILED");
        };
        app.advance_past(next.max(app.now()));
    }
    panic!("the notifications were not FAILED after 100 passes");
}

async fn requeue(app: &TestApp, request: pb::RequeueNotificationsRequest, role: Role) -> i64 {
    app.notifications
        .requeue_notifications(as_actor(request, "olu", role))
        .await
        .unwrap_or_else(|status| panic!("RequeueNotifications refused: {status:?}"))
        .into_inner()
        .requeued
}

fn by_ids(ids: &[&str]) -> pb::RequeueNotificationsRequest {
    pb::RequeueNotificationsRequest {
        notification_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
        ..Default::default()
    }
}

fn since(at: chrono::DateTime<chrono::Utc>) -> pb::RequeueNotificationsRequest {
    pb::RequeueNotificationsRequest {
        failed_since: Some(timestamp_to_proto(at)),
        ..Default::default()
    }
}
