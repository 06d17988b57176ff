//! The deadline queue of the escalation service.
//!
//! Every clock of every case is a row of the `deadlines` table, and that row
//! is the truth: whether the deadline is pending, met, breached or
//! cancelled, whether its warning was sent, and which worker holds it under
//! a lease. Beside the rows sits an index of when each pending row next
//! needs a worker, from which workers claim due work:
//!
//! - [`SqlQueue`], the embedded backend (`complaints dev`, SQLite or
//!   Postgres): the index is the table's own `(state, next_at)` index, and a
//!   claim is one conditional `UPDATE`. Good for one process.
//! - [`RedisQueue`], the production backend: the index is a Redis sorted set
//!   (member = the deadline id as 16 raw bytes, score = the instant in ms),
//!   claimed from by an atomic Lua script (`lua/claim.lua`) that re-scores
//!   what it hands out to the end of the lease. The worker then takes the
//!   row with the same conditional `UPDATE`, so a stale or doubled index
//!   entry costs a wasted look, never a second firing. If Redis loses the
//!   index it is rebuilt from the rows ([`DeadlineQueue::rebuild_index`]) on
//!   start, when the claim script finds the index marker gone, and from
//!   [`RedisQueue::spawn_reconciler`].
//!
//! Both backends pass one conformance suite (`tests/conformance`).
//! [`FailoverQueue`], what the escalation service runs with Redis, takes
//! claims through a [`RedisQueue`] while Redis answers and from the table
//! alone while it does not, rebuilding the index when it answers again.
//! [`clock_versions`] applies each case change to the clocks it names in
//! version order, so a late or repeated change changes nothing.
//!
//! Beside the queue, [`assignees`] keeps who each case is assigned to, as
//! the case service last said, for the escalation service's alerts, and
//! [`extensions`] keeps each extension of a deadline once per request.
//!
//! Contracts, on every backend:
//! - scheduling is idempotent on `(case_id, kind, stage)`;
//! - a deadline changes state only from `pending`, by a conditional update:
//!   it fires at most once in effect, and a breached deadline stays
//!   breached;
//! - a warning is a second instant of the same row (`warn_at`), claimed as
//!   [`Work::Warn`] before the deadline is due and at most once in effect;
//!   once the deadline is due only [`Work::Fire`] is handed out;
//! - a worker that dies loses its claims when its lease ends;
//! - a deadline moves (an extension, a pause) only while pending, keeping
//!   the due date it was first given; a held deadline (its case's clocks
//!   paused) is handed to no worker until it is rescheduled.
//!
//! # A worker loop
//!
//! ```no_run
//! # use std::{sync::Arc, time::Duration};
//! # use complaints_deadlines::{DeadlineQueue, FireOutcome, QueueError, WorkerId, Work};
//! # use complaints_domain::clock::Clock;
//! async fn run(
//!     queue: Arc<dyn DeadlineQueue>,
//!     clock: Arc<dyn Clock>,
//!     shutdown: impl std::future::Future<Output = ()>,
//! ) -> Result<(), QueueError> {
//!     let worker = WorkerId::unique("escalation");
//!     tokio::pin!(shutdown);
//!     loop {
//!         tokio::select! {
//!             () = &mut shutdown => break,
//!             woke = queue.wait_for_work(clock.as_ref()) => woke?,
//!         }
//!         loop {
//!             let claimed = queue
//!                 .claim_due(clock.now(), 100, &worker, Duration::from_secs(60))
//!                 .await?;
//!             if claimed.is_empty() {
//!                 break;
//!             }
//!             for item in claimed {
//!                 let id = item.deadline.deadline_id;
//!                 match item.work {
//!                     // Alert item.deadline.owner_role, then:
//!                     Work::Warn => queue.complete_warn(id, &worker, clock.now()).await?,
//!                     // Alert item.deadline.escalation_role, then:
//!                     Work::Fire => {
//!                         queue
//!                             .complete_fire(id, &worker, FireOutcome::Breached, clock.now())
//!                             .await?
//!                     }
//!                 };
//!             }
//!         }
//!     }
//!     queue.release_leases(&worker).await?;
//!     Ok(())
//! }
//! ```
//!
//! To make what firing causes (outbox rows) exactly once in effect, complete
//! the deadline with [`rows::complete_fire`] inside the transaction that
//! writes them, and call [`DeadlineQueue::tidy`] after the commit.
//!
//! What this crate must not do: decide anything about a case (whether a
//! breach escalates, whom to alert, what to send is the escalation service's
//! call, with the domain); treat an index entry as more than a hint; change
//! a row that is no longer pending; poll on a fixed beat; read the system
//! clock (time is passed in, or read from a [`Clock`](complaints_domain::clock::Clock)).

mod announcements;
pub mod assignees;
pub mod clock_versions;
mod entity;
mod error;
pub mod extensions;
mod failover;
mod queue;
mod redis_index;
pub mod rows;
mod sql;
mod types;
mod wakeup;

pub use error::QueueError;
pub use failover::{DEGRADED_GAUGE, FailoverQueue, IndexHealth};
pub use queue::DeadlineQueue;
pub use redis_index::{IndexKeys, Reconciled, RedisQueue, RedisQueueConfig, redis_client};
pub use sql::{SqlQueue, SqlQueueConfig};
pub use types::{
    Claimed, Deadline, DeadlineFilter, DeadlineId, DeadlinePage, DeadlineState, FireOutcome,
    NewDeadline, PageRequest, Scheduled, Work, WorkerId,
};
