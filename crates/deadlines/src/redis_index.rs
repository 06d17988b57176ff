//! The production backend: a Redis sorted set indexes the pending rows.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use complaints_domain::case::{CaseId, DeadlineKind, DeadlineOutcome};
use complaints_domain::clock::Clock;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::announcements;
use crate::queue::{MAX_CLAIM, check_claim, sort_claims};
use crate::rows::{self, to_ms};
use crate::wakeup::Wakeup;
use crate::{
    Claimed, DeadlineId, DeadlineQueue, FireOutcome, NewDeadline, QueueError, Scheduled, WorkerId,
};

/// Members per `ZADD`/`ZREM` command.
const COMMAND_CHUNK: usize = 1000;

/// The queue's Redis keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKeys {
    /// The sorted set: member = deadline id (16 raw bytes), score = when the
    /// row next needs a worker, in ms since the epoch.
    pub due: String,
    /// Set (to the Redis server's run id) once the index was built from the
    /// database; its absence means Redis lost the index.
    pub built: String,
    /// The pub/sub channel on which a replica announces work it scheduled
    /// (the earliest instant, in ms since the epoch), so that the other
    /// replicas' sleeping workers wake for it at once.
    pub wake: String,
}

impl IndexKeys {
    pub fn with_prefix(prefix: &str) -> Self {
        IndexKeys {
            due: format!("{prefix}due"),
            built: format!("{prefix}built"),
            wake: format!("{prefix}wake"),
        }
    }
}

#[derive(Clone)]
pub struct RedisQueueConfig {
    /// Prefix of the queue's keys. The default's `{deadlines}` hash tag puts
    /// both keys in one Redis Cluster slot, which the claim script needs.
    pub key_prefix: String,
    /// The longest a waiting worker sleeps before looking at the index
    /// again. Work this process schedules wakes it at once, and so does work
    /// another replica announces on [`IndexKeys::wake`]; the re-check is for
    /// an announcement lost while the subscription was down.
    pub recheck: Duration,
    /// Rows read from the database per step of a rebuild.
    pub rebuild_batch: u64,
    /// Every this many reconciler passes, rebuild even if nothing looks
    /// wrong (a member lost between a row's insert and its `ZADD` when a
    /// process died in between). 0: never.
    pub full_rebuild_every: u32,
    /// How long after seeing fewer members than pending rows a reconciler
    /// pass looks again before rebuilding. A schedule commits its rows
    /// before it adds their members, so a pass that counts in between sees
    /// a shortfall that is gone a moment later; under a steady stream of
    /// schedules that would rebuild the whole index on many passes. A
    /// member truly lost is still missing when the pass looks again. Zero:
    /// rebuild on the first sight of a shortfall.
    pub shortfall_recheck: Duration,
    /// The PEM CA bundle a `rediss://` server's certificate must chain to,
    /// instead of the system's roots (a Redis with a private CA). `None`:
    /// the system's roots. Set with a `redis://` URL, connecting fails.
    pub ca_pem: Option<String>,
}

impl std::fmt::Debug for RedisQueueConfig {
    /// Says whether a CA is set, not the certificates in it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueueConfig")
            .field("key_prefix", &self.key_prefix)
            .field("recheck", &self.recheck)
            .field("rebuild_batch", &self.rebuild_batch)
            .field("full_rebuild_every", &self.full_rebuild_every)
            .field("shortfall_recheck", &self.shortfall_recheck)
            .field("ca", &self.ca_pem.as_ref().map(|_| "set"))
            .finish()
    }
}

impl Default for RedisQueueConfig {
    fn default() -> Self {
        RedisQueueConfig {
            key_prefix: "complaints:{deadlines}:".to_owned(),
            recheck: Duration::from_secs(60),
            rebuild_batch: 10_000,
            full_rebuild_every: 10,
            shortfall_recheck: Duration::from_secs(1),
            ca_pem: None,
        }
    }
}

