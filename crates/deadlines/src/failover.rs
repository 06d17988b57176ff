//! Serving the queue through a Redis outage: the rows alone while the
//! index cannot be reached, and the index rebuilt from the rows when it can.
//!
//! [`FailoverQueue`] is the production backend. Every change is made to the
//! rows first, as on every backend; the index is told afterwards, and a
//! failure to tell it never fails the call (the change is committed; the
//! index is rebuilt from the rows before it is trusted again). While Redis
//! answers, claims go through the index ([`RedisQueue`]); from the first
//! Redis error on, they are taken from the table as [`SqlQueue`] takes them,
//! until [`FailoverQueue::check`] finds Redis answering, rebuilds the index
//! and switches back. Whichever path claims a deadline, its row leaves
//! `pending` by one conditional update, so a switch never fires anything
//! twice.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use complaints_domain::case::{CaseId, DeadlineKind, DeadlineOutcome};
use complaints_domain::clock::Clock;
use sea_orm::DatabaseConnection;

use crate::rows;
use crate::wakeup::Wakeup;
use crate::{
    Claimed, DeadlineId, DeadlineQueue, FireOutcome, NewDeadline, QueueError, Reconciled,
    RedisQueue, RedisQueueConfig, Scheduled, SqlQueue, SqlQueueConfig, WorkerId, redis_client,
};

/// The gauge that is 1 while the queue is served from the rows alone.
pub const DEGRADED_GAUGE: &str = "complaints_deadline_index_degraded";

/// Which path the queue takes.
const INDEXED: u8 = 0;
/// Redis did not answer: claims from the table, the index left alone.
const DEGRADED: u8 = 1;
/// Redis answers again and the index is being rebuilt: changes go to the
/// index as well, claims still from the table.
const RECOVERING: u8 = 2;

/// What a [`FailoverQueue::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexHealth {
    /// Redis answers and the index serves claims; what its reconcile did.
    Indexed(Reconciled),
    /// Redis does not answer (or stopped answering during the check): the
    /// queue is served from the rows alone.
    Degraded,
    /// Redis answers again: the index was rebuilt from the rows and serves
    /// claims once more.
    Restored { pending: u64 },
}

/// The deadline queue with its index in Redis when Redis answers, and from
/// the database alone when it does not (see the module documentation).
pub struct FailoverQueue {
    db: DatabaseConnection,
    /// Claims while degraded.
    sql: SqlQueue,
    /// `None` until Redis first answered (it was down at start).
    redis: RwLock<Option<Arc<RedisQueue>>>,
    redis_url: String,
    redis_config: RedisQueueConfig,
    mode: AtomicU8,
    wakeup: Wakeup,
    recheck: Duration,
    /// One recovery at a time. A Tokio mutex: held across awaits.
    recovering: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for FailoverQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FailoverQueue")
            .field("degraded", &self.is_degraded())
            .field("redis_config", &self.redis_config)
            .finish_non_exhaustive()
    }
}

