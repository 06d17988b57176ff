//! Acknowledgements by email through a real SMTP server, and what the case
//! timeline learns of them.

use complaints_proto::complaints::case::v1::case_service_server::CaseService;
use complaints_proto::complaints::notification::v1 as pb;
use complaints_test_support::TestDb;

use crate::helpers::{
    MAIL_DOMAIN, STAFF_DOMAIN, channel, email_complaint, events_of, kind, on_every_backend,
    smtp_server, spawn_app, state,
};
use crate::smtp::free_port;

on_every_backend!(
    wrap = crate::helpers::bounded;
    an_acknowledgement_for_an_email_complaint_is_sent_through_the_smtp_server_and_reaches_the_timeline,
    the_same_request_delivered_three_times_creates_one_notification_and_sends_one_message,
    an_alert_about_an_assigned_case_goes_to_the_assignee_and_an_unassigned_one_to_the_roles_mailbox,
    an_acknowledgement_answers_the_complaints_email_and_joins_the_cases_correspondence,
);

async fn an_acknowledgement_for_an_email_complaint_is_sent_through_the_smtp_server_and_reaches_the_timeline(
    db: TestDb,
) {
    let Some((smtp, _inbox)) = smtp_server(free_port()) else {
        return;
    };
    let app = spawn_app(db, smtp.port).await;
    let case = app
        .open(email_complaint("margaret.smith@example.com"))
        .await;

    let requested = app.request_acknowledgement(&case).await;
    assert!(requested.created);
    let id = requested.notification_id;
    let queued = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&queued), pb::NotificationState::Queued);
    assert_eq!(queued.attempts, 0);

    assert_eq!(app.deliver().await, 1);

    // The server received exactly one message, to the complainant.
    let received = smtp.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].envelope_to, ["margaret.smith@example.com"]);
    let message = received[0].parsed();
    let to = message.to().and_then(|to| to.first()).unwrap();
    assert_eq!(to.address(), Some("margaret.smith@example.com"));
    assert_eq!(
        message.message_id(),
        Some(format!("{id}@{MAIL_DOMAIN}").as_str()),
        "the Message-ID is the notification's id, the same on every retry"
    );
    assert_eq!(
        message
            .from()
            .and_then(|from| from.first())
            .unwrap()
            .address(),
        Some(format!("complaints@{MAIL_DOMAIN}").as_str())
    );
    let subject = message.subject().unwrap().to_owned();
    assert!(subject.contains(&case.register_number), "{subject}");
    let body = message.body_text(0).unwrap().into_owned();
    assert!(body.contains(&case.register_number), "{body}");

    // The delivery log.
    let sent = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&sent), pb::NotificationState::Sent);
    assert_eq!(kind(&sent), pb::NotificationKind::Acknowledgement);
    assert_eq!(channel(&sent), pb::NotificationChannel::Email);
    assert_eq!(sent.recipient, "margaret.smith@example.com");
    assert_eq!(sent.attempts, 1);
    assert_eq!(sent.last_error, "");
    assert_eq!(sent.subject, subject);
    assert_eq!(
        sent.sent_at.map(|at| at.seconds),
        Some(app.now().timestamp())
    );

    // What was said, as the complaints team can read it back.
    let content = app.content(&id).await.unwrap().into_inner();
    assert_eq!(content.content_type, "text/plain; charset=utf-8");
    assert_eq!(content.subject, subject);
    assert_eq!(content.file_name, format!("{id}.txt"));
    let text = String::from_utf8(content.body).unwrap();
    assert!(text.contains(&case.register_number), "{text}");
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>(),
        body.split_whitespace().collect::<Vec<_>>(),
        "the stored content is the text that was emailed"
    );

    // A notice for the case timeline waits in the outbox ...
    let notices = app.pending_notices().await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["case_id"], case.case_id.as_str());
    assert_eq!(notices[0]["notification_id"], id.as_str());
    assert_eq!(notices[0]["channel"], "email");
    assert!(app.get_case(&case.case_id).await.acknowledged_at.is_none());

    // ... and, relayed, records the notice and the acknowledgement (R1).
    assert_eq!(app.relay().await, 1);
    let events = app.timeline(&case.case_id).await;
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["case.notice_sent", "case.acknowledged"],
        "{kinds:?}"
    );
    let notice = &events_of(&events, "case.notice_sent")[0];
    assert_eq!(notice["notification_id"], id.as_str());
    assert_eq!(notice["channel"], "email");
    assert!(
        notice
            .get("route_note")
            .is_none_or(serde_json::Value::is_null),
        "the preferred route needs no note: {notice}"
    );
    assert!(app.get_case(&case.case_id).await.acknowledged_at.is_some());

    // Nothing is left to relay or to send.
    assert!(app.pending_notices().await.is_empty());
    assert_eq!(app.relay().await, 0);
    assert_eq!(app.deliver().await, 0);
    assert_eq!(smtp.received().len(), 1);
}

