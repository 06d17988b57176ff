//! Idempotency records: `(scope, request_id)` -> the content hash of the
//! first request and the response it got.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::StoreError;
use crate::entity::idempotency_records;

/// A request id with the hash of what it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    pub scope: &'static str,
    pub request_id: String,
    pub content_hash: String,
}

impl RequestKey {
    /// `content` is any stable encoding of the request without its id (the
    /// protobuf encoding of the request with `request_id` cleared, say).
    pub fn new(scope: &'static str, request_id: impl Into<String>, content: &[u8]) -> Self {
        Self {
            scope,
            request_id: request_id.into(),
            content_hash: hex::encode(Sha256::digest(content)),
        }
    }
}

/// What an earlier request under the same id produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub resource_id: String,
    pub response: Vec<u8>,
}

/// The earlier outcome for `key`, if there is one. A record with another
/// content hash is an [`StoreError::IdempotencyClash`].
pub async fn lookup(
    db: &impl ConnectionTrait,
    key: &RequestKey,
) -> Result<Option<Replay>, StoreError> {
    lookup_many(db, &[key]).await?.pop().unwrap_or(Ok(None))
}

/// [`lookup`] for several keys in one statement: for each key in turn, its
/// earlier outcome, or [`StoreError::IdempotencyClash`].
pub async fn lookup_many(
    db: &impl ConnectionTrait,
    keys: &[&RequestKey],
) -> Result<Vec<Result<Option<Replay>, StoreError>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut scopes: Vec<&str> = keys.iter().map(|key| key.scope).collect();
    scopes.sort_unstable();
    scopes.dedup();
    let found = idempotency_records::Entity::find()
        .filter(idempotency_records::Column::Scope.is_in(scopes))
        .filter(
            idempotency_records::Column::RequestId
                .is_in(keys.iter().map(|key| key.request_id.as_str())),
        )
        .all(db)
        .await?;
    Ok(keys
        .iter()
        .map(|key| {
            let record = found
                .iter()
                .find(|record| record.scope == key.scope && record.request_id == key.request_id);
            match record {
                None => Ok(None),
                Some(record) if record.content_hash == key.content_hash => Ok(Some(Replay {
                    resource_id: record.resource_id.clone(),
                    response: record.response.clone(),
                })),
                Some(_) => Err(StoreError::IdempotencyClash(key.request_id.clone())),
            }
        })
        .collect())
}

/// Records the outcome for `key`. Run it in the transaction that made the
/// change, so the record exists exactly when the change does; a concurrent
/// duplicate then fails on the primary key and its transaction rolls back.
pub async fn record(
    db: &impl ConnectionTrait,
    key: &RequestKey,
    resource_id: &str,
    response: Vec<u8>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    idempotency_records::Entity::insert(row(key, resource_id, response, now))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The record of `key`'s outcome, for a caller that inserts several at once.
pub(crate) fn row(
    key: &RequestKey,
    resource_id: &str,
    response: Vec<u8>,
    now: DateTime<Utc>,
) -> idempotency_records::ActiveModel {
    idempotency_records::ActiveModel {
        scope: Set(key.scope.to_owned()),
        request_id: Set(key.request_id.clone()),
        content_hash: Set(key.content_hash.clone()),
        resource_id: Set(resource_id.to_owned()),
        response: Set(response),
        created_at: Set(now),
    }
}
