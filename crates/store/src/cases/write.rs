//! The writer: opens a case and runs steps on it, storing the case row, the
//! complainant, the timeline, the outbox message and the idempotency record
//! in one transaction.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Datelike, Utc};
use complaints_domain::DomainError;
use complaints_domain::calendar::Calendar;
use complaints_domain::case::{Event, Evidence, Transition};
use complaints_domain::complainant::Complainant;
use complaints_domain::role::Actor;
use complaints_domain::values::RegisterNumber;
use sea_orm::sea_query::{Expr, Query, QueryStatementBuilder};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryTrait,
    TransactionTrait,
};

use super::due_dates::started;
use super::duplicates::possible_duplicates_of_each;
use super::erasure::scrub_copies;
use super::outbox_message::{change_message, enqueue};
use super::read::load;
use super::replay::replay;
use super::rows::{case_row, complainant_row};
use super::timeline::{self, append_events};
use super::transaction::{Attempt, write_retrying};
use super::{Outcome, StoredCase};
use crate::chain::GENESIS_HASH;
use crate::correspondence::{self, Message};
use crate::entity::{case_events, cases, complainants, idempotency_records};
use crate::idempotency::{self, RequestKey};
use crate::{StoreError, outbox, register};

/// Opens a case: takes the next register number for the year of receipt,
/// lets `build` make the domain transition with it, and stores everything.
///
/// With `key`, a retry of the same request returns the case it created, and
/// the same key with other content is [`StoreError::IdempotencyClash`].
pub async fn open_case<F>(
    db: &DatabaseConnection,
    calendar: &Calendar,
    received_at: DateTime<Utc>,
    actor: &Actor,
    now: DateTime<Utc>,
    key: Option<&RequestKey>,
    build: F,
) -> Result<Outcome, StoreError>
where
    F: FnOnce(RegisterNumber) -> Result<Transition, DomainError> + Send + Sync,
{
    open_case_recording(db, calendar, received_at, actor, now, key, None, &[], build).await
}

/// [`open_case`], also recording the message the complaint came in
/// (`original`, whose `case_id` is replaced by the new case's) and the
/// evidence that came with it (`evidence`, whose bytes are already stored;
/// its events are the transition's) in the same transaction.
#[allow(clippy::too_many_arguments)]
pub async fn open_case_recording<F>(
    db: &DatabaseConnection,
    calendar: &Calendar,
    received_at: DateTime<Utc>,
    actor: &Actor,
    now: DateTime<Utc>,
    key: Option<&RequestKey>,
    original: Option<Message>,
    evidence: &[Evidence],
    build: F,
) -> Result<Outcome, StoreError>
where
    F: FnOnce(RegisterNumber) -> Result<Transition, DomainError> + Send + Sync,
{
    // Alone, an opening is tried once, so `build` runs at most once.
    let mut build = Some(build);
    let opening = Opening {
        received_at,
        actor: actor.clone(),
        now,
        key: key.cloned(),
        original,
        evidence: evidence.to_vec(),
        trace_context: complaints_telemetry::current_trace_context(),
        build: Box::new(move |number| match build.take() {
            Some(build) => build(number),
            None => Err(DomainError::FailedPrecondition(
                "the case's opening was decided twice".to_owned(),
            )),
        }),
    };
    open_alone(db, calendar, opening).await
}

/// One case to open, with everything [`open_case_recording`] takes.
pub struct Opening<'a> {
    pub received_at: DateTime<Utc>,
    pub actor: Actor,
    pub now: DateTime<Utc>,
    /// With a key, a retry of the same request returns the case it
    /// created, and the same key with other content is
    /// [`StoreError::IdempotencyClash`].
    pub key: Option<RequestKey>,
    pub original: Option<Message>,
    pub evidence: Vec<Evidence>,
    /// The trace the case's outbox message continues: the caller's, not
    /// that of whichever task writes the batch.
    pub trace_context: Option<String>,
    /// Makes the domain transition with the case's register number. It may
    /// run twice: an opening whose batch did not commit is tried again
    /// alone, with another number.
    pub build: Box<dyn FnMut(RegisterNumber) -> Result<Transition, DomainError> + Send + Sync + 'a>,
}

impl std::fmt::Debug for Opening<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opening")
            .field("received_at", &self.received_at)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Opens several cases in one transaction (group commit): one look-up of
