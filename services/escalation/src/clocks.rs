//! Moving a case's clocks by hand: extending one deadline, pausing and
//! resuming them all, each move committed with the notice that tells the
//! complainant the new date and the request that records the move on the
//! case's timeline (docs/policy.md, Working days, Extensions and pauses).

use chrono::{DateTime, Utc};
use complaints_deadlines::extensions::{self, Extension as ExtensionRecord};
use complaints_deadlines::{Deadline, DeadlineId, DeadlineState, QueueError, rows};
use complaints_domain::calendar::Due;
use complaints_domain::case::{CaseId, DeadlineKind};
use complaints_domain::policy::ExtensionPolicy;
use complaints_domain::role::Actor;
use complaints_domain::{DomainError, ErrorCode, FieldViolation, ServiceError};
use complaints_store::outbox::{self, OutboxMessage};
use sea_orm::TransactionTrait;

use crate::alerts;
use crate::app::EscalationApp;
use crate::relay::{CASE_TOPIC, CaseRequest, ClockMove, NOTIFY_TOPIC};

/// Why moving clocks was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("the outbox: {0}")]
    Outbox(String),
}

impl From<Vec<FieldViolation>> for ClockError {
    fn from(violations: Vec<FieldViolation>) -> Self {
        ClockError::Domain(DomainError::from(violations))
    }
}

impl ServiceError for ClockError {
    fn error_code(&self) -> ErrorCode {
        match self {
            ClockError::Domain(error) => error.error_code(),
            ClockError::Queue(error) => error.error_code(),
            ClockError::Outbox(_) => ErrorCode::Unavailable,
        }
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            ClockError::Domain(error) => error.field_violations(),
            ClockError::Queue(error) => error.field_violations(),
            ClockError::Outbox(_) => Vec::new(),
        }
    }
}

fn precondition(message: impl Into<String>) -> ClockError {
    ClockError::Domain(DomainError::FailedPrecondition(message.into()))
}

/// An extension as asked for, not yet checked.
#[derive(Debug, Clone)]
pub struct Extension {
    pub case_id: CaseId,
    pub kind: DeadlineKind,
    pub extra_working_days: i32,
    pub reason: String,
    pub request_id: String,
}

/// What an extension did.
#[derive(Debug, Clone)]
pub struct Extended {
    /// The deadline as it is now.
    pub deadline: Deadline,
    /// False for a repeated request: nothing changed.
    pub extended: bool,
}

impl EscalationApp {
    /// Moves the case's pending deadline of `kind` later by the working
    /// days asked, counted on from its current due date, and asks for the
    /// complainant's EXTENSION notice and the case's `clocks.extended` record
    /// in the same transaction. Idempotent on
    /// `(case_id, request_id)`: a repeat answers the deadline as it is.
    pub async fn extend_deadline(
        &self,
        actor: &Actor,
        extension: Extension,
    ) -> Result<Extended, ClockError> {
        self.extensions.authorize(actor.role)?;
        let days = self.extensions.check_extension(
            extension.extra_working_days,
            &extension.reason,
            &extension.request_id,
        )?;
        let request_id = extension.request_id.trim();
        let case_id = extension.case_id;
        if let Some(earlier) = self.repeated(case_id, request_id).await? {
            return Ok(earlier);
        }
        let current = self
            .queue
            .get(case_id)
            .await?
            .into_iter()
            .find(|d| d.kind == extension.kind && d.state == DeadlineState::Pending)
            .ok_or_else(|| {
                precondition(format!(
                    "the case has no pending {} deadline to extend",
                    extension.kind.as_str()
                ))
            })?;
        let due = self.due_on(self.calendar.add_working_days(current.due.date, days));
        let now = self.clock.now();
        let txn = self
            .queue
            .database()
            .begin()
            .await
            .map_err(QueueError::from)?;
        let recorded = extensions::record(
            &txn,
            &ExtensionRecord {
                case_id,
                request_id: request_id.to_owned(),
                deadline_id: current.deadline_id,
                extra_working_days: days,
                reason: extension.reason.trim().to_owned(),
                previous_due_date: current.due.date,
                due_date: due.date,
                requested_by: actor.subject.clone(),
                created_at: now,
            },
        )
        .await?;
        if !recorded {
            // A concurrent repeat was first.
            drop(txn);
            return self
                .repeated(case_id, request_id)
                .await?
                .ok_or_else(|| precondition("the extension was recorded meanwhile"));
        }
        let warn_at = self.warning_for(current.kind, due);
        let Some(moved) = rows::reschedule(&txn, current.deadline_id, due, warn_at, false).await?
        else {
            return Err(precondition(format!(
                "the {} deadline is no longer pending",
                extension.kind.as_str()
            )));
        };
        let mut notices = Vec::new();
        if moved.kind != DeadlineKind::ReferralUpdate {
            notices.push(alerts::extension_notice(
                &moved,
                &extension.reason,
                request_id,
            ));
        }
        let record = clock_change(
            case_id,
            format!(
                "{}/extend-{}",
                moved.deadline_id.0,
                change_digest(request_id)
            ),
            ClockMove::Extended {
                deadline: moved.kind,
                extra_working_days: days,
                previous_due_date: current.due.date,
                due_date: moved.due.date,
            },
            &extension.reason,
            actor,
        );
        self.commit_moves(txn, &[moved.deadline_id], &notices, &[record], now)
            .await?;
        Ok(Extended {
            deadline: moved,
            extended: true,
        })
    }

