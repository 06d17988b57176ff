//! `wait_for_work` with a manual clock: these tests never wait for time to
//! pass. Waiting workers re-check only hourly here, so a worker that
//! returns was woken; the generous timeouts only turn a hang into a failure.

use std::sync::Arc;
use std::time::Duration;

use complaints_deadlines::DeadlineQueue;
use complaints_domain::case::DeadlineKind;
use complaints_domain::clock::{Clock, ManualClock};

use crate::support::*;

crate::conformance!(
    a_waiting_worker_wakes_when_an_earlier_deadline_is_scheduled,
    a_waiting_worker_returns_at_once_when_work_is_already_due,
    a_waiting_worker_wakes_when_told_to,
);

const HANG: Duration = Duration::from_secs(30);

async fn until_asleep(h: &Harness, sleepers: usize) {
    tokio::time::timeout(HANG, async {
        while h.queue.sleeping_workers() < sleepers {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the workers went to sleep");
}

fn spawn_waiters(
    h: &Harness,
    clock: &Arc<ManualClock>,
    count: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|_| {
            let queue = h.queue.clone();
            let clock = clock.clone();
            tokio::spawn(async move {
                let clock: &dyn Clock = clock.as_ref();
                queue.wait_for_work(clock).await.unwrap();
            })
        })
        .collect()
}

/// Schedules work due in two hours and starts `count` workers waiting on
/// the queue at `t0()`; returns them once every one is asleep behind it.
async fn asleep_behind_later_work(
    h: &Harness,
    clock: &Arc<ManualClock>,
    count: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    h.queue
        .schedule(deadline(new_case(), DeadlineKind::Resolve, t0() + hours(2)))
        .await
        .unwrap();
    let waiters = spawn_waiters(h, clock, count);
    until_asleep(h, count).await;
    waiters
}

/// Schedules, through `queue`, work due before what the `waiters` sleep
/// for, and sees every one of them return.
async fn schedule_earlier_and_see_them_wake(
    queue: &dyn DeadlineQueue,
    waiters: Vec<tokio::task::JoinHandle<()>>,
    why: &str,
) {
    queue
        .schedule(deadline(
            new_case(),
            DeadlineKind::Acknowledge,
            t0() + minutes(1),
        ))
        .await
        .unwrap();
    for waiter in waiters {
        tokio::time::timeout(HANG, waiter)
            .await
            .expect(why)
            .unwrap();
    }
}

async fn a_waiting_worker_wakes_when_an_earlier_deadline_is_scheduled(h: Harness) {
    let clock = Arc::new(ManualClock::new(t0()));
    let waiters = asleep_behind_later_work(&h, &clock, 2).await;
    assert!(waiters.iter().all(|waiter| !waiter.is_finished()));

    schedule_earlier_and_see_them_wake(
        h.queue.as_ref(),
        waiters,
        "the earlier deadline woke the worker",
    )
    .await;
    assert_eq!(
        h.queue.next_due_at().await.unwrap(),
        Some(t0() + minutes(1))
    );
}

/// Work another replica schedules wakes this replica's workers: it is
/// announced on the queue's wake channel, not left for the re-check (an hour
/// here). Redis only: the SQL backend's replicas find it at the re-check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_worker_wakes_when_another_replica_schedules_earlier_work() {
    let Some(h) = Harness::redis_postgres().await else {
        return;
    };
    let other = h.another_replica().await;
    let clock = Arc::new(ManualClock::new(t0()));
    let waiters = asleep_behind_later_work(&h, &clock, 2).await;

    schedule_earlier_and_see_them_wake(
        other.as_ref(),
        waiters,
        "the other replica's earlier deadline woke the worker",
    )
    .await;
}

async fn a_waiting_worker_returns_at_once_when_work_is_already_due(h: Harness) {
    let clock = Arc::new(ManualClock::new(t0()));
    h.queue
        .schedule(deadline(
            new_case(),
            DeadlineKind::Resolve,
            t0() - minutes(1),
        ))
        .await
        .unwrap();

    for waiter in spawn_waiters(&h, &clock, 1) {
        tokio::time::timeout(HANG, waiter)
            .await
            .expect("due work did not wait")
            .unwrap();
    }
}

async fn a_waiting_worker_wakes_when_told_to(h: Harness) {
    let clock = Arc::new(ManualClock::new(t0()));
    let waiters = asleep_behind_later_work(&h, &clock, 1).await;

    // What a test clock does after it moves time on.
    clock.advance(hours(3)).unwrap();
    h.queue.wake();

    for waiter in waiters {
        tokio::time::timeout(HANG, waiter)
            .await
            .expect("wake() woke the worker")
            .unwrap();
    }
    assert_eq!(h.queue.sleeping_workers(), 0);
}
