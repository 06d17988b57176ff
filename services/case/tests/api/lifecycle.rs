//! The complaints policy over gRPC, stage by stage, each step taken by a
//! token of the role the policy gives it (docs/policy.md, R1 to R7).

use chrono::{Duration, TimeZone, Utc};
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_test_support::TestDb;
use tonic::Code;

use crate::helpers::{
    TestApp, complaint, date, get_by_number, note, on_every_backend, refused, spawn_app,
    stage_response, timestamp, violated_fields,
};

on_every_backend!(
    a_complaint_goes_through_every_stage_to_the_tsa_and_is_closed_and_erased,
    a_review_request_must_say_what_is_wanted_and_what_is_wrong,
    escalation_to_a_director_must_say_what_is_wanted_and_what_is_wrong,
    whoever_handled_stage_1_does_not_decide_stage_2,
    only_a_director_answers_stage_3,
    a_stage_response_waits_for_every_referral_to_be_answered,
    steps_out_of_order_are_failed_preconditions,
    a_closed_case_takes_nothing_but_erasure,
    erasure_is_for_the_complaints_department_and_the_platform_only,
    a_step_reads_its_case_once,
    a_step_finds_its_place_in_the_timeline_with_the_cases_update,
);

fn review(case_id: &str, desired: &str, unsatisfied: &str) -> pb::RequestReviewRequest {
    pb::RequestReviewRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        desired_outcome: desired.to_owned(),
        unsatisfied_with: unsatisfied.to_owned(),
        received_at: None,
    }
}

fn to_director(case_id: &str, desired: &str, unsatisfied: &str) -> pb::EscalateToDirectorRequest {
    pb::EscalateToDirectorRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        desired_outcome: desired.to_owned(),
        unsatisfied_with: unsatisfied.to_owned(),
        received_at: None,
    }
}

fn escalate_within(case_id: &str) -> pb::EscalateWithinStageRequest {
    pb::EscalateWithinStageRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        reason: "The complainant asked for someone more senior.".to_owned(),
    }
}

fn referral(case_id: &str) -> pb::ReferToDepartmentRequest {
    pb::ReferToDepartmentRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        department: "Installations".to_owned(),
        question: "When was the pendant last tested?".to_owned(),
    }
}

fn department_answer(case_id: &str, referral_id: &str) -> pb::RecordDepartmentResponseRequest {
    pb::RecordDepartmentResponseRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        referral_id: referral_id.to_owned(),
        response: "Tested on 14 February; the battery was low.".to_owned(),
    }
}

fn tsa(case_id: &str) -> pb::RecordTsaReferralRequest {
    pb::RecordTsaReferralRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        reference: "TSA-2026-0012".to_owned(),
    }
}

fn close(case_id: &str) -> pb::CloseCaseRequest {
    pb::CloseCaseRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        reason: "The complainant accepted the response.".to_owned(),
    }
}

fn erase(case_id: &str) -> pb::EraseComplainantRequest {
    pb::EraseComplainantRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        reason: "retention period ended".to_owned(),
    }
}

fn statistics_for_march() -> pb::GetStatisticsRequest {
    pb::GetStatisticsRequest {
        from_date: Some(date(2026, 3, 1)),
        to_date: Some(date(2026, 3, 31)),
    }
}

fn count(counts: &[pb::Count], key: &str) -> i64 {
    counts.iter().find(|c| c.key == key).map_or(0, |c| c.count)
}

/// A case at stage 2: `hana` responded at stage 1 and she asked for a review.
async fn case_at_stage_2(app: &TestApp) -> pb::Case {
    let case = app.open_case().await;
    app.respond_at_stage_1(&case.case_id, "late-response").await;
    app.handler()
        .request_review(review(&case.case_id, "An apology", "Nobody called back"))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap()
}

