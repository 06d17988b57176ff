//! The outbox message a case change sends to the escalation and
//! notification services.

use chrono::{DateTime, Utc};
use complaints_domain::case::{DeadlineKind, DeadlineOutcome, Event, NotifyRequest, Transition};
use complaints_domain::policy::Stage;
use complaints_domain::role::Actor;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoredCase;
use super::due_dates::{DueDate, DueState, due_date};
use crate::StoreError;
use crate::outbox::{self, OutboxMessage};

/// The outbox topic of case changes, read by the escalation and
/// notification services.
pub const CASE_EVENTS_TOPIC: &str = "case.events";

/// The message the outbox carries for one transition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseChanged {
    pub case_id: Uuid,
    pub register_number: String,
    /// The case's version after the change; with `case_id`, a unique key
    /// receivers deduplicate on.
    pub version: u64,
    pub stage: Stage,
    pub owner_role: String,
    pub policy_version: String,
    pub actor: Actor,
    pub at: DateTime<Utc>,
    pub events: Vec<Event>,
    pub deadlines: Vec<DueDate>,
    pub settle: Vec<(DeadlineKind, DeadlineOutcome)>,
    pub notify: Vec<NotifyRequest>,
    /// The current stage's pending response deadline, for alerts that hand
    /// the case to someone.
    #[serde(default)]
    pub respond_due: Option<DueDate>,
    /// The person (a token subject) the case is assigned to after the
    /// change; `None` when nobody is, and in messages written before
    /// cases had assignees.
    #[serde(default)]
    pub assignee: Option<String>,
}

impl CaseChanged {
    /// The change named the case's assignee or cleared it.
    pub fn reassigned(&self) -> bool {
        self.events
            .iter()
            .any(|event| matches!(event, Event::Assigned { .. } | Event::Unassigned { .. }))
    }
}

pub(super) async fn enqueue(
    db: &impl ConnectionTrait,
    stored: &StoredCase,
    transition: &Transition,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let message = change_message(stored, transition, actor, now)?;
    outbox::enqueue(db, &[message], now).await
}

/// The outbox message announcing `transition` of the case now `stored`.
pub(super) fn change_message(
    stored: &StoredCase,
    transition: &Transition,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<OutboxMessage, StoreError> {
    let message = CaseChanged {
        case_id: stored.case.id.as_uuid(),
        register_number: stored.case.register_number.as_str().to_owned(),
        version: stored.case.version,
        stage: stored.case.stage,
        owner_role: stored.case.owner_role.as_str().to_owned(),
        policy_version: stored.case.policy_version.clone(),
        actor: actor.clone(),
        at: now,
        events: transition.events.clone(),
        deadlines: transition
            .deadlines
            .iter()
            .map(|spec| due_date(spec, now))
            .collect(),
        settle: transition.settle.clone(),
        notify: transition.notify.clone(),
        respond_due: DeadlineKind::respond(stored.case.stage).and_then(|kind| {
            stored
                .due_dates
                .iter()
                .rev()
                .find(|d| d.kind == kind && d.state == DueState::Pending)
                .cloned()
        }),
        assignee: stored
            .case
            .assignee
            .as_ref()
            .map(|assignee| assignee.as_str().to_owned()),
    };
    OutboxMessage::json(CASE_EVENTS_TOPIC, stored.case.id.as_uuid(), &message)
}
