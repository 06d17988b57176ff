//! The story the policy tests share, and what they check it with.
//!
//! `complaints dev --test-clock` runs as a real process, driven over gRPC,
//! with time moved by `complaints.testing.v1.ClockService/Advance`. Every
//! deadline, alert, email and letter is read back through the public APIs
//! and the outbox folder.
//!
//! [`Journey`] is one run of the policy: Grace's complaint by email is
//! acknowledged, referred to another department, breached at stage 1 and
//! answered late, reviewed at stage 2 and escalated within it, answered by
//! a director at stage 3, taken to the TSA and closed; Arthur's letter,
//! received with it, is acknowledged by post and never answered. Each test
//! file runs the journey as far as its rule needs, in the same steps at the
//! same instants, and checks its rule on the way.
//!
//! # The timetable
//!
//! The suite's clock starts at the real time and only moves forward, so
//! every journey first moves it to one fixed instant, [`RECEIVED_AT`], and
//! from there to fixed instants only. Every due date, due instant and reason
//! below is written down, worked out by hand from the rule (`docs/policy.md`:
//! the due date for N working days is the Nth working day strictly after the
//! London date of the start, a working day being Monday to Friday except an
//! England and Wales bank holiday; due at the next London midnight) and
//! never computed by the calendar under test. December 2032 and January
//! 2033 are GMT, so London midnight is 00:00 UTC; Christmas Day and Boxing
//! Day 2032 fall on the weekend and are kept on Monday 27 and Tuesday 28
//! December, and New Year's Day 2033 (a Saturday) on Monday 3 January.
//!
//! When the real time passes [`RECEIVED_AT`], the journeys fail at once,
//! saying so: move the story to a later year and work the timetable out
//! again by hand.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1 as escalation_pb;
use complaints_proto::complaints::intake::v1::{SubmitComplaintRequest, SubmitComplaintResponse};
use complaints_proto::complaints::notification::v1 as notification_pb;
use complaints_test_support::time::timestamp;
use escalation_pb::DeadlineState;

use crate::clock_suite::{Clients, NotificationKind, NotificationState, STAFF_DOMAIN, Suite};
use crate::support::{DueDates, assert_due_dates, proto_date_text, proto_instant_text};

pub use common::DeadlineKind as Kind;

/// The complainant who emails.
pub const GRACE: &str = "grace.holt@example.org";
/// The postcode of the complainant who writes.
pub const POSTCODE: &str = "HX1 2AB";

pub const A_MINUTE: Duration = Duration::minutes(1);

// -- the timetable -----------------------------------------------------------

/// A clock as the escalation service must report it.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    pub working_days: i32,
    /// `YYYY-MM-DD`.
    pub due_date: &'static str,
    /// The end of the due date in London, in UTC.
    pub due_at: &'static str,
    /// The due date in the words alerts use.
    pub due_in_words: &'static str,
    /// Why it falls due when it does, in the calendar's words.
    pub reason: &'static str,
}

/// Both complaints are received on Monday 13 December 2032 at 10:15 (GMT).
pub const RECEIVED_AT: &str = "2032-12-13T10:15:00Z";

/// The answer to both submissions: acknowledge by Thursday 16 December
/// (Tuesday, Wednesday, Thursday), resolve by Wednesday 29 December.
pub fn stage_1_due_dates() -> DueDates {
    DueDates::literal(
        ACKNOWLEDGE.due_date,
        ACKNOWLEDGE.due_at,
        RESOLVE.due_date,
        RESOLVE.due_at,
    )
}

/// R1: 3 working days from Monday 13 December: 14, 15, 16.
pub const ACKNOWLEDGE: Expected = Expected {
    working_days: 3,
    due_date: "2032-12-16",
    due_at: "2032-12-17T00:00:00Z",
    due_in_words: "Thursday 16 December 2032",
    reason: "3 working days after receipt on Mon 13 Dec 2032: no non-working days skipped; \
             due by the end of Thu 16 Dec 2032 (23:59 Europe/London)",
};

/// R3: 5 working days: 14, 15, 16, 17, then (after the weekend) Monday 20.
pub const REFERRAL_UPDATE: Expected = Expected {
    working_days: 5,
    due_date: "2032-12-20",
    due_at: "2032-12-21T00:00:00Z",
    due_in_words: "Monday 20 December 2032",
    reason: "5 working days after receipt on Mon 13 Dec 2032: skipped Sat 18 Dec (weekend), \
             Sun 19 Dec (weekend); due by the end of Mon 20 Dec 2032 (23:59 Europe/London)",
};