/// A case at stage 3: the CX manager `carol` responded at stage 2.
async fn case_at_stage_3(app: &TestApp) -> pb::Case {
    let case = case_at_stage_2(app).await;
    app.client("carol", Role::CxManager)
        .issue_stage_response(stage_response(&case.case_id, "late-response"))
        .await
        .unwrap();
    app.handler()
        .escalate_to_director(to_director(
            &case.case_id,
            "Compensation",
            "The review ignored the night",
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap()
}

async fn a_complaint_goes_through_every_stage_to_the_tsa_and_is_closed_and_erased(db: TestDb) {
    let app = spawn_app(db).await;

    // R8: an adviser logged a call; intake opens the case as the platform.
    let mut request = complaint("call-0001");
    request.channel = common::Channel::Telephone as i32;
    request.recorded_by = "Adviser 4471".to_owned();
    request.submitted_by = "adam".to_owned();
    request.submitted_by_role = common::Role::Adviser as i32;
    let opened = app.open(request).await;
    assert_eq!(opened.acknowledge_by, Some(date(2026, 3, 5)), "R1");
    assert_eq!(opened.resolve_by, Some(date(2026, 3, 16)), "R2");
    assert_eq!(
        opened.resolve_by_at,
        Some(timestamp(
            Utc.with_ymd_and_hms(2026, 3, 17, 0, 0, 0).unwrap()
        )),
        "due at the end of the day, London time"
    );
    assert!(!opened.replayed);
    let case = opened.case.unwrap();
    let id = case.case_id.clone();
    assert_eq!(case.register_number, "CMP-2026-000001");
    assert_eq!(case.stage, common::Stage::Stage1 as i32);
    assert_eq!(case.status, pb::CaseStatus::Open as i32);
    assert_eq!(case.owner_role, common::Role::ComplaintsHandler as i32);
    assert_eq!(case.channel, common::Channel::Telephone as i32);
    assert_eq!(case.recorded_by, "Adviser 4471");
    assert!(!case.policy_version.is_empty());

    // Stage 1: the complaints department asks Installations, then responds.
    app.advance(Duration::hours(2));
    let mut handler = app.handler();
    let referred = handler
        .refer_to_department(referral(&id))
        .await
        .unwrap()
        .into_inner();
    let referral_id = referred.referral_id;
    let case = referred.case.unwrap();
    assert_eq!(case.referrals.len(), 1);
    assert_eq!(case.referrals[0].referral_id, referral_id);
    assert_eq!(case.referrals[0].department, "Installations");
    let case = handler
        .record_department_response(department_answer(&id, &referral_id))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(case.referrals[0].responded_at.is_some());
    let case = handler
        .issue_stage_response(pb::IssueStageResponseRequest {
            upheld: pb::Finding::PartlyUpheld as i32,
            lessons_learned: "Test pendant batteries at every visit.".to_owned(),
            ..stage_response(&id, "installation")
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.status, pb::CaseStatus::Responded as i32);
    assert_eq!(case.responses.len(), 1);
    let stage_1 = &case.responses[0];
    assert_eq!(stage_1.stage, common::Stage::Stage1 as i32);
    assert_eq!(stage_1.root_cause, "installation");
    assert_eq!(stage_1.upheld, pb::Finding::PartlyUpheld as i32);
    assert_eq!(stage_1.issued_by, "hana");
    assert_eq!(
        stage_1.lessons_learned,
        "Test pendant batteries at every visit."
    );

    // Stage 2 (R4, R5): the review, owned by the CX manager, escalated within
    // the stage to the operations lead, who responds.
    app.advance(Duration::days(3));
    let case = handler
        .request_review(review(
            &id,
            "An apology and a new pendant",
            "The battery excuse",
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.stage, common::Stage::Stage2 as i32);
    assert_eq!(case.status, pb::CaseStatus::Open as i32);
    assert_eq!(case.owner_role, common::Role::CxManager as i32);
    refused(
        app.client("hana", Role::CxManager)
            .issue_stage_response(stage_response(&id, "installation"))
            .await,
        Code::PermissionDenied,
    );
    let case = app
        .client("carol", Role::CxManager)
        .escalate_within_stage(escalate_within(&id))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.owner_role, common::Role::OpsLead as i32);
    let case = app
        .client("olu", Role::OpsLead)
        .issue_stage_response(stage_response(&id, "installation"))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.status, pb::CaseStatus::Responded as i32);
    assert_eq!(case.responses[1].stage, common::Stage::Stage2 as i32);
    assert_eq!(case.responses[1].issued_by, "olu");

    // Stage 3 (R6): a CRM passes on the request; only a director answers.
    app.advance(Duration::days(2));
    let case = app
        .client("crm", Role::Integration)
        .escalate_to_director(to_director(&id, "Compensation", "The review"))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.stage, common::Stage::Stage3 as i32);
    assert_eq!(case.owner_role, common::Role::Director as i32);
    let case = app
        .client("dana", Role::Director)
        .issue_stage_response(stage_response(&id, "missed-alarm-call"))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.status, pb::CaseStatus::Responded as i32);
    assert_eq!(case.responses.len(), 3);
    assert_eq!(case.responses[2].stage, common::Stage::Stage3 as i32);

    // External (R7): the complainant went to the TSA.
    let case = handler
        .record_tsa_referral(tsa(&id))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.stage, common::Stage::External as i32);
    assert_eq!(case.status, pb::CaseStatus::Open as i32);
    assert_eq!(case.tsa_reference, "TSA-2026-0012");

    app.advance(Duration::days(30));
    let case = handler
        .close_case(close(&id))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.status, pb::CaseStatus::Closed as i32);
    assert_eq!(case.closed_reason, "The complainant accepted the response.");
    assert_eq!(case.closed_at, Some(timestamp(app.now())));
    assert_eq!(case.owner_role, common::Role::Unspecified as i32);
    assert!(!case.overdue);

    // Closed: nothing more happens to it...
    refused(
        handler.add_note(note(&id, "", "one more thing")).await,
        Code::FailedPrecondition,
    );
    refused(
        handler.close_case(close(&id)).await,
        Code::FailedPrecondition,
    );

    // ...but the complainant can be erased, and the case still counts.
    let case = app
        .platform()
        .erase_complainant(erase(&id))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(case.personal_data_erased);
    let person = case.complainant.unwrap();
    assert_ne!(person.full_name, "Ann Jones");
    assert_eq!(person.email, "");
    assert_eq!(person.phone, "");
    assert_eq!(person.customer_ref, "");
    assert_eq!(case.details, "");
    assert_eq!(case.register_number, "CMP-2026-000001");
    assert_eq!(case.responses.len(), 3, "findings are kept");

    let timeline = app.timeline(&id).await;
    assert!(timeline.verified);
    let kinds: Vec<_> = timeline.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "case.received",
            "case.referred",
            "case.department_responded",
            "case.stage_response_issued",
            "case.review_requested",
            "case.escalated_within_stage",
            "case.stage_response_issued",
            "case.escalated_to_director",
            "case.stage_response_issued",
            "case.tsa_referral_recorded",
            "case.closed",
            "case.complainant_erased",
        ]
    );
    let actors: Vec<_> = timeline.events.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(
        actors,
        [
            "adam", "hana", "hana", "hana", "hana", "carol", "olu", "crm", "dana", "hana", "hana",
            "intake",
        ]
    );
    assert_eq!(timeline.events[0].actor_role, common::Role::Adviser as i32);
    for (n, event) in (1..).zip(&timeline.events) {
        assert_eq!(event.sequence, n);
    }

    let stats = handler
        .get_statistics(statistics_for_march())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.total, 1);
    assert_eq!(count(&stats.by_stage, "STAGE_EXTERNAL"), 1);
    assert_eq!(count(&stats.by_channel, "CHANNEL_TELEPHONE"), 1);
    assert_eq!(count(&stats.by_root_cause, "missed-alarm-call"), 1);
    assert_eq!(count(&stats.by_finding, "FINDING_NOT_UPHELD"), 1);
    assert_eq!(
        (stats.review_count, stats.director_count, stats.tsa_count),
        (1, 1, 1)
    );
    assert!((stats.escalation_rate - 1.0).abs() < f64::EPSILON);
    assert!((stats.tsa_rate - 1.0).abs() < f64::EPSILON);
}