    /// Pauses the case's clocks: its pending deadlines are held, so none
    /// fires or is warned about until [`Self::resume_clocks`]. The case's
    /// `clocks.paused` record is asked for in the same transaction.
    pub async fn pause_clocks(
        &self,
        actor: &Actor,
        case_id: CaseId,
        reason: &str,
    ) -> Result<Vec<Deadline>, ClockError> {
        self.extensions.authorize(actor.role)?;
        ExtensionPolicy::check_reason(reason)?;
        let now = self.clock.now();
        let txn = self
            .queue
            .database()
            .begin()
            .await
            .map_err(QueueError::from)?;
        let held = rows::hold_case(&txn, case_id, now).await?;
        if !held.is_empty() {
            let record = clock_change(
                case_id,
                format!("{case_id}/pause-{}", now.timestamp_millis()),
                ClockMove::Paused,
                reason,
                actor,
            );
            let ids: Vec<DeadlineId> = held.iter().map(|d| d.deadline_id).collect();
            self.commit_moves(txn, &ids, &[], &[record], now).await?;
            return Ok(held);
        }
        drop(txn);
        let pending = self.queue.get(case_id).await?;
        if pending
            .iter()
            .any(|d| d.state == DeadlineState::Pending && d.held_at.is_some())
        {
            return Err(precondition("the case's clocks are paused already"));
        }
        Err(precondition("the case has no pending deadline to pause"))
    }

    /// Resumes the case's paused clocks: each held deadline falls due the
    /// working days its hold took later
    /// ([`ExtensionPolicy::paused_working_days`]; a clock started during the
    /// pause counts from its start) and is handed to workers again; when the
    /// dates move, the complainant's EXTENSION notices are asked for in the
    /// same transaction, as is the case's `clocks.resumed` record. Answers the deadlines and the working days the
    /// pause took, counted from when it began.
    pub async fn resume_clocks(
        &self,
        actor: &Actor,
        case_id: CaseId,
        reason: &str,
    ) -> Result<(Vec<Deadline>, u32), ClockError> {
        self.extensions.authorize(actor.role)?;
        ExtensionPolicy::check_reason(reason)?;
        let held: Vec<Deadline> = self
            .queue
            .get(case_id)
            .await?
            .into_iter()
            .filter(|d| d.state == DeadlineState::Pending && d.held_at.is_some())
            .collect();
        let Some(paused_at) = held.iter().filter_map(|d| d.held_at).min() else {
            return Err(precondition("the case's clocks are not paused"));
        };
        let now = self.clock.now();
        let days = ExtensionPolicy::paused_working_days(&self.calendar, paused_at, now);
        let txn = self
            .queue
            .database()
            .begin()
            .await
            .map_err(QueueError::from)?;
        let mut resumed = Vec::with_capacity(held.len());
        let mut notices = Vec::new();
        for deadline in &held {
            // A clock started during the pause was held from its start.
            let held_at = deadline.held_at.unwrap_or(paused_at);
            let days = ExtensionPolicy::paused_working_days(&self.calendar, held_at, now);
            let due = if days == 0 {
                deadline.due
            } else {
                self.due_on(self.calendar.add_working_days(deadline.due.date, days))
            };
            let warn_at = self.warning_for(deadline.kind, due);
            let Some(moved) =
                rows::reschedule(&txn, deadline.deadline_id, due, warn_at, true).await?
            else {
                continue;
            };
            if days > 0 && moved.kind != DeadlineKind::ReferralUpdate {
                let occasion = format!("resume-{}", held_at.timestamp_millis());
                notices.push(alerts::extension_notice(&moved, reason, &occasion));
            }
            resumed.push(moved);
        }
        let ids: Vec<DeadlineId> = resumed.iter().map(|d| d.deadline_id).collect();
        let record = clock_change(
            case_id,
            format!("{case_id}/resume-{}", paused_at.timestamp_millis()),
            ClockMove::Resumed {
                paused_working_days: days,
            },
            reason,
            actor,
        );
        self.commit_moves(txn, &ids, &notices, &[record], now)
            .await?;
        Ok((resumed, days))
    }

