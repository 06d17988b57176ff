//! Redis is only the index of the deadline rows: with Redis down at start,
//! or killed under way, deadlines still fire, from the database; when it
//! answers again (empty) the index is rebuilt from the rows and used again;
//! and each deadline fires once in effect across every switch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use complaints_config::Settings;
use complaints_deadlines::{
    DeadlineQueue, DeadlineState, FailoverQueue, IndexHealth, RedisQueueConfig, SqlQueue,
    SqlQueueConfig,
};
use complaints_domain::clock::{Clock, ManualClock};
use complaints_rpc::peers::{LocalServices, Peers};
use complaints_rpc::service::{ServiceParts, Worker};
use complaints_test_support::time::monday_morning;
use complaints_test_support::{TestDb, on_every_backend};

use crate::support::{OwnRedis, after_end_of_march, app, breach_alerts_of, change, resolve_by};

on_every_backend!(
    wrap = super::bounded;
    an_escalation_started_while_redis_is_down_fires_from_the_database_and_takes_up_redis_when_it_answers,
    deadlines_fire_once_each_across_a_redis_outage_and_the_index_is_rebuilt_after_it,
);

/// The longest one of these tests may take (a broken switch would hang).
async fn bounded(test: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(Duration::from_secs(180), test)
        .await
        .is_err()
    {
        panic!("the test did not finish within 180 s");
    }
}

fn prefix() -> String {
    format!("test:{}:{{deadlines}}:", uuid::Uuid::new_v4().simple())
}

/// The deadline state of each of `cases`' resolve clocks.
async fn states(db: &TestDb, cases: &[&str]) -> Vec<DeadlineState> {
    let rows = SqlQueue::new(db.db.clone(), SqlQueueConfig::default());
    let mut states = Vec::new();
    for case in cases {
        let deadlines = rows.get(case.parse().unwrap()).await.unwrap();
        assert_eq!(deadlines.len(), 1, "{case}: {deadlines:?}");
        states.push(deadlines[0].state);
    }
    states
}