/// R2: 10 working days: 14-17, 20-24 (nine), then past the weekend of
/// Christmas and its two substitute days to Wednesday 29 December.
pub const RESOLVE: Expected = Expected {
    working_days: 10,
    due_date: "2032-12-29",
    due_at: "2032-12-30T00:00:00Z",
    due_in_words: "Wednesday 29 December 2032",
    reason: "10 working days after receipt on Mon 13 Dec 2032: skipped Sat 18 Dec (weekend), \
             Sun 19 Dec (weekend), Sat 25 Dec (weekend), Sun 26 Dec (weekend), \
             Mon 27 Dec (Christmas Day (substitute day)), \
             Tue 28 Dec (Boxing Day (substitute day)); \
             due by the end of Wed 29 Dec 2032 (23:59 Europe/London)",
};

/// The owner of the stage 1 response is warned one working day ahead: at
/// the end of Friday 24 December (the two days before the due date are the
/// Christmas substitutes).
pub const RESOLVE_WARNED_FROM: &str = "2032-12-25T00:00:00Z";

/// The review is requested a minute after the late stage 1 response, which
/// went a minute after the breach: Thursday 30 December, 00:02.
pub const REVIEW_REQUESTED_AT: &str = "2032-12-30T00:02:00Z";

/// R4: 3 working days from Thursday 30 December: Friday 31, then past the
/// weekend and New Year's Day's substitute (Monday 3 January) to Tuesday 4
/// and Wednesday 5 January.
pub const STAGE_2_ACKNOWLEDGE: Expected = Expected {
    working_days: 3,
    due_date: "2033-01-05",
    due_at: "2033-01-06T00:00:00Z",
    due_in_words: "Wednesday 5 January 2033",
    reason: "3 working days after receipt on Thu 30 Dec 2032: skipped Sat 1 Jan 2033 (weekend), \
             Sun 2 Jan 2033 (weekend), Mon 3 Jan 2033 (New Year’s Day (substitute day)); \
             due by the end of Wed 5 Jan 2033 (23:59 Europe/London)",
};

/// R4: 10 working days from Thursday 30 December: 31 December, 4-7 and
/// 10-14 January.
pub const STAGE_2_RESPOND: Expected = Expected {
    working_days: 10,
    due_date: "2033-01-14",
    due_at: "2033-01-15T00:00:00Z",
    due_in_words: "Friday 14 January 2033",
    reason: "10 working days after receipt on Thu 30 Dec 2032: skipped Sat 1 Jan 2033 (weekend), \
             Sun 2 Jan 2033 (weekend), Mon 3 Jan 2033 (New Year’s Day (substitute day)), \
             Sat 8 Jan 2033 (weekend), Sun 9 Jan 2033 (weekend); \
             due by the end of Fri 14 Jan 2033 (23:59 Europe/London)",
};

/// The stage 2 owner is warned at the end of Thursday 13 January.
pub const STAGE_2_WARNED_FROM: &str = "2033-01-14T00:00:00Z";

/// The director is asked a minute after the stage 2 response, which went a
/// minute after the platform escalated the review: Saturday 15 January,
/// 00:02.
pub const ESCALATED_TO_DIRECTOR_AT: &str = "2033-01-15T00:02:00Z";

/// R6: 3 working days from Saturday 15 January: Monday 17 to Wednesday 19.
pub const STAGE_3_ACKNOWLEDGE: Expected = Expected {
    working_days: 3,
    due_date: "2033-01-19",
    due_at: "2033-01-20T00:00:00Z",
    due_in_words: "Wednesday 19 January 2033",
    reason: "3 working days after receipt on Sat 15 Jan 2033: skipped Sun 16 Jan (weekend); \
             due by the end of Wed 19 Jan 2033 (23:59 Europe/London)",
};

/// R6: 10 working days from Saturday 15 January: 17-21 and 24-28 January.
pub const STAGE_3_RESPOND: Expected = Expected {
    working_days: 10,
    due_date: "2033-01-28",
    due_at: "2033-01-29T00:00:00Z",
    due_in_words: "Friday 28 January 2033",
    reason: "10 working days after receipt on Sat 15 Jan 2033: skipped Sun 16 Jan (weekend), \
             Sat 22 Jan (weekend), Sun 23 Jan (weekend); \
             due by the end of Fri 28 Jan 2033 (23:59 Europe/London)",
};

/// The third complaint, by web, is received when Grace's case has closed:
/// Saturday 15 January 2033, 00:05.
pub const WEB_RECEIVED_AT: &str = "2033-01-15T00:05:00Z";

