//! The transactional outbox: messages for other services, written with the
//! change that caused them, then delivered at least once by a relay.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::outbox;

/// A message to put in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Who it is for, e.g. `case.events`.
    pub topic: String,
    /// The case (or other aggregate) it is about; receivers deduplicate on
    /// `(aggregate_id, payload)` or an id inside the payload.
    pub aggregate_id: Uuid,
    pub payload: String,
}

impl OutboxMessage {
    pub fn json(
        topic: impl Into<String>,
        aggregate_id: Uuid,
        payload: &impl Serialize,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            topic: topic.into(),
            aggregate_id,
            payload: serde_json::to_string(payload).map_err(StoreError::corrupt)?,
        })
    }
}

/// Adds messages in the caller's transaction.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    messages: &[OutboxMessage],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let trace_context = complaints_telemetry::current_trace_context();
    let rows = messages.iter().map(|message| outbox::ActiveModel {
        id: NotSet,
        topic: Set(message.topic.clone()),
        aggregate_id: Set(message.aggregate_id),
        payload: Set(message.payload.clone()),
        created_at: Set(now),
        available_at: Set(now),
        attempts: Set(0),
        delivered_at: Set(None),
        last_error: Set(None),
        trace_context: Set(trace_context.clone()),
    });
    outbox::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Up to `limit` undelivered messages of `topic` that are due, oldest first.
pub async fn pending(
    db: &impl ConnectionTrait,
    topic: &str,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<outbox::Model>, StoreError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(topic))
        .filter(outbox::Column::DeliveredAt.is_null())
        .filter(outbox::Column::AvailableAt.lte(now))
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Marks a message delivered.
pub async fn mark_delivered(
    db: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::DeliveredAt, Expr::value(now))
        .filter(outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a failed delivery and puts the message back after `retry_after`.
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    id: i64,
    error: &str,
    now: DateTime<Utc>,
    retry_after: Duration,
) -> Result<(), StoreError> {
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).add(1),
        )
        .col_expr(outbox::Column::LastError, Expr::value(error.to_owned()))
        .col_expr(outbox::Column::AvailableAt, Expr::value(now + retry_after))
        .filter(outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
