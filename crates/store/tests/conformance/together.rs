//! Steps on cases written together (group commit, `cases::apply_together`):
//! one update per case and one insert per table for the lot, and each step
//! its own answer, as if written alone.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use complaints_domain::DomainError;
use complaints_domain::calendar::Calendar;
use complaints_domain::case::{Case, CaseId, Command, NotifyKind};
use complaints_domain::policy::{Policy, Stage};
use complaints_domain::role::{Actor, Role};
use complaints_store::cases::{self, Change, Outcome, StoredCase};
use complaints_store::correspondence::{self, Direction, Message};
use complaints_store::entity::outbox;
use complaints_store::{StoreError, chain};
use complaints_test_support::TestDb;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use complaints_test_support::complaints::web_complaint as complaint;

complaints_test_support::on_every_backend!(
    steps_written_together_share_every_statement_but_their_updates,
    each_step_in_a_batch_gets_its_own_answer,
    each_step_s_message_continues_its_own_caller_s_trace,
    a_batch_updates_its_cases_in_the_order_of_their_ids,
);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 5, 0).unwrap()
}

fn service() -> Actor {
    Actor::new("notification", Role::Service)
}

/// `count` new cases, as stored.
async fn opened(db: &DatabaseConnection, count: u32) -> Vec<StoredCase> {
    let mut cases = Vec::new();
    for n in 1..=count {
        let adviser = Actor::new("adviser", Role::Adviser);
        let complaint = complaint(n);
        let outcome = cases::open_case(
            db,
            &Calendar::default(),
            complaint.received_at(),
            &adviser,
            now(),
            None,
            |number| {
                Case::open(
                    complaint.clone(),
                    CaseId(uuid::Uuid::now_v7()),
                    number,
                    &adviser,
                    now(),
                    &Policy::default(),
                    &Calendar::default(),
                )
            },
        )
        .await
        .unwrap();
        cases.push(outcome.stored);
    }
    cases
}

/// The acknowledgement `id` delivered by email on `current`'s case.
fn notice(current: &StoredCase, id: &str) -> Change {
    let case_id = current.case.id;
    let command = Command::RecordNotice {
        notification_id: id.to_owned(),
        kind: NotifyKind::Acknowledgement,
        stage: Stage::Stage1,
        channel: "email".to_owned(),
        route_note: String::new(),
    };
    Change {
        current: current.clone(),
        actor: service(),
        now: now(),
        trace_context: None,
        message: Some(Message {
            case_id,
            direction: Direction::Outbound,
            message_id: format!("{id}@complaints.example"),
            in_reply_to: None,
            address: Some("person@example.org".to_owned()),
            subject: Some(format!("Notice {id}")),
            at: now(),
        }),
        decide: Box::new(move |stored| {
            let transition = stored.case.apply(
                command.clone(),
                &service(),
                now(),
                &Policy::default(),
                &Calendar::default(),
            )?;
            Ok((transition, case_id.to_string()))
        }),
    }
}

async fn together(db: &DatabaseConnection, changes: Vec<Change>) -> Vec<Outcome> {
    cases::apply_together(db, &Calendar::default(), changes)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// The case as stored now, its timeline verified.
async fn verified(db: &DatabaseConnection, case_id: CaseId) -> StoredCase {
    let timeline = cases::timeline(db, case_id).await.unwrap();
    chain::verify(&timeline).unwrap();
    cases::load(db, case_id).await.unwrap()
}

async fn messages_of(db: &DatabaseConnection, case_id: CaseId) -> Vec<String> {
    correspondence::list(db, case_id)
        .await
        .unwrap()
        .into_iter()
        .map(|message| message.message_id)
        .collect()
}

/// One step alone runs an update, an insert of its events, of its outbox
/// message and of its email; four together run four updates and each
/// insert once.
async fn steps_written_together_share_every_statement_but_their_updates(test: TestDb) {
    let cases = opened(&test.db, 5).await;
    let (counted, statements) = complaints_test_support::counting(&test.db, |_| true);
    together(&counted, vec![notice(&cases[0], "alone")]).await;
    let one = statements.swap(0, Ordering::SeqCst);
    assert_eq!(one, 4, "a step alone");

    let outcomes = together(
        &counted,
        cases[1..]
            .iter()
            .enumerate()
            .map(|(n, case)| notice(case, &format!("n-{n}")))
            .collect(),
    )
    .await;
    assert_eq!(
        statements.load(Ordering::SeqCst),
        4 + 3,
        "four steps together: an update each, then one insert per table"
    );
    for (n, (case, outcome)) in cases[1..].iter().zip(&outcomes).enumerate() {
        let stored = verified(&test.db, case.case.id).await;
        assert_eq!(stored, outcome.stored);
        assert!(stored.case.version > case.case.version);
        assert!(stored.case.acknowledged_at.is_some(), "{n}");
        assert_eq!(
            messages_of(&test.db, case.case.id).await,
            [format!("n-{n}@complaints.example")]
        );
    }
    let messages = outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(cases::CASE_EVENTS_TOPIC))
        .all(&test.db)
        .await
        .unwrap();
    assert_eq!(messages.len(), 5 + 5, "each case's opening and its notice");
}

