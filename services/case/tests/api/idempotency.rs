//! Safe retries: the same `request_id` with the same content does the step
//! once; with other content it is refused.

use complaints_proto::complaints::case::v1 as pb;
use complaints_test_support::TestDb;
use tonic::Code;

use crate::helpers::{
    complaint, note, on_every_backend, refused, spawn_app, stage_response, violated_fields,
};

on_every_backend!(
    a_retried_note_is_added_once_and_answers_with_the_case_as_it_now_stands,
    a_retried_referral_returns_the_same_referral,
    a_retried_stage_response_is_not_refused_as_a_second_response,
    the_same_request_id_with_other_content_is_already_exists,
    reopening_with_the_same_request_id_returns_the_same_case,
    the_same_request_sent_twice_at_once_opens_one_case,
    a_malformed_request_id_is_an_invalid_argument,
);

async fn a_retried_note_is_added_once_and_answers_with_the_case_as_it_now_stands(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let id = case.case_id;
    let mut handler = app.handler();

    let first = handler
        .add_note(note(&id, "note-0001", "Rang the complainant back."))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    let retried = handler
        .add_note(note(&id, "note-0001", "Rang the complainant back."))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(retried, first);
    assert_eq!(
        app.event_kinds(&id).await,
        ["case.received", "case.note_added"]
    );

    // Later, after the case moved on, the retry still adds nothing.
    app.respond_at_stage_1(&id, "communication").await;
    let late_retry = handler
        .add_note(note(&id, "note-0001", "Rang the complainant back."))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(late_retry.status, pb::CaseStatus::Responded as i32);
    assert_eq!(
        app.event_kinds(&id).await,
        [
            "case.received",
            "case.note_added",
            "case.stage_response_issued"
        ]
    );
    assert!(app.timeline(&id).await.verified);
}

async fn a_retried_referral_returns_the_same_referral(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let request = pb::ReferToDepartmentRequest {
        case_id: case.case_id.clone(),
        request_id: "refer-0001".to_owned(),
        department: "Billing".to_owned(),
        question: "Was the March invoice sent twice?".to_owned(),
    };
    let mut handler = app.handler();

    let first = handler
        .refer_to_department(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retried = handler
        .refer_to_department(request)
        .await
        .unwrap()
        .into_inner();

    assert_eq!(retried.referral_id, first.referral_id);
    let case = retried.case.unwrap();
    assert_eq!(case.referrals.len(), 1);
    assert_eq!(case.referrals[0].referral_id, first.referral_id);
    assert_eq!(
        app.event_kinds(&case.case_id).await,
        ["case.received", "case.referred"]
    );
}

async fn a_retried_stage_response_is_not_refused_as_a_second_response(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let request = pb::IssueStageResponseRequest {
        request_id: "respond-0001".to_owned(),
        ..stage_response(&case.case_id, "billing-error")
    };
    let mut handler = app.handler();

    let first = handler
        .issue_stage_response(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retried = handler
        .issue_stage_response(request)
        .await
        .unwrap()
        .into_inner();

    assert_eq!(retried, first);
    assert_eq!(retried.case.unwrap().responses.len(), 1);
    assert_eq!(
        app.event_kinds(&case.case_id).await,
        ["case.received", "case.stage_response_issued"]
    );
}

async fn the_same_request_id_with_other_content_is_already_exists(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let id = case.case_id;
    let mut handler = app.handler();
    handler
        .add_note(note(&id, "step-0001", "First words."))
        .await
        .unwrap();

    // Other text.
    refused(
        handler
            .add_note(note(&id, "step-0001", "Other words."))
            .await,
        Code::AlreadyExists,
    );
    // Another step.
    refused(
        handler
            .close_case(pb::CloseCaseRequest {
                case_id: id.clone(),
                request_id: "step-0001".to_owned(),
                reason: "withdrawn".to_owned(),
            })
            .await,
        Code::AlreadyExists,
    );
    // Keys are per case: the same key on another case is another request.
    let other = app.open_case().await;
    handler
        .add_note(note(&other.case_id, "step-0001", "First words."))
        .await
        .unwrap();
    assert_eq!(
        app.event_kinds(&id).await,
        ["case.received", "case.note_added"]
    );
    assert_eq!(
        app.event_kinds(&other.case_id).await,
        ["case.received", "case.note_added"]
    );
    assert_eq!(app.get(&id).await.status, pb::CaseStatus::Open as i32);
}

async fn reopening_with_the_same_request_id_returns_the_same_case(db: TestDb) {
    let app = spawn_app(db).await;

    let first = app.open(complaint("intake-0001")).await;
    let retried = app.open(complaint("intake-0001")).await;

    assert!(!first.replayed);
    assert!(retried.replayed);
    let (first_case, retried_case) = (first.case.unwrap(), retried.case.unwrap());
    assert_eq!(retried_case.case_id, first_case.case_id);
    assert_eq!(retried_case.register_number, first_case.register_number);
    assert_eq!(retried.resolve_by, first.resolve_by);

    let mut other = complaint("intake-0001");
    other.summary = "A different complaint".to_owned();
    refused(app.platform().open_case(other).await, Code::AlreadyExists);
    let listed = app
        .handler()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 1);
    assert_eq!(
        app.event_kinds(&first_case.case_id).await,
        ["case.received"]
    );
}

async fn the_same_request_sent_twice_at_once_opens_one_case(db: TestDb) {
    let app = spawn_app(db).await;
    for round in 0..5 {
        let request = complaint(&format!("intake-race-{round}"));
        let (mut a, mut b) = (app.platform(), app.platform());
        let (first, second) = tokio::join!(a.open_case(request.clone()), b.open_case(request));
        let (first, second) = (first.unwrap().into_inner(), second.unwrap().into_inner());
        assert_eq!(
            first.case.unwrap().case_id,
            second.case.unwrap().case_id,
            "round {round}: both calls answer with the one case"
        );
    }
    let listed = app
        .handler()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 5);
}

async fn a_malformed_request_id_is_an_invalid_argument(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;

    for malformed in ["has space", "caf\u{e9}", &"x".repeat(129)] {
        assert_eq!(
            violated_fields(
                app.handler()
                    .add_note(note(&case.case_id, malformed, "hello"))
                    .await
            ),
            ["request_id"],
            "{malformed:?}"
        );
        assert_eq!(
            violated_fields(app.platform().open_case(complaint(malformed)).await),
            ["request_id"]
        );
    }
    assert_eq!(app.event_kinds(&case.case_id).await, ["case.received"]);
}
