//! Replicas: delivery workers of two processes on one database, against a
//! slow SMTP relay, send each message once (a worker renews its lease right
//! before sending, and sends only while the lease is its own); a worker
//! told to stop finishes the message in hand and gives the rest of its
//! claim back, so another replica sends them at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use complaints_config::env;
use complaints_notification::{Delivery, run_delivery};
use complaints_proto::complaints::notification::v1 as pb;
use complaints_rpc::service::Stop;
use complaints_test_support::TestDb;
use tokio::sync::Notify;

use crate::helpers::{
    MAIL_DOMAIN, Opened, TestApp, email_complaint, on_every_backend, spawn_app,
    spawn_app_on_system_clock, spawn_app_with, state,
};
use crate::smtp::{SmtpServer, free_port, smtp_available};

on_every_backend!(
    wrap = crate::helpers::bounded;
    a_stopped_worker_finishes_the_message_in_hand_and_another_replica_sends_the_rest_at_once,
    a_notification_another_replica_holds_is_next_due_when_its_lease_runs_out,
    a_worker_claims_its_batch_in_one_statement,
);

/// The replicas share one Postgres database, as in production.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_against_a_slow_relay_send_each_acknowledgement_exactly_once() {
    if let Some(db) = TestDb::postgres().await {
        crate::helpers::bounded(two_replicas_send_each_once(db)).await;
    }
}

/// A relay slower than the lease itself: the worker keeps its lease while
/// the send lasts, so the other replica never takes the message over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_slower_than_the_lease_still_gets_each_message_once() {
    if let Some(db) = TestDb::postgres().await {
        crate::helpers::bounded(a_send_outlasting_the_lease_is_not_repeated(db)).await;
    }
}

async fn a_send_outlasting_the_lease_is_not_repeated(db: TestDb) {
    if !smtp_available() {
        return;
    }
    // Each message takes the relay 2.5 s; a lease lasts 1 s.
    let inbox = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start_slow(
        port,
        &inbox.path().join("inbox"),
        Duration::from_millis(2500),
    )
    .unwrap();
    let app = spawn_app_on_system_clock(
        db,
        port,
        &[
            (env::SMTP_TIMEOUT_SECONDS, "30"),
            (env::NOTIFICATION_LEASE_SECONDS, "1"),
            (env::NOTIFICATION_CLAIM_BATCH, "1"),
        ],
    )
    .await;
    let backlog = queue_acknowledgements(&app, 3).await;

    let (stop, stopped) = Stop::new();
    let first = spawn_worker(app.replica().await, stopped.clone());
    let second = spawn_worker(app.replica().await, stopped);
    wait_until_sent(&app, &backlog).await;
    stop.stop();
    first.await.unwrap();
    second.await.unwrap();

    let copies = copies_by_message_id(&smtp);
    assert_eq!(copies.len(), backlog.len());
}

async fn two_replicas_send_each_once(db: TestDb) {
    if !smtp_available() {
        return;
    }
    // Each message takes the relay half a second; a send is abandoned
    // after 3 s, and a lease lasts 4 s: longer than a send may take, far
    // shorter than the whole backlog takes one worker. Each worker sends
    // up to four at once.
    let inbox = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start_slow(
        port,
        &inbox.path().join("inbox"),
        Duration::from_millis(500),
    )
    .unwrap();
    let app = spawn_app_on_system_clock(
        db,
        port,
        &[
            (env::SMTP_TIMEOUT_SECONDS, "3"),
            (env::NOTIFICATION_LEASE_SECONDS, "4"),
            (env::NOTIFICATION_CLAIM_BATCH, "2"),
            (env::NOTIFICATION_CONCURRENCY, "4"),
        ],
    )
    .await;
    let backlog = queue_acknowledgements(&app, 16).await;

    let (stop, stopped) = Stop::new();
    let first = spawn_worker(app.replica().await, stopped.clone());
    // The second replica starts once the first is sending, finding the
    // first's claims taken.
    wait_until(|| !smtp.received().is_empty()).await;
    let second = spawn_worker(app.replica().await, stopped);
    wait_until_sent(&app, &backlog).await;
    stop.stop();
    first.await.unwrap();
    second.await.unwrap();

    let copies = copies_by_message_id(&smtp);
    for (_, id) in &backlog {
        assert_eq!(copies.get(&format!("{id}@{MAIL_DOMAIN}")), Some(&1), "{id}");
    }
    assert_eq!(copies.len(), backlog.len());
    assert!(smtp.most_at_once() > 1, "the workers sent one at a time");
}

async fn a_stopped_worker_finishes_the_message_in_hand_and_another_replica_sends_the_rest_at_once(
    db: TestDb,
) {
    if !smtp_available() {
        return;
    }
    let inbox = tempfile::tempdir().unwrap();
    let port = free_port();
    let smtp = SmtpServer::start_slow(
        port,
        &inbox.path().join("inbox"),
        Duration::from_millis(500),
    )
    .unwrap();
    // One worker claims the whole backlog at once.
    // One in flight at a time: the rest wait claimed.
    let app = spawn_app_with(
        db,
        port,
        &[
            (env::NOTIFICATION_CLAIM_BATCH, "5"),
            (env::NOTIFICATION_CONCURRENCY, "1"),
        ],
    )
    .await;
    let backlog = queue_acknowledgements(&app, 5).await;

    let (stop, stopped) = Stop::new();
    let worker = spawn_worker(app.replica().await, stopped);
    // The first message is taken; the worker is on to the next.
    wait_until(|| !smtp.received().is_empty()).await;
    stop.stop();
    worker.await.unwrap();

    let sent_before_stopping = smtp.received().len();
    assert!(
        sent_before_stopping < backlog.len(),
        "the worker stopped before its backlog was done, not after: it sent {sent_before_stopping}"
    );
    // What reached the server was finished: recorded as sent.
    assert_eq!(sent(&app, &backlog).await, sent_before_stopping);

    // The clock has not moved, so no lease has run out: another replica
    // takes the rest at once only because they were given back.
    assert_eq!(
        app.deliver().await,
        backlog.len() - sent_before_stopping,
        "the rest of the claim was released"
    );
    assert_eq!(sent(&app, &backlog).await, backlog.len());
    assert_eq!(smtp.received().len(), backlog.len());
}

