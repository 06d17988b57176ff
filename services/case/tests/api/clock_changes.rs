//! RecordClockChange: the escalation service's extensions, pauses and
//! resumes are recorded on the case's timeline, by the platform only, once
//! per change key (docs/policy.md, Working days, Extensions and pauses).

use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_test_support::TestDb;
use tonic::Code;

use crate::helpers::{date, on_every_backend, refused, spawn_app, violated_fields};

on_every_backend!(
    an_extension_pause_and_resume_are_recorded_on_the_timeline_with_who_asked,
    a_repeated_clock_change_is_recorded_once_and_a_reused_key_is_refused,
    only_the_platform_records_a_clock_change_and_not_on_a_closed_case,
    a_clock_change_names_every_missing_field,
);

fn extension(case_id: &str, request_id: &str) -> pb::RecordClockChangeRequest {
    pb::RecordClockChangeRequest {
        case_id: case_id.into(),
        request_id: request_id.into(),
        change: pb::ClockChangeKind::Extended as i32,
        reason: "Waiting for the engineer's report".into(),
        requested_by: "hana".into(),
        deadline_kind: common::DeadlineKind::Resolve as i32,
        extra_working_days: 2,
        previous_due_date: Some(date(2026, 12, 3)),
        due_date: Some(date(2026, 12, 7)),
        paused_working_days: 0,
    }
}

fn pause_or_resume(
    case_id: &str,
    request_id: &str,
    change: pb::ClockChangeKind,
    reason: &str,
    paused_working_days: i32,
) -> pb::RecordClockChangeRequest {
    pb::RecordClockChangeRequest {
        case_id: case_id.into(),
        request_id: request_id.into(),
        change: change as i32,
        reason: reason.into(),
        requested_by: "carl".into(),
        paused_working_days,
        ..Default::default()
    }
}

async fn an_extension_pause_and_resume_are_recorded_on_the_timeline_with_who_asked(db: TestDb) {
    let app = spawn_app(db).await;
    let id = app.open_case().await.case_id;
    let escalation = app.client("escalation", Role::Service);
    escalation
        .clone()
        .record_clock_change(extension(&id, "deadline-1/extend-a"))
        .await
        .unwrap();
    escalation
        .clone()
        .record_clock_change(pause_or_resume(
            &id,
            &format!("{id}/pause-1"),
            pb::ClockChangeKind::Paused,
            "Complainant in hospital",
            0,
        ))
        .await
        .unwrap();
    escalation
        .clone()
        .record_clock_change(pause_or_resume(
            &id,
            &format!("{id}/resume-1"),
            pb::ClockChangeKind::Resumed,
            "Complainant home again",
            2,
        ))
        .await
        .unwrap();

    let timeline = app.timeline(&id).await;
    assert!(timeline.verified);
    let events: Vec<_> = timeline
        .events
        .iter()
        .filter(|e| e.kind.starts_with("clocks."))
        .collect();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["clocks.extended", "clocks.paused", "clocks.resumed"]
    );
    assert!(
        events
            .iter()
            .all(|e| e.actor == "escalation" && e.actor_role == common::Role::Service as i32)
    );
    let details =
        |n: usize| -> serde_json::Value { serde_json::from_str(&events[n].details_json).unwrap() };
    assert_eq!(
        details(0),
        serde_json::json!({
            "kind": "clocks.extended",
            "deadline": "resolve",
            "extra_working_days": 2,
            "previous_due_date": "2026-12-03",
            "due_date": "2026-12-07",
            "reason": "Waiting for the engineer's report",
            "requested_by": "hana",
        })
    );
    assert_eq!(
        details(1),
        serde_json::json!({
            "kind": "clocks.paused",
            "reason": "Complainant in hospital",
            "requested_by": "carl",
        })
    );
    assert_eq!(
        details(2),
        serde_json::json!({
            "kind": "clocks.resumed",
            "paused_working_days": 2,
            "reason": "Complainant home again",
            "requested_by": "carl",
        })
    );
    assert!(
        events[0].details.contains("2026-12-07"),
        "{}",
        events[0].details
    );
    app.stop().await;
}

async fn a_repeated_clock_change_is_recorded_once_and_a_reused_key_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let id = app.open_case().await.case_id;
    let mut escalation = app.client("escalation", Role::Service);
    for _ in 0..2 {
        escalation
            .record_clock_change(extension(&id, "deadline-1/extend-a"))
            .await
            .unwrap();
    }
    let kinds = app.event_kinds(&id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "clocks.extended").count(),
        1,
        "{kinds:?}"
    );
    let mut other = extension(&id, "deadline-1/extend-a");
    other.extra_working_days = 3;
    refused(
        escalation.record_clock_change(other).await,
        Code::AlreadyExists,
    );
    app.stop().await;
}

async fn only_the_platform_records_a_clock_change_and_not_on_a_closed_case(db: TestDb) {
    let app = spawn_app(db).await;
    let id = app.open_case().await.case_id;
    for role in [Role::ComplaintsHandler, Role::CxManager, Role::Integration] {
        refused(
            app.client("someone", role)
                .record_clock_change(extension(&id, "deadline-1/extend-a"))
                .await,
            Code::PermissionDenied,
        );
    }
    assert!(
        !app.event_kinds(&id)
            .await
            .iter()
            .any(|k| k.starts_with("clocks.")),
        "a refused call records nothing"
    );
    app.handler()
        .close_case(pb::CloseCaseRequest {
            case_id: id.clone(),
            request_id: String::new(),
            reason: "Resolved on the phone".into(),
        })
        .await
        .unwrap();
    refused(
        app.client("escalation", Role::Service)
            .record_clock_change(extension(&id, "deadline-1/extend-b"))
            .await,
        Code::FailedPrecondition,
    );
    app.stop().await;
}

async fn a_clock_change_names_every_missing_field(db: TestDb) {
    let app = spawn_app(db).await;
    let id = app.open_case().await.case_id;
    let mut escalation = app.client("escalation", Role::Service);
    let fields = violated_fields(
        escalation
            .record_clock_change(pb::RecordClockChangeRequest {
                case_id: id.clone(),
                change: pb::ClockChangeKind::Extended as i32,
                ..Default::default()
            })
            .await,
    );
    assert_eq!(
        fields,
        [
            "request_id",
            "deadline_kind",
            "extra_working_days",
            "previous_due_date",
            "due_date"
        ]
    );
    let fields = violated_fields(
        escalation
            .record_clock_change(pb::RecordClockChangeRequest {
                case_id: id.clone(),
                request_id: format!("{id}/pause-1"),
                change: pb::ClockChangeKind::Paused as i32,
                ..Default::default()
            })
            .await,
    );
    assert_eq!(fields, ["reason", "requested_by"]);
    app.stop().await;
}
