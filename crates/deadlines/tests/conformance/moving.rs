//! Moving a deadline (an extension, the end of a pause) and holding a
//! case's deadlines while its clocks are paused.

use chrono::{DateTime, Utc};
use complaints_deadlines::{DeadlineState, FireOutcome, Work};
use complaints_domain::calendar::Due;
use complaints_domain::case::DeadlineKind;

use crate::support::*;

crate::conformance!(
    a_moved_deadline_falls_due_at_its_new_instant_and_keeps_its_first,
    a_moved_deadline_is_warned_again_before_its_new_instant,
    a_deadline_that_fired_is_not_moved,
    a_worker_whose_deadline_was_moved_under_it_fires_nothing,
    a_held_deadline_is_handed_to_no_worker_until_it_is_released,
    a_held_deadline_stays_out_of_a_rebuilt_index,
);

fn due(at: DateTime<Utc>) -> Due {
    Due {
        date: at.date_naive(),
        at,
    }
}

async fn a_moved_deadline_falls_due_at_its_new_instant_and_keeps_its_first(h: Harness) {
    let case = new_case();
    let first = deadline(case, DeadlineKind::Resolve, t0() + hours(1));
    let id = h.queue.schedule(first.clone()).await.unwrap().deadline_id;

    let moved = h
        .queue
        .reschedule(id, due(t0() + hours(49)), None, false)
        .await
        .unwrap()
        .expect("a pending deadline moves");

    assert_eq!(moved.due, due(t0() + hours(49)));
    assert_eq!(moved.original_due, first.due);
    let w = worker("w1");
    assert!(
        h.queue
            .claim_due(t0() + hours(2), 10, &w, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.queue.next_due_at().await.unwrap(), Some(t0() + hours(49)));
    let claimed = h
        .queue
        .claim_due(t0() + hours(49), 10, &w, LEASE)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), vec![id]);
    assert_eq!(claimed[0].work, Work::Fire);
    let stored = h.queue.deadline(id).await.unwrap().unwrap();
    assert_eq!(stored.due.date.to_string(), "2026-12-03");
    assert_eq!(stored.original_due.date.to_string(), "2026-12-01");
}

async fn a_moved_deadline_is_warned_again_before_its_new_instant(h: Harness) {
    let mut first = deadline(new_case(), DeadlineKind::Resolve, t0() + hours(10));
    first.warn_at = Some(t0() + hours(1));
    let id = h.queue.schedule(first).await.unwrap().deadline_id;
    let w = worker("w1");
    let claimed = h
        .queue
        .claim_due(t0() + hours(1), 10, &w, LEASE)
        .await
        .unwrap();
    assert_eq!(claimed[0].work, Work::Warn);
    assert!(
        h.queue
            .complete_warn(id, &w, t0() + hours(1))
            .await
            .unwrap()
    );

    h.queue
        .reschedule(id, due(t0() + hours(40)), Some(t0() + hours(30)), false)
        .await
        .unwrap()
        .unwrap();

    assert!(
        h.queue
            .claim_due(t0() + hours(20), 10, &w, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = h
        .queue
        .claim_due(t0() + hours(30), 10, &w, LEASE)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), vec![id]);
    assert_eq!(claimed[0].work, Work::Warn);
}

async fn a_deadline_that_fired_is_not_moved(h: Harness) {
    let first = deadline(new_case(), DeadlineKind::Resolve, t0() - minutes(1));
    let id = h.queue.schedule(first.clone()).await.unwrap().deadline_id;
    let w = worker("w1");
    assert_eq!(drain(h.queue.as_ref(), t0(), &w, 10).await, vec![id]);

    let moved = h
        .queue
        .reschedule(id, due(t0() + hours(48)), None, true)
        .await
        .unwrap();

    assert_eq!(moved, None);
    let stored = h.queue.deadline(id).await.unwrap().unwrap();
    assert_eq!(stored.state, DeadlineState::Breached);
    assert_eq!(stored.due, first.due);
}

