//! Moving clocks (docs/policy.md, Working days, Extensions and pauses): an
//! extension moves a pending deadline later by working days counted on
//! from its due date; a pause holds a case's clocks and its resume moves
//! them later by the working days it lasted; the complainant is told each
//! new date and why; a resolution date passed without an extension brings
//! the complainant one holding notice; the case's timeline records each
//! move (`clocks.extended`, `clocks.paused`, `clocks.resumed`) with who
//! asked. Both complaints of the journey are
//! received on Monday 13 December 2032 and due to be resolved by the end
//! of Wednesday 29 December (`policy_support`'s timetable); every date
//! below is worked out by hand.

use complaints_proto::complaints::common::v1::Role;
use complaints_proto::complaints::escalation::v1 as escalation_pb;
use escalation_pb::DeadlineState;
use serde_json::json;
use tonic::Code;

use crate::clock_suite::{Clients, NotificationKind};
use crate::policy_support::{A_MINUTE, Journey, Kind, RESOLVE, at, complainant_notices};
use crate::support::{proto_date_text, proto_instant_text};

/// Handler Hana's reason, which the complainant reads.
const REASON: &str = "we are waiting for the engineer's report on your alarm";

fn extend(case_id: &str, days: i32, request_id: &str) -> escalation_pb::ExtendDeadlineRequest {
    escalation_pb::ExtendDeadlineRequest {
        case_id: case_id.to_owned(),
        kind: Kind::Resolve as i32,
        extra_working_days: days,
        reason: REASON.to_owned(),
        request_id: request_id.to_owned(),
    }
}

/// The complainant's notices of `kind` about the case.
async fn notices_of(
    c: &mut Clients,
    case_id: &str,
    kind: NotificationKind,
) -> Vec<complaints_proto::complaints::notification::v1::Notification> {
    complainant_notices(c, case_id)
        .await
        .into_iter()
        .filter(|n| n.kind() == kind)
        .collect()
}

/// The details of the case's clock events (`clocks.*`), oldest first, each
/// checked to be the platform's record of a move Hana asked for.
async fn clock_events(c: &mut Clients, case_id: &str) -> Vec<serde_json::Value> {
    c.timeline(case_id)
        .await
        .into_iter()
        .filter(|event| event.kind.starts_with("clocks."))
        .map(|event| {
            assert_eq!(event.actor_role, Role::Service as i32, "{event:#?}");
            serde_json::from_str(&event.details_json).unwrap()
        })
        .collect()
}

