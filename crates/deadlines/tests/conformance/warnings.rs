use complaints_deadlines::{DeadlineState, FireOutcome, Work};
use complaints_domain::case::DeadlineKind;

use crate::support::*;

crate::conformance!(
    a_warning_is_handed_out_once_before_the_deadline_fires,
    a_warning_missed_until_the_deadline_is_due_is_not_sent,
    a_dead_workers_warning_is_taken_over_and_sent_once,
);

async fn a_warning_is_handed_out_once_before_the_deadline_fires(h: Harness) {
    let now = t0();
    let mut warned = deadline(new_case(), DeadlineKind::Resolve, now + hours(10));
    warned.warn_at = Some(now + hours(8));
    let id = h.queue.schedule(warned).await.unwrap().deadline_id;
    let first = worker("first");
    let second = worker("second");

    assert!(
        h.queue
            .claim_due(now + hours(7), 10, &first, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.queue.next_due_at().await.unwrap(), Some(now + hours(8)));

    let warning = h
        .queue
        .claim_due(now + hours(8), 10, &first, LEASE)
        .await
        .unwrap();
    assert_eq!(warning.len(), 1);
    assert_eq!(warning[0].work, Work::Warn);
    assert!(
        h.queue
            .claim_due(now + hours(8), 10, &second, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !h.queue
            .complete_warn(id, &second, now + hours(8))
            .await
            .unwrap()
    );
    assert!(
        h.queue
            .complete_warn(id, &first, now + hours(8))
            .await
            .unwrap()
    );
    assert!(
        !h.queue
            .complete_warn(id, &first, now + hours(8))
            .await
            .unwrap()
    );

    assert_eq!(h.queue.next_due_at().await.unwrap(), Some(now + hours(10)));
    assert!(
        h.queue
            .claim_due(now + hours(9), 10, &second, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let fire = h
        .queue
        .claim_due(now + hours(10), 10, &second, LEASE)
        .await
        .unwrap();
    assert_eq!(fire.len(), 1);
    assert_eq!(fire[0].work, Work::Fire);
    assert!(
        h.queue
            .complete_fire(id, &second, FireOutcome::Breached, now + hours(10))
            .await
            .unwrap()
    );
    let stored = h.queue.deadline(id).await.unwrap().unwrap();
    assert_eq!(stored.warned_at, Some(now + hours(8)));
    assert_eq!(stored.fired_at, Some(now + hours(10)));
    assert_eq!(stored.state, DeadlineState::Breached);
}

async fn a_warning_missed_until_the_deadline_is_due_is_not_sent(h: Harness) {
    let now = t0();
    let mut warned = deadline(new_case(), DeadlineKind::Acknowledge, now - hours(1));
    warned.warn_at = Some(now - hours(2));
    let id = h.queue.schedule(warned).await.unwrap().deadline_id;
    let worker = worker("w1");

    let claimed = h.queue.claim_due(now, 10, &worker, LEASE).await.unwrap();

    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].work, Work::Fire);
    assert!(
        h.queue
            .complete_fire(id, &worker, FireOutcome::Breached, now)
            .await
            .unwrap()
    );
    assert!(!h.queue.complete_warn(id, &worker, now).await.unwrap());
    assert_eq!(h.queue.deadline(id).await.unwrap().unwrap().warned_at, None);
}

async fn a_dead_workers_warning_is_taken_over_and_sent_once(h: Harness) {
    let now = t0();
    let mut warned = deadline(new_case(), DeadlineKind::Resolve, now + hours(10));
    warned.warn_at = Some(now);
    let id = h.queue.schedule(warned).await.unwrap().deadline_id;
    let dead = worker("dead");
    let alive = worker("alive");
    assert_eq!(
        h.queue
            .claim_due(now, 10, &dead, LEASE)
            .await
            .unwrap()
            .len(),
        1
    );

    let after_lease = now + minutes(1);
    let taken = h
        .queue
        .claim_due(after_lease, 10, &alive, LEASE)
        .await
        .unwrap();

    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].work, Work::Warn);
    assert!(!h.queue.complete_warn(id, &dead, after_lease).await.unwrap());
    assert!(
        h.queue
            .complete_warn(id, &alive, after_lease)
            .await
            .unwrap()
    );
    assert!(
        h.queue
            .claim_due(now + hours(9), 10, &dead, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}
