//! What callers ask of a case, and which roles may ask it (docs/policy.md, Roles).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::role::Role;

use super::clock_change::ClockChange;
use super::effects::NotifyKind;
use super::evidence::NewEvidence;
use super::links::LinkRelation;
use super::types::{AcknowledgementMethod, CaseId, Finding, ReferralId};
use crate::policy::Stage;
use crate::values::RegisterNumber;

/// A step on an existing case. Text fields hold what the user typed, raw;
/// [`super::Case::apply`] validates them and names a bad one by its field in
/// the gRPC request. As in proto3, an empty optional string means absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    AddNote {
        text: String,
    },
    /// Records a piece of evidence whose bytes are already stored (by their
    /// SHA-256). Taken at any stage but not on a closed case; refused
    /// before its bytes are stored when it would be refused after.
    AddEvidence(NewEvidence),
    /// The acknowledgement of the current stage was sent. A second one for
    /// the same stage is a no-op (an empty [`super::Transition`]), so an
    /// at-least-once sender may repeat it.
    MarkAcknowledged,
    /// Staff acknowledged the current stage outside the platform (a call, a
    /// letter sent by hand): marks it acknowledged as a delivered
    /// acknowledgement does (R1). Unlike [`Command::MarkAcknowledged`], a
    /// second one for the same stage is refused: a person recording it twice
    /// should hear that it was already done.
    RecordAcknowledgement {
        /// `None` for the contract's `ACKNOWLEDGEMENT_METHOD_UNSPECIFIED`.
        method: Option<AcknowledgementMethod>,
        /// Optional: empty means none.
        reference: String,
    },
    ReferToDepartment {
        referral_id: ReferralId,
        department: String,
        question: String,
    },
    RecordDepartmentResponse {
        referral_id: ReferralId,
        response: String,
    },
    IssueStageResponse {
        outcome: String,
        /// The contract's `upheld`; `None` for `UPHELD_UNSPECIFIED`.
        finding: Option<Finding>,
        root_cause: String,
        /// Optional: empty means none.
        lessons_learned: String,
    },
    RequestReview {
        desired_outcome: String,
        unsatisfied_with: String,
        /// When the complainant asked; `None` means now. The stage 2 clocks
        /// count from it.
        received_at: Option<DateTime<Utc>>,
    },
    /// Within stage 2: ownership moves from the CX Manager to the Operations
    /// Lead (the stage's `escalation` role in the policy).
    EscalateWithinStage {
        reason: String,
    },
    EscalateToDirector {
        desired_outcome: String,
        unsatisfied_with: String,
        /// When the complainant asked; `None` means now. The stage 3 clocks
        /// count from it.
        received_at: Option<DateTime<Utc>>,
    },
    RecordTsaReferral {
        reference: String,
    },
    Close {
        reason: String,
    },
    /// Names the person who handles the case for its owner role (a token
    /// subject, as typed: validated by [`super::Case::apply`]), or, when
    /// `assignee` is empty, clears the assignment. Assigning the person
    /// already assigned, or clearing an unassigned case, changes nothing.
    AssignCase {
        assignee: String,
    },
    /// Anonymise the complainant (retention or a data-subject request). The
    /// only step a closed case accepts.
    /// The notification service delivered something to the complainant:
    /// recorded on the timeline once per notification; an acknowledgement
    /// of the current stage also marks the stage acknowledged (R1).
    RecordNotice {
        notification_id: String,
        kind: NotifyKind,
        stage: Stage,
        channel: String,
        route_note: String,
    },
    EraseComplainant {
        reason: String,
    },
    /// The escalation service moved the case's clocks at a person's request
    /// (an extension, a pause, a resume): recorded on the timeline with who
    /// asked. Taken at any stage but not on a closed case; the escalation
    /// service repeats it under the same request id, which the case service
    /// answers once.
    RecordClockChange(ClockChange),
    /// The complainant wrote again about the case (an email answering one
    /// of ours, or quoting the register number): recorded on the timeline
    /// with its subject only, and the case's owner alerted. No clock starts
    /// and nothing goes to the complainant. A closed case takes it too, is
    /// not reopened, and is flagged as needing a person's attention.
    ReceiveCorrespondence {
        /// The message's subject, as received; made one line and cut to
        /// [`crate::values::Text::SUMMARY_MAX`] characters.
        subject: String,
    },
    /// Links the case to another one (the same link is recorded on the
    /// other case by a second `LinkCase` in the same transaction). Linking
    /// again with the same relation changes nothing; another relation
    /// replaces the earlier one.
    LinkCase {
        other_case_id: CaseId,
        /// The other case's register number, shown with the link.
        other_register_number: RegisterNumber,
        relation: LinkRelation,
    },
}

