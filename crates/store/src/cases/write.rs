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
use super::duplicates::possible_duplicates;
use super::erasure::scrub_copies;
use super::outbox_message::enqueue;
use super::read::load;
use super::replay::replay;
use super::rows::{case_row, complainant_row};
use super::timeline::append_events;
use super::transaction::{Attempt, write_once, write_retrying};
use super::{Outcome, StoredCase};
use crate::chain::GENESIS_HASH;
use crate::correspondence::{self, Message};
use crate::entity::{case_events, cases, complainants};
use crate::idempotency::{self, RequestKey};
use crate::{StoreError, register};

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
    F: FnOnce(RegisterNumber) -> Result<Transition, DomainError>,
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
    F: FnOnce(RegisterNumber) -> Result<Transition, DomainError>,
{
    let earlier = || replay(db, key);
    write_once(key.is_some(), earlier, || async move {
        let written = async {
            let year = calendar.local_date(received_at).year();
            let numbers = register::NumberSource::reserve(db, year).await?;
            let txn = db.begin().await?;
            let number = numbers.take(&txn, year).await?;
            let transition = build(number)?;
            // Read in the opening transaction; see `duplicates` for the race.
            let others = possible_duplicates(&txn, &transition.case.complainant).await?;
            let transition = transition.flag_possible_duplicates(others);
            let case_id = transition.case.id;
            let due_dates = started(&[], &transition, now);
            let stored = StoredCase {
                case: transition.case.clone(),
                due_dates,
                erased: false,
                updated_at: now,
            };
            cases::Entity::insert(case_row(&stored, calendar, now, now)?)
                .exec_without_returning(&txn)
                .await?;
            complainants::Entity::insert(complainant_row(
                case_id.as_uuid(),
                &stored.case.complainant,
                None,
            )?)
            .exec_without_returning(&txn)
            .await?;
            append_events(
                &txn,
                case_id,
                0,
                GENESIS_HASH.to_owned(),
                &transition.events,
                actor,
                now,
            )
            .await?;
            enqueue(&txn, &stored, &transition, actor, now).await?;
            if let Some(original) = original {
                let original = Message {
                    case_id,
                    ..original
                };
                correspondence::insert(&txn, &original, now).await?;
            }
            for piece in evidence {
                crate::evidence::insert(&txn, case_id, piece, &actor.subject, now).await?;
            }
            let resource_id = case_id.to_string();
            if let Some(key) = key {
                idempotency::record(&txn, key, &resource_id, Vec::new(), now).await?;
            }
            txn.commit().await?;
            Ok(Outcome {
                stored,
                resource_id,
                replayed: false,
                erased_evidence: Vec::new(),
            })
        }
        .await;
        Ok(Attempt::Written(written))
    })
    .await
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
    let row = case_row(&stored, calendar, now, now)?;
    // The case's newest event, whose hash the step's events chain on: read
    // by the update itself, which finds the row only at the version read.
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
        return Err(StoreError::Conflict);
    };
    let prev_hash = updated
        .try_get_by_index::<Option<String>>(0)?
        .unwrap_or_else(|| GENESIS_HASH.to_owned());
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