async fn the_same_request_delivered_three_times_creates_one_notification_and_sends_one_message(
    db: TestDb,
) {
    let Some((smtp, _inbox)) = smtp_server(free_port()) else {
        return;
    };
    let app = spawn_app(db, smtp.port).await;
    let case = app.open(email_complaint("ann.jones@example.org")).await;

    let first = app.request_acknowledgement(&case).await;
    let second = app.request_acknowledgement(&case).await;
    let third = app.request_acknowledgement(&case).await;
    assert!(first.created);
    assert!(!second.created);
    assert!(!third.created);
    assert_eq!(second.notification_id, first.notification_id);
    assert_eq!(third.notification_id, first.notification_id);
    assert_eq!(app.notifications(&case.case_id).await.len(), 1);

    assert_eq!(app.deliver().await, 1);
    assert_eq!(smtp.received().len(), 1);

    // Once sent, a late repeat of the request changes nothing either.
    let late = app.request_acknowledgement(&case).await;
    assert!(!late.created);
    assert_eq!(late.notification_id, first.notification_id);
    assert_eq!(app.deliver().await, 0);
    assert_eq!(smtp.received().len(), 1);
    let notifications = app.notifications(&case.case_id).await;
    assert_eq!(notifications.len(), 1);
    assert_eq!(state(&notifications[0]), pb::NotificationState::Sent);
    assert_eq!(notifications[0].attempts, 1);

    // One notice reaches the timeline, once.
    assert_eq!(app.relay().await, 1);
    let events = app.timeline(&case.case_id).await;
    assert_eq!(events_of(&events, "case.notice_sent").len(), 1);
    assert_eq!(events_of(&events, "case.acknowledged").len(), 1);
}

async fn an_alert_about_an_assigned_case_goes_to_the_assignee_and_an_unassigned_one_to_the_roles_mailbox(
    db: TestDb,
) {
    let Some((smtp, _inbox)) = smtp_server(free_port()) else {
        return;
    };
    let app = spawn_app(db, smtp.port).await;
    let case = app
        .open(email_complaint("margaret.smith@example.com"))
        .await;
    let alert = |assignee: &str, dedupe_key: &str| pb::RequestNotificationRequest {
        case_id: case.case_id.clone(),
        kind: pb::NotificationKind::InternalAlert as i32,
        stage: complaints_proto::complaints::common::v1::Stage::Stage1 as i32,
        to_role: complaints_proto::complaints::common::v1::Role::ComplaintsHandler as i32,
        reason: "the resolve date is tomorrow".to_owned(),
        alert_level: pb::AlertLevel::Warning as i32,
        assignee: assignee.to_owned(),
        dedupe_key: dedupe_key.to_owned(),
        ..pb::RequestNotificationRequest::default()
    };
    assert!(
        app.request(alert("jane.doe", "assigned"))
            .await
            .unwrap()
            .into_inner()
            .created
    );
    assert!(
        app.request(alert("", "unassigned"))
            .await
            .unwrap()
            .into_inner()
            .created
    );
    assert_eq!(app.deliver().await, 2);

    let mut recipients: Vec<Vec<String>> = smtp
        .received()
        .iter()
        .map(|message| message.envelope_to.clone())
        .collect();
    recipients.sort();
    assert_eq!(
        recipients,
        [
            vec![format!("complaints_handler@{STAFF_DOMAIN}")],
            vec![format!("jane.doe@{STAFF_DOMAIN}")],
        ]
    );

    // A subject that cannot be a mailbox is refused before anything is queued.
    let bad = alert("jane\ndoe", "bad");
    let refused = app.request(bad).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
}

async fn an_acknowledgement_answers_the_complaints_email_and_joins_the_cases_correspondence(
    db: TestDb,
) {
    let Some((smtp, _inbox)) = smtp_server(free_port()) else {
        return;
    };
    let app = spawn_app(db, smtp.port).await;
    let mut request = email_complaint("margaret.smith@example.com");
    request.message_id = "<complaint-5@mail.example.com>".to_owned();
    let case = app.open(request).await;
    let id = app.request_acknowledgement(&case).await.notification_id;
    assert_eq!(app.deliver().await, 1);

    let received = smtp.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let message = received[0].parsed();
    assert_eq!(
        message.in_reply_to().as_text(),
        Some("complaint-5@mail.example.com")
    );
    assert_eq!(
        message.references().as_text(),
        Some("complaint-5@mail.example.com")
    );

    assert_eq!(app.relay().await, 1);
    let listed = app
        .case
        .list_correspondence(crate::helpers::as_actor(
            complaints_proto::complaints::case::v1::ListCorrespondenceRequest {
                case_id: case.case_id.clone(),
            },
            "hana",
            complaints_domain::role::Role::ComplaintsHandler,
        ))
        .await
        .unwrap()
        .into_inner()
        .messages;
    let ids: Vec<&str> = listed.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "complaint-5@mail.example.com".to_owned(),
            format!("{id}@{MAIL_DOMAIN}")
        ]
    );
    assert_eq!(listed[1].address, "margaret.smith@example.com");
    assert!(listed[1].subject.contains(&case.register_number));
}
