//! Due-date bookkeeping: the promises a case made, and how a transition
//! adds new ones and settles old ones.

use chrono::{DateTime, NaiveDate, Utc};
use complaints_domain::case::{DeadlineKind, DeadlineOutcome, DeadlineSpec, Transition};
use complaints_domain::policy::Stage;
use complaints_domain::role::Role;
use serde::{Deserialize, Serialize};

/// A due date as the case service keeps it: what was promised and whether
/// it was kept. The escalation service keeps the clocks themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueDate {
    pub kind: DeadlineKind,
    pub stage: Stage,
    pub working_days: u32,
    /// The instant the clock runs from (the receipt of the complaint or of
    /// the request that started the stage); `None` in promises recorded
    /// before it was kept.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    pub due_date: NaiveDate,
    pub due_at: DateTime<Utc>,
    pub reason: String,
    pub state: DueState,
    pub settled_at: Option<DateTime<Utc>>,
    /// Who owns the promise and is warned before it.
    #[serde(default)]
    pub owner_role: Option<Role>,
    /// Who is alerted, with the owner, when it is broken.
    #[serde(default)]
    pub escalation_role: Option<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueState {
    Pending,
    Met,
    Cancelled,
}

impl DueDate {
    /// Whether the promise was broken as of `now`: settled late, or still
    /// pending after its due instant.
    pub fn breached(&self, now: DateTime<Utc>) -> bool {
        match (self.state, self.settled_at) {
            (DueState::Pending, _) => now > self.due_at,
            (DueState::Met, Some(at)) => at > self.due_at,
            _ => false,
        }
    }
}

pub(super) fn due_date(spec: &DeadlineSpec, _now: DateTime<Utc>) -> DueDate {
    DueDate {
        kind: spec.kind,
        stage: spec.stage,
        working_days: spec.working_days,
        started_at: Some(spec.started_at),
        due_date: spec.due.date,
        due_at: spec.due.at,
        reason: spec.reason.clone(),
        state: DueState::Pending,
        settled_at: None,
        owner_role: Some(spec.owner_role),
        escalation_role: Some(spec.escalation_role),
    }
}

/// The case's due dates after `transition`: new ones added, settled ones
/// marked with when they were settled.
pub(super) fn started(
    before: &[DueDate],
    transition: &Transition,
    now: DateTime<Utc>,
) -> Vec<DueDate> {
    let mut due_dates = before.to_vec();
    for (kind, outcome) in &transition.settle {
        for due in due_dates
            .iter_mut()
            .filter(|d| d.kind == *kind && d.state == DueState::Pending)
        {
            due.state = match outcome {
                DeadlineOutcome::Met => DueState::Met,
                DeadlineOutcome::Cancelled => DueState::Cancelled,
            };
            due.settled_at = Some(now);
        }
    }
    due_dates.extend(transition.deadlines.iter().map(|spec| due_date(spec, now)));
    due_dates
}
