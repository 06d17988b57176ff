//! Closing a case stops its clocks: a case closed while its stage 1 clocks
//! still run has them cancelled, not breached; and once every case is
//! closed or settled nothing fires, for any case, and nobody is told
//! anything more, however far time moves (here 60 days past the close).
//! The rule in full: `docs/policy.md`.

use chrono::Duration;
use complaints_proto::complaints::escalation::v1::DeadlineState;

use crate::policy_support::{Journey, Kind, close};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_cases_keep_no_clock_running_however_far_time_moves() {
    // Grace's case closed after the TSA referral; Arthur's left open with
    // every clock settled.
    let mut journey = Journey::to_the_close().await;

    // A third complaint, closed while its stage 1 clocks still run.
    let web = journey.web_complaint().await;
    let Journey { c, email, post, .. } = &mut journey;
    let running: Vec<i32> = c
        .deadlines(&web.case_id)
        .await
        .iter()
        .filter(|d| d.state == DeadlineState::Pending as i32)
        .map(|d| d.kind)
        .collect();
    assert_eq!(running, [Kind::ReferralUpdate as i32, Kind::Resolve as i32]);
    close(c, &web.case_id).await;

    let cases = [&*email, &*post, &web];
    let mut before = Vec::new();
    for case in cases {
        before.push((
            c.deadlines(&case.case_id).await,
            c.notifications(&case.case_id).await,
        ));
    }
    let (_, fired) = c.advance(Duration::days(60)).await;
    assert_eq!(fired, 0, "nothing fires after closing");
    for (case, (deadlines, notifications)) in cases.into_iter().zip(before) {
        assert_eq!(c.deadlines(&case.case_id).await, deadlines);
        assert_eq!(c.notifications(&case.case_id).await, notifications);
    }
    journey.suite.process.ensure_running().unwrap();
}
