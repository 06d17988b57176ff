//! Failed deliveries: a server that is down is retried after a backoff the
//! clock has to pass; a refusal is final at once; either way, a message that
//! fails for good raises an alert to the complaints department.

use chrono::Duration;
use complaints_proto::complaints::notification::v1 as pb;
use complaints_test_support::TestDb;

use crate::helpers::{
    MAIL_DOMAIN, STAFF_DOMAIN, TestApp, channel, email_complaint, kind, on_every_backend,
    smtp_server, spawn_app, spawn_app_with, state,
};
use crate::smtp::{SmtpServer, free_port};

on_every_backend!(
    wrap = crate::helpers::bounded;
    a_server_that_is_down_leaves_the_acknowledgement_queued_until_the_backoff_has_passed_and_the_server_is_up,
    a_recipient_the_server_refuses_fails_after_one_attempt_and_alerts_the_complaints_department,
    transient_failures_up_to_the_attempt_limit_fail_the_notification_and_raise_an_alert,
);

const HANDLER_MAILBOX: &str = "complaints_handler";

async fn a_server_that_is_down_leaves_the_acknowledgement_queued_until_the_backoff_has_passed_and_the_server_is_up(
    db: TestDb,
) {
    if !crate::smtp::smtp_available() {
        return;
    }
    // Nothing listens on this port yet.
    let port = free_port();
    let app = spawn_app(db, port).await;
    let case = app
        .open(email_complaint("margaret.smith@example.com"))
        .await;
    let id = app.request_acknowledgement(&case).await.notification_id;

    assert_eq!(app.deliver().await, 1);
    let queued = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&queued), pb::NotificationState::Queued);
    assert_eq!(queued.attempts, 1);
    assert!(
        queued.last_error.to_lowercase().contains("connection"),
        "the reason says the server could not be reached: {queued:?}"
    );
    assert!(queued.sent_at.is_none());
    let retry_at = app.delivery.next_due().await.unwrap().unwrap();
    assert!(
        retry_at > app.now(),
        "the retry is in the future: {retry_at}"
    );
    assert!(retry_at <= app.now() + Duration::hours(1), "{retry_at}");

    // Not due yet: a pass sends nothing, even once the server is up.
    assert_eq!(app.deliver().await, 0);
    let inbox = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(port, &inbox.path().join("inbox")).unwrap();
    assert_eq!(app.deliver().await, 0);
    assert!(smtp.received().is_empty());
    assert!(app.pending_notices().await.is_empty());

    app.advance_past(retry_at);
    assert_eq!(app.deliver().await, 1);
    let sent = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&sent), pb::NotificationState::Sent);
    assert_eq!(sent.attempts, 2);
    assert_eq!(sent.last_error, "");
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].envelope_to, ["margaret.smith@example.com"]);
    assert_eq!(
        received[0].parsed().message_id(),
        Some(format!("{id}@{MAIL_DOMAIN}").as_str())
    );

    // Delivered once: later passes leave it alone.
    app.advance(Duration::days(1));
    assert_eq!(app.deliver().await, 0);
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(app.pending_notices().await.len(), 1);
}

async fn a_recipient_the_server_refuses_fails_after_one_attempt_and_alerts_the_complaints_department(
    db: TestDb,
) {
    let Some((smtp, _inbox)) = smtp_server(free_port()) else {
        return;
    };
    let app = spawn_app(db, smtp.port).await;
    let case = app.open(email_complaint("refuse.me@example.com")).await;
    let id = app.request_acknowledgement(&case).await.notification_id;

    // One pass: the acknowledgement fails for good, and the alert it
    // raises is due at once, so the same pass sends it.
    assert_eq!(app.deliver().await, 2);
    let failed = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&failed), pb::NotificationState::Failed);
    assert_eq!(failed.attempts, 1);
    assert!(
        failed.last_error.starts_with("550"),
        "{}",
        failed.last_error
    );
    assert!(
        failed
            .last_error
            .contains("recipient refused by the test server"),
        "the server's own reason is kept: {}",
        failed.last_error
    );
    assert!(failed.sent_at.is_none());
    assert!(matches!(
        app.content(&id).await,
        Err(status) if status.code() == tonic::Code::FailedPrecondition
    ));

    let alert = assert_one_alert_was_sent(&app, &case.case_id, &smtp).await;
    let body = alert.parsed().body_text(0).unwrap().into_owned();
    assert!(body.contains(&case.register_number), "{body}");
    assert!(body.contains("could not be delivered"), "{body}");
    assert!(body.contains("refused it (SMTP 550)"), "{body}");
    assert!(
        !body.contains("@example") && !body.contains("refuse@"),
        "an alert carries no personal data: {body}"
    );

    // No retry of a refusal, however long we wait.
    app.advance(Duration::days(1));
    assert_eq!(app.deliver().await, 0);
    assert_eq!(smtp.received().len(), 1);
    let still = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&still), pb::NotificationState::Failed);
    assert_eq!(still.attempts, 1);

    // Nothing was delivered to the complainant, so nothing reaches the
    // timeline (and the case stays unacknowledged).
    assert!(app.pending_notices().await.is_empty());
    assert_eq!(app.relay().await, 0);
    assert!(app.get_case(&case.case_id).await.acknowledged_at.is_none());
}

