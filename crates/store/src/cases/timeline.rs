//! A case's timeline: events appended to its hash chain, never changed, and
//! read back in order.

use chrono::{DateTime, Utc};
use complaints_domain::case::{CaseId, Event};
use complaints_domain::role::Actor;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::StoreError;
use crate::chain;
use crate::entity::{case_events, cases};

/// A case's timeline, oldest first.
pub async fn timeline(
    db: &impl ConnectionTrait,
    case_id: CaseId,
) -> Result<Vec<case_events::Model>, StoreError> {
    let exists = cases::Entity::find_by_id(case_id.as_uuid()).one(db).await?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("case {case_id}")));
    }
    Ok(case_events::Entity::find()
        .filter(case_events::Column::CaseId.eq(case_id.as_uuid()))
        .order_by_asc(case_events::Column::Sequence)
        .all(db)
        .await?)
}

pub(super) async fn append_events(
    db: &impl ConnectionTrait,
    case_id: CaseId,
    after_sequence: i64,
    prev_hash: String,
    events: &[Event],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows = event_rows(case_id, after_sequence, prev_hash, events, actor, now)?;
    if !rows.is_empty() {
        case_events::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The rows of `events`, chained on `prev_hash` after `after_sequence`.
pub(super) fn event_rows(
    case_id: CaseId,
    after_sequence: i64,
    mut prev_hash: String,
    events: &[Event],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<case_events::ActiveModel>, StoreError> {
    let at = chain::truncate_to_micros(now);
    let mut rows = Vec::with_capacity(events.len());
    for (sequence, event) in (after_sequence + 1..).zip(events) {
        let details = serde_json::to_value(event)
            .and_then(|value| serde_json::to_string(&value))
            .map_err(StoreError::corrupt)?;
        let mut row = case_events::Model {
            case_id: case_id.as_uuid(),
            sequence,
            kind: event.kind().to_owned(),
            actor_subject: actor.subject.clone(),
            actor_role: actor.role.as_str().to_owned(),
            at,
            details,
            prev_hash: prev_hash.clone(),
            hash: String::new(),
        };
        row.hash = chain::event_hash(&prev_hash, &row);
        prev_hash.clone_from(&row.hash);
        rows.push(case_events::ActiveModel {
            case_id: Set(row.case_id),
            sequence: Set(row.sequence),
            kind: Set(row.kind),
            actor_subject: Set(row.actor_subject),
            actor_role: Set(row.actor_role),
            at: Set(row.at),
            details: Set(row.details),
            prev_hash: Set(row.prev_hash),
            hash: Set(row.hash),
        });
    }
    Ok(rows)
}
