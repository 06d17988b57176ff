//! The outbox relay: order per case, claims between replicas, wake-ups.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use complaints_domain::clock::{Clock, ManualClock, SystemClock};
use complaints_store::entity::outbox as row;
use complaints_store::outbox::{self, OutboxMessage};
use complaints_store::relay::{Deliver, Relay};
use complaints_store::stop::{Stop, StopHandle};
use complaints_test_support::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Deserialize;
use tokio::sync::Notify;
use uuid::Uuid;

complaints_test_support::on_every_backend!(
    a_failed_message_holds_back_its_cases_later_messages_but_not_other_cases,
    two_relays_deliver_each_cases_messages_once_and_in_order,
    a_message_committed_elsewhere_is_delivered_without_waiting_for_the_poll,
    a_stopped_relay_finishes_the_message_in_hand_and_gives_back_its_claim,
    a_page_of_cases_costs_the_same_statements_for_3_cases_as_for_90,
    different_cases_messages_are_delivered_at_the_same_time,
    enqueueing_is_one_statement_and_notifies_no_one,
    a_relay_woken_by_its_own_process_announces_its_topic_once,
);

const TOPIC: &str = "case.events";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
struct Numbered {
    case: char,
    n: u32,
}

/// Records what arrives; refuses the messages in `refuse`.
#[derive(Default)]
struct Receiver {
    arrived: Mutex<Vec<Numbered>>,
    refuse: Mutex<Vec<Numbered>>,
    /// Yields this many times inside each delivery, so that two relays'
    /// deliveries interleave.
    slow: bool,
}

impl Receiver {
    fn arrived(&self) -> Vec<Numbered> {
        self.arrived.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Deliver for Receiver {
    async fn deliver(&self, message: &row::Model) -> Result<(), String> {
        let numbered: Numbered = serde_json::from_str(&message.payload).unwrap();
        if self.slow {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        if self.refuse.lock().unwrap().contains(&numbered) {
            return Err("receiver down".to_owned());
        }
        self.arrived.lock().unwrap().push(numbered);
        Ok(())
    }
}

fn message(case: char, case_id: Uuid, n: u32) -> OutboxMessage {
    OutboxMessage::json(TOPIC, case_id, &serde_json::json!({"case": case, "n": n})).unwrap()
}

fn relay(test: &TestDb, receiver: &Arc<Receiver>, clock: Arc<dyn Clock>) -> Relay {
    Relay::new(
        test.db.clone(),
        TOPIC,
        receiver.clone(),
        clock,
        Arc::new(Notify::new()),
    )
}

async fn undelivered(test: &TestDb) -> u64 {
    row::Entity::find()
        .filter(row::Column::DeliveredAt.is_null())
        .count(&test.db)
        .await
        .unwrap()
}

async fn a_failed_message_holds_back_its_cases_later_messages_but_not_other_cases(test: TestDb) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap());
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    for written in [
        message('A', a, 1),
        message('B', b, 1),
        message('A', a, 2),
        message('B', b, 2),
        message('A', a, 3),
    ] {
        outbox::enqueue(&test.db, &[written], clock.now())
            .await
            .unwrap();
    }
    let receiver = Arc::new(Receiver::default());
    receiver
        .refuse
        .lock()
        .unwrap()
        .push(Numbered { case: 'A', n: 1 });
    let relay = relay(&test, &receiver, Arc::new(clock.clone()));

    assert_eq!(relay.run_once().await.unwrap(), 2);
    assert_eq!(
        receiver.arrived(),
        [Numbered { case: 'B', n: 1 }, Numbered { case: 'B', n: 2 }]
    );
    // Still held back once the pass is over and on a later pass before the
    // retry is due.
    assert_eq!(relay.run_once().await.unwrap(), 0);
    assert_eq!(undelivered(&test).await, 3);

    receiver.refuse.lock().unwrap().clear();
    clock.advance(chrono::Duration::seconds(1)).unwrap();
    assert_eq!(relay.run_once().await.unwrap(), 3);
    assert_eq!(
        receiver.arrived(),
        [
            Numbered { case: 'B', n: 1 },
            Numbered { case: 'B', n: 2 },
            Numbered { case: 'A', n: 1 },
            Numbered { case: 'A', n: 2 },
            Numbered { case: 'A', n: 3 },
        ]
    );
    assert_eq!(undelivered(&test).await, 0);
}

async fn two_relays_deliver_each_cases_messages_once_and_in_order(test: TestDb) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cases: Vec<(char, Uuid)> = ('A'..='E').map(|c| (c, Uuid::now_v7())).collect();
    for n in 1..=8 {
        let written: Vec<_> = cases.iter().map(|(c, id)| message(*c, *id, n)).collect();
        outbox::enqueue(&test.db, &written, clock.now())
            .await
            .unwrap();
    }
    let receiver = Arc::new(Receiver {
        slow: true,
        ..Receiver::default()
    });
    let (first, second) = (
        relay(&test, &receiver, clock.clone()),
        relay(&test, &receiver, clock.clone()),
    );
    while undelivered(&test).await > 0 {
        let (one, two) = tokio::join!(first.run_once(), second.run_once());
        one.unwrap();
        two.unwrap();
    }
    let arrived = receiver.arrived();
    assert_eq!(arrived.len(), 40, "each message once: {arrived:?}");
    for (case, _) in &cases {
        let order: Vec<u32> = arrived
            .iter()
            .filter(|m| m.case == *case)
            .map(|m| m.n)
            .collect();
        assert_eq!(order, (1..=8).collect::<Vec<_>>(), "case {case}");
    }
}

