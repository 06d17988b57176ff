//! Register numbers taken while cases are written.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use complaints_domain::calendar::Calendar;
use complaints_domain::case::{Case, CaseId};
use complaints_domain::policy::Policy;
use complaints_domain::role::{Actor, Role};
use complaints_store::cases;
use complaints_store::register::{self, NumberSource};
use complaints_test_support::TestDb;
use complaints_test_support::complaints::web_complaint as complaint;

complaints_test_support::on_every_backend!(
    reserved_numbers_are_unique_under_concurrent_writers,
    cases_opened_one_after_another_get_numbers_counting_up,
);

async fn open(db: &complaints_store::DatabaseConnection, n: u32) -> String {
    let actor = Actor::new("adviser", Role::Adviser);
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 5, 0).unwrap();
    let calendar = Calendar::default();
    let complaint = complaint(n);
    let received = complaint.received_at();
    let outcome = cases::open_case(db, &calendar, received, &actor, now, None, |number| {
        Case::open(
            complaint,
            CaseId(uuid::Uuid::now_v7()),
            number,
            &actor,
            now,
            &Policy::default(),
            &Calendar::default(),
        )
    })
    .await
    .unwrap();
    outcome.stored.case.register_number.as_str().to_owned()
}

async fn reserved_numbers_are_unique_under_concurrent_writers(test: TestDb) {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = test.db.clone();
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for _ in 0..10 {
                let source = NumberSource::reserve(&db, 2026).await.unwrap();
                numbers.push(source.take(&db).await.unwrap());
            }
            numbers
        }));
    }
    let mut seen = BTreeSet::new();
    for task in tasks {
        for number in task.await.unwrap() {
            assert!(seen.insert(number.sequence()), "{number} issued twice");
        }
    }
    assert_eq!(seen.len(), 80);
    assert_eq!(seen.last(), Some(&80));
}

async fn cases_opened_one_after_another_get_numbers_counting_up(test: TestDb) {
    assert_eq!(open(&test.db, 1).await, "CMP-2026-000001");
    assert_eq!(open(&test.db, 2).await, "CMP-2026-000002");
    assert_eq!(open(&test.db, 3).await, "CMP-2026-000003");
}

/// On Postgres a case's transaction does not hold the year's counter, so
/// cases are opened side by side. (SQLite has one writer at a time by
/// design: there the second case waits, which is what it should do.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_case_being_written_does_not_hold_up_the_next_number() {
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    let (in_transaction, paused) = mpsc::channel::<()>();
    let in_transaction = std::sync::Mutex::new(in_transaction);
    let (resume, wait_for_resume) = mpsc::channel::<()>();
    let wait_for_resume = std::sync::Mutex::new(wait_for_resume);
    let db = test.db.clone();
    let first = tokio::spawn(async move {
        let actor = Actor::new("adviser", Role::Adviser);
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 5, 0).unwrap();
        let complaint = complaint(1);
        let received = complaint.received_at();
        let calendar = Calendar::default();
        cases::open_case(&db, &calendar, received, &actor, now, None, |number| {
            // The case's number is taken; hold its transaction open here
            // until the test has taken the next number.
            in_transaction.lock().unwrap().send(()).unwrap();
            // Off the worker, so the runtime's other tasks go on meanwhile.
            tokio::task::block_in_place(|| wait_for_resume.lock().unwrap().recv().unwrap());
            Case::open(
                complaint,
                CaseId(uuid::Uuid::now_v7()),
                number,
                &actor,
                now,
                &Policy::default(),
                &Calendar::default(),
            )
        })
        .await
        .unwrap()
        .stored
        .case
        .register_number
    });
    tokio::task::spawn_blocking(move || paused.recv().unwrap())
        .await
        .unwrap();
    // Generous: a counter held by the first case's transaction never frees
    // until that transaction ends, which waits for this number.
    let next = tokio::time::timeout(
        Duration::from_secs(30),
        register::next_register_number(&test.db, 2026),
    )
    .await;
    resume.send(()).unwrap();
    let next = next
        .expect("the next number waited for the other case's transaction")
        .unwrap();
    let first = first.await.unwrap();
    assert_eq!(first.as_str(), "CMP-2026-000001");
    assert_eq!(next.as_str(), "CMP-2026-000002");
}
