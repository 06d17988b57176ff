//! Applying a case change to the deadline queue: the clocks it starts (each
//! with the instant its owner is warned) or settles, and who the case is
//! assigned to.

use chrono::{DateTime, NaiveDate, Utc};
use complaints_deadlines::NewDeadline;
use complaints_deadlines::clock_versions::CaseChange;
use complaints_domain::calendar::Due;
use complaints_domain::case::{CaseId, DeadlineKind, DeadlineOutcome};
use complaints_domain::policy::Stage;
use complaints_domain::role::Role;
use complaints_rpc::AppError;

use crate::app::EscalationApp;

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

/// A case change as `ApplyCaseChange` brings it: the clocks it starts and
/// settles, and who the case is assigned to after it.
#[derive(Debug, Clone)]
pub struct ClockChange {
    pub case_id: CaseId,
    /// The case's version after the change.
    pub version: i64,
    pub register_number: String,
    pub policy_version: String,
    pub start: Vec<Start>,
    pub settle: Vec<(DeadlineKind, DeadlineOutcome)>,
    /// `None`: nobody. The alerts about the case's deadlines name them (see
    /// `firing`).
    pub assignee: Option<String>,
}

impl EscalationApp {
    /// Starts and settles clocks for the case change, and records who the
    /// case is assigned to after it, in one transaction. Idempotent and safe in any order of delivery: a clock
    /// that took a change as new or newer (a settle delivered before its
    /// start, a repeat) is left as it is (see
    /// [`complaints_deadlines::clock_versions`]); a start is keyed by case,
    /// kind and stage; a settlement applies only to a pending deadline.
    ///
    /// Changes that arrive together (a relay sends several cases' at once)
    /// share one transaction ([`complaints_deadlines::clock_versions::apply_all`]).
    pub async fn apply_case_change(&self, change: ClockChange) -> Result<(usize, usize), AppError> {
        let now = self.clock.now();
        let ClockChange {
            case_id,
            version,
            register_number,
            policy_version,
            start,
            settle,
            assignee,
        } = change;
        let deadlines: Vec<NewDeadline> = start
            .into_iter()
            .map(|s| NewDeadline {
                case_id,
                register_number: register_number.clone(),
                kind: s.kind,
                stage: s.stage,
                working_days: s.working_days,
                warn_at: self.warning_for(s.kind, s.due),
                due: s.due,
                reason: s.reason,
                policy_version: policy_version.clone(),
                owner_role: s.owner_role,
                escalation_role: s.escalation_role,
                created_at: now,
            })
            .collect();
        let applied = self
            .case_changes
            .submit(CaseChange {
                case_id,
                version,
                start: deadlines,
                settle,
                assignee,
                at: now,
            })
            .await
            .map_err(AppError::service)?
            .map_err(AppError::service)?;
        if !applied.stale.is_empty() {
            tracing::info!(
                %case_id,
                version,
                clocks = ?applied.stale,
                "case change older than one already applied to these clocks; left as they are"
            );
        }
        Ok((applied.started, applied.settled))
    }

    /// When to warn the owner before `due`, when a clock starts or moves:
    /// the day-5 notice is the platform's own to send, and nobody needs
    /// warning about it.
    pub(crate) fn warning_for(&self, kind: DeadlineKind, due: Due) -> Option<DateTime<Utc>> {
        match kind {
            DeadlineKind::ReferralUpdate => None,
            _ => self.warn_at(due),
        }
    }

    /// When to warn the owner: the configured number of working days before
    /// the due date, i.e. at the end of the working day that many working
    /// days earlier ([`Calendar::subtract_working_days`]). `None` when
    /// warnings are off (0 days) or there is no such day in chrono's range.
    ///
    /// [`Calendar::subtract_working_days`]: complaints_domain::calendar::Calendar::subtract_working_days
    pub(crate) fn warn_at(&self, due: Due) -> Option<DateTime<Utc>> {
        let n = self.warn_before_working_days;
        if n == 0 {
            return None;
        }
        let day = self.calendar.subtract_working_days(due.date, n);
        // It saturates at chrono's first date, which is the answer only if
        // `n` working days run from it up to (not including) the due date.
        if day == NaiveDate::MIN {
            let counted = self.calendar.working_days_between(day, due.date)
                + i64::from(self.calendar.is_working_day(day))
                - i64::from(self.calendar.is_working_day(due.date));
            if counted < i64::from(n) {
                return None;
            }
        }
        Some(self.calendar.end_of_day(day))
    }
}