/// Its due dates: acknowledge by Wednesday 19 January (Monday 17 to
/// Wednesday 19), resolve by Friday 28 January.
pub fn web_due_dates() -> DueDates {
    DueDates::literal(
        "2033-01-19",
        "2033-01-20T00:00:00Z",
        "2033-01-28",
        "2033-01-29T00:00:00Z",
    )
}

/// An instant of the timetable.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .to_utc()
}

// -- the journey -------------------------------------------------------------

/// One run of the policy (see the module documentation).
pub struct Journey {
    pub suite: Suite,
    pub c: Clients,
    /// Grace's complaint by email.
    pub email: SubmitComplaintResponse,
    /// Arthur's letter.
    pub post: SubmitComplaintResponse,
    /// The referral of Grace's complaint to another department.
    pub referral_id: String,
}

impl Journey {
    /// Starts `complaints dev --test-clock`, moves its clock to
    /// [`RECEIVED_AT`] and submits both complaints then, checking the due
    /// dates each answer gives.
    pub async fn begin() -> Journey {
        let mut suite = Suite::start(true);
        let mut c = Clients::new(&mut suite);
        move_clock_to(&mut c, RECEIVED_AT).await;
        let received_at = at(RECEIVED_AT);
        let email = submit(
            &mut c,
            &complaint("email", common::Channel::Email, received_at),
            &stage_1_due_dates(),
        )
        .await;
        let post = submit(
            &mut c,
            &complaint("post", common::Channel::Post, received_at),
            &stage_1_due_dates(),
        )
        .await;
        Journey {
            suite,
            c,
            email,
            post,
            referral_id: String::new(),
        }
    }

    /// A minute passes: acknowledgements, notices and anything else written
    /// go out as soon as anything runs, and a minute is plenty.
    pub async fn a_minute_passes(&mut self) {
        self.c.advance(A_MINUTE).await;
    }

    /// The clock moves to a minute after `instant` (a due instant of the
    /// timetable): whatever fell due on the way has fired.
    pub async fn just_after(&mut self, instant: &str) {
        self.c.advance_to(at(instant) + A_MINUTE).await;
    }

