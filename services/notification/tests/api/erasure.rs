//! EraseCaseNotifications: what the notifications of a case hold about an
//! erased complainant is blanked, and the files written for them deleted;
//! internal to the platform, and idempotent.

use std::sync::Arc;

use complaints_domain::clock::Clock;
use complaints_domain::role::Role;
use complaints_notification::{NotificationGrpc, OutboxDirs};
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::notification::v1 as pb;
use complaints_proto::complaints::notification::v1::notification_service_server::NotificationService;
use complaints_test_support::TestDb;
use tokio::sync::Notify;
use tonic::Code;

use crate::helpers::{as_actor, on_every_backend, post_complaint, refused, spawn_app, state};
use crate::smtp::free_port;

on_every_backend!(
    wrap = crate::helpers::bounded;
    erasing_a_cases_notifications_blanks_them_and_deletes_their_letters_once,
);

fn erase(case_id: &str) -> pb::EraseCaseNotificationsRequest {
    pb::EraseCaseNotificationsRequest {
        case_id: case_id.to_owned(),
    }
}

async fn erasing_a_cases_notifications_blanks_them_and_deletes_their_letters_once(db: TestDb) {
    let app = spawn_app(db, free_port()).await;
    let clock: Arc<dyn Clock> = Arc::new(app.clock.clone());
    let handler = NotificationGrpc::new(app.db.db.clone(), clock, Arc::new(Notify::new()))
        .with_outbox(OutboxDirs {
            email: None,
            letters: Some(app.letters_dir()),
        });
    let case = app.open(post_complaint()).await;
    let sent = app.request_acknowledgement(&case).await.notification_id;
    assert_eq!(app.deliver().await, 1);
    let letter = app.letters_dir().join(format!("{sent}.pdf"));
    assert!(letter.exists());
    // A referral update still queued when the erasure comes.
    let queued = app
        .request(pb::RequestNotificationRequest {
            case_id: case.case_id.clone(),
            kind: pb::NotificationKind::ReferralUpdate as i32,
            stage: common::Stage::Stage1 as i32,
            ..pb::RequestNotificationRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .notification_id;
    let before = app.notification(&case.case_id, &sent).await;
    assert!(before.recipient.contains("Margaret Smith"), "{before:?}");

    // Staff cannot call it; the platform's services can.
    refused(
        handler
            .erase_case_notifications(as_actor(
                erase(&case.case_id),
                "hana",
                Role::ComplaintsHandler,
            ))
            .await,
        Code::PermissionDenied,
    );
    let first = handler
        .erase_case_notifications(as_actor(erase(&case.case_id), "case", Role::Service))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.erased, first.files_deleted), (2, 1));
    assert!(!letter.exists());

    let after = app.notification(&case.case_id, &sent).await;
    assert_eq!((after.recipient.as_str(), after.subject.as_str()), ("", ""));
    assert_eq!(state(&after), pb::NotificationState::Sent);
    refused(app.content(&sent).await, Code::NotFound);
    let never_sent = app.notification(&case.case_id, &queued).await;
    assert_eq!(state(&never_sent), pb::NotificationState::Failed);
    assert_eq!(app.deliver().await, 0);

    let again = handler
        .erase_case_notifications(as_actor(erase(&case.case_id), "case", Role::Service))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.erased, again.files_deleted), (0, 0));
}
