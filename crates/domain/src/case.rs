//! The case state machine: every step of the complaints policy as a pure
//! transition (docs/policy.md: the stages, Roles, Records).
//!
//! [`Case::open`] and [`Case::apply`] take the case, the step, the actor, the
//! time, the case's policy and the calendar, and return a [`Transition`]: the
//! new case and what the step caused (timeline events, clocks to start or
//! settle, notifications). They never mutate their input and never do I/O;
//! a refusal is a [`DomainError`] and leaves nothing to write.
//!
//! Every step is checked in the same order, so callers see consistent
//! errors:
//! 1. the role table ([`permitted`]): `PermissionDenied`;
//! 2. a closed case takes nothing but erasure (and links to other cases),
//!    an external one nothing but notes, assignment, closing, links and
//!    erasure: `FailedPrecondition`;
//! 3. the input, every bad field at once: `InvalidArgument`;
//! 4. the case's stage and status: `FailedPrecondition`;
//! 5. who decides the current stage, from the policy, and R5's rule that
//!    whoever handled stage 1 does not decide stage 2: `PermissionDenied`.

mod clock_change;
mod command;
mod effects;
mod evidence;
mod intake;
mod links;
pub mod receipt;
mod types;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use clock_change::ClockChange;
pub use command::{Command, Step, authorize, permitted};
pub use effects::{DeadlineSpec, Event, NotifyKind, NotifyRequest, Transition};
pub use evidence::{
    DESCRIPTION_MAX, Evidence, EvidenceSource, FILENAME_MAX, NewEvidence, RefusedEvidence,
    evidence_filename,
};
pub use intake::{NewComplaint, RawComplaint};
pub use links::{CaseLink, LinkRelation};
pub use receipt::{CLOCK_SKEW_ALLOWANCE, MAX_AGE};
pub use types::{
    AcknowledgementMethod, CaseId, CaseStatus, DeadlineKind, DeadlineOutcome, Escalation,
    EvidenceId, Finding, Referral, ReferralId, StageResponse,
};

use crate::calendar::Calendar;
use crate::complainant::{Channel, Complainant};
use crate::policy::{Policy, Stage, StagePolicy};
use crate::role::{Actor, Role};
use crate::values::{RegisterNumber, Text};
use crate::{DomainError, FieldViolation};

use intake::{keep, optional};

/// A complaint and everything done about it.
///
/// Invariants, kept by [`Case::open`] and [`Case::apply`] (and checked by the
/// property tests): stage 2 or later has a stage 1 response and a review
/// request; stage 3 or later has a stage 2 response and a director request;
/// external has the final (stage 3) response and a TSA reference; a
/// `Responded` case has a response for its stage and no open referral;
/// `owner_role` is the stage's owner or, after escalation within the stage,
/// its escalation role; a closed case has `closed_at` and `closed_reason`;
/// `version` is the number of events applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub register_number: RegisterNumber,
    pub channel: Channel,
    pub complainant: Complainant,
    pub summary: Text,
    pub details: Option<Text>,
    pub received_at: DateTime<Utc>,
    /// When the case was recorded (may be after `received_at`, e.g. a letter).
    pub created_at: DateTime<Utc>,
    /// R8: the adviser who took a telephone complaint.
    pub recorded_by: Option<Text>,
    /// R9: the scan of a letter.
    pub scan_reference: Option<Text>,
    /// The policy the case was opened under. Pass that policy to
    /// [`Case::apply`], so a later change of policy does not change this
    /// case's clocks.
    pub policy_version: String,
    pub stage: Stage,
    pub status: CaseStatus,
    /// Who owns the case now: the stage's owner from the policy, or its
    /// escalation role after [`Command::EscalateWithinStage`]. At
    /// [`Stage::External`], stage 3's owner stays accountable.
    pub owner_role: Role,
    /// The person (a token subject) who handles the case for `owner_role`,
    /// when one was named ([`Command::AssignCase`]). The case still belongs
    /// to the role: the assignment ends when a step hands the case to
    /// another role, and stays on a closed case as the record of who had it.
    #[serde(default)]
    pub assignee: Option<Text>,
    /// When the current stage was acknowledged; `None` again on entering a
    /// new stage. Earlier stages' acknowledgements are in the timeline
    /// (`case.acknowledged`).
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// R3's day-5 instant, computed once at opening: a referral opened at or
    /// after it is reported to the complainant at once.
    pub referral_update_due_at: DateTime<Utc>,
    pub referrals: Vec<Referral>,
    /// One per stage that has responded, in order.
    pub responses: Vec<StageResponse>,
    /// R4: the complainant's request for a stage 2 review.
    pub review_request: Option<Escalation>,
    /// R6: the complainant's request to escalate to a director (stage 3).
    pub director_request: Option<Escalation>,
    /// Subjects who took a deciding step in stage 1 (issued its response,
    /// referred, recorded a department's response). R5: none of them may
    /// decide stage 2.
    pub stage_1_handlers: BTreeSet<String>,
    /// R7: the external body's reference for the referral.
    pub tsa_reference: Option<Text>,
    pub closed_reason: Option<Text>,
    pub closed_at: Option<DateTime<Utc>>,
    /// When the complainant's personal data was erased.
    pub erased_at: Option<DateTime<Utc>>,
    /// Notifications already recorded by [`Command::RecordNotice`], so a
    /// repeated delivery report adds nothing.
    #[serde(default)]
    pub notices: BTreeSet<String>,
    /// The complainant wrote again after the case closed
    /// ([`Command::ReceiveCorrespondence`]): a person must look. Cleared by
    /// the next step a person takes on the case, a note included (a closed
    /// case takes a note while it is set).
    #[serde(default)]
    pub needs_attention: bool,
    /// For a complaint that came by email: that email's Message-ID
    /// (without angle brackets), which the platform's emails about the case
    /// answer so that they thread in the complainant's mail client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_message_id: Option<String>,
    /// The complainant's other open cases when this one was opened, oldest
    /// first ([`Transition::flag_possible_duplicates`]): a hint for staff,
    /// never acted on by the platform. Kept as found at opening.
    #[serde(default)]
    pub possible_duplicate_of: Vec<CaseId>,
    /// The cases staff linked this one to ([`Command::LinkCase`]), in the
    /// order they were first linked.
    #[serde(default)]
    pub linked_cases: Vec<CaseLink>,
    pub created_by: Actor,
    /// The number of events applied: the optimistic-concurrency token.
    pub version: u64,
}

