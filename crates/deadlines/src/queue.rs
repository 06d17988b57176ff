use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use complaints_domain::calendar::Due;
use complaints_domain::case::{CaseId, DeadlineKind, DeadlineOutcome};
use complaints_domain::clock::Clock;
use sea_orm::DatabaseConnection;

use crate::rows::{self, Direction};
use crate::{
    Claimed, Deadline, DeadlineFilter, DeadlineId, DeadlinePage, DeadlineState, FireOutcome,
    NewDeadline, PageRequest, QueueError, Scheduled, WorkerId,
};

/// The deadline queue, whichever backend holds its index. Object-safe: the
/// escalation service keeps an `Arc<dyn DeadlineQueue>`.
///
/// Every instant is passed in, so a test clock drives the queue as the
/// system clock does. Instants are kept to the millisecond.
#[async_trait]
pub trait DeadlineQueue: Send + Sync + std::fmt::Debug {
    /// The database holding the rows, for [`rows`] functions run inside a
    /// caller's transaction.
    fn database(&self) -> &DatabaseConnection;

    /// Starts a clock. Idempotent on `(case_id, kind, stage)`: scheduling
    /// the same deadline again (at-least-once delivery) changes nothing and
    /// answers the first one's id with `created: false`.
    async fn schedule(&self, deadline: NewDeadline) -> Result<Scheduled, QueueError> {
        self.schedule_many(vec![deadline])
            .await?
            .pop()
            .ok_or_else(|| QueueError::corrupt("a schedule answered nothing"))
    }

    /// [`Self::schedule`] for many, in batches; answers in the order given.
    async fn schedule_many(
        &self,
        deadlines: Vec<NewDeadline>,
    ) -> Result<Vec<Scheduled>, QueueError>;

    /// Ends the case's pending deadline `kind` as the case settled it.
    /// True if this call changed it; false if there was none pending (a
    /// breached deadline stays breached).
    async fn settle(
        &self,
        case_id: CaseId,
        kind: DeadlineKind,
        outcome: DeadlineOutcome,
        at: DateTime<Utc>,
    ) -> Result<bool, QueueError>;

    /// Cancels every pending deadline of the case; answers how many.
    async fn cancel_case(&self, case_id: CaseId, at: DateTime<Utc>) -> Result<u64, QueueError>;

    /// Moves a pending deadline to a new due date, with the warning instant
    /// for it, keeping the date it was first given
    /// ([`Deadline::original_due`]); with `release_hold`, a held deadline is
    /// handed to workers again. Answers it as it now is, or `None` when it
    /// is not pending. The index sees the new instant before this returns.
    /// To write what the move causes in the same transaction, use
    /// [`rows::reschedule`] and then [`Self::tidy`] and [`Self::wake`].
    async fn reschedule(
        &self,
        deadline_id: DeadlineId,
        due: Due,
        warn_at: Option<DateTime<Utc>>,
        release_hold: bool,
    ) -> Result<Option<Deadline>, QueueError> {
        let moved =
            rows::reschedule(self.database(), deadline_id, due, warn_at, release_hold).await?;
        self.tidy(&[deadline_id]).await?;
        self.wake();
        Ok(moved)
    }

    /// Holds every pending deadline of the case not held already (its clocks
    /// are paused): they stay pending, but no worker is handed them, for a
    /// warning or a firing, until [`Self::reschedule`] releases them.
    /// Answers those this call held.
    async fn hold_case(
        &self,
        case_id: CaseId,
        at: DateTime<Utc>,
    ) -> Result<Vec<Deadline>, QueueError> {
        let held = rows::hold_case(self.database(), case_id, at).await?;
        let ids: Vec<DeadlineId> = held.iter().map(|d| d.deadline_id).collect();
        self.tidy(&ids).await?;
        Ok(held)
    }

