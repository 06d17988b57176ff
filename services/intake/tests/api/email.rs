//! `SubmitEmail`: a raw inbound message becomes an email complaint.

use complaints_domain::role::Role;
use complaints_intake::email::MAX_RAW_MESSAGE_BYTES;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::intake::v1::SubmitEmailRequest;
use complaints_test_support::TestDb;
use tonic::Code;

use crate::helpers::{
    assert_register_number, date, monday_morning, on_every_backend, spawn_app, timestamp,
    violated_fields, violation_on,
};

on_every_backend!(
    #[tokio::test]
    a_raw_email_opens_an_email_case_for_its_sender,
    a_redelivered_email_opens_one_case,
    an_email_with_an_explicit_request_id_is_idempotent_on_it,
    a_message_that_cannot_be_read_is_refused_and_opens_nothing,
    an_email_without_a_from_address_is_refused,
    an_email_over_the_size_limit_is_refused,
    an_email_received_in_the_future_is_refused,
);

const COMPLAINT: &str = concat!(
    "Received: from mx.example.org by gateway.telecare.example; Mon, 2 Mar 2026 09:59:00 +0000\r\n",
    "From: =?UTF-8?Q?Ren=C3=A9e_O=E2=80=99Brien?= <Renee.OBrien@Example.ie>\r\n",
    "To: complaints@telecare.example\r\n",
    "Subject: Missed alarm call on Saturday\r\n",
    "Message-ID: <20260302.0959.abc@example.ie>\r\n",
    "Date: Mon, 2 Mar 2026 09:58:00 +0000\r\n",
    "MIME-Version: 1.0\r\n",
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n",
    "\r\n",
    "--b1\r\n",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "\r\n",
    "My father pressed his pendant at 2am and nobody answered.\r\n",
    "--b1\r\n",
    "Content-Type: image/jpeg; name=\"pendant.jpg\"\r\n",
    "Content-Disposition: attachment; filename=\"pendant.jpg\"\r\n",
    "Content-Transfer-Encoding: base64\r\n",
    "\r\n",
    "/9j/4AAQSkZJRgABAQ==\r\n",
    "--b1--\r\n",
);

fn email(raw: &[u8]) -> SubmitEmailRequest {
    SubmitEmailRequest {
        raw_message: raw.to_vec(),
        received_at: None,
        request_id: String::new(),
    }
}

async fn a_raw_email_opens_an_email_case_for_its_sender(db: TestDb) {
    let app = spawn_app(db).await;
    let response = app
        .client()
        .await
        .submit_email(email(COMPLAINT.as_bytes()))
        .await
        .unwrap()
        .into_inner();

    assert_register_number(&response.register_number, 2026);
    assert_eq!(response.acknowledge_by, Some(date(2026, 3, 5)));
    assert_eq!(response.resolve_by, Some(date(2026, 3, 16)));
    assert!(!response.replayed);
    let case = app.get_case(&response.case_id).await;
    assert_eq!(case.channel, common::Channel::Email as i32);
    assert_eq!(case.summary, "Missed alarm call on Saturday");
    assert!(
        case.details
            .starts_with("My father pressed his pendant at 2am and nobody answered."),
        "{}",
        case.details
    );
    assert!(
        case.details.contains("pendant.jpg (image/jpeg"),
        "{}",
        case.details
    );
    let complainant = case.complainant.unwrap();
    assert_eq!(complainant.full_name, "Renée O’Brien");
    assert_eq!(complainant.email.to_lowercase(), "renee.obrien@example.ie");
    assert_eq!(
        complainant.preferred_contact,
        common::ContactMethod::Email as i32
    );
    assert_eq!(
        case.received_at.unwrap().seconds,
        monday_morning().timestamp()
    );
}

async fn a_redelivered_email_opens_one_case(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.client().await;
    let first = client
        .submit_email(email(COMPLAINT.as_bytes()))
        .await
        .unwrap()
        .into_inner();
    // The second delivery took another route: one more Received header.
    let redelivered = format!(
        "Received: from backup-mx.example.org; Mon, 2 Mar 2026 10:00:00 +0000\r\n{COMPLAINT}"
    );
    let again = client
        .submit_email(email(redelivered.as_bytes()))
        .await
        .unwrap()
        .into_inner();

    assert!(again.replayed);
    assert_eq!(again.case_id, first.case_id);
    assert_eq!(app.case_count().await, 1);
}

async fn an_email_with_an_explicit_request_id_is_idempotent_on_it(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.client_as(Role::Service).await;
    let mut request = email(b"From: sam@example.com\r\nSubject: Billing\r\n\r\nCharged twice.\r\n");
    request.request_id = "gateway-delivery-99".to_owned();
    request.received_at = Some(timestamp(monday_morning()));
    let first = client
        .submit_email(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = client
        .submit_email(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.case_id, first.case_id);

    request.raw_message =
        b"From: sam@example.com\r\nSubject: Other\r\n\r\nSomething else.\r\n".to_vec();
    let status = client.submit_email(request).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert_eq!(app.case_count().await, 1);
}

async fn a_message_that_cannot_be_read_is_refused_and_opens_nothing(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.client().await;
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    for raw in [garbage, Vec::new()] {
        let status = client.submit_email(email(&raw)).await.unwrap_err();
        assert_eq!(violated_fields(&status), ["raw_message"], "{status:?}");
    }
    assert_eq!(app.case_count().await, 0);
}

async fn an_email_without_a_from_address_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let status = app
        .client()
        .await
        .submit_email(email(
            b"To: complaints@telecare.example\r\nSubject: Help\r\n\r\nPlease call.\r\n",
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["raw_message"]);
    assert!(violation_on(&status, "raw_message").contains("From"));
    assert_eq!(app.case_count().await, 0);
}

async fn an_email_over_the_size_limit_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut raw = b"From: big@example.com\r\nSubject: Big\r\n\r\n".to_vec();
    raw.resize(MAX_RAW_MESSAGE_BYTES + 1, b'a');
    let status = app
        .client()
        .await
        .submit_email(email(&raw))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["raw_message"]);
    assert!(violation_on(&status, "raw_message").contains("at most"));
    assert_eq!(app.case_count().await, 0);
}

async fn an_email_received_in_the_future_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = email(COMPLAINT.as_bytes());
    request.received_at = Some(timestamp(monday_morning() + chrono::Duration::days(1)));
    let status = app.client().await.submit_email(request).await.unwrap_err();
    assert_eq!(violated_fields(&status), ["received_at"]);
    assert_eq!(app.case_count().await, 0);
}