impl Case {
    /// The longest assignee (a token subject) accepted, in characters.
    pub const ASSIGNEE_MAX: usize = 128;

    /// What an erased case's summary reads.
    pub const ERASED_SUMMARY: &'static str = "[erased]";

    /// Opens a stage 1 case for a validated complaint, with the id and
    /// register number storage assigned.
    ///
    /// R1/R2/R3: starts the stage 1 clocks from `received_at` (acknowledge,
    /// resolve, referral update) with the policy's targets, and asks for the
    /// acknowledgement. `now` is when the case is recorded.
    pub fn open(
        complaint: NewComplaint,
        id: CaseId,
        register_number: RegisterNumber,
        actor: &Actor,
        now: DateTime<Utc>,
        policy: &Policy,
        calendar: &Calendar,
    ) -> Result<Transition, DomainError> {
        authorize(actor.role, Step::Submit)?;
        let complaint = complaint.into_parts();
        let stage_1 = &policy.stage_1;
        let received_at = complaint.received_at;
        let case = Case {
            id,
            register_number: register_number.clone(),
            channel: complaint.channel,
            complainant: complaint.complainant,
            summary: complaint.summary,
            details: complaint.details,
            received_at,
            created_at: now,
            recorded_by: complaint.recorded_by.clone(),
            scan_reference: complaint.scan_reference.clone(),
            policy_version: policy.version.clone(),
            stage: Stage::Stage1,
            status: CaseStatus::Open,
            owner_role: stage_1.owner,
            assignee: None,
            acknowledged_at: None,
            referral_update_due_at: calendar.due(received_at, policy.referral_update_days).at,
            referrals: Vec::new(),
            responses: Vec::new(),
            review_request: None,
            director_request: None,
            stage_1_handlers: BTreeSet::new(),
            tsa_reference: None,
            closed_reason: None,
            closed_at: None,
            erased_at: None,
            notices: BTreeSet::new(),
            needs_attention: false,
            thread_message_id: None,
            possible_duplicate_of: Vec::new(),
            linked_cases: Vec::new(),
            created_by: actor.clone(),
            version: 0,
        };
        let mut draft = Draft::new(case);
        draft.event(Event::Received {
            register_number,
            channel: complaint.channel,
            received_at,
            stage: Stage::Stage1,
            owner_role: stage_1.owner,
            policy_version: policy.version.clone(),
            recorded_by: complaint.recorded_by,
            scan_reference: complaint.scan_reference,
            possible_duplicate_of: Vec::new(),
        });
        draft.start_clock(
            DeadlineKind::Acknowledge,
            received_at,
            stage_1.acknowledge_days,
            stage_1,
            calendar,
        );
        draft.start_clock(
            DeadlineKind::Resolve,
            received_at,
            stage_1.respond_days,
            stage_1,
            calendar,
        );
        draft.start_clock(
            DeadlineKind::ReferralUpdate,
            received_at,
            policy.referral_update_days,
            stage_1,
            calendar,
        );
        draft.notify(NotifyRequest::to_complainant(
            NotifyKind::Acknowledgement,
            Stage::Stage1,
        ));
        Ok(draft.finish(0))
    }

