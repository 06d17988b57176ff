//! A case's correspondence: the email it came in, the emails the platform
//! sent about it, and the complainant's replies filed on it
//! (ListCorrespondence, FindCaseByMessage, AddCorrespondence).

use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_test_support::TestDb;
use tonic::Code;

use crate::helpers::{
    TestApp, complaint, note, on_every_backend, refused, spawn_app, timestamp, violated_fields,
};

on_every_backend!(
    an_emailed_complaint_its_acknowledgement_and_the_reply_are_listed_in_order,
    a_reply_is_filed_once_per_message_id_and_starts_no_clock,
    a_reply_is_found_by_the_messages_it_answers_or_the_register_number_in_its_subject,
    an_email_naming_someone_elses_case_is_reported_and_never_filed_on_it,
    a_reply_to_a_closed_case_leaves_it_closed_and_flags_it_until_a_note,
    only_the_platform_looks_up_and_files_emails,
    a_lookup_with_too_many_ids_or_no_sender_is_refused_naming_the_fields,
    erasure_blanks_the_addresses_and_subjects_and_keeps_the_thread,
);

const ANN: &str = "ann.jones@example.org";

/// Opens an emailed complaint from Ann Jones with Message-ID `<orig-1@mail.example.org>`.
async fn emailed(app: &TestApp) -> pb::Case {
    let mut request = complaint(&uuid::Uuid::new_v4().to_string());
    request.channel = common::Channel::Email as i32;
    request.message_id = "<orig-1@mail.example.org>".to_owned();
    app.open(request).await.case.unwrap()
}

