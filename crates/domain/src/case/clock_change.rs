//! The timeline's record of a case's clocks moved by hand: an extension, a
//! pause, a resume (docs/policy.md, Working days, Extensions and pauses).
//!
//! The escalation service owns the deadlines and makes the move; the case
//! only records it, with the person who asked, so that the timeline holds
//! every change to the case's dates and why.

use chrono::NaiveDate;

use crate::values::Text;
use crate::{DomainError, FieldViolation};

use super::effects::Event;
use super::types::DeadlineKind;

/// A move of a case's clocks the escalation service made, as it reports it.
/// Text fields are raw; [`ClockChange::event`] validates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockChange {
    /// One pending deadline moved later by `extra_working_days`.
    Extended {
        deadline: DeadlineKind,
        extra_working_days: u32,
        previous_due_date: NaiveDate,
        due_date: NaiveDate,
        reason: String,
        requested_by: String,
    },
    /// The case's pending deadlines are held.
    Paused {
        reason: String,
        requested_by: String,
    },
    /// The held deadlines run again, `paused_working_days` later.
    Resumed {
        paused_working_days: u32,
        reason: String,
        requested_by: String,
    },
}

impl ClockChange {
    /// The timeline event recording the change, every bad field named.
    pub(super) fn event(self) -> Result<Event, DomainError> {
        let mut violations = Vec::new();
        let (reason, requested_by) = match &self {
            ClockChange::Extended {
                reason,
                requested_by,
                ..
            }
            | ClockChange::Paused {
                reason,
                requested_by,
            }
            | ClockChange::Resumed {
                reason,
                requested_by,
                ..
            } => (reason, requested_by),
        };
        let reason = Text::multi_line("reason", reason, Text::NOTE_MAX)
            .map_err(|violation| violations.push(violation))
            .ok();
        let requested_by = Text::single_line("requested_by", requested_by, Text::REFERENCE_MAX)
            .map_err(|violation| violations.push(violation))
            .ok();
        if let ClockChange::Extended {
            extra_working_days,
            previous_due_date,
            due_date,
            ..
        } = &self
        {
            if *extra_working_days == 0 {
                violations.push(FieldViolation::new(
                    "extra_working_days",
                    "must be at least 1 for an extension",
                ));
            }
            if due_date <= previous_due_date {
                violations.push(FieldViolation::new(
                    "due_date",
                    "must be later than previous_due_date",
                ));
            }
        }
        let (Some(reason), Some(requested_by), true) =
            (reason, requested_by, violations.is_empty())
        else {
            return Err(DomainError::InvalidArgument(violations));
        };
        Ok(match self {
            ClockChange::Extended {
                deadline,
                extra_working_days,
                previous_due_date,
                due_date,
                ..
            } => Event::ClocksExtended {
                deadline,
                extra_working_days,
                previous_due_date,
                due_date,
                reason,
                requested_by,
            },
            ClockChange::Paused { .. } => Event::ClocksPaused {
                reason,
                requested_by,
            },
            ClockChange::Resumed {
                paused_working_days,
                ..
            } => Event::ClocksResumed {
                paused_working_days,
                reason,
                requested_by,
            },
        })
    }
}
