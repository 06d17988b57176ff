//! The same `request_id` with the same content returns the same case; with
//! other content it is refused; a refused or failed submission leaves the
//! key free.

use std::sync::Arc;

use complaints_auth::{BearerToken, TokenIssuer};
use complaints_domain::role::{Actor, Role};
use complaints_intake::{CaseGateway, IntakeApp};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::case::v1::case_service_server::CaseService;
use complaints_proto::complaints::common::v1 as common;
use complaints_test_support::TestDb;
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;
use tonic::transport::Endpoint;

use crate::helpers::{monday_morning, on_every_backend, spawn_app, timestamp, web_complaint};

on_every_backend!(
    #[tokio::test]
    a_retried_request_returns_the_same_case_marked_replayed,
    the_same_request_id_with_other_content_is_refused_as_already_existing,
    a_refused_complaint_leaves_its_request_id_free,
    a_retry_by_another_caller_with_the_same_content_is_a_replay,
    the_same_request_id_with_another_receipt_time_is_refused,
    a_retry_after_the_complainant_is_erased_is_refused_and_no_fingerprint_is_left,
    when_the_case_service_is_down_nothing_is_recorded_and_a_retry_succeeds,
);

async fn a_retried_request_returns_the_same_case_marked_replayed(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.client().await;
    let first = client
        .submit_complaint(web_complaint("retry-me"))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .submit_complaint(web_complaint("retry-me"))
        .await
        .unwrap()
        .into_inner();

    assert!(!first.replayed);
    assert!(again.replayed);
    assert_eq!(again.case_id, first.case_id);
    assert_eq!(again.register_number, first.register_number);
    assert_eq!(again.acknowledge_by, first.acknowledge_by);
    assert_eq!(again.resolve_by_at, first.resolve_by_at);
    assert_eq!(app.case_count().await, 1);
}

async fn the_same_request_id_with_other_content_is_refused_as_already_existing(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.client().await;
    client
        .submit_complaint(web_complaint("reused"))
        .await
        .unwrap();
    let mut other = web_complaint("reused");
    other.summary = "A different complaint".to_owned();

    let status = client.submit_complaint(other).await.unwrap_err();

    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(status.message().contains("reused"), "{status:?}");
    assert_eq!(app.case_count().await, 1);
}

async fn a_refused_complaint_leaves_its_request_id_free(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.client().await;
    let mut bad = web_complaint("fix-and-retry");
    bad.summary.clear();
    let status = client.submit_complaint(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    let fixed = client
        .submit_complaint(web_complaint("fix-and-retry"))
        .await
        .unwrap()
        .into_inner();

    assert!(!fixed.replayed);
    assert_eq!(app.case_count().await, 1);
}

async fn a_retry_by_another_caller_with_the_same_content_is_a_replay(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("crm-push-7");
    request.received_at = Some(timestamp(monday_morning()));
    let first = app
        .client_as(Role::Integration)
        .await
        .submit_complaint(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = app
        .client_as(Role::ComplaintsHandler)
        .await
        .submit_complaint(request)
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.case_id, first.case_id);
    assert_eq!(app.case_count().await, 1);
}

/// When it was received is part of a complaint: a key reused for the same
/// words received at another time is another complaint, refused. Left
/// unset, the receipt time is "now" and no part of the key, so a retry
/// minutes later is still the same request (the first test above).
async fn the_same_request_id_with_another_receipt_time_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.client().await;
    let mut request = web_complaint("rang-twice");
    request.received_at = Some(timestamp(monday_morning()));
    client.submit_complaint(request.clone()).await.unwrap();
    request.received_at = Some(timestamp(
        monday_morning() - chrono::Duration::try_hours(2).unwrap(),
    ));

    let status = client.submit_complaint(request).await.unwrap_err();

    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert_eq!(app.case_count().await, 1);
}

/// Intake keeps no record of its own: the only fingerprint of a request is
/// the case service's, which erasing the complainant scrubs. A retry of
/// the erased complaint's request then matches nothing and is refused.
async fn a_retry_after_the_complainant_is_erased_is_refused_and_no_fingerprint_is_left(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.client().await;
    let first = client
        .submit_complaint(web_complaint("to-be-forgotten"))
        .await
        .unwrap()
        .into_inner();
    let mut erase = tonic::Request::new(case_pb::EraseComplainantRequest {
        case_id: first.case_id.clone(),
        request_id: String::new(),
        reason: "Erasure request".to_owned(),
    });
    erase
        .extensions_mut()
        .insert(Actor::new("hana", Role::ComplaintsHandler));
    app.case.erase_complainant(erase).await.unwrap();

    let status = client
        .submit_complaint(web_complaint("to-be-forgotten"))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert_eq!(app.case_count().await, 1);
    let hashes = app
        .db()
        .query_all_raw(Statement::from_string(
            app.db().get_database_backend(),
            "SELECT scope, content_hash FROM idempotency_records \
             WHERE request_id = 'to-be-forgotten'",
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            (
                row.try_get::<String>("", "scope").unwrap(),
                row.try_get::<String>("", "content_hash").unwrap(),
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(
        hashes,
        vec![("case.open".to_owned(), "erased".to_owned())],
        "one record, the case service's, scrubbed"
    );
}

async fn when_the_case_service_is_down_nothing_is_recorded_and_a_retry_succeeds(db: TestDb) {
    // Intake pointed at an address where no case service listens.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", unused.local_addr().unwrap());
    drop(unused);
    let token = TokenIssuer::new(&complaints_auth::AuthConfig::development())
        .unwrap()
        .issue("intake", Role::Service, std::time::Duration::from_secs(600))
        .unwrap();
    let down = CaseGateway::remote(
        Endpoint::from_shared(nowhere).unwrap().connect_lazy(),
        BearerToken::new(token).unwrap(),
    );
    let clock = complaints_domain::clock::ManualClock::new(monday_morning());
    let case = crate::helpers::case_service(&db, &clock).await;
    let intake = IntakeApp::new(down, Arc::new(clock.clone()));
    let actor = complaints_domain::role::Actor::new("crm", Role::Integration);
    let mut request = web_complaint("while-down");
    request.channel = common::Channel::Web as i32;
    request.received_at = Some(timestamp(monday_morning()));

    let status = tonic::Status::from(
        intake
            .submit_complaint(&actor, request.clone())
            .await
            .unwrap_err(),
    );
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("retry"), "{status:?}");

    // The case service is back: the same key goes through, as a new case.
    let app =
        crate::helpers::spawn_app_with(db, clock, case.clone(), CaseGateway::in_process(case))
            .await;
    let response = app
        .client()
        .await
        .submit_complaint(request)
        .await
        .unwrap()
        .into_inner();
    assert!(!response.replayed);
    assert_eq!(app.case_count().await, 1);
}
