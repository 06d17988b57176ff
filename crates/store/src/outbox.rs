//! The transactional outbox: messages for other services, written with the
//! change that caused them, then delivered at least once by a relay, in
//! order per aggregate (a case's messages one after another).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
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
    /// The trace the message continues when delivered: the current span's
    /// when the message was made (see [`OutboxMessage::json`]).
    pub trace_context: Option<String>,
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
            trace_context: complaints_telemetry::current_trace_context(),
        })
    }
}

/// Adds messages in the caller's transaction. It tells no relay: once the
/// transaction has committed, the caller wakes its process's relay of each
/// topic, which tells the other replicas' ([`announce`]).
pub async fn enqueue(
    db: &impl ConnectionTrait,
    messages: &[OutboxMessage],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let current = complaints_telemetry::current_trace_context();
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
        trace_context: Set(message.trace_context.clone().or_else(|| current.clone())),
    });
    outbox::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Tells every replica's relay of `topic` that messages of it were
/// committed: on Postgres a `NOTIFY` on [`NOTIFY_CHANNEL`], in a statement
/// of its own after the writing transaction has committed (the relay of
/// the writing process sends it when that commit wakes it); elsewhere
/// nothing.
///
/// Never inside the writing transaction: Postgres makes every transaction
/// that notifies commit one at a time (it holds one lock per database from
/// just before the commit until after its WAL flush, so that notifications
/// queue in commit order), so outbox writes that notified would commit in
/// single file, each waiting out the others' flushes. A `NOTIFY` alone
/// writes nothing and holds that lock for no flush.
pub async fn announce(db: &impl ConnectionTrait, topic: &str) -> Result<(), StoreError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [NOTIFY_CHANNEL.into(), topic.into()],
    ))
    .await?;
    Ok(())
}

/// The Postgres channel on which [`announce`] tells relays of new messages,
/// with their topic as the payload.
pub const NOTIFY_CHANNEL: &str = "complaints_outbox";

/// Up to `limit` undelivered messages of `topic` that are due, oldest first,
/// leaving out every message behind an undelivered message of the same
/// aggregate that is not due yet (one waiting to be retried): an aggregate's
/// messages are delivered in order, so they wait for it.
///
/// Two plain statements a page at a time, never one correlated query: the
/// due messages from the front of `idx_outbox_undelivered`, then, for the
/// page's aggregates only, the first message of each still waiting to be
/// retried. However the planner judges the table (its statistics lag a
/// burst of messages), each costs at most one pass over the backlog, where
/// a nested `NOT EXISTS` could cost the backlog squared and hold the relay
/// for minutes.
pub async fn pending(
    db: &impl ConnectionTrait,
    topic: &str,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<outbox::Model>, StoreError> {
    let page_size = Ord::max(limit, PENDING_PAGE);
    let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut found = Vec::new();
    let mut after: Option<i64> = None;
    while found.len() < wanted {
        let mut due = outbox::Entity::find()
            .filter(outbox::Column::Topic.eq(topic))
            .filter(outbox::Column::DeliveredAt.is_null())
            .filter(outbox::Column::AvailableAt.lte(now));
        if let Some(after) = after {
            due = due.filter(outbox::Column::Id.gt(after));
        }
        let page = due
            .order_by_asc(outbox::Column::Id)
            .limit(page_size)
            .all(db)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id);
        let full = page.len() as u64 == page_size;
        let mut aggregates: Vec<Uuid> = page.iter().map(|m| m.aggregate_id).collect();
        aggregates.sort_unstable();
        aggregates.dedup();
        let waiting: HashMap<Uuid, i64> = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::AggregateId)
            .column_as(outbox::Column::Id.min(), "first_waiting")
            .filter(outbox::Column::Topic.eq(topic))
            .filter(outbox::Column::AggregateId.is_in(aggregates))
            .filter(outbox::Column::DeliveredAt.is_null())
            .filter(outbox::Column::AvailableAt.gt(now))
            .group_by(outbox::Column::AggregateId)
            .into_tuple::<(Uuid, i64)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        found.extend(
            page.into_iter()
                .filter(|m| {
                    waiting
                        .get(&m.aggregate_id)
                        .is_none_or(|first| m.id < *first)
                })
                .take(wanted - found.len()),
        );
        if !full {
            break;
        }
    }
    Ok(found)
}

/// How many due messages [`pending`] reads at a time (at least its limit).
const PENDING_PAGE: u64 = 200;

/// Claims the delivery of `topic`'s messages about `aggregate_id` for
/// `holder` until `until`: true when it holds the lease (it was free,
/// expired or already its own, and is now extended); false when another
/// holder's lease runs. Only the holder of an aggregate's lease delivers
/// its messages.
pub async fn claim_aggregate(
    db: &impl ConnectionTrait,
    topic: &str,
    aggregate_id: Uuid,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let held = claim_aggregates(db, topic, &[aggregate_id], holder, now, until).await?;
    Ok(held == [aggregate_id])
}