async fn a_message_committed_elsewhere_is_delivered_without_waiting_for_the_poll(test: TestDb) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let receiver = Arc::new(Receiver::default());
    let wake = Arc::new(Notify::new());
    let relay = Arc::new(
        Relay::new(
            test.db.clone(),
            TOPIC,
            receiver.clone(),
            clock.clone(),
            wake.clone(),
        )
        .with_fallback_poll(Duration::from_secs(3600)),
    );
    let (stop, stopped) = Stop::new();
    let running = tokio::spawn({
        let relay = relay.clone();
        async move { relay.run(stopped).await }
    });
    // The first pass found nothing: the relay now waits to be woken.
    wait_for(|| async { relay.passes() >= 1 }).await;

    let case_id = Uuid::now_v7();
    if test.url.starts_with("postgres") {
        // Another process's write: its own connection, and no wake-up
        // within this one; its relay announces the commit.
        let elsewhere = complaints_store::db::connect(&test.url).await.unwrap();
        outbox::enqueue(&elsewhere, &[message('A', case_id, 1)], clock.now())
            .await
            .unwrap();
        outbox::announce(&elsewhere, TOPIC).await.unwrap();
        elsewhere.close().await.unwrap();
    } else {
        // SQLite has no notifications: a write of this process wakes it.
        outbox::enqueue(&test.db, &[message('A', case_id, 1)], clock.now())
            .await
            .unwrap();
        wake.notify_one();
    }
    wait_for(|| async { receiver.arrived().len() == 1 }).await;
    stop.stop();
    running.await.unwrap();
}

/// A receiver that sends the stop signal while taking the first message.
struct StopsAtFirst {
    receiver: Arc<Receiver>,
    stop: StopHandle,
}

#[async_trait::async_trait]
impl Deliver for StopsAtFirst {
    async fn deliver(&self, message: &row::Model) -> Result<(), String> {
        self.stop.stop();
        self.receiver.deliver(message).await
    }
}

