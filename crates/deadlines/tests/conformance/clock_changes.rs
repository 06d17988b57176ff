//! A case change reaching the clocks: every clock it names is claimed in
//! one statement, and the case's assignee is recorded in the same
//! transaction, by the same rule (the newest change wins).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use complaints_deadlines::clock_versions::{self, CaseChange};
use complaints_deadlines::{SqlQueue, SqlQueueConfig, assignees};
use complaints_domain::case::{DeadlineKind, DeadlineOutcome};

use crate::support::*;

crate::conformance!(
    a_change_costs_the_same_statements_for_one_clock_as_for_three,
    a_change_records_its_assignee_with_its_clocks_and_a_stale_one_neither,
);

fn change(
    case: complaints_domain::case::CaseId,
    version: i64,
    kinds: &[DeadlineKind],
) -> CaseChange {
    CaseChange {
        case_id: case,
        version,
        start: kinds
            .iter()
            .zip(1..)
            .map(|(kind, n)| deadline(case, *kind, t0() + hours(n)))
            .collect(),
        settle: Vec::new(),
        assignee: None,
        at: t0(),
    }
}

async fn a_change_costs_the_same_statements_for_one_clock_as_for_three(h: Harness) {
    let statements = Arc::new(AtomicUsize::new(0));
    let mut counted = h.queue.database().clone();
    let counter = statements.clone();
    counted.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let queue = SqlQueue::new(
        counted,
        SqlQueueConfig {
            recheck: Duration::from_secs(3600),
        },
    );
    let mut counts = Vec::new();
    for kinds in [
        &[DeadlineKind::Acknowledge][..],
        &[
            DeadlineKind::Acknowledge,
            DeadlineKind::Resolve,
            DeadlineKind::ReferralUpdate,
        ],
    ] {
        statements.store(0, Ordering::SeqCst);
        let applied = clock_versions::apply(&queue, change(new_case(), 1, kinds))
            .await
            .unwrap();
        assert_eq!(applied.started, kinds.len());
        counts.push(statements.load(Ordering::SeqCst));
    }
    assert_eq!(
        counts[0], counts[1],
        "one clock took {} statements, three took {}",
        counts[0], counts[1]
    );
}

async fn a_change_records_its_assignee_with_its_clocks_and_a_stale_one_neither(h: Harness) {
    let case = new_case();
    let db = h.queue.database();
    let first = CaseChange {
        assignee: Some("hana".to_owned()),
        ..change(case, 2, &[DeadlineKind::Acknowledge, DeadlineKind::Resolve])
    };
    let applied = clock_versions::apply(h.queue.as_ref(), first)
        .await
        .unwrap();
    assert!(applied.assignee_recorded);
    assert_eq!(applied.started, 2);
    assert!(applied.stale.is_empty());
    let assigned = assignees::of_cases(db, &[case]).await.unwrap();
    assert_eq!(assigned.get(&case).map(String::as_str), Some("hana"));

    // An older change, delivered late: it names one clock already taken
    // (stale) and one it is the first to name (applied).
    let late = CaseChange {
        assignee: Some("pat".to_owned()),
        settle: vec![(DeadlineKind::Resolve, DeadlineOutcome::Met)],
        ..change(case, 1, &[DeadlineKind::ReferralUpdate])
    };
    let applied = clock_versions::apply(h.queue.as_ref(), late).await.unwrap();
    assert!(!applied.assignee_recorded);
    assert_eq!(applied.stale, [DeadlineKind::Resolve]);
    assert_eq!(applied.settled, 0);
    assert_eq!(applied.started, 1);
    let assigned = assignees::of_cases(db, &[case]).await.unwrap();
    assert_eq!(assigned.get(&case).map(String::as_str), Some("hana"));
    let pending = h.queue.get(case).await.unwrap();
    assert_eq!(pending.len(), 3);
}
