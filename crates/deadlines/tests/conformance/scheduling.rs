use complaints_deadlines::{DeadlineState, FireOutcome};
use complaints_domain::case::DeadlineKind;

use crate::support::*;

crate::conformance!(
    scheduling_the_same_deadline_twice_changes_nothing,
    scheduling_a_batch_with_repeats_answers_each_in_order,
    scheduling_again_after_firing_does_not_revive_the_deadline,
    the_next_due_instant_is_the_earliest_pending_one,
);

async fn scheduling_the_same_deadline_twice_changes_nothing(h: Harness) {
    let case = new_case();
    let first = deadline(case, DeadlineKind::Acknowledge, t0() + hours(1));
    let mut redelivered = first.clone();
    redelivered.due.at = t0() + hours(5);
    redelivered.reason = "something else".to_owned();

    let scheduled = h.queue.schedule(first.clone()).await.unwrap();
    let again = h.queue.schedule(redelivered).await.unwrap();

    assert!(scheduled.created);
    assert!(!again.created);
    assert_eq!(again.deadline_id, scheduled.deadline_id);
    let stored = h.queue.get(case).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].deadline_id, scheduled.deadline_id);
    assert_eq!(stored[0].due, first.due);
    assert_eq!(stored[0].reason, first.reason);
    assert_eq!(stored[0].state, DeadlineState::Pending);
    assert_eq!(h.queue.count_pending().await.unwrap(), 1);
}

async fn scheduling_a_batch_with_repeats_answers_each_in_order(h: Harness) {
    let case = new_case();
    let acknowledge = deadline(case, DeadlineKind::Acknowledge, t0() + hours(1));
    let resolve = deadline(case, DeadlineKind::Resolve, t0() + hours(2));
    let earlier = h.queue.schedule(acknowledge.clone()).await.unwrap();

    let answers = h
        .queue
        .schedule_many(vec![resolve.clone(), resolve, acknowledge])
        .await
        .unwrap();

    assert_eq!(answers.len(), 3);
    assert!(answers[0].created);
    assert!(!answers[1].created);
    assert_eq!(answers[1].deadline_id, answers[0].deadline_id);
    assert!(!answers[2].created);
    assert_eq!(answers[2].deadline_id, earlier.deadline_id);
    assert_eq!(h.queue.get(case).await.unwrap().len(), 2);
}

async fn scheduling_again_after_firing_does_not_revive_the_deadline(h: Harness) {
    let now = t0();
    let due = deadline(new_case(), DeadlineKind::Resolve, now - minutes(1));
    let scheduled = h.queue.schedule(due.clone()).await.unwrap();
    let worker = worker("w1");
    assert_eq!(drain(h.queue.as_ref(), now, &worker, 10).await.len(), 1);

    let again = h.queue.schedule(due).await.unwrap();

    assert!(!again.created);
    assert_eq!(again.deadline_id, scheduled.deadline_id);
    let later = now + hours(1);
    assert!(
        h.queue
            .claim_due(later, 10, &worker, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let stored = h
        .queue
        .deadline(scheduled.deadline_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, DeadlineState::Breached);
    assert!(
        !h.queue
            .complete_fire(scheduled.deadline_id, &worker, FireOutcome::Met, later)
            .await
            .unwrap()
    );
}

async fn the_next_due_instant_is_the_earliest_pending_one(h: Harness) {
    assert_eq!(h.queue.next_due_at().await.unwrap(), None);
    let case = new_case();
    h.queue
        .schedule_many(vec![
            deadline(case, DeadlineKind::Resolve, t0() + hours(3)),
            deadline(case, DeadlineKind::Acknowledge, t0() + hours(2)),
        ])
        .await
        .unwrap();
    assert_eq!(h.queue.next_due_at().await.unwrap(), Some(t0() + hours(2)));

    h.queue
        .settle(
            case,
            DeadlineKind::Acknowledge,
            complaints_domain::case::DeadlineOutcome::Met,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(h.queue.next_due_at().await.unwrap(), Some(t0() + hours(3)));
}
