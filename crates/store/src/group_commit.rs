//! Group commit: writes of one kind that arrive together share one
//! transaction, so a burst of them costs a few statements and one commit
//! instead of a handful of statements and a commit each.
//!
//! A call queues its item and waits for its answer. Up to `writers` tasks
//! write at once; a call that finds fewer running starts one with what is
//! queued. A task that finishes a batch takes what queued up meanwhile (at
//! most `max_batch` at a time) and ends when nothing is left. So nothing
//! waits for company: a call alone is written at once, alone, and batches
//! grow only while every writer is busy.
//!
//! An item, once queued, is written even if its caller stops waiting (a
//! cancelled call): the running writers take every queued item before they
//! end. Its caller's answer is then unknown to the caller, as with any
//! call cut off in flight; an idempotency key makes the retry safe.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use sea_orm::{ConnectionTrait, DbBackend};
use tokio::sync::oneshot;
use tracing::Instrument;

type Write<I, O> = dyn Fn(Vec<I>) -> Pin<Box<dyn Future<Output = Vec<O>> + Send>> + Send + Sync;

/// The histogram of how many items each transaction wrote, labelled with
/// the group commit's `name`.
pub const BATCH_METRIC: &str = "complaints_group_commit_batch_size";

/// How many batches to write at once on `db`: on Postgres two (one fills
/// while the other commits), on SQLite one, its one writer.
pub fn writers_for(db: &impl ConnectionTrait) -> usize {
    match db.get_database_backend() {
        DbBackend::Postgres => 2,
        _ => 1,
    }
}

/// The most items one transaction writes, unless a use has a reason for
/// another size.
pub const MAX_BATCH: usize = 32;

/// The writer's answer never came: it panicked while writing the batch
/// holding the item. Whether the item was written is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the write was abandoned: its outcome is unknown")]
pub struct Abandoned;

impl complaints_domain::ServiceError for Abandoned {
    /// A retry is safe where the write has an idempotency key.
    fn error_code(&self) -> complaints_domain::ErrorCode {
        complaints_domain::ErrorCode::Unavailable
    }
}

/// A group committer for items `I`, each answered with an `O`.
pub struct GroupCommit<I, O> {
    name: &'static str,
    writers: usize,
    max_batch: usize,
    write: Box<Write<I, O>>,
    state: Mutex<State<I, O>>,
}

struct State<I, O> {
    queue: VecDeque<Waiting<I, O>>,
    writing: usize,
}

struct Waiting<I, O> {
    item: I,
    answer: oneshot::Sender<O>,
    /// The caller's span, which the batch's span follows from.
    span: tracing::Span,
}

