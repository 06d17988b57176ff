use std::collections::BTreeSet;

use complaints_deadlines::{DeadlineState, FireOutcome, QueueError, Work};
use complaints_domain::case::{DeadlineKind, DeadlineOutcome};

use crate::support::*;

crate::conformance!(
    due_deadlines_are_claimed_once_across_concurrent_workers,
    nothing_is_claimed_before_it_is_due,
    a_dead_workers_lease_is_taken_over_after_it_runs_out,
    released_leases_are_claimable_again_at_once,
    a_claim_refuses_a_zero_limit_and_an_empty_lease,
    a_claimed_batch_fires_together_except_what_was_settled_meanwhile,
    the_largest_claim_takes_a_thousand_earliest_first_and_they_fire_as_one_batch,
    concurrent_workers_claiming_whole_batches_fire_each_deadline_once,
);

async fn due_deadlines_are_claimed_once_across_concurrent_workers(h: Harness) {
    let now = t0();
    let count = 300;
    h.queue
        .schedule_many(many(count, |i| now - minutes((i % 50) as i64)))
        .await
        .unwrap();

    let mut workers = Vec::new();
    for n in 0..6 {
        let queue = h.queue.clone();
        workers.push(tokio::spawn(async move {
            let worker = worker(&format!("worker-{n}"));
            let mut claimed = Vec::new();
            let mut fired = Vec::new();
            loop {
                let batch = queue.claim_due(now, 7, &worker, LEASE).await.unwrap();
                if batch.is_empty() {
                    return (claimed, fired);
                }
                for claim in batch {
                    let id = claim.deadline.deadline_id;
                    claimed.push(id);
                    if queue
                        .complete_fire(id, &worker, FireOutcome::Breached, now)
                        .await
                        .unwrap()
                    {
                        fired.push(id);
                    }
                }
            }
        }));
    }
    let mut claimed = Vec::new();
    let mut fired = Vec::new();
    for handle in workers {
        let (c, f) = handle.await.unwrap();
        claimed.extend(c);
        fired.extend(f);
    }

    let unique: BTreeSet<_> = claimed.iter().collect();
    assert_eq!(unique.len(), claimed.len(), "a deadline was claimed twice");
    assert_eq!(claimed.len(), count);
    assert_eq!(fired.len(), count, "every claim fired, once");
    assert_eq!(h.queue.count_pending().await.unwrap(), 0);
    assert_eq!(h.queue.next_due_at().await.unwrap(), None);
}

async fn nothing_is_claimed_before_it_is_due(h: Harness) {
    let now = t0();
    let case = new_case();
    h.queue
        .schedule(deadline(case, DeadlineKind::Acknowledge, now + hours(1)))
        .await
        .unwrap();
    let worker = worker("w1");

    let early = h
        .queue
        .claim_due(now + hours(1) - minutes(1), 10, &worker, LEASE)
        .await
        .unwrap();
    let due = h
        .queue
        .claim_due(now + hours(1), 10, &worker, LEASE)
        .await
        .unwrap();

    assert!(early.is_empty());
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].work, Work::Fire);
    assert_eq!(due[0].deadline.lease_owner.as_deref(), Some("w1"));
}

