//! What goes in and comes out of the queue.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use complaints_domain::calendar::Due;
use complaints_domain::case::{CaseId, DeadlineKind, DeadlineSpec};
use complaints_domain::policy::Stage;
use complaints_domain::role::Role;
use uuid::Uuid;

use crate::QueueError;
use crate::entity;

/// A deadline's identity: a UUID v7, minted when it is first scheduled, so
/// ids sort by creation time. In the Redis index it is the member, as its
/// 16 raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeadlineId(pub Uuid);

impl DeadlineId {
    pub(crate) fn mint() -> Self {
        DeadlineId(Uuid::now_v7())
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for DeadlineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Who holds a lease: one per worker loop, unique across replicas, so a
/// worker can only complete what it claimed itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkerId(String);

impl WorkerId {
    /// The longest id the `lease_owner` column takes.
    pub const MAX_LEN: usize = 128;

    /// A worker id as given (a pod name and loop number, say).
    pub fn new(id: impl Into<String>) -> Result<Self, QueueError> {
        let id = id.into();
        if id.is_empty() || id.len() > Self::MAX_LEN {
            return Err(QueueError::invalid(
                "worker_id",
                format!("must be 1 to {} bytes long", Self::MAX_LEN),
            ));
        }
        Ok(WorkerId(id))
    }

    /// `prefix` and a random suffix: unique without coordination.
    pub fn unique(prefix: &str) -> Self {
        let prefix: String = prefix.chars().take(64).collect();
        WorkerId(format!("{prefix}-{}", Uuid::new_v4().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a deadline is in its life. Only `Pending` ever changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineState {
    Pending,
    /// Done in time, or done when it fired (the work was found done).
    Met,
    /// It fell due and was not met. Terminal: a later "met" does not undo it.
    Breached,
    /// No longer needed (the case closed, the referral update was moot).
    Cancelled,
}

impl DeadlineState {
    pub const ALL: [DeadlineState; 4] = [
        DeadlineState::Pending,
        DeadlineState::Met,
        DeadlineState::Breached,
        DeadlineState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineState::Pending => "pending",
            DeadlineState::Met => "met",
            DeadlineState::Breached => "breached",
            DeadlineState::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for DeadlineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeadlineState {
    type Err = QueueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeadlineState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| QueueError::corrupt(format!("unknown deadline state {s:?}")))
    }
}

/// How a fired deadline ends. A worker decides: usually `Breached`; `Met`
/// or `Cancelled` when, at firing time, the work turns out done or moot
/// (a referral update with no referral open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FireOutcome {
    Breached,
    Met,
    Cancelled,
}

impl FireOutcome {
    pub fn state(self) -> DeadlineState {
        match self {
            FireOutcome::Breached => DeadlineState::Breached,
            FireOutcome::Met => DeadlineState::Met,
            FireOutcome::Cancelled => DeadlineState::Cancelled,
        }
    }
}

/// A clock to start, as the escalation service receives it from the case
/// service (at least once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeadline {
    pub case_id: CaseId,
    pub register_number: String,
    pub kind: DeadlineKind,
    pub stage: Stage,
    pub working_days: u32,
    pub due: Due,
    /// How the due date was reached, for people reading it later.
    pub reason: String,
    /// The policy the due date was computed under.
    pub policy_version: String,
    /// Who is warned before it is due.
    pub owner_role: Role,
    /// Who is alerted when it is breached.
    pub escalation_role: Role,
    /// When to warn the owner; `None` for no warning. A warning at or after
    /// the due instant is never sent: by then the deadline fires instead.
    pub warn_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl NewDeadline {
    /// The deadline a case step asked for.
    pub fn from_spec(
        case_id: CaseId,
        register_number: impl Into<String>,
        policy_version: impl Into<String>,
        spec: &DeadlineSpec,
        warn_at: Option<DateTime<Utc>>,
        created_at: DateTime<Utc>,
    ) -> Self {
        NewDeadline {
            case_id,
            register_number: register_number.into(),
            kind: spec.kind,
            stage: spec.stage,
            working_days: spec.working_days,
            due: spec.due,
            reason: spec.reason.clone(),
            policy_version: policy_version.into(),
            owner_role: spec.owner_role,
            escalation_role: spec.escalation_role,
            warn_at,
            created_at,
        }
    }
}

/// The answer to a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    pub deadline_id: DeadlineId,
    /// False when the same `(case_id, kind, stage)` was scheduled before:
    /// nothing was changed, and `deadline_id` is the earlier one.
    pub created: bool,
}

/// A deadline as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub deadline_id: DeadlineId,
    pub case_id: CaseId,
    pub register_number: String,
    pub kind: DeadlineKind,
    pub stage: Stage,
    pub due: Due,
    /// The due date it was first given: `due` moves when the deadline is
    /// extended or its case's clocks are paused; this never does.
    pub original_due: Due,
    pub working_days: u32,
    pub reason: String,
    pub policy_version: String,
    pub owner_role: Role,
    pub escalation_role: Role,
    pub state: DeadlineState,
    /// When the case's clocks were paused, while they are: a held deadline
    /// stays pending but is handed to no worker until it is rescheduled
    /// with its hold released.
    pub held_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When a worker fired it.
    pub fired_at: Option<DateTime<Utc>>,
    /// When it stopped being pending (fired, met, cancelled).
    pub settled_at: Option<DateTime<Utc>>,
    pub warn_at: Option<DateTime<Utc>>,
    pub warned_at: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// The trace of the change that scheduled it (a W3C `traceparent`).
    pub trace_context: Option<String>,
}

impl Deadline {
    /// What a worker holding this deadline at `now` must do, if anything.
    /// Firing wins over a warning that was never sent.
    pub fn work_at(&self, now: DateTime<Utc>) -> Option<Work> {
        if self.state != DeadlineState::Pending {
            return None;
        }
        if self.due.at <= now {
            return Some(Work::Fire);
        }
        match (self.warn_at, self.warned_at) {
            (Some(warn_at), None) if warn_at <= now => Some(Work::Warn),
            _ => None,
        }
    }
}

impl TryFrom<entity::Model> for Deadline {
    type Error = QueueError;

    fn try_from(row: entity::Model) -> Result<Self, Self::Error> {
        let kind = DeadlineKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == row.kind)
            .ok_or_else(|| QueueError::corrupt(format!("unknown deadline kind {:?}", row.kind)))?;
        let stage = Stage::from_str(&row.stage)
            .map_err(|_| QueueError::corrupt(format!("unknown stage {:?}", row.stage)))?;
        let role = |name: &str| {
            Role::from_str(name).map_err(|_| QueueError::corrupt(format!("unknown role {name:?}")))
        };
        let parse_date = |text: &str| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| QueueError::corrupt(format!("bad due date {text:?}")))
        };
        let date = parse_date(&row.due_date)?;
        let original_due = match (&row.original_due_date, row.original_due_at) {
            (Some(original), Some(at)) => Due {
                date: parse_date(original)?,
                at,
            },
            _ => Due {
                date,
                at: row.due_at,
            },
        };
        Ok(Deadline {
            deadline_id: DeadlineId(row.deadline_id),
            case_id: CaseId(row.case_id),
            register_number: row.register_number,
            kind,
            stage,
            due: Due {
                date,
                at: row.due_at,
            },
            original_due,
            working_days: u32::try_from(row.working_days)
                .map_err(|_| QueueError::corrupt("negative working days"))?,
            reason: row.reason,
            policy_version: row.policy_version,
            owner_role: role(&row.owner_role)?,
            escalation_role: role(&row.escalation_role)?,
            state: row.state.parse()?,
            created_at: row.created_at,
            fired_at: row.fired_at,
            settled_at: row.settled_at,
            warn_at: row.warn_at,
            warned_at: row.warned_at,
            lease_owner: row.lease_owner,
            lease_until: row.lease_until,
            held_at: row.held_at,
            trace_context: row.trace_context,
        })
    }
}

