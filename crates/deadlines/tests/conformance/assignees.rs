//! Who each case is assigned to: the latest case change wins, however late
//! an earlier one is delivered.

use complaints_deadlines::assignees;

use crate::support::*;

crate::conformance!(
    a_later_change_wins_and_a_late_delivery_of_an_earlier_one_changes_nothing,
    only_the_cases_with_an_assignee_are_answered,
);

async fn a_later_change_wins_and_a_late_delivery_of_an_earlier_one_changes_nothing(h: Harness) {
    let db = h.queue.database();
    let case = new_case();
    let now = t0();

    assert!(
        assignees::record(db, case, Some("hana"), 3, now)
            .await
            .unwrap()
    );
    assert!(
        !assignees::record(db, case, Some("hana"), 3, now)
            .await
            .unwrap(),
        "a repeat changes nothing"
    );
    assert!(
        !assignees::record(db, case, Some("pat"), 2, now)
            .await
            .unwrap(),
        "an earlier change, delivered late, changes nothing"
    );
    let assigned = assignees::of_cases(db, &[case]).await.unwrap();
    assert_eq!(assigned.get(&case).map(String::as_str), Some("hana"));

    assert!(
        assignees::record(db, case, Some("pat"), 4, now)
            .await
            .unwrap()
    );
    let assigned = assignees::of_cases(db, &[case]).await.unwrap();
    assert_eq!(assigned.get(&case).map(String::as_str), Some("pat"));

    assert!(assignees::record(db, case, None, 6, now).await.unwrap());
    assert!(
        !assignees::record(db, case, Some("olive"), 5, now)
            .await
            .unwrap()
    );
    assert!(assignees::of_cases(db, &[case]).await.unwrap().is_empty());
}

async fn only_the_cases_with_an_assignee_are_answered(h: Harness) {
    let db = h.queue.database();
    let (hana, nobody, unknown) = (new_case(), new_case(), new_case());
    assignees::record(db, hana, Some("hana"), 2, t0())
        .await
        .unwrap();
    assignees::record(db, nobody, None, 2, t0()).await.unwrap();

    let assigned = assignees::of_cases(db, &[hana, nobody, unknown])
        .await
        .unwrap();
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned.get(&hana).map(String::as_str), Some("hana"));
    assert!(assignees::of_cases(db, &[]).await.unwrap().is_empty());
}
