//! The stop signal reaches a firing pass under way: the deadline in hand is
//! finished, nothing more fires, and the leases of the deadlines claimed
//! but not fired are given back at once, for another replica to take.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use complaints_deadlines::{DeadlineState, SqlQueue, SqlQueueConfig};
use complaints_domain::clock::{Clock, ManualClock};
use complaints_rpc::service::{Stop, StopHandle};
use complaints_test_support::time::monday_morning;
use complaints_test_support::{TestDb, on_every_backend};

use crate::support::{after_end_of_march, alerts, app, change, resolve_by};

on_every_backend!(a_stop_during_a_pass_finishes_the_deadline_in_hand_and_gives_back_the_rest);

/// A manual clock that sends a stop signal when it is read for the `n`th
/// time after being armed: a stop that arrives at a known point of a pass.
#[derive(Debug)]
struct TrippingClock {
    inner: ManualClock,
    armed: Mutex<(Option<usize>, Option<StopHandle>)>,
}

impl TrippingClock {
    fn arm(&self, reads: usize) {
        self.armed.lock().unwrap().0 = Some(reads);
    }
}

impl Clock for TrippingClock {
    fn now(&self) -> DateTime<Utc> {
        let mut armed = self.armed.lock().unwrap();
        if let Some(left) = armed.0.as_mut() {
            *left -= 1;
            if *left == 0 {
                armed.0 = None;
                if let Some(handle) = &armed.1 {
                    handle.stop();
                }
            }
        }
        self.inner.now()
    }
}

async fn a_stop_during_a_pass_finishes_the_deadline_in_hand_and_gives_back_the_rest(db: TestDb) {
    let (handle, stop) = Stop::new();
    let manual = ManualClock::new(monday_morning());
    let clock = Arc::new(TrippingClock {
        inner: manual.clone(),
        armed: Mutex::new((None, Some(handle))),
    });
    let queue = Arc::new(SqlQueue::new(db.db.clone(), SqlQueueConfig::default()));
    let (app, peer) = app(queue, clock.clone(), 1);
    let cases: Vec<String> = (0..3).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for case in &cases {
        // Due Thursday 5 March: each owner is warned at the end of Wednesday 4.
        peer.apply_case_change(change(case, 1, vec![resolve_by(5)], vec![]))
            .await
            .unwrap();
    }
    manual
        .advance(after_end_of_march(4) - manual.now())
        .unwrap();

    // The pass reads the clock to claim the three warnings, then once per
    // warning it sends: the stop comes with the first in hand.
    clock.arm(2);
    tokio::time::timeout(Duration::from_secs(60), app.run_worker(stop))
        .await
        .expect("the worker returns once stopped");

    assert_eq!(alerts(&db.db).await.len(), 1, "one warning sent, no more");
    let mut warned = 0;
    for case in &cases {
        let deadlines = app.deadlines_of(case.parse().unwrap()).await.unwrap();
        let deadline = &deadlines[0];
        assert_eq!(deadline.state, DeadlineState::Pending);
        assert_eq!(
            deadline.lease_owner, None,
            "{case}: its lease was given back"
        );
        warned += usize::from(deadline.warned_at.is_some());
    }
    assert_eq!(warned, 1);
}