/// their idempotency keys, one bump of the register counter per year of
/// receipt, one search for possible duplicates, one insert per table and
/// one commit, whatever their number. Each opening gets its own answer, in
/// order: a replay of its earlier outcome, its own refusal (a reused key
/// with other content, a domain error), or its new case. If the batch does
/// not commit (a concurrent retry of one of its requests committed first,
/// say), each opening is tried again alone, so one cannot fail the others.
pub async fn open_cases(
    db: &DatabaseConnection,
    calendar: &Calendar,
    mut openings: Vec<Opening<'_>>,
) -> Vec<Result<Outcome, StoreError>> {
    if openings.len() > 1 {
        match write_together(db, calendar, &mut openings).await {
            Ok(outcomes) => return outcomes,
            Err(error) => tracing::info!(
                %error,
                cases = openings.len(),
                "a batch of new cases did not commit; opening each alone"
            ),
        }
    }
    let mut outcomes = Vec::with_capacity(openings.len());
    for opening in openings {
        outcomes.push(open_alone(db, calendar, opening).await);
    }
    outcomes
}

/// One opening in a transaction of its own. A database error on a keyed
/// request may be a concurrent retry's record refusing ours: its outcome
/// is then the answer.
async fn open_alone(
    db: &DatabaseConnection,
    calendar: &Calendar,
    mut opening: Opening<'_>,
) -> Result<Outcome, StoreError> {
    let written = write_together(db, calendar, std::slice::from_mut(&mut opening)).await;
    match written {
        Ok(mut outcomes) => outcomes
            .pop()
            .unwrap_or_else(|| Err(StoreError::corrupt("an opening got no answer"))),
        Err(StoreError::Database(error)) if opening.key.is_some() => {
            match replay(db, opening.key.as_ref()).await? {
                Some(earlier) => Ok(earlier),
                None => Err(StoreError::Database(error)),
            }
        }
        Err(error) => Err(error),
    }
}

