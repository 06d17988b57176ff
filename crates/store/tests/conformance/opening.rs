//! New cases opened together (group commit): one transaction, a few
//! statements whatever their number, and each opening its own answer.

use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use complaints_domain::DomainError;
use complaints_domain::calendar::Calendar;
use complaints_domain::case::{Case, CaseId};
use complaints_domain::policy::Policy;
use complaints_domain::role::{Actor, Role};
use complaints_store::cases::{self, Opening, Outcome};
use complaints_store::entity::outbox;
use complaints_store::idempotency::RequestKey;
use complaints_store::{StoreError, chain};
use complaints_test_support::TestDb;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter};

use complaints_test_support::complaints::web_complaint as complaint;

complaints_test_support::on_every_backend!(
    cases_opened_together_cost_the_statements_of_one,
    each_opening_in_a_batch_gets_its_own_answer,
    a_batch_that_cannot_commit_is_opened_one_by_one,
    each_new_case_s_message_continues_its_own_caller_s_trace,
);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 5, 0).unwrap()
}

fn key(request_id: &str, content: &str) -> RequestKey {
    RequestKey::new("case.open", request_id, content.as_bytes())
}

/// Opening the `n`th test complaint, under `key`.
fn opening(n: u32, key: Option<RequestKey>) -> Opening<'static> {
    let actor = Actor::new("adviser", Role::Adviser);
    let complaint = complaint(n);
    Opening {
        received_at: complaint.received_at(),
        actor: actor.clone(),
        now: now(),
        key,
        original: None,
        evidence: Vec::new(),
        trace_context: None,
        build: Box::new(move |number| {
            Case::open(
                complaint.clone(),
                CaseId(uuid::Uuid::now_v7()),
                number,
                &actor,
                now(),
                &Policy::default(),
                &Calendar::default(),
            )
        }),
    }
}

/// An opening the domain refuses.
fn refused() -> Opening<'static> {
    Opening {
        build: Box::new(|_| Err(DomainError::FailedPrecondition("refused".to_owned()))),
        ..opening(99, None)
    }
}

fn number(outcome: &Result<Outcome, StoreError>) -> String {
    let outcome = outcome.as_ref().expect("a new or replayed case");
    outcome.stored.case.register_number.as_str().to_owned()
}

async fn open(test: &TestDb, openings: Vec<Opening<'static>>) -> Vec<Result<Outcome, StoreError>> {
    cases::open_cases(&test.db, &Calendar::default(), openings).await
}

/// Twelve cases opened together run the statements one case does, and get
/// register numbers counting up in the order they came.
async fn cases_opened_together_cost_the_statements_of_one(test: TestDb) {
    let (counted, statements) = complaints_test_support::counting(&test.db, |_| true);
    let calendar = Calendar::default();
    let alone =
        cases::open_cases(&counted, &calendar, vec![opening(1, Some(key("r-1", "1")))]).await;
    assert_eq!(number(&alone[0]), "CMP-2026-000001");
    let one = statements.swap(0, Ordering::SeqCst);

    let together: Vec<_> = (2..=13)
        .map(|n| opening(n, Some(key(&format!("r-{n}"), &n.to_string()))))
        .collect();
    let outcomes = cases::open_cases(&counted, &calendar, together).await;
    let twelve = statements.load(Ordering::SeqCst);
    assert_eq!(
        twelve, one,
        "twelve cases together ran {twelve} statements, one alone {one}"
    );
    for (n, outcome) in (2..=13).zip(&outcomes) {
        assert_eq!(number(outcome), format!("CMP-2026-{n:06}"));
        let stored = cases::load(&test.db, outcome.as_ref().unwrap().stored.case.id)
            .await
            .unwrap();
        assert_eq!(
            stored.case.complainant.full_name().as_str(),
            format!("Person {n}")
        );
        let timeline = cases::timeline(&test.db, stored.case.id).await.unwrap();
        assert!(!timeline.is_empty());
        chain::verify(&timeline).unwrap();
    }
    let messages = outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(cases::CASE_EVENTS_TOPIC))
        .all(&test.db)
        .await
        .unwrap();
    assert_eq!(messages.len(), 13, "one outbox message per case");
}