async fn a_review_request_must_say_what_is_wanted_and_what_is_wrong(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    app.respond_at_stage_1(&case.case_id, "late-response").await;
    let mut handler = app.handler();

    let mut both = violated_fields(handler.request_review(review(&case.case_id, "", " ")).await);
    both.sort();
    assert_eq!(both, ["desired_outcome", "unsatisfied_with"]);
    assert_eq!(
        violated_fields(
            handler
                .request_review(review(&case.case_id, "", "The delay"))
                .await
        ),
        ["desired_outcome"]
    );
    assert_eq!(
        violated_fields(
            handler
                .request_review(review(&case.case_id, "An apology", ""))
                .await
        ),
        ["unsatisfied_with"]
    );

    let case = app.get(&case.case_id).await;
    assert_eq!(
        case.stage,
        common::Stage::Stage1 as i32,
        "nothing was written"
    );
    assert_eq!(case.status, pb::CaseStatus::Responded as i32);
}

async fn escalation_to_a_director_must_say_what_is_wanted_and_what_is_wrong(db: TestDb) {
    let app = spawn_app(db).await;
    let case = case_at_stage_2(&app).await;
    app.client("carol", Role::CxManager)
        .issue_stage_response(stage_response(&case.case_id, "late-response"))
        .await
        .unwrap();

    let mut fields = violated_fields(
        app.handler()
            .escalate_to_director(to_director(&case.case_id, "", ""))
            .await,
    );
    fields.sort();

    assert_eq!(fields, ["desired_outcome", "unsatisfied_with"]);
    assert_eq!(
        app.get(&case.case_id).await.stage,
        common::Stage::Stage2 as i32
    );
}

