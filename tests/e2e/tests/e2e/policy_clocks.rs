//! The policy's clocks and messages end to end (SPEC section 2, R1-R7):
//! `complaints dev --test-clock` as a real process, driven over gRPC, with
//! time moved by `complaints.testing.v1.ClockService/Advance`. Every
//! deadline, alert, email and letter is read back through the public APIs
//! and the outbox folder.
//!
//! The clock starts at the real time, whatever day that is, so every target
//! is computed from `Now` and from the due dates the APIs return, never from
//! fixed dates.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use complaints_domain::calendar::Calendar;
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1 as escalation_pb;
use complaints_proto::complaints::intake::v1::{SubmitComplaintRequest, SubmitComplaintResponse};
use complaints_proto::complaints::notification::v1 as notification_pb;
use complaints_proto::complaints::testing::v1 as testing_pb;
use escalation_pb::DeadlineState;
use tonic::Code;
use tonic_types::StatusExt;

use crate::clock_suite::{
    Clients, NotificationChannel, NotificationKind, NotificationState, STAFF_DOMAIN, Suite,
    instant, pdf_text,
};
use crate::support::{assert_due_dates, timestamp};

use common::DeadlineKind as Kind;

/// The complainant who emails.
const GRACE: &str = "grace.holt@example.org";
/// The postcode of the complainant who writes.
const POSTCODE: &str = "HX1 2AB";