/// In one batch: a step on a case another writer changed since it was
/// loaded, a case named twice, a step the domain refuses and a repeated
/// notice each get the answer they would get alone.
async fn each_step_in_a_batch_gets_its_own_answer(test: TestDb) {
    let cases = opened(&test.db, 4).await;
    let (stale, twice, refused, repeated) = (&cases[0], &cases[1], &cases[2], &cases[3]);
    let meanwhile = together(&test.db, vec![notice(stale, "meanwhile")]).await;
    let meanwhile = meanwhile[0].stored.case.version;
    together(&test.db, vec![notice(repeated, "once")]).await;
    let repeated = verified(&test.db, repeated.case.id).await;

    let answers = cases::apply_together(
        &test.db,
        &Calendar::default(),
        vec![
            notice(stale, "late"),
            notice(twice, "first"),
            notice(twice, "second"),
            Change {
                decide: Box::new(|_| Err(DomainError::FailedPrecondition("no".to_owned()))),
                ..notice(refused, "refused")
            },
            notice(&repeated, "once"),
        ],
    )
    .await;
    fn version(answer: &Result<Outcome, StoreError>) -> Result<u64, &StoreError> {
        answer.as_ref().map(|outcome| outcome.stored.case.version)
    }
    assert!(
        version(&answers[0]).unwrap() > meanwhile,
        "decided again on the case as the other writer left it"
    );
    assert!(version(&answers[1]).unwrap() > twice.case.version);
    assert!(version(&answers[2]).unwrap() > version(&answers[1]).unwrap());
    assert!(matches!(
        answers[3],
        Err(StoreError::Domain(DomainError::FailedPrecondition(_)))
    ));
    assert_eq!(
        version(&answers[4]).unwrap(),
        repeated.case.version,
        "a notice recorded before changes nothing"
    );
    for case in &cases {
        verified(&test.db, case.case.id).await;
    }
    assert_eq!(
        messages_of(&test.db, stale.case.id).await,
        ["meanwhile@complaints.example", "late@complaints.example"]
    );
    assert_eq!(
        messages_of(&test.db, twice.case.id).await,
        ["first@complaints.example", "second@complaints.example"]
    );
    assert!(messages_of(&test.db, refused.case.id).await.is_empty());
    assert_eq!(
        messages_of(&test.db, repeated.case.id).await,
        ["once@complaints.example"]
    );
    assert_eq!(
        verified(&test.db, refused.case.id).await.case.version,
        refused.case.version
    );
}

/// A batch that cannot commit (an email subject Postgres refuses: text
/// holding a NUL) is written one step at a time: only that step fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_cannot_commit_is_written_one_step_at_a_time() {
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let cases = opened(&test.db, 3).await;
    let mut broken = notice(&cases[1], "broken");
    if let Some(message) = &mut broken.message {
        message.subject = Some("nul \0 inside".to_owned());
    }
    let answers = cases::apply_together(
        &test.db,
        &Calendar::default(),
        vec![notice(&cases[0], "a"), broken, notice(&cases[2], "c")],
    )
    .await;
    assert!(answers[0].is_ok());
    assert!(answers[1].is_err());
    assert!(answers[2].is_ok());
    assert_eq!(
        verified(&test.db, cases[1].case.id).await.case.version,
        cases[1].case.version,
        "nothing of the failed step was written"
    );
    assert_eq!(
        messages_of(&test.db, cases[2].case.id).await,
        ["c@complaints.example"]
    );
}

/// Each step's outbox message carries the trace of the call that made it,
/// not that of the task that wrote the batch.
async fn each_step_s_message_continues_its_own_caller_s_trace(test: TestDb) {
    let cases = opened(&test.db, 3).await;
    let trace = |n: usize| format!("00-{:032x}-{:016x}-01", n + 1, n + 1);
    let changes = cases
        .iter()
        .enumerate()
        .map(|(n, case)| Change {
            trace_context: Some(trace(n)),
            ..notice(case, &format!("n-{n}"))
        })
        .collect();
    together(&test.db, changes).await;
    for (n, case) in cases.iter().enumerate() {
        let messages = outbox::Entity::find()
            .filter(outbox::Column::AggregateId.eq(case.case.id.as_uuid()))
            .order_by_asc(outbox::Column::Id)
            .all(&test.db)
            .await
            .unwrap();
        let traces: Vec<Option<String>> = messages
            .into_iter()
            .map(|message| message.trace_context)
            .collect();
        assert_eq!(traces.len(), 2, "the opening's and the notice's");
        assert_eq!(traces[1], Some(trace(n)));
    }
}

/// A batch updates its cases in the order of their ids, whatever order
/// they came in: two batches naming the same cases then wait for each
/// other on Postgres instead of deadlocking.
async fn a_batch_updates_its_cases_in_the_order_of_their_ids(test: TestDb) {
    let cases = opened(&test.db, 4).await;
    let updated = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut counted = test.db.clone();
    let seen = updated.clone();
    counted.set_metric_callback(move |info| {
        if info.statement.sql.starts_with(r#"UPDATE "cases""#) {
            let case = info.statement.values.as_ref().and_then(|values| {
                values.0.iter().find_map(|value| match value {
                    sea_orm::Value::Uuid(Some(id)) => Some(*id),
                    _ => None,
                })
            });
            seen.lock().unwrap().extend(case);
        }
    });
    let mut newest_first = cases.clone();
    newest_first.sort_by_key(|case| std::cmp::Reverse(case.case.id.as_uuid()));
    together(
        &counted,
        newest_first
            .iter()
            .enumerate()
            .map(|(n, case)| notice(case, &format!("n-{n}")))
            .collect(),
    )
    .await;
    let mut ascending: Vec<uuid::Uuid> = cases.iter().map(|case| case.case.id.as_uuid()).collect();
    ascending.sort_unstable();
    assert_eq!(*updated.lock().unwrap(), ascending);
}
