//! A complaint from a person who has another open case is flagged as a
//! possible duplicate, passed through from the case service, and still
//! opens a case of its own.

use complaints_test_support::TestDb;

use crate::helpers::{on_every_backend, spawn_app, web_complaint};

on_every_backend!(
    #[tokio::test]
    submit_complaint_returns_the_possible_duplicates_the_case_service_found,
);

async fn submit_complaint_returns_the_possible_duplicates_the_case_service_found(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.client().await;
    let first = client
        .submit_complaint(web_complaint("first-complaint"))
        .await
        .unwrap()
        .into_inner();
    assert!(first.possible_duplicate_of.is_empty(), "{first:?}");

    // The same person (same email address, written in capitals) again.
    let mut again = web_complaint("second-complaint");
    let person = again.complainant.as_mut().unwrap();
    person.email = "ANN.JONES@example.org".to_owned();
    person.phone.clear();
    person.customer_ref.clear();
    again.summary = "Engineer did not come".to_owned();
    let second = client
        .submit_complaint(again.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.possible_duplicate_of, vec![first.case_id.clone()]);
    assert_ne!(second.case_id, first.case_id, "a case of its own");
    assert!(second.acknowledge_by.is_some(), "with its own clocks");

    let replayed = client.submit_complaint(again).await.unwrap().into_inner();
    assert!(replayed.replayed);
    assert_eq!(replayed.possible_duplicate_of, vec![first.case_id.clone()]);

    let case = app.get_case(&second.case_id).await;
    assert_eq!(case.possible_duplicate_of, [first.case_id]);
    assert_eq!(app.case_count().await, 2);
}