const A_MINUTE: Duration = Duration::minutes(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_is_acknowledged_updated_escalated_through_every_stage_and_closed_on_the_policys_clocks()
 {
    let mut suite = Suite::start(true);
    let mut c = Clients::new(&mut suite);
    let mut reviewer = suite.cases("cx_manager", "cara");
    let mut ops_lead = suite.cases("ops_lead", "olu");
    let mut director = suite.cases("director", "dee");
    // The stage 1 handler holding an operations lead's role: R5 keeps them
    // out of the stage 2 decision.
    let mut handler_as_ops_lead = suite.cases("ops_lead", "hana");
    let calendar = Calendar::default();

    // -- Receipt (R1, R9, R10) ---------------------------------------------
    let received_at = whole_second(c.now().await);
    let email_request = complaint("email", common::Channel::Email, received_at);
    let post_request = complaint("post", common::Channel::Post, received_at);
    let email = submit(&mut c, &email_request).await;
    let post = submit(&mut c, &post_request).await;

    // Acknowledgements go out as soon as anything runs; a minute is plenty.
    c.advance(A_MINUTE).await;
    let email_ack = the_one(&complainant_notices(&mut c, &email.case_id).await);
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

    let post_ack = the_one(&complainant_notices(&mut c, &post.case_id).await);
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
    assert!(
        post_ack.recipient.contains(POSTCODE),
        "{}",
        post_ack.recipient
    );
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

    for (case, ack) in [(&email, &email_ack), (&post, &post_ack)] {
        let events = c.timeline(&case.case_id).await;
        let notice = events
            .iter()
            .find(|e| e.kind == "case.notice_sent")
            .unwrap_or_else(|| panic!("no case.notice_sent in {events:#?}"));
        assert!(
            notice.details_json.contains(&ack.notification_id),
            "the notice names its notification: {notice:?}"
        );
        assert!(events.iter().any(|e| e.kind == "case.acknowledged"));
        assert!(c.case(&case.case_id).await.acknowledged_at.is_some());

        let acknowledge = c.deadline(&case.case_id, Kind::Acknowledge).await;
        assert_clock(&acknowledge, &calendar, received_at, 3, DeadlineState::Met);
        assert_eq!(acknowledge.due_date, case.acknowledge_by);
        assert_eq!(acknowledge.due_at, case.acknowledge_by_at);
        assert!(acknowledge.fired_at.is_none(), "met before it fell due");
        let resolve = c.deadline(&case.case_id, Kind::Resolve).await;
        assert_clock(&resolve, &calendar, received_at, 10, DeadlineState::Pending);
        assert_eq!(resolve.due_date, case.resolve_by);
        let update = c.deadline(&case.case_id, Kind::ReferralUpdate).await;
        assert_clock(&update, &calendar, received_at, 5, DeadlineState::Pending);
        for deadline in [&acknowledge, &resolve, &update] {
            assert_eq!(deadline.stage, common::Stage::Stage1 as i32);
            assert_eq!(deadline.owner_role, common::Role::ComplaintsHandler as i32);
            assert_eq!(deadline.escalation_role, common::Role::CxManager as i32);
        }
    }

    // -- The referral and the day-5 update (R3) ----------------------------
    let referral = c
        .handler
        .refer_to_department(case_pb::ReferToDepartmentRequest {
            case_id: email.case_id.clone(),
            request_id: "refer-installations".to_owned(),
            department: "Installations".to_owned(),
            question: "Was the pendant's base unit tested at the last visit?".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .referral_id;
    c.advance(A_MINUTE).await;
    assert_eq!(
        kinds(&complainant_notices(&mut c, &email.case_id).await),
        [NotificationKind::Acknowledgement],
        "R3: before day 5 the referral is not reported yet"
    );

    let day_5 = c.deadline(&email.case_id, Kind::ReferralUpdate).await;
    let day_5_at = instant(day_5.due_at.as_ref().unwrap());
    c.advance_to(day_5_at + A_MINUTE).await;

    let update = c.deadline(&email.case_id, Kind::ReferralUpdate).await;
    assert_eq!(update.state, DeadlineState::Met as i32, "{update:#?}");
    assert_eq!(update.fired_at, day_5.due_at, "it fired when it fell due");
    let notices = complainant_notices(&mut c, &email.case_id).await;
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
    assert!(instant(update_notice.created_at.as_ref().unwrap()) >= day_5_at);
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
        !kinds(&complainant_notices(&mut c, &post.case_id).await)
            .contains(&NotificationKind::ReferralUpdate)
    );

    // -- Stage 1 breached (R2) ---------------------------------------------
    for case in [&email, &post] {
        let resolve = c.deadline(&case.case_id, Kind::Resolve).await;
        assert_eq!(resolve.state, DeadlineState::Pending as i32);
    }
    let resolve = c.deadline(&email.case_id, Kind::Resolve).await;
    let resolve_at = instant(resolve.due_at.as_ref().unwrap());
    c.advance_to(resolve_at + A_MINUTE).await;
    // The warning falls at the end of the working day before the due date.
    let warn_at = calendar.due(received_at, 9).at;
    for case in [&email, &post] {
        let resolve = c.deadline(&case.case_id, Kind::Resolve).await;
        assert_eq!(
            resolve.state,
            DeadlineState::Breached as i32,
            "{resolve:#?}"
        );
        assert_eq!(resolve.fired_at, resolve.due_at);
        assert!(
            c.case(&case.case_id).await.overdue,
            "the case shows overdue"
        );

        let alerts = alerts(&mut c, &case.case_id).await;
        let breach = about(
            &alerts,
            &subject("MISSED", "Resolve the complaint (stage 1)", case, &resolve),
        );
        assert_eq!(
            recipients(&breach),
            BTreeSet::from([staff("complaints_handler"), staff("cx_manager")]),
            "a breach alerts the owner and the escalation role: {alerts:#?}"
        );
        for alert in &breach {
            assert!(alert.subject.contains(&case.register_number));
            assert!(instant(alert.created_at.as_ref().unwrap()) >= resolve_at);
        }
        let warning = about(
            &alerts,
            &subject(
                "Due soon",
                "Resolve the complaint (stage 1)",
                case,
                &resolve,
            ),
        );
        assert_eq!(
            recipients(&warning),
            BTreeSet::from([staff("complaints_handler")]),
            "the owner is warned first: {alerts:#?}"
        );
        let warned_at = instant(warning[0].created_at.as_ref().unwrap());
        assert!(
            warn_at <= warned_at && warned_at < resolve_at,
            "warned at {warned_at}, one working day ahead ({warn_at}), before {resolve_at}"
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
    let breached_cases: BTreeSet<&str> = breaches.iter().map(|d| d.case_id.as_str()).collect();
    assert_eq!(
        breached_cases,
        BTreeSet::from([email.case_id.as_str(), post.case_id.as_str()])
    );
    assert!(
        breaches
            .iter()
            .all(|d| d.state == DeadlineState::Breached as i32)
    );

    // -- The stage 1 response, late ----------------------------------------
    c.handler
        .record_department_response(case_pb::RecordDepartmentResponseRequest {
            case_id: email.case_id.clone(),
            request_id: "installations-answer".to_owned(),
            referral_id: referral,
            response: "The base unit was not tested; its battery was flat.".to_owned(),
        })
        .await
        .unwrap();
    c.handler
        .issue_stage_response(response_request(
            &email.case_id,
            "stage-1-response",
            case_pb::Finding::PartlyUpheld,
        ))
        .await
        .unwrap();
    c.advance(A_MINUTE).await;
    let stage_1_response = complainant_notices(&mut c, &email.case_id)
        .await
        .pop()
        .unwrap();
    assert_notice(
        &stage_1_response,
        NotificationKind::StageResponse,
        common::Stage::Stage1,
    );
    let resolve = c.deadline(&email.case_id, Kind::Resolve).await;
    assert_eq!(
        resolve.state,
        DeadlineState::Breached as i32,
        "a breach stays a breach"
    );

    // -- Stage 2: the review (R4, R5) --------------------------------------
    let review_at = c.now().await;
    let case = c
        .on_behalf
        .request_review(case_pb::RequestReviewRequest {
            case_id: email.case_id.clone(),
            request_id: "review".to_owned(),
            desired_outcome: "An apology and a new pendant".to_owned(),
            unsatisfied_with: "Nobody explained why the call was missed".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.stage, common::Stage::Stage2 as i32);
    assert_eq!(case.status, case_pb::CaseStatus::Open as i32);
    assert_eq!(case.owner_role, common::Role::CxManager as i32);
    c.advance(A_MINUTE).await;
    let review_ack = complainant_notices(&mut c, &email.case_id)
        .await
        .pop()
        .unwrap();
    assert_notice(
        &review_ack,
        NotificationKind::ReviewAcknowledgement,
        common::Stage::Stage2,
    );
    let acknowledge = c.deadline(&email.case_id, Kind::Stage2Acknowledge).await;
    assert_clock(&acknowledge, &calendar, review_at, 3, DeadlineState::Met);
    let respond = c.deadline(&email.case_id, Kind::Stage2Respond).await;
    assert_clock(&respond, &calendar, review_at, 10, DeadlineState::Pending);
    for deadline in [&acknowledge, &respond] {
        assert_eq!(deadline.stage, common::Stage::Stage2 as i32);
        assert_eq!(deadline.owner_role, common::Role::CxManager as i32);
        assert_eq!(deadline.escalation_role, common::Role::OpsLead as i32);
    }

    // Nobody answers the review: the Operations Lead takes it over (R5).
    let respond_at = instant(respond.due_at.as_ref().unwrap());
    c.advance_to(respond_at + A_MINUTE).await;
    let respond = c.deadline(&email.case_id, Kind::Stage2Respond).await;
    assert_eq!(
        respond.state,
        DeadlineState::Breached as i32,
        "{respond:#?}"
    );
    let alerts = alerts(&mut c, &email.case_id).await;
    let words = "Respond to the review (stage 2)";
    let breach = about(&alerts, &subject("MISSED", words, &email, &respond));
    assert_eq!(
        recipients(&breach),
        BTreeSet::from([staff("cx_manager"), staff("ops_lead")]),
        "{alerts:#?}"
    );
    // The warning, one working day ahead. (The alerts that hand the case
    // to a role carry the same subject: see `handed_over` below.)
    let warn_at = calendar.due(review_at, 9).at;
    let warning: Vec<_> = about(&alerts, &subject("Due soon", words, &email, &respond))
        .into_iter()
        .filter(|n| (warn_at..respond_at).contains(&created(n)))
        .collect();
    assert_eq!(
        recipients(&warning),
        BTreeSet::from([staff("cx_manager")]),
        "the owner is warned at {warn_at}: {alerts:#?}"
    );
    // The review was handed to the CX Manager when requested, and to the
    // Operations Lead when the platform escalated it.
    let handed_over = |role: &str, from: DateTime<Utc>| {
        alerts.iter().any(|n| {
            n.recipient == staff(role)
                && (from..from + A_MINUTE).contains(&created(n))
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

    let refused = handler_as_ops_lead
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
        "R5: whoever handled stage 1 does not decide stage 2: {refused:?}"
    );
    let refused = reviewer
        .escalate_within_stage(case_pb::EscalateWithinStageRequest {
            case_id: email.case_id.clone(),
            request_id: "escalate-again".to_owned(),
            reason: "again".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    ops_lead
        .issue_stage_response(response_request(
            &email.case_id,
            "stage-2-response",
            case_pb::Finding::NotUpheld,
        ))
        .await
        .unwrap();
    c.advance(A_MINUTE).await;
    let stage_2_response = complainant_notices(&mut c, &email.case_id)
        .await
        .pop()
        .unwrap();
    assert_notice(
        &stage_2_response,
        NotificationKind::StageResponse,
        common::Stage::Stage2,
    );

    // -- Stage 3: a director (R6) ------------------------------------------
    let escalated_at = c.now().await;
    let case = c
        .on_behalf
        .escalate_to_director(case_pb::EscalateToDirectorRequest {
            case_id: email.case_id.clone(),
            request_id: "director".to_owned(),
            desired_outcome: "A refund of three months' fees".to_owned(),
            unsatisfied_with: "The review did not address the missed call".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.stage, common::Stage::Stage3 as i32);
    assert_eq!(case.owner_role, common::Role::Director as i32);
    c.advance(A_MINUTE).await;
    let director_ack = complainant_notices(&mut c, &email.case_id)
        .await
        .pop()
        .unwrap();
    assert_notice(
        &director_ack,
        NotificationKind::ReviewAcknowledgement,
        common::Stage::Stage3,
    );
    let acknowledge = c.deadline(&email.case_id, Kind::Stage3Acknowledge).await;
    assert_clock(&acknowledge, &calendar, escalated_at, 3, DeadlineState::Met);
    let respond = c.deadline(&email.case_id, Kind::Stage3Respond).await;
    assert_clock(
        &respond,
        &calendar,
        escalated_at,
        10,
        DeadlineState::Pending,
    );
    assert_eq!(respond.owner_role, common::Role::Director as i32);

    director
        .issue_stage_response(response_request(
            &email.case_id,
            "final-response",
            case_pb::Finding::Upheld,
        ))
        .await
        .unwrap();
    c.advance(A_MINUTE).await;
    let final_response = complainant_notices(&mut c, &email.case_id)
        .await
        .pop()
        .unwrap();
    assert_notice(
        &final_response,
        NotificationKind::FinalResponse,
        common::Stage::Stage3,
    );
    let text = String::from_utf8(c.content(&final_response.notification_id).await.body).unwrap();
    assert!(
        text.contains("Telecare Services Association"),
        "R7: the final response names the TSA:\n{text}"
    );
    let respond = c.deadline(&email.case_id, Kind::Stage3Respond).await;
    assert_eq!(respond.state, DeadlineState::Met as i32);

    // -- External (R7), and closing ----------------------------------------
    let case = c
        .handler
        .record_tsa_referral(case_pb::RecordTsaReferralRequest {
            case_id: email.case_id.clone(),
            request_id: "tsa".to_owned(),
            reference: "TSA-E2E-0042".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.stage, common::Stage::External as i32);
    assert_eq!(case.tsa_reference, "TSA-E2E-0042");
    close(&mut c, &email.case_id).await;

    // A third complaint, closed while its stage 1 clocks still run: they are
    // cancelled, not breached.
    let web_received_at = whole_second(c.now().await);
    let web = submit(
        &mut c,
        &complaint("web", common::Channel::Web, web_received_at),
    )
    .await;
    c.advance(A_MINUTE).await;
    let running: Vec<i32> = c
        .deadlines(&web.case_id)
        .await
        .iter()
        .filter(|d| d.state == DeadlineState::Pending as i32)
        .map(|d| d.kind)
        .collect();
    assert_eq!(running, [Kind::ReferralUpdate as i32, Kind::Resolve as i32]);
    close(&mut c, &web.case_id).await;

    // Nothing is left to fire, for any case, however far time moves.
    let mut before = Vec::new();
    for case in [&email, &post, &web] {
        before.push((
            c.deadlines(&case.case_id).await,
            c.notifications(&case.case_id).await,
        ));
    }
    let (_, fired) = c.advance(Duration::days(60)).await;
    assert_eq!(fired, 0, "nothing fires after closing");
    for (case, (deadlines, notifications)) in [&email, &post, &web].into_iter().zip(before) {
        assert_eq!(c.deadlines(&case.case_id).await, deadlines);
        assert_eq!(c.notifications(&case.case_id).await, notifications);
    }

    // -- Every message in policy order, to the right person ----------------
    let notices = complainant_notices(&mut c, &email.case_id).await;
    let in_order: Vec<(NotificationKind, common::Stage)> = notices
        .iter()
        .map(|n| (n.kind(), common::Stage::try_from(n.stage).unwrap()))
        .collect();
    assert_eq!(
        in_order,
        [
            (NotificationKind::Acknowledgement, common::Stage::Stage1),
            (NotificationKind::ReferralUpdate, common::Stage::Stage1),
            (NotificationKind::StageResponse, common::Stage::Stage1),
            (
                NotificationKind::ReviewAcknowledgement,
                common::Stage::Stage2
            ),
            (NotificationKind::StageResponse, common::Stage::Stage2),
            (
                NotificationKind::ReviewAcknowledgement,
                common::Stage::Stage3
            ),
            (NotificationKind::FinalResponse, common::Stage::Stage3),
        ]
    );
    let sent_at: Vec<DateTime<Utc>> = notices
        .iter()
        .map(|n| instant(n.sent_at.as_ref().unwrap()))
        .collect();
    assert!(sent_at.is_sorted(), "sent in that order: {sent_at:?}");

    let mut emailed = BTreeSet::new();
    let mut posted = BTreeSet::new();
    for case in [&email, &post, &web] {
        for n in c.notifications(&case.case_id).await {
            assert_eq!(n.state, NotificationState::Sent as i32, "{n:#?}");
            assert_eq!(n.attempts, 1, "{n:#?}");
            if n.kind() == NotificationKind::InternalAlert {
                assert_eq!(n.channel, NotificationChannel::Email as i32);
                let role = n
                    .recipient
                    .strip_suffix(&format!("@{STAFF_DOMAIN}"))
                    .unwrap_or_else(|| panic!("an alert to a staff mailbox: {n:#?}"));
                assert!(
                    ["complaints_handler", "cx_manager", "ops_lead", "director"].contains(&role),
                    "{n:#?}"
                );
            } else if case.case_id == post.case_id {
                assert_eq!(n.channel, NotificationChannel::Post as i32, "{n:#?}");
                assert!(n.recipient.contains(POSTCODE), "{n:#?}");
            } else {
                assert_eq!(n.channel, NotificationChannel::Email as i32, "{n:#?}");
                assert_eq!(n.recipient, GRACE, "{n:#?}");
            }
            if n.channel == NotificationChannel::Email as i32 {
                emailed.insert(n.notification_id);
            } else {
                posted.insert(n.notification_id);
            }
        }
    }
    assert_eq!(
        files(&suite.email_outbox(), "eml"),
        emailed,
        "one .eml per email sent"
    );
    assert_eq!(
        files(&suite.letter_outbox(), "pdf"),
        posted,
        "one .pdf per letter"
    );
    let eml = std::fs::read_to_string(
        suite
            .email_outbox()
            .join(format!("{}.eml", email_ack.notification_id)),
    )
    .unwrap();
    let message_id = header(&eml, "Message-ID").unwrap_or_else(|| panic!("no Message-ID:\n{eml}"));
    assert!(
        message_id.starts_with(&format!("<{}@", email_ack.notification_id))
            && message_id.ends_with('>'),
        "the Message-ID is the notification id: {message_id}"
    );
    assert!(email_ack.notification_id.starts_with("ntf-"));
    assert!(header(&eml, "To").unwrap().contains(GRACE), "{eml}");
    assert!(eml.contains(&email.register_number), "{eml}");

    suite.process.ensure_running().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_to_the_clock_and_the_read_apis_is_refused_with_the_right_code() {
    let mut suite = Suite::start(true);
    let mut c = Clients::new(&mut suite);
    let start = c.now().await;

    for (by, what) in [
        (Some(prost_types::Duration::default()), "zero"),
        (
            Some(prost_types::Duration {
                seconds: -60,
                nanos: 0,
            }),
            "negative",
        ),
        (
            Some(prost_types::Duration {
                seconds: 0,
                nanos: -1,
            }),
            "a nanosecond back",
        ),
        (None, "missing"),
    ] {
        let refused = c
            .clock
            .advance(testing_pb::AdvanceRequest { by })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{what}: {refused:?}");
        let fields: Vec<String> = refused
            .get_details_bad_request()
            .unwrap_or_else(|| panic!("{what}: no BadRequest detail in {refused:?}"))
            .field_violations
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["by"], "{what}");
    }
    assert_eq!(c.now().await, start, "a refused advance does not move time");

    let unknown_case = "0190a6f2-6c3e-7b2a-9d41-5f8e2c7a1b00";
    let refused = c
        .escalation
        .get_deadlines(escalation_pb::GetDeadlinesRequest {
            case_id: unknown_case.to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");

    let refused = c
        .notifications
        .list_notifications(notification_pb::ListNotificationsRequest {
            case_id: "not-a-case-id".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused
            .get_details_bad_request()
            .is_some_and(|bad| bad.field_violations.iter().any(|v| v.field == "case_id")),
        "{refused:?}"
    );

    let refused = c
        .notifications
        .get_notification_content(notification_pb::GetNotificationContentRequest {
            notification_id: "ntf-0190a6f26c3e7b2a9d415f8e2c7a1b00".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");

    suite.process.ensure_running().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_test_clock_the_clock_service_does_not_exist() {
    let mut suite = Suite::start(false);
    let mut clock = suite.clock("complaints_handler", "hana");
    let refused = clock
        .advance(testing_pb::AdvanceRequest {
            by: Some(prost_types::Duration {
                seconds: 86_400,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    let refused = clock.now(testing_pb::NowRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented, "{refused:?}");
    suite.process.ensure_running().unwrap();
}

// -- helpers ---------------------------------------------------------------

fn whole_second(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap()
}

/// A complaint by `channel`: by email from Grace, with her address; by post
/// from Arthur, with his address and the scan of his letter and no email.
fn complaint(
    name: &str,
    channel: common::Channel,
    received_at: DateTime<Utc>,
) -> SubmitComplaintRequest {
    let post = channel == common::Channel::Post;
    let complainant = if post {
        common::Complainant {
            full_name: "Arthur Pryce".to_owned(),
            email: String::new(),
            phone: String::new(),
            postal_address: Some(common::PostalAddress {
                lines: vec!["7 Mill Lane".to_owned()],
                town: "Halifax".to_owned(),
                postcode: POSTCODE.to_owned(),
            }),
            preferred_contact: common::ContactMethod::Unspecified as i32,
            customer_ref: String::new(),
        }
    } else {
        common::Complainant {
            full_name: "Grace Holt".to_owned(),
            email: GRACE.to_owned(),
            phone: String::new(),
            postal_address: None,
            preferred_contact: common::ContactMethod::Unspecified as i32,
            customer_ref: String::new(),
        }
    };
    SubmitComplaintRequest {
        request_id: format!("clocks-{name}"),
        channel: channel as i32,
        received_at: Some(timestamp(received_at)),
        complainant: Some(complainant),
        summary: format!("{name}: alarm call not answered for 40 minutes"),
        details: "The pendant was pressed at 02:10 and nobody answered.".to_owned(),
        recorded_by: String::new(),
        scan_reference: if post {
            "SCAN-E2E-0007".to_owned()
        } else {
            String::new()
        },
    }
}

async fn submit(c: &mut Clients, request: &SubmitComplaintRequest) -> SubmitComplaintResponse {
    let response = c
        .integration
        .submit_complaint(request.clone())
        .await
        .unwrap_or_else(|status| panic!("{} refused: {status:?}", request.request_id))
        .into_inner();
    assert_due_dates(instant(request.received_at.as_ref().unwrap()), &response);
    response
}

fn response_request(
    case_id: &str,
    request_id: &str,
    finding: case_pb::Finding,
) -> case_pb::IssueStageResponseRequest {
    case_pb::IssueStageResponseRequest {
        case_id: case_id.to_owned(),
        request_id: request_id.to_owned(),
        outcome: "The alarm receiving centre was short-staffed that night; calls are now \
                  routed to a second centre when the queue is long."
            .to_owned(),
        upheld: finding as i32,
        root_cause: "missed-alarm-call".to_owned(),
        lessons_learned: "Overflow routing for night shifts.".to_owned(),
    }
}

/// Closes the case and checks that every clock still running was cancelled.
async fn close(c: &mut Clients, case_id: &str) {
    let running: Vec<escalation_pb::Deadline> = c
        .deadlines(case_id)
        .await
        .into_iter()
        .filter(|d| d.state == DeadlineState::Pending as i32)
        .collect();
    let case = c
        .handler
        .close_case(case_pb::CloseCaseRequest {
            case_id: case_id.to_owned(),
            // Request ids are one namespace across cases.
            request_id: format!("close-{case_id}"),
            reason: "The complainant accepted the outcome.".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.status, case_pb::CaseStatus::Closed as i32);
    c.advance(A_MINUTE).await;
    let after = c.deadlines(case_id).await;
    assert!(
        after
            .iter()
            .all(|d| d.state != DeadlineState::Pending as i32),
        "no clock runs on a closed case: {after:#?}"
    );
    for deadline in running {
        let now = after
            .iter()
            .find(|d| d.deadline_id == deadline.deadline_id)
            .unwrap();
        assert_eq!(now.state, DeadlineState::Cancelled as i32, "{now:#?}");
    }
}

/// A clock of `working_days` started at `start`: its due date and instant
/// from the default calendar, the reason in words, and its state.
fn assert_clock(
    deadline: &escalation_pb::Deadline,
    calendar: &Calendar,
    start: DateTime<Utc>,
    working_days: u32,
    state: DeadlineState,
) {
    let due = calendar.due(start, working_days);
    let what = format!("{:?}", deadline.kind());
    assert_eq!(
        deadline.state, state as i32,
        "{what} is {state:?}: {deadline:#?}"
    );
    assert_eq!(
        deadline.working_days,
        i32::try_from(working_days).unwrap(),
        "{what}"
    );
    let date = deadline.due_date.as_ref().unwrap();
    assert_eq!(
        (date.year, date.month, date.day),
        (
            chrono::Datelike::year(&due.date),
            i32::try_from(chrono::Datelike::month(&due.date)).unwrap(),
            i32::try_from(chrono::Datelike::day(&due.date)).unwrap()
        ),
        "{what}"
    );
    assert_eq!(instant(deadline.due_at.as_ref().unwrap()), due.at, "{what}");
    assert_eq!(
        deadline.reason,
        calendar.explain(start, working_days),
        "{what}: the reason says why, in words"
    );
    assert!(!deadline.reason.is_empty(), "{what}");
}

fn assert_notice(n: &notification_pb::Notification, kind: NotificationKind, stage: common::Stage) {
    assert_eq!(n.kind(), kind, "{n:#?}");
    assert_eq!(n.stage(), stage, "{n:#?}");
    assert_eq!(n.state(), NotificationState::Sent, "{n:#?}");
    assert!(n.sent_at.is_some(), "{n:#?}");
}

/// The case's notifications to the complainant, oldest first.
async fn complainant_notices(c: &mut Clients, case_id: &str) -> Vec<notification_pb::Notification> {
    c.notifications(case_id)
        .await
        .into_iter()
        .filter(|n| n.kind() != NotificationKind::InternalAlert)
        .collect()
}

async fn alerts(c: &mut Clients, case_id: &str) -> Vec<notification_pb::Notification> {
    c.notifications(case_id)
        .await
        .into_iter()
        .filter(|n| n.kind() == NotificationKind::InternalAlert)
        .collect()
}

/// The subject of an alert about `deadline`: `MISSED` (a breach) or
/// `Due soon` (a warning), what the deadline asks for, and its due date.
fn subject(
    level: &str,
    words: &str,
    case: &SubmitComplaintResponse,
    deadline: &escalation_pb::Deadline,
) -> String {
    let date = deadline.due_date.as_ref().unwrap();
    let date = chrono::NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).unwrap(),
        u32::try_from(date.day).unwrap(),
    )
    .unwrap();
    format!(
        "{level}: {words} for {} (due {})",
        case.register_number,
        date.format("%A %-d %B %Y")
    )
}

/// The alerts with exactly this subject.
fn about(
    alerts: &[notification_pb::Notification],
    subject: &str,
) -> Vec<notification_pb::Notification> {
    alerts
        .iter()
        .filter(|n| n.subject == subject)
        .cloned()
        .collect()
}

fn recipients(notifications: &[notification_pb::Notification]) -> BTreeSet<String> {
    let set: BTreeSet<String> = notifications.iter().map(|n| n.recipient.clone()).collect();
    assert_eq!(
        set.len(),
        notifications.len(),
        "one each: {notifications:#?}"
    );
    set
}

fn created(n: &notification_pb::Notification) -> DateTime<Utc> {
    instant(n.created_at.as_ref().unwrap())
}

fn staff(role: &str) -> String {
    format!("{role}@{STAFF_DOMAIN}")
}

fn kinds(notifications: &[notification_pb::Notification]) -> Vec<NotificationKind> {
    notifications.iter().map(|n| n.kind()).collect()
}

fn the_one(notifications: &[notification_pb::Notification]) -> notification_pb::Notification {
    assert_eq!(notifications.len(), 1, "{notifications:#?}");
    notifications[0].clone()
}

/// The names (without extension) of the `extension` files in `dir`.
fn files(dir: &std::path::Path, extension: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The value of an email header (unfolded), by case-insensitive name.
fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next()?;
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}