async fn whoever_handled_stage_1_does_not_decide_stage_2(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let id = case.case_id;
    // Hana refers the complaint and records the answer; Harry responds.
    let referral_id = app
        .handler()
        .refer_to_department(referral(&id))
        .await
        .unwrap()
        .into_inner()
        .referral_id;
    app.handler()
        .record_department_response(department_answer(&id, &referral_id))
        .await
        .unwrap();
    app.client("harry", Role::ComplaintsHandler)
        .issue_stage_response(stage_response(&id, "late-response"))
        .await
        .unwrap();
    app.handler()
        .request_review(review(&id, "An apology", "The delay"))
        .await
        .unwrap();

    // Both now hold the CX manager role, and neither may decide the review.
    for subject in ["hana", "harry"] {
        let mut manager = app.client(subject, Role::CxManager);
        let status = refused(
            manager
                .issue_stage_response(stage_response(&id, "late-response"))
                .await,
            Code::PermissionDenied,
        );
        assert!(status.message().contains(subject), "{status:?}");
        refused(
            manager.escalate_within_stage(escalate_within(&id)).await,
            Code::PermissionDenied,
        );
    }
    // Someone who did not handle stage 1 may.
    let case = app
        .client("carol", Role::CxManager)
        .issue_stage_response(stage_response(&id, "late-response"))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.responses[1].issued_by, "carol");
}

async fn only_a_director_answers_stage_3(db: TestDb) {
    let app = spawn_app(db).await;
    let case = case_at_stage_3(&app).await;
    let id = case.case_id;

    for (subject, role) in [
        ("hana", Role::ComplaintsHandler),
        ("carol", Role::CxManager),
        ("olu", Role::OpsLead),
        ("adam", Role::Adviser),
        ("crm", Role::Integration),
    ] {
        refused(
            app.client(subject, role)
                .issue_stage_response(stage_response(&id, "policy"))
                .await,
            Code::PermissionDenied,
        );
    }
    let case = app
        .client("dana", Role::Director)
        .issue_stage_response(stage_response(&id, "policy"))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();

    assert_eq!(case.status, pb::CaseStatus::Responded as i32);
    assert_eq!(case.responses[2].issued_by, "dana");
}

async fn a_stage_response_waits_for_every_referral_to_be_answered(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let mut handler = app.handler();
    let referral_id = handler
        .refer_to_department(referral(&case.case_id))
        .await
        .unwrap()
        .into_inner()
        .referral_id;

    let status = refused(
        handler
            .issue_stage_response(stage_response(&case.case_id, "late-response"))
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("Installations"), "{status:?}");

    handler
        .record_department_response(department_answer(&case.case_id, &referral_id))
        .await
        .unwrap();
    refused(
        handler
            .record_department_response(department_answer(&case.case_id, &referral_id))
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        violated_fields(
            handler
                .record_department_response(department_answer(
                    &case.case_id,
                    &uuid::Uuid::now_v7().to_string()
                ))
                .await
        ),
        ["referral_id"]
    );
    app.respond_at_stage_1(&case.case_id, "late-response").await;
}

async fn steps_out_of_order_are_failed_preconditions(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let id = case.case_id;
    let mut handler = app.handler();

    let status = refused(
        handler
            .request_review(review(&id, "An apology", "The delay"))
            .await,
        Code::FailedPrecondition,
    );
    assert!(
        status.message().contains(&case.register_number),
        "{status:?}"
    );
    refused(
        handler
            .escalate_to_director(to_director(&id, "An apology", "The delay"))
            .await,
        Code::FailedPrecondition,
    );
    refused(
        handler.record_tsa_referral(tsa(&id)).await,
        Code::FailedPrecondition,
    );
    refused(
        app.client("carol", Role::CxManager)
            .escalate_within_stage(escalate_within(&id))
            .await,
        Code::FailedPrecondition,
    );

    app.respond_at_stage_1(&id, "late-response").await;
    refused(
        handler
            .issue_stage_response(stage_response(&id, "late-response"))
            .await,
        Code::FailedPrecondition,
    );
    refused(
        handler.refer_to_department(referral(&id)).await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        app.event_kinds(&id).await,
        ["case.received", "case.stage_response_issued"]
    );
}

