//! The `deadlines` table (migration `m20261201_000001_deadlines`), owned by
//! the escalation service. Instants are stored to the millisecond, the
//! precision of the Redis index.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deadlines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub deadline_id: Uuid,
    pub case_id: Uuid,
    pub register_number: String,
    /// `DeadlineKind::as_str`.
    pub kind: String,
    /// `Stage::as_str`.
    pub stage: String,
    /// `YYYY-MM-DD`, in the calendar's time zone.
    pub due_date: String,
    pub due_at: DateTimeUtc,
    pub working_days: i32,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub policy_version: String,
    pub owner_role: String,
    pub escalation_role: String,
    /// `pending`, `met`, `breached` or `cancelled`.
    pub state: String,
    /// When the row next needs a worker (warning, due, or end of lease);
    /// null once it is not pending.
    pub next_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub fired_at: Option<DateTimeUtc>,
    pub settled_at: Option<DateTimeUtc>,
    pub warn_at: Option<DateTimeUtc>,
    pub warned_at: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    /// The due date it was first given (migration
    /// `m20261204_000003_deadline_extensions`); `due_date` moves on an
    /// extension or a pause, this never does.
    pub original_due_date: Option<String>,
    pub original_due_at: Option<DateTimeUtc>,
    /// Set while the case's clocks are paused: the row stays pending with no
    /// `next_at`, so no worker is handed it.
    pub held_at: Option<DateTimeUtc>,
    /// The W3C trace context of the change that scheduled it, so that its
    /// firing continues that trace.
    pub trace_context: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
