//! The outbox relay: order per case, claims between replicas, wake-ups.

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
        // within this one.
        let elsewhere = complaints_store::db::connect(&test.url).await.unwrap();
        outbox::enqueue(&elsewhere, &[message('A', case_id, 1)], clock.now())
            .await
            .unwrap();
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