async fn a_stopped_relay_finishes_the_message_in_hand_and_gives_back_its_claim(test: TestDb) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let case_id = Uuid::now_v7();
    let written: Vec<_> = (1..=3).map(|n| message('A', case_id, n)).collect();
    outbox::enqueue(&test.db, &written, clock.now())
        .await
        .unwrap();
    let receiver = Arc::new(Receiver::default());
    let (stop, stopped) = Stop::new();
    let stopping = Relay::new(
        test.db.clone(),
        TOPIC,
        Arc::new(StopsAtFirst {
            receiver: receiver.clone(),
            stop,
        }),
        clock.clone(),
        Arc::new(Notify::new()),
    );
    tokio::time::timeout(Duration::from_secs(20), stopping.run(stopped))
        .await
        .expect("the relay returns once stopped");
    assert_eq!(receiver.arrived(), [Numbered { case: 'A', n: 1 }]);
    assert_eq!(undelivered(&test).await, 2);

    let now = clock.now();
    assert!(
        outbox::claim_aggregate(
            &test.db,
            TOPIC,
            case_id,
            "another replica",
            now,
            now + chrono::Duration::minutes(2)
        )
        .await
        .unwrap(),
        "the case is free for another replica at once"
    );
    // While that replica holds it, a relay leaves the case alone.
    let relay = relay(&test, &receiver, clock.clone());
    assert_eq!(relay.run_once().await.unwrap(), 0);
    outbox::release_aggregate(&test.db, TOPIC, case_id, "another replica")
        .await
        .unwrap();
    assert_eq!(relay.run_once().await.unwrap(), 2);
}

/// The relay's statements do not grow with the page: a page of messages
/// for different cases is claimed, re-read, marked and given back in one
/// statement each, not one per message.
async fn a_page_of_cases_costs_the_same_statements_for_3_cases_as_for_90(test: TestDb) {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap(),
    ));
    let (counted, statements) = complaints_test_support::counting(&test.db, |_| true);
    let receiver = Arc::new(Receiver::default());
    let relay = Relay::new(
        counted,
        TOPIC,
        receiver.clone(),
        clock.clone(),
        Arc::new(Notify::new()),
    );
    let mut counts = Vec::new();
    for cases in [3_u32, 90] {
        let written: Vec<_> = (0..cases)
            .map(|n| message('C', Uuid::now_v7(), n))
            .collect();
        outbox::enqueue(&test.db, &written, clock.now())
            .await
            .unwrap();
        statements.store(0, Ordering::SeqCst);
        assert_eq!(relay.run_once().await.unwrap(), cases as usize);
        counts.push(statements.load(Ordering::SeqCst));
    }
    assert_eq!(receiver.arrived().len(), 93);
    assert_eq!(undelivered(&test).await, 0);
    assert_eq!(
        counts[0], counts[1],
        "3 cases took {} statements, 90 took {}",
        counts[0], counts[1]
    );
    assert!(counts[1] <= 8, "{} statements for one page", counts[1]);
}

/// Counts the deliveries in progress; each waits (up to 2 s) until
/// `together` are in progress at once, so a relay that delivers one at a
/// time is seen as such.
struct Overlapping {
    together: usize,
    in_flight: AtomicUsize,
    most: AtomicUsize,
    changed: Notify,
    arrived: Mutex<Vec<Numbered>>,
}

#[async_trait::async_trait]
impl Deliver for Overlapping {
    async fn deliver(&self, message: &row::Model) -> Result<(), String> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.changed.notify_waiters();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while self.most.load(Ordering::SeqCst) < self.together {
                let changed = self.changed.notified();
                if self.most.load(Ordering::SeqCst) >= self.together {
                    break;
                }
                changed.await;
            }
        })
        .await;
        self.arrived
            .lock()
            .unwrap()
            .push(serde_json::from_str(&message.payload).unwrap());
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn different_cases_messages_are_delivered_at_the_same_time(test: TestDb) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap());
    let cases: Vec<(char, Uuid)> = ('A'..='H').map(|c| (c, Uuid::now_v7())).collect();
    for n in 1..=3 {
        let written: Vec<_> = cases.iter().map(|(c, id)| message(*c, *id, n)).collect();
        outbox::enqueue(&test.db, &written, clock.now())
            .await
            .unwrap();
    }
    let receiver = Arc::new(Overlapping {
        together: 4,
        in_flight: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        changed: Notify::new(),
        arrived: Mutex::new(Vec::new()),
    });
    let relay = Relay::new(
        test.db.clone(),
        TOPIC,
        receiver.clone(),
        Arc::new(clock),
        Arc::new(Notify::new()),
    );
    assert_eq!(relay.run_once().await.unwrap(), 24);
    assert!(
        receiver.most.load(Ordering::SeqCst) >= 4,
        "at most {} deliveries were in progress at once",
        receiver.most.load(Ordering::SeqCst)
    );
    // Each case's own messages still arrived in order.
    let arrived = receiver.arrived.lock().unwrap().clone();
    for (case, _) in &cases {
        let own: Vec<u32> = arrived
            .iter()
            .filter(|m| m.case == *case)
            .map(|m| m.n)
            .collect();
        assert_eq!(own, [1, 2, 3], "case {case}");
    }
}

