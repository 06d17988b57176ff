//! R7: the final response tells the complainant they may refer their
//! complaint to the Telecare Services Association (TSA); when they do, the
//! referral is recorded on the case with the TSA's reference and the case
//! moves to the external stage, after which it can be closed, cancelling
//! whatever clocks still ran. The rule in full: `docs/policy.md`.

use complaints_proto::complaints::common::v1 as common;

use crate::policy_support::{Journey, close, latest_notice};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_response_names_the_tsa_and_a_referral_to_it_is_recorded_before_closing() {
    let mut journey = Journey::through_stage_3().await;
    {
        let Journey { c, email, .. } = &mut journey;
        let final_response = latest_notice(c, &email.case_id).await;
        let text =
            String::from_utf8(c.content(&final_response.notification_id).await.body).unwrap();
        assert!(
            text.contains("Telecare Services Association"),
            "the final response names the TSA:\n{text}"
        );
    }

    let case = journey.record_tsa_referral().await;
    assert_eq!(case.stage, common::Stage::External as i32);
    assert_eq!(case.tsa_reference, "TSA-E2E-0042");
    let Journey { c, email, .. } = &mut journey;
    close(c, &email.case_id).await;
    journey.suite.process.ensure_running().unwrap();
}