    /// Applies one step. Pure: `self` is untouched; on success the returned
    /// [`Transition`] holds the new case. See the module docs for the order
    /// of checks.
    ///
    /// `policy` must be the policy the case was opened under
    /// ([`Case::policy_version`]).
    pub fn apply(
        &self,
        command: Command,
        actor: &Actor,
        now: DateTime<Utc>,
        policy: &Policy,
        calendar: &Calendar,
    ) -> Result<Transition, DomainError> {
        let step = command.step();
        authorize(actor.role, step)?;
        let noted_for_attention = step == Step::AddNote && self.needs_attention;
        if self.status == CaseStatus::Closed
            && !noted_for_attention
            && !matches!(
                step,
                Step::EraseComplainant
                    | Step::RecordNotice
                    | Step::ReceiveCorrespondence
                    | Step::LinkCases
            )
        {
            return Err(DomainError::FailedPrecondition(format!(
                "case {} is closed; it can only be read",
                self.register_number
            )));
        }
        if self.stage == Stage::External
            && !matches!(
                step,
                Step::AddNote
                    | Step::AddEvidence
                    | Step::Close
                    | Step::AssignCase
                    | Step::EraseComplainant
                    | Step::RecordNotice
                    | Step::ReceiveCorrespondence
                    | Step::LinkCases
                    | Step::RecordClockChange
            )
        {
            return Err(DomainError::FailedPrecondition(format!(
                "case {} has been referred to the {}; it can only take notes or be closed",
                self.register_number, policy.external_body.short_name
            )));
        }
        let mut draft = Draft::new(self.clone());
        let at = Context {
            actor,
            now,
            policy,
            calendar,
        };
        match command {
            Command::AddNote { text } => self.add_note(&mut draft, &text)?,
            Command::AddEvidence(evidence) => draft.event(evidence.validate()?.added_event()),
            Command::MarkAcknowledged => self.mark_acknowledged(&mut draft, &at)?,
            Command::RecordAcknowledgement { method, reference } => {
                self.record_acknowledgement(&mut draft, &at, method, &reference)?
            }
            Command::RecordNotice {
                notification_id,
                kind,
                stage,
                channel,
                route_note,
            } => self.record_notice(
                &mut draft,
                &at,
                notification_id,
                kind,
                stage,
                &channel,
                &route_note,
            )?,
            Command::ReferToDepartment {
                referral_id,
                department,
                question,
            } => self.refer(&mut draft, &at, referral_id, &department, &question)?,
            Command::RecordDepartmentResponse {
                referral_id,
                response,
            } => self.record_department_response(&mut draft, &at, referral_id, &response)?,
            Command::IssueStageResponse {
                outcome,
                finding,
                root_cause,
                lessons_learned,
            } => self.issue_stage_response(
                &mut draft,
                &at,
                &outcome,
                finding,
                &root_cause,
                &lessons_learned,
            )?,
            Command::RequestReview {
                desired_outcome,
                unsatisfied_with,
                received_at,
            } => self.request_review(
                &mut draft,
                &at,
                &desired_outcome,
                &unsatisfied_with,
                received_at,
            )?,
            Command::EscalateWithinStage { reason } => {
                self.escalate_within_stage(&mut draft, &at, &reason)?
            }
            Command::EscalateToDirector {
                desired_outcome,
                unsatisfied_with,
                received_at,
            } => self.escalate_to_director(
                &mut draft,
                &at,
                &desired_outcome,
                &unsatisfied_with,
                received_at,
            )?,
            Command::RecordTsaReferral { reference } => {
                self.record_tsa_referral(&mut draft, &at, &reference)?
            }
            Command::Close { reason } => self.close(&mut draft, &at, &reason)?,
            Command::AssignCase { assignee } => self.assign(&mut draft, &at, &assignee)?,
            Command::EraseComplainant { reason } => self.erase(&mut draft, &at, &reason)?,
            Command::RecordClockChange(change) => draft.event(change.event()?),
            Command::ReceiveCorrespondence { subject } => {
                self.receive_correspondence(&mut draft, &subject)
            }
            Command::LinkCase {
                other_case_id,
                other_register_number,
                relation,
            } => self.link(
                &mut draft,
                &at,
                other_case_id,
                other_register_number,
                relation,
            )?,
        }
        draft.end_assignment_on_handover(self.owner_role);
        if actor.role != Role::Service && !draft.events.is_empty() {
            // A person took a step: the case has had their attention.
            draft.case.needs_attention = false;
        }
        Ok(draft.finish(self.version))
    }

    /// The referrals still waiting for a department's answer.
    pub fn open_referrals(&self) -> impl Iterator<Item = &Referral> {
        self.referrals.iter().filter(|referral| referral.is_open())
    }

    /// The response issued at `stage`, if any.
    pub fn response_for(&self, stage: Stage) -> Option<&StageResponse> {
        self.responses
            .iter()
            .find(|response| response.stage == stage)
    }