/// What a claimed deadline asks of its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Work {
    /// The warning instant has passed and the deadline is not yet due: warn
    /// the owner, then [`crate::DeadlineQueue::complete_warn`].
    Warn,
    /// The deadline is due: decide the outcome, then
    /// [`crate::DeadlineQueue::complete_fire`].
    Fire,
}

/// A deadline handed to one worker under a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub deadline: Deadline,
    pub work: Work,
}

/// Narrows a listing. Every field left `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadlineFilter {
    pub case_id: Option<CaseId>,
    pub kind: Option<DeadlineKind>,
    pub stage: Option<Stage>,
    pub owner_role: Option<Role>,
    pub escalation_role: Option<Role>,
    /// Only deadlines due at or after this instant.
    pub due_from: Option<DateTime<Utc>>,
    /// Only deadlines due before this instant.
    pub due_before: Option<DateTime<Utc>>,
}

/// Which page of a listing. Tokens are opaque and only valid for the
/// listing that returned them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// 0 means the default (50); more than 500 is cut to 500.
    pub page_size: u32,
    pub page_token: Option<String>,
}

impl PageRequest {
    pub const DEFAULT_SIZE: u32 = 50;
    pub const MAX_SIZE: u32 = 500;

    pub fn first(page_size: u32) -> Self {
        PageRequest {
            page_size,
            page_token: None,
        }
    }

    pub(crate) fn size(&self) -> u64 {
        match self.page_size {
            0 => u64::from(Self::DEFAULT_SIZE),
            n => u64::from(n.min(Self::MAX_SIZE)),
        }
    }
}

/// One page of deadlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlinePage {
    pub deadlines: Vec<Deadline>,
    /// Pass back for the next page; `None` on the last one.
    pub next_page_token: Option<String>,
}