async fn text_of(c: &mut Clients, notification_id: &str) -> String {
    String::from_utf8(c.content(notification_id).await.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_moves_the_resolution_date_and_a_breach_without_one_brings_a_holding_notice() {
    let mut journey = Journey::begin().await;
    journey.a_minute_passes().await;
    let Journey { c, email, .. } = &mut journey;

    // 3 working days on from Wednesday 29 December: Thursday 30, Friday 31,
    // then past the weekend and New Year's Day's substitute (Monday 3
    // January) to Tuesday 4 January 2033.
    let extended = c
        .escalation
        .extend_deadline(extend(&email.case_id, 3, "engineer-report"))
        .await
        .unwrap()
        .into_inner();
    assert!(extended.extended);
    let deadline = extended.deadline.unwrap();
    assert_eq!(proto_date_text(deadline.due_date.as_ref()), "2033-01-04");
    assert_eq!(
        proto_instant_text(deadline.due_at.as_ref()),
        "2033-01-05T00:00:00Z"
    );
    assert_eq!(
        proto_date_text(deadline.original_due_date.as_ref()),
        RESOLVE.due_date
    );
    assert_eq!(
        proto_instant_text(deadline.original_due_at.as_ref()),
        RESOLVE.due_at
    );

    // A repeat changes nothing.
    let again = c
        .escalation
        .extend_deadline(extend(&email.case_id, 5, "engineer-report"))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.extended);
    assert_eq!(
        proto_date_text(again.deadline.unwrap().due_date.as_ref()),
        "2033-01-04"
    );
    // Beyond the policy's 20 working days, or without a reason: refused.
    let too_long = c
        .escalation
        .extend_deadline(extend(&email.case_id, 21, "too-long"))
        .await
        .unwrap_err();
    assert_eq!(too_long.code(), Code::InvalidArgument);
    let mut no_reason = extend(&email.case_id, 1, "no-reason");
    no_reason.reason = "  ".to_owned();
    let refused = c.escalation.extend_deadline(no_reason).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    // An adviser may not move clocks.
    let mut adviser = journey.suite.escalation("adviser", "ade");
    let Journey { c, email, post, .. } = &mut journey;
    let denied = adviser
        .extend_deadline(extend(&email.case_id, 1, "adviser"))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // GetDeadlines shows both dates.
    let resolve = c.deadline(&email.case_id, Kind::Resolve).await;
    assert_eq!(proto_date_text(resolve.due_date.as_ref()), "2033-01-04");
    assert_eq!(
        proto_date_text(resolve.original_due_date.as_ref()),
        "2032-12-29"
    );

    // The complainant is told the new date and why, once.
    c.advance(A_MINUTE).await;
    let told = notices_of(c, &email.case_id, NotificationKind::Extension).await;
    assert_eq!(told.len(), 1, "{told:#?}");
    let text = text_of(c, &told[0].notification_id).await;
    assert!(
        text.contains(
            "We will now give you our answer to your complaint by Tuesday 4 January 2033."
        ),
        "{text}"
    );
    assert!(text.contains(REASON), "{text}");
    // The case's timeline records the extension once, with who asked.
    assert_eq!(
        clock_events(c, &email.case_id).await,
        [json!({
            "kind": "clocks.extended",
            "deadline": "resolve",
            "extra_working_days": 3,
            "previous_due_date": "2032-12-29",
            "due_date": "2033-01-04",
            "reason": REASON,
            "requested_by": "hana",
        })]
    );

    // The original date passes: the unextended case is breached and its
    // complainant hears when we will be in touch: 5 working days after
    // Thursday 30 December, past New Year's Day's substitute, is Friday 7
    // January 2033. The extended one is still pending.
    c.advance_to(at(RESOLVE.due_at) + A_MINUTE).await;
    let post_resolve = c.deadline(&post.case_id, Kind::Resolve).await;
    assert_eq!(post_resolve.state, DeadlineState::Breached as i32);
    let email_resolve = c.deadline(&email.case_id, Kind::Resolve).await;
    assert_eq!(email_resolve.state, DeadlineState::Pending as i32);
    let holding = notices_of(c, &post.case_id, NotificationKind::HoldingUpdate).await;
    assert_eq!(holding.len(), 1, "{holding:#?}");
    assert!(
        notices_of(c, &email.case_id, NotificationKind::HoldingUpdate)
            .await
            .is_empty()
    );

    // The extended date passes too: a breach, but no holding notice for a
    // date that was extended, and still one for the other case.
    c.advance_to(at("2033-01-05T00:00:00Z") + A_MINUTE).await;
    let email_resolve = c.deadline(&email.case_id, Kind::Resolve).await;
    assert_eq!(email_resolve.state, DeadlineState::Breached as i32);
    assert_eq!(
        proto_instant_text(email_resolve.fired_at.as_ref()),
        "2033-01-05T00:00:00Z"
    );
    assert!(
        notices_of(c, &email.case_id, NotificationKind::HoldingUpdate)
            .await
            .is_empty()
    );
    assert_eq!(
        notices_of(c, &post.case_id, NotificationKind::HoldingUpdate)
            .await
            .len(),
        1
    );
    journey.suite.process.ensure_running().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_holds_the_clocks_and_its_resume_moves_them_by_the_working_days_it_lasted() {
    let mut journey = Journey::begin().await;
    journey.a_minute_passes().await;
    let Journey { c, email, post, .. } = &mut journey;

    for case_id in [&email.case_id, &post.case_id] {
        let paused = c
            .escalation
            .pause_clocks(escalation_pb::PauseClocksRequest {
                case_id: case_id.clone(),
                reason: "the complainant is in hospital".to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        let resolve = paused
            .deadlines
            .iter()
            .find(|d| d.kind == Kind::Resolve as i32)
            .expect("the resolution clock is paused");
        assert_eq!(
            proto_instant_text(resolve.paused_at.as_ref()),
            "2032-12-13T10:16:00Z"
        );
    }
    let twice = c
        .escalation
        .pause_clocks(escalation_pb::PauseClocksRequest {
            case_id: email.case_id.clone(),
            reason: "again".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    // A clock started while paused is paused from its start: the day-5
    // referral update, due Monday 20 December.
    journey.refer().await;
    let Journey { c, email, post, .. } = &mut journey;
    let referral = c.deadline(&email.case_id, Kind::ReferralUpdate).await;
    assert!(referral.paused_at.is_some(), "{referral:#?}");

    // Resumed on Wednesday 15 December: the pause took Tuesday 14 and
    // Wednesday 15, so Wednesday 29 December moves 2 working days to
    // Friday 31 December.
    c.advance_to(at("2032-12-15T09:00:00Z")).await;
    let resumed = c
        .escalation
        .resume_clocks(escalation_pb::ResumeClocksRequest {
            case_id: email.case_id.clone(),
            reason: REASON.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resumed.working_days_paused, 2);
    let resolve = c.deadline(&email.case_id, Kind::Resolve).await;
    assert_eq!(proto_date_text(resolve.due_date.as_ref()), "2032-12-31");
    assert_eq!(
        proto_instant_text(resolve.due_at.as_ref()),
        "2033-01-01T00:00:00Z"
    );
    assert_eq!(
        proto_date_text(resolve.original_due_date.as_ref()),
        "2032-12-29"
    );
    assert!(resolve.paused_at.is_none());
    // The referral update, held from Monday too, moves from Monday 20 to
    // Wednesday 22 December.
    let referral = c.deadline(&email.case_id, Kind::ReferralUpdate).await;
    assert_eq!(proto_date_text(referral.due_date.as_ref()), "2032-12-22");
    assert!(referral.paused_at.is_none());
    let again = c
        .escalation
        .resume_clocks(escalation_pb::ResumeClocksRequest {
            case_id: email.case_id.clone(),
            reason: REASON.to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    c.advance(A_MINUTE).await;
    let told = notices_of(c, &email.case_id, NotificationKind::Extension).await;
    assert_eq!(told.len(), 1, "only the promised date: {told:#?}");
    let text = text_of(c, &told[0].notification_id).await;
    assert!(
        text.contains(
            "We will now give you our answer to your complaint by Friday 31 December 2032."
        ),
        "{text}"
    );
    // The timeline records the pause (once: the second was refused) and
    // the resume, with who asked.
    assert_eq!(
        clock_events(c, &email.case_id).await,
        [
            json!({
                "kind": "clocks.paused",
                "reason": "the complainant is in hospital",
                "requested_by": "hana",
            }),
            json!({
                "kind": "clocks.resumed",
                "paused_working_days": 2,
                "reason": REASON,
                "requested_by": "hana",
            }),
        ]
    );

    // The other case stays paused past its resolution date: nothing fires.
    c.advance_to(at(RESOLVE.due_at) + A_MINUTE).await;
    let held = c.deadline(&post.case_id, Kind::Resolve).await;
    assert_eq!(held.state, DeadlineState::Pending as i32);
    assert!(held.paused_at.is_some());
    assert!(
        notices_of(c, &post.case_id, NotificationKind::HoldingUpdate)
            .await
            .is_empty()
    );

    // Resumed on Thursday 30 December, the pause took 11 working days
    // (14-17, 20-24, 29 and 30; the Christmas substitutes 27 and 28 do not
    // count): Wednesday 29 December moves to Thursday 30, Friday 31, then
    // past New Year's Day's substitute to 4-7 and 10-14 January: Friday 14
    // January 2033.
    let resumed = c
        .escalation
        .resume_clocks(escalation_pb::ResumeClocksRequest {
            case_id: post.case_id.clone(),
            reason: REASON.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resumed.working_days_paused, 11);
    let resolve = c.deadline(&post.case_id, Kind::Resolve).await;
    assert_eq!(proto_date_text(resolve.due_date.as_ref()), "2033-01-14");
    assert_eq!(resolve.state, DeadlineState::Pending as i32);
    c.advance(A_MINUTE).await;
    assert_eq!(
        notices_of(c, &post.case_id, NotificationKind::Extension)
            .await
            .len(),
        1
    );
    assert_eq!(
        clock_events(c, &post.case_id).await,
        [
            json!({
                "kind": "clocks.paused",
                "reason": "the complainant is in hospital",
                "requested_by": "hana",
            }),
            json!({
                "kind": "clocks.resumed",
                "paused_working_days": 11,
                "reason": REASON,
                "requested_by": "hana",
            }),
        ]
    );
    journey.suite.process.ensure_running().unwrap();
}
