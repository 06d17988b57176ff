//! A case change reaching the clocks: every clock it names is claimed in
//! one statement, and the case's assignee is recorded in the same
//! transaction, by the same rule (the newest change wins).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use complaints_deadlines::clock_versions::{self, CaseChange};
use complaints_deadlines::{DeadlineState, SqlQueue, SqlQueueConfig, assignees};
use complaints_domain::case::{DeadlineKind, DeadlineOutcome};

use crate::support::*;

crate::conformance!(
    a_change_costs_the_same_statements_for_one_clock_as_for_three,
    a_change_records_its_assignee_with_its_clocks_and_a_stale_one_neither,
    changes_of_eight_cases_applied_together_cost_the_statements_of_two,
    a_case_named_twice_in_a_batch_takes_its_changes_in_order,
    a_clock_started_in_a_batch_on_a_paused_case_is_held_and_no_other,
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

/// A SQL queue over `h`'s database that counts the statements run through it.
fn counted(h: &Harness) -> (SqlQueue, Arc<AtomicUsize>) {
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
    (queue, statements)
}

async fn a_change_costs_the_same_statements_for_one_clock_as_for_three(h: Harness) {
    let (queue, statements) = counted(&h);
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

/// Eight cases' changes (an assignee each, two clocks each) applied
/// together run the statements two cases' changes do, and each gets its
/// own answer. (Together, a transaction first locks its cases' pending
/// deadlines: one statement more than a change alone.)
async fn changes_of_eight_cases_applied_together_cost_the_statements_of_two(h: Harness) {
    let (queue, statements) = counted(&h);
    let kinds = [DeadlineKind::Acknowledge, DeadlineKind::Resolve];
    let with_assignee = |case, name: &str| CaseChange {
        assignee: Some(name.to_owned()),
        ..change(case, 1, &kinds)
    };
    let two = clock_versions::apply_all(
        &queue,
        vec![
            with_assignee(new_case(), "first"),
            with_assignee(new_case(), "second"),
        ],
    )
    .await;
    for applied in two {
        assert_eq!(applied.unwrap().started, 2);
    }
    let pair = statements.swap(0, Ordering::SeqCst);

    let cases: Vec<_> = (0..8).map(|_| new_case()).collect();
    let names: Vec<String> = (0..8).map(|n| format!("handler-{n}")).collect();
    let changes = || -> Vec<CaseChange> {
        cases
            .iter()
            .zip(&names)
            .map(|(case, name)| with_assignee(*case, name))
            .collect()
    };
    let together = clock_versions::apply_all(&queue, changes()).await;
    let eight = statements.load(Ordering::SeqCst);
    assert_eq!(
        eight, pair,
        "eight changes together ran {eight} statements, two {pair}"
    );
    let assigned = assignees::of_cases(h.queue.database(), &cases)
        .await
        .unwrap();
    for ((case, name), applied) in cases.iter().zip(&names).zip(&together) {
        let applied = applied.as_ref().unwrap();
        assert_eq!(applied.started, 2);
        assert!(applied.assignee_recorded);
        assert_eq!(assigned.get(case), Some(name));
        assert_eq!(h.queue.get(*case).await.unwrap().len(), 2);
    }

    // The same changes again (a relay's repeat): nothing new, all stale.
    let again = clock_versions::apply_all(&queue, changes()).await;
    for applied in again {
        let applied = applied.unwrap();
        assert_eq!((applied.started, applied.settled), (0, 0));
        assert_eq!(applied.stale, kinds);
        assert!(!applied.assignee_recorded);
    }
}

/// A batch that names one case twice (its start, then its settlement)
/// applies that case's changes in their order, around another case's.
async fn a_case_named_twice_in_a_batch_takes_its_changes_in_order(h: Harness) {
    let (twice, other) = (new_case(), new_case());
    let settled = CaseChange {
        settle: vec![(DeadlineKind::Acknowledge, DeadlineOutcome::Met)],
        ..change(twice, 2, &[])
    };
    let answers = clock_versions::apply_all(
        h.queue.as_ref(),
        vec![
            change(
                twice,
                1,
                &[DeadlineKind::Acknowledge, DeadlineKind::Resolve],
            ),
            change(other, 1, &[DeadlineKind::Acknowledge]),
            settled,
        ],
    )
    .await;
    let answers: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(answers[0].started, 2);
    assert_eq!(answers[1].started, 1);
    assert_eq!(answers[2].settled, 1);
    let states: Vec<_> = h
        .queue
        .get(twice)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.kind, d.state))
        .collect();
    assert!(states.contains(&(DeadlineKind::Acknowledge, DeadlineState::Met)));
    assert!(states.contains(&(DeadlineKind::Resolve, DeadlineState::Pending)));
}