/// `count` complaints by email, each with its acknowledgement queued: the
/// cases and the notification ids.
pub(crate) async fn queue_acknowledgements(app: &TestApp, count: usize) -> Vec<(Opened, String)> {
    let mut backlog = Vec::with_capacity(count);
    for i in 0..count {
        let case = app
            .open(email_complaint(&format!("complainant.{i}@example.com")))
            .await;
        let id = app.request_acknowledgement(&case).await.notification_id;
        backlog.push((case, id));
    }
    backlog
}

/// How many times the server received each Message-ID, failing the test if
/// any came more than once.
pub(crate) fn copies_by_message_id(smtp: &SmtpServer) -> HashMap<String, usize> {
    let mut copies: HashMap<String, usize> = HashMap::new();
    for message in smtp.received() {
        let id = message.parsed().message_id().unwrap().to_owned();
        *copies.entry(id).or_default() += 1;
    }
    let repeated: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "sent more than once: {repeated:?}");
    copies
}

/// A replica's delivery loop on a task of its own, until `stop`.
pub(crate) fn spawn_worker(delivery: Delivery, stop: Stop) -> tokio::task::JoinHandle<()> {
    let delivery = Arc::new(delivery);
    tokio::spawn(async move {
        let wake = Notify::new();
        run_delivery(&delivery, &wake, stop).await;
    })
}

/// How many of the backlog's notifications are recorded as sent.
pub(crate) async fn sent(app: &TestApp, backlog: &[(Opened, String)]) -> usize {
    let mut sent = 0;
    for (case, id) in backlog {
        if state(&app.notification(&case.case_id, id).await) == pb::NotificationState::Sent {
            sent += 1;
        }
    }
    sent
}

async fn wait_until_sent(app: &TestApp, backlog: &[(Opened, String)]) {
    while sent(app, backlog).await < backlog.len() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for `done` (the test's own time limit bounds the wait).
pub(crate) async fn wait_until(done: impl Fn() -> bool) {
    while !done() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What another replica's worker leaves in the row when it claims `id`.
async fn held_by_another_replica(app: &TestApp, id: &str, until: chrono::DateTime<chrono::Utc>) {
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let mut hold = Query::update();
    hold.table(Alias::new("notifications"))
        .value(Alias::new("lease_owner"), "notification-other-replica")
        .value(Alias::new("lease_until"), until)
        .and_where(Expr::col(Alias::new("notification_id")).eq(id));
    let held = app.db.db.execute(&hold).await.unwrap();
    assert_eq!(held.rows_affected(), 1);
}

/// A notification another replica is sending is next due when that
/// replica's lease runs out (should it die meanwhile), not at once: the
/// other replicas sleep until then instead of looking for it several times
/// a second. One that is free and due meanwhile comes first.
async fn a_notification_another_replica_holds_is_next_due_when_its_lease_runs_out(db: TestDb) {
    let app = spawn_app(db, free_port()).await;
    let first = app
        .open(email_complaint("margaret.smith@example.com"))
        .await;
    let requested = app.now();
    let held = app.request_acknowledgement(&first).await.notification_id;
    let lease_end = app.now() + chrono::Duration::minutes(3);
    held_by_another_replica(&app, &held, lease_end).await;
    assert_eq!(app.delivery.next_due().await.unwrap(), Some(lease_end));
    assert_eq!(app.deliver().await, 0, "another replica holds it");

    app.advance(chrono::Duration::minutes(1));
    let second = app.open(email_complaint("jo.bloggs@example.com")).await;
    app.request_acknowledgement(&second).await;
    assert_eq!(
        app.delivery.next_due().await.unwrap(),
        Some(app.now()),
        "the free one, due now"
    );

    // The holder died: once its lease has run out the notification is
    // anybody's.
    app.advance_past(lease_end);
    assert_eq!(app.delivery.next_due().await.unwrap(), Some(requested));
}

/// A pass claims what it takes in one statement, however many: each row
/// is still taken only while queued, unleased and first of its case.
async fn a_worker_claims_its_batch_in_one_statement(db: TestDb) {
    let app = spawn_app_with(db, free_port(), &[(env::NOTIFICATION_CLAIM_BATCH, "3")]).await;
    for email in ["a@example.org", "b@example.org", "c@example.org"] {
        let case = app.open(email_complaint(email)).await;
        app.request_acknowledgement(&case).await;
    }
    // The claim is the one UPDATE that tests for an earlier notification
    // of the row's case.
    let (worker, claims) =
        app.counting_replica(|sql| sql.starts_with("UPDATE") && sql.contains("EXISTS"));
    assert_eq!(worker.deliver_due().await.unwrap(), 3);
    assert_eq!(claims.load(std::sync::atomic::Ordering::SeqCst), 1);
}