async fn transient_failures_up_to_the_attempt_limit_fail_the_notification_and_raise_an_alert(
    db: TestDb,
) {
    let Some((smtp, _inbox)) = smtp_server(free_port()) else {
        return;
    };
    let app = spawn_app_with(
        db,
        smtp.port,
        &[(complaints_config::env::DELIVERY_ATTEMPTS, "3")],
    )
    .await;
    // The test server answers "451 try again later" for this mailbox.
    let case = app.open(email_complaint("later.please@example.com")).await;
    let id = app.request_acknowledgement(&case).await.notification_id;

    let mut previous_wait = Duration::zero();
    for attempt in 1..=2 {
        assert_eq!(app.deliver().await, 1, "attempt {attempt}");
        let queued = app.notification(&case.case_id, &id).await;
        assert_eq!(state(&queued), pb::NotificationState::Queued);
        assert_eq!(queued.attempts, attempt);
        assert!(
            queued.last_error.starts_with("451"),
            "{}",
            queued.last_error
        );
        let retry_at = app.delivery.next_due().await.unwrap().unwrap();
        let wait = retry_at - app.now();
        assert!(
            wait > previous_wait,
            "the backoff grows: {wait} after {previous_wait}"
        );
        previous_wait = wait;
        assert_eq!(app.deliver().await, 0, "nothing is due before the backoff");
        app.advance_past(retry_at);
    }

    // The third attempt is the last one allowed.
    assert_eq!(app.deliver().await, 2);
    let failed = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&failed), pb::NotificationState::Failed);
    assert_eq!(failed.attempts, 3);
    assert!(
        failed.last_error.contains("try again later"),
        "{}",
        failed.last_error
    );

    assert_one_alert_was_sent(&app, &case.case_id, &smtp).await;

    app.advance(Duration::days(1));
    assert_eq!(app.deliver().await, 0);
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(
        app.notification(&case.case_id, &id).await.attempts,
        3,
        "no attempt after the limit"
    );
}

/// The case has exactly one internal alert, sent to the complaints
/// department's mailbox, and it is the one message the server received.
async fn assert_one_alert_was_sent(
    app: &TestApp,
    case_id: &str,
    smtp: &SmtpServer,
) -> crate::smtp::Received {
    let mailbox = format!("{HANDLER_MAILBOX}@{STAFF_DOMAIN}");
    let alerts: Vec<pb::Notification> = app
        .notifications(case_id)
        .await
        .into_iter()
        .filter(|n| kind(n) == pb::NotificationKind::InternalAlert)
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(state(alert), pb::NotificationState::Sent, "{alert:?}");
    assert_eq!(channel(alert), pb::NotificationChannel::Email);
    assert_eq!(alert.recipient, mailbox);
    assert_eq!(alert.attempts, 1);

    let mut received = smtp.received();
    assert_eq!(
        received.len(),
        1,
        "only the alert got through: {received:?}"
    );
    let message = received.remove(0);
    assert_eq!(message.envelope_to, [mailbox.as_str()]);
    assert_eq!(
        message.parsed().message_id(),
        Some(format!("{}@{MAIL_DOMAIN}", alert.notification_id).as_str())
    );
    message
}