async fn a_closed_case_takes_nothing_but_erasure(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let id = case.case_id;
    let mut handler = app.handler();
    handler.close_case(close(&id)).await.unwrap();

    refused(
        handler.add_note(note(&id, "", "late note")).await,
        Code::FailedPrecondition,
    );
    refused(
        handler.refer_to_department(referral(&id)).await,
        Code::FailedPrecondition,
    );
    refused(
        handler
            .issue_stage_response(stage_response(&id, "late-response"))
            .await,
        Code::FailedPrecondition,
    );
    refused(
        handler
            .request_review(review(&id, "An apology", "The delay"))
            .await,
        Code::FailedPrecondition,
    );
    refused(
        handler.close_case(close(&id)).await,
        Code::FailedPrecondition,
    );
    assert_eq!(app.event_kinds(&id).await, ["case.received", "case.closed"]);

    let erased = handler
        .erase_complainant(erase(&id))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(erased.personal_data_erased);
    assert_eq!(erased.status, pb::CaseStatus::Closed as i32);
    refused(
        handler.erase_complainant(erase(&id)).await,
        Code::FailedPrecondition,
    );
    // The register number still finds it; the complainant's name does not.
    let found = handler
        .get_case(get_by_number(&case.register_number))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(found.personal_data_erased);
    let by_name = handler
        .list_cases(pb::ListCasesRequest {
            complainant_name: "ann jones".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_name.total_size, 0);
    assert!(app.timeline(&id).await.verified);
}

async fn erasure_is_for_the_complaints_department_and_the_platform_only(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let id = case.case_id;
    app.handler().close_case(close(&id)).await.unwrap();

    for role in [
        Role::Adviser,
        Role::CxManager,
        Role::OpsLead,
        Role::Director,
        Role::Integration,
    ] {
        refused(
            app.client("someone", role)
                .erase_complainant(erase(&id))
                .await,
            Code::PermissionDenied,
        );
    }

    assert!(!app.get(&id).await.personal_data_erased);
}

async fn a_step_reads_its_case_once(db: TestDb) {
    use std::sync::atomic::Ordering;

    use complaints_domain::case::{CaseId, Command, NotifyKind};
    use complaints_domain::policy::Stage;
    use complaints_domain::role::Actor;

    let app = spawn_app(db).await;
    let case_id: CaseId = app.open_case().await.case_id.parse().unwrap();
    // A service of our own over the same database, counting its reads of
    // the `cases` table.
    let (service, reads) =
        crate::helpers::counting_service(&app, |sql| sql.starts_with(r#"SELECT "cases"."#)).await;
    let notice = Command::RecordNotice {
        notification_id: "notice-1".to_owned(),
        kind: NotifyKind::Acknowledgement,
        stage: Stage::Stage1,
        channel: "email".to_owned(),
        route_note: String::new(),
    };

    let recorded = service
        .step(
            &Actor::new("notification", Role::Service),
            case_id,
            notice,
            None,
            None,
        )
        .await
        .unwrap();
    assert!(!recorded.replayed);
    assert_eq!(
        reads.load(Ordering::SeqCst),
        1,
        "reads of the case for one step"
    );
}

/// The hash a step's events chain on (the case's newest event's) comes
/// back from the case's update, not from a read of its own.
async fn a_step_finds_its_place_in_the_timeline_with_the_cases_update(db: TestDb) {
    use std::sync::atomic::Ordering;

    use complaints_domain::case::CaseId;
    use complaints_domain::role::Actor;

    let app = spawn_app(db).await;
    let case_id: CaseId = app.open_case().await.case_id.parse().unwrap();
    let (service, event_reads) =
        crate::helpers::counting_service(&app, |sql| sql.starts_with(r#"SELECT "case_events"."#))
            .await;
    for note in ["Called Ann back.", "Spoke to the monitoring centre."] {
        service
            .step(
                &Actor::new("hana", Role::ComplaintsHandler),
                case_id,
                complaints_domain::case::Command::AddNote {
                    text: note.to_owned(),
                },
                None,
                None,
            )
            .await
            .unwrap();
    }
    assert_eq!(event_reads.load(Ordering::SeqCst), 0);
    assert!(app.timeline(&case_id.to_string()).await.verified);
}