/// The Redis client for `redis_url`: verifying a `rediss://` server against
/// `config`'s CA when one is set, else (and for `redis://`) as the URL says,
/// TLS against the system's roots. Connects to nothing; fails for a URL
/// that is not a Redis URL, a CA with a URL that is not `rediss://`, or a
/// CA bundle that does not parse.
pub fn redis_client(
    redis_url: &str,
    config: &RedisQueueConfig,
) -> Result<redis::Client, QueueError> {
    use redis::IntoConnectionInfo as _;
    // Commands are small writes answered one by one: with Nagle's algorithm
    // on, one written while an earlier one is unacknowledged waits for the
    // server's delayed acknowledgement (up to 40 ms).
    let info = redis_url
        .into_connection_info()?
        .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
    let client = match &config.ca_pem {
        Some(pem) => redis::Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.as_bytes().to_vec()),
            },
        )?,
        None => redis::Client::open(info)?,
    };
    Ok(client)
}

/// What a reconciler pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// The index looked whole; nothing was written.
    InLine { pending: u64, indexed: u64 },
    /// The index was rebuilt from the database.
    Rebuilt { reason: &'static str, pending: u64 },
}

/// The queue with its index in Redis, for any number of replicas sharing
/// one Postgres and one Redis.
///
/// Claims go through `lua/claim.lua`, which atomically takes members due
/// by `now` and re-scores them to the lease's end; the rows are then taken
/// with a conditional `UPDATE`. Index entries are hints: one whose row is no
/// longer pending is removed when claimed, one whose row is leased by
/// another worker is re-scored to that lease's end. Each pending deadline
/// costs about 130 bytes of Redis (measured by the `deadline-bench` binary).
pub struct RedisQueue {
    db: DatabaseConnection,
    /// Reconnects by itself; a clone shares the one multiplexed connection.
    redis: ConnectionManager,
    keys: IndexKeys,
    claim: Script,
    config: RedisQueueConfig,
    wakeup: Arc<Wakeup>,
    /// This replica's name in its announcements (random per queue).
    replica: String,
    /// The task that wakes this process's workers for other replicas'
    /// announcements; stopped when the queue is dropped.
    listener: tokio::task::AbortHandle,
    /// Held while rebuilding, so this process runs one rebuild at a time. A
    /// Tokio mutex: it is held across awaits.
    rebuilding: tokio::sync::Mutex<()>,
    /// The Redis server's run id when this process last rebuilt the index:
    /// a different one means Redis restarted (maybe from an older snapshot).
    /// A std `Mutex`: never held across an await.
    built_on: Mutex<Option<String>>,
    reconciler_passes: AtomicU32,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("keys", &self.keys)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisQueue {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl RedisQueue {
    /// Connects to Redis at `redis_url` (with `config`'s CA, if any; see
    /// [`redis_client`]) and builds the index from `db` (which must be
    /// migrated) before answering.
    pub async fn connect(
        db: DatabaseConnection,
        redis_url: &str,
        config: RedisQueueConfig,
    ) -> Result<Self, QueueError> {
        let client = redis_client(redis_url, &config)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_max_delay(Duration::from_secs(5));
        let redis = ConnectionManager::new_with_config(client.clone(), manager).await?;
        let keys = IndexKeys::with_prefix(&config.key_prefix);
        let wakeup = Arc::new(Wakeup::default());
        let replica = Uuid::new_v4().simple().to_string();
        let (listening, listener) = announcements::listen(client, &keys.wake, &replica, &wakeup);
        // Until the first subscription is in place, another replica's
        // announcement could be missed; wait for it, but not for ever: the
        // re-check covers a subscription that is slow to come.
        let _ = tokio::time::timeout(Duration::from_secs(5), listening).await;
        let queue = RedisQueue {
            db,
            redis,
            keys,
            claim: Script::new(include_str!("../lua/claim.lua")),
            config,
            wakeup,
            replica,
            listener,
            rebuilding: tokio::sync::Mutex::new(()),
            built_on: Mutex::new(None),
            reconciler_passes: AtomicU32::new(0),
        };
        queue.rebuild_index().await?;
        Ok(queue)
    }

    pub fn keys(&self) -> &IndexKeys {
        &self.keys
    }

    /// Checks the index against the database every `interval` and rebuilds
    /// it when Redis restarted, lost the index, or holds fewer members than
    /// there are pending deadlines (still, [`RedisQueueConfig::shortfall_recheck`]
    /// after first seeing it; and every `full_rebuild_every` passes
    /// regardless), until `shutdown` completes. A failed pass is logged and
    /// tried again at the next.
    pub fn spawn_reconciler(
        self: &Arc<Self>,
        interval: Duration,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        let queue = Arc::clone(self);
        tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate; the index was built on connect.
            ticks.tick().await;
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    _ = ticks.tick() => {}
                }
                match queue.reconcile().await {
                    Ok(Reconciled::InLine { pending, indexed }) => {
                        tracing::debug!(pending, indexed, "deadline index in line");
                    }
                    Ok(Reconciled::Rebuilt { reason, pending }) => {
                        tracing::info!(reason, pending, "deadline index rebuilt by the reconciler");
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "deadline index reconcile failed");
                    }
                }
            }
        })
    }

    /// One reconciler pass (see [`Self::spawn_reconciler`]).
    pub async fn reconcile(&self) -> Result<Reconciled, QueueError> {
        let pass = self
            .reconciler_passes
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        let run_id = self.server_run_id().await?;
        let (marked, mut indexed) = self.index_marker_and_size().await?;
        let mut pending = rows::count_indexable(&self.db).await?;
        let restarted = self
            .built_on
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_deref()
            != Some(run_id.as_str());
        if marked && !restarted && indexed < pending && !self.config.shortfall_recheck.is_zero() {
            // Maybe schedules between their commit and their members: look
            // again once those have had time to land (rows counted first,
            // so a member added after the count is counted too).
            tokio::time::sleep(self.config.shortfall_recheck).await;
            pending = rows::count_indexable(&self.db).await?;
            indexed = self.index_marker_and_size().await?.1;
        }
        let every = self.config.full_rebuild_every;
        let reason = if !marked {
            "the index marker is missing"
        } else if restarted {
            "redis restarted since the last rebuild"
        } else if indexed < pending {
            "the index has fewer members than there are pending deadlines"
        } else if every > 0 && pass.is_multiple_of(every) {
            "periodic full rebuild"
        } else {
            return Ok(Reconciled::InLine { pending, indexed });
        };
        let pending = self.rebuild_index().await?;
        Ok(Reconciled::Rebuilt { reason, pending })
    }

    /// Whether the index is marked built, and how many members it holds.
    async fn index_marker_and_size(&self) -> Result<(bool, u64), QueueError> {
        Ok(redis::pipe()
            .cmd("EXISTS")
            .arg(&self.keys.built)
            .cmd("ZCARD")
            .arg(&self.keys.due)
            .query_async(&mut self.redis.clone())
            .await?)
    }

    /// Rebuilds the index unless it is marked built (by another caller
    /// meanwhile, say).
    async fn ensure_index(&self) -> Result<(), QueueError> {
        let _rebuilding = self.rebuilding.lock().await;
        let marked: bool = redis::cmd("EXISTS")
            .arg(&self.keys.built)
            .query_async(&mut self.redis.clone())
            .await?;
        if !marked {
            tracing::warn!("deadline index marker missing; rebuilding the index from the database");
            self.rebuild_locked().await?;
        }
        Ok(())
    }

    /// Adds every pending row to the index with `ZADD NX`: an entry there
    /// already (a claimed one, scored to its lease's end) is left alone.
    async fn rebuild_locked(&self) -> Result<u64, QueueError> {
        let started = Instant::now();
        let run_id = self.server_run_id().await?;
        let batch = self.config.rebuild_batch.max(1);
        let mut after = None;
        let mut pending = 0_u64;
        loop {
            let page = rows::pending_page(&self.db, after, batch).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.0);
            pending += page.len() as u64;
            self.index_add(&page, true, false).await?;
            if (page.len() as u64) < batch {
                break;
            }
        }
        redis::cmd("SET")
            .arg(&self.keys.built)
            .arg(&run_id)
            .exec_async(&mut self.redis.clone())
            .await?;
        *self.built_on.lock().unwrap_or_else(PoisonError::into_inner) = Some(run_id);
        self.wakeup.wake_all();
        tracing::info!(
            pending,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "deadline index rebuilt from the database"
        );
        Ok(pending)
    }

    async fn server_run_id(&self) -> Result<String, QueueError> {
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(info
            .lines()
            .find_map(|line| line.strip_prefix("run_id:"))
            .map(|id| id.trim().to_owned())
            .unwrap_or_default())
    }

    /// Scores each deadline at its instant; `only_new`: leave existing
    /// entries as they are.
    /// Adds `entries` to the index (`only_new`: leaving members already
    /// there as they are). With `announce`, the same round trip publishes
    /// the earliest of them on [`IndexKeys::wake`] for the other replicas,
    /// and this process's sleeping workers are woken for it.
    async fn index_add(
        &self,
        entries: &[(DeadlineId, DateTime<Utc>)],
        only_new: bool,
        announce: bool,
    ) -> Result<(), QueueError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for chunk in entries.chunks(COMMAND_CHUNK) {
            let zadd = pipe.cmd("ZADD").arg(&self.keys.due);
            if only_new {
                zadd.arg("NX");
            }
            for (id, at) in chunk {
                zadd.arg(at.timestamp_millis())
                    .arg(id.0.as_bytes().as_slice());
            }
            zadd.ignore();
        }
        // After the members: Redis runs a pipeline in order, so a replica
        // woken by the announcement finds them.
        let earliest = entries.iter().map(|(_, at)| *at).min().filter(|_| announce);
        if let Some(earliest) = earliest {
            pipe.cmd("PUBLISH")
                .arg(&self.keys.wake)
                .arg(announcements::announcement(
                    earliest.timestamp_millis(),
                    &self.replica,
                ))
                .ignore();
        }
        pipe.exec_async(&mut self.redis.clone()).await?;
        if let Some(earliest) = earliest {
            self.wakeup.scheduled(earliest);
        }
        Ok(())
    }

    async fn index_remove(&self, ids: &[DeadlineId]) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for chunk in ids.chunks(COMMAND_CHUNK) {
            let zrem = pipe.cmd("ZREM").arg(&self.keys.due);
            for id in chunk {
                zrem.arg(id.0.as_bytes().as_slice());
            }
            zrem.ignore();
        }
        pipe.exec_async(&mut self.redis.clone()).await?;
        Ok(())
    }

    /// Runs the claim script; rebuilds the index first if it was lost.
    async fn claim_members(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<DeadlineId>, QueueError> {
        for _ in 0..2 {
            let reply: Vec<Value> = self
                .claim
                .key(&self.keys.due)
                .key(&self.keys.built)
                .arg(now_ms)
                .arg(lease_ms)
                .arg(limit)
                .invoke_async(&mut self.redis.clone())
                .await?;
            let mut reply = reply.into_iter();
            match reply.next() {
                Some(Value::Int(1)) => return self.parse_members(reply).await,
                Some(Value::Int(0)) => self.ensure_index().await?,
                other => {
                    return Err(QueueError::corrupt(format!(
                        "the claim script answered {other:?}"
                    )));
                }
            }
        }
        // Lost again straight after the rebuild: nothing to hand out now.
        Ok(Vec::new())
    }

    /// The claimed ids. A member that is not a deadline id is junk that can
    /// never be claimed: it is removed, not allowed to block the index.
    async fn parse_members(
        &self,
        members: impl Iterator<Item = Value>,
    ) -> Result<Vec<DeadlineId>, QueueError> {
        let mut ids = Vec::new();
        let mut junk = Vec::new();
        for member in members {
            match member {
                Value::BulkString(bytes) => match Uuid::from_slice(&bytes) {
                    Ok(id) => ids.push(DeadlineId(id)),
                    Err(_) => junk.push(bytes),
                },
                other => {
                    return Err(QueueError::corrupt(format!(
                        "the claim script answered a member {other:?}"
                    )));
                }
            }
        }
        if !junk.is_empty() {
            tracing::warn!(
                count = junk.len(),
                "removing junk members from the deadline index"
            );
            redis::cmd("ZREM")
                .arg(&self.keys.due)
                .arg(junk)
                .exec_async(&mut self.redis.clone())
                .await?;
        }
        Ok(ids)
    }
}

