//! Bad input is refused with `INVALID_ARGUMENT`, one field violation per
//! problem named by its proto path, and no case is opened.

use chrono::Duration;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::intake::v1::SubmitComplaintRequest;
use complaints_test_support::TestDb;

use crate::helpers::{
    TestApp, monday_morning, on_every_backend, postal_address, spawn_app, timestamp,
    violated_fields, violation_on, web_complaint,
};

on_every_backend!(
    #[tokio::test]
    a_complaint_without_a_summary_is_refused,
    a_malformed_email_address_is_refused,
    a_malformed_postcode_is_refused,
    a_malformed_phone_number_is_refused,
    a_receipt_time_in_the_future_is_refused,
    oversized_text_is_refused,
    control_characters_are_refused,
    a_telephone_complaint_without_the_adviser_is_refused,
    a_postal_complaint_without_its_scan_or_address_is_refused,
    a_complaint_with_only_a_telephone_number_is_refused_on_both_written_routes,
    a_complaint_without_a_request_id_is_refused,
    a_complaint_without_a_channel_is_refused,
    every_problem_is_reported_at_once,
);

/// Submits `request`, expects `INVALID_ARGUMENT` naming exactly `fields`,
/// and checks that no case was opened.
async fn assert_refused(
    app: &TestApp,
    request: SubmitComplaintRequest,
    fields: &[&str],
) -> tonic::Status {
    let status = app
        .client()
        .await
        .submit_complaint(request)
        .await
        .unwrap_err();
    let mut found = violated_fields(&status);
    found.sort();
    let mut expected: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    expected.sort();
    assert_eq!(found, expected, "{status:?}");
    assert_eq!(
        app.case_count().await,
        0,
        "a refused complaint opened a case"
    );
    status
}

fn complainant(request: &mut SubmitComplaintRequest) -> &mut common::Complainant {
    request.complainant.as_mut().unwrap()
}

async fn a_complaint_without_a_summary_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("no-summary");
    request.summary = "   ".to_owned();
    let status = assert_refused(&app, request, &["summary"]).await;
    assert!(violation_on(&status, "summary").contains("must not be empty"));
}

async fn a_malformed_email_address_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("bad-email");
    complainant(&mut request).email = "ann.jones.example.org".to_owned();
    assert_refused(&app, request, &["complainant.email"]).await;
}

async fn a_malformed_postcode_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("bad-postcode");
    let mut address = postal_address();
    address.postcode = "LS1 ABC".to_owned();
    complainant(&mut request).postal_address = Some(address);
    assert_refused(&app, request, &["complainant.postal_address.postcode"]).await;
}

async fn a_malformed_phone_number_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("bad-phone");
    complainant(&mut request).phone = "12345".to_owned();
    assert_refused(&app, request, &["complainant.phone"]).await;
}

async fn a_receipt_time_in_the_future_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("future");
    request.received_at = Some(timestamp(monday_morning() + Duration::hours(1)));
    let status = assert_refused(&app, request, &["received_at"]).await;
    assert!(violation_on(&status, "received_at").contains("future"));
}

async fn oversized_text_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("oversized");
    request.summary = "s".repeat(201);
    request.details = "d".repeat(20_001);
    let status = assert_refused(&app, request, &["summary", "details"]).await;
    assert!(violation_on(&status, "summary").contains("at most 200"));
    assert!(violation_on(&status, "details").contains("at most 20000"));
}

async fn control_characters_are_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("control");
    request.summary = "Alarm\u{7} not answered".to_owned();
    request.details = "Right-to-left \u{202E}override".to_owned();
    let status = assert_refused(&app, request, &["summary", "details"]).await;
    assert!(violation_on(&status, "summary").contains("U+0007"));
    assert!(violation_on(&status, "details").contains("U+202E"));
}

async fn a_telephone_complaint_without_the_adviser_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("phone-no-adviser");
    request.channel = common::Channel::Telephone as i32;
    let status = assert_refused(&app, request, &["recorded_by"]).await;
    assert!(violation_on(&status, "recorded_by").contains("adviser"));
}

async fn a_postal_complaint_without_its_scan_or_address_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("letter-no-scan");
    request.channel = common::Channel::Post as i32;
    assert_refused(
        &app,
        request,
        &["scan_reference", "complainant.postal_address"],
    )
    .await;
}

async fn a_complaint_with_only_a_telephone_number_is_refused_on_both_written_routes(db: TestDb) {
    let app = spawn_app(db).await;
    let phone_only = || {
        let mut request = web_complaint("phone-only");
        request.channel = common::Channel::Telephone as i32;
        request.recorded_by = "Adviser 4471".to_owned();
        let person = complainant(&mut request);
        person.email.clear();
        person.postal_address = None;
        request
    };
    let status = assert_refused(
        &app,
        phone_only(),
        &["complainant.email", "complainant.postal_address"],
    )
    .await;
    for field in ["complainant.email", "complainant.postal_address"] {
        assert!(
            violation_on(&status, field).contains("written route"),
            "{status:?}"
        );
    }

    // Nothing was recorded under the key either: with an address, the same
    // request id opens the case.
    let mut with_address = phone_only();
    complainant(&mut with_address).postal_address = Some(postal_address());
    let response = app
        .client()
        .await
        .submit_complaint(with_address)
        .await
        .unwrap()
        .into_inner();
    assert!(!response.replayed);
    assert_eq!(app.case_count().await, 1);
}

async fn a_complaint_without_a_request_id_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    assert_refused(&app, web_complaint(""), &["request_id"]).await;
    assert_refused(&app, web_complaint(&"x".repeat(129)), &["request_id"]).await;
    assert_refused(&app, web_complaint("not printable\u{e9}"), &["request_id"]).await;
}

async fn a_complaint_without_a_channel_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("no-channel");
    request.channel = common::Channel::Unspecified as i32;
    assert_refused(&app, request, &["channel"]).await;
}

async fn every_problem_is_reported_at_once(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("many-problems");
    request.channel = common::Channel::Telephone as i32;
    request.summary.clear();
    request.complainant = Some(common::Complainant {
        full_name: String::new(),
        email: "nope".to_owned(),
        ..Default::default()
    });
    assert_refused(
        &app,
        request,
        &[
            "summary",
            "recorded_by",
            "complainant.full_name",
            "complainant.email",
        ],
    )
    .await;
}