/// Waits (up to a generous limit, so a failure is a failure and not a hang)
/// until `done` holds.
async fn wait_for<F, Fut>(done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        while !done().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the state was not reached within 20 s");
}

/// On Postgres, a listener on the relays' channel, as every replica's
/// relay listens; `None` elsewhere.
async fn listening(test: &TestDb) -> Option<sea_orm::sqlx::postgres::PgListener> {
    if !test.url.starts_with("postgres") {
        return None;
    }
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(&test.url)
        .await
        .unwrap();
    listener.listen(outbox::NOTIFY_CHANNEL).await.unwrap();
    Some(listener)
}

/// The topics `listener` hears within `within`, in order.
async fn heard(
    listener: &mut sea_orm::sqlx::postgres::PgListener,
    within: Duration,
) -> Vec<String> {
    let mut topics = Vec::new();
    let until = tokio::time::Instant::now() + within;
    while let Ok(heard) = tokio::time::timeout_at(until, listener.recv()).await {
        topics.push(heard.unwrap().payload().to_owned());
    }
    topics
}

/// The write notifies no one: a `NOTIFY` in the writing transaction would
/// make it commit in single file with every other writer's. The relay
/// announces afterwards, once per topic asked.
async fn enqueueing_is_one_statement_and_notifies_no_one(test: TestDb) {
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let mut listener = listening(&test).await;
    let (counted, statements) = complaints_test_support::counting(&test.db, |_| true);
    let case_id = Uuid::now_v7();
    let other = OutboxMessage::json("escalation.clocks", case_id, &serde_json::json!({})).unwrap();
    let messages = [message('A', case_id, 1), message('A', case_id, 2), other];

    let txn = sea_orm::TransactionTrait::begin(&counted).await.unwrap();
    statements.store(0, Ordering::SeqCst);
    outbox::enqueue(&txn, &messages, now).await.unwrap();
    assert_eq!(
        statements.load(Ordering::SeqCst),
        1,
        "statements for one enqueue"
    );
    txn.commit().await.unwrap();
    assert_eq!(undelivered(&test).await, 3);
    if let Some(listener) = listener.as_mut() {
        let early = heard(listener, Duration::from_millis(300)).await;
        assert!(early.is_empty(), "the write announced {early:?}");
    }

    outbox::announce(&test.db, TOPIC).await.unwrap();
    if let Some(listener) = listener.as_mut() {
        assert_eq!(heard(listener, Duration::from_millis(500)).await, [TOPIC]);
    }
}

/// A relay woken by its process's commit tells the others; what it hears
/// from them (its own announcement too) it does not announce again.
async fn a_relay_woken_by_its_own_process_announces_its_topic_once(test: TestDb) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut listener = listening(&test).await;
    let receiver = Arc::new(Receiver::default());
    let wake = Arc::new(Notify::new());
    let relay = Arc::new(Relay::new(
        test.db.clone(),
        TOPIC,
        receiver.clone(),
        clock.clone(),
        wake.clone(),
    ));
    let (stop, stopped) = Stop::new();
    let running = tokio::spawn({
        let relay = relay.clone();
        async move { relay.run(stopped).await }
    });
    wait_for(|| async { relay.passes() >= 1 }).await;

    outbox::enqueue(&test.db, &[message('A', Uuid::now_v7(), 1)], clock.now())
        .await
        .unwrap();
    wake.notify_one();
    wait_for(|| async { receiver.arrived().len() == 1 }).await;
    if let Some(listener) = listener.as_mut() {
        assert_eq!(heard(listener, Duration::from_millis(500)).await, [TOPIC]);
    }
    stop.stop();
    running.await.unwrap();
}
