//! A complaint on each channel opens a stage 1 case with a register number
//! and the stage 1 due dates.

use chrono::Duration;
use complaints_domain::role::Role;
use complaints_proto::complaints::common::v1 as common;
use complaints_test_support::TestDb;

use crate::helpers::{
    assert_register_number, date, monday_morning, on_every_backend, postal_address, spawn_app,
    timestamp, web_complaint,
};

on_every_backend!(
    #[tokio::test]
    a_telephone_complaint_opens_a_case_recording_the_adviser,
    a_postal_complaint_opens_a_case_recording_the_scan_and_address,
    an_email_channel_complaint_opens_a_case_answered_by_email,
    a_web_complaint_opens_a_case_with_its_due_dates_counted_from_receipt,
    each_complaint_gets_its_own_register_number,
);

async fn a_telephone_complaint_opens_a_case_recording_the_adviser(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("phone-1");
    request.channel = common::Channel::Telephone as i32;
    request.recorded_by = "Adviser 4471".to_owned();

    let response = app
        .client_as(Role::Adviser)
        .await
        .submit_complaint(request)
        .await
        .unwrap()
        .into_inner();

    assert_register_number(&response.register_number, 2026);
    assert_eq!(response.acknowledge_by, Some(date(2026, 3, 5)));
    assert_eq!(response.resolve_by, Some(date(2026, 3, 16)));
    assert!(!response.replayed);
    let case = app.get_case(&response.case_id).await;
    assert_eq!(case.register_number, response.register_number);
    assert_eq!(case.channel, common::Channel::Telephone as i32);
    assert_eq!(case.recorded_by, "Adviser 4471");
    assert_eq!(case.stage, common::Stage::Stage1 as i32);
}

async fn a_postal_complaint_opens_a_case_recording_the_scan_and_address(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("letter-1");
    request.channel = common::Channel::Post as i32;
    request.scan_reference = "SCAN-2026-0042".to_owned();
    let complainant = request.complainant.as_mut().unwrap();
    complainant.email.clear();
    complainant.postal_address = Some(postal_address());

    let response = app
        .client()
        .await
        .submit_complaint(request)
        .await
        .unwrap()
        .into_inner();

    assert_register_number(&response.register_number, 2026);
    assert_eq!(response.acknowledge_by, Some(date(2026, 3, 5)));
    assert_eq!(response.resolve_by, Some(date(2026, 3, 16)));
    let case = app.get_case(&response.case_id).await;
    assert_eq!(case.channel, common::Channel::Post as i32);
    assert_eq!(case.scan_reference, "SCAN-2026-0042");
    let complainant = case.complainant.unwrap();
    let address = complainant.postal_address.unwrap();
    assert_eq!(address.postcode, "LS1 5HD", "the postcode is normalised");
    assert_eq!(
        complainant.preferred_contact,
        common::ContactMethod::Post as i32,
        "with no email, the acknowledgement goes by post"
    );
}

async fn an_email_channel_complaint_opens_a_case_answered_by_email(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = web_complaint("email-channel-1");
    request.channel = common::Channel::Email as i32;

    let response = app
        .client()
        .await
        .submit_complaint(request)
        .await
        .unwrap()
        .into_inner();

    assert_register_number(&response.register_number, 2026);
    assert_eq!(response.acknowledge_by, Some(date(2026, 3, 5)));
    let case = app.get_case(&response.case_id).await;
    assert_eq!(case.channel, common::Channel::Email as i32);
    let complainant = case.complainant.unwrap();
    assert_eq!(complainant.email, "ann.jones@example.org");
    assert_eq!(
        complainant.phone, "+441134960000",
        "the phone is stored in E.164"
    );
    assert_eq!(
        complainant.preferred_contact,
        common::ContactMethod::Email as i32
    );
}

async fn a_web_complaint_opens_a_case_with_its_due_dates_counted_from_receipt(db: TestDb) {
    let app = spawn_app(db).await;
    // Received on Friday 27 February: acknowledge by Wednesday 4 March,
    // resolve by Friday 13 March.
    let received = monday_morning() - Duration::days(3);
    let mut request = web_complaint("web-1");
    request.received_at = Some(timestamp(received));

    let response = app
        .client()
        .await
        .submit_complaint(request)
        .await
        .unwrap()
        .into_inner();

    assert_register_number(&response.register_number, 2026);
    assert_eq!(response.acknowledge_by, Some(date(2026, 3, 4)));
    assert_eq!(response.resolve_by, Some(date(2026, 3, 13)));
    // The end of Wednesday 4 March in London (GMT) is midnight UTC.
    assert_eq!(
        response.acknowledge_by_at.unwrap().seconds,
        chrono::NaiveDate::from_ymd_opt(2026, 3, 5)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    );
    assert!(response.resolve_by_at.is_some());
    let case = app.get_case(&response.case_id).await;
    assert_eq!(case.channel, common::Channel::Web as i32);
    assert_eq!(case.received_at.unwrap().seconds, received.timestamp());
    assert_eq!(case.summary, "Pendant alarm call not answered");
}

async fn each_complaint_gets_its_own_register_number(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.client().await;
    let first = client
        .submit_complaint(web_complaint("first"))
        .await
        .unwrap()
        .into_inner();
    let second = client
        .submit_complaint(web_complaint("second"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(first.case_id, second.case_id);
    assert_ne!(first.register_number, second.register_number);
    assert_eq!(app.case_count().await, 2);
}
