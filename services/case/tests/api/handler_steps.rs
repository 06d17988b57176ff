//! The handler's day over gRPC: requests to go up a stage keyed in after the
//! complainant made them, acknowledgements given outside the platform, and
//! R5 on closing a review (docs/policy.md, R1, R4 to R6).

use chrono::{DateTime, Duration, TimeZone, Utc};
use complaints_case::relay::clock_change;
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1 as escalation_pb;
use complaints_store::cases::{CASE_EVENTS_TOPIC, CaseChanged};
use complaints_store::entity::outbox;
use complaints_test_support::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tonic::Code;

use crate::helpers::{
    TestApp, date, on_every_backend, refused, spawn_app, stage_response, timestamp, violated_fields,
};

on_every_backend!(
    a_review_keyed_in_late_runs_its_stage_2_clocks_from_when_the_complainant_asked,
    a_director_request_keyed_in_late_runs_its_stage_3_clocks_from_when_the_complainant_asked,
    a_request_received_in_the_future_or_before_the_response_it_answers_is_refused,
    an_acknowledgement_given_by_telephone_marks_the_stage_acknowledged_and_meets_its_clock,
    a_second_acknowledgement_of_a_stage_is_refused_but_a_retry_returns_the_case,
    an_acknowledgement_needs_its_method_and_a_short_reference,
    only_the_stages_owner_or_responders_record_an_acknowledgement,
    whoever_handled_stage_1_may_not_close_the_stage_2_review,
);

/// Friday 20 March 2026, 15:00 GMT: when the complainant asked.
fn friday_afternoon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 20, 15, 0, 0).unwrap()
}

/// Tuesday 24 March 2026, 09:30 GMT: when the request is keyed in.
fn tuesday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 24, 9, 30, 0).unwrap()
}

fn review(case_id: &str, received_at: Option<DateTime<Utc>>) -> pb::RequestReviewRequest {
    pb::RequestReviewRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        desired_outcome: "An apology".to_owned(),
        unsatisfied_with: "Nobody called back".to_owned(),
        received_at: received_at.map(timestamp),
    }
}

fn to_director(case_id: &str, received_at: Option<DateTime<Utc>>) -> pb::EscalateToDirectorRequest {
    pb::EscalateToDirectorRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        desired_outcome: "Compensation".to_owned(),
        unsatisfied_with: "The review ignored the night".to_owned(),
        received_at: received_at.map(timestamp),
    }
}

fn acknowledgement(
    case_id: &str,
    request_id: &str,
    method: pb::AcknowledgementMethod,
    reference: &str,
) -> pb::RecordAcknowledgementRequest {
    pb::RecordAcknowledgementRequest {
        case_id: case_id.to_owned(),
        method: method as i32,
        reference: reference.to_owned(),
        request_id: request_id.to_owned(),
    }
}

fn close(case_id: &str) -> pb::CloseCaseRequest {
    pb::CloseCaseRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        reason: "The complainant is content after a call.".to_owned(),
    }
}

/// A case whose stage 1 response `hana` issued on Monday 2 March.
async fn responded_at_stage_1(app: &TestApp) -> pb::Case {
    let case = app.open_case().await;
    app.respond_at_stage_1(&case.case_id, "late-response").await
}

/// Moves the service's clock to `at`.
fn advance_to(app: &TestApp, at: DateTime<Utc>) {
    app.advance(at - app.now());
}

/// What the case service queued for the escalation service, oldest change
/// first, as its outbox relay would send it.
async fn clock_changes(app: &TestApp, case_id: &str) -> Vec<escalation_pb::ApplyCaseChangeRequest> {
    let aggregate = uuid::Uuid::parse_str(case_id).unwrap();
    outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(CASE_EVENTS_TOPIC))
        .filter(outbox::Column::AggregateId.eq(aggregate))
        .order_by_asc(outbox::Column::Id)
        .all(&app.db.db)
        .await
        .unwrap()
        .iter()
        .filter_map(|row| {
            let change: CaseChanged = serde_json::from_str(&row.payload).unwrap();
            clock_change(&change)
        })
        .collect()
}

/// The clock `kind` started by the last change that started any.
async fn started(
    app: &TestApp,
    case_id: &str,
    kind: common::DeadlineKind,
) -> escalation_pb::DeadlineStart {
    let changes = clock_changes(app, case_id).await;
    let last = changes
        .iter()
        .rev()
        .find(|change| !change.start.is_empty())
        .unwrap_or_else(|| panic!("no clock started for {case_id}"));
    last.start
        .iter()
        .find(|start| start.kind == kind as i32)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind:?} clock in {last:?}"))
}

/// The JSON details of the case's last event of `kind`.
async fn last_event(app: &TestApp, case_id: &str, kind: &str) -> pb::TimelineEvent {
    app.timeline(case_id)
        .await
        .events
        .into_iter()
        .rev()
        .find(|event| event.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} event on {case_id}"))
}

fn details(event: &pb::TimelineEvent) -> serde_json::Value {
    serde_json::from_str(&event.details_json).unwrap()
}