/// A clock started in a batch on a case whose clocks are paused is held
/// from its start; the same batch's clock on a running case is not.
async fn a_clock_started_in_a_batch_on_a_paused_case_is_held_and_no_other(h: Harness) {
    let (paused, running) = (new_case(), new_case());
    clock_versions::apply(
        h.queue.as_ref(),
        change(paused, 1, &[DeadlineKind::Resolve]),
    )
    .await
    .unwrap();
    h.queue.hold_case(paused, t0()).await.unwrap();
    let answers = clock_versions::apply_all(
        h.queue.as_ref(),
        vec![
            change(paused, 2, &[DeadlineKind::ReferralUpdate]),
            change(running, 1, &[DeadlineKind::ReferralUpdate]),
        ],
    )
    .await;
    for applied in answers {
        assert_eq!(applied.unwrap().started, 1);
    }
    for deadline in h.queue.get(paused).await.unwrap() {
        assert!(deadline.held_at.is_some(), "{:?} runs", deadline.kind);
    }
    for deadline in h.queue.get(running).await.unwrap() {
        assert!(deadline.held_at.is_none(), "{:?} is held", deadline.kind);
    }
}

/// A change that cannot be written (a register number wider than its
/// column, which only Postgres enforces) fails alone; the others in its
/// batch are applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_cannot_be_applied_fails_alone_in_its_batch() {
    let Some(test) = complaints_test_support::TestDb::postgres().await else {
        return;
    };
    let h = Harness::sql(test);
    let (before, bad, after) = (new_case(), new_case(), new_case());
    let mut unwritable = change(bad, 1, &[DeadlineKind::Acknowledge]);
    unwritable.start[0].register_number = "C".repeat(40);
    let answers = clock_versions::apply_all(
        h.queue.as_ref(),
        vec![
            change(before, 1, &[DeadlineKind::Acknowledge]),
            unwritable,
            change(after, 1, &[DeadlineKind::Acknowledge]),
        ],
    )
    .await;
    assert_eq!(answers[0].as_ref().unwrap().started, 1);
    assert!(answers[1].is_err());
    assert_eq!(answers[2].as_ref().unwrap().started, 1);
    assert!(h.queue.get(bad).await.unwrap().is_empty());
    assert_eq!(h.queue.get(after).await.unwrap().len(), 1);
}

/// Another transaction holds one case's pending deadline (as a worker
/// completing a batch of firings does) and is about to lock another
/// case's. A batch settling both cases does not wait holding the first
/// case's deadline, which would close a cycle Postgres breaks by failing
/// one side: it gives up at once, and its changes are applied one at a
/// time, the first at once and the second once the other transaction ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_never_waits_for_a_deadline_while_holding_another() {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let Some(test) = complaints_test_support::TestDb::postgres().await else {
        return;
    };
    let h = Harness::sql(test);
    let (first, second) = (new_case(), new_case());
    for case in [first, second] {
        clock_versions::apply(h.queue.as_ref(), change(case, 1, &[DeadlineKind::Resolve]))
            .await
            .unwrap();
    }
    let id_of = |deadlines: Vec<complaints_deadlines::Deadline>| deadlines[0].deadline_id.0;
    let first_id = id_of(h.queue.get(first).await.unwrap());
    let second_id = id_of(h.queue.get(second).await.unwrap());
    let lock =
        |id: uuid::Uuid| format!("SELECT 1 FROM deadlines WHERE deadline_id = '{id}' FOR UPDATE");

    let worker = h.queue.database().begin().await.unwrap();
    worker.execute_unprepared(&lock(second_id)).await.unwrap();
    let settle = |case| CaseChange {
        settle: vec![(DeadlineKind::Resolve, DeadlineOutcome::Met)],
        ..change(case, 2, &[])
    };
    let batch = {
        let queue = h.queue.clone();
        let changes = vec![settle(first), settle(second)];
        tokio::spawn(async move { clock_versions::apply_all(queue.as_ref(), changes).await })
    };
    // The first case's settlement commits while the other transaction
    // still holds the second case's deadline.
    let mut settled = false;
    for _ in 0..200 {
        let state = h.queue.get(first).await.unwrap()[0].state;
        if state == DeadlineState::Met {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(settled, "the batch waited for the second case's deadline");
    worker
        .execute_unprepared(&lock(first_id))
        .await
        .expect("no deadlock");
    worker.commit().await.unwrap();
    let answers = batch.await.unwrap();
    for applied in answers {
        assert_eq!(applied.unwrap().settled, 1);
    }
}