#[async_trait]
impl DeadlineQueue for RedisQueue {
    fn database(&self) -> &DatabaseConnection {
        &self.db
    }

    async fn schedule_many(
        &self,
        deadlines: Vec<NewDeadline>,
    ) -> Result<Vec<Scheduled>, QueueError> {
        let inserted = rows::insert(&self.db, &deadlines).await?;
        let mut fresh = Vec::new();
        let mut again = Vec::new();
        for row in &inserted {
            let Some(next_at) = row.next_at else { continue };
            let entry = (row.scheduled.deadline_id, next_at);
            if row.scheduled.created {
                fresh.push(entry);
            } else {
                // Scheduled before: put it back only if the index lost it.
                again.push(entry);
            }
        }
        self.index_add(&fresh, false, true).await?;
        self.index_add(&again, true, false).await?;
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
        self.index_remove(&[id]).await?;
        Ok(true)
    }

    async fn cancel_case(&self, case_id: CaseId, at: DateTime<Utc>) -> Result<u64, QueueError> {
        let ids = rows::cancel_case(&self.db, case_id, at).await?;
        self.index_remove(&ids).await?;
        Ok(ids.len() as u64)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        worker: &WorkerId,
        lease: Duration,
    ) -> Result<Vec<Claimed>, QueueError> {
        let until = check_claim(now, limit, lease)?;
        let now_ms = to_ms(now).timestamp_millis();
        let lease_ms = until.timestamp_millis() - now_ms;
        let ids = self
            .claim_members(now_ms, lease_ms, limit.min(MAX_CLAIM))
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let taken = rows::claim_ids(&self.db, &ids, now, worker, until).await?;
        let taken_ids: HashSet<Uuid> = taken.iter().map(|row| row.deadline_id).collect();
        let missed: Vec<DeadlineId> = ids
            .into_iter()
            .filter(|id| !taken_ids.contains(&id.0))
            .collect();
        if !missed.is_empty() {
            // Settled meanwhile, or leased by a live worker: the rows say.
            self.tidy(&missed).await?;
        }
        let (claimed, early) = sort_claims(taken, now)?;
        if !early.is_empty() {
            let released = rows::release(&self.db, worker, Some(&early)).await?;
            self.index_add(&released, false, false).await?;
        }
        Ok(claimed)
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
            self.index_remove(&[deadline_id]).await?;
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
        self.index_remove(&changed).await?;
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
        self.index_add(&[(deadline_id, due_at)], false, true)
            .await?;
        Ok(true)
    }

