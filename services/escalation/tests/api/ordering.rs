//! Case changes arrive at least once and in any order: a settle delivered
//! before its start is remembered and the late start ignored, so no clock
//! runs (and breaches) for work already done; older and repeated changes
//! change nothing.

use std::sync::Arc;

use complaints_deadlines::{DeadlineState, SqlQueue, SqlQueueConfig};
use complaints_domain::clock::{Clock, ManualClock};
use complaints_test_support::time::monday_morning;
use complaints_test_support::{TestDb, on_every_backend};

use crate::support::{after_end_of_march, alerts, app, change, resolve_by, resolve_met};

on_every_backend!(
    a_settle_delivered_before_its_start_leaves_no_clock_and_no_breach,
    repeated_and_older_changes_change_nothing,
    a_stale_change_of_one_clock_still_starts_the_others_it_names,
);

struct Harness {
    app: complaints_escalation::EscalationApp,
    peer: complaints_rpc::peers::EscalationPeer,
    clock: ManualClock,
    db: TestDb,
}

fn harness(db: TestDb) -> Harness {
    let clock = ManualClock::new(monday_morning());
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let queue = Arc::new(SqlQueue::new(db.db.clone(), SqlQueueConfig::default()));
    let (app, peer) = app(queue, shared, 1);
    Harness {
        app,
        peer,
        clock,
        db,
    }
}

impl Harness {
    async fn resolve_state(&self, case_id: &str) -> Option<DeadlineState> {
        let deadlines = self
            .app
            .deadlines_of(case_id.parse().unwrap())
            .await
            .unwrap();
        assert!(deadlines.len() <= 1, "{deadlines:?}");
        deadlines.first().map(|d| d.state)
    }

    /// Moves past the resolve clock's due date (Wednesday 4 March) and
    /// fires what is due.
    async fn after_the_due_date(&self) {
        self.clock
            .advance(after_end_of_march(4) - self.clock.now())
            .unwrap();
        self.app.fire_due().await.unwrap();
    }
}

async fn a_settle_delivered_before_its_start_leaves_no_clock_and_no_breach(db: TestDb) {
    let h = harness(db);
    let case_id = uuid::Uuid::now_v7().to_string();
    // Change 2 settled the clock change 1 started; 2 arrives first.
    let settled = h
        .peer
        .apply_case_change(change(&case_id, 2, vec![], vec![resolve_met()]))
        .await
        .unwrap();
    assert_eq!((settled.started, settled.settled), (0, 0));
    let started = h
        .peer
        .apply_case_change(change(&case_id, 1, vec![resolve_by(4)], vec![]))
        .await
        .unwrap();
    assert_eq!((started.started, started.settled), (0, 0));

    assert_eq!(h.resolve_state(&case_id).await, None, "no clock runs");
    h.after_the_due_date().await;
    assert_eq!(h.resolve_state(&case_id).await, None);
    assert_eq!(alerts(&h.db.db).await, [], "no warning, no breach");
}

async fn repeated_and_older_changes_change_nothing(db: TestDb) {
    let h = harness(db);
    let case_id = uuid::Uuid::now_v7().to_string();
    let start = || change(&case_id, 1, vec![resolve_by(4)], vec![]);
    let settle = || change(&case_id, 2, vec![], vec![resolve_met()]);

    let first = h.peer.apply_case_change(start()).await.unwrap();
    assert_eq!((first.started, first.settled), (1, 0));
    let again = h.peer.apply_case_change(start()).await.unwrap();
    assert_eq!((again.started, again.settled), (0, 0));
    assert_eq!(
        h.resolve_state(&case_id).await,
        Some(DeadlineState::Pending)
    );

    let settled = h.peer.apply_case_change(settle()).await.unwrap();
    assert_eq!((settled.started, settled.settled), (0, 1));
    // The settle again, and the start again after it.
    for late in [settle(), start()] {
        let reply = h.peer.apply_case_change(late).await.unwrap();
        assert_eq!((reply.started, reply.settled), (0, 0));
    }
    assert_eq!(h.resolve_state(&case_id).await, Some(DeadlineState::Met));
    h.after_the_due_date().await;
    assert_eq!(h.resolve_state(&case_id).await, Some(DeadlineState::Met));
    assert_eq!(alerts(&h.db.db).await, []);
}

async fn a_stale_change_of_one_clock_still_starts_the_others_it_names(db: TestDb) {
    let h = harness(db);
    let case_id = uuid::Uuid::now_v7().to_string();
    // Change 3 settled the resolve clock; change 2, delivered late, starts
    // it and the day-5 referral update clock, which change 3 did not name.
    h.peer
        .apply_case_change(change(&case_id, 3, vec![], vec![resolve_met()]))
        .await
        .unwrap();
    let mut referral = resolve_by(9);
    referral.kind = complaints_proto::complaints::common::v1::DeadlineKind::ReferralUpdate as i32;
    let late = h
        .peer
        .apply_case_change(change(&case_id, 2, vec![resolve_by(4), referral], vec![]))
        .await
        .unwrap();
    assert_eq!(late.started, 1);
    let deadlines = h.app.deadlines_of(case_id.parse().unwrap()).await.unwrap();
    let kinds: Vec<_> = deadlines.iter().map(|d| (d.kind, d.state)).collect();
    assert_eq!(
        kinds,
        [(
            complaints_domain::case::DeadlineKind::ReferralUpdate,
            DeadlineState::Pending
        )]
    );
}