    /// Hands `worker` up to `limit` (1 to 1,000) pending deadlines whose
    /// warning or due instant is at or before `now`, each under a lease
    /// until `now + lease`, earliest first. Concurrent claims never get the
    /// same deadline while its lease lasts; after it ends (the worker died)
    /// another claim takes it over.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        worker: &WorkerId,
        lease: Duration,
    ) -> Result<Vec<Claimed>, QueueError>;

    /// Ends a deadline `worker` claimed for [`crate::Work::Fire`]. True if
    /// this call changed it: it fires at most once in effect. False when it
    /// was settled meanwhile or another worker took it over.
    async fn complete_fire(
        &self,
        deadline_id: DeadlineId,
        worker: &WorkerId,
        outcome: FireOutcome,
        at: DateTime<Utc>,
    ) -> Result<bool, QueueError>;

    /// [`Self::complete_fire`] for many claimed deadlines at once, one
    /// statement per outcome: answers those this call fired. What firing
    /// causes can then be written per batch instead of per deadline.
    async fn complete_fire_many(
        &self,
        fired: &[(DeadlineId, FireOutcome)],
        worker: &WorkerId,
        at: DateTime<Utc>,
    ) -> Result<Vec<DeadlineId>, QueueError>;

    /// Records the warning `worker` claimed as sent; the deadline then waits
    /// for its due instant. True if this call changed it (at most once).
    async fn complete_warn(
        &self,
        deadline_id: DeadlineId,
        worker: &WorkerId,
        at: DateTime<Utc>,
    ) -> Result<bool, QueueError>;

    /// Gives back everything `worker` holds, for another worker to claim at
    /// once (graceful shutdown). Answers how many.
    async fn release_leases(&self, worker: &WorkerId) -> Result<u64, QueueError>;

    /// Brings the index entries of these deadlines in line with their rows:
    /// after [`rows`] functions changed them inside a caller's transaction.
    async fn tidy(&self, deadline_ids: &[DeadlineId]) -> Result<(), QueueError>;

    /// The earliest instant any pending deadline needs a worker: a warning,
    /// a due instant, or the end of a lease.
    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, QueueError>;

    /// Returns when work may be due: at the next due instant on `clock`,
    /// when this process schedules or releases something earlier, on
    /// [`Self::wake`], or after the backend's re-check interval (which
    /// covers other processes' schedules). Never on a fixed beat.
    ///
    /// Cancel-safe: select it against a shutdown signal. It sleeps on
    /// Tokio's timer, so a clock that jumps must call [`Self::wake`].
    async fn wait_for_work(&self, clock: &dyn Clock) -> Result<(), QueueError>;

    /// Wakes every worker in [`Self::wait_for_work`] (after a test clock
    /// advanced, say).
    fn wake(&self);

    /// Workers now asleep in [`Self::wait_for_work`] with a wake-up time set.
    fn sleeping_workers(&self) -> usize;

    /// Puts every pending deadline into the index; answers how many are
    /// pending. Nothing is lost or fired twice by a rebuild, however stale
    /// the index was. For the SQL backend the table is the index: nothing
    /// to do.
    async fn rebuild_index(&self) -> Result<u64, QueueError>;

    /// Every deadline of a case, soonest due first.
    async fn get(&self, case_id: CaseId) -> Result<Vec<Deadline>, QueueError> {
        rows::of_case(self.database(), case_id).await
    }

    async fn deadline(&self, deadline_id: DeadlineId) -> Result<Option<Deadline>, QueueError> {
        rows::by_id(self.database(), deadline_id).await
    }

    /// Breached deadlines, most recently due first.
    async fn list_breaches(
        &self,
        filter: &DeadlineFilter,
        page: &PageRequest,
    ) -> Result<DeadlinePage, QueueError> {
        rows::list(
            self.database(),
            rows::state_is(DeadlineState::Breached),
            filter,
            page,
            Direction::Descending,
        )
        .await
    }

    /// Pending deadlines due by `until` (overdue ones not yet fired
    /// included), soonest first.
    async fn list_due_soon(
        &self,
        until: DateTime<Utc>,
        filter: &DeadlineFilter,
        page: &PageRequest,
    ) -> Result<DeadlinePage, QueueError> {
        rows::list(
            self.database(),
            rows::state_is(DeadlineState::Pending).add(rows::due_by(until)),
            filter,
            page,
            Direction::Ascending,
        )
        .await
    }

    /// How many deadlines are pending (the "deadlines pending" gauge).
    async fn count_pending(&self) -> Result<u64, QueueError> {
        rows::count_pending(self.database()).await
    }
}

/// The largest claim: the Lua script re-scores claimed members in one call.
pub(crate) const MAX_CLAIM: usize = 1000;

/// Checks a claim's arguments; answers the lease's end.
pub(crate) fn check_claim(
    now: DateTime<Utc>,
    limit: usize,
    lease: Duration,
) -> Result<DateTime<Utc>, QueueError> {
    if limit == 0 || limit > MAX_CLAIM {
        return Err(QueueError::invalid(
            "limit",
            format!("must be 1 to {MAX_CLAIM}"),
        ));
    }
    let lease = chrono::TimeDelta::from_std(lease)
        .ok()
        .filter(|lease| *lease >= chrono::TimeDelta::milliseconds(1))
        .filter(|lease| *lease <= chrono::TimeDelta::days(1))
        .ok_or_else(|| QueueError::invalid("lease", "must be 1 ms to 1 day"))?;
    now.checked_add_signed(lease)
        .map(rows::to_ms)
        .ok_or_else(|| QueueError::invalid("now", "out of range"))
}

/// Splits claimed rows into the work they ask for and those that ask for
/// none yet (claimable only through a worker's clock running ahead of
/// another's: they go back at once).
pub(crate) fn sort_claims(
    rows: Vec<crate::entity::Model>,
    now: DateTime<Utc>,
) -> Result<(Vec<Claimed>, Vec<DeadlineId>), QueueError> {
    let mut claimed = Vec::with_capacity(rows.len());
    let mut early = Vec::new();
    for row in rows {
        let deadline = Deadline::try_from(row)?;
        match deadline.work_at(now) {
            Some(work) => claimed.push(Claimed { deadline, work }),
            None => early.push(deadline.deadline_id),
        }
    }
    claimed.sort_by_key(|claim| (claim.deadline.due.at, claim.deadline.deadline_id));
    Ok((claimed, early))
}
