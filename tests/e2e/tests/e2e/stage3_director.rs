//! R6, stage 3: a complainant unhappy with the stage 2 response may
//! escalate to a director, who owns the case from then on (and is its
//! escalation role too). The escalation is acknowledged within 3 working
//! days and answered within 10; the director's answer is the final
//! response, which meets the stage 3 clock. Here the escalation comes on
//! Saturday 15 January 2033, so its clocks count from the Monday: due by
//! the end of Wednesday 19 and Friday 28 January (see `policy_support`'s
//! timetable). The rule in full: `docs/policy.md`.

use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1::DeadlineState;

use crate::clock_suite::NotificationKind;
use crate::policy_support::{
    Journey, Kind, STAGE_3_ACKNOWLEDGE, STAGE_3_RESPOND, assert_clock, assert_notice, latest_notice,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_director_takes_the_escalation_on_stage_3_clocks_and_gives_the_final_response() {
    let mut journey = Journey::through_stage_2().await;
    let case = journey.escalate_to_director().await;
    assert_eq!(case.stage, common::Stage::Stage3 as i32);
    assert_eq!(case.owner_role, common::Role::Director as i32);
    {
        let Journey { c, email, .. } = &mut journey;
        let acknowledgement = latest_notice(c, &email.case_id).await;
        assert_notice(
            &acknowledgement,
            NotificationKind::ReviewAcknowledgement,
            common::Stage::Stage3,
        );
        let acknowledge = c.deadline(&email.case_id, Kind::Stage3Acknowledge).await;
        assert_clock(&acknowledge, &STAGE_3_ACKNOWLEDGE, DeadlineState::Met);
        let respond = c.deadline(&email.case_id, Kind::Stage3Respond).await;
        assert_clock(&respond, &STAGE_3_RESPOND, DeadlineState::Pending);
        for deadline in [&acknowledge, &respond] {
            assert_eq!(deadline.stage, common::Stage::Stage3 as i32);
            assert_eq!(deadline.owner_role, common::Role::Director as i32);
            assert_eq!(deadline.escalation_role, common::Role::Director as i32);
        }
    }

    journey.respond_at_stage_3().await;
    let Journey { c, email, .. } = &mut journey;
    let final_response = latest_notice(c, &email.case_id).await;
    assert_notice(
        &final_response,
        NotificationKind::FinalResponse,
        common::Stage::Stage3,
    );
    let respond = c.deadline(&email.case_id, Kind::Stage3Respond).await;
    assert_clock(&respond, &STAGE_3_RESPOND, DeadlineState::Met);
    assert!(respond.fired_at.is_none(), "met before it fell due");
    journey.suite.process.ensure_running().unwrap();
}