async fn a_worker_whose_deadline_was_moved_under_it_fires_nothing(h: Harness) {
    let id = h
        .queue
        .schedule(deadline(new_case(), DeadlineKind::Resolve, t0()))
        .await
        .unwrap()
        .deadline_id;
    let w = worker("w1");
    assert_eq!(
        ids(&h.queue.claim_due(t0(), 10, &w, LEASE).await.unwrap()),
        vec![id]
    );

    h.queue
        .reschedule(id, due(t0() + hours(24)), None, false)
        .await
        .unwrap()
        .unwrap();

    assert!(
        !h.queue
            .complete_fire(id, &w, FireOutcome::Breached, t0())
            .await
            .unwrap()
    );
    let stored = h.queue.deadline(id).await.unwrap().unwrap();
    assert_eq!(stored.state, DeadlineState::Pending);
    assert_eq!(
        ids(&h
            .queue
            .claim_due(t0() + hours(24), 10, &w, LEASE)
            .await
            .unwrap()),
        vec![id]
    );
}

async fn a_held_deadline_is_handed_to_no_worker_until_it_is_released(h: Harness) {
    let paused = new_case();
    let other = new_case();
    let acknowledge = h
        .queue
        .schedule(deadline(paused, DeadlineKind::Acknowledge, t0() + hours(1)))
        .await
        .unwrap()
        .deadline_id;
    let resolve = h
        .queue
        .schedule(deadline(paused, DeadlineKind::Resolve, t0() + hours(2)))
        .await
        .unwrap()
        .deadline_id;
    let others = h
        .queue
        .schedule(deadline(other, DeadlineKind::Resolve, t0() + hours(2)))
        .await
        .unwrap()
        .deadline_id;

    let held = h.queue.hold_case(paused, t0()).await.unwrap();
    let again = h.queue.hold_case(paused, t0() + hours(1)).await.unwrap();

    assert_eq!(held.len(), 2);
    assert!(held.iter().all(|d| d.held_at == Some(t0())));
    assert!(again.is_empty());
    let w = worker("w1");
    assert_eq!(
        drain(h.queue.as_ref(), t0() + hours(5), &w, 10).await,
        vec![others]
    );
    assert_eq!(h.queue.next_due_at().await.unwrap(), None);
    // Moving a held deadline without releasing it keeps it held.
    let still = h
        .queue
        .reschedule(acknowledge, due(t0() + hours(3)), None, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.held_at, Some(t0()));
    assert!(
        drain(h.queue.as_ref(), t0() + hours(5), &w, 10)
            .await
            .is_empty()
    );

    let released = h
        .queue
        .reschedule(resolve, due(t0() + hours(26)), None, true)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(released.held_at, None);
    assert_eq!(released.state, DeadlineState::Pending);
    assert!(
        drain(h.queue.as_ref(), t0() + hours(25), &w, 10)
            .await
            .is_empty()
    );
    assert_eq!(
        drain(h.queue.as_ref(), t0() + hours(26), &w, 10).await,
        vec![resolve]
    );
    assert_eq!(
        h.queue.deadline(acknowledge).await.unwrap().unwrap().state,
        DeadlineState::Pending
    );
}

async fn a_held_deadline_stays_out_of_a_rebuilt_index(h: Harness) {
    let case = new_case();
    let id = h
        .queue
        .schedule(deadline(case, DeadlineKind::Resolve, t0()))
        .await
        .unwrap()
        .deadline_id;
    h.queue.hold_case(case, t0() - hours(1)).await.unwrap();

    h.lose_index().await;
    h.queue.rebuild_index().await.unwrap();

    let w = worker("w1");
    assert!(
        drain(h.queue.as_ref(), t0() + hours(5), &w, 10)
            .await
            .is_empty()
    );
    h.queue
        .reschedule(id, due(t0() + hours(6)), None, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        drain(h.queue.as_ref(), t0() + hours(6), &w, 10).await,
        vec![id]
    );
}
