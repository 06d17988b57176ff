//! The parts a case is made of: identifiers, status, findings, deadline
//! kinds, referrals, stage responses, escalation requests and
//! acknowledgement methods.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::FieldViolation;
use crate::policy::Stage;
use crate::role::Actor;
use crate::values::Text;

/// Implements `Display` and `FromStr` (refusing with a violation on `$field`)
/// for a UUID newtype.
macro_rules! uuid_id {
    ($type:ident, $field:literal, $doc:literal) => {
        #[doc = $doc]
        ///
        /// The domain takes ids in; callers mint them (UUID v7, so they sort by
        /// creation time).
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $type(pub Uuid);

        impl $type {
            /// The field name callers use for this id.
            pub const FIELD: &'static str = $field;

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $type {
            type Err = FieldViolation;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map($type).map_err(|_| {
                    FieldViolation::new(
                        $field,
                        "must be a UUID such as 0190f5e4-7a8b-7c3d-9e0f-123456789abc",
                    )
                })
            }
        }

        impl From<Uuid> for $type {
            fn from(uuid: Uuid) -> Self {
                $type(uuid)
            }
        }
    };
}

uuid_id!(CaseId, "case_id", "A case's identity.");
uuid_id!(EvidenceId, "evidence_id", "A piece of evidence's identity.");
uuid_id!(
    ReferralId,
    "referral_id",
    "A referral's identity within its case."
);

/// Where a case is within its current stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Being worked on: the stage's response has not been issued (or, at
    /// [`Stage::External`], the external body has it).
    Open,
    /// The stage's response has been issued and the complainant may take the
    /// next step (request a review, escalate to a director, go to the TSA).
    Responded,
    /// Finished. Terminal: nothing but reads and erasure after this.
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 3] = [CaseStatus::Open, CaseStatus::Responded, CaseStatus::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Responded => "responded",
            CaseStatus::Closed => "closed",
        }
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The finding of a stage response (the contract's `upheld` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    Upheld,
    PartlyUpheld,
    NotUpheld,
}

impl Finding {
    pub const ALL: [Finding; 3] = [Finding::Upheld, Finding::PartlyUpheld, Finding::NotUpheld];

    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Upheld => "upheld",
            Finding::PartlyUpheld => "partly_upheld",
            Finding::NotUpheld => "not_upheld",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which clock a deadline is. Each belongs to exactly one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DeadlineKind {
    /// R1: acknowledge a stage 1 complaint.
    #[serde(rename = "acknowledge")]
    Acknowledge,
    /// R2: resolve a stage 1 complaint.
    #[serde(rename = "resolve")]
    Resolve,
    /// R3: tell the complainant about an open referral. When it fires, the
    /// escalation service sends the update only if a referral is open.
    #[serde(rename = "referral_update")]
    ReferralUpdate,
    #[serde(rename = "stage_2_acknowledge")]
    Stage2Acknowledge,
    #[serde(rename = "stage_2_respond")]
    Stage2Respond,
    #[serde(rename = "stage_3_acknowledge")]
    Stage3Acknowledge,
    #[serde(rename = "stage_3_respond")]
    Stage3Respond,
}

impl DeadlineKind {
    pub const ALL: [DeadlineKind; 7] = [
        DeadlineKind::Acknowledge,
        DeadlineKind::Resolve,
        DeadlineKind::ReferralUpdate,
        DeadlineKind::Stage2Acknowledge,
        DeadlineKind::Stage2Respond,
        DeadlineKind::Stage3Acknowledge,
        DeadlineKind::Stage3Respond,
    ];

    /// The stage whose clock this is.
    pub fn stage(self) -> Stage {
        match self {
            DeadlineKind::Acknowledge | DeadlineKind::Resolve | DeadlineKind::ReferralUpdate => {
                Stage::Stage1
            }
            DeadlineKind::Stage2Acknowledge | DeadlineKind::Stage2Respond => Stage::Stage2,
            DeadlineKind::Stage3Acknowledge | DeadlineKind::Stage3Respond => Stage::Stage3,
        }
    }

    /// The acknowledge clock of an internal stage.
    pub fn acknowledge(stage: Stage) -> Option<DeadlineKind> {
        match stage {
            Stage::Stage1 => Some(DeadlineKind::Acknowledge),
            Stage::Stage2 => Some(DeadlineKind::Stage2Acknowledge),
            Stage::Stage3 => Some(DeadlineKind::Stage3Acknowledge),
            Stage::External => None,
        }
    }