    /// The policy section that decides the case's current stage. At
    /// [`Stage::External`], stage 3's: its decision is the one with the
    /// external body.
    pub fn stage_policy<'p>(&self, policy: &'p Policy) -> &'p StagePolicy {
        policy.stage(self.stage).unwrap_or(&policy.stage_3)
    }

    // -- the steps ---------------------------------------------------------

    fn add_note(&self, draft: &mut Draft, text: &str) -> Result<(), DomainError> {
        let text = Text::multi_line("text", text, Text::NOTE_MAX)?;
        draft.event(Event::NoteAdded { text });
        Ok(())
    }

    fn mark_acknowledged(&self, draft: &mut Draft, at: &Context<'_>) -> Result<(), DomainError> {
        if at.actor.role != Role::Service {
            self.require_stage_worker(at, Step::MarkAcknowledged)?;
        }
        if self.acknowledged_at.is_some() {
            return Ok(());
        }
        draft.case.acknowledged_at = Some(at.now);
        draft.event(Event::Acknowledged { stage: self.stage });
        if let Some(kind) = DeadlineKind::acknowledge(self.stage) {
            draft.settle(kind, DeadlineOutcome::Met);
        }
        Ok(())
    }

    /// R1: an acknowledgement staff gave outside the platform settles the
    /// current stage's acknowledge clock as a delivered one does. Recorded
    /// once per stage: a second is refused, so whoever records it hears that
    /// the stage was already acknowledged (a retry with the same request id
    /// is answered before this runs). Allowed, as marking it is, to the
    /// stage's owner and responders.
    fn record_acknowledgement(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        method: Option<AcknowledgementMethod>,
        reference: &str,
    ) -> Result<(), DomainError> {
        let mut violations = Vec::new();
        if method.is_none() {
            violations.push(FieldViolation::new(
                "method",
                format!(
                    "must be specified: one of {}",
                    AcknowledgementMethod::ALL
                        .map(AcknowledgementMethod::as_str)
                        .join(", ")
                ),
            ));
        }
        let reference = optional(reference, &mut violations, |value| {
            Text::single_line("reference", value, Text::REFERENCE_MAX)
        });
        let (Some(method), true) = (method, violations.is_empty()) else {
            return Err(DomainError::InvalidArgument(violations));
        };
        if let Some(acknowledged_at) = self.acknowledged_at {
            return Err(DomainError::FailedPrecondition(format!(
                "{} of case {} is already acknowledged (at {})",
                self.stage,
                self.register_number,
                acknowledged_at.to_rfc3339()
            )));
        }
        self.require_stage_worker(at, Step::RecordAcknowledgement)?;

        draft.case.acknowledged_at = Some(at.now);
        draft.event(Event::AcknowledgementRecorded {
            stage: self.stage,
            method,
            reference,
        });
        draft.event(Event::Acknowledged { stage: self.stage });
        if let Some(kind) = DeadlineKind::acknowledge(self.stage) {
            draft.settle(kind, DeadlineOutcome::Met);
        }
        Ok(())
    }

    /// A delivered notice is a fact: recorded at any stage and status, even
    /// on a closed case, once per notification. An acknowledgement of the
    /// current stage (the first letter at stage 1, the review's at 2 and 3)
    /// also marks that stage acknowledged.
    #[allow(clippy::too_many_arguments)]
    fn record_notice(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        notification_id: String,
        kind: NotifyKind,
        stage: Stage,
        channel: &str,
        route_note: &str,
    ) -> Result<(), DomainError> {
        let id = notification_id.trim();
        if id.is_empty() || id.len() > 100 {
            return Err(
                FieldViolation::new("notification_id", "must be 1 to 100 characters").into(),
            );
        }
        if self.notices.contains(id) {
            return Ok(());
        }
        let route_note = if route_note.trim().is_empty() {
            None
        } else {
            Some(Text::single_line("route_note", route_note, Text::NOTE_MAX)?)
        };
        draft.case.notices.insert(id.to_owned());
        draft.event(Event::NoticeSent {
            notification_id: id.to_owned(),
            notice: kind,
            stage,
            channel: Text::single_line("channel", channel, Text::REFERENCE_MAX)?,
            route_note,
        });
        let acknowledges = matches!(
            (kind, stage),
            (NotifyKind::Acknowledgement, Stage::Stage1)
                | (
                    NotifyKind::ReviewAcknowledgement,
                    Stage::Stage2 | Stage::Stage3
                )
        );
        if kind == NotifyKind::ReferralUpdate && self.status != CaseStatus::Closed {
            // R3 kept: the complainant has been told.
            draft.settle(DeadlineKind::ReferralUpdate, DeadlineOutcome::Met);
        }
        if acknowledges
            && stage == self.stage
            && self.acknowledged_at.is_none()
            && self.status != CaseStatus::Closed
        {
            draft.case.acknowledged_at = Some(at.now);
            draft.event(Event::Acknowledged { stage });
            if let Some(kind) = DeadlineKind::acknowledge(stage) {
                draft.settle(kind, DeadlineOutcome::Met);
            }
        }
        Ok(())
    }

    /// The complainant wrote again: the timeline keeps the subject, the
    /// owner role (and through it the assignee) is alerted. Nothing is
    /// sent to the complainant and no clock starts or restarts. A closed
    /// case stays closed and is flagged for a person instead.
    fn receive_correspondence(&self, draft: &mut Draft, subject: &str) {
        let one_line: String = subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(Text::SUMMARY_MAX)
            .collect();
        let subject = Text::single_line("subject", one_line.trim(), Text::SUMMARY_MAX)
            .or_else(|_| Text::single_line("subject", "(no subject)", Text::SUMMARY_MAX));
        let Ok(subject) = subject else {
            return;
        };
        let while_closed = self.status == CaseStatus::Closed;
        draft.event(Event::CorrespondenceReceived {
            subject,
            while_closed,
        });
        let reason = if while_closed {
            draft.case.needs_attention = true;
            format!(
                "the complainant wrote again about closed case {}; it needs attention",
                self.register_number
            )
        } else {
            format!(
                "the complainant wrote again about case {}",
                self.register_number
            )
        };
        draft.notify(NotifyRequest::alert(self.owner_role, self.stage, reason));
    }

    fn refer(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        referral_id: ReferralId,
        department: &str,
        question: &str,
    ) -> Result<(), DomainError> {
        let mut violations = Vec::new();
        let department = keep(
            Text::single_line("department", department, Text::REFERENCE_MAX),
            &mut violations,
        );
        let question = keep(
            Text::multi_line("question", question, Text::NOTE_MAX),
            &mut violations,
        );
        let (Some(department), Some(question)) = (department, question) else {
            return Err(DomainError::InvalidArgument(violations));
        };
        self.require_open_stage("refer it to a department")?;
        if self
            .referrals
            .iter()
            .any(|referral| referral.id == referral_id)
        {
            return Err(DomainError::FailedPrecondition(format!(
                "referral {referral_id} already exists on case {}",
                self.register_number
            )));
        }
        self.require_stage_worker(at, Step::ReferToDepartment)?;

        if self.stage == Stage::Stage1 {
            draft.case.stage_1_handlers.insert(at.actor.subject.clone());
        }
        draft.case.referrals.push(Referral {
            id: referral_id,
            stage: self.stage,
            department: department.clone(),
            question: question.clone(),
            opened_at: at.now,
            opened_by: at.actor.clone(),
            response: None,
            responded_at: None,
            responded_by: None,
        });
        draft.event(Event::Referred {
            referral_id,
            stage: self.stage,
            department,
            question,
        });
        // R3: past the day-5 point the complainant is told at once; before
        // it, the ReferralUpdate clock started at opening does it.
        if self.stage == Stage::Stage1 && at.now >= self.referral_update_due_at {
            draft.event(Event::ReferralUpdateDue { referral_id });
            draft.notify(NotifyRequest::to_complainant(
                NotifyKind::ReferralUpdate,
                Stage::Stage1,
            ));
        }
        Ok(())
    }

    fn record_department_response(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        referral_id: ReferralId,
        response: &str,
    ) -> Result<(), DomainError> {
        let mut violations = Vec::new();
        let response = keep(
            Text::multi_line("response", response, Text::NOTE_MAX),
            &mut violations,
        );
        let index = self
            .referrals
            .iter()
            .position(|referral| referral.id == referral_id);
        if index.is_none() {
            violations.push(FieldViolation::new(
                "referral_id",
                format!(
                    "case {} has no referral {referral_id}",
                    self.register_number
                ),
            ));
        }
        let (Some(response), Some(index)) = (response, index) else {
            return Err(DomainError::InvalidArgument(violations));
        };
        let Some(referral) = draft.case.referrals.get_mut(index) else {
            return Err(DomainError::InvalidArgument(violations));
        };
        if !referral.is_open() {
            return Err(DomainError::FailedPrecondition(format!(
                "referral {referral_id} to {} already has its response",
                referral.department
            )));
        }
        self.require_stage_worker(at, Step::RecordDepartmentResponse)?;

        referral.response = Some(response.clone());
        referral.responded_at = Some(at.now);
        referral.responded_by = Some(at.actor.clone());
        if self.stage == Stage::Stage1 {
            draft.case.stage_1_handlers.insert(at.actor.subject.clone());
        }
        draft.event(Event::DepartmentResponded {
            referral_id,
            response,
        });
        Ok(())
    }

    fn issue_stage_response(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        outcome: &str,
        finding: Option<Finding>,
        root_cause: &str,
        lessons_learned: &str,
    ) -> Result<(), DomainError> {
        let mut violations = Vec::new();
        let outcome = keep(
            Text::multi_line("outcome", outcome, Text::OUTCOME_MAX),
            &mut violations,
        );
        if finding.is_none() {
            violations.push(FieldViolation::new(
                "upheld",
                format!(
                    "must be specified: one of {}",
                    Finding::ALL.map(Finding::as_str).join(", ")
                ),
            ));
        }
        let root_cause = keep(root_cause_code(at.policy, root_cause), &mut violations);
        let lessons_learned = optional(lessons_learned, &mut violations, |value| {
            Text::multi_line("lessons_learned", value, Text::NOTE_MAX)
        });
        let (Some(outcome), Some(finding), Some(root_cause)) = (outcome, finding, root_cause)
        else {
            return Err(DomainError::InvalidArgument(violations));
        };
        if !violations.is_empty() {
            return Err(DomainError::InvalidArgument(violations));
        }
        self.require_open_stage("issue its response")?;
        if let Some(referral) = self.open_referrals().next() {
            return Err(DomainError::FailedPrecondition(format!(
                "referral {} to {} is still open; record the department's response before issuing the {} response",
                referral.id, referral.department, self.stage
            )));
        }
        self.require_responder(at)?;
        self.require_not_stage_1_handler(at, Step::IssueStageResponse)?;

        let stage = self.stage;
        if stage == Stage::Stage1 {
            draft.case.stage_1_handlers.insert(at.actor.subject.clone());
        }
        draft.case.status = CaseStatus::Responded;
        draft.case.responses.push(StageResponse {
            stage,
            outcome: outcome.clone(),
            finding,
            root_cause: root_cause.clone(),
            lessons_learned: lessons_learned.clone(),
            issued_by: at.actor.clone(),
            issued_at: at.now,
        });
        draft.event(Event::StageResponseIssued {
            stage,
            finding,
            root_cause,
            outcome,
            lessons_learned,
        });
        if let Some(kind) = DeadlineKind::respond(stage) {
            draft.settle(kind, DeadlineOutcome::Met);
        }
        if stage == Stage::Stage1 {
            draft.settle(DeadlineKind::ReferralUpdate, DeadlineOutcome::Cancelled);
        }
        if stage == Stage::Stage3 {
            draft.notify(NotifyRequest {
                external_body: Some(at.policy.external_body.clone()),
                ..NotifyRequest::to_complainant(NotifyKind::FinalResponse, stage)
            });
        } else {
            draft.notify(NotifyRequest::to_complainant(
                NotifyKind::StageResponse,
                stage,
            ));
        }
        Ok(())
    }

    fn request_review(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        desired_outcome: &str,
        unsatisfied_with: &str,
        received_at: Option<DateTime<Utc>>,
    ) -> Result<(), DomainError> {
        let escalation = escalation_request(at, desired_outcome, unsatisfied_with, received_at)?;
        if self.stage != Stage::Stage1 {
            return Err(DomainError::FailedPrecondition(format!(
                "a review follows the stage 1 response; case {} is already at {}",
                self.register_number, self.stage
            )));
        }
        if self.status != CaseStatus::Responded {
            return Err(DomainError::FailedPrecondition(format!(
                "case {} has no stage 1 response yet; a review can be requested only after it",
                self.register_number
            )));
        }
        self.require_received_after_response(&escalation, Stage::Stage1)?;
        let stage_2 = &at.policy.stage_2;
        draft.enter_stage(Stage::Stage2, stage_2.owner);
        draft.case.review_request = Some(escalation.clone());
        draft.event(Event::ReviewRequested {
            desired_outcome: escalation.desired_outcome,
            unsatisfied_with: escalation.unsatisfied_with,
            owner_role: stage_2.owner,
            received_at: Some(escalation.received_at),
            recorded_at: Some(escalation.requested_at),
        });
        draft.start_stage_clocks(Stage::Stage2, escalation.received_at, at);
        draft.notify(NotifyRequest::to_complainant(
            NotifyKind::ReviewAcknowledgement,
            Stage::Stage2,
        ));
        draft.notify(NotifyRequest::alert(
            stage_2.owner,
            Stage::Stage2,
            format!("review requested for case {}", self.register_number),
        ));
        Ok(())
    }

    fn escalate_within_stage(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        reason: &str,
    ) -> Result<(), DomainError> {
        let reason = Text::multi_line("reason", reason, Text::NOTE_MAX)?;
        self.require_open_stage("escalate it within the stage")?;
        let stage_policy = self.stage_policy(at.policy);
        let to_role = stage_policy.escalation;
        if to_role == stage_policy.owner || !stage_policy.responders.contains(&to_role) {
            return Err(DomainError::FailedPrecondition(format!(
                "{} has no escalation within the stage; the policy's escalation role {to_role} does not decide it",
                self.stage
            )));
        }
        if self.owner_role == to_role {
            return Err(DomainError::FailedPrecondition(format!(
                "case {} is already escalated within {} to {to_role}",
                self.register_number, self.stage
            )));
        }
        if at.actor.role != Role::Service && at.actor.role != stage_policy.owner {
            return Err(DomainError::PermissionDenied(format!(
                "role {} may not escalate_within_stage at {}; its owner {} or the platform may",
                at.actor.role, self.stage, stage_policy.owner
            )));
        }
        self.require_not_stage_1_handler(at, Step::EscalateWithinStage)?;

        draft.case.owner_role = to_role;
        draft.event(Event::EscalatedWithinStage {
            stage: self.stage,
            from_role: self.owner_role,
            to_role,
            reason,
        });
        draft.notify(NotifyRequest::alert(
            to_role,
            self.stage,
            format!(
                "case {} escalated to you within {}",
                self.register_number, self.stage
            ),
        ));
        Ok(())
    }

    fn escalate_to_director(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        desired_outcome: &str,
        unsatisfied_with: &str,
        received_at: Option<DateTime<Utc>>,
    ) -> Result<(), DomainError> {
        let escalation = escalation_request(at, desired_outcome, unsatisfied_with, received_at)?;
        match (self.stage, self.status) {
            (Stage::Stage2, CaseStatus::Responded) => {}
            (Stage::Stage1, _) => {
                return Err(DomainError::FailedPrecondition(format!(
                    "case {} is at stage_1; escalation to a director follows a stage 2 review, so request a review first",
                    self.register_number
                )));
            }
            (Stage::Stage2, _) => {
                return Err(DomainError::FailedPrecondition(format!(
                    "case {} has no stage 2 response yet; escalation to a director can be requested only after it",
                    self.register_number
                )));
            }
            (stage, _) => {
                return Err(DomainError::FailedPrecondition(format!(
                    "case {} is already at {stage}",
                    self.register_number
                )));
            }
        }
        self.require_received_after_response(&escalation, Stage::Stage2)?;
        let stage_3 = &at.policy.stage_3;
        draft.enter_stage(Stage::Stage3, stage_3.owner);
        draft.case.director_request = Some(escalation.clone());
        draft.event(Event::EscalatedToDirector {
            desired_outcome: escalation.desired_outcome,
            unsatisfied_with: escalation.unsatisfied_with,
            owner_role: stage_3.owner,
            received_at: Some(escalation.received_at),
            recorded_at: Some(escalation.requested_at),
        });
        draft.start_stage_clocks(Stage::Stage3, escalation.received_at, at);
        draft.notify(NotifyRequest::to_complainant(
            NotifyKind::ReviewAcknowledgement,
            Stage::Stage3,
        ));
        draft.notify(NotifyRequest::alert(
            stage_3.owner,
            Stage::Stage3,
            format!("case {} escalated to a director", self.register_number),
        ));
        Ok(())
    }

    fn record_tsa_referral(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        reference: &str,
    ) -> Result<(), DomainError> {
        let reference = Text::single_line("reference", reference, Text::REFERENCE_MAX)?;
        if (self.stage, self.status) != (Stage::Stage3, CaseStatus::Responded) {
            return Err(DomainError::FailedPrecondition(format!(
                "a referral to the {} follows the stage 3 final response; case {} is at {} ({})",
                at.policy.external_body.short_name, self.register_number, self.stage, self.status
            )));
        }
        draft.case.stage = Stage::External;
        draft.case.status = CaseStatus::Open;
        draft.case.tsa_reference = Some(reference.clone());
        draft.event(Event::TsaReferralRecorded { reference });
        Ok(())
    }

    /// The complaints department closes at any stage, the stage's owner and
    /// responders at theirs; and closing a stage 2 review decides it, so
    /// whoever handled stage 1 may not, in any role (R5).
    fn close(&self, draft: &mut Draft, at: &Context<'_>, reason: &str) -> Result<(), DomainError> {
        let reason = Text::multi_line("reason", reason, Text::NOTE_MAX)?;
        if at.actor.role != Role::ComplaintsHandler {
            self.require_stage_worker(at, Step::Close)?;
        }
        self.require_not_stage_1_handler(at, Step::Close)?;
        draft.case.status = CaseStatus::Closed;
        draft.case.closed_reason = Some(reason.clone());
        draft.case.closed_at = Some(at.now);
        draft.event(Event::Closed {
            stage: self.stage,
            reason,
        });
        for kind in DeadlineKind::ALL {
            draft.settle(kind, DeadlineOutcome::Cancelled);
        }
        Ok(())
    }

    /// Names the person who handles the case for its owner role or, given
    /// an empty `assignee`, clears the name. Allowed as closing is: to the
    /// complaints department at any stage, otherwise to the current stage's
    /// owner and responders, and (R5) never to someone who handled stage 1
    /// while the case is in its stage 2 review. Nor is that review assigned
    /// to someone who handled stage 1. Naming the person already named, or
    /// clearing an unassigned case, changes nothing.
    fn assign(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        assignee: &str,
    ) -> Result<(), DomainError> {
        let assignee = if assignee.trim().is_empty() {
            None
        } else {
            Some(Text::single_line("assignee", assignee, Case::ASSIGNEE_MAX)?)
        };
        if let Some(name) = &assignee
            && self.stage == Stage::Stage2
            && self.stage_1_handlers.contains(name.as_str())
        {
            return Err(DomainError::FailedPrecondition(format!(
                "{name} handled stage 1 of case {} and may not have its stage 2 review (R5)",
                self.register_number
            )));
        }
        if at.actor.role != Role::ComplaintsHandler {
            self.require_stage_worker(at, Step::AssignCase)?;
        }
        self.require_not_stage_1_handler(at, Step::AssignCase)?;
        if assignee == self.assignee {
            return Ok(());
        }
        draft.case.assignee = assignee.clone();
        match (assignee, self.assignee.clone()) {
            (Some(assignee), previous_assignee) => draft.event(Event::Assigned {
                assignee,
                previous_assignee,
            }),
            (None, Some(previous_assignee)) => draft.event(Event::Unassigned {
                previous_assignee,
                owner_role: self.owner_role,
            }),
            (None, None) => {}
        }
        Ok(())
    }

    /// Records a link to another case, or changes its relation. Linking
    /// is a cross-reference, not a step in handling the complaint, so a
    /// closed or external case takes it too (a new complaint may repeat one
    /// closed long ago). Linking again with the same relation changes
    /// nothing; a case is never linked to itself.
    fn link(
        &self,
        draft: &mut Draft,
        at: &Context<'_>,
        other_case_id: CaseId,
        other_register_number: RegisterNumber,
        relation: LinkRelation,
    ) -> Result<(), DomainError> {
        if other_case_id == self.id {
            return Err(FieldViolation::new(
                "other_case_id",
                "must be another case than case_id: a case is not linked to itself",
            )
            .into());
        }
        let existing = self
            .linked_cases
            .iter()
            .position(|link| link.case_id == other_case_id);
        let previous_relation = existing.map(|index| self.linked_cases[index].relation);
        if previous_relation == Some(relation) {
            return Ok(());
        }
        let link = CaseLink {
            case_id: other_case_id,
            register_number: other_register_number.clone(),
            relation,
            linked_at: at.now,
        };
        match existing {
            Some(index) => draft.case.linked_cases[index] = link,
            None => draft.case.linked_cases.push(link),
        }
        draft.event(Event::Linked {
            other_case_id,
            other_register_number,
            relation,
            previous_relation,
        });
        Ok(())
    }

    fn erase(&self, draft: &mut Draft, at: &Context<'_>, reason: &str) -> Result<(), DomainError> {
        let reason = Text::multi_line("reason", reason, Text::NOTE_MAX)?;
        if self.complainant.is_erased() {
            return Err(DomainError::FailedPrecondition(format!(
                "the complainant of case {} has already been erased",
                self.register_number
            )));
        }
        draft.case.complainant = Complainant::anonymised();
        // The summary is the complainant's words (an emailed complaint's
        // subject line), so it goes with them.
        draft.case.summary = Text::single_line("summary", Case::ERASED_SUMMARY, Text::SUMMARY_MAX)?;
        draft.case.details = None;
        draft.case.erased_at = Some(at.now);
        draft.event(Event::ComplainantErased { reason });
        Ok(())
    }

    // -- shared checks -----------------------------------------------------

    /// The current stage is still being worked: its response not yet issued.
    fn require_open_stage(&self, doing: &str) -> Result<(), DomainError> {
        if self.status == CaseStatus::Open {
            return Ok(());
        }
        Err(DomainError::FailedPrecondition(format!(
            "the {} response of case {} has been issued; it is too late to {doing}",
            self.stage, self.register_number
        )))
    }

    /// The actor's role works the current stage: its owner (including the
    /// escalation owner), or one of its responders.
    fn require_stage_worker(&self, at: &Context<'_>, step: Step) -> Result<(), DomainError> {
        let stage_policy = self.stage_policy(at.policy);
        let role = at.actor.role;
        if role == stage_policy.owner
            || role == self.owner_role
            || stage_policy.responders.contains(&role)
        {
            return Ok(());
        }
        Err(DomainError::PermissionDenied(format!(
            "role {role} may not {step} at {}; {} owns it and {} respond",
            self.stage,
            self.owner_role,
            role_list(&stage_policy.responders)
        )))
    }

    /// The actor's role is one of the current stage's responders.
    fn require_responder(&self, at: &Context<'_>) -> Result<(), DomainError> {
        let stage_policy = self.stage_policy(at.policy);
        if stage_policy.responders.contains(&at.actor.role) {
            return Ok(());
        }
        Err(DomainError::PermissionDenied(format!(
            "role {} may not issue_stage_response at {}; only {} may",
            at.actor.role,
            self.stage,
            role_list(&stage_policy.responders)
        )))
    }

    /// A request to go up a stage answers that stage's response, so it
    /// cannot have been received before the response was issued. Checked
    /// after the stage and status, which say whether there is a response.
    fn require_received_after_response(
        &self,
        request: &Escalation,
        answered: Stage,
    ) -> Result<(), DomainError> {
        let Some(response) = self.response_for(answered) else {
            return Ok(());
        };
        if request.received_at < response.issued_at {
            return Err(FieldViolation::new(
                "received_at",
                format!(
                    "must not be before the {answered} response it answers (issued at {}; it is {})",
                    response.issued_at.to_rfc3339(),
                    request.received_at.to_rfc3339()
                ),
            )
            .into());
        }
        Ok(())
    }

    /// R5: whoever handled stage 1 does not decide stage 2.
    fn require_not_stage_1_handler(&self, at: &Context<'_>, step: Step) -> Result<(), DomainError> {
        if self.stage == Stage::Stage2 && self.stage_1_handlers.contains(&at.actor.subject) {
            return Err(DomainError::PermissionDenied(format!(
                "{} handled stage 1 of case {} and may not {step} in its stage 2 review",
                at.actor.subject, self.register_number
            )));
        }
        Ok(())
    }
}

