//! Failed deliveries: a server that is down is retried after a backoff the
//! clock has to pass, for as long as the retry window lasts (hours, not
//! minutes); a refusal is final at once; either way, a message that fails
//! for good raises an alert to the complaints department.

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
    an_smtp_outage_of_hours_leaves_the_acknowledgement_queued_and_it_is_sent_when_the_server_is_back,
    transient_failures_past_the_retry_window_fail_the_notification_and_raise_an_alert,
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

async fn an_smtp_outage_of_hours_leaves_the_acknowledgement_queued_and_it_is_sent_when_the_server_is_back(
    db: TestDb,
) {
    if !crate::smtp::smtp_available() {
        return;
    }
    // Nothing listens on this port for six hours.
    let port = free_port();
    let app = spawn_app(db, port).await;
    let case = app
        .open(email_complaint("margaret.smith@example.com"))
        .await;
    let id = app.request_acknowledgement(&case).await.notification_id;
    let outage_ends = app.now() + Duration::hours(6);
    let mut waits = Vec::new();
    while app.now() < outage_ends {
        assert_eq!(app.deliver().await, 1);
        let queued = app.notification(&case.case_id, &id).await;
        assert_eq!(state(&queued), pb::NotificationState::Queued, "{queued:?}");
        let retry_at = app.delivery.next_due().await.unwrap().unwrap();
        waits.push((retry_at - app.now()).num_seconds());
        app.advance_past(retry_at);
    }
    // 30 s, doubling, at most half an hour apart: many more than five
    // attempts, and none of them ends it.
    assert_eq!(waits[..7], [30, 60, 120, 240, 480, 960, 1800]);
    assert!(waits.iter().all(|wait| *wait <= 1800), "{waits:?}");
    let attempts = app.notification(&case.case_id, &id).await.attempts;
    assert!(attempts > 12, "{attempts} attempts in six hours");

    let inbox = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(port, &inbox.path().join("inbox")).unwrap();
    assert_eq!(app.deliver().await, 1);
    let sent = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&sent), pb::NotificationState::Sent);
    assert_eq!(sent.attempts, attempts + 1);
    let received = smtp.received();
    assert_eq!(received.len(), 1, "the acknowledgement alone, once");
    assert_eq!(received[0].envelope_to, ["margaret.smith@example.com"]);
    assert!(
        app.notifications(&case.case_id)
            .await
            .iter()
            .all(|n| kind(n) != pb::NotificationKind::InternalAlert),
        "no staff alert: it never failed for good"
    );
}

async fn transient_failures_past_the_retry_window_fail_the_notification_and_raise_an_alert(
    db: TestDb,
) {
    let Some((smtp, _inbox)) = smtp_server(free_port()) else {
        return;
    };
    let app = spawn_app_with(
        db,
        smtp.port,
        &[(complaints_config::env::NOTIFICATION_RETRY_FOR, "1h")],
    )
    .await;
    // The test server answers "451 try again later" for this mailbox.
    let case = app.open(email_complaint("later.please@example.com")).await;
    let id = app.request_acknowledgement(&case).await.notification_id;
    let window_ends = app.now() + Duration::hours(1);

    let mut previous_wait = Duration::zero();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let handled = app.deliver().await;
        let queued = app.notification(&case.case_id, &id).await;
        if state(&queued) != pb::NotificationState::Queued {
            // The alert it raised is due at once: the same pass sends it.
            assert_eq!(handled, 2, "attempt {attempt}");
            break;
        }
        assert_eq!(handled, 1, "attempt {attempt}");
        assert_eq!(queued.attempts, attempt);
        assert!(
            queued.last_error.starts_with("451"),
            "{}",
            queued.last_error
        );
        let retry_at = app.delivery.next_due().await.unwrap().unwrap();
        assert!(
            retry_at <= window_ends,
            "no retry after the window: {retry_at}"
        );
        let wait = retry_at - app.now();
        if retry_at < window_ends {
            assert!(
                wait > previous_wait,
                "the backoff grows: {wait} after {previous_wait}"
            );
        }
        previous_wait = wait;
        assert_eq!(app.deliver().await, 0, "nothing is due before the backoff");
        // Exactly at the retry: the last one is made at the window's end.
        app.advance(wait);
    }

    // The attempt at the window's end was the last: 30 s, 1, 2, 4, 8 and
    // 16 min, then the rest of the hour.
    assert_eq!(app.now(), window_ends);
    let failed = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&failed), pb::NotificationState::Failed);
    assert_eq!(failed.attempts, 8);
    assert!(
        failed.last_error.contains("try again later")
            && failed
                .last_error
                .contains("still failing 1h after it was queued"),
        "{}",
        failed.last_error
    );
    assert!(failed.failed_at.is_some());

    assert_one_alert_was_sent(&app, &case.case_id, &smtp).await;

    app.advance(Duration::days(1));
    assert_eq!(app.deliver().await, 0);
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(
        app.notification(&case.case_id, &id).await.attempts,
        8,
        "no attempt after the window"
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