/// Writes `openings` in one transaction. `Err` when it did not commit:
/// nothing of it was written. `Ok` holds each opening's answer.
async fn write_together(
    db: &DatabaseConnection,
    calendar: &Calendar,
    openings: &mut [Opening<'_>],
) -> Result<Vec<Result<Outcome, StoreError>>, StoreError> {
    let mut answers: Vec<Option<Result<Outcome, StoreError>>> =
        openings.iter().map(|_| None).collect();
    // Requests carried out before get their earlier outcome.
    let keyed: Vec<(usize, &RequestKey)> = openings
        .iter()
        .enumerate()
        .filter_map(|(index, opening)| opening.key.as_ref().map(|key| (index, key)))
        .collect();
    let keys: Vec<&RequestKey> = keyed.iter().map(|(_, key)| *key).collect();
    let earlier = idempotency::lookup_many(db, &keys).await?;
    for ((index, key), earlier) in keyed.iter().zip(earlier) {
        answers[*index] = match earlier {
            Ok(None) => continue,
            Ok(Some(_)) => replay(db, Some(key)).await.transpose(),
            Err(clash) => Some(Err(clash)),
        };
    }
    // The rest, by year of receipt: their numbers in one bump per year.
    let mut years: Vec<(i32, Vec<usize>)> = Vec::new();
    for (index, opening) in openings.iter().enumerate() {
        if answers[index].is_some() {
            continue;
        }
        let year = calendar.local_date(opening.received_at).year();
        match years.iter_mut().find(|(y, _)| *y == year) {
            Some((_, indices)) => indices.push(index),
            None => years.push((year, vec![index])),
        }
    }
    let mut sources = Vec::with_capacity(years.len());
    for (year, indices) in &years {
        let count = u32::try_from(indices.len()).map_err(StoreError::corrupt)?;
        sources.push(register::NumberSource::reserve_many(db, *year, count).await?);
    }
    let txn = db.begin().await?;
    let mut decided: Vec<(usize, Transition)> = Vec::new();
    for ((_, indices), source) in years.iter().zip(sources) {
        let mut numbers = source.take_all(&txn).await?;
        for &index in indices {
            // A refused opening leaves its number to the next one.
            match (openings[index].build)(numbers.upcoming()?) {
                Ok(transition) => {
                    numbers.next_number()?;
                    decided.push((index, transition));
                }
                Err(refused) => answers[index] = Some(Err(refused.into())),
            }
        }
        numbers.give_back_unused(&txn).await?;
    }
    // Read in the opening transaction; see `duplicates` for the race.
    let complainants: Vec<&Complainant> = decided
        .iter()
        .map(|(_, transition)| &transition.case.complainant)
        .collect();
    let others = possible_duplicates_of_each(&txn, &complainants).await?;
    let mut written = Vec::with_capacity(decided.len());
    let mut case_rows = Vec::with_capacity(decided.len());
    let mut complainant_rows = Vec::with_capacity(decided.len());
    let mut event_rows = Vec::new();
    let mut messages = Vec::with_capacity(decided.len());
    let mut records = Vec::new();
    for ((index, transition), others) in decided.into_iter().zip(others) {
        let opening = &openings[index];
        let now = opening.now;
        let transition = transition.flag_possible_duplicates(others);
        let case_id = transition.case.id;
        let stored = StoredCase {
            case: transition.case.clone(),
            due_dates: started(&[], &transition, now),
            erased: false,
            updated_at: now,
        };
        case_rows.push(case_row(&stored, calendar, now, now)?);
        complainant_rows.push(complainant_row(
            case_id.as_uuid(),
            &stored.case.complainant,
            None,
        )?);
        event_rows.extend(timeline::event_rows(
            case_id,
            0,
            GENESIS_HASH.to_owned(),
            &transition.events,
            &opening.actor,
            now,
        )?);
        let mut message = change_message(&stored, &transition, &opening.actor, now)?;
        message.trace_context.clone_from(&opening.trace_context);
        messages.push(message);
        if let Some(key) = &opening.key {
            records.push(idempotency::row(key, &case_id.to_string(), Vec::new(), now));
        }
        written.push((index, stored));
    }
    if let Some((first, _)) = written.first() {
        let now = openings[*first].now;
        cases::Entity::insert_many(case_rows)
            .exec_without_returning(&txn)
            .await?;
        complainants::Entity::insert_many(complainant_rows)
            .exec_without_returning(&txn)
            .await?;
        if !event_rows.is_empty() {
            case_events::Entity::insert_many(event_rows)
                .exec_without_returning(&txn)
                .await?;
        }
        outbox::enqueue(&txn, &messages, now).await?;
        if !records.is_empty() {
            idempotency_records::Entity::insert_many(records)
                .exec_without_returning(&txn)
                .await?;
        }
    }
    for (index, stored) in &written {
        let opening = &openings[*index];
        let case_id = stored.case.id;
        if let Some(original) = &opening.original {
            let original = Message {
                case_id,
                ..original.clone()
            };
            correspondence::insert(&txn, &original, opening.now).await?;
        }
        for piece in &opening.evidence {
            crate::evidence::insert(&txn, case_id, piece, &opening.actor.subject, opening.now)
                .await?;
        }
    }
    txn.commit().await?;
    for (index, stored) in written {
        answers[index] = Some(Ok(Outcome {
            resource_id: stored.case.id.to_string(),
            stored,
            replayed: false,
            erased_evidence: Vec::new(),
        }));
    }
    Ok(answers
        .into_iter()
        .map(|answer| {
            answer.unwrap_or_else(|| Err(StoreError::corrupt("an opening got no answer")))
        })
        .collect())
}

/// What a step writes besides its own change, in the same transaction.
#[derive(Debug, Default, Clone, Copy)]
pub struct Alongside<'a> {
    /// The call's idempotency key: recorded with the change, so that a
    /// retry of the same request replays its outcome.
    pub key: Option<&'a RequestKey>,
    /// A message for the case's correspondence, recorded unless the case
    /// already has its Message-ID, and even when the step changes nothing
    /// else.
    pub message: Option<&'a Message>,
    /// A piece of evidence, whose bytes are already stored: its record is
    /// written with the step's events.
    pub evidence: Option<&'a Evidence>,
}

/// Runs one step on a case: lets `step` decide (returning the transition
/// and the id of what it made) and stores the result, with what goes
/// `alongside` it, if nobody changed the case meanwhile; otherwise reads
/// the case again and decides again.
///
/// `current` is the case as the caller has just loaded it ([`load`]): the
/// first attempt decides on it instead of reading it again. That is as safe
/// as a fresh read, since the write takes effect only if the case is still
/// at that version.
pub async fn apply<F>(
    db: &DatabaseConnection,
    calendar: &Calendar,
    current: StoredCase,
    actor: &Actor,
    now: DateTime<Utc>,
    alongside: Alongside<'_>,
    step: F,
) -> Result<Outcome, StoreError>
where
    F: Fn(&StoredCase) -> Result<(Transition, String), DomainError>,
{
    let key = alongside.key;
    let step = &step;
    let case_id = current.case.id;
    let earlier = || replay(db, key);
    let loaded = &Mutex::new(Some(current));
    write_retrying(key.is_some(), earlier, || async move {
        let preloaded = loaded.lock().unwrap_or_else(PoisonError::into_inner).take();
        let current = match preloaded {
            Some(current) => current,
            None => load(db, case_id).await?,
        };
        let (transition, resource_id) = step(&current)?;
        if transition.is_noop() {
            // Nothing changed (a repeated acknowledgement): nothing to write
            // but the message, if it is new.
            if let Some(message) = alongside.message {
                correspondence::insert(db, message, now).await?;
            }
            return Ok(Attempt::Unchanged(Outcome {
                stored: current,
                resource_id,
                replayed: false,
                erased_evidence: Vec::new(),
            }));
        }
        let written = write_step(
            db,
            calendar,
            &current,
            &transition,
            &resource_id,
            actor,
            now,
            alongside,
        )
        .await;
        Ok(Attempt::Written(written.map(
            |(stored, erased_evidence)| Outcome {
                stored,
                resource_id,
                replayed: false,
                erased_evidence,
            },
        )))
    })
    .await
}

