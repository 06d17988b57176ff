//! Firing deadlines as they fall due: the worker loop, a firing pass
//! (`fire_due`), what each firing does (a breach, a warning, the day-5
//! referral update), each committed with the outbox messages it causes.

use std::time::Duration;
use tracing::Instrument as _;

use chrono::{DateTime, Utc};
use complaints_deadlines::{Deadline, FireOutcome, QueueError, Work, assignees, rows};
use complaints_domain::case::{CaseId, DeadlineKind};
use complaints_rpc::service::Stop;
use complaints_store::outbox::{self, OutboxMessage};
use sea_orm::TransactionTrait;

use crate::alerts::{self, StaffAlert};
use crate::app::EscalationApp;
use crate::relay::{CASE_TOPIC, NOTIFY_TOPIC};

const CLAIM_BATCH: usize = 100;

/// What one firing pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fired {
    pub breached: usize,
    pub warned: usize,
    pub referral_updates: usize,
    pub settled_quietly: usize,
}

impl Fired {
    pub fn total(&self) -> usize {
        self.breached + self.warned + self.referral_updates + self.settled_quietly
    }
}

impl EscalationApp {
    /// Fires everything due at `now`: breaches, day-5 referral notices,
    /// warnings. Returns what it did. Each deadline fires at most once in
    /// effect, whichever worker claims it: the row's conditional update and
    /// the outbox rows it causes commit in one transaction.
    pub async fn fire_due(&self) -> Result<Fired, QueueError> {
        self.fire_due_until(None).await
    }

    /// [`Self::fire_due`], stopping between deadlines once `stop` is sent:
    /// the deadline in hand is finished, nothing more is fired, and the
    /// leases of the claimed deadlines not fired are given back at once, for
    /// another replica to take.
    async fn fire_due_until(&self, stop: Option<&Stop>) -> Result<Fired, QueueError> {
        let stopped = || stop.is_some_and(Stop::is_stopped);
        let mut fired = Fired::default();
        loop {
            if stopped() {
                return Ok(fired);
            }
            let claimed = self
                .queue
                .claim_due(self.clock.now(), CLAIM_BATCH, &self.worker, self.lease)
                .await?;
            if claimed.is_empty() {
                self.record_pending().await;
                return Ok(fired);
            }
            let mut breaches = Vec::new();
            let mut cut_short = false;
            for item in claimed {
                if stopped() {
                    cut_short = true;
                    break;
                }
                // Each firing is stamped with the time it happened.
                let now = self.clock.now();
                let deadline = item.deadline;
                // In the trace of the change that started the clock.
                let span = fire_span(&deadline);
                let result = match item.work {
                    Work::Warn => self.warn(&deadline, now, &mut fired).instrument(span).await,
                    Work::Fire if deadline.kind == DeadlineKind::ReferralUpdate => {
                        self.referral_update(&deadline, now, &mut fired)
                            .instrument(span)
                            .await
                    }
                    Work::Fire => {
                        breaches.push(deadline);
                        Ok(())
                    }
                };
                if let Err(error) = result {
                    // The lease runs out and the deadline is tried again.
                    tracing::error!(%error, "firing a deadline failed; it will be retried");
                }
            }
            // The breaches already taken in hand are recorded, stop or not.
            if let Err(error) = self.breach(&breaches, self.clock.now(), &mut fired).await {
                tracing::error!(%error, count = breaches.len(), "recording breaches failed; they will be retried");
            }
            self.outbox_wake.wake_all();
            if cut_short {
                let released = self.queue.release_leases(&self.worker).await?;
                tracing::info!(
                    released,
                    "stopping: gave back the deadlines claimed and not fired"
                );
                return Ok(fired);
            }
        }
    }