    /// The handler refers Grace's complaint to Installations, and a minute
    /// passes.
    pub async fn refer(&mut self) {
        self.referral_id = self
            .c
            .handler
            .refer_to_department(case_pb::ReferToDepartmentRequest {
                case_id: self.email.case_id.clone(),
                request_id: "refer-installations".to_owned(),
                department: "Installations".to_owned(),
                question: "Was the pendant's base unit tested at the last visit?".to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .referral_id;
        self.a_minute_passes().await;
    }

    /// Installations answer, late, and the handler issues the stage 1
    /// response; a minute passes.
    pub async fn respond_late_at_stage_1(&mut self) {
        let c = &mut self.c;
        c.handler
            .record_department_response(case_pb::RecordDepartmentResponseRequest {
                case_id: self.email.case_id.clone(),
                request_id: "installations-answer".to_owned(),
                referral_id: self.referral_id.clone(),
                response: "The base unit was not tested; its battery was flat.".to_owned(),
            })
            .await
            .unwrap();
        c.handler
            .issue_stage_response(response_request(
                &self.email.case_id,
                "stage-1-response",
                case_pb::Finding::PartlyUpheld,
            ))
            .await
            .unwrap();
        self.a_minute_passes().await;
    }

    /// Grace asks for a review, through the integration, at
    /// [`REVIEW_REQUESTED_AT`]; a minute passes. Answers the case as the
    /// request left it.
    pub async fn request_review(&mut self) -> case_pb::Case {
        self.assert_now(REVIEW_REQUESTED_AT).await;
        let case = self
            .c
            .on_behalf
            .request_review(case_pb::RequestReviewRequest {
                case_id: self.email.case_id.clone(),
                request_id: "review".to_owned(),
                desired_outcome: "An apology and a new pendant".to_owned(),
                unsatisfied_with: "Nobody explained why the call was missed".to_owned(),
                // Asked now: the clocks count from the suite's clock.
                received_at: None,
            })
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap();
        self.a_minute_passes().await;
        case
    }

    /// The Operations Lead, who has the escalated review, answers it; a
    /// minute passes.
    pub async fn respond_at_stage_2(&mut self) {
        let mut ops_lead = self.suite.cases("ops_lead", "olu");
        ops_lead
            .issue_stage_response(response_request(
                &self.email.case_id,
                "stage-2-response",
                case_pb::Finding::NotUpheld,
            ))
            .await
            .unwrap();
        self.a_minute_passes().await;
    }

    /// Grace escalates to a director, through the integration, at
    /// [`ESCALATED_TO_DIRECTOR_AT`]; a minute passes. Answers the case as
    /// the request left it.
    pub async fn escalate_to_director(&mut self) -> case_pb::Case {
        self.assert_now(ESCALATED_TO_DIRECTOR_AT).await;
        let case = self
            .c
            .on_behalf
            .escalate_to_director(case_pb::EscalateToDirectorRequest {
                case_id: self.email.case_id.clone(),
                request_id: "director".to_owned(),
                desired_outcome: "A refund of three months' fees".to_owned(),
                unsatisfied_with: "The review did not address the missed call".to_owned(),
                // Asked now: the clocks count from the suite's clock.
                received_at: None,
            })
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap();
        self.a_minute_passes().await;
        case
    }

    /// The director issues the final response; a minute passes.
    pub async fn respond_at_stage_3(&mut self) {
        let mut director = self.suite.cases("director", "dee");
        director
            .issue_stage_response(response_request(
                &self.email.case_id,
                "final-response",
                case_pb::Finding::Upheld,
            ))
            .await
            .unwrap();
        self.a_minute_passes().await;
    }

    /// The handler records Grace's referral to the TSA. Answers the case.
    pub async fn record_tsa_referral(&mut self) -> case_pb::Case {
        self.c
            .handler
            .record_tsa_referral(case_pb::RecordTsaReferralRequest {
                case_id: self.email.case_id.clone(),
                request_id: "tsa".to_owned(),
                reference: "TSA-E2E-0042".to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    /// A third complaint, by web from Grace, received at
    /// [`WEB_RECEIVED_AT`] (when her first case has closed), its due dates
    /// checked; a minute passes, and it is acknowledged.
    pub async fn web_complaint(&mut self) -> SubmitComplaintResponse {
        self.assert_now(WEB_RECEIVED_AT).await;
        let web = submit(
            &mut self.c,
            &complaint("web", common::Channel::Web, at(WEB_RECEIVED_AT)),
            &web_due_dates(),
        )
        .await;
        self.a_minute_passes().await;
        web
    }

    /// Stage 1 as the journey runs it: acknowledged, referred, the day-5
    /// notice sent, breached, then answered late.
    pub async fn through_stage_1() -> Journey {
        let mut journey = Journey::begin().await;
        journey.a_minute_passes().await;
        journey.refer().await;
        journey.just_after(REFERRAL_UPDATE.due_at).await;
        journey.just_after(RESOLVE.due_at).await;
        journey.respond_late_at_stage_1().await;
        journey
    }

    /// Then stage 2: the review requested, escalated within the stage when
    /// nobody answered in time, and answered by the Operations Lead.
    pub async fn through_stage_2() -> Journey {
        let mut journey = Journey::through_stage_1().await;
        journey.request_review().await;
        journey.just_after(STAGE_2_RESPOND.due_at).await;
        journey.respond_at_stage_2().await;
        journey
    }

    /// Then stage 3: escalated to a director, who answers.
    pub async fn through_stage_3() -> Journey {
        let mut journey = Journey::through_stage_2().await;
        journey.escalate_to_director().await;
        journey.respond_at_stage_3().await;
        journey
    }

    /// Then the end: the TSA referral recorded and Grace's case closed
    /// (checking that every clock still running was cancelled).
    pub async fn to_the_close() -> Journey {
        let mut journey = Journey::through_stage_3().await;
        journey.record_tsa_referral().await;
        let case_id = journey.email.case_id.clone();
        close(&mut journey.c, &case_id).await;
        journey
    }

    /// Fails unless the clock reads `expected`: the journey's steps keep to
    /// the timetable.
    async fn assert_now(&mut self, expected: &str) {
        assert_eq!(
            self.c.now().await,
            at(expected),
            "the journey is off its timetable"
        );
    }
}

/// Moves a suite's clock, which starts at the real time, to `to`.
pub async fn move_clock_to(c: &mut Clients, to: &str) {
    let now = c.now().await;
    assert!(
        now < at(to),
        "the suite's clock starts at the real time ({now}), which has passed the story's fixed \
         instant {to}: move the story to a later year and work its dates out again by hand \
         (tests/e2e/tests/e2e/policy_support.rs)"
    );
    c.advance_to(at(to)).await;
}

/// A complaint by `channel`: by email from Grace, with her address; by post
/// from Arthur, with his address and the scan of his letter and no email;
/// by web from Grace.
pub fn complaint(
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
        scanned_letter: None,
    }
}

/// Submits `request` as the integration and checks the due dates the answer
/// gives are `expected`.
pub async fn submit(
    c: &mut Clients,
    request: &SubmitComplaintRequest,
    expected: &DueDates,
) -> SubmitComplaintResponse {
    let response = c
        .integration
        .submit_complaint(request.clone())
        .await
        .unwrap_or_else(|status| panic!("{} refused: {status:?}", request.request_id))
        .into_inner();
    assert_due_dates(&response, expected);
    response
}

pub fn response_request(
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

/// Closes the case, a minute passes, and checks that every clock still
/// running was cancelled.
pub async fn close(c: &mut Clients, case_id: &str) {
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

// -- checks ------------------------------------------------------------------

/// The clock is `expected` (working days, due date and instant, the reason
/// in words) and in `state`.
pub fn assert_clock(deadline: &escalation_pb::Deadline, expected: &Expected, state: DeadlineState) {
    let what = format!("{:?}", deadline.kind());
    assert_eq!(
        deadline.state, state as i32,
        "{what} is {state:?}: {deadline:#?}"
    );
    assert_eq!(deadline.working_days, expected.working_days, "{what}");
    assert_eq!(
        proto_date_text(deadline.due_date.as_ref()),
        expected.due_date,
        "{what}: the due date"
    );
    assert_eq!(
        proto_instant_text(deadline.due_at.as_ref()),
        expected.due_at,
        "{what}: due at the end of the due date in London"
    );
    assert_eq!(
        deadline.reason, expected.reason,
        "{what}: the reason says why, in words"
    );
}

pub fn assert_notice(
    n: &notification_pb::Notification,
    kind: NotificationKind,
    stage: common::Stage,
) {
    assert_eq!(n.kind(), kind, "{n:#?}");
    assert_eq!(n.stage(), stage, "{n:#?}");
    assert_eq!(n.state(), NotificationState::Sent, "{n:#?}");
    assert!(n.sent_at.is_some(), "{n:#?}");
}

/// The case's notifications to the complainant, oldest first.
pub async fn complainant_notices(
    c: &mut Clients,
    case_id: &str,
) -> Vec<notification_pb::Notification> {
    c.notifications(case_id)
        .await
        .into_iter()
        .filter(|n| n.kind() != NotificationKind::InternalAlert)
        .collect()
}

/// The case's latest notification to the complainant.
pub async fn latest_notice(c: &mut Clients, case_id: &str) -> notification_pb::Notification {
    complainant_notices(c, case_id)
        .await
        .pop()
        .unwrap_or_else(|| panic!("nothing was sent to the complainant of {case_id}"))
}

pub async fn alerts(c: &mut Clients, case_id: &str) -> Vec<notification_pb::Notification> {
    c.notifications(case_id)
        .await
        .into_iter()
        .filter(|n| n.kind() == NotificationKind::InternalAlert)
        .collect()
}

/// The subject of an alert about a deadline: `MISSED` (a breach) or `Due
/// soon` (a warning), what the deadline asks for, and its due date.
pub fn subject(
    level: &str,
    words: &str,
    case: &SubmitComplaintResponse,
    expected: &Expected,
) -> String {
    format!(
        "{level}: {words} for {} (due {})",
        case.register_number, expected.due_in_words
    )
}

/// The alerts with exactly this subject.
pub fn about(
    alerts: &[notification_pb::Notification],
    subject: &str,
) -> Vec<notification_pb::Notification> {
    alerts
        .iter()
        .filter(|n| n.subject == subject)
        .cloned()
        .collect()
}

pub fn recipients(notifications: &[notification_pb::Notification]) -> BTreeSet<String> {
    let set: BTreeSet<String> = notifications.iter().map(|n| n.recipient.clone()).collect();
    assert_eq!(
        set.len(),
        notifications.len(),
        "one each: {notifications:#?}"
    );
    set
}

pub fn created(n: &notification_pb::Notification) -> DateTime<Utc> {
    crate::clock_suite::instant(n.created_at.as_ref().unwrap())
}

pub fn staff(role: &str) -> String {
    format!("{role}@{STAFF_DOMAIN}")
}

pub fn kinds(notifications: &[notification_pb::Notification]) -> Vec<NotificationKind> {
    notifications.iter().map(|n| n.kind()).collect()
}

pub fn the_one(notifications: &[notification_pb::Notification]) -> notification_pb::Notification {
    assert_eq!(notifications.len(), 1, "{notifications:#?}");
    notifications[0].clone()
}
