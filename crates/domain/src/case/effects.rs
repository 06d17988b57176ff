//! What a transition causes: the events for the timeline, the deadlines to
//! start or settle, and the notifications to send.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Due;
use crate::complainant::Channel;
use crate::policy::{ExternalBody, Stage};
use crate::role::Role;
use crate::values::{RegisterNumber, Text};

use super::Case;
use super::evidence::EvidenceSource;
use super::links::LinkRelation;
use super::types::{
    AcknowledgementMethod, CaseId, DeadlineKind, DeadlineOutcome, EvidenceId, Finding, ReferralId,
};

/// The result of a step: the case as it now is and everything the step
/// caused. Storage writes `case` and `events` (and the outbox rows for
/// `deadlines`, `settle` and `notify`) in one transaction, or nothing.
///
/// `case.version` is the previous version plus `events.len()`. A transition
/// with no events (a repeated [`super::Command::MarkAcknowledged`]) changes
/// nothing and has nothing to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub case: Case,
    pub events: Vec<Event>,
    /// Clocks to start, computed once, now, from the case's policy.
    pub deadlines: Vec<DeadlineSpec>,
    /// Pending deadlines of this case to end. A settle for a kind with no
    /// pending deadline (already met, breached or cancelled, or never
    /// started) is a no-op for the receiver.
    pub settle: Vec<(DeadlineKind, DeadlineOutcome)>,
    pub notify: Vec<NotifyRequest>,
}

impl Transition {
    /// Nothing happened: nothing to store or send.
    pub fn is_noop(&self) -> bool {
        self.events.is_empty()
    }
}

/// A clock to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineSpec {
    pub kind: DeadlineKind,
    pub stage: Stage,
    /// The policy's target, in working days from the clock's start.
    pub working_days: u32,
    /// The instant the clock runs from: when the complaint, the review
    /// request or the director request was received. `due` counts from its
    /// local date.
    pub started_at: DateTime<Utc>,
    pub due: Due,
    /// How the due date was reached, from [`crate::calendar::Calendar::explain`].
    pub reason: String,
    /// Who is warned before it is due.
    pub owner_role: Role,
    /// Who is alerted when it is breached.
    pub escalation_role: Role,
}

/// What the notification service must send because of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// R1, R9, R10: the stage 1 acknowledgement quoting the register number.
    Acknowledgement,
    /// R3: the complaint was referred to another department; updates will follow.
    ReferralUpdate,
    /// A stage 1 or stage 2 response.
    StageResponse,
    /// Acknowledges a request for review (stage 2) or escalation to a
    /// director (stage 3).
    ReviewAcknowledgement,
    /// The stage 3 response, which must say how to refer to the external body (R7).
    FinalResponse,
    /// To staff, not the complainant: `to_role` says who.
    InternalAlert,
    /// A deadline moved (an extension, or the case's clocks resumed after a
    /// pause): the new date and why (docs/policy.md, Working days,
    /// Extensions and pauses).
    Extension,
    /// The stage 1 resolution date passed without an extension: when the
    /// complainant will hear from us next.
    HoldingUpdate,
}

impl NotifyKind {
    pub const ALL: [NotifyKind; 8] = [
        NotifyKind::Acknowledgement,
        NotifyKind::ReferralUpdate,
        NotifyKind::StageResponse,
        NotifyKind::ReviewAcknowledgement,
        NotifyKind::FinalResponse,
        NotifyKind::InternalAlert,
        NotifyKind::Extension,
        NotifyKind::HoldingUpdate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Acknowledgement => "acknowledgement",
            NotifyKind::ReferralUpdate => "referral_update",
            NotifyKind::StageResponse => "stage_response",
            NotifyKind::ReviewAcknowledgement => "review_acknowledgement",
            NotifyKind::FinalResponse => "final_response",
            NotifyKind::InternalAlert => "internal_alert",
            NotifyKind::Extension => "extension",
            NotifyKind::HoldingUpdate => "holding_update",
        }
    }
}

/// One notification to send. The notification service reads the rest
/// (register number, complainant, response text) from the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyRequest {
    pub kind: NotifyKind,
    /// The stage it is about.
    pub stage: Stage,
    /// For [`NotifyKind::InternalAlert`]: the role to alert. `None` for
    /// anything addressed to the complainant.
    pub to_role: Option<Role>,
    /// For [`NotifyKind::FinalResponse`]: the body the complainant may refer
    /// to, from the case's policy; the letter must name it.
    pub external_body: Option<ExternalBody>,
    /// For [`NotifyKind::InternalAlert`]: why, in a sentence.
    pub reason: Option<String>,
}