impl Command {
    /// The step this command is, for the permission table.
    pub fn step(&self) -> Step {
        match self {
            Command::AddNote { .. } => Step::AddNote,
            Command::AddEvidence(_) => Step::AddEvidence,
            Command::MarkAcknowledged => Step::MarkAcknowledged,
            Command::RecordAcknowledgement { .. } => Step::RecordAcknowledgement,
            Command::ReferToDepartment { .. } => Step::ReferToDepartment,
            Command::RecordDepartmentResponse { .. } => Step::RecordDepartmentResponse,
            Command::IssueStageResponse { .. } => Step::IssueStageResponse,
            Command::RequestReview { .. } => Step::RequestReview,
            Command::EscalateWithinStage { .. } => Step::EscalateWithinStage,
            Command::EscalateToDirector { .. } => Step::EscalateToDirector,
            Command::RecordTsaReferral { .. } => Step::RecordTsaReferral,
            Command::Close { .. } => Step::Close,
            Command::AssignCase { .. } => Step::AssignCase,
            Command::RecordNotice { .. } => Step::RecordNotice,
            Command::EraseComplainant { .. } => Step::EraseComplainant,
            Command::ReceiveCorrespondence { .. } => Step::ReceiveCorrespondence,
            Command::LinkCase { .. } => Step::LinkCases,
            Command::RecordClockChange(_) => Step::RecordClockChange,
        }
    }
}

/// Everything a caller can do: each [`Command`], plus submitting a complaint
/// and reading cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    Submit,
    Read,
    AddNote,
    AddEvidence,
    MarkAcknowledged,
    RecordAcknowledgement,
    ReferToDepartment,
    RecordDepartmentResponse,
    IssueStageResponse,
    RequestReview,
    EscalateWithinStage,
    EscalateToDirector,
    RecordTsaReferral,
    Close,
    AssignCase,
    RecordNotice,
    EraseComplainant,
    ReceiveCorrespondence,
    LinkCases,
    RecordClockChange,
}