async fn a_dead_workers_lease_is_taken_over_after_it_runs_out(h: Harness) {
    let now = t0();
    h.queue
        .schedule_many(many(3, |_| now - minutes(1)))
        .await
        .unwrap();
    let dead = worker("dead");
    let alive = worker("alive");

    let held = h.queue.claim_due(now, 10, &dead, LEASE).await.unwrap();
    assert_eq!(held.len(), 3);
    // The dead worker never completes. Until its lease runs out, nobody
    // else gets its deadlines, and the queue says when to look again.
    let lease_end = now + chrono::TimeDelta::from_std(LEASE).unwrap();
    assert!(
        h.queue
            .claim_due(
                lease_end - chrono::TimeDelta::milliseconds(1),
                10,
                &alive,
                LEASE
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.queue.next_due_at().await.unwrap(), Some(lease_end));

    let taken = h
        .queue
        .claim_due(lease_end, 10, &alive, LEASE)
        .await
        .unwrap();

    assert_eq!(
        ids(&taken).into_iter().collect::<BTreeSet<_>>(),
        ids(&held).into_iter().collect()
    );
    for claim in &taken {
        let id = claim.deadline.deadline_id;
        assert!(
            !h.queue
                .complete_fire(id, &dead, FireOutcome::Breached, lease_end)
                .await
                .unwrap(),
            "the worker that lost its lease must not fire"
        );
        assert!(
            h.queue
                .complete_fire(id, &alive, FireOutcome::Breached, lease_end)
                .await
                .unwrap()
        );
        let stored = h.queue.deadline(id).await.unwrap().unwrap();
        assert_eq!(stored.state, DeadlineState::Breached);
        assert_eq!(stored.fired_at, Some(lease_end));
        assert_eq!(stored.lease_owner, None);
    }
}

async fn released_leases_are_claimable_again_at_once(h: Harness) {
    let now = t0();
    h.queue
        .schedule_many(many(4, |_| now - minutes(1)))
        .await
        .unwrap();
    let leaving = worker("leaving");
    let staying = worker("staying");
    assert_eq!(
        h.queue
            .claim_due(now, 3, &leaving, LEASE)
            .await
            .unwrap()
            .len(),
        3
    );

    assert_eq!(h.queue.release_leases(&leaving).await.unwrap(), 3);
    assert_eq!(h.queue.release_leases(&leaving).await.unwrap(), 0);

    assert_eq!(h.queue.next_due_at().await.unwrap(), Some(now - minutes(1)));
    assert_eq!(drain(h.queue.as_ref(), now, &staying, 10).await.len(), 4);
}

async fn a_claim_refuses_a_zero_limit_and_an_empty_lease(h: Harness) {
    let worker = worker("w1");
    assert!(matches!(
        h.queue.claim_due(t0(), 0, &worker, LEASE).await,
        Err(QueueError::InvalidArgument { field: "limit", .. })
    ));
    assert!(matches!(
        h.queue.claim_due(t0(), 1001, &worker, LEASE).await,
        Err(QueueError::InvalidArgument { field: "limit", .. })
    ));
    assert!(matches!(
        h.queue
            .claim_due(t0(), 10, &worker, std::time::Duration::ZERO)
            .await,
        Err(QueueError::InvalidArgument { field: "lease", .. })
    ));
}

async fn a_claimed_batch_fires_together_except_what_was_settled_meanwhile(h: Harness) {
    let now = t0();
    let due = many(4, |i| now - minutes(i as i64));
    let settled_case = due[0].case_id;
    h.queue.schedule_many(due).await.unwrap();
    let holder = worker("holder");
    let other = worker("other");
    let claimed = h.queue.claim_due(now, 10, &holder, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 4);
    h.queue
        .settle(
            settled_case,
            DeadlineKind::Acknowledge,
            DeadlineOutcome::Met,
            now,
        )
        .await
        .unwrap();
    let outcomes: Vec<_> = claimed
        .iter()
        .enumerate()
        .map(|(n, claim)| {
            let outcome = if n == 3 {
                FireOutcome::Cancelled
            } else {
                FireOutcome::Breached
            };
            (claim.deadline.deadline_id, outcome)
        })
        .collect();

    assert!(
        h.queue
            .complete_fire_many(&outcomes, &other, now)
            .await
            .unwrap()
            .is_empty()
    );
    let fired = h
        .queue
        .complete_fire_many(&outcomes, &holder, now)
        .await
        .unwrap();
    let again = h
        .queue
        .complete_fire_many(&outcomes, &holder, now)
        .await
        .unwrap();

    assert_eq!(fired.len(), 3);
    assert!(again.is_empty());
    for (id, outcome) in outcomes {
        let stored = h.queue.deadline(id).await.unwrap().unwrap();
        if stored.case_id == settled_case {
            assert!(!fired.contains(&id));
            assert_eq!(stored.state, DeadlineState::Met);
            assert_eq!(stored.fired_at, None);
        } else {
            assert!(fired.contains(&id));
            assert_eq!(stored.state, outcome.state());
            assert_eq!(stored.fired_at, Some(now));
        }
    }
    assert_eq!(h.queue.next_due_at().await.unwrap(), None);
}

async fn the_largest_claim_takes_a_thousand_earliest_first_and_they_fire_as_one_batch(h: Harness) {
    let now = t0();
    // Due 1,500 ms ago (the first) to 1 ms ago (the last).
    let ago = |i: usize| now - chrono::TimeDelta::milliseconds(1_500 - i as i64);
    h.queue.schedule_many(many(1_500, ago)).await.unwrap();
    let worker = worker("w1");

    let first = h.queue.claim_due(now, 1_000, &worker, LEASE).await.unwrap();

    assert_eq!(first.len(), 1_000);
    let dues: Vec<_> = first.iter().map(|claim| claim.deadline.due.at).collect();
    assert!(
        dues.windows(2).all(|pair| pair[0] <= pair[1]),
        "earliest first"
    );
    assert_eq!(dues.first().copied(), Some(ago(0)));
    assert_eq!(dues.last().copied(), Some(ago(999)));
    let outcomes: Vec<_> = first
        .iter()
        .map(|claim| (claim.deadline.deadline_id, FireOutcome::Breached))
        .collect();
    let fired = h
        .queue
        .complete_fire_many(&outcomes, &worker, now)
        .await
        .unwrap();
    assert_eq!(fired.len(), 1_000);
    assert_eq!(
        fired.iter().collect::<BTreeSet<_>>(),
        ids(&first).iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(h.queue.count_pending().await.unwrap(), 500);

    let rest = h.queue.claim_due(now, 1_000, &worker, LEASE).await.unwrap();
    assert_eq!(rest.len(), 500);
    assert!(rest.iter().all(|claim| claim.deadline.due.at >= ago(1_000)));
    for claim in &first {
        let stored = h
            .queue
            .deadline(claim.deadline.deadline_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.state, DeadlineState::Breached);
        assert_eq!(stored.fired_at, Some(now));
    }
}

async fn concurrent_workers_claiming_whole_batches_fire_each_deadline_once(h: Harness) {
    let now = t0();
    let count = 3_000;
    h.queue
        .schedule_many(many(count, |i| now - minutes((i % 90) as i64)))
        .await
        .unwrap();

    let mut workers = Vec::new();
    for n in 0..4 {
        let queue = h.queue.clone();
        workers.push(tokio::spawn(async move {
            let worker = worker(&format!("batch-worker-{n}"));
            let mut claimed = Vec::new();
            let mut fired = Vec::new();
            loop {
                let batch = queue.claim_due(now, 1_000, &worker, LEASE).await.unwrap();
                if batch.is_empty() {
                    return (claimed, fired);
                }
                let outcomes: Vec<_> = batch
                    .iter()
                    .map(|claim| (claim.deadline.deadline_id, FireOutcome::Breached))
                    .collect();
                claimed.extend(ids(&batch));
                fired.extend(
                    queue
                        .complete_fire_many(&outcomes, &worker, now)
                        .await
                        .unwrap(),
                );
            }
        }));
    }
    let mut claimed = Vec::new();
    let mut fired = Vec::new();
    for handle in workers {
        let (c, f) = handle.await.unwrap();
        claimed.extend(c);
        fired.extend(f);
    }

    let unique: BTreeSet<_> = claimed.iter().collect();
    assert_eq!(unique.len(), claimed.len(), "a deadline was claimed twice");
    assert_eq!(claimed.len(), count);
    assert_eq!(fired.len(), count, "every claim fired, once");
    assert_eq!(h.queue.count_pending().await.unwrap(), 0);
    assert_eq!(h.queue.next_due_at().await.unwrap(), None);
}