/// In one batch: a new case, a replay, a reused key with other content, a
/// refusal and another new case each get their own answer; the refusal
/// leaves its number to the next case.
async fn each_opening_in_a_batch_gets_its_own_answer(test: TestDb) {
    let first = open(&test, vec![opening(1, Some(key("done", "1")))]).await;
    let first = first[0].as_ref().unwrap().stored.case.id;
    let outcomes = open(
        &test,
        vec![
            opening(2, Some(key("new-2", "2"))),
            opening(1, Some(key("done", "1"))),
            opening(3, Some(key("done", "other content"))),
            refused(),
            opening(4, None),
        ],
    )
    .await;
    assert_eq!(number(&outcomes[0]), "CMP-2026-000002");
    assert!(!outcomes[0].as_ref().unwrap().replayed);
    let replayed = outcomes[1].as_ref().unwrap();
    assert!(replayed.replayed);
    assert_eq!(replayed.stored.case.id, first);
    assert!(
        matches!(&outcomes[2], Err(StoreError::IdempotencyClash(id)) if id == "done"),
        "{:?}",
        outcomes[2]
    );
    assert!(
        matches!(
            &outcomes[3],
            Err(StoreError::Domain(DomainError::FailedPrecondition(_)))
        ),
        "{:?}",
        outcomes[3]
    );
    assert_eq!(number(&outcomes[4]), "CMP-2026-000003");
    // On SQLite the counter holds no number nobody used. On Postgres the
    // numbers were taken ahead of the transaction, and the refused one's
    // is left unused (numbers are unique and increasing, not gapless).
    let next = open(&test, vec![opening(5, None)]).await;
    let expected = match test.db.get_database_backend() {
        DbBackend::Postgres => "CMP-2026-000005",
        _ => "CMP-2026-000004",
    };
    assert_eq!(number(&next[0]), expected);
}

/// Two openings under one key in one batch: the batch cannot commit (the
/// key's record would be written twice), so each is opened alone; the
/// second gets the first's case, and the others theirs.
async fn a_batch_that_cannot_commit_is_opened_one_by_one(test: TestDb) {
    let outcomes = open(
        &test,
        vec![
            opening(1, Some(key("twice", "1"))),
            opening(2, None),
            opening(1, Some(key("twice", "1"))),
        ],
    )
    .await;
    let first = outcomes[0].as_ref().unwrap();
    let again = outcomes[2].as_ref().unwrap();
    assert!(!first.replayed);
    assert!(again.replayed);
    assert_eq!(again.stored.case.id, first.stored.case.id);
    let other = outcomes[1].as_ref().unwrap();
    assert_ne!(other.stored.case.id, first.stored.case.id);
    let count = cases::count(&test.db, &cases::CaseFilter::default())
        .await
        .unwrap();
    assert_eq!(count, 2, "nothing of the failed batch was kept");
}

/// Each new case's outbox message carries the trace of the call that
/// opened it, not that of the task that wrote the batch.
async fn each_new_case_s_message_continues_its_own_caller_s_trace(test: TestDb) {
    let traced = |n: u32| {
        let trace = format!("00-{:032x}-{:016x}-01", n + 1, n + 1);
        Opening {
            trace_context: Some(trace),
            ..opening(n, None)
        }
    };
    let outcomes = open(&test, vec![traced(1), traced(2), traced(3)]).await;
    for (n, outcome) in (1_u32..).zip(&outcomes) {
        let case_id = outcome.as_ref().unwrap().stored.case.id;
        let message = outbox::Entity::find()
            .filter(outbox::Column::AggregateId.eq(case_id.as_uuid()))
            .one(&test.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            message.trace_context,
            Some(format!("00-{:032x}-{:016x}-01", n + 1, n + 1))
        );
    }
}