async fn a_review_keyed_in_late_runs_its_stage_2_clocks_from_when_the_complainant_asked(
    db: TestDb,
) {
    let app = spawn_app(db).await;
    let case = responded_at_stage_1(&app).await;
    advance_to(&app, tuesday_morning());

    let case = app
        .handler()
        .request_review(review(&case.case_id, Some(friday_afternoon())))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.stage, common::Stage::Stage2 as i32);

    // Counted from Friday 20 March, not from Tuesday 24 March (which would
    // be due Friday 27 March).
    let acknowledge = started(&app, &case.case_id, common::DeadlineKind::Stage2Acknowledge).await;
    assert_eq!(acknowledge.started_at, Some(timestamp(friday_afternoon())));
    assert_eq!(acknowledge.due_date, Some(date(2026, 3, 25)));
    assert_eq!(
        acknowledge.due_at,
        Some(timestamp(
            Utc.with_ymd_and_hms(2026, 3, 26, 0, 0, 0).unwrap()
        ))
    );
    let respond = started(&app, &case.case_id, common::DeadlineKind::Stage2Respond).await;
    assert_eq!(respond.started_at, Some(timestamp(friday_afternoon())));
    assert_eq!(respond.due_date, Some(date(2026, 4, 7)));

    let requested = last_event(&app, &case.case_id, "case.review_requested").await;
    assert_eq!(requested.at, Some(timestamp(tuesday_morning())));
    let details = details(&requested);
    assert_eq!(details["received_at"], "2026-03-20T15:00:00Z");
    assert_eq!(details["recorded_at"], "2026-03-24T09:30:00Z");
}

async fn a_director_request_keyed_in_late_runs_its_stage_3_clocks_from_when_the_complainant_asked(
    db: TestDb,
) {
    let app = spawn_app(db).await;
    let case = responded_at_stage_1(&app).await;
    app.handler()
        .request_review(review(&case.case_id, None))
        .await
        .unwrap();
    app.client("carol", Role::CxManager)
        .issue_stage_response(stage_response(&case.case_id, "late-response"))
        .await
        .unwrap();
    advance_to(&app, tuesday_morning());

    app.client("crm", Role::Integration)
        .escalate_to_director(to_director(&case.case_id, Some(friday_afternoon())))
        .await
        .unwrap();

    let acknowledge = started(&app, &case.case_id, common::DeadlineKind::Stage3Acknowledge).await;
    assert_eq!(acknowledge.started_at, Some(timestamp(friday_afternoon())));
    assert_eq!(acknowledge.due_date, Some(date(2026, 3, 25)));
    let respond = started(&app, &case.case_id, common::DeadlineKind::Stage3Respond).await;
    assert_eq!(respond.due_date, Some(date(2026, 4, 7)));
    let escalated = last_event(&app, &case.case_id, "case.escalated_to_director").await;
    let details = details(&escalated);
    assert_eq!(details["received_at"], "2026-03-20T15:00:00Z");
    assert_eq!(details["recorded_at"], "2026-03-24T09:30:00Z");
}

async fn a_request_received_in_the_future_or_before_the_response_it_answers_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    let case = responded_at_stage_1(&app).await;
    let id = case.case_id.clone();
    advance_to(&app, tuesday_morning());

    let future = tuesday_morning() + Duration::minutes(6);
    assert_eq!(
        violated_fields(
            app.handler()
                .request_review(review(&id, Some(future)))
                .await
        ),
        ["received_at"]
    );
    let long_ago = tuesday_morning() - Duration::days(367);
    assert_eq!(
        violated_fields(
            app.handler()
                .request_review(review(&id, Some(long_ago)))
                .await
        ),
        ["received_at"]
    );
    // The stage 1 response was issued on Monday 2 March at 10:00.
    let before_the_response = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let status = app
        .handler()
        .request_review(review(&id, Some(before_the_response)))
        .await;
    assert_eq!(violated_fields(status), ["received_at"]);

    // Nothing was recorded.
    let case = app.get(&id).await;
    assert_eq!(case.stage, common::Stage::Stage1 as i32);
    assert_eq!(case.status, pb::CaseStatus::Responded as i32);
    assert_eq!(
        app.event_kinds(&id).await,
        ["case.received", "case.stage_response_issued"]
    );
}

async fn an_acknowledgement_given_by_telephone_marks_the_stage_acknowledged_and_meets_its_clock(
    db: TestDb,
) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let id = case.case_id.clone();
    assert_eq!(case.acknowledged_at, None);
    app.advance(Duration::hours(2));

    let case = app
        .handler()
        .record_acknowledgement(acknowledgement(
            &id,
            "ack-1",
            pb::AcknowledgementMethod::Telephone,
            "Call 4471",
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.acknowledged_at, Some(timestamp(app.now())));

    let kinds = app.event_kinds(&id).await;
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["case.acknowledgement_recorded", "case.acknowledged"]
    );
    let recorded = last_event(&app, &id, "case.acknowledgement_recorded").await;
    assert_eq!(recorded.actor, "hana");
    assert_eq!(recorded.actor_role, common::Role::ComplaintsHandler as i32);
    let details = details(&recorded);
    assert_eq!(details["method"], "telephone");
    assert_eq!(details["reference"], "Call 4471");
    assert_eq!(details["stage"], "stage_1");

    // R1's clock is met, as when the platform's own letter is delivered.
    let changes = clock_changes(&app, &id).await;
    let settled = &changes.last().unwrap().settle;
    assert_eq!(
        settled,
        &[escalation_pb::DeadlineSettlement {
            kind: common::DeadlineKind::Acknowledge as i32,
            state: escalation_pb::DeadlineState::Met as i32,
        }]
    );
}