/// [`claim_aggregate`] for several aggregates in one statement: the ones
/// `holder` now holds, in no particular order; those another holder's
/// lease covers are left out.
///
/// The leases are written in the aggregates' id order, whatever order the
/// caller's page gave them: two replicas claiming overlapping pages then
/// lock the rows they share in the same order, instead of each holding
/// one the other waits for (a deadlock, which Postgres ends by failing one
/// of the passes).
pub async fn claim_aggregates(
    db: &impl ConnectionTrait,
    topic: &str,
    aggregates: &[Uuid],
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    if aggregates.is_empty() {
        return Ok(Vec::new());
    }
    let leases = Alias::new(LEASES);
    let mut insert = Query::insert();
    insert.into_table(leases.clone()).columns([
        Alias::new("topic"),
        Alias::new("aggregate_id"),
        Alias::new("holder"),
        Alias::new("leased_until"),
    ]);
    let mut ordered = aggregates.to_vec();
    ordered.sort_unstable();
    ordered.dedup();
    for aggregate_id in &ordered {
        insert
            .values([
                topic.into(),
                (*aggregate_id).into(),
                holder.into(),
                until.into(),
            ])
            .map_err(StoreError::corrupt)?;
    }
    insert.on_conflict(
        OnConflict::columns([Alias::new("topic"), Alias::new("aggregate_id")])
            .update_columns([Alias::new("holder"), Alias::new("leased_until")])
            .action_and_where(
                Expr::col((leases.clone(), Alias::new("leased_until")))
                    .lte(now)
                    .or(Expr::col((leases, Alias::new("holder"))).eq(holder)),
            )
            .to_owned(),
    );
    insert.returning_col(Alias::new("aggregate_id"));
    db.query_all(&insert)
        .await?
        .iter()
        .map(|row| {
            row.try_get::<Uuid>("", "aggregate_id")
                .map_err(StoreError::from)
        })
        .collect()
}

/// Gives back `holder`'s lease on an aggregate, so another replica may
/// take it at once; nothing when the lease is not `holder`'s.
pub async fn release_aggregate(
    db: &impl ConnectionTrait,
    topic: &str,
    aggregate_id: Uuid,
    holder: &str,
) -> Result<(), StoreError> {
    let delete = Query::delete()
        .from_table(Alias::new(LEASES))
        .and_where(Expr::col(Alias::new("topic")).eq(topic))
        .and_where(Expr::col(Alias::new("aggregate_id")).eq(aggregate_id))
        .and_where(Expr::col(Alias::new("holder")).eq(holder))
        .to_owned();
    db.execute(&delete).await?;
    Ok(())
}

/// Gives back `holder`'s leases on `aggregates` in one statement.
pub async fn release_aggregates(
    db: &impl ConnectionTrait,
    topic: &str,
    aggregates: &[Uuid],
    holder: &str,
) -> Result<(), StoreError> {
    if aggregates.is_empty() {
        return Ok(());
    }
    let delete = Query::delete()
        .from_table(Alias::new(LEASES))
        .and_where(Expr::col(Alias::new("topic")).eq(topic))
        .and_where(Expr::col(Alias::new("holder")).eq(holder))
        .and_where(Expr::col(Alias::new("aggregate_id")).is_in(aggregates.iter().copied()))
        .to_owned();
    db.execute(&delete).await?;
    Ok(())
}

/// Gives back every lease `holder` has on `topic`'s aggregates.
pub async fn release_all(
    db: &impl ConnectionTrait,
    topic: &str,
    holder: &str,
) -> Result<(), StoreError> {
    let delete = Query::delete()
        .from_table(Alias::new(LEASES))
        .and_where(Expr::col(Alias::new("topic")).eq(topic))
        .and_where(Expr::col(Alias::new("holder")).eq(holder))
        .to_owned();
    db.execute(&delete).await?;
    Ok(())
}

/// The table of relay leases (`outbox_leases`).
const LEASES: &str = "outbox_leases";

/// Marks a message delivered.
pub async fn mark_delivered(
    db: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    mark_all_delivered(db, &[id], now).await
}

/// Marks messages delivered, in one statement.
pub async fn mark_all_delivered(
    db: &impl ConnectionTrait,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    outbox::Entity::update_many()
        .col_expr(outbox::Column::DeliveredAt, Expr::value(now))
        .filter(outbox::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// The messages with these ids as they are now, by id: what a relay
/// re-reads after claiming their aggregates, since another replica may
/// have delivered or put back some of them in between.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<outbox::Model>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(outbox::Column::Id)
        .all(db)
        .await?)
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