async fn acknowledgement_sent(app: &TestApp, case_id: &str) {
    app.platform()
        .record_notice(pb::RecordNoticeRequest {
            case_id: case_id.to_owned(),
            notification_id: "n-1".to_owned(),
            kind: "NOTIFICATION_KIND_ACKNOWLEDGEMENT".to_owned(),
            stage: common::Stage::Stage1 as i32,
            channel: "email".to_owned(),
            sent_at: Some(timestamp(app.now())),
            message_id: "<n-1@complaints.example.org>".to_owned(),
            subject: "Your complaint: we have received it".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
}

fn reply(case_id: &str, message_id: &str, sender: &str) -> pb::AddCorrespondenceRequest {
    pb::AddCorrespondenceRequest {
        case_id: case_id.to_owned(),
        message_id: message_id.to_owned(),
        in_reply_to: "<n-1@complaints.example.org>".to_owned(),
        sender: sender.to_owned(),
        subject: "Re: Your complaint: we have received it".to_owned(),
        received_at: None,
    }
}

async fn filed(
    app: &TestApp,
    request: pb::AddCorrespondenceRequest,
) -> pb::AddCorrespondenceResponse {
    app.platform()
        .add_correspondence(request)
        .await
        .unwrap()
        .into_inner()
}

async fn messages(app: &TestApp, case_id: &str) -> Vec<pb::Correspondence> {
    app.client("adam", Role::Adviser)
        .list_correspondence(pb::ListCorrespondenceRequest {
            case_id: case_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .messages
}

fn lookup(ids: &[&str], number: &str, sender: &str) -> pb::FindCaseByMessageRequest {
    pb::FindCaseByMessageRequest {
        message_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
        subject_register_number: number.to_owned(),
        sender: sender.to_owned(),
    }
}

async fn an_emailed_complaint_its_acknowledgement_and_the_reply_are_listed_in_order(db: TestDb) {
    let app = spawn_app(db).await;
    let case = emailed(&app).await;
    assert_eq!(case.thread_message_id, "orig-1@mail.example.org");
    app.advance(chrono::Duration::minutes(5));
    acknowledgement_sent(&app, &case.case_id).await;
    app.advance(chrono::Duration::hours(2));
    filed(
        &app,
        reply(&case.case_id, "<reply-1@mail.example.org>", ANN),
    )
    .await;

    let listed: Vec<(i32, String, String, String)> = messages(&app, &case.case_id)
        .await
        .into_iter()
        .map(|m| (m.direction, m.message_id, m.in_reply_to, m.address))
        .collect();
    let inbound = pb::CorrespondenceDirection::Inbound as i32;
    let outbound = pb::CorrespondenceDirection::Outbound as i32;
    assert_eq!(
        listed,
        [
            (
                inbound,
                "orig-1@mail.example.org".into(),
                String::new(),
                ANN.into()
            ),
            // The acknowledgement answered the complaint's email.
            (
                outbound,
                "n-1@complaints.example.org".into(),
                "orig-1@mail.example.org".into(),
                ANN.into()
            ),
            (
                inbound,
                "reply-1@mail.example.org".into(),
                "n-1@complaints.example.org".into(),
                ANN.into()
            ),
        ]
    );
}

async fn a_reply_is_filed_once_per_message_id_and_starts_no_clock(db: TestDb) {
    let app = spawn_app(db).await;
    let case = emailed(&app).await;
    let first = filed(
        &app,
        reply(
            &case.case_id,
            "<reply-1@mail.example.org>",
            "Ann.Jones@Example.org",
        ),
    )
    .await;
    assert!(first.added);
    // The gateway delivers the same email again.
    let again = filed(&app, reply(&case.case_id, "reply-1@mail.example.org", ANN)).await;
    assert!(!again.added);

    let kinds = app.event_kinds(&case.case_id).await;
    assert_eq!(kinds, ["case.received", "correspondence.received"]);
    let timeline = app.timeline(&case.case_id).await;
    assert!(timeline.verified);
    let details = &timeline.events[1].details_json;
    assert!(details.contains("Re: Your complaint"), "{details}");
    assert!(!details.contains(ANN), "{details}");
    let now = app.get(&case.case_id).await;
    assert_eq!(now.status, pb::CaseStatus::Open as i32);
    assert_eq!(now.received_at, case.received_at);
    assert_eq!(now.acknowledged_at, None);
    assert!(!now.needs_attention);
    assert_eq!(messages(&app, &case.case_id).await.len(), 2);
}

async fn a_reply_is_found_by_the_messages_it_answers_or_the_register_number_in_its_subject(
    db: TestDb,
) {
    let app = spawn_app(db).await;
    let case = emailed(&app).await;
    acknowledgement_sent(&app, &case.case_id).await;
    let mut platform = app.platform();
    for request in [
        lookup(&["<unknown@x>", "<n-1@complaints.example.org>"], "", ANN),
        lookup(&["orig-1@mail.example.org"], "", "ANN.JONES@example.org"),
        lookup(&[], &case.register_number, ANN),
    ] {
        let found = platform
            .find_case_by_message(request.clone())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            found.case.map(|c| c.case_id),
            Some(case.case_id.clone()),
            "{request:?}"
        );
        assert!(!found.sender_mismatch);
    }
    let nothing = platform
        .find_case_by_message(lookup(&["<unknown@x>"], "CMP-2026-999999", ANN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(nothing, pb::FindCaseByMessageResponse::default());
}

async fn an_email_naming_someone_elses_case_is_reported_and_never_filed_on_it(db: TestDb) {
    let app = spawn_app(db).await;
    let case = emailed(&app).await;
    let found = app
        .platform()
        .find_case_by_message(lookup(
            &["orig-1@mail.example.org"],
            &case.register_number,
            "mallory@example.net",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.case, None);
    assert!(found.sender_mismatch);

    let status = refused(
        app.platform()
            .add_correspondence(reply(
                &case.case_id,
                "<m-1@example.net>",
                "mallory@example.net",
            ))
            .await,
        Code::FailedPrecondition,
    );
    assert!(!status.message().contains("mallory"), "{status:?}");
    assert_eq!(app.event_kinds(&case.case_id).await, ["case.received"]);
    assert_eq!(messages(&app, &case.case_id).await.len(), 1);
}

async fn a_reply_to_a_closed_case_leaves_it_closed_and_flags_it_until_a_note(db: TestDb) {
    let app = spawn_app(db).await;
    let case = emailed(&app).await;
    app.handler()
        .close_case(pb::CloseCaseRequest {
            case_id: case.case_id.clone(),
            request_id: String::new(),
            reason: "Accepted the explanation".to_owned(),
        })
        .await
        .unwrap();
    let replied = filed(
        &app,
        reply(&case.case_id, "<reply-9@mail.example.org>", ANN),
    )
    .await
    .case
    .unwrap();
    assert_eq!(replied.status, pb::CaseStatus::Closed as i32);
    assert!(replied.needs_attention);

    let noted = app
        .handler()
        .add_note(note(
            &case.case_id,
            "",
            "Rang Ann back; nothing more to do.",
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(!noted.needs_attention);
    assert_eq!(noted.status, pb::CaseStatus::Closed as i32);
    refused(
        app.handler()
            .add_note(note(&case.case_id, "", "And another"))
            .await,
        Code::FailedPrecondition,
    );
}

async fn only_the_platform_looks_up_and_files_emails(db: TestDb) {
    let app = spawn_app(db).await;
    let case = emailed(&app).await;
    refused(
        app.handler()
            .find_case_by_message(lookup(&[], &case.register_number, ANN))
            .await,
        Code::PermissionDenied,
    );
    refused(
        app.handler()
            .add_correspondence(reply(&case.case_id, "<r@x>", ANN))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(app.event_kinds(&case.case_id).await, ["case.received"]);
}

async fn a_lookup_with_too_many_ids_or_no_sender_is_refused_naming_the_fields(db: TestDb) {
    let app = spawn_app(db).await;
    let ids: Vec<String> = (0..21).map(|i| format!("<r{i}@example.com>")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let fields = violated_fields(
        app.platform()
            .find_case_by_message(lookup(&ids, "CMP-26-1", ""))
            .await,
    );
    assert_eq!(fields, ["message_ids", "subject_register_number", "sender"]);
    let case = emailed(&app).await;
    let fields = violated_fields(
        app.platform()
            .add_correspondence(reply(&case.case_id, "", "not an address"))
            .await,
    );
    assert_eq!(fields, ["message_id", "sender"]);
    // A Message-ID no header could carry back, here or as the parent.
    for bad in [
        "<two words@example.org>",
        "<réponse@example.org>",
        "<a<b@example.org>",
    ] {
        let mut request = reply(&case.case_id, bad, ANN);
        request.in_reply_to = bad.to_owned();
        let fields = violated_fields(app.platform().add_correspondence(request).await);
        assert_eq!(fields, ["message_id", "in_reply_to"], "{bad}");
        let fields = violated_fields(
            app.platform()
                .find_case_by_message(lookup(&[bad], "", ANN))
                .await,
        );
        assert_eq!(fields, ["message_ids"], "{bad}");
    }
    assert_eq!(app.event_kinds(&case.case_id).await, ["case.received"]);
}

async fn erasure_blanks_the_addresses_and_subjects_and_keeps_the_thread(db: TestDb) {
    let app = spawn_app(db).await;
    let case = emailed(&app).await;
    acknowledgement_sent(&app, &case.case_id).await;
    filed(
        &app,
        reply(&case.case_id, "<reply-1@mail.example.org>", ANN),
    )
    .await;
    app.handler()
        .erase_complainant(pb::EraseComplainantRequest {
            case_id: case.case_id.clone(),
            request_id: String::new(),
            reason: "erasure request".to_owned(),
        })
        .await
        .unwrap();

    let listed = messages(&app, &case.case_id).await;
    assert_eq!(listed.len(), 3);
    for message in &listed {
        assert_eq!(message.address, "", "{message:?}");
        assert_eq!(message.subject, "", "{message:?}");
    }
    assert_eq!(listed[0].message_id, "orig-1@mail.example.org");
    // The erased complainant is nobody's sender any more.
    let found = app
        .platform()
        .find_case_by_message(lookup(&["orig-1@mail.example.org"], "", ANN))
        .await
        .unwrap()
        .into_inner();
    assert!(found.sender_mismatch);
}
