//! The embedded backend: the `deadlines` table is its own index.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use complaints_domain::case::{CaseId, DeadlineKind, DeadlineOutcome};
use complaints_domain::clock::Clock;
use sea_orm::DatabaseConnection;

use crate::queue::{check_claim, sort_claims};
use crate::rows;
use crate::wakeup::Wakeup;
use crate::{
    Claimed, DeadlineId, DeadlineQueue, FireOutcome, NewDeadline, QueueError, Scheduled, WorkerId,
};

#[derive(Debug, Clone)]
pub struct SqlQueueConfig {
    /// The longest a waiting worker sleeps before looking again, for work
    /// another process scheduled (this process's schedules wake it at once).
    pub recheck: Duration,
}

impl Default for SqlQueueConfig {
    fn default() -> Self {
        SqlQueueConfig {
            recheck: Duration::from_secs(60),
        }
    }
}

/// The queue served from the database alone (SQLite or Postgres), for the
/// embedded suite. A claim is one conditional `UPDATE` of the earliest
/// claimable rows (on Postgres with `FOR UPDATE SKIP LOCKED`, so concurrent
/// claims do not wait on each other). Correct with any number of workers
/// and processes; meant for one process, since other processes' schedules
/// are only seen at the re-check.
#[derive(Debug)]
pub struct SqlQueue {
    db: DatabaseConnection,
    config: SqlQueueConfig,
    wakeup: Wakeup,
}

impl SqlQueue {
    /// A queue over `db`, which must be migrated (`complaints_store::db::connect`).
    pub fn new(db: DatabaseConnection, config: SqlQueueConfig) -> Self {
        SqlQueue {
            db,
            config,
            wakeup: Wakeup::default(),
        }
    }
}

#[async_trait]
impl DeadlineQueue for SqlQueue {
    fn database(&self) -> &DatabaseConnection {
        &self.db
    }

    async fn schedule_many(
        &self,
        deadlines: Vec<NewDeadline>,
    ) -> Result<Vec<Scheduled>, QueueError> {
        let inserted = rows::insert(&self.db, &deadlines).await?;
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
        Ok(rows::settle(&self.db, case_id, kind, outcome, at)
            .await?
            .is_some())
    }

    async fn cancel_case(&self, case_id: CaseId, at: DateTime<Utc>) -> Result<u64, QueueError> {
        Ok(rows::cancel_case(&self.db, case_id, at).await?.len() as u64)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        worker: &WorkerId,
        lease: Duration,
    ) -> Result<Vec<Claimed>, QueueError> {
        let until = check_claim(now, limit, lease)?;
        let taken = rows::claim_next(&self.db, now, limit as u64, worker, until).await?;
        let (claimed, early) = sort_claims(taken, now)?;
        if !early.is_empty() {
            rows::release(&self.db, worker, Some(&early)).await?;
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
        rows::complete_fire(&self.db, deadline_id, worker, outcome, at).await
    }

    async fn complete_fire_many(
        &self,
        fired: &[(DeadlineId, FireOutcome)],
        worker: &WorkerId,
        at: DateTime<Utc>,
    ) -> Result<Vec<DeadlineId>, QueueError> {
        rows::complete_fire_many(&self.db, fired, worker, at).await
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
        self.wakeup.scheduled(due_at);
        Ok(true)
    }

    async fn release_leases(&self, worker: &WorkerId) -> Result<u64, QueueError> {
        let released = rows::release(&self.db, worker, None).await?;
        if let Some(earliest) = released.iter().map(|(_, at)| *at).min() {
            self.wakeup.scheduled(earliest);
        }
        Ok(released.len() as u64)
    }

    async fn tidy(&self, _deadline_ids: &[DeadlineId]) -> Result<(), QueueError> {
        Ok(())
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, QueueError> {
        rows::next_due(&self.db).await
    }

    async fn wait_for_work(&self, clock: &dyn Clock) -> Result<(), QueueError> {
        self.wakeup
            .wait(clock, self.config.recheck, || rows::next_due(&self.db))
            .await
    }

    fn wake(&self) {
        self.wakeup.wake_all();
    }

    fn sleeping_workers(&self) -> usize {
        self.wakeup.sleeping()
    }

    async fn rebuild_index(&self) -> Result<u64, QueueError> {
        rows::count_pending(&self.db).await
    }
}
