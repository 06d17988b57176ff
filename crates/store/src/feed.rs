//! Every case's timeline events as one feed, in an order that never changes
//! once read, so a reader can resume from the last event it saw and miss
//! nothing.
//!
//! Events are committed by many transactions at once, and a transaction that
//! began first may commit last: reading "rows after the last one I saw" by an
//! insertion counter would skip a row that a slow transaction commits behind
//! the reader's position. So the feed only hands out rows that no running
//! transaction can still precede:
//!
//! - Postgres: each row records the id of the transaction that wrote it
//!   (`feed_tx`, a `xid8`) and an insertion counter (`feed_seq`). The feed is
//!   ordered by `(feed_tx, feed_seq)` and only shows rows whose transaction id
//!   is below the oldest transaction still running
//!   (`pg_snapshot_xmin(pg_current_snapshot())`): every transaction below it
//!   has ended, so nothing new can appear before the reader's position. A
//!   long-running transaction holds the feed back until it ends; it never
//!   opens a gap.
//! - SQLite has one writer at a time, so rows commit in `rowid` order and the
//!   feed is simply ordered by `rowid`.
//!
//! A cursor names a row's place in that order. It is opaque to clients.

use std::fmt;
use std::str::FromStr;

use complaints_domain::{DomainError, FieldViolation};
use sea_orm::{ConnectionTrait, DatabaseBackend, FromQueryResult, QueryResult, Statement, Value};

use crate::StoreError;
use crate::entity::case_events;

/// A place in the feed: events after it are the ones not yet seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum FeedCursor {
    /// Before the first event.
    #[default]
    Start,
    /// After the Postgres row written by transaction `tx` with counter `seq`.
    Postgres { tx: u64, seq: i64 },
    /// After the SQLite row with this `rowid`.
    Sqlite { rowid: i64 },
}

/// A cursor string that this store did not give out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor this service gave: {0:?}")]
pub struct BadCursor(pub String);

impl fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedCursor::Start => Ok(()),
            FeedCursor::Postgres { tx, seq } => write!(f, "p1.{tx}.{seq}"),
            FeedCursor::Sqlite { rowid } => write!(f, "s1.{rowid}"),
        }
    }
}

impl FromStr for FeedCursor {
    type Err = BadCursor;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadCursor(text.to_owned());
        if text.is_empty() {
            return Ok(FeedCursor::Start);
        }
        let mut parts = text.split('.');
        let cursor = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("p1"), Some(tx), Some(seq), None) => FeedCursor::Postgres {
                tx: tx.parse().map_err(|_| bad())?,
                seq: seq.parse().map_err(|_| bad())?,
            },
            (Some("s1"), Some(rowid), None, None) => FeedCursor::Sqlite {
                rowid: rowid.parse().map_err(|_| bad())?,
            },
            _ => return Err(bad()),
        };
        Ok(cursor)
    }
}

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    /// Where this event is: resume after it with this cursor.
    pub cursor: FeedCursor,
    pub register_number: String,
    pub event: case_events::Model,
}

const COLUMNS: &str = "e.case_id, e.sequence, e.kind, e.actor_subject, e.actor_role, e.at, \
                       e.details, e.prev_hash, e.hash, c.register_number";

/// Up to `limit` events after `after`, in feed order. Fewer than `limit`
/// means the reader has caught up for now.
///
/// A cursor from the other kind of database is refused as an invalid
/// `after_cursor`: it names no place in this feed.
pub async fn events_after(
    db: &impl ConnectionTrait,
    after: FeedCursor,
    limit: u64,
) -> Result<Vec<FeedEvent>, StoreError> {
    let backend = db.get_database_backend();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let statement = match (backend, after) {
        (DatabaseBackend::Postgres, FeedCursor::Start) => Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT {COLUMNS}, e.feed_tx::text AS feed_tx, e.feed_seq \
                 FROM case_events e JOIN cases c ON c.id = e.case_id \
                 WHERE e.feed_tx < pg_snapshot_xmin(pg_current_snapshot()) \
                 ORDER BY e.feed_tx, e.feed_seq LIMIT $1"
            ),
            [Value::from(limit)],
        ),
        (DatabaseBackend::Postgres, FeedCursor::Postgres { tx, seq }) => {
            Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT {COLUMNS}, e.feed_tx::text AS feed_tx, e.feed_seq \
                     FROM case_events e JOIN cases c ON c.id = e.case_id \
                     WHERE (e.feed_tx, e.feed_seq) > ($1::text::xid8, $2) \
                       AND e.feed_tx < pg_snapshot_xmin(pg_current_snapshot()) \
                     ORDER BY e.feed_tx, e.feed_seq LIMIT $3"
                ),
                [
                    Value::from(tx.to_string()),
                    Value::from(seq),
                    Value::from(limit),
                ],
            )
        }
        (DatabaseBackend::Sqlite, FeedCursor::Start | FeedCursor::Sqlite { .. }) => {
            let rowid = match after {
                FeedCursor::Sqlite { rowid } => rowid,
                _ => 0,
            };
            Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT {COLUMNS}, e.rowid AS feed_rowid \
                     FROM case_events e JOIN cases c ON c.id = e.case_id \
                     WHERE e.rowid > ? ORDER BY e.rowid LIMIT ?"
                ),
                [Value::from(rowid), Value::from(limit)],
            )
        }
        (_, _) => {
            return Err(DomainError::from(FieldViolation::new(
                "after_cursor",
                "was not given by this service's database",
            ))
            .into());
        }
    };
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| feed_event(backend, row))
        .collect()
}

fn feed_event(backend: DatabaseBackend, row: &QueryResult) -> Result<FeedEvent, StoreError> {
    let event = case_events::Model::from_query_result(row, "")?;
    let register_number: String = row.try_get("", "register_number")?;
    let cursor = match backend {
        DatabaseBackend::Postgres => {
            let tx: String = row.try_get("", "feed_tx")?;
            FeedCursor::Postgres {
                tx: tx.parse().map_err(StoreError::corrupt)?,
                seq: row.try_get("", "feed_seq")?,
            }
        }
        _ => FeedCursor::Sqlite {
            rowid: row.try_get("", "feed_rowid")?,
        },
    };
    Ok(FeedEvent {
        cursor,
        register_number,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_as_written() {
        for cursor in [
            FeedCursor::Start,
            FeedCursor::Postgres {
                tx: 7_000_123,
                seq: 42,
            },
            FeedCursor::Sqlite { rowid: 9 },
        ] {
            assert_eq!(cursor.to_string().parse::<FeedCursor>(), Ok(cursor));
        }
    }

    #[test]
    fn strangers_are_not_cursors() {
        for text in ["p1.1", "p1.a.2", "s1.", "s1.1.2", "x", "p2.1.2", "s1.-"] {
            assert!(text.parse::<FeedCursor>().is_err(), "{text}");
        }
    }
}
