//! Firing deadlines as they fall due: the worker loop, a firing pass
//! (`fire_due`), what each firing does (a breach, a warning, the day-5
//! referral update), each committed with the outbox messages it causes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use complaints_deadlines::{Deadline, FireOutcome, QueueError, Work, assignees, rows};
use complaints_domain::case::{CaseId, DeadlineKind};
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
        let mut fired = Fired::default();
        loop {
            let now = self.clock.now();
            let claimed = self
                .queue
                .claim_due(now, CLAIM_BATCH, &self.worker, self.lease)
                .await?;
            if claimed.is_empty() {
                self.record_pending().await;
                return Ok(fired);
            }
            let mut breaches = Vec::new();
            for item in claimed {
                let deadline = item.deadline;
                let result = match item.work {
                    Work::Warn => self.warn(&deadline, now, &mut fired).await,
                    Work::Fire if deadline.kind == DeadlineKind::ReferralUpdate => {
                        self.referral_update(&deadline, now, &mut fired).await
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
            if let Err(error) = self.breach(&breaches, now, &mut fired).await {
                tracing::error!(%error, count = breaches.len(), "recording breaches failed; they will be retried");
            }
            self.outbox_wake.notify_one();
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
    ) -> Result<(), QueueError> {
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
        outbox::enqueue(&txn, &messages, now)
            .await
            .map_err(store_error)?;
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
    ) -> Result<(), QueueError> {
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
            outbox::enqueue(&txn, &[warning], now)
                .await
                .map_err(store_error)?;
            fired.warned += 1;
        }
        txn.commit().await?;
        self.queue.tidy(&[deadline.deadline_id]).await
    }

    /// At day 5, if a referral to another department is still open, the
    /// complainant is told (MET); otherwise there is nothing to say
    /// (CANCELLED). docs/policy.md, Stage 1, R3.
    async fn referral_update(
        &self,
        deadline: &Deadline,
        now: DateTime<Utc>,
        fired: &mut Fired,
    ) -> Result<(), QueueError> {
        let case = self
            .case
            .get_case(&deadline.case_id.to_string())
            .await
            .map_err(|s| QueueError::Corrupt(format!("reading the case: {}", s.message())))?;
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
                .await
                .map_err(store_error)?;
                fired.referral_updates += 1;
            } else {
                fired.settled_quietly += 1;
            }
        }
        txn.commit().await?;
        self.queue.tidy(&[deadline.deadline_id]).await
    }

    /// Sets the `complaints_deadlines_pending` gauge: one count per firing
    /// pass, not per call. A failed count leaves the last value.
    async fn record_pending(&self) {
        match self.queue.count_pending().await {
            Ok(pending) => metrics::gauge!("complaints_deadlines_pending").set(pending as f64),
            Err(error) => tracing::warn!(%error, "counting pending deadlines failed"),
        }
    }

    /// Runs firing passes until `shutdown`: sleeps until the next deadline
    /// is due or an earlier one is scheduled, never on a fixed beat.
    pub async fn run_worker(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.fire_due().await {
                Ok(fired) if fired.total() > 0 => tracing::info!(?fired, "deadlines fired"),
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "firing pass failed"),
            }
            tokio::select! {
                () = &mut shutdown => break,
                waited = self.queue.wait_for_work(self.clock.as_ref()) => {
                    if let Err(error) = waited {
                        tracing::warn!(%error, "waiting for deadlines failed; retrying shortly");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
        if let Err(error) = self.queue.release_leases(&self.worker).await {
            tracing::warn!(%error, "releasing leases at shutdown failed; they expire on their own");
        }
    }
}

/// How long after its due instant `deadline` fired at `now`.
fn record_firing_lag(deadline: &Deadline, now: DateTime<Utc>) {
    let lag = (now - deadline.due.at).to_std().unwrap_or_default();
    metrics::histogram!("complaints_deadline_firing_lag_seconds").record(lag.as_secs_f64());
}

fn message(
    topic: &str,
    case_id: CaseId,
    payload: &impl serde::Serialize,
) -> Result<OutboxMessage, QueueError> {
    OutboxMessage::json(topic, case_id.as_uuid(), payload).map_err(store_error)
}

fn store_error(error: complaints_store::StoreError) -> QueueError {
    QueueError::Corrupt(error.to_string())
}