impl NotifyRequest {
    /// A notification to the complainant.
    pub fn to_complainant(kind: NotifyKind, stage: Stage) -> Self {
        Self {
            kind,
            stage,
            to_role: None,
            external_body: None,
            reason: None,
        }
    }

    /// An alert to staff in `role`.
    pub fn alert(role: Role, stage: Stage, reason: impl Into<String>) -> Self {
        Self {
            kind: NotifyKind::InternalAlert,
            stage,
            to_role: Some(role),
            external_body: None,
            reason: Some(reason.into()),
        }
    }
}

/// One entry of the case's timeline: what happened, with its details. The
/// store wraps it with the actor and the time and chains it by hash.
///
/// Serialised internally tagged by [`Event::kind`], so a stored event reads
/// `{"kind": "case.note_added", "text": "..."}`. Events carry no personal
/// data of the complainant (name, contact details), so erasure never has to
/// rewrite the hash-chained timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Event {
    #[serde(rename = "case.received")]
    Received {
        register_number: RegisterNumber,
        channel: Channel,
        received_at: DateTime<Utc>,
        stage: Stage,
        owner_role: Role,
        policy_version: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recorded_by: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scan_reference: Option<Text>,
        /// The complainant's other open cases found at opening
        /// ([`Transition::flag_possible_duplicates`]); absent when none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        possible_duplicate_of: Vec<CaseId>,
    },
    #[serde(rename = "case.acknowledged")]
    Acknowledged { stage: Stage },
    /// Staff acknowledged the stage outside the platform (R1); followed by
    /// `case.acknowledged`. The timeline row names who recorded it.
    #[serde(rename = "case.acknowledgement_recorded")]
    AcknowledgementRecorded {
        stage: Stage,
        method: AcknowledgementMethod,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<Text>,
    },
    #[serde(rename = "case.note_added")]
    NoteAdded { text: Text },
    #[serde(rename = "case.referred")]
    Referred {
        referral_id: ReferralId,
        stage: Stage,
        department: Text,
        question: Text,
    },
    /// R3: a referral opened after the day-5 point; the complainant is told at once.
    #[serde(rename = "case.referral_update_due")]
    ReferralUpdateDue { referral_id: ReferralId },
    #[serde(rename = "case.department_responded")]
    DepartmentResponded {
        referral_id: ReferralId,
        response: Text,
    },
    #[serde(rename = "case.stage_response_issued")]
    StageResponseIssued {
        stage: Stage,
        finding: Finding,
        root_cause: String,
        outcome: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lessons_learned: Option<Text>,
    },
    /// `received_at` is when the complainant asked (the stage 2 clocks
    /// count from it), `recorded_at` when it was keyed in. Both are absent
    /// from events recorded before they were kept.
    #[serde(rename = "case.review_requested")]
    ReviewRequested {
        desired_outcome: Text,
        unsatisfied_with: Text,
        owner_role: Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        received_at: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recorded_at: Option<DateTime<Utc>>,
    },
    #[serde(rename = "case.escalated_within_stage")]
    EscalatedWithinStage {
        stage: Stage,
        from_role: Role,
        to_role: Role,
        reason: Text,
    },
    /// As [`Event::ReviewRequested`], for stage 3.
    #[serde(rename = "case.escalated_to_director")]
    EscalatedToDirector {
        desired_outcome: Text,
        unsatisfied_with: Text,
        owner_role: Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        received_at: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recorded_at: Option<DateTime<Utc>>,
    },
    #[serde(rename = "case.tsa_referral_recorded")]
    TsaReferralRecorded { reference: Text },
    #[serde(rename = "case.closed")]
    Closed { stage: Stage, reason: Text },
    /// A named person handles the case for its owner role (a token
    /// subject: staff, never the complainant).
    #[serde(rename = "case.assigned")]
    Assigned {
        assignee: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_assignee: Option<Text>,
    },
    /// Nobody is named any more: cleared by a caller, or ended because the
    /// case passed to another role (`owner_role`, the role that now has it).
    #[serde(rename = "case.unassigned")]
    Unassigned {
        previous_assignee: Text,
        owner_role: Role,
    },
    #[serde(rename = "case.notice_sent")]
    NoticeSent {
        notification_id: String,
        notice: NotifyKind,
        stage: Stage,
        channel: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        route_note: Option<Text>,
    },
    #[serde(rename = "case.complainant_erased")]
    ComplainantErased { reason: Text },
    /// The complainant wrote again (a reply by email): only the subject is
    /// kept here; who sent it and its Message-ID are in the case's
    /// correspondence, which erasure can reach. `while_closed` when it came
    /// after the case closed (the case then needs a person's attention).
    #[serde(rename = "correspondence.received")]
    CorrespondenceReceived {
        subject: Text,
        #[serde(default)]
        while_closed: bool,
    },
    /// Staff linked the case to another (each of the two cases records
    /// one); `previous_relation` when it changed an earlier link's relation.
    #[serde(rename = "case.linked")]
    Linked {
        other_case_id: CaseId,
        other_register_number: RegisterNumber,
        relation: LinkRelation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_relation: Option<LinkRelation>,
    },
    /// A piece of evidence was added; its bytes are stored under `sha256`.
    /// Its description is kept with the evidence, not here.
    #[serde(rename = "evidence.added")]
    EvidenceAdded {
        evidence_id: EvidenceId,
        filename: Text,
        media_type: String,
        sha256: String,
        size_bytes: u64,
        source: EvidenceSource,
    },
    /// A pending deadline was extended at `requested_by`'s request (a
    /// token subject); the escalation service moved it.
    #[serde(rename = "clocks.extended")]
    ClocksExtended {
        deadline: DeadlineKind,
        extra_working_days: u32,
        previous_due_date: NaiveDate,
        due_date: NaiveDate,
        reason: Text,
        requested_by: Text,
    },
    /// The case's clocks were paused at `requested_by`'s request.
    #[serde(rename = "clocks.paused")]
    ClocksPaused { reason: Text, requested_by: Text },
    /// The case's clocks run again; the pause took `paused_working_days`.
    #[serde(rename = "clocks.resumed")]
    ClocksResumed {
        paused_working_days: u32,
        reason: Text,
        requested_by: Text,
    },
    /// A file that came with the complaint was not kept: the evidence
    /// limits refused it (`reason` says which).
    #[serde(rename = "evidence.refused")]
    EvidenceRefused {
        filename: Text,
        source: EvidenceSource,
        reason: Text,
    },
}

