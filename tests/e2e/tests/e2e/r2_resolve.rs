//! R2: a complaint is resolved at stage 1 within 10 working days of
//! receipt. The owner (the complaints handler) is warned one working day
//! ahead; when the due instant passes without a response the deadline is
//! breached, the case shows overdue, and both the owner and the escalation
//! role (the CX Manager) are alerted. A response after that is still sent,
//! and the breach stays on the record. Here both complaints, received on
//! Monday 13 December 2032, are due by the end of Wednesday 29 December,
//! past Christmas and its substitute days, with the warning at the end of
//! Friday 24 December (see `policy_support`'s timetable). The rule in full:
//! `docs/policy.md`.

use std::collections::BTreeSet;

use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1 as escalation_pb;
use escalation_pb::DeadlineState;

use crate::clock_suite::NotificationKind;
use crate::policy_support::{
    Journey, Kind, REFERRAL_UPDATE, RESOLVE, RESOLVE_WARNED_FROM, about, alerts, assert_clock,
    assert_notice, at, created, latest_notice, recipients, staff, subject,
};
use crate::support::proto_instant_text;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_1_unanswered_is_breached_after_a_warning_and_answered_late() {
    let mut journey = Journey::begin().await;
    journey.a_minute_passes().await;
    journey.refer().await;
    journey.just_after(REFERRAL_UPDATE.due_at).await;
    for case in [&journey.email, &journey.post] {
        let resolve = journey.c.deadline(&case.case_id, Kind::Resolve).await;
        assert_clock(&resolve, &RESOLVE, DeadlineState::Pending);
        assert!(
            !journey.c.case(&case.case_id).await.overdue,
            "not overdue before the due instant"
        );
    }

    journey.just_after(RESOLVE.due_at).await;
    let resolve_at = at(RESOLVE.due_at);
    let warned_from = at(RESOLVE_WARNED_FROM);
    let words = "Resolve the complaint (stage 1)";
    let Journey { c, email, post, .. } = &mut journey;
    for case in [&*email, &*post] {
        let resolve = c.deadline(&case.case_id, Kind::Resolve).await;
        assert_clock(&resolve, &RESOLVE, DeadlineState::Breached);
        assert_eq!(
            proto_instant_text(resolve.fired_at.as_ref()),
            RESOLVE.due_at,
            "it fired when it fell due"
        );
        assert!(
            c.case(&case.case_id).await.overdue,
            "the case shows overdue"
        );

        let alerts = alerts(c, &case.case_id).await;
        let breach = about(&alerts, &subject("MISSED", words, case, &RESOLVE));
        assert_eq!(
            recipients(&breach),
            BTreeSet::from([staff("complaints_handler"), staff("cx_manager")]),
            "a breach alerts the owner and the escalation role: {alerts:#?}"
        );
        assert!(breach.iter().all(|alert| created(alert) >= resolve_at));
        let warning = about(&alerts, &subject("Due soon", words, case, &RESOLVE));
        assert_eq!(
            recipients(&warning),
            BTreeSet::from([staff("complaints_handler")]),
            "the owner is warned first: {alerts:#?}"
        );
        let warned_at = created(&warning[0]);
        assert!(
            (warned_from..resolve_at).contains(&warned_at),
            "warned at {warned_at}: one working day ahead is {warned_from}"
        );
    }
    let breaches = c
        .escalation
        .list_breaches(escalation_pb::ListBreachesRequest {
            kind: Kind::Resolve as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deadlines;
    let breached: BTreeSet<&str> = breaches.iter().map(|d| d.case_id.as_str()).collect();
    assert_eq!(
        breached,
        BTreeSet::from([email.case_id.as_str(), post.case_id.as_str()])
    );
    assert!(
        breaches
            .iter()
            .all(|d| d.state == DeadlineState::Breached as i32)
    );

    // The department answers and the handler responds, late: the response
    // is sent, and the breach stays on the record.
    journey.respond_late_at_stage_1().await;
    let Journey { c, email, .. } = &mut journey;
    let response = latest_notice(c, &email.case_id).await;
    assert_notice(
        &response,
        NotificationKind::StageResponse,
        common::Stage::Stage1,
    );
    let resolve = c.deadline(&email.case_id, Kind::Resolve).await;
    assert_eq!(
        resolve.state,
        DeadlineState::Breached as i32,
        "a breach stays a breach"
    );
    assert!(!c.case(&email.case_id).await.overdue);
    journey.suite.process.ensure_running().unwrap();
}
