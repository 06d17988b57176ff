//! Letters: written as PDFs to the letters folder for printing, readable
//! back, and noted on the timeline with why post was used.
//!
//! These need no SMTP server: the configured one has nothing listening, so
//! anything wrongly sent by email would stay queued and fail the test.

use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::notification::v1 as pb;
use complaints_test_support::TestDb;

use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::case::v1::case_service_server::CaseService;

use crate::helpers::{
    address, as_actor, channel, complaint, events_of, on_every_backend, post_complaint, spawn_app,
    spawn_app_with, state,
};
use crate::smtp::free_port;

on_every_backend!(
    wrap = crate::helpers::bounded;
    an_acknowledgement_for_a_posted_complaint_is_a_pdf_letter_with_the_register_number_and_the_address,
    a_complainant_who_cannot_be_written_to_the_preferred_way_gets_a_letter_and_the_timeline_says_why,
    a_stage_response_letter_states_the_review_window_of_the_policy_in_force,
);

/// The text of every page of a PDF, each run of whitespace as one space,
/// so a check does not depend on how the extractor breaks lines.
fn pdf_text(pdf: &[u8]) -> String {
    let document = lopdf::Document::load_mem(pdf).expect("a PDF lopdf can read");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let text = document.extract_text(&pages).expect("the letter's text");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn an_acknowledgement_for_a_posted_complaint_is_a_pdf_letter_with_the_register_number_and_the_address(
    db: TestDb,
) {
    let app = spawn_app(db, free_port()).await;
    let case = app.open(post_complaint()).await;
    let id = app.request_acknowledgement(&case).await.notification_id;

    assert_eq!(app.deliver().await, 1);
    let sent = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&sent), pb::NotificationState::Sent, "{sent:?}");
    assert_eq!(channel(&sent), pb::NotificationChannel::Post);
    assert_eq!(sent.attempts, 1);
    assert_eq!(
        sent.recipient,
        "Margaret Smith, Flat 2, 14 Rosemary Court, Harrogate, HG1 2AB"
    );

    // Queued for printing as <id>.pdf, and that file is the content.
    let letter = std::fs::read(app.letters_dir().join(format!("{id}.pdf")))
        .expect("the letter in the letters folder");
    let content = app.content(&id).await.unwrap().into_inner();
    assert_eq!(content.content_type, "application/pdf");
    assert_eq!(content.file_name, format!("{id}.pdf"));
    assert!(content.body.starts_with(b"%PDF-"));
    assert_eq!(content.body, letter);

    let text = pdf_text(&letter);
    assert!(
        text.contains(&format!("Our reference: {}", case.register_number)),
        "{text}"
    );
    for line in [
        "Margaret Smith",
        "Flat 2",
        "14 Rosemary Court",
        "Harrogate",
        "HG1 2AB",
    ] {
        assert!(
            text.contains(line),
            "{line} missing from the letter: {text}"
        );
    }
    assert!(text.contains("Date: 2 March 2026"), "{text}");
    assert!(text.contains(&content.subject), "{text}");

    // The notice says it went by post, as preferred.
    assert_eq!(app.relay().await, 1);
    let events = app.timeline(&case.case_id).await;
    let notice = &events_of(&events, "case.notice_sent")[0];
    assert_eq!(notice["channel"], "post");
    assert!(
        notice
            .get("route_note")
            .is_none_or(serde_json::Value::is_null),
        "{notice}"
    );
    assert_eq!(events_of(&events, "case.acknowledged").len(), 1);
}

async fn a_complainant_who_cannot_be_written_to_the_preferred_way_gets_a_letter_and_the_timeline_says_why(
    db: TestDb,
) {
    // Prefers the telephone; has an address but no email. (The case service
    // refuses a preference for email without an email address, so the
    // telephone is the preference a written message can miss.)
    let app = spawn_app(db, free_port()).await;
    let case = app
        .open(complaint(
            common::Channel::Web,
            common::Complainant {
                full_name: "Margaret Smith".to_owned(),
                phone: "0113 496 0000".to_owned(),
                postal_address: Some(address()),
                preferred_contact: common::ContactMethod::Phone as i32,
                ..common::Complainant::default()
            },
        ))
        .await;
    let id = app.request_acknowledgement(&case).await.notification_id;

    assert_eq!(app.deliver().await, 1);
    let sent = app.notification(&case.case_id, &id).await;
    assert_eq!(state(&sent), pb::NotificationState::Sent, "{sent:?}");
    assert_eq!(channel(&sent), pb::NotificationChannel::Post);
    assert!(app.letters_dir().join(format!("{id}.pdf")).exists());

    let notices = app.pending_notices().await;
    assert_eq!(notices.len(), 1);
    let route_note =
        "sent by post instead of phone: a written response cannot be sent by telephone";
    assert_eq!(notices[0]["route_note"], route_note);

    assert_eq!(app.relay().await, 1);
    let events = app.timeline(&case.case_id).await;
    let notice = &events_of(&events, "case.notice_sent")[0];
    assert_eq!(notice["notification_id"], id.as_str());
    assert_eq!(notice["channel"], "post");
    assert_eq!(notice["route_note"], route_note);
    let described = events
        .iter()
        .find(|event| event.kind == "case.notice_sent")
        .map(|event| event.details.clone())
        .unwrap();
    assert!(
        described.contains("sent by post instead of phone"),
        "{described}"
    );
}

async fn a_stage_response_letter_states_the_review_window_of_the_policy_in_force(db: TestDb) {
    // The company gives 30 working days to ask for a review, not 20.
    let policy_dir = tempfile::tempdir().unwrap();
    let policy_file = policy_dir.path().join("policy.toml");
    let policy = complaints_domain::policy::DEFAULT_POLICY_TOML.replacen(
        "review_window_working_days = 20",
        "review_window_working_days = 30",
        1,
    );
    std::fs::write(&policy_file, policy).unwrap();
    let policy_path = policy_file.display().to_string();
    let app = spawn_app_with(
        db,
        free_port(),
        &[(complaints_config::env::POLICY_FILE, policy_path.as_str())],
    )
    .await;
    let case = app.open(post_complaint()).await;
    app.case
        .issue_stage_response(as_actor(
            case_pb::IssueStageResponseRequest {
                case_id: case.case_id.clone(),
                request_id: String::new(),
                outcome: "We replaced the pendant.".to_owned(),
                upheld: case_pb::Finding::Upheld as i32,
                root_cause: "faulty-equipment".to_owned(),
                lessons_learned: String::new(),
            },
            "hana",
            Role::ComplaintsHandler,
        ))
        .await
        .unwrap();
    let id = app
        .request(pb::RequestNotificationRequest {
            case_id: case.case_id.clone(),
            kind: pb::NotificationKind::StageResponse as i32,
            stage: common::Stage::Stage1 as i32,
            ..pb::RequestNotificationRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .notification_id;

    assert_eq!(app.deliver().await, 1);
    let content = app.content(&id).await.unwrap().into_inner();
    let text = pdf_text(&content.body);
    // Monday 2 March 2026 + 30 working days, over Good Friday and Easter
    // Monday.
    assert!(
        text.contains("within 30 working days, by Wednesday 15 April 2026"),
        "{text}"
    );
    assert!(!text.contains("20 working days"), "{text}");
}