async fn an_escalation_started_while_redis_is_down_fires_from_the_database_and_takes_up_redis_when_it_answers(
    db: TestDb,
) {
    let Some(mut redis) = OwnRedis::new() else {
        return;
    };
    // Nothing listens on the server's port yet.
    let prefix = prefix();
    let vars: HashMap<String, String> = [
        ("REDIS_URL".to_owned(), redis.url()),
        ("COMPLAINTS_REDIS_PREFIX".to_owned(), prefix.clone()),
    ]
    .into();
    let settings = Settings::from_vars(&vars).unwrap();
    let clock = ManualClock::new(monday_morning());
    let local = LocalServices::default();
    let parts = ServiceParts::in_process(
        settings,
        complaints_escalation::SUBJECT,
        Arc::new(clock.clone()),
        db.db.clone(),
        &local,
    );
    let service = complaints_escalation::build(parts)
        .await
        .expect("the service starts with Redis unreachable");
    service.register_in(&local);
    let worker = |name: &str| -> Arc<dyn Worker> {
        service
            .workers()
            .iter()
            .find(|w| format!("{w:?}").starts_with(name))
            .unwrap_or_else(|| panic!("no {name} worker"))
            .clone()
    };
    let (firing, keeper) = (worker("Firing"), worker("IndexKeeper"));
    let peer = Peers::in_process(&local, "case").escalation;

    let (early, late) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    for (case, due) in [(&early, 4), (&late, 5)] {
        peer.apply_case_change(change(case, 1, vec![resolve_by(due)], vec![]))
            .await
            .expect("a clock starts with Redis unreachable");
    }
    clock.advance(after_end_of_march(4) - clock.now()).unwrap();
    firing.run_once().await.unwrap();
    assert_eq!(
        states(&db, &[early.as_str(), late.as_str()]).await,
        [DeadlineState::Breached, DeadlineState::Pending]
    );
    assert_eq!(breach_alerts_of(&db.db, &early).await, 2);
    keeper.run_once().await.unwrap();

    // Redis comes up: the keeper reaches it and builds the index from the
    // rows (the one pending deadline).
    redis.start();
    let mut tries = 0;
    while redis.indexed(&prefix).await < 1 {
        tries += 1;
        assert!(tries < 200, "the index was never built");
        keeper.run_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(redis.indexed(&prefix).await, 1);

    clock.advance(after_end_of_march(5) - clock.now()).unwrap();
    firing.run_once().await.unwrap();
    assert_eq!(
        states(&db, &[early.as_str(), late.as_str()]).await,
        [DeadlineState::Breached, DeadlineState::Breached]
    );
    // Fired through the index: its entry is gone from it.
    assert_eq!(redis.indexed(&prefix).await, 0);
    assert_eq!(breach_alerts_of(&db.db, &early).await, 2);
    assert_eq!(breach_alerts_of(&db.db, &late).await, 2);
}

async fn deadlines_fire_once_each_across_a_redis_outage_and_the_index_is_rebuilt_after_it(
    db: TestDb,
) {
    let Some(mut redis) = OwnRedis::new() else {
        return;
    };
    redis.start();
    let prefix = prefix();
    let queue = Arc::new(
        FailoverQueue::connect(
            db.db.clone(),
            &redis.url(),
            RedisQueueConfig {
                key_prefix: prefix.clone(),
                ..RedisQueueConfig::default()
            },
        )
        .await
        .unwrap(),
    );
    assert!(!queue.is_degraded());
    let clock = ManualClock::new(monday_morning());
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let (app, peer) = app(queue.clone(), shared, 0);
    let cases: Vec<String> = (0..4).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let case = |i: usize| cases[i].as_str();
    // Due Wednesday 4, Thursday 5 and Friday 6 March.
    for (i, due) in [(0, 4), (1, 5), (2, 6)] {
        peer.apply_case_change(change(case(i), 1, vec![resolve_by(due)], vec![]))
            .await
            .unwrap();
    }
    assert_eq!(redis.indexed(&prefix).await, 3);

    clock.advance(after_end_of_march(4) - clock.now()).unwrap();
    assert_eq!(app.fire_due().await.unwrap().breached, 1);
    assert!(!queue.is_degraded());
    assert_eq!(redis.indexed(&prefix).await, 2);

    redis.kill();
    // A clock started now is committed, and said to be: only the index
    // missed it.
    let started = peer
        .apply_case_change(change(case(3), 1, vec![resolve_by(9)], vec![]))
        .await
        .expect("a committed start is not reported as failed");
    assert_eq!(started.started, 1);
    assert!(queue.is_degraded());
    clock.advance(after_end_of_march(5) - clock.now()).unwrap();
    assert_eq!(app.fire_due().await.unwrap().breached, 1);
    assert_eq!(queue.check().await.unwrap(), IndexHealth::Degraded);

    // Back, and empty.
    redis.start();
    let mut tries = 0;
    loop {
        match queue.check().await.unwrap() {
            IndexHealth::Restored { pending } => {
                assert_eq!(pending, 2);
                break;
            }
            health => {
                tries += 1;
                assert!(tries < 200, "never restored: {health:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(!queue.is_degraded());
    assert_eq!(redis.indexed(&prefix).await, 2);

    clock.advance(after_end_of_march(9) - clock.now()).unwrap();
    assert_eq!(app.fire_due().await.unwrap().breached, 2);
    assert_eq!(app.fire_due().await.unwrap().breached, 0);
    assert_eq!(redis.indexed(&prefix).await, 0);
    assert!(!queue.is_degraded());
    assert_eq!(
        states(&db, &[case(0), case(1), case(2), case(3)]).await,
        [DeadlineState::Breached; 4]
    );
    for i in 0..4 {
        assert_eq!(
            breach_alerts_of(&db.db, case(i)).await,
            2,
            "case {i}: one owner's and one escalation alert"
        );
    }
}
