//! The rules every case write follows around its transaction: a request
//! already carried out gets its earlier answer, a write that lost a race to
//! another writer is decided again, and one that lost to a concurrent retry
//! of the same request gets that retry's answer.

use std::future::Future;

use crate::StoreError;

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

/// Runs `write` once, unless `replay` finds the request already carried
/// out. `has_key` says the request has an idempotency key, so that a
/// database error from the write may be a concurrent retry's record
/// refusing ours. An error `write` returns itself (before writing) is
/// passed on as it is.
///
/// Plain closures returning futures, not async closures: the futures an
/// async closure lends out are not known to be `Send` for every lifetime,
/// and the services' handlers must be.
pub(super) async fn write_once<T, Replay, Replayed, Write, Written>(
    has_key: bool,
    replay: Replay,
    write: Write,
) -> Result<T, StoreError>
where
    Replay: Fn() -> Replayed,
    Replayed: Future<Output = Result<Option<T>, StoreError>>,
    Write: FnOnce() -> Written,
    Written: Future<Output = Result<Attempt<T>, StoreError>>,
{
    if let Some(earlier) = replay().await? {
        return Ok(earlier);
    }
    match write().await? {
        Attempt::Unchanged(answer) => Ok(answer),
        // A concurrent retry of the same request may have won: its record
        // refused ours, and its answer is the answer.
        Attempt::Written(Err(StoreError::Database(error))) if has_key => match replay().await? {
            Some(earlier) => Ok(earlier),
            None => Err(StoreError::Database(error)),
        },
        Attempt::Written(result) => result,
    }
}

/// [`write_once`], with `attempt` (which reads, decides and writes) run
/// again while another writer gets there first, up to [`CONFLICT_RETRIES`]
/// times; after that the answer is [`StoreError::Conflict`].
pub(super) async fn write_retrying<T, Replay, Replayed, Try, Tried>(
    has_key: bool,
    replay: Replay,
    mut attempt: Try,
) -> Result<T, StoreError>
where
    Replay: Fn() -> Replayed,
    Replayed: Future<Output = Result<Option<T>, StoreError>>,
    Try: FnMut() -> Tried,
    Tried: Future<Output = Result<Attempt<T>, StoreError>>,
{
    write_once(has_key, replay, || async move {
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
