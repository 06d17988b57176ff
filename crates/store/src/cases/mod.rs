//! The case repository: a case, its personal data, its timeline, its due
//! dates, its outbox messages and its idempotency record are written in one
//! transaction or not at all.

use chrono::{DateTime, Utc};
use complaints_domain::case::Case;

mod due_dates;
mod duplicates;
mod erasure;
mod filters;
mod links;
mod outbox_message;
mod read;
mod replay;
mod retention;
mod rows;
mod statistics;
mod timeline;
mod together;
mod transaction;
mod write;

pub use due_dates::{DueDate, DueState};
pub use duplicates::{MAX_POSSIBLE_DUPLICATES, possible_duplicates};
pub use erasure::{ERASED_CONTENT_HASH, ERASED_PAYLOAD};
pub use filters::{CaseFilter, PageCursor, count, list};
pub use links::{LinkOutcome, link};
pub use outbox_message::{CASE_EVENTS_TOPIC, CaseChanged};
pub use read::{load, load_by_register_number};
pub use retention::closed_before_with_personal_data;
pub use statistics::{CaseStatistics, LessonCases, SlaCounts, statistics_received_between};
pub use timeline::timeline;
pub use together::{Change, Decide, apply_together};
pub use write::{Alongside, Opening, apply, open_case, open_case_recording, open_cases};

/// A case as stored, with its due dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCase {
    pub case: Case,
    pub due_dates: Vec<DueDate>,
    pub erased: bool,
    pub updated_at: DateTime<Utc>,
}

/// Whether a call created something or returned an earlier call's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stored: StoredCase,
    /// The id the step produced (the case id, a referral id).
    pub resource_id: String,
    pub replayed: bool,
    /// The evidence records an erasure removed in its transaction: their
    /// bytes are the caller's to delete once it has committed. Empty for
    /// every other step, and for a replay.
    pub erased_evidence: Vec<crate::evidence::StoredEvidence>,
}
