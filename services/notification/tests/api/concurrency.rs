//! Concurrency: one worker keeps several notifications in flight at once
//! (`COMPLAINTS_NOTIFICATION_CONCURRENCY`), each sent once and recorded,
//! never more at once than the setting and never two of one case; told to
//! stop, it finishes every send in flight and gives back what it claimed
//! but had not started. Seen from the SMTP server's side: how many messages
//! it held at once.

use std::time::Duration;

use complaints_config::env;
use complaints_rpc::service::Stop;
use complaints_test_support::TestDb;

use crate::helpers::{
    MAIL_DOMAIN, acknowledgement, email_complaint, events_of, on_every_backend, spawn_app_with,
};
use crate::replicas::{
    copies_by_message_id, queue_acknowledgements, sent, spawn_worker, wait_until,
};
use crate::smtp::{SmtpServer, free_port, smtp_available};

on_every_backend!(
    wrap = crate::helpers::bounded;
    one_worker_sends_several_messages_at_once_each_exactly_once,
    a_cases_notifications_go_one_at_a_time_in_the_order_they_were_asked_for,
    a_stopped_worker_finishes_every_send_in_flight_and_releases_what_it_had_not_started,
);

/// A relay that holds each message for `delay` before taking it, with its
/// inbox; `None` when the test is to be skipped.
fn slow_relay(delay: Duration) -> Option<(SmtpServer, tempfile::TempDir)> {
    if !smtp_available() {
        return None;
    }
    let inbox = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start_slow(free_port(), &inbox.path().join("inbox"), delay).unwrap();
    Some((smtp, inbox))
}

async fn one_worker_sends_several_messages_at_once_each_exactly_once(db: TestDb) {
    let Some((smtp, _inbox)) = slow_relay(Duration::from_secs(1)) else {
        return;
    };
    let app = spawn_app_with(
        db,
        smtp.port,
        &[
            (env::NOTIFICATION_CONCURRENCY, "4"),
            (env::NOTIFICATION_CLAIM_BATCH, "4"),
        ],
    )
    .await;
    let backlog = queue_acknowledgements(&app, 8).await;

    // One pass still delivers everything due before it returns.
    assert_eq!(app.deliver().await, backlog.len());
    assert_eq!(sent(&app, &backlog).await, backlog.len());

    let at_once = smtp.most_at_once();
    assert!(
        (2..=4).contains(&at_once),
        "the relay held {at_once} message(s) at once; expected 2 to 4"
    );
    let copies = copies_by_message_id(&smtp);
    for (_, id) in &backlog {
        assert_eq!(copies.get(&format!("{id}@{MAIL_DOMAIN}")), Some(&1), "{id}");
    }
    assert_eq!(copies.len(), backlog.len());
}

async fn a_cases_notifications_go_one_at_a_time_in_the_order_they_were_asked_for(db: TestDb) {
    let Some((smtp, _inbox)) = slow_relay(Duration::from_millis(500)) else {
        return;
    };
    let app = spawn_app_with(
        db,
        smtp.port,
        &[
            (env::NOTIFICATION_CONCURRENCY, "4"),
            (env::NOTIFICATION_CLAIM_BATCH, "4"),
        ],
    )
    .await;
    // Three messages to one complainant, asked for in this order, and one
    // to another.
    let case = app
        .open(email_complaint("margaret.smith@example.com"))
        .await;
    let mut asked = Vec::new();
    for key in ["first", "second", "third"] {
        let mut request = acknowledgement(&case);
        request.dedupe_key = key.to_owned();
        let id = app
            .request(request)
            .await
            .unwrap()
            .into_inner()
            .notification_id;
        asked.push(format!("{id}@{MAIL_DOMAIN}"));
    }
    let other = app.open(email_complaint("john.jones@example.com")).await;
    app.request_acknowledgement(&other).await;

    assert_eq!(app.deliver().await, 4);

    // The other case's message went alongside the first; the case's own
    // went one after another.
    assert_eq!(smtp.most_at_once(), 2);
    let order: Vec<String> = smtp
        .received()
        .iter()
        .map(|message| message.parsed().message_id().unwrap().to_owned())
        .filter(|id| asked.contains(id))
        .collect();
    assert_eq!(order, asked);
    assert_eq!(copies_by_message_id(&smtp).len(), 4);

    // The case's timeline lists them in that order too.
    assert_eq!(app.relay().await, 4);
    let events = app.timeline(&case.case_id).await;
    let noticed: Vec<String> = events_of(&events, "case.notice_sent")
        .iter()
        .map(|notice| {
            format!(
                "{}@{MAIL_DOMAIN}",
                notice["notification_id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(noticed, asked);
}

async fn a_stopped_worker_finishes_every_send_in_flight_and_releases_what_it_had_not_started(
    db: TestDb,
) {
    let Some((smtp, _inbox)) = slow_relay(Duration::from_secs(4)) else {
        return;
    };
    // The worker claims all five but has only three in flight.
    let app = spawn_app_with(
        db,
        smtp.port,
        &[
            (env::NOTIFICATION_CONCURRENCY, "3"),
            (env::NOTIFICATION_CLAIM_BATCH, "5"),
        ],
    )
    .await;
    let backlog = queue_acknowledgements(&app, 5).await;

    let (stop, stopped) = Stop::new();
    let worker = spawn_worker(app.replica().await, stopped);
    // Several messages are in the relay's hands at once: stop now.
    wait_until(|| smtp.most_at_once() > 1).await;
    stop.stop();
    worker.await.unwrap();

    // Every send in flight was finished, and recorded.
    let sent_before_stopping = smtp.received().len();
    assert!(
        (2..backlog.len()).contains(&sent_before_stopping),
        "expected the sends in flight finished and no more: {sent_before_stopping} sent"
    );
    assert_eq!(sent(&app, &backlog).await, sent_before_stopping);

    // The clock has not moved, so no lease has run out: another replica
    // takes the rest at once only because they were given back.
    assert_eq!(
        app.deliver().await,
        backlog.len() - sent_before_stopping,
        "the rest of the claim was released"
    );
    assert_eq!(sent(&app, &backlog).await, backlog.len());
    assert_eq!(copies_by_message_id(&smtp).len(), backlog.len());
}
