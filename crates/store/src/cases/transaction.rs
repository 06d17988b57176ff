//! The rules every case write follows around its transaction: a request
//! already carried out gets its earlier answer, a write that lost a race to
//! another writer is decided again, and one that lost to a concurrent retry
//! of the same request gets that retry's answer.

use sea_orm::DatabaseConnection;

use crate::StoreError;
use crate::idempotency::RequestKey;

/// How many times a write is decided again when another writer changed a
/// case between our read and our write.
const CONFLICT_RETRIES: usize = 5;

/// What one attempt at a write came to.
pub(super) enum Attempt<T> {
    /// Nothing needed writing: the answer as things stand.
    Unchanged(T),
    /// The write's own result. [`StoreError::Conflict`] means another writer
    /// changed a case first; a database error may mean a concurrent retry of
    /// the same request committed first.
    Written(Result<T, StoreError>),
}

/// Runs `write` once, unless `replay` finds the request (by `key`) already
/// carried out. An error `write` returns itself (before writing) is passed
/// on as it is.
pub(super) async fn write_once<T>(
    db: &DatabaseConnection,
    key: Option<&RequestKey>,
    replay: impl AsyncFn(&DatabaseConnection, Option<&RequestKey>) -> Result<Option<T>, StoreError>,
    write: impl AsyncFnOnce() -> Result<Attempt<T>, StoreError>,
) -> Result<T, StoreError> {
    if let Some(earlier) = replay(db, key).await? {
        return Ok(earlier);
    }
    match write().await? {
        Attempt::Unchanged(answer) => Ok(answer),
        // A concurrent retry of the same request may have won: its record
        // refused ours, and its answer is the answer.
        Attempt::Written(Err(StoreError::Database(error))) if key.is_some() => {
            match replay(db, key).await? {
                Some(earlier) => Ok(earlier),
                None => Err(StoreError::Database(error)),
            }
        }
        Attempt::Written(result) => result,
    }
}

/// [`write_once`], with `attempt` (which reads, decides and writes) run
/// again while another writer gets there first, up to [`CONFLICT_RETRIES`]
/// times; after that the answer is [`StoreError::Conflict`].
pub(super) async fn write_retrying<T>(
    db: &DatabaseConnection,
    key: Option<&RequestKey>,
    replay: impl AsyncFn(&DatabaseConnection, Option<&RequestKey>) -> Result<Option<T>, StoreError>,
    mut attempt: impl AsyncFnMut() -> Result<Attempt<T>, StoreError>,
) -> Result<T, StoreError> {
    write_once(db, key, replay, async || {
        for _ in 0..CONFLICT_RETRIES {
            match attempt().await? {
                Attempt::Written(Err(StoreError::Conflict)) => continue,
                done => return Ok(done),
            }
        }
        Ok(Attempt::Written(Err(StoreError::Conflict)))
    })
    .await
}