impl Event {
    /// Every kind, as stored and shown in the timeline.
    pub const KINDS: [&'static str; 24] = [
        "case.received",
        "case.acknowledged",
        "case.acknowledgement_recorded",
        "case.note_added",
        "case.referred",
        "case.referral_update_due",
        "case.department_responded",
        "case.stage_response_issued",
        "case.review_requested",
        "case.escalated_within_stage",
        "case.escalated_to_director",
        "case.tsa_referral_recorded",
        "case.closed",
        "case.assigned",
        "case.unassigned",
        "case.notice_sent",
        "case.complainant_erased",
        "correspondence.received",
        "case.linked",
        "evidence.added",
        "evidence.refused",
        "clocks.extended",
        "clocks.paused",
        "clocks.resumed",
    ];

    /// The stable name of the event's kind; equal to its serde tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Received { .. } => "case.received",
            Event::Acknowledged { .. } => "case.acknowledged",
            Event::AcknowledgementRecorded { .. } => "case.acknowledgement_recorded",
            Event::NoteAdded { .. } => "case.note_added",
            Event::Referred { .. } => "case.referred",
            Event::ReferralUpdateDue { .. } => "case.referral_update_due",
            Event::DepartmentResponded { .. } => "case.department_responded",
            Event::StageResponseIssued { .. } => "case.stage_response_issued",
            Event::ReviewRequested { .. } => "case.review_requested",
            Event::EscalatedWithinStage { .. } => "case.escalated_within_stage",
            Event::EscalatedToDirector { .. } => "case.escalated_to_director",
            Event::TsaReferralRecorded { .. } => "case.tsa_referral_recorded",
            Event::Closed { .. } => "case.closed",
            Event::Assigned { .. } => "case.assigned",
            Event::Unassigned { .. } => "case.unassigned",
            Event::NoticeSent { .. } => "case.notice_sent",
            Event::ComplainantErased { .. } => "case.complainant_erased",
            Event::CorrespondenceReceived { .. } => "correspondence.received",
            Event::Linked { .. } => "case.linked",
            Event::EvidenceAdded { .. } => "evidence.added",
            Event::EvidenceRefused { .. } => "evidence.refused",
            Event::ClocksExtended { .. } => "clocks.extended",
            Event::ClocksPaused { .. } => "clocks.paused",
            Event::ClocksResumed { .. } => "clocks.resumed",
        }
    }
}
