//! `SubmitEmail` and follow-ups: a complainant's reply joins their case
//! (no new case, no new acknowledgement), and never someone else's.

use complaints_domain::role::{Actor, Role};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::case::v1::case_service_server::CaseService;
use complaints_proto::complaints::intake::v1::{
    EmailOutcome, SubmitEmailRequest, SubmitEmailResponse,
};
use complaints_test_support::TestDb;

use crate::helpers::{TestApp, on_every_backend, spawn_app};

on_every_backend!(
    #[tokio::test]
    a_reply_to_the_original_email_is_filed_on_its_case_once,
    a_reply_quoting_the_register_number_joins_the_complainants_case,
    a_reply_from_another_sender_opens_a_case_of_its_own,
    a_reply_to_a_closed_case_is_filed_and_flags_it_without_reopening_it,
    a_reply_buried_under_thousands_of_references_is_still_recognised,
    an_email_with_a_malformed_message_id_is_taken_and_its_reply_filed,
);

const ORIGINAL: &str = concat!(
    "From: Ann Jones <ann.jones@example.org>\r\n",
    "To: complaints@telecare.example\r\n",
    "Subject: Missed alarm call on Saturday\r\n",
    "Message-ID: <orig-1@mail.example.org>\r\n",
    "\r\n",
    "My father pressed his pendant at 2am and nobody answered.\r\n",
);

fn email(raw: &str) -> SubmitEmailRequest {
    SubmitEmailRequest {
        raw_message: raw.as_bytes().to_vec(),
        received_at: None,
        request_id: String::new(),
    }
}

/// A reply as a mail client writes it.
fn reply(from: &str, id: &str, in_reply_to: &str, references: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: complaints@telecare.example\r\nSubject: {subject}\r\n\
         Message-ID: <{id}>\r\nIn-Reply-To: {in_reply_to}\r\nReferences: {references}\r\n\r\n\
         Any news?\r\n"
    )
}

async fn submit(app: &TestApp, raw: &str) -> SubmitEmailResponse {
    app.client()
        .await
        .submit_email(email(raw))
        .await
        .unwrap()
        .into_inner()
}

fn as_staff<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .extensions_mut()
        .insert(Actor::new("hana", Role::ComplaintsHandler));
    request
}

async fn event_kinds(app: &TestApp, case_id: &str) -> Vec<String> {
    app.case
        .get_timeline(as_staff(case_pb::GetTimelineRequest {
            case_id: case_id.to_owned(),
        }))
        .await
        .unwrap()
        .into_inner()
        .events
        .into_iter()
        .map(|event| event.kind)
        .collect()
}

async fn correspondence(app: &TestApp, case_id: &str) -> Vec<String> {
    app.case
        .list_correspondence(as_staff(case_pb::ListCorrespondenceRequest {
            case_id: case_id.to_owned(),
        }))
        .await
        .unwrap()
        .into_inner()
        .messages
        .into_iter()
        .map(|message| message.message_id)
        .collect()
}

async fn a_reply_to_the_original_email_is_filed_on_its_case_once(db: TestDb) {
    let app = spawn_app(db).await;
    let opened = submit(&app, ORIGINAL).await;
    assert_eq!(opened.outcome, EmailOutcome::NewCase as i32);
    let raw = reply(
        "ann.jones@example.org",
        "reply-1@mail.example.org",
        "<orig-1@mail.example.org>",
        "<orig-1@mail.example.org>",
        "Re: Missed alarm call on Saturday",
    );

    let filed = submit(&app, &raw).await;
    assert_eq!(filed.outcome, EmailOutcome::AddedToCase as i32);
    assert_eq!(filed.case_id, opened.case_id);
    assert_eq!(filed.register_number, opened.register_number);
    assert_eq!(filed.acknowledge_by, None);
    assert!(!filed.replayed);
    // The gateway delivers it again.
    let again = submit(&app, &raw).await;
    assert_eq!(again.case_id, opened.case_id);
    assert!(again.replayed);

    assert_eq!(app.case_count().await, 1);
    assert_eq!(
        event_kinds(&app, &opened.case_id).await,
        ["case.received", "correspondence.received"]
    );
    assert_eq!(
        correspondence(&app, &opened.case_id).await,
        ["orig-1@mail.example.org", "reply-1@mail.example.org"]
    );
}

async fn a_reply_quoting_the_register_number_joins_the_complainants_case(db: TestDb) {
    let app = spawn_app(db).await;
    let opened = submit(&app, ORIGINAL).await;
    let raw = format!(
        "From: ANN.JONES@example.org\r\nSubject: About {} again\r\nMessage-ID: <new-thread@x.example>\r\n\r\nHello\r\n",
        opened.register_number
    );
    let filed = submit(&app, &raw).await;
    assert_eq!(filed.outcome, EmailOutcome::AddedToCase as i32);
    assert_eq!(filed.case_id, opened.case_id);
    assert_eq!(app.case_count().await, 1);
}

