//! R3: when a complaint has been referred to another department and is
//! still waiting on it at the end of the 5th working day after receipt, the
//! complainant is told so then, and not before; a complaint never referred
//! has nothing to report, and its day-5 clock is cancelled. Here the day-5
//! clock of a complaint received on Monday 13 December 2032 falls due at the
//! end of Monday 20 December (see `policy_support`'s timetable). The rule in
//! full: `docs/policy.md`.

use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1::DeadlineState;

use crate::clock_suite::NotificationKind;
use crate::policy_support::{
    GRACE, Journey, Kind, REFERRAL_UPDATE, assert_clock, assert_notice, at, complainant_notices,
    created, kinds,
};
use crate::support::proto_instant_text;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_is_reported_to_the_complainant_at_day_5_and_only_then() {
    let mut journey = Journey::begin().await;
    journey.a_minute_passes().await;
    journey.refer().await;
    {
        let Journey { c, email, .. } = &mut journey;
        assert_eq!(
            kinds(&complainant_notices(c, &email.case_id).await),
            [NotificationKind::Acknowledgement],
            "before day 5 the referral is not reported yet"
        );
        let day_5 = c.deadline(&email.case_id, Kind::ReferralUpdate).await;
        assert_clock(&day_5, &REFERRAL_UPDATE, DeadlineState::Pending);
        // A minute before it falls due, still nothing.
        c.advance_to(at(REFERRAL_UPDATE.due_at) - chrono::Duration::minutes(1))
            .await;
        assert_eq!(
            kinds(&complainant_notices(c, &email.case_id).await),
            [NotificationKind::Acknowledgement],
            "the day-5 notice waits for the end of day 5"
        );
    }

    journey.just_after(REFERRAL_UPDATE.due_at).await;
    let Journey { c, email, post, .. } = &mut journey;
    let day_5_at = at(REFERRAL_UPDATE.due_at);
    let update = c.deadline(&email.case_id, Kind::ReferralUpdate).await;
    assert_clock(&update, &REFERRAL_UPDATE, DeadlineState::Met);
    assert_eq!(
        proto_instant_text(update.fired_at.as_ref()),
        REFERRAL_UPDATE.due_at,
        "it fired when it fell due"
    );
    let notices = complainant_notices(c, &email.case_id).await;
    assert_eq!(
        kinds(&notices),
        [
            NotificationKind::Acknowledgement,
            NotificationKind::ReferralUpdate
        ]
    );
    let update_notice = &notices[1];
    assert_notice(
        update_notice,
        NotificationKind::ReferralUpdate,
        common::Stage::Stage1,
    );
    assert_eq!(update_notice.recipient, GRACE);
    assert!(created(update_notice) >= day_5_at);
    assert!(
        c.timeline(&email.case_id)
            .await
            .iter()
            .any(|e| e.kind == "case.notice_sent"
                && e.details_json.contains(&update_notice.notification_id)),
        "the update is on the timeline"
    );

    let no_referral = c.deadline(&post.case_id, Kind::ReferralUpdate).await;
    assert_eq!(
        no_referral.state,
        DeadlineState::Cancelled as i32,
        "without a referral there is nothing to tell: {no_referral:#?}"
    );
    assert!(
        !kinds(&complainant_notices(c, &post.case_id).await)
            .contains(&NotificationKind::ReferralUpdate)
    );
    journey.suite.process.ensure_running().unwrap();
}
