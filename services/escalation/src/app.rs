//! The escalation service's application functions.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use complaints_deadlines::{
    Deadline, DeadlineQueue, FireOutcome, NewDeadline, QueueError, Work, WorkerId, rows,
};
use complaints_domain::calendar::{Calendar, Due};
use complaints_domain::case::{CaseId, DeadlineKind, DeadlineOutcome};
use complaints_domain::clock::Clock;
use complaints_domain::policy::Stage;
use complaints_domain::role::Role;
use complaints_rpc::peers::CasePeer;
use complaints_store::outbox::{self, OutboxMessage};
use sea_orm::TransactionTrait;
use tokio::sync::Notify;

use crate::relay::{AlertRequest, CASE_TOPIC, CaseRequest, NOTIFY_TOPIC, NoticeKind};

/// How long a worker holds a claimed deadline before another may take it,
/// by default: long enough for a slow peer call, short enough that a crashed
/// worker's deadlines are taken over within a minute.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
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

/// A clock to start, as a case change names it.
#[derive(Debug, Clone)]
pub struct Start {
    pub kind: DeadlineKind,
    pub stage: Stage,
    pub working_days: u32,
    pub due: Due,
    pub reason: String,
    pub owner_role: Role,
    pub escalation_role: Role,
}

#[derive(Clone)]
pub struct EscalationApp {
    queue: Arc<dyn DeadlineQueue>,
    calendar: Arc<Calendar>,
    warn_before_working_days: u32,
    clock: Arc<dyn Clock>,
    case: CasePeer,
    worker: WorkerId,
    lease: Duration,
    outbox_wake: Arc<Notify>,
}

impl std::fmt::Debug for EscalationApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscalationApp")
            .field("queue", &self.queue)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

impl EscalationApp {
    pub fn new(
        queue: Arc<dyn DeadlineQueue>,
        calendar: Calendar,
        warn_before_working_days: u32,
        clock: Arc<dyn Clock>,
        case: CasePeer,
    ) -> Self {
        Self {
            queue,
            calendar: Arc::new(calendar),
            warn_before_working_days,
            clock,
            case,
            worker: WorkerId::unique("escalation"),
            lease: DEFAULT_LEASE,
            outbox_wake: Arc::new(Notify::new()),
        }
    }

    /// The same service with another lease length.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub fn queue(&self) -> &Arc<dyn DeadlineQueue> {
        &self.queue
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn outbox_wake(&self) -> Arc<Notify> {
        self.outbox_wake.clone()
    }

    /// Starts and settles clocks for one case change. Idempotent: a start is
    /// keyed by case, kind and stage; a settlement applies only to a
    /// pending deadline.
    pub async fn apply_case_change(
        &self,
        case_id: CaseId,
        register_number: &str,
        policy_version: &str,
        start: Vec<Start>,
        settle: Vec<(DeadlineKind, DeadlineOutcome)>,
    ) -> Result<(usize, usize), QueueError> {
        let now = self.clock.now();
        let deadlines: Vec<NewDeadline> = start
            .into_iter()
            .map(|s| NewDeadline {
                case_id,
                register_number: register_number.to_owned(),
                kind: s.kind,
                stage: s.stage,
                working_days: s.working_days,
                // The day-5 notice is the platform's own to send: nobody
                // needs warning about it.
                warn_at: match s.kind {
                    DeadlineKind::ReferralUpdate => None,
                    _ => self.warn_at(s.due),
                },
                due: s.due,
                reason: s.reason,
                policy_version: policy_version.to_owned(),
                owner_role: s.owner_role,
                escalation_role: s.escalation_role,
                created_at: now,
            })
            .collect();
        let started = if deadlines.is_empty() {
            0
        } else {
            self.queue
                .schedule_many(deadlines)
                .await?
                .iter()
                .filter(|s| s.created)
                .count()
        };
        let mut settled = 0;
        for (kind, outcome) in settle {
            if self.queue.settle(case_id, kind, outcome, now).await? {
                settled += 1;
            }
        }
        Ok((started, settled))
    }

