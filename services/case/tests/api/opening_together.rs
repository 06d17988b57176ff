//! New cases that arrive together are written together (group commit):
//! each call gets its own case and register number, in fewer transactions
//! than cases.

use complaints_domain::role::{Actor, Role};
use complaints_store::idempotency::RequestKey;
use complaints_test_support::TestDb;
use complaints_test_support::complaints::web_complaint as complaint;

use crate::helpers::{counting_service, on_every_backend, spawn_app};

on_every_backend!(complaints_sent_at_once_each_get_a_case_and_share_transactions);

const AT_ONCE: u32 = 40;

async fn complaints_sent_at_once_each_get_a_case_and_share_transactions(db: TestDb) {
    let app = spawn_app(db).await;
    let (service, case_inserts) =
        counting_service(&app, |sql| sql.starts_with(r#"INSERT INTO "cases""#)).await;
    let intake = Actor::new("intake", Role::Service);
    let crm = Actor::new("crm", Role::Integration);
    let calls: Vec<_> = (1..=AT_ONCE)
        .map(|n| {
            let (service, intake, crm) = (service.clone(), intake.clone(), crm.clone());
            tokio::spawn(async move {
                let key = RequestKey::new("case.open", format!("crm-{n}"), &n.to_be_bytes());
                service.open_case(&intake, &crm, complaint(n), &key).await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    let mut names = Vec::new();
    for call in calls {
        let outcome = call.await.unwrap().expect("every complaint is opened");
        assert!(!outcome.replayed);
        numbers.push(outcome.stored.case.register_number.sequence());
        names.push(
            outcome
                .stored
                .case
                .complainant
                .full_name()
                .as_str()
                .to_owned(),
        );
    }
    for (n, name) in (1..=AT_ONCE).zip(&names) {
        assert_eq!(*name, format!("Person {n}"), "each call got its own case");
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=AT_ONCE).collect::<Vec<_>>(),
        "every number once, none skipped"
    );
    let transactions = case_inserts.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        transactions < AT_ONCE as usize,
        "{AT_ONCE} complaints at once took {transactions} transactions"
    );
}