impl<I, O> std::fmt::Debug for GroupCommit<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("name", &self.name)
            .field("writers", &self.writers)
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> GroupCommit<I, O> {
    /// `write` takes a batch (in the order its items were queued) and
    /// returns one answer per item, in the same order. At most `writers`
    /// batches are written at once, each of at most `max_batch` items (both
    /// at least 1).
    pub fn new<W, F>(name: &'static str, writers: usize, max_batch: usize, write: W) -> Arc<Self>
    where
        W: Fn(Vec<I>) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<O>> + Send + 'static,
    {
        Arc::new(Self {
            name,
            writers: writers.max(1),
            max_batch: max_batch.max(1),
            write: Box::new(move |items| Box::pin(write(items))),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                writing: 0,
            }),
        })
    }

    /// Queues `item` and waits for its answer.
    pub async fn submit(self: &Arc<Self>, item: I) -> Result<O, Abandoned> {
        let (answer, answered) = oneshot::channel();
        let started = {
            let mut state = self.lock();
            state.queue.push_back(Waiting {
                item,
                answer,
                span: tracing::Span::current(),
            });
            (state.writing < self.writers).then(|| {
                state.writing += 1;
                self.take(&mut state)
            })
        };
        if let Some(batch) = started {
            tokio::spawn(self.clone().write_until_empty(batch));
        }
        answered.await.map_err(|_| Abandoned)
    }

    /// Writes `batch`, then every batch queued meanwhile, then ends.
    async fn write_until_empty(self: Arc<Self>, mut batch: Vec<Waiting<I, O>>) {
        loop {
            // The first caller's span is the batch's parent, so a call
            // written alone keeps its statements in its own trace; the
            // batch follows from every other caller's.
            let span = tracing::debug_span!(
                parent: &batch[0].span,
                "group_commit",
                name = self.name,
                items = batch.len()
            );
            #[allow(clippy::cast_precision_loss)]
            metrics::histogram!(BATCH_METRIC, "name" => self.name).record(batch.len() as f64);
            let mut items = Vec::with_capacity(batch.len());
            let mut answers = Vec::with_capacity(batch.len());
            for (position, waiting) in batch.into_iter().enumerate() {
                if position > 0 {
                    span.follows_from(&waiting.span);
                }
                items.push(waiting.item);
                answers.push(waiting.answer);
            }
            // A panic drops the answers (their callers hear `Abandoned`)
            // but not this writer: the queue behind it is still written.
            let written = AssertUnwindSafe((self.write)(items).instrument(span))
                .catch_unwind()
                .await;
            match written {
                Ok(outcomes) => {
                    for (answer, outcome) in answers.into_iter().zip(outcomes) {
                        // A caller that stopped waiting is no longer told.
                        let _ = answer.send(outcome);
                    }
                }
                Err(_) => tracing::error!(name = self.name, "a group commit's writer panicked"),
            }
            let mut state = self.lock();
            if state.queue.is_empty() {
                state.writing -= 1;
                return;
            }
            batch = self.take(&mut state);
        }
    }

    fn take(&self, state: &mut State<I, O>) -> Vec<Waiting<I, O>> {
        let count = state.queue.len().min(self.max_batch);
        state.queue.drain(..count).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<I, O>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// One writer, batches of at most 8, that records each batch's size
    /// and holds the first batch until `release` is notified, so that
    /// calls queue up behind it.
    type Recording = (
        Arc<GroupCommit<u32, u32>>,
        Arc<Mutex<Vec<usize>>>,
        Arc<tokio::sync::Notify>,
    );

    fn recording() -> Recording {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(tokio::sync::Notify::new());
        let batches = Arc::new(AtomicUsize::new(0));
        let commit = GroupCommit::new("test", 1, 8, {
            let (sizes, release) = (sizes.clone(), release.clone());
            move |items: Vec<u32>| {
                let (sizes, release, batches) = (sizes.clone(), release.clone(), batches.clone());
                async move {
                    sizes.lock().unwrap().push(items.len());
                    if batches.fetch_add(1, Ordering::SeqCst) == 0 {
                        release.notified().await;
                    }
                    items.into_iter().map(|item| item * 10).collect()
                }
            }
        });
        (commit, sizes, release)
    }

    fn submitting(
        commit: &Arc<GroupCommit<u32, u32>>,
        item: u32,
    ) -> tokio::task::JoinHandle<Result<u32, Abandoned>> {
        let commit = commit.clone();
        tokio::spawn(async move { commit.submit(item).await })
    }

    async fn first_batch_started(sizes: &Mutex<Vec<usize>>) {
        while sizes.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn queued(commit: &Arc<GroupCommit<u32, u32>>, count: usize) {
        while commit.lock().queue.len() < count {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn a_call_alone_is_written_alone_and_answered() {
        let commit = GroupCommit::new("test", 1, 8, |items: Vec<u32>| async move {
            items.into_iter().map(|item| item + 1).collect()
        });
        assert_eq!(commit.submit(41).await, Ok(42));
        assert_eq!(commit.lock().writing, 0, "the writer ended");
    }

    #[tokio::test]
    async fn calls_that_queue_behind_a_busy_writer_share_the_next_batch() {
        let (commit, sizes, release) = recording();
        let first = submitting(&commit, 1);
        first_batch_started(&sizes).await;
        let rest: Vec<_> = (2..=11).map(|item| submitting(&commit, item)).collect();
        queued(&commit, 10).await;
        release.notify_one();
        assert_eq!(first.await.unwrap(), Ok(10));
        for (item, call) in (2..=11).zip(rest) {
            assert_eq!(
                call.await.unwrap(),
                Ok(item * 10),
                "each call gets its own answer"
            );
        }
        assert_eq!(
            *sizes.lock().unwrap(),
            vec![1, 8, 2],
            "batches of at most 8, in turn"
        );
    }

    #[tokio::test]
    async fn an_item_whose_caller_stopped_waiting_is_still_written() {
        let (commit, sizes, release) = recording();
        let first = submitting(&commit, 1);
        first_batch_started(&sizes).await;
        let abandoned = submitting(&commit, 2);
        queued(&commit, 1).await;
        abandoned.abort();
        release.notify_one();
        assert_eq!(first.await.unwrap(), Ok(10));
        while sizes.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(*sizes.lock().unwrap(), vec![1, 1]);
    }

    #[tokio::test]
    async fn a_panicking_write_abandons_its_batch_and_the_next_call_is_written() {
        let commit = GroupCommit::new("test", 1, 8, |items: Vec<u32>| async move {
            assert!(!items.contains(&0), "zero is refused");
            items
        });
        assert_eq!(commit.submit(0).await, Err(Abandoned));
        assert_eq!(commit.submit(7).await, Ok(7));
    }
}
