use complaints_deadlines::{DeadlineState, FireOutcome, Work};
use complaints_domain::case::{DeadlineKind, DeadlineOutcome};

use crate::support::*;

crate::conformance!(
    a_deadline_settled_before_it_is_due_never_fires,
    a_deadline_settled_while_a_worker_holds_it_is_not_fired,
    cancelling_a_case_cancels_only_its_pending_deadlines,
    a_breached_deadline_stays_breached,
);

async fn a_deadline_settled_before_it_is_due_never_fires(h: Harness) {
    let now = t0();
    let case = new_case();
    h.queue
        .schedule(deadline(case, DeadlineKind::Acknowledge, now + hours(1)))
        .await
        .unwrap();

    let settled = h
        .queue
        .settle(case, DeadlineKind::Acknowledge, DeadlineOutcome::Met, now)
        .await
        .unwrap();
    let again = h
        .queue
        .settle(
            case,
            DeadlineKind::Acknowledge,
            DeadlineOutcome::Cancelled,
            now,
        )
        .await
        .unwrap();

    assert!(settled);
    assert!(!again);
    let worker = worker("w1");
    assert!(
        drain(h.queue.as_ref(), now + hours(2), &worker, 10)
            .await
            .is_empty()
    );
    let stored = h.queue.get(case).await.unwrap();
    assert_eq!(stored[0].state, DeadlineState::Met);
    assert_eq!(stored[0].settled_at, Some(now));
    assert_eq!(stored[0].fired_at, None);
    assert_eq!(h.queue.next_due_at().await.unwrap(), None);
}

async fn a_deadline_settled_while_a_worker_holds_it_is_not_fired(h: Harness) {
    let now = t0();
    let case = new_case();
    h.queue
        .schedule(deadline(case, DeadlineKind::Resolve, now))
        .await
        .unwrap();
    let worker = worker("w1");
    let claimed = h.queue.claim_due(now, 10, &worker, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].work, Work::Fire);

    assert!(
        h.queue
            .settle(case, DeadlineKind::Resolve, DeadlineOutcome::Met, now)
            .await
            .unwrap()
    );

    assert!(
        !h.queue
            .complete_fire(
                claimed[0].deadline.deadline_id,
                &worker,
                FireOutcome::Breached,
                now
            )
            .await
            .unwrap()
    );
    assert_eq!(
        h.queue.get(case).await.unwrap()[0].state,
        DeadlineState::Met
    );
    assert!(
        drain(h.queue.as_ref(), now + hours(1), &worker, 10)
            .await
            .is_empty()
    );
}

async fn cancelling_a_case_cancels_only_its_pending_deadlines(h: Harness) {
    let now = t0();
    let closing = new_case();
    let other = new_case();
    h.queue
        .schedule_many(vec![
            deadline(closing, DeadlineKind::Acknowledge, now + hours(1)),
            deadline(closing, DeadlineKind::Resolve, now + hours(2)),
            deadline(closing, DeadlineKind::ReferralUpdate, now + hours(3)),
            deadline(other, DeadlineKind::Acknowledge, now + hours(1)),
        ])
        .await
        .unwrap();
    h.queue
        .settle(
            closing,
            DeadlineKind::Acknowledge,
            DeadlineOutcome::Met,
            now,
        )
        .await
        .unwrap();

    assert_eq!(h.queue.cancel_case(closing, now).await.unwrap(), 2);
    assert_eq!(h.queue.cancel_case(closing, now).await.unwrap(), 0);

    let worker = worker("w1");
    let fired = drain(h.queue.as_ref(), now + hours(4), &worker, 10).await;
    let others = h.queue.get(other).await.unwrap();
    assert_eq!(fired, vec![others[0].deadline_id]);
    let states: Vec<_> = h
        .queue
        .get(closing)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.kind, d.state))
        .collect();
    assert_eq!(
        states,
        vec![
            (DeadlineKind::Acknowledge, DeadlineState::Met),
            (DeadlineKind::Resolve, DeadlineState::Cancelled),
            (DeadlineKind::ReferralUpdate, DeadlineState::Cancelled),
        ]
    );
}

async fn a_breached_deadline_stays_breached(h: Harness) {
    let now = t0();
    let case = new_case();
    h.queue
        .schedule(deadline(case, DeadlineKind::Acknowledge, now - minutes(1)))
        .await
        .unwrap();
    let worker = worker("w1");
    assert_eq!(drain(h.queue.as_ref(), now, &worker, 10).await.len(), 1);

    let met_late = h
        .queue
        .settle(
            case,
            DeadlineKind::Acknowledge,
            DeadlineOutcome::Met,
            now + minutes(5),
        )
        .await
        .unwrap();
    let cancelled = h.queue.cancel_case(case, now + minutes(6)).await.unwrap();

    assert!(!met_late);
    assert_eq!(cancelled, 0);
    let stored = &h.queue.get(case).await.unwrap()[0];
    assert_eq!(stored.state, DeadlineState::Breached);
    assert_eq!(stored.fired_at, Some(now));
    assert_eq!(stored.settled_at, Some(now));
}
