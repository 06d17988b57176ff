//! How much of the outbox is still waiting, by topic: the numbers behind
//! the `complaints_outbox_pending` and `complaints_outbox_oldest_age_seconds`
//! gauges. One grouped query over the undelivered rows.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};

use crate::StoreError;
use crate::entity::outbox;

/// One topic's undelivered messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    pub topic: String,
    pub pending: u64,
    /// When the oldest undelivered message was written.
    pub oldest: DateTime<Utc>,
}

#[derive(Debug, FromQueryResult)]
struct Row {
    topic: String,
    pending: i64,
    oldest: DateTime<Utc>,
}

/// The undelivered messages of each of `topics` that has any.
pub async fn outbox_backlog(
    db: &impl ConnectionTrait,
    topics: &[&str],
) -> Result<Vec<Backlog>, StoreError> {
    let rows = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Topic)
        .column_as(outbox::Column::Id.count(), "pending")
        .column_as(outbox::Column::CreatedAt.min(), "oldest")
        .filter(outbox::Column::DeliveredAt.is_null())
        .filter(outbox::Column::Topic.is_in(topics.iter().copied()))
        .group_by(outbox::Column::Topic)
        .into_model::<Row>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Backlog {
            topic: row.topic,
            pending: u64::try_from(row.pending).unwrap_or(0),
            oldest: row.oldest,
        })
        .collect())
}