#[allow(clippy::too_many_arguments)]
async fn write_step(
    db: &DatabaseConnection,
    calendar: &Calendar,
    current: &StoredCase,
    transition: &Transition,
    resource_id: &str,
    actor: &Actor,
    now: DateTime<Utc>,
    alongside: Alongside<'_>,
) -> Result<(StoredCase, Vec<crate::evidence::StoredEvidence>), StoreError> {
    let Alongside {
        key,
        message,
        evidence,
    } = alongside;
    let case_id = current.case.id;
    let old_version = i64::try_from(current.case.version).map_err(StoreError::corrupt)?;
    let erased = current.erased
        || transition
            .events
            .iter()
            .any(|e| matches!(e, Event::ComplainantErased { .. }));
    let stored = StoredCase {
        case: transition.case.clone(),
        due_dates: started(&current.due_dates, transition, now),
        erased,
        updated_at: now,
    };
    let txn = db.begin().await?;
    let Some(prev_hash) = update_case(&txn, calendar, old_version, &stored, now).await? else {
        return Err(StoreError::Conflict);
    };
    let mut erased_evidence = Vec::new();
    if erased && !current.erased {
        complainants::Entity::update(complainant_row(
            case_id.as_uuid(),
            &Complainant::anonymised(),
            Some(now),
        )?)
        .exec(&txn)
        .await?;
        erased_evidence = scrub_copies(&txn, case_id.as_uuid()).await?;
    }
    append_events(
        &txn,
        case_id,
        old_version,
        prev_hash,
        &transition.events,
        actor,
        now,
    )
    .await?;
    enqueue(&txn, &stored, transition, actor, now).await?;
    if let Some(message) = message {
        correspondence::insert(&txn, message, now).await?;
    }
    if let Some(evidence) = evidence {
        crate::evidence::insert(&txn, case_id, evidence, &actor.subject, now).await?;
    }
    if let Some(key) = key {
        idempotency::record(
            &txn,
            key,
            &case_id.to_string(),
            resource_id.as_bytes().to_vec(),
            now,
        )
        .await?;
    }
    txn.commit().await?;
    if erased
        && !current.erased
        && let Err(error) = crate::db::forget_overwritten_pages(db).await
    {
        // The erasure is committed; the next erasure's checkpoint (or the
        // database's own) takes the old pages out of the log.
        tracing::warn!(%error, "checkpoint after an erasure failed");
    }
    Ok((stored, erased_evidence))
}

/// Updates the case row to `stored`, only if it is still at `old_version`:
/// the hash of the case's newest event, which the step's events chain on
/// (read by the update itself), or `None` when another writer changed the
/// case first.
pub(super) async fn update_case(
    txn: &impl ConnectionTrait,
    calendar: &Calendar,
    old_version: i64,
    stored: &StoredCase,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let case_id = stored.case.id;
    let row = case_row(stored, calendar, now, now)?;
    let newest_hash = Query::select()
        .column(case_events::Column::Hash)
        .from(case_events::Entity)
        .and_where(case_events::Column::CaseId.eq(case_id.as_uuid()))
        .and_where(case_events::Column::Sequence.eq(old_version))
        .to_owned();
    let mut update = cases::Entity::update_many()
        .set(cases::ActiveModel {
            stage: row.stage,
            status: row.status,
            owner_role: row.owner_role,
            assignee: row.assignee,
            version: row.version,
            respond_due_at: row.respond_due_at,
            acknowledged_at: row.acknowledged_at,
            closed_at: row.closed_at,
            summary: row.summary,
            snapshot: row.snapshot,
            updated_at: row.updated_at,
            ..Default::default()
        })
        .filter(cases::Column::Id.eq(case_id.as_uuid()))
        .filter(cases::Column::Version.eq(old_version))
        .into_query();
    update.returning(Query::returning().expr(Expr::SubQuery(
        None,
        Box::new(newest_hash.into_sub_query_statement()),
    )));
    let Some(updated) = txn.query_one(&update).await? else {
        return Ok(None);
    };
    Ok(Some(
        updated
            .try_get_by_index::<Option<String>>(0)?
            .unwrap_or_else(|| GENESIS_HASH.to_owned()),
    ))
}