/// What every step is given besides the case and the command.
struct Context<'a> {
    actor: &'a Actor,
    now: DateTime<Utc>,
    policy: &'a Policy,
    calendar: &'a Calendar,
}

/// A transition being built: the new case and its effects so far.
struct Draft {
    case: Case,
    events: Vec<Event>,
    deadlines: Vec<DeadlineSpec>,
    settle: Vec<(DeadlineKind, DeadlineOutcome)>,
    notify: Vec<NotifyRequest>,
}

impl Draft {
    fn new(case: Case) -> Self {
        Self {
            case,
            events: Vec::new(),
            deadlines: Vec::new(),
            settle: Vec::new(),
            notify: Vec::new(),
        }
    }

    fn event(&mut self, event: Event) {
        self.events.push(event);
    }

    fn settle(&mut self, kind: DeadlineKind, outcome: DeadlineOutcome) {
        self.settle.push((kind, outcome));
    }

    fn notify(&mut self, request: NotifyRequest) {
        self.notify.push(request);
    }

    fn start_clock(
        &mut self,
        kind: DeadlineKind,
        start: DateTime<Utc>,
        working_days: u32,
        stage_policy: &StagePolicy,
        calendar: &Calendar,
    ) {
        self.deadlines.push(DeadlineSpec {
            kind,
            stage: kind.stage(),
            working_days,
            started_at: start,
            due: calendar.due(start, working_days),
            reason: calendar.explain(start, working_days),
            owner_role: stage_policy.owner,
            escalation_role: stage_policy.escalation,
        });
    }