    /// The respond clock of an internal stage (stage 1: resolve).
    pub fn respond(stage: Stage) -> Option<DeadlineKind> {
        match stage {
            Stage::Stage1 => Some(DeadlineKind::Resolve),
            Stage::Stage2 => Some(DeadlineKind::Stage2Respond),
            Stage::Stage3 => Some(DeadlineKind::Stage3Respond),
            Stage::External => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::Acknowledge => "acknowledge",
            DeadlineKind::Resolve => "resolve",
            DeadlineKind::ReferralUpdate => "referral_update",
            DeadlineKind::Stage2Acknowledge => "stage_2_acknowledge",
            DeadlineKind::Stage2Respond => "stage_2_respond",
            DeadlineKind::Stage3Acknowledge => "stage_3_acknowledge",
            DeadlineKind::Stage3Respond => "stage_3_respond",
        }
    }
}

impl fmt::Display for DeadlineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a pending deadline ends when the case, not the clock, settles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineOutcome {
    /// What it asked for was done (before or after it was due; the
    /// escalation service knows which).
    Met,
    /// No longer needed (the case closed, or the referral update is moot).
    Cancelled,
}

/// A question put to another department for information (R3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub id: ReferralId,
    /// The stage the referral was opened in.
    pub stage: Stage,
    pub department: Text,
    pub question: Text,
    pub opened_at: DateTime<Utc>,
    pub opened_by: Actor,
    pub response: Option<Text>,
    pub responded_at: Option<DateTime<Utc>>,
    pub responded_by: Option<Actor>,
}

impl Referral {
    /// Still waiting for the department's answer.
    pub fn is_open(&self) -> bool {
        self.response.is_none()
    }
}

/// A stage's decision, as issued to the complainant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageResponse {
    pub stage: Stage,
    pub outcome: Text,
    pub finding: Finding,
    /// A code of the policy's root-cause taxonomy, checked when issued.
    pub root_cause: String,
    pub lessons_learned: Option<Text>,
    pub issued_by: Actor,
    pub issued_at: DateTime<Utc>,
}

/// A complainant's request to go up a stage (R4, R6): both parts are
/// required by the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredEscalation")]
pub struct Escalation {
    pub desired_outcome: Text,
    pub unsatisfied_with: Text,
    /// When the complainant made the request: the stage's clocks count from
    /// it. Given by the caller when the request is keyed in later.
    pub received_at: DateTime<Utc>,
    /// When the request was recorded on the platform.
    pub requested_at: DateTime<Utc>,
    /// Who passed the request on (a complaints handler or an integration,
    /// on the complainant's behalf).
    pub requested_by: Actor,
}

/// An [`Escalation`] as stored. Requests recorded before `received_at` was
/// kept were received when they were recorded.
#[derive(Deserialize)]
struct StoredEscalation {
    desired_outcome: Text,
    unsatisfied_with: Text,
    #[serde(default)]
    received_at: Option<DateTime<Utc>>,
    requested_at: DateTime<Utc>,
    requested_by: Actor,
}

impl From<StoredEscalation> for Escalation {
    fn from(stored: StoredEscalation) -> Self {
        Escalation {
            desired_outcome: stored.desired_outcome,
            unsatisfied_with: stored.unsatisfied_with,
            received_at: stored.received_at.unwrap_or(stored.requested_at),
            requested_at: stored.requested_at,
            requested_by: stored.requested_by,
        }
    }
}

/// How an acknowledgement given outside the platform reached the
/// complainant (docs/policy.md, R1), as [`super::Command::RecordAcknowledgement`]
/// records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcknowledgementMethod {
    /// Told on the telephone.
    Telephone,
    /// A letter sent or delivered by hand, outside the platform's letters.
    Letter,
    /// An email sent from a mailbox, outside the platform's emails.
    Email,
    /// Told face to face, for example on a home visit.
    InPerson,
}

impl AcknowledgementMethod {
    pub const ALL: [AcknowledgementMethod; 4] = [
        AcknowledgementMethod::Telephone,
        AcknowledgementMethod::Letter,
        AcknowledgementMethod::Email,
        AcknowledgementMethod::InPerson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AcknowledgementMethod::Telephone => "telephone",
            AcknowledgementMethod::Letter => "letter",
            AcknowledgementMethod::Email => "email",
            AcknowledgementMethod::InPerson => "in_person",
        }
    }
}

impl fmt::Display for AcknowledgementMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