    /// Marks the batch BREACHED and, in the same transaction, asks for the
    /// alerts to the owner (naming the case's assignee, if it has one) and
    /// the escalation role, and for a broken stage 2 clock hands the review
    /// to the Operations Lead (docs/policy.md, Stage 2, R5).
    async fn breach(
        &self,
        batch: &[Deadline],
        now: DateTime<Utc>,
        fired: &mut Fired,
    ) -> Result<(), FiringError> {
        if batch.is_empty() {
            return Ok(());
        }
        let outcomes: Vec<_> = batch
            .iter()
            .map(|d| (d.deadline_id, FireOutcome::Breached))
            .collect();
        let txn = self.queue.database().begin().await?;
        let changed = rows::complete_fire_many(&txn, &outcomes, &self.worker, now).await?;
        let case_ids: Vec<CaseId> = batch
            .iter()
            .filter(|d| changed.contains(&d.deadline_id))
            .map(|d| d.case_id)
            .collect();
        let assigned = assignees::of_cases(&txn, &case_ids).await?;
        let mut messages = Vec::new();
        for deadline in batch.iter().filter(|d| changed.contains(&d.deadline_id)) {
            // Each breach's messages continue its clock's trace.
            let span = fire_span(deadline);
            let _in_trace = span.enter();
            let assignee = assigned.get(&deadline.case_id).map(String::as_str);
            let owner = alerts::alert(deadline, deadline.owner_role, StaffAlert::Breach, assignee);
            messages.push(message(NOTIFY_TOPIC, deadline.case_id, &owner)?);
            if deadline.escalation_role != deadline.owner_role {
                let escalation =
                    alerts::alert(deadline, deadline.escalation_role, StaffAlert::Breach, None);
                messages.push(message(NOTIFY_TOPIC, deadline.case_id, &escalation)?);
            }
            if deadline.kind == DeadlineKind::Stage2Respond {
                let request = alerts::escalate_stage_2(deadline);
                messages.push(message(CASE_TOPIC, deadline.case_id, &request)?);
            }
            if let Some(notice) = self.holding_update(deadline, now) {
                messages.push(message(NOTIFY_TOPIC, deadline.case_id, &notice)?);
            }
        }
        outbox::enqueue(&txn, &messages, now).await?;
        txn.commit().await?;
        for deadline in batch.iter().filter(|d| changed.contains(&d.deadline_id)) {
            metrics::counter!(
                "complaints_deadlines_breached_total",
                "kind" => deadline.kind.as_str(),
            )
            .increment(1);
            record_firing_lag(deadline, now);
        }
        self.queue.tidy(&changed).await?;
        fired.breached += changed.len();
        Ok(())
    }

    /// A stage 1 resolution date that passes without having been moved
    /// (by an extension or a pause) tells the complainant when they will
    /// hear from us next: the policy's number of working days after the
    /// local date of the breach. Once per deadline: it fires once, and the
    /// notice's dedupe key is the deadline's. docs/policy.md, Working days,
    /// Extensions and pauses.
    fn holding_update(
        &self,
        deadline: &Deadline,
        now: DateTime<Utc>,
    ) -> Option<crate::relay::AlertRequest> {
        if deadline.kind != DeadlineKind::Resolve || deadline.due != deadline.original_due {
            return None;
        }
        let next_contact = self.calendar.add_working_days(
            self.calendar.local_date(now),
            self.extensions.holding_update_working_days,
        );
        Some(alerts::holding_update(deadline, next_contact))
    }

    async fn warn(
        &self,
        deadline: &Deadline,
        now: DateTime<Utc>,
        fired: &mut Fired,
    ) -> Result<(), FiringError> {
        let txn = self.queue.database().begin().await?;
        if rows::complete_warn(&txn, deadline.deadline_id, &self.worker, now).await? {
            let assigned = assignees::of_cases(&txn, &[deadline.case_id]).await?;
            let warning = alerts::alert(
                deadline,
                deadline.owner_role,
                StaffAlert::Warning,
                assigned.get(&deadline.case_id).map(String::as_str),
            );
            let warning = message(NOTIFY_TOPIC, deadline.case_id, &warning)?;
            outbox::enqueue(&txn, &[warning], now).await?;
            fired.warned += 1;
        }
        txn.commit().await?;
        Ok(self.queue.tidy(&[deadline.deadline_id]).await?)
    }