    /// When to warn the owner: the configured number of working days before
    /// the due date ends, i.e. at the end of the working day that many
    /// working days earlier. `None` when that is not in the future of the
    /// deadline's own start (a one-day clock is not warned).
    fn warn_at(&self, due: Due) -> Option<DateTime<Utc>> {
        if self.warn_before_working_days == 0 {
            return None;
        }
        let mut day = due.date;
        let mut counted = 0;
        while counted < self.warn_before_working_days {
            day = day.pred_opt()?;
            if self.calendar.is_working_day(day) {
                counted += 1;
            }
        }
        Some(self.calendar.end_of_day(day))
    }

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
    /// alerts to the owner and the escalation role, and for a broken stage 2
    /// clock hands the review to the Operations Lead (R5).
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
        let mut messages = Vec::new();
        for deadline in batch.iter().filter(|d| changed.contains(&d.deadline_id)) {
            messages.push(alert(deadline, deadline.owner_role, "breach")?);
            if deadline.escalation_role != deadline.owner_role {
                messages.push(alert(deadline, deadline.escalation_role, "breach")?);
            }
            if deadline.kind == DeadlineKind::Stage2Respond {
                let request = CaseRequest::EscalateWithinStage {
                    case_id: deadline.case_id.to_string(),
                    request_id: format!("breach-{}", deadline.deadline_id.0),
                    reason: format!(
                        "the stage 2 response was due by {} and was not issued",
                        deadline.due.date
                    ),
                };
                messages.push(message(CASE_TOPIC, deadline.case_id, &request)?);
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

    async fn warn(
        &self,
        deadline: &Deadline,
        now: DateTime<Utc>,
        fired: &mut Fired,
    ) -> Result<(), QueueError> {
        let txn = self.queue.database().begin().await?;
        if rows::complete_warn(&txn, deadline.deadline_id, &self.worker, now).await? {
            let warning = alert(deadline, deadline.owner_role, "warning")?;
            outbox::enqueue(&txn, &[warning], now)
                .await
                .map_err(store_error)?;
            fired.warned += 1;
        }
        txn.commit().await?;
        self.queue.tidy(&[deadline.deadline_id]).await
    }

    /// R3: at day 5, if a referral to another department is still open, the
    /// complainant is told (MET); otherwise there is nothing to say
    /// (CANCELLED).
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
                let notice = AlertRequest {
                    case_id: deadline.case_id.to_string(),
                    deadline: None,
                    breach: false,
                    kind: NoticeKind::ReferralUpdate,
                    stage: deadline.stage,
                    to_role: None,
                    reason: String::new(),
                    dedupe_key: String::new(),
                };
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

    /// Soonest-due first, everything known for a case.
    pub async fn deadlines_of(&self, case_id: CaseId) -> Result<Vec<Deadline>, QueueError> {
        self.queue.get(case_id).await
    }

    /// The end of the next working day after today: "due soon" by default.
    pub fn end_of_next_working_day(&self) -> DateTime<Utc> {
        let today: NaiveDate = self.calendar.local_date(self.clock.now());
        self.calendar
            .end_of_day(self.calendar.add_working_days(today, 1))
    }
}

/// How long after its due instant `deadline` fired at `now`.
fn record_firing_lag(deadline: &Deadline, now: DateTime<Utc>) {
    let lag = (now - deadline.due.at).to_std().unwrap_or_default();
    metrics::histogram!("complaints_deadline_firing_lag_seconds").record(lag.as_secs_f64());
}

fn kind_words(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::Acknowledge => "the stage 1 acknowledgement",
        DeadlineKind::Resolve => "the stage 1 resolution",
        DeadlineKind::ReferralUpdate => "the day-5 referral update",
        DeadlineKind::Stage2Acknowledge => "the stage 2 acknowledgement",
        DeadlineKind::Stage2Respond => "the stage 2 response",
        DeadlineKind::Stage3Acknowledge => "the stage 3 acknowledgement",
        DeadlineKind::Stage3Respond => "the stage 3 response",
    }
}

/// An alert about `deadline` for `role`'s mailbox: a warning ahead of it or
/// a breach. Its dedupe key makes a repeat the same notification.
fn alert(deadline: &Deadline, role: Role, what: &str) -> Result<OutboxMessage, QueueError> {
    let due = deadline.due.date.format("%A %-d %B %Y");
    let reason = match what {
        "warning" => format!(
            "{} {} is due by the end of {due}; {}",
            deadline.register_number,
            kind_words(deadline.kind),
            deadline.reason
        ),
        _ => format!(
            "{}: {} was due by the end of {due} and is now breached",
            deadline.register_number,
            kind_words(deadline.kind),
        ),
    };
    let request = AlertRequest {
        case_id: deadline.case_id.to_string(),
        deadline: Some((deadline.kind, deadline.due.date)),
        breach: what == "breach",
        kind: NoticeKind::InternalAlert,
        stage: deadline.stage,
        to_role: Some(role),
        reason,
        dedupe_key: format!("{}/{what}/{}", deadline.deadline_id.0, role.as_str()),
    };
    message(NOTIFY_TOPIC, deadline.case_id, &request)
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
