//! R1: every complaint is acknowledged within 3 working days of receipt,
//! quoting its register number, by the route it came in: by email to the
//! one who emailed (R10) and by letter to the one who wrote (R9), the
//! letter also put in the outbox folder for printing. Receipt starts the
//! stage 1 clocks, each written down here with its due date, due instant
//! and reason (see `policy_support`'s timetable): acknowledge in 3 working
//! days (met by the acknowledgement, before it fell due), resolve in 10, and
//! the day-5 referral update, all owned by the complaints handler and
//! escalated to the CX Manager. The rule in full: `docs/policy.md`.

use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1::DeadlineState;

use crate::clock_suite::{NotificationChannel, NotificationKind, pdf_text};
use crate::policy_support::{
    ACKNOWLEDGE, GRACE, Journey, Kind, POSTCODE, REFERRAL_UPDATE, RESOLVE, assert_clock,
    assert_notice, complainant_notices, the_one,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_complaint_is_acknowledged_by_its_own_route_and_its_stage_1_clocks_run() {
    let mut journey = Journey::begin().await;
    journey.a_minute_passes().await;
    let Journey {
        suite,
        c,
        email,
        post,
        ..
    } = &mut journey;

    let email_ack = the_one(&complainant_notices(c, &email.case_id).await);
    assert_notice(
        &email_ack,
        NotificationKind::Acknowledgement,
        common::Stage::Stage1,
    );
    assert_eq!(email_ack.channel, NotificationChannel::Email as i32);
    assert_eq!(email_ack.recipient, GRACE);
    let text = String::from_utf8(c.content(&email_ack.notification_id).await.body).unwrap();
    assert!(
        text.contains(&email.register_number),
        "R1: the acknowledgement quotes the register number:\n{text}"
    );

    let post_ack = the_one(&complainant_notices(c, &post.case_id).await);
    assert_notice(
        &post_ack,
        NotificationKind::Acknowledgement,
        common::Stage::Stage1,
    );
    assert_eq!(
        post_ack.channel,
        NotificationChannel::Post as i32,
        "R9: a letter is acknowledged by post"
    );
    assert!(post_ack.recipient.contains(POSTCODE), "{post_ack:#?}");
    let letter = c.content(&post_ack.notification_id).await;
    assert_eq!(letter.content_type, "application/pdf");
    assert!(letter.body.starts_with(b"%PDF"), "the letter is a PDF");
    let printed = suite
        .letter_outbox()
        .join(format!("{}.pdf", post_ack.notification_id));
    assert_eq!(
        std::fs::read(&printed).unwrap_or_else(|e| panic!("{}: {e}", printed.display())),
        letter.body,
        "the letter in the outbox folder is the one recorded"
    );
    if let Some(text) = pdf_text(&letter.body, &suite.data_dir()) {
        assert!(text.contains(&post.register_number), "{text}");
        assert!(text.contains(POSTCODE), "{text}");
    }

    for (case, ack) in [(&*email, &email_ack), (&*post, &post_ack)] {
        let events = c.timeline(&case.case_id).await;
        assert!(
            events
                .iter()
                .any(|e| e.kind == "case.notice_sent"
                    && e.details_json.contains(&ack.notification_id)),
            "the notice is on the timeline, naming its notification: {events:#?}"
        );
        assert!(events.iter().any(|e| e.kind == "case.acknowledged"));
        assert!(c.case(&case.case_id).await.acknowledged_at.is_some());

        let acknowledge = c.deadline(&case.case_id, Kind::Acknowledge).await;
        assert_clock(&acknowledge, &ACKNOWLEDGE, DeadlineState::Met);
        assert_eq!(acknowledge.due_date, case.acknowledge_by);
        assert_eq!(acknowledge.due_at, case.acknowledge_by_at);
        assert!(acknowledge.fired_at.is_none(), "met before it fell due");
        let resolve = c.deadline(&case.case_id, Kind::Resolve).await;
        assert_clock(&resolve, &RESOLVE, DeadlineState::Pending);
        assert_eq!(resolve.due_date, case.resolve_by);
        assert_eq!(resolve.due_at, case.resolve_by_at);
        let update = c.deadline(&case.case_id, Kind::ReferralUpdate).await;
        assert_clock(&update, &REFERRAL_UPDATE, DeadlineState::Pending);
        for deadline in [&acknowledge, &resolve, &update] {
            assert_eq!(deadline.stage, common::Stage::Stage1 as i32);
            assert_eq!(deadline.owner_role, common::Role::ComplaintsHandler as i32);
            assert_eq!(deadline.escalation_role, common::Role::CxManager as i32);
        }
    }
    journey.suite.process.ensure_running().unwrap();
}
