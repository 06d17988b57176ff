//! Steps on distinct cases that arrive together, written in one
//! transaction (group commit): one update per case (each still only at the
//! version its step was decided on), one insert of all their events, one
//! of their outbox messages, one of their correspondence and one commit.

use chrono::{DateTime, Utc};
use complaints_domain::DomainError;
use complaints_domain::calendar::Calendar;
use complaints_domain::case::{Event, Transition};
use complaints_domain::role::Actor;
use sea_orm::{DatabaseConnection, EntityTrait, TransactionTrait};
use tracing::Instrument;

use super::due_dates::started;
use super::outbox_message::change_message;
use super::timeline;
use super::write::{Alongside, apply, update_case};
use super::{Outcome, StoredCase};
use crate::correspondence::{self, Message};
use crate::entity::case_events;
use crate::{StoreError, outbox};

/// How a [`Change`] decides its step on the case as it stands: the
/// transition, and the id of what the step made.
pub type Decide =
    Box<dyn Fn(&StoredCase) -> Result<(Transition, String), DomainError> + Send + Sync>;

/// One step to write with others: what [`apply`] takes, without an
/// idempotency key or evidence.
pub struct Change {
    /// The case as the caller loaded it; the step is decided on it.
    pub current: StoredCase,
    pub actor: Actor,
    pub now: DateTime<Utc>,
    /// A message for the case's correspondence, recorded once per
    /// Message-ID, even when the step changes nothing else.
    pub message: Option<Message>,
    /// The trace the case's outbox message continues: the caller's, not
    /// that of whichever task writes the batch.
    pub trace_context: Option<String>,
    pub decide: Decide,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("case_id", &self.current.case.id)
            .field("version", &self.current.case.version)
            .finish_non_exhaustive()
    }
}

/// Writes `changes` together, each answered in order as [`apply`] would
/// answer it alone. Decided on the cases as their callers loaded them; a
/// case another writer changed meanwhile, a case named twice, or a step
/// that erases is written again alone afterwards ([`apply`] reads it again
/// and decides again). If the transaction does not commit, each change is
/// written alone, so one cannot fail the others.
pub async fn apply_together(
    db: &DatabaseConnection,
    calendar: &Calendar,
    changes: Vec<Change>,
) -> Vec<Result<Outcome, StoreError>> {
    let mut answers: Vec<Option<Result<Outcome, StoreError>>> =
        changes.iter().map(|_| None).collect();
    if changes.len() > 1 {
        match write_together(db, calendar, &changes).await {
            Ok(written) => answers = written,
            Err(error) => tracing::info!(
                %error,
                changes = changes.len(),
                "a batch of case changes did not commit; writing each alone"
            ),
        }
    }
    let mut outcomes = Vec::with_capacity(changes.len());
    for (change, answer) in changes.into_iter().zip(answers) {
        outcomes.push(match answer {
            Some(answer) => answer,
            None => alone(db, calendar, change).await,
        });
    }
    outcomes
}

/// One change in a transaction of its own, decided again as often as
/// another writer gets there first.
async fn alone(
    db: &DatabaseConnection,
    calendar: &Calendar,
    change: Change,
) -> Result<Outcome, StoreError> {
    let Change {
        current,
        actor,
        now,
        message,
        trace_context,
        decide,
    } = change;
    let alongside = Alongside {
        key: None,
        message: message.as_ref(),
        evidence: None,
    };
    // Written in the caller's trace, which its outbox message continues.
    let span = complaints_telemetry::queued_work_span("case.step", trace_context.as_deref());
    apply(db, calendar, current, &actor, now, alongside, |stored| {
        decide(stored)
    })
    .instrument(span)
    .await
}

/// Writes what it can of `changes` in one transaction. `Err` when it did
/// not commit: nothing of it was written. `Ok` holds each change's answer,
/// or `None` for one left to be written alone.
async fn write_together(
    db: &DatabaseConnection,
    calendar: &Calendar,
    changes: &[Change],
) -> Result<Vec<Option<Result<Outcome, StoreError>>>, StoreError> {
    let mut answers: Vec<Option<Result<Outcome, StoreError>>> =
        changes.iter().map(|_| None).collect();
    let mut seen = std::collections::HashSet::new();
    let mut decided = Vec::with_capacity(changes.len());
    for (index, change) in changes.iter().enumerate() {
        if !seen.insert(change.current.case.id) {
            // Its case changes earlier in the batch: decided after that.
            continue;
        }
        match (change.decide)(&change.current) {
            Err(refused) => answers[index] = Some(Err(refused.into())),
            Ok((transition, resource_id)) => {
                let erases = transition
                    .events
                    .iter()
                    .any(|event| matches!(event, Event::ComplainantErased { .. }));
                // An erasure scrubs the case's copies and checkpoints
                // after its commit: written alone.
                if !erases {
                    decided.push((index, transition, resource_id));
                }
            }
        }
    }
    // Cases are locked in the order of their ids, so two batches naming
    // some of the same cases (two writers, two replicas) wait for each
    // other instead of deadlocking.
    decided.sort_by_key(|(index, _, _)| changes[*index].current.case.id.as_uuid());
    let txn = db.begin().await?;
    let mut event_rows = Vec::new();
    let mut messages = Vec::new();
    let mut letters: Vec<&Message> = Vec::new();
    let mut written = Vec::with_capacity(decided.len());
    for (index, transition, resource_id) in decided {
        let change = &changes[index];
        let (current, now) = (&change.current, change.now);
        if transition.is_noop() {
            // Nothing changed (a repeated notice): only the message, if new.
            letters.extend(change.message.as_ref());
            written.push((index, current.clone(), resource_id));
            continue;
        }
        let old_version = i64::try_from(current.case.version).map_err(StoreError::corrupt)?;
        let stored = StoredCase {
            case: transition.case.clone(),
            due_dates: started(&current.due_dates, &transition, now),
            erased: current.erased,
            updated_at: now,
        };
        let Some(prev_hash) = update_case(&txn, calendar, old_version, &stored, now).await? else {
            // Another writer changed the case first: decided again alone.
            continue;
        };
        letters.extend(change.message.as_ref());
        event_rows.extend(timeline::event_rows(
            current.case.id,
            old_version,
            prev_hash,
            &transition.events,
            &change.actor,
            now,
        )?);
        let mut message = change_message(&stored, &transition, &change.actor, now)?;
        message.trace_context.clone_from(&change.trace_context);
        messages.push(message);
        written.push((index, stored, resource_id));
    }
    if let Some((first, _, _)) = written.first() {
        let now = changes[*first].now;
        if !event_rows.is_empty() {
            case_events::Entity::insert_many(event_rows)
                .exec_without_returning(&txn)
                .await?;
        }
        outbox::enqueue(&txn, &messages, now).await?;
        correspondence::insert_all(&txn, &letters, now).await?;
    }
    txn.commit().await?;
    for (index, stored, resource_id) in written {
        answers[index] = Some(Ok(Outcome {
            stored,
            resource_id,
            replayed: false,
            erased_evidence: Vec::new(),
        }));
    }
    Ok(answers)
}