impl FailoverQueue {
    /// The queue over `db` (migrated), with its index in Redis at
    /// `redis_url`. Redis not answering is no error: the queue starts
    /// degraded, served from the rows, until [`Self::check`] finds Redis.
    /// Fails only for settings no retry could mend: a URL that is not a
    /// Redis URL, or a CA that is not for a `rediss://` URL or does not
    /// parse ([`redis_client`]).
    pub async fn connect(
        db: DatabaseConnection,
        redis_url: &str,
        config: RedisQueueConfig,
    ) -> Result<Self, QueueError> {
        redis_client(redis_url, &config)?;
        let queue = FailoverQueue {
            sql: SqlQueue::new(
                db.clone(),
                SqlQueueConfig {
                    recheck: config.recheck,
                },
            ),
            db,
            redis: RwLock::new(None),
            redis_url: redis_url.to_owned(),
            recheck: config.recheck,
            redis_config: config,
            mode: AtomicU8::new(DEGRADED),
            wakeup: Wakeup::default(),
            recovering: tokio::sync::Mutex::new(()),
        };
        match RedisQueue::connect(queue.db.clone(), redis_url, queue.redis_config.clone()).await {
            Ok(redis) => {
                queue.set_redis(Arc::new(redis));
                queue.mode.store(INDEXED, Ordering::SeqCst);
                metrics::gauge!(DEGRADED_GAUGE).set(0.0);
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    "the deadline index (redis) is unreachable at start; serving deadlines from the database alone until it answers"
                );
                metrics::gauge!(DEGRADED_GAUGE).set(1.0);
            }
        }
        Ok(queue)
    }

    /// True while claims are served from the rows alone (Redis did not
    /// answer, or its index is still being rebuilt).
    pub fn is_degraded(&self) -> bool {
        self.mode.load(Ordering::SeqCst) != INDEXED
    }

    /// One health pass: when the index serves claims, the Redis reconcile
    /// (a rebuild if Redis lost the index); when degraded, a try to reach
    /// Redis, rebuild the index from the rows and switch back to it. A
    /// Redis error switches to (or keeps) the rows alone; only a database
    /// error is returned.
    pub async fn check(&self) -> Result<IndexHealth, QueueError> {
        if self.mode.load(Ordering::SeqCst) == INDEXED
            && let Some(redis) = self.redis()
        {
            return match redis.reconcile().await {
                Ok(reconciled) => Ok(IndexHealth::Indexed(reconciled)),
                Err(QueueError::Redis(error)) => {
                    self.degrade(&error);
                    Ok(IndexHealth::Degraded)
                }
                Err(error) => Err(error),
            };
        }
        self.restore().await
    }

    /// Reaches Redis, rebuilds the index from the rows and switches claims
    /// back to it. Changes made meanwhile go to the index as well (the
    /// queue is `RECOVERING`), so nothing committed during the rebuild is
    /// left out of it.
    async fn restore(&self) -> Result<IndexHealth, QueueError> {
        let _one = self.recovering.lock().await;
        if self.mode.load(Ordering::SeqCst) == INDEXED {
            // Restored by another caller meanwhile.
            let pending = rows::count_pending(&self.db).await?;
            return Ok(IndexHealth::Restored { pending });
        }
        let redis = match self.redis() {
            Some(redis) => redis,
            None => {
                match RedisQueue::connect(
                    self.db.clone(),
                    &self.redis_url,
                    self.redis_config.clone(),
                )
                .await
                {
                    Ok(redis) => {
                        let redis = Arc::new(redis);
                        self.set_redis(redis.clone());
                        redis
                    }
                    Err(QueueError::Redis(error)) => {
                        tracing::debug!(%error, "the deadline index (redis) is still unreachable");
                        return Ok(IndexHealth::Degraded);
                    }
                    Err(error) => return Err(error),
                }
            }
        };
        self.mode.store(RECOVERING, Ordering::SeqCst);
        let pending = match redis.rebuild_index().await {
            Ok(pending) => pending,
            Err(QueueError::Redis(error)) => {
                self.mode.store(DEGRADED, Ordering::SeqCst);
                tracing::debug!(%error, "the deadline index (redis) is still unreachable");
                return Ok(IndexHealth::Degraded);
            }
            Err(error) => {
                self.mode.store(DEGRADED, Ordering::SeqCst);
                return Err(error);
            }
        };
        // An index write that failed during the rebuild set DEGRADED: then
        // the index may lack it, and the next check rebuilds again.
        if self
            .mode
            .compare_exchange(RECOVERING, INDEXED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Ok(IndexHealth::Degraded);
        }
        metrics::gauge!(DEGRADED_GAUGE).set(0.0);
        tracing::warn!(
            pending,
            "the deadline index (redis) answers again: rebuilt from the database, claims go through it again"
        );
        self.wake();
        redis.wake();
        Ok(IndexHealth::Restored { pending })
    }

    /// Switches to the rows alone after a Redis error; logs and counts the
    /// switch once.
    fn degrade(&self, error: &redis::RedisError) {
        let was = self.mode.swap(DEGRADED, Ordering::SeqCst);
        if was == DEGRADED {
            return;
        }
        metrics::gauge!(DEGRADED_GAUGE).set(1.0);
        tracing::warn!(
            %error,
            "the deadline index (redis) is unreachable; serving deadlines from the database alone until it answers"
        );
        // Sleepers waiting on the index's next instant look again, at the rows.
        self.wake();
        if let Some(redis) = self.redis() {
            redis.wake();
        }
    }

    fn redis(&self) -> Option<Arc<RedisQueue>> {
        self.redis
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_redis(&self, redis: Arc<RedisQueue>) {
        *self.redis.write().unwrap_or_else(PoisonError::into_inner) = Some(redis);
    }

    /// The index, when changes should reach it (not while degraded).
    fn index(&self) -> Option<Arc<RedisQueue>> {
        if self.mode.load(Ordering::SeqCst) == DEGRADED {
            return None;
        }
        self.redis()
    }

    /// The index, when it serves claims.
    fn claims_index(&self) -> Option<Arc<RedisQueue>> {
        if self.mode.load(Ordering::SeqCst) != INDEXED {
            return None;
        }
        self.redis()
    }

    /// Brings the index entries of `ids` in line with their (committed)
    /// rows, if the index is in use. A Redis failure degrades the queue and
    /// is not returned: the rows are the truth, and the index is rebuilt
    /// from them before claims trust it again.
    async fn tell_index(&self, ids: &[DeadlineId]) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        let Some(redis) = self.index() else {
            return Ok(());
        };
        match redis.tidy(ids).await {
            Ok(()) => Ok(()),
            Err(QueueError::Redis(error)) => {
                self.degrade(&error);
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl DeadlineQueue for FailoverQueue {
    fn database(&self) -> &DatabaseConnection {
        &self.db
    }

    async fn schedule_many(
        &self,
        deadlines: Vec<NewDeadline>,
    ) -> Result<Vec<Scheduled>, QueueError> {
        let inserted = rows::insert(&self.db, &deadlines).await?;
        let indexed: Vec<DeadlineId> = inserted
            .iter()
            .filter(|row| row.next_at.is_some())
            .map(|row| row.scheduled.deadline_id)
            .collect();
        self.tell_index(&indexed).await?;
        if let Some(earliest) = inserted
            .iter()
            .filter(|row| row.scheduled.created)
            .filter_map(|row| row.next_at)
            .min()
        {
            self.wakeup.scheduled(earliest);
        }
        Ok(inserted.into_iter().map(|row| row.scheduled).collect())
    }

    async fn settle(
        &self,
        case_id: CaseId,
        kind: DeadlineKind,
        outcome: DeadlineOutcome,
        at: DateTime<Utc>,
    ) -> Result<bool, QueueError> {
        let Some(id) = rows::settle(&self.db, case_id, kind, outcome, at).await? else {
            return Ok(false);
        };
        self.tell_index(&[id]).await?;
        Ok(true)
    }

    async fn cancel_case(&self, case_id: CaseId, at: DateTime<Utc>) -> Result<u64, QueueError> {
        let ids = rows::cancel_case(&self.db, case_id, at).await?;
        self.tell_index(&ids).await?;
        Ok(ids.len() as u64)
    }

    /// Through the index while it serves claims; from the table once Redis
    /// fails (in the same call). Rows the index path took before Redis
    /// failed in its middle are claimable again when their lease ends.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        worker: &WorkerId,
        lease: Duration,
    ) -> Result<Vec<Claimed>, QueueError> {
        if let Some(redis) = self.claims_index() {
            match redis.claim_due(now, limit, worker, lease).await {
                Err(QueueError::Redis(error)) => self.degrade(&error),
                other => return other,
            }
        }
        self.sql.claim_due(now, limit, worker, lease).await
    }

    async fn complete_fire(
        &self,
        deadline_id: DeadlineId,
        worker: &WorkerId,
        outcome: FireOutcome,
        at: DateTime<Utc>,
    ) -> Result<bool, QueueError> {
        let fired = rows::complete_fire(&self.db, deadline_id, worker, outcome, at).await?;
        if fired {
            self.tell_index(&[deadline_id]).await?;
        }
        Ok(fired)
    }

    async fn complete_fire_many(
        &self,
        fired: &[(DeadlineId, FireOutcome)],
        worker: &WorkerId,
        at: DateTime<Utc>,
    ) -> Result<Vec<DeadlineId>, QueueError> {
        let changed = rows::complete_fire_many(&self.db, fired, worker, at).await?;
        self.tell_index(&changed).await?;
        Ok(changed)
    }

    async fn complete_warn(
        &self,
        deadline_id: DeadlineId,
        worker: &WorkerId,
        at: DateTime<Utc>,
    ) -> Result<bool, QueueError> {
        let Some(due_at) = rows::finish_warning(&self.db, deadline_id, worker, at).await? else {
            return Ok(false);
        };
        self.tell_index(&[deadline_id]).await?;
        self.wakeup.scheduled(due_at);
        Ok(true)
    }

    async fn release_leases(&self, worker: &WorkerId) -> Result<u64, QueueError> {
        let released = rows::release(&self.db, worker, None).await?;
        let ids: Vec<DeadlineId> = released.iter().map(|(id, _)| *id).collect();
        self.tell_index(&ids).await?;
        if let Some(earliest) = released.iter().map(|(_, at)| *at).min() {
            self.wakeup.scheduled(earliest);
        }
        Ok(released.len() as u64)
    }

    async fn tidy(&self, deadline_ids: &[DeadlineId]) -> Result<(), QueueError> {
        self.tell_index(deadline_ids).await
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, QueueError> {
        if let Some(redis) = self.claims_index() {
            match redis.next_due_at().await {
                Err(QueueError::Redis(error)) => self.degrade(&error),
                other => return other,
            }
        }
        rows::next_due(&self.db).await
    }

    async fn wait_for_work(&self, clock: &dyn Clock) -> Result<(), QueueError> {
        self.wakeup
            .wait(clock, self.recheck, || self.next_due_at())
            .await
    }

    fn wake(&self) {
        self.wakeup.wake_all();
    }

    fn sleeping_workers(&self) -> usize {
        self.wakeup.sleeping()
    }

    /// Rebuilds the index when it serves claims; when degraded, tries to
    /// restore it ([`Self::check`]). Answers how many deadlines are pending.
    async fn rebuild_index(&self) -> Result<u64, QueueError> {
        if let Some(redis) = self.claims_index() {
            match redis.rebuild_index().await {
                Err(QueueError::Redis(error)) => self.degrade(&error),
                other => return other,
            }
        }
        match self.restore().await? {
            IndexHealth::Restored { pending } => Ok(pending),
            _ => rows::count_pending(&self.db).await,
        }
    }
}