    /// Starts a review stage's acknowledge and respond clocks from `start`,
    /// when the complainant's request was received.
    fn start_stage_clocks(&mut self, stage: Stage, start: DateTime<Utc>, at: &Context<'_>) {
        let Some(stage_policy) = at.policy.stage(stage) else {
            return;
        };
        if let Some(kind) = DeadlineKind::acknowledge(stage) {
            self.start_clock(
                kind,
                start,
                stage_policy.acknowledge_days,
                stage_policy,
                at.calendar,
            );
        }
        if let Some(kind) = DeadlineKind::respond(stage) {
            self.start_clock(
                kind,
                start,
                stage_policy.respond_days,
                stage_policy,
                at.calendar,
            );
        }
    }

    /// An assignment names a person working for the owner role: when a step
    /// hands the case to another role (a review, an escalation), it ends,
    /// and the timeline says so.
    fn end_assignment_on_handover(&mut self, owner_before: Role) {
        if self.case.owner_role == owner_before {
            return;
        }
        if let Some(previous_assignee) = self.case.assignee.take() {
            self.event(Event::Unassigned {
                previous_assignee,
                owner_role: self.case.owner_role,
            });
        }
    }

    fn enter_stage(&mut self, stage: Stage, owner: Role) {
        self.case.stage = stage;
        self.case.status = CaseStatus::Open;
        self.case.owner_role = owner;
        self.case.acknowledged_at = None;
    }