async fn a_reply_from_another_sender_opens_a_case_of_its_own(db: TestDb) {
    let app = spawn_app(db).await;
    let opened = submit(&app, ORIGINAL).await;
    let raw = reply(
        "Mallory <mallory@example.net>",
        "m-1@example.net",
        "<orig-1@mail.example.org>",
        "<orig-1@mail.example.org>",
        &format!("Re: {} Missed alarm call", opened.register_number),
    );
    let other = submit(&app, &raw).await;
    assert_eq!(other.outcome, EmailOutcome::NewCase as i32);
    assert_ne!(other.case_id, opened.case_id);
    assert!(other.acknowledge_by.is_some());
    assert_eq!(app.case_count().await, 2);
    assert_eq!(event_kinds(&app, &opened.case_id).await, ["case.received"]);
    assert_eq!(
        correspondence(&app, &opened.case_id).await,
        ["orig-1@mail.example.org"]
    );
}

async fn a_reply_to_a_closed_case_is_filed_and_flags_it_without_reopening_it(db: TestDb) {
    let app = spawn_app(db).await;
    let opened = submit(&app, ORIGINAL).await;
    app.case
        .close_case(as_staff(case_pb::CloseCaseRequest {
            case_id: opened.case_id.clone(),
            request_id: String::new(),
            reason: "Accepted".to_owned(),
        }))
        .await
        .unwrap();
    let raw = reply(
        "ann.jones@example.org",
        "reply-2@mail.example.org",
        "<orig-1@mail.example.org>",
        "<orig-1@mail.example.org>",
        "Re: Missed alarm call on Saturday",
    );
    let filed = submit(&app, &raw).await;
    assert_eq!(filed.outcome, EmailOutcome::AddedToCase as i32);
    assert_eq!(filed.case_id, opened.case_id);
    let case = app.get_case(&opened.case_id).await;
    assert_eq!(case.status, case_pb::CaseStatus::Closed as i32);
    assert!(case.needs_attention);
    assert_eq!(app.case_count().await, 1);
    assert_eq!(
        event_kinds(&app, &opened.case_id).await,
        ["case.received", "case.closed", "correspondence.received"]
    );
}

async fn a_reply_buried_under_thousands_of_references_is_still_recognised(db: TestDb) {
    let app = spawn_app(db).await;
    let opened = submit(&app, ORIGINAL).await;
    let mut references: Vec<String> = (0..5000).map(|i| format!("<r{i}@example.com>")).collect();
    references.push("<orig-1@mail.example.org>".to_owned());
    let raw = reply(
        "ann.jones@example.org",
        "reply-3@mail.example.org",
        "<r4999@example.com>",
        &references.join(" "),
        "Re: something",
    );
    let filed = submit(&app, &raw).await;
    assert_eq!(filed.outcome, EmailOutcome::AddedToCase as i32);
    assert_eq!(filed.case_id, opened.case_id);
}

/// A Message-ID no header could carry back (here longer than a header line)
/// is no reason to refuse a complaint: the case opens without it, and a
/// reply quoting the register number is filed under its idempotency key.
async fn an_email_with_a_malformed_message_id_is_taken_and_its_reply_filed(db: TestDb) {
    let app = spawn_app(db).await;
    let overlong = format!("<{}@mail.example.org>", "x".repeat(1000));
    let opened = submit(
        &app,
        &ORIGINAL.replace("<orig-1@mail.example.org>", &overlong),
    )
    .await;
    assert_eq!(opened.outcome, EmailOutcome::NewCase as i32);
    assert!(opened.acknowledge_by.is_some());
    assert!(correspondence(&app, &opened.case_id).await.is_empty());

    let raw = format!(
        "From: ann.jones@example.org\r\nSubject: Re: {}\r\nMessage-ID: {}\r\n\r\nAny news?\r\n",
        opened.register_number,
        overlong.replace('x', "y"),
    );
    let filed = submit(&app, &raw).await;
    assert_eq!(filed.outcome, EmailOutcome::AddedToCase as i32);
    assert_eq!(filed.case_id, opened.case_id);
    let filed_as = correspondence(&app, &opened.case_id).await;
    assert_eq!(filed_as.len(), 1, "{filed_as:?}");
    assert!(filed_as[0].ends_with("@intake.invalid"), "{filed_as:?}");
    assert_eq!(app.case_count().await, 1);
}
