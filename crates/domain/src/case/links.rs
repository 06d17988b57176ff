//! How a case refers to other cases: the possible duplicates flagged when
//! it is opened, and the links staff record between cases.
//!
//! Neither merges anything: a duplicate stays a case of its own, with its
//! own clocks and timeline, until someone closes it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::values::RegisterNumber;

use super::effects::{Event, Transition};
use super::types::CaseId;

/// What one case is to another. Symmetric: both cases record the same
/// relation to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkRelation {
    /// The same complaint, made twice (a second call, a letter after an
    /// email): one of the two is usually closed, with its own timeline kept.
    Duplicate,
    /// Different complaints about something connected (the same incident,
    /// the same installation), worked separately.
    Related,
}

impl LinkRelation {
    pub const ALL: [LinkRelation; 2] = [LinkRelation::Duplicate, LinkRelation::Related];

    pub fn as_str(self) -> &'static str {
        match self {
            LinkRelation::Duplicate => "duplicate",
            LinkRelation::Related => "related",
        }
    }
}

impl fmt::Display for LinkRelation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Another case this one is linked to ([`super::Command::LinkCase`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseLink {
    pub case_id: CaseId,
    pub register_number: RegisterNumber,
    pub relation: LinkRelation,
    /// When the link was recorded, or last changed its relation.
    pub linked_at: DateTime<Utc>,
}

impl Transition {
    /// Records on a case being opened the complainant's other open cases
    /// (their ids, oldest first) that storage found, as possible duplicates:
    /// on the case and in its `case.received` event. Nothing else changes:
    /// the new case keeps its own clocks and acknowledgement.
    ///
    /// Storage finds them (`complaints_store::cases::possible_duplicates`):
    /// another case that is not closed, whose complainant (not erased) has
    /// the same email address (ignoring case), the same phone number, the
    /// same customer reference, or the same name (ignoring case) and
    /// postcode.
    #[must_use]
    pub fn flag_possible_duplicates(mut self, others: Vec<CaseId>) -> Transition {
        let others: Vec<CaseId> = others
            .into_iter()
            .filter(|other| *other != self.case.id)
            .collect();
        if others.is_empty() {
            return self;
        }
        for event in &mut self.events {
            if let Event::Received {
                possible_duplicate_of,
                ..
            } = event
            {
                possible_duplicate_of.clone_from(&others);
            }
        }
        self.case.possible_duplicate_of = others;
        self
    }
}