    async fn release_leases(&self, worker: &WorkerId) -> Result<u64, QueueError> {
        let released = rows::release(&self.db, worker, None).await?;
        self.index_add(&released, false, true).await?;
        Ok(released.len() as u64)
    }

    async fn tidy(&self, deadline_ids: &[DeadlineId]) -> Result<(), QueueError> {
        if deadline_ids.is_empty() {
            return Ok(());
        }
        let pending = rows::pending_next_at(&self.db, deadline_ids).await?;
        let mut still = Vec::with_capacity(pending.len());
        let mut gone = Vec::new();
        for id in deadline_ids {
            match pending.get(id) {
                Some(next_at) => still.push((*id, *next_at)),
                None => gone.push(*id),
            }
        }
        self.index_add(&still, false, false).await?;
        self.index_remove(&gone).await
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, QueueError> {
        for _ in 0..2 {
            let (marked, first): (bool, Vec<(Vec<u8>, f64)>) = redis::pipe()
                .cmd("EXISTS")
                .arg(&self.keys.built)
                .cmd("ZRANGE")
                .arg(&self.keys.due)
                .arg(0)
                .arg(0)
                .arg("WITHSCORES")
                .query_async(&mut self.redis.clone())
                .await?;
            if !marked {
                self.ensure_index().await?;
                continue;
            }
            return Ok(first
                .first()
                .and_then(|(_, score)| DateTime::from_timestamp_millis(*score as i64)));
        }
        Ok(None)
    }

    async fn wait_for_work(&self, clock: &dyn Clock) -> Result<(), QueueError> {
        self.wakeup
            .wait(clock, self.config.recheck, || self.next_due_at())
            .await
    }

    fn wake(&self) {
        self.wakeup.wake_all();
    }

    fn sleeping_workers(&self) -> usize {
        self.wakeup.sleeping()
    }

    async fn rebuild_index(&self) -> Result<u64, QueueError> {
        let _rebuilding = self.rebuilding.lock().await;
        self.rebuild_locked().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_sent_at_once_not_held_for_an_acknowledgement() {
        let client = redis_client("redis://127.0.0.1:6379", &RedisQueueConfig::default())
            .expect("a Redis URL");
        assert!(client.get_connection_info().tcp_settings().nodelay());
    }
}