async fn a_second_acknowledgement_of_a_stage_is_refused_but_a_retry_returns_the_case(db: TestDb) {
    let app = spawn_app(db).await;
    let id = app.open_case().await.case_id;
    let mut handler = app.handler();
    let first = acknowledgement(&id, "ack-1", pb::AcknowledgementMethod::Letter, "");
    let acknowledged = handler
        .record_acknowledgement(first.clone())
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();

    // The same request again: answered, not repeated.
    app.advance(Duration::minutes(5));
    let retried = handler
        .record_acknowledgement(first)
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(retried.acknowledged_at, acknowledged.acknowledged_at);

    // Another acknowledgement of the same stage: refused, saying why.
    let status = refused(
        handler
            .record_acknowledgement(acknowledgement(
                &id,
                "ack-2",
                pb::AcknowledgementMethod::Telephone,
                "",
            ))
            .await,
        Code::FailedPrecondition,
    );
    assert!(
        status.message().contains("already acknowledged"),
        "{status:?}"
    );
    // The first request id for other content is another request.
    refused(
        handler
            .record_acknowledgement(acknowledgement(
                &id,
                "ack-1",
                pb::AcknowledgementMethod::Email,
                "",
            ))
            .await,
        Code::AlreadyExists,
    );
    let kinds = app.event_kinds(&id).await;
    let recorded = kinds
        .iter()
        .filter(|kind| *kind == "case.acknowledgement_recorded")
        .count();
    assert_eq!(recorded, 1, "{kinds:?}");
}

async fn an_acknowledgement_needs_its_method_and_a_short_reference(db: TestDb) {
    let app = spawn_app(db).await;
    let id = app.open_case().await.case_id;
    let bad = acknowledgement(
        &id,
        "",
        pb::AcknowledgementMethod::Unspecified,
        &"r".repeat(101),
    );
    assert_eq!(
        violated_fields(app.handler().record_acknowledgement(bad).await),
        ["method", "reference"]
    );
    assert_eq!(app.get(&id).await.acknowledged_at, None);
}

async fn only_the_stages_owner_or_responders_record_an_acknowledgement(db: TestDb) {
    let app = spawn_app(db).await;
    let case = responded_at_stage_1(&app).await;
    let id = case.case_id;
    let telephone = || acknowledgement(&id, "", pb::AcknowledgementMethod::Telephone, "");

    // The platform marks its own deliveries; it does not speak for staff.
    for (subject, role) in [
        ("intake", Role::Service),
        ("adam", Role::Adviser),
        ("crm", Role::Integration),
        ("carol", Role::CxManager),
    ] {
        refused(
            app.client(subject, role)
                .record_acknowledgement(telephone())
                .await,
            Code::PermissionDenied,
        );
    }

    // At stage 2 the review's owner acknowledges, not the department.
    app.handler()
        .request_review(review(&id, None))
        .await
        .unwrap();
    refused(
        app.handler().record_acknowledgement(telephone()).await,
        Code::PermissionDenied,
    );
    let case = app
        .client("carol", Role::CxManager)
        .record_acknowledgement(telephone())
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(case.acknowledged_at.is_some());
    let changes = clock_changes(&app, &id).await;
    assert_eq!(
        changes.last().unwrap().settle,
        [escalation_pb::DeadlineSettlement {
            kind: common::DeadlineKind::Stage2Acknowledge as i32,
            state: escalation_pb::DeadlineState::Met as i32,
        }]
    );
}

async fn whoever_handled_stage_1_may_not_close_the_stage_2_review(db: TestDb) {
    let app = spawn_app(db).await;
    // Hana issued the stage 1 response.
    let case = responded_at_stage_1(&app).await;
    let id = case.case_id;
    app.handler()
        .request_review(review(&id, None))
        .await
        .unwrap();

    let status = refused(
        app.handler().close_case(close(&id)).await,
        Code::PermissionDenied,
    );
    assert!(
        status.message().contains("hana handled stage 1"),
        "{status:?}"
    );
    refused(
        app.client("hana", Role::CxManager)
            .close_case(close(&id))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(app.get(&id).await.status, pb::CaseStatus::Open as i32);

    // Another of the complaints department may.
    let case = app
        .client("harriet", Role::ComplaintsHandler)
        .close_case(close(&id))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.status, pb::CaseStatus::Closed as i32);
}
