//! R4 and R5, the stage 2 review. A complainant unhappy with the stage 1
//! response may ask for a review: it goes to the CX Manager, is
//! acknowledged within 3 working days and answered within 10 of the
//! request. The owner is warned one working day ahead; when nobody answers
//! in time the platform breaches the clock, alerts the CX Manager and the
//! Operations Lead, and hands the review to the Operations Lead (it cannot
//! be escalated twice), who answers it. Whoever handled stage 1 may not
//! decide stage 2, whatever role they hold. Here the review is requested on
//! Thursday 30 December 2032, so its clocks run past New Year's Day's
//! substitute (Monday 3 January) to Wednesday 5 and Friday 14 January 2033
//! (see `policy_support`'s timetable). The rules in full: `docs/policy.md`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1::DeadlineState;
use tonic::Code;

use crate::clock_suite::{NotificationKind, instant};
use crate::policy_support::{
    A_MINUTE, Journey, Kind, REVIEW_REQUESTED_AT, STAGE_2_ACKNOWLEDGE, STAGE_2_RESPOND,
    STAGE_2_WARNED_FROM, about, alerts, assert_clock, assert_notice, at, created, latest_notice,
    recipients, response_request, staff, subject,
};
use crate::support::proto_instant_text;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_review_is_escalated_to_the_operations_lead_who_answers_it() {
    let mut journey = Journey::through_stage_1().await;
    let mut reviewer = journey.suite.cases("cx_manager", "cara");
    // The stage 1 handler, holding an operations lead's role.
    let mut stage_1_handler = journey.suite.cases("ops_lead", "hana");

    let case = journey.request_review().await;
    assert_eq!(case.stage, common::Stage::Stage2 as i32);
    assert_eq!(case.status, case_pb::CaseStatus::Open as i32);
    assert_eq!(case.owner_role, common::Role::CxManager as i32);
    {
        let Journey { c, email, .. } = &mut journey;
        let acknowledgement = latest_notice(c, &email.case_id).await;
        assert_notice(
            &acknowledgement,
            NotificationKind::ReviewAcknowledgement,
            common::Stage::Stage2,
        );
        let acknowledge = c.deadline(&email.case_id, Kind::Stage2Acknowledge).await;
        assert_clock(&acknowledge, &STAGE_2_ACKNOWLEDGE, DeadlineState::Met);
        let respond = c.deadline(&email.case_id, Kind::Stage2Respond).await;
        assert_clock(&respond, &STAGE_2_RESPOND, DeadlineState::Pending);
        for deadline in [&acknowledge, &respond] {
            assert_eq!(deadline.stage, common::Stage::Stage2 as i32);
            assert_eq!(deadline.owner_role, common::Role::CxManager as i32);
            assert_eq!(deadline.escalation_role, common::Role::OpsLead as i32);
        }
    }

    journey.just_after(STAGE_2_RESPOND.due_at).await;
    let (review_at, respond_at) = (at(REVIEW_REQUESTED_AT), at(STAGE_2_RESPOND.due_at));
    let Journey { c, email, .. } = &mut journey;
    let respond = c.deadline(&email.case_id, Kind::Stage2Respond).await;
    assert_clock(&respond, &STAGE_2_RESPOND, DeadlineState::Breached);
    assert_eq!(
        proto_instant_text(respond.fired_at.as_ref()),
        STAGE_2_RESPOND.due_at,
        "it fired when it fell due"
    );
    let alerts = alerts(c, &email.case_id).await;
    let words = "Respond to the review (stage 2)";
    let breach = about(&alerts, &subject("MISSED", words, email, &STAGE_2_RESPOND));
    assert_eq!(
        recipients(&breach),
        BTreeSet::from([staff("cx_manager"), staff("ops_lead")]),
        "{alerts:#?}"
    );
    assert!(breach.iter().all(|alert| created(alert) >= respond_at));
    // The warning, one working day ahead. The alerts that hand the case
    // to a role carry the same subject (see the report on
    // ALERT_LEVEL_ASSIGNED), so the warning is told apart by its time.
    let warned_from = at(STAGE_2_WARNED_FROM);
    let warning: Vec<_> = about(
        &alerts,
        &subject("Due soon", words, email, &STAGE_2_RESPOND),
    )
    .into_iter()
    .filter(|n| (warned_from..respond_at).contains(&created(n)))
    .collect();
    assert_eq!(
        recipients(&warning),
        BTreeSet::from([staff("cx_manager")]),
        "the owner is warned at {warned_from}: {alerts:#?}"
    );
    // The review was handed to the CX Manager when requested, and to the
    // Operations Lead when the platform escalated it.
    let handed_over = |role: &str, at: DateTime<Utc>| {
        alerts.iter().any(|n| {
            n.recipient == staff(role)
                && (at..at + A_MINUTE).contains(&created(n))
                && !breach.contains(n)
        })
    };
    assert!(handed_over("cx_manager", review_at), "{alerts:#?}");
    assert!(handed_over("ops_lead", respond_at), "{alerts:#?}");

    let case = c.case(&email.case_id).await;
    assert_eq!(case.stage, common::Stage::Stage2 as i32);
    assert_eq!(case.status, case_pb::CaseStatus::Open as i32);
    assert_eq!(
        case.owner_role,
        common::Role::OpsLead as i32,
        "escalated within the stage"
    );
    let events = c.timeline(&email.case_id).await;
    let escalated = events
        .iter()
        .find(|e| e.kind == "case.escalated_within_stage")
        .unwrap_or_else(|| panic!("no case.escalated_within_stage in {events:#?}"));
    assert_eq!(
        escalated.actor_role,
        common::Role::Service as i32,
        "the platform escalated it: {escalated:?}"
    );
    assert!(instant(escalated.at.as_ref().unwrap()) >= respond_at);
    let again = reviewer
        .escalate_within_stage(case_pb::EscalateWithinStageRequest {
            case_id: email.case_id.clone(),
            request_id: "escalate-again".to_owned(),
            reason: "Still no answer".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    let refused = stage_1_handler
        .issue_stage_response(response_request(
            &email.case_id,
            "stage-2-by-hana",
            case_pb::Finding::NotUpheld,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "whoever handled stage 1 does not decide stage 2: {refused:?}"
    );

    journey.respond_at_stage_2().await;
    let Journey { c, email, .. } = &mut journey;
    let response = latest_notice(c, &email.case_id).await;
    assert_notice(
        &response,
        NotificationKind::StageResponse,
        common::Stage::Stage2,
    );
    journey.suite.process.ensure_running().unwrap();
}
