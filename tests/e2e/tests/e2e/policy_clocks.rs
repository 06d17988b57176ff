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
async fn every_clock_and_message_of_the_policy_runs_on_time_from_receipt_to_closing() {
    let mut story = Story::begin().await;
    story
        .each_complaint_is_acknowledged_by_its_own_route()
        .await;
    story
        .a_referral_is_reported_to_the_complainant_at_day_5()
        .await;
    story.stage_1_unanswered_is_breached_after_a_warning().await;
    story.the_late_stage_1_response_is_sent().await;
    story
        .an_unanswered_review_is_escalated_to_the_operations_lead()
        .await;
    story
        .a_directors_final_response_names_the_tsa_and_the_case_closes()
        .await;
    story
        .closed_cases_keep_no_clock_running_however_far_time_moves()
        .await;
    story
        .every_message_went_in_policy_order_to_the_right_person()
        .await;
    story.suite.process.ensure_running().unwrap();
}

/// One run of the policy: an email complaint taken through every stage, a
/// posted one left unanswered at stage 1, and a third closed early.
struct Story {
    suite: Suite,
    c: Clients,
    calendar: Calendar,
    received_at: DateTime<Utc>,
    /// Grace's complaint by email: referred, breached, reviewed, escalated,
    /// answered by a director, taken to the TSA and closed.
    email: SubmitComplaintResponse,
    /// Arthur's letter: acknowledged by post, never referred, never answered.
    post: SubmitComplaintResponse,
    /// The referral of Grace's complaint to another department.
    referral_id: String,
    /// Closed while its stage 1 clocks still ran.
    web: Option<SubmitComplaintResponse>,
}

impl Story {
    /// Starts `complaints dev --test-clock` and submits both complaints at
    /// the clock's time.
    async fn begin() -> Story {
        let mut suite = Suite::start(true);
        let mut c = Clients::new(&mut suite);
        let received_at = whole_second(c.now().await);
        let email = submit(
            &mut c,
            &complaint("email", common::Channel::Email, received_at),
        )
        .await;
        let post = submit(
            &mut c,
            &complaint("post", common::Channel::Post, received_at),
        )
        .await;
        Story {
            suite,
            c,
            calendar: Calendar::default(),
            received_at,
            email,
            post,
            referral_id: String::new(),
            web: None,
        }
    }

    /// R1, R9, R10: an acknowledgement quoting the register number, by email
    /// to the one who emailed and by letter to the one who wrote; the stage
    /// 1 clocks as the calendar says.
    async fn each_complaint_is_acknowledged_by_its_own_route(&mut self) {
        let (c, email, post) = (&mut self.c, &self.email, &self.post);
        // Acknowledgements go out as soon as anything runs; a minute is plenty.
        c.advance(A_MINUTE).await;
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
        let printed = self
            .suite
            .letter_outbox()
            .join(format!("{}.pdf", post_ack.notification_id));
        assert_eq!(
            std::fs::read(&printed).unwrap_or_else(|e| panic!("{}: {e}", printed.display())),
            letter.body,
            "the letter in the outbox folder is the one recorded"
        );
        if let Some(text) = pdf_text(&letter.body, &self.suite.data_dir()) {
            assert!(text.contains(&post.register_number), "{text}");
            assert!(text.contains(POSTCODE), "{text}");
        }

        for (case, ack) in [(email, &email_ack), (post, &post_ack)] {
            let events = c.timeline(&case.case_id).await;
            assert!(
                events.iter().any(|e| e.kind == "case.notice_sent"
                    && e.details_json.contains(&ack.notification_id)),
                "the notice is on the timeline, naming its notification: {events:#?}"
            );
            assert!(events.iter().any(|e| e.kind == "case.acknowledged"));
            assert!(c.case(&case.case_id).await.acknowledged_at.is_some());

            let (calendar, received_at) = (&self.calendar, self.received_at);
            let acknowledge = c.deadline(&case.case_id, Kind::Acknowledge).await;
            assert_clock(&acknowledge, calendar, received_at, 3, DeadlineState::Met);
            assert_eq!(acknowledge.due_date, case.acknowledge_by);
            assert_eq!(acknowledge.due_at, case.acknowledge_by_at);
            assert!(acknowledge.fired_at.is_none(), "met before it fell due");
            let resolve = c.deadline(&case.case_id, Kind::Resolve).await;
            assert_clock(&resolve, calendar, received_at, 10, DeadlineState::Pending);
            assert_eq!(resolve.due_date, case.resolve_by);
            let update = c.deadline(&case.case_id, Kind::ReferralUpdate).await;
            assert_clock(&update, calendar, received_at, 5, DeadlineState::Pending);
            for deadline in [&acknowledge, &resolve, &update] {
                assert_eq!(deadline.stage, common::Stage::Stage1 as i32);
                assert_eq!(deadline.owner_role, common::Role::ComplaintsHandler as i32);
                assert_eq!(deadline.escalation_role, common::Role::CxManager as i32);
            }
        }
    }

