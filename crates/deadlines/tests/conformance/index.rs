//! Redis losing the index. For the SQL backend the table is the index, so
//! losing it does nothing, and these tests check the same outcome there.

use std::collections::BTreeSet;
use std::sync::Arc;

use complaints_deadlines::{FireOutcome, Reconciled};

use crate::support::*;

crate::conformance!(
    losing_the_index_and_rebuilding_it_loses_nothing_and_fires_nothing_twice,
    a_claim_after_redis_lost_the_index_rebuilds_it_first,
    the_reconciler_restores_members_lost_from_the_index,
    members_that_land_soon_after_their_rows_are_not_taken_for_lost,
    a_rebuild_leaves_a_live_lease_alone,
);

async fn losing_the_index_and_rebuilding_it_loses_nothing_and_fires_nothing_twice(h: Harness) {
    let now = t0();
    h.queue
        .schedule_many(many(100, |i| now - chrono::TimeDelta::seconds(i as i64)))
        .await
        .unwrap();
    let before = worker("before");
    let dead = worker("dead");
    let after = worker("after");
    let mut fired = Vec::new();
    for claim in h.queue.claim_due(now, 40, &before, LEASE).await.unwrap() {
        let id = claim.deadline.deadline_id;
        assert!(
            h.queue
                .complete_fire(id, &before, FireOutcome::Breached, now)
                .await
                .unwrap()
        );
        fired.push(id);
    }
    let held = ids(&h.queue.claim_due(now, 10, &dead, LEASE).await.unwrap());
    assert_eq!(held.len(), 10);

    h.lose_index().await;
    assert_eq!(h.queue.rebuild_index().await.unwrap(), 60);

    let rest = drain(h.queue.as_ref(), now, &after, 25).await;
    assert_eq!(
        rest.len(),
        50,
        "the 50 never claimed, and not the 10 still leased"
    );
    let lease_end = now + chrono::TimeDelta::from_std(LEASE).unwrap();
    let taken_over = drain(h.queue.as_ref(), lease_end, &after, 25).await;
    assert_eq!(
        taken_over.iter().collect::<BTreeSet<_>>(),
        held.iter().collect::<BTreeSet<_>>()
    );

    fired.extend(rest);
    fired.extend(taken_over);
    assert_eq!(fired.iter().collect::<BTreeSet<_>>().len(), 100);
    assert_eq!(fired.len(), 100);
    assert_eq!(h.queue.count_pending().await.unwrap(), 0);
    assert!(
        drain(h.queue.as_ref(), now + hours(24), &after, 25)
            .await
            .is_empty()
    );
}

async fn a_claim_after_redis_lost_the_index_rebuilds_it_first(h: Harness) {
    let now = t0();
    h.queue
        .schedule_many(many(5, |_| now - minutes(1)))
        .await
        .unwrap();
    h.lose_index().await;
    assert_eq!(h.queue.next_due_at().await.unwrap(), Some(now - minutes(1)));

    h.lose_index().await;
    let worker = worker("w1");
    assert_eq!(drain(h.queue.as_ref(), now, &worker, 10).await.len(), 5);
}

async fn the_reconciler_restores_members_lost_from_the_index(h: Harness) {
    let now = t0();
    h.queue
        .schedule_many(many(5, |_| now - minutes(1)))
        .await
        .unwrap();
    if let Some(redis) = &h.redis {
        assert!(matches!(
            redis.reconcile().await.unwrap(),
            Reconciled::InLine {
                pending: 5,
                indexed: 5
            }
        ));
        h.lose_members().await;
        let worker = worker("w0");
        assert!(
            h.queue
                .claim_due(now, 10, &worker, LEASE)
                .await
                .unwrap()
                .is_empty()
        );

        assert!(matches!(
            redis.reconcile().await.unwrap(),
            Reconciled::Rebuilt { pending: 5, .. }
        ));
    }
    let worker = worker("w1");
    assert_eq!(drain(h.queue.as_ref(), now, &worker, 10).await.len(), 5);
}

async fn members_that_land_soon_after_their_rows_are_not_taken_for_lost(h: Harness) {
    let now = t0();
    let scheduled = h
        .queue
        .schedule_many(many(5, |_| now - minutes(1)))
        .await
        .unwrap();
    if let Some(redis) = &h.redis {
        // As a pass sees schedules that have committed their rows and not
        // yet added their members: the members come 200 ms later, well
        // within the pass's second look (1 s by default).
        h.lose_members().await;
        let ids: Vec<_> = scheduled.iter().map(|row| row.deadline_id).collect();
        let queue = Arc::clone(&h.queue);
        let landing = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            queue.tidy(&ids).await.unwrap();
        });
        let reconciled = redis.reconcile().await.unwrap();
        landing.await.unwrap();
        assert_eq!(
            reconciled,
            Reconciled::InLine {
                pending: 5,
                indexed: 5
            }
        );
    }
    // Without a rebuild, every one of them is still handed out.
    let worker = worker("w1");
    assert_eq!(drain(h.queue.as_ref(), now, &worker, 10).await.len(), 5);
}

async fn a_rebuild_leaves_a_live_lease_alone(h: Harness) {
    let now = t0();
    h.queue
        .schedule_many(many(3, |_| now - minutes(1)))
        .await
        .unwrap();
    let holder = worker("holder");
    let other = worker("other");
    let held = h.queue.claim_due(now, 10, &holder, LEASE).await.unwrap();
    assert_eq!(held.len(), 3);

    h.queue.rebuild_index().await.unwrap();
    h.lose_index().await;
    h.queue.rebuild_index().await.unwrap();

    assert!(
        h.queue
            .claim_due(now, 10, &other, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    for claim in held {
        assert!(
            h.queue
                .complete_fire(
                    claim.deadline.deadline_id,
                    &holder,
                    FireOutcome::Breached,
                    now
                )
                .await
                .unwrap()
        );
    }
    assert_eq!(h.queue.next_due_at().await.unwrap(), None);
}