    fn finish(mut self, base_version: u64) -> Transition {
        self.case.version = base_version + self.events.len() as u64;
        Transition {
            case: self.case,
            events: self.events,
            deadlines: self.deadlines,
            settle: self.settle,
            notify: self.notify,
        }
    }
}

/// R4/R6: both parts of a complainant's request to go up a stage, each
/// reported if missing, and when it was received ([`receipt::received_at`]).
fn escalation_request(
    at: &Context<'_>,
    desired_outcome: &str,
    unsatisfied_with: &str,
    received_at: Option<DateTime<Utc>>,
) -> Result<Escalation, DomainError> {
    let mut violations = Vec::new();
    let desired_outcome = keep(
        Text::multi_line("desired_outcome", desired_outcome, Text::OUTCOME_MAX),
        &mut violations,
    );
    let unsatisfied_with = keep(
        Text::multi_line("unsatisfied_with", unsatisfied_with, Text::OUTCOME_MAX),
        &mut violations,
    );
    let received_at = keep(
        receipt::received_at("received_at", received_at, at.now),
        &mut violations,
    );
    match (desired_outcome, unsatisfied_with, received_at) {
        (Some(desired_outcome), Some(unsatisfied_with), Some(received_at)) => Ok(Escalation {
            desired_outcome,
            unsatisfied_with,
            received_at,
            requested_at: at.now,
            requested_by: at.actor.clone(),
        }),
        _ => Err(DomainError::InvalidArgument(violations)),
    }
}

/// A root-cause code of the policy's taxonomy.
fn root_cause_code(policy: &Policy, raw: &str) -> Result<String, FieldViolation> {
    let code = raw.trim();
    let known = || {
        policy
            .root_causes
            .iter()
            .map(|cause| cause.code.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if code.is_empty() {
        return Err(FieldViolation::new(
            "root_cause",
            format!("must not be empty; one of {}", known()),
        ));
    }
    match policy.root_cause(code) {
        Some(cause) => Ok(cause.code.clone()),
        None => Err(FieldViolation::new(
            "root_cause",
            format!("unknown root cause {code:?}; expected one of {}", known()),
        )),
    }
}

fn role_list(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