    /// R3: a complaint referred on day 1 is reported at day 5; one never
    /// referred has nothing to report, and its day-5 clock is cancelled.
    async fn a_referral_is_reported_to_the_complainant_at_day_5(&mut self) {
        let (c, email, post) = (&mut self.c, &self.email, &self.post);
        self.referral_id = c
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
            kinds(&complainant_notices(c, &email.case_id).await),
            [NotificationKind::Acknowledgement],
            "before day 5 the referral is not reported yet"
        );

        let day_5 = c.deadline(&email.case_id, Kind::ReferralUpdate).await;
        let day_5_at = instant(day_5.due_at.as_ref().unwrap());
        c.advance_to(day_5_at + A_MINUTE).await;

        let update = c.deadline(&email.case_id, Kind::ReferralUpdate).await;
        assert_eq!(update.state, DeadlineState::Met as i32, "{update:#?}");
        assert_eq!(update.fired_at, day_5.due_at, "it fired when it fell due");
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
    }

    /// R2: ten working days without a response. The owner is warned one
    /// working day ahead; at the due instant the deadline is breached and
    /// both the owner and the escalation role are alerted.
    async fn stage_1_unanswered_is_breached_after_a_warning(&mut self) {
        let (c, email, post) = (&mut self.c, &self.email, &self.post);
        for case in [email, post] {
            let resolve = c.deadline(&case.case_id, Kind::Resolve).await;
            assert_eq!(resolve.state, DeadlineState::Pending as i32);
        }
        let resolve = c.deadline(&email.case_id, Kind::Resolve).await;
        let resolve_at = instant(resolve.due_at.as_ref().unwrap());
        c.advance_to(resolve_at + A_MINUTE).await;
        // The end of the working day before the due date.
        let warn_at = self.calendar.due(self.received_at, 9).at;
        let words = "Resolve the complaint (stage 1)";
        for case in [email, post] {
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

            let alerts = alerts(c, &case.case_id).await;
            let breach = about(&alerts, &subject("MISSED", words, case, &resolve));
            assert_eq!(
                recipients(&breach),
                BTreeSet::from([staff("complaints_handler"), staff("cx_manager")]),
                "a breach alerts the owner and the escalation role: {alerts:#?}"
            );
            assert!(breach.iter().all(|alert| created(alert) >= resolve_at));
            let warning = about(&alerts, &subject("Due soon", words, case, &resolve));
            assert_eq!(
                recipients(&warning),
                BTreeSet::from([staff("complaints_handler")]),
                "the owner is warned first: {alerts:#?}"
            );
            let warned_at = created(&warning[0]);
            assert!(
                (warn_at..resolve_at).contains(&warned_at),
                "warned at {warned_at}: one working day ahead is {warn_at}"
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
    }

    /// The department answers and the handler responds, late: the response
    /// is sent, and the breach stays on the record.
    async fn the_late_stage_1_response_is_sent(&mut self) {
        let (c, email) = (&mut self.c, &self.email);
        c.handler
            .record_department_response(case_pb::RecordDepartmentResponseRequest {
                case_id: email.case_id.clone(),
                request_id: "installations-answer".to_owned(),
                referral_id: self.referral_id.clone(),
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
    }

    /// R4, R5: the review goes to the CX Manager, is acknowledged, and when
    /// nobody answers it in time the platform hands it to the Operations
    /// Lead, who answers it; the stage 1 handler may not.
    async fn an_unanswered_review_is_escalated_to_the_operations_lead(&mut self) {
        let mut reviewer = self.suite.cases("cx_manager", "cara");
        let mut ops_lead = self.suite.cases("ops_lead", "olu");
        // The stage 1 handler, holding an operations lead's role.
        let mut stage_1_handler = self.suite.cases("ops_lead", "hana");
        let (c, email, calendar) = (&mut self.c, &self.email, &self.calendar);

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
        let acknowledgement = latest_notice(c, &email.case_id).await;
        assert_notice(
            &acknowledgement,
            NotificationKind::ReviewAcknowledgement,
            common::Stage::Stage2,
        );
        let acknowledge = c.deadline(&email.case_id, Kind::Stage2Acknowledge).await;
        assert_clock(&acknowledge, calendar, review_at, 3, DeadlineState::Met);
        let respond = c.deadline(&email.case_id, Kind::Stage2Respond).await;
        assert_clock(&respond, calendar, review_at, 10, DeadlineState::Pending);
        for deadline in [&acknowledge, &respond] {
            assert_eq!(deadline.stage, common::Stage::Stage2 as i32);
            assert_eq!(deadline.owner_role, common::Role::CxManager as i32);
            assert_eq!(deadline.escalation_role, common::Role::OpsLead as i32);
        }

        let respond_at = instant(respond.due_at.as_ref().unwrap());
        c.advance_to(respond_at + A_MINUTE).await;
        let respond = c.deadline(&email.case_id, Kind::Stage2Respond).await;
        assert_eq!(
            respond.state,
            DeadlineState::Breached as i32,
            "{respond:#?}"
        );
        let alerts = alerts(c, &email.case_id).await;
        let words = "Respond to the review (stage 2)";
        let breach = about(&alerts, &subject("MISSED", words, email, &respond));
        assert_eq!(
            recipients(&breach),
            BTreeSet::from([staff("cx_manager"), staff("ops_lead")]),
            "{alerts:#?}"
        );
        // The warning, one working day ahead. The alerts that hand the case
        // to a role carry the same subject (see the report on
        // ALERT_LEVEL_ASSIGNED), so the warning is told apart by its time.
        let warn_at = calendar.due(review_at, 9).at;
        let warning: Vec<_> = about(&alerts, &subject("Due soon", words, email, &respond))
            .into_iter()
            .filter(|n| (warn_at..respond_at).contains(&created(n)))
            .collect();
        assert_eq!(
            recipients(&warning),
            BTreeSet::from([staff("cx_manager")]),
            "the owner is warned at {warn_at}: {alerts:#?}"
        );
        // The review was handed to the CX Manager when requested, and to
        // the Operations Lead when the platform escalated it.
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
        ops_lead
            .issue_stage_response(response_request(
                &email.case_id,
                "stage-2-response",
                case_pb::Finding::NotUpheld,
            ))
            .await
            .unwrap();
        c.advance(A_MINUTE).await;
        let response = latest_notice(c, &email.case_id).await;
        assert_notice(
            &response,
            NotificationKind::StageResponse,
            common::Stage::Stage2,
        );
    }

    /// R6, R7: a director takes the escalation, with stage 3 clocks; the
    /// final response names the TSA; the referral to the TSA is recorded,
    /// and closing cancels whatever still ran.
    async fn a_directors_final_response_names_the_tsa_and_the_case_closes(&mut self) {
        let mut director = self.suite.cases("director", "dee");
        let (c, email, calendar) = (&mut self.c, &self.email, &self.calendar);

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
        let acknowledgement = latest_notice(c, &email.case_id).await;
        assert_notice(
            &acknowledgement,
            NotificationKind::ReviewAcknowledgement,
            common::Stage::Stage3,
        );
        let acknowledge = c.deadline(&email.case_id, Kind::Stage3Acknowledge).await;
        assert_clock(&acknowledge, calendar, escalated_at, 3, DeadlineState::Met);
        let respond = c.deadline(&email.case_id, Kind::Stage3Respond).await;
        assert_clock(&respond, calendar, escalated_at, 10, DeadlineState::Pending);
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
        let final_response = latest_notice(c, &email.case_id).await;
        assert_notice(
            &final_response,
            NotificationKind::FinalResponse,
            common::Stage::Stage3,
        );
        let text =
            String::from_utf8(c.content(&final_response.notification_id).await.body).unwrap();
        assert!(
            text.contains("Telecare Services Association"),
            "the final response names the TSA:\n{text}"
        );
        let respond = c.deadline(&email.case_id, Kind::Stage3Respond).await;
        assert_eq!(respond.state, DeadlineState::Met as i32);

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
        close(c, &email.case_id).await;
    }

    /// A third complaint, closed while its stage 1 clocks still run: they
    /// are cancelled, not breached. Then nothing fires, for any case, and
    /// nobody is told anything more, however far time moves.
    async fn closed_cases_keep_no_clock_running_however_far_time_moves(&mut self) {
        let c = &mut self.c;
        let received_at = whole_second(c.now().await);
        let web = submit(c, &complaint("web", common::Channel::Web, received_at)).await;
        c.advance(A_MINUTE).await;
        let running: Vec<i32> = c
            .deadlines(&web.case_id)
            .await
            .iter()
            .filter(|d| d.state == DeadlineState::Pending as i32)
            .map(|d| d.kind)
            .collect();
        assert_eq!(running, [Kind::ReferralUpdate as i32, Kind::Resolve as i32]);
        close(c, &web.case_id).await;

        let cases = [&self.email, &self.post, &web];
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
        self.web = Some(web);
    }

    /// The complainant heard from us at every step, in the policy's order;
    /// every message went to the complainant's address or a staff
    /// mailbox; every email and letter is in the outbox folder, each email
    /// with the notification's id as its `Message-ID`.
    async fn every_message_went_in_policy_order_to_the_right_person(&mut self) {
        let (c, email, post) = (&mut self.c, &self.email, &self.post);
        let notices = complainant_notices(c, &email.case_id).await;
        let in_order: Vec<(NotificationKind, common::Stage)> =
            notices.iter().map(|n| (n.kind(), n.stage())).collect();
        use NotificationKind::{
            Acknowledgement, FinalResponse, ReferralUpdate, ReviewAcknowledgement, StageResponse,
        };
        use common::Stage::{Stage1, Stage2, Stage3};
        assert_eq!(
            in_order,
            [
                (Acknowledgement, Stage1),
                (ReferralUpdate, Stage1),
                (StageResponse, Stage1),
                (ReviewAcknowledgement, Stage2),
                (StageResponse, Stage2),
                (ReviewAcknowledgement, Stage3),
                (FinalResponse, Stage3),
            ]
        );
        let sent_at: Vec<DateTime<Utc>> = notices
            .iter()
            .map(|n| instant(n.sent_at.as_ref().unwrap()))
            .collect();
        assert!(sent_at.is_sorted(), "sent in that order: {sent_at:?}");

        let mut emailed = BTreeSet::new();
        let mut posted = BTreeSet::new();
        for case in [email, post, self.web.as_ref().unwrap()] {
            for n in c.notifications(&case.case_id).await {
                assert_eq!(n.state(), NotificationState::Sent, "{n:#?}");
                assert_eq!(n.attempts, 1, "{n:#?}");
                if n.kind() == NotificationKind::InternalAlert {
                    assert_eq!(n.channel(), NotificationChannel::Email, "{n:#?}");
                    let role = n
                        .recipient
                        .strip_suffix(&format!("@{STAFF_DOMAIN}"))
                        .unwrap_or_else(|| panic!("an alert to a staff mailbox: {n:#?}"));
                    assert!(
                        ["complaints_handler", "cx_manager", "ops_lead", "director"]
                            .contains(&role),
                        "{n:#?}"
                    );
                } else if case.case_id == post.case_id {
                    assert_eq!(n.channel(), NotificationChannel::Post, "{n:#?}");
                    assert!(n.recipient.contains(POSTCODE), "{n:#?}");
                } else {
                    assert_eq!(n.channel(), NotificationChannel::Email, "{n:#?}");
                    assert_eq!(n.recipient, GRACE, "{n:#?}");
                }
                if n.channel() == NotificationChannel::Email {
                    emailed.insert(n.notification_id);
                } else {
                    posted.insert(n.notification_id);
                }
            }
        }
        assert_eq!(
            files(&self.suite.email_outbox(), "eml"),
            emailed,
            "one .eml per email sent"
        );
        assert_eq!(
            files(&self.suite.letter_outbox(), "pdf"),
            posted,
            "one .pdf per letter"
        );

        let acknowledgement = &notices[0];
        let eml = std::fs::read_to_string(
            self.suite
                .email_outbox()
                .join(format!("{}.eml", acknowledgement.notification_id)),
        )
        .unwrap();
        let message_id =
            header(&eml, "Message-ID").unwrap_or_else(|| panic!("no Message-ID:\n{eml}"));
        assert!(
            acknowledgement.notification_id.starts_with("ntf-")
                && message_id.starts_with(&format!("<{}@", acknowledgement.notification_id))
                && message_id.ends_with('>'),
            "the Message-ID is the notification id: {message_id}"
        );
        assert!(header(&eml, "To").unwrap().contains(GRACE), "{eml}");
        assert!(eml.contains(&email.register_number), "{eml}");
    }
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

/// The case's latest notification to the complainant.
async fn latest_notice(c: &mut Clients, case_id: &str) -> notification_pb::Notification {
    complainant_notices(c, case_id)
        .await
        .pop()
        .unwrap_or_else(|| panic!("nothing was sent to the complainant of {case_id}"))
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