    /// What an earlier extension with this request id left, if there was one.
    async fn repeated(
        &self,
        case_id: CaseId,
        request_id: &str,
    ) -> Result<Option<Extended>, ClockError> {
        let Some(id) = extensions::extended_by(self.queue.database(), case_id, request_id).await?
        else {
            return Ok(None);
        };
        let deadline = self
            .queue
            .deadline(id)
            .await?
            .ok_or_else(|| QueueError::Corrupt(format!("extended deadline {id} is gone")))?;
        Ok(Some(Extended {
            deadline,
            extended: false,
        }))
    }

    /// The due date `date`, as an instant: the end of that day.
    fn due_on(&self, date: chrono::NaiveDate) -> Due {
        Due {
            date,
            at: self.calendar.end_of_day(date),
        }
    }

    /// Commits moved deadlines with the notices they cause and the case
    /// steps that record them, then brings the index in line and wakes the
    /// workers and the outbox.
    async fn commit_moves(
        &self,
        txn: sea_orm::DatabaseTransaction,
        moved: &[DeadlineId],
        notices: &[crate::relay::AlertRequest],
        case_requests: &[(CaseId, CaseRequest)],
        now: DateTime<Utc>,
    ) -> Result<(), ClockError> {
        let mut messages = notices
            .iter()
            .map(|notice| {
                OutboxMessage::json(NOTIFY_TOPIC, notice_case(notice)?, notice)
                    .map_err(|e| ClockError::Outbox(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (case_id, request) in case_requests {
            messages.push(
                OutboxMessage::json(CASE_TOPIC, case_id.as_uuid(), request)
                    .map_err(|e| ClockError::Outbox(e.to_string()))?,
            );
        }
        outbox::enqueue(&txn, &messages, now)
            .await
            .map_err(|e| ClockError::Outbox(e.to_string()))?;
        txn.commit().await.map_err(QueueError::from)?;
        // The relays first: nothing awaited stands between the commit and
        // their wake-up, so a caller that gives up cannot leave the
        // messages for the poll.
        if !messages.is_empty() {
            self.outbox_wake.wake_all();
        }
        // Committed: an error now would tell the caller nothing was written
        // (and a repeated pause or resume is refused). The index heals
        // itself (see `QueueError`).
        if let Err(error) = self.queue.tidy(moved).await {
            tracing::warn!(%error, "indexing moved deadlines failed; the reconciler restores them");
        }
        self.queue.wake();
        Ok(())
    }
}

fn notice_case(notice: &crate::relay::AlertRequest) -> Result<uuid::Uuid, ClockError> {
    notice
        .case_id
        .parse()
        .map_err(|_| ClockError::Outbox(format!("bad case id {:?}", notice.case_id)))
}

/// The request that records a clock move on the case's timeline, naming
/// the person who asked for it.
fn clock_change(
    case_id: CaseId,
    request_id: String,
    clock_move: ClockMove,
    reason: &str,
    actor: &Actor,
) -> (CaseId, CaseRequest) {
    (
        case_id,
        CaseRequest::RecordClockChange {
            case_id: case_id.to_string(),
            request_id,
            clock_move,
            reason: reason.trim().to_owned(),
            requested_by: actor.subject.clone(),
        },
    )
}

/// A short printable stand-in for an extension's request id (any text up to
/// 100 characters), so the case's request id stays within its 128 printable
/// ASCII characters.
fn change_digest(request_id: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(request_id.as_bytes())
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