    /// At day 5, if a referral to another department is still open, the
    /// complainant is told (MET); otherwise there is nothing to say
    /// (CANCELLED). docs/policy.md, Stage 1, R3.
    async fn referral_update(
        &self,
        deadline: &Deadline,
        now: DateTime<Utc>,
        fired: &mut Fired,
    ) -> Result<(), FiringError> {
        let case = self
            .case
            .get_case(&deadline.case_id.to_string())
            .await
            .map_err(|status| FiringError::CaseUnavailable {
                code: status.code(),
                message: status.message().to_owned(),
            })?;
        let open_referral = case.referrals.iter().any(|r| r.responded_at.is_none());
        let closed =
            case.status == complaints_proto::complaints::case::v1::CaseStatus::Closed as i32;
        let outcome = if open_referral && !closed {
            FireOutcome::Met
        } else {
            FireOutcome::Cancelled
        };
        let txn = self.queue.database().begin().await?;
        if rows::complete_fire(&txn, deadline.deadline_id, &self.worker, outcome, now).await? {
            record_firing_lag(deadline, now);
            if outcome == FireOutcome::Met {
                let notice = alerts::referral_update(deadline);
                outbox::enqueue(
                    &txn,
                    &[message(NOTIFY_TOPIC, deadline.case_id, &notice)?],
                    now,
                )
                .await?;
                fired.referral_updates += 1;
            } else {
                fired.settled_quietly += 1;
            }
        }
        txn.commit().await?;
        Ok(self.queue.tidy(&[deadline.deadline_id]).await?)
    }

    /// Sets the `complaints_deadlines_pending` gauge at the end of a firing
    /// pass, at most once every [`PENDING_GAUGE_EVERY`]: the count reads
    /// every pending row, and under load a pass ends several times a
    /// second. A failed count leaves the last value.
    async fn record_pending(&self) {
        if !self.pending_counted.due() {
            return;
        }
        match self.queue.count_pending().await {
            Ok(pending) => metrics::gauge!("complaints_deadlines_pending").set(pending as f64),
            Err(error) => tracing::warn!(%error, "counting pending deadlines failed"),
        }
    }

    /// Runs firing passes until `stop` is sent: sleeps until the next
    /// deadline is due or an earlier one is scheduled, never on a fixed
    /// beat. The signal reaches a pass under way between deadlines (see
    /// [`Self::fire_due_until`]); at the end every lease still held is given
    /// back.
    pub async fn run_worker(&self, stop: Stop) {
        loop {
            match self.fire_due_until(Some(&stop)).await {
                Ok(fired) if fired.total() > 0 => tracing::info!(?fired, "deadlines fired"),
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "firing pass failed"),
            }
            tokio::select! {
                () = stop.stopped() => break,
                waited = self.queue.wait_for_work(self.clock.as_ref()) => {
                    if let Err(error) = waited {
                        tracing::warn!(%error, "waiting for deadlines failed; retrying shortly");
                        if stop.sleep(Duration::from_secs(1)).await.is_break() {
                            break;
                        }
                    }
                }
            }
        }
        if let Err(error) = self.queue.release_leases(&self.worker).await {
            tracing::warn!(%error, "releasing leases at shutdown failed; they expire on their own");
        }
    }
}

/// The least time between two counts of the pending deadlines for their
/// gauge (a scrape every 15 to 30 s sees a fresh value).
pub(crate) const PENDING_GAUGE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// How long after its due instant `deadline` fired at `now`.
fn record_firing_lag(deadline: &Deadline, now: DateTime<Utc>) {
    let lag = (now - deadline.due.at).to_std().unwrap_or_default();
    metrics::histogram!("complaints_deadline_firing_lag_seconds").record(lag.as_secs_f64());
}

/// The span of one deadline's firing, in the trace of the change that
/// scheduled it.
fn fire_span(deadline: &Deadline) -> tracing::Span {
    complaints_telemetry::queued_work_span("deadline.fire", deadline.trace_context.as_deref())
}

fn message(
    topic: &str,
    case_id: CaseId,
    payload: &impl serde::Serialize,
) -> Result<OutboxMessage, FiringError> {
    Ok(OutboxMessage::json(topic, case_id.as_uuid(), payload)?)
}

/// Why one deadline's firing did not happen: nothing of it was committed,
/// and it is tried again when its lease ends.
#[derive(Debug, thiserror::Error)]
enum FiringError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("writing the outbox: {0}")]
    Outbox(#[from] complaints_store::StoreError),
    /// The case service did not answer the read the firing needs (down,
    /// overloaded, or it does not know the case yet): transient.
    #[error("the case service is unavailable ({code:?}): {message}")]
    CaseUnavailable { code: tonic::Code, message: String },
}