impl Step {
    pub const ALL: [Step; 20] = [
        Step::Submit,
        Step::Read,
        Step::AddNote,
        Step::AddEvidence,
        Step::MarkAcknowledged,
        Step::RecordAcknowledgement,
        Step::ReferToDepartment,
        Step::RecordDepartmentResponse,
        Step::IssueStageResponse,
        Step::RequestReview,
        Step::EscalateWithinStage,
        Step::EscalateToDirector,
        Step::RecordTsaReferral,
        Step::Close,
        Step::AssignCase,
        Step::RecordNotice,
        Step::EraseComplainant,
        Step::ReceiveCorrespondence,
        Step::LinkCases,
        Step::RecordClockChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Submit => "submit",
            Step::Read => "read",
            Step::AddNote => "add_note",
            Step::AddEvidence => "add_evidence",
            Step::MarkAcknowledged => "mark_acknowledged",
            Step::RecordAcknowledgement => "record_acknowledgement",
            Step::ReferToDepartment => "refer_to_department",
            Step::RecordDepartmentResponse => "record_department_response",
            Step::IssueStageResponse => "issue_stage_response",
            Step::RequestReview => "request_review",
            Step::EscalateWithinStage => "escalate_within_stage",
            Step::EscalateToDirector => "escalate_to_director",
            Step::RecordTsaReferral => "record_tsa_referral",
            Step::Close => "close",
            Step::AssignCase => "assign_case",
            Step::RecordNotice => "record_notice",
            Step::EraseComplainant => "erase_complainant",
            Step::ReceiveCorrespondence => "receive_correspondence",
            Step::LinkCases => "link_cases",
            Step::RecordClockChange => "record_clock_change",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `role` may ever take `step`: the static half of docs/policy.md, Roles.
///
/// This is an upper bound. On a case, [`super::Case::apply`] also asks the
/// policy which of these roles decide the case's current stage (only the
/// stage's responders issue its response; only its owner, its responders or
/// the platform mark it acknowledged, ...), and refuses a subject who handled
/// stage 1 the decisions of stage 2 (R5).
///
/// - adviser: logs and reads, and notes what the caller said; resolves nothing.
/// - integration: submits, reads, and passes on the complainant's requests
///   to go up a stage (review, director).
/// - complaints_handler: the complaints department: all of stage 1, the
///   complainant's requests on their behalf, the TSA referral, closing,
///   assigning a case to a person, erasure.
/// - cx_manager, ops_lead: stage 2 (the CX Manager escalates within it).
/// - director: stage 3.
/// - cx_manager, ops_lead, director also close and assign the cases of the
///   stage they decide.
/// - complaints_handler, cx_manager, ops_lead, director link cases (as
///   duplicates or related), at any stage.
/// - evidence is added by whoever may add notes, and by the platform
///   (attachments of an email, scanned letters).
/// - service: the platform: submits (intake relays), reads, marks
///   acknowledgements sent, escalates within a stage on a breach, erases at
///   the end of the retention period, and files the complainant's further
///   emails on their case, and records the clock changes the escalation
///   service made (extensions, pauses, resumes). It does not record an acknowledgement
///   given outside the platform: a person gave it and is named.
pub fn permitted(role: Role, step: Step) -> bool {
    use Role::{Adviser, ComplaintsHandler, CxManager, Director, Integration, OpsLead, Service};
    let roles: &[Role] = match step {
        Step::Submit => &[Adviser, ComplaintsHandler, Integration, Service],
        Step::Read => &Role::ALL,
        Step::AddNote => &[Adviser, ComplaintsHandler, CxManager, OpsLead, Director],
        Step::AddEvidence => &[
            Adviser,
            ComplaintsHandler,
            CxManager,
            OpsLead,
            Director,
            Service,
        ],
        Step::MarkAcknowledged => &[ComplaintsHandler, CxManager, OpsLead, Director, Service],
        Step::RecordAcknowledgement => &[ComplaintsHandler, CxManager, OpsLead, Director],
        Step::ReferToDepartment | Step::RecordDepartmentResponse | Step::IssueStageResponse => {
            &[ComplaintsHandler, CxManager, OpsLead, Director]
        }
        Step::RequestReview | Step::EscalateToDirector => &[ComplaintsHandler, Integration],
        Step::EscalateWithinStage => &[CxManager, Service],
        Step::RecordTsaReferral => &[ComplaintsHandler],
        Step::Close | Step::AssignCase | Step::LinkCases => {
            &[ComplaintsHandler, CxManager, OpsLead, Director]
        }
        Step::RecordNotice | Step::ReceiveCorrespondence | Step::RecordClockChange => &[Service],
        Step::EraseComplainant => &[ComplaintsHandler, Service],
    };
    roles.contains(&role)
}

/// [`permitted`] as a result: `PermissionDenied` naming the role and step.
pub fn authorize(role: Role, step: Step) -> Result<(), DomainError> {
    if permitted(role, step) {
        Ok(())
    } else {
        Err(DomainError::PermissionDenied(format!(
            "role {role} may not {step}"
        )))
    }
}
