//! Linking two cases: both cases' rows, timelines and outbox messages, and
//! the idempotency record, in one transaction.

use chrono::{DateTime, Utc};
use complaints_domain::DomainError;
use complaints_domain::calendar::Calendar;
use complaints_domain::case::{CaseId, Transition};
use complaints_domain::role::Actor;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
    TransactionTrait,
};

use super::StoredCase;
use super::due_dates::started;
use super::outbox_message::enqueue;
use super::read::load;
use super::replay::replay;
use super::rows::case_row;
use super::timeline::append_events;
use super::transaction::{Attempt, write_retrying};
use crate::StoreError;
use crate::chain::GENESIS_HASH;
use crate::entity::{case_events, cases};
use crate::idempotency::{self, RequestKey};

/// Both cases after a link, and whether an earlier call made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkOutcome {
    pub case: StoredCase,
    pub other: StoredCase,
    pub replayed: bool,
}

/// Loads `case_id` and `other_case_id`, lets `step` decide both cases'
/// transitions, and stores them together if nobody changed either case
/// meanwhile; otherwise reloads and decides again. Either case unknown is
/// [`StoreError::NotFound`]; when both transitions are no-ops nothing is
/// written.
///
/// With `key`, a retry returns both cases as they now stand. The record
/// names `case_id` and holds `other_case_id` as its response.
#[allow(clippy::too_many_arguments)]
pub async fn link<F>(
    db: &DatabaseConnection,
    calendar: &Calendar,
    case_id: CaseId,
    other_case_id: CaseId,
    actor: &Actor,
    now: DateTime<Utc>,
    key: Option<&RequestKey>,
    step: F,
) -> Result<LinkOutcome, StoreError>
where
    F: Fn(&StoredCase, &StoredCase) -> Result<(Transition, Transition), DomainError>,
{
    let step = &step;
    let earlier = || replayed(db, key);
    write_retrying(key.is_some(), earlier, || async move {
        let case = load(db, case_id).await?;
        let other = load(db, other_case_id).await?;
        let (for_case, for_other) = step(&case, &other)?;
        if for_case.is_noop() && for_other.is_noop() {
            return Ok(Attempt::Unchanged(LinkOutcome {
                case,
                other,
                replayed: false,
            }));
        }
        let written = write_both(
            db,
            calendar,
            [(&case, &for_case), (&other, &for_other)],
            actor,
            now,
            key,
        )
        .await;
        Ok(Attempt::Written(written.map(|[case, other]| LinkOutcome {
            case,
            other,
            replayed: false,
        })))
    })
    .await
}

async fn replayed(
    db: &DatabaseConnection,
    key: Option<&RequestKey>,
) -> Result<Option<LinkOutcome>, StoreError> {
    let Some(earlier) = replay(db, key).await? else {
        return Ok(None);
    };
    let other_case_id = earlier
        .resource_id
        .parse::<CaseId>()
        .map_err(|_| StoreError::corrupt("link idempotency record without the other case"))?;
    Ok(Some(LinkOutcome {
        case: earlier.stored,
        other: load(db, other_case_id).await?,
        replayed: true,
    }))
}

/// Writes both cases' changes, in case id order so that two links of the
/// same pair never wait on each other, and the idempotency record.
async fn write_both(
    db: &DatabaseConnection,
    calendar: &Calendar,
    changes: [(&StoredCase, &Transition); 2],
    actor: &Actor,
    now: DateTime<Utc>,
    key: Option<&RequestKey>,
) -> Result<[StoredCase; 2], StoreError> {
    let [first, second] = changes;
    let txn = db.begin().await?;
    let mut ordered = [first, second];
    ordered.sort_by_key(|(current, _)| current.case.id);
    for (current, transition) in ordered {
        write_one(&txn, calendar, current, transition, actor, now).await?;
    }
    if let Some(key) = key {
        idempotency::record(
            &txn,
            key,
            &first.0.case.id.to_string(),
            second.0.case.id.to_string().into_bytes(),
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok([after(first, now), after(second, now)])
}

/// A case as it is after its transition (unchanged for a no-op).
fn after((current, transition): (&StoredCase, &Transition), now: DateTime<Utc>) -> StoredCase {
    if transition.is_noop() {
        return current.clone();
    }
    StoredCase {
        case: transition.case.clone(),
        due_dates: started(&current.due_dates, transition, now),
        erased: current.erased,
        updated_at: now,
    }
}

/// One case's share: a link changes only the snapshot and the version, so
/// only they (and `updated_at`) are written, if nobody wrote first.
async fn write_one(
    txn: &DatabaseTransaction,
    calendar: &Calendar,
    current: &StoredCase,
    transition: &Transition,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if transition.is_noop() {
        return Ok(());
    }
    let case_id = current.case.id;
    let old_version = i64::try_from(current.case.version).map_err(StoreError::corrupt)?;
    let stored = after((current, transition), now);
    let row = case_row(&stored, calendar, now, now)?;
    let updated = cases::Entity::update_many()
        .set(cases::ActiveModel {
            version: row.version,
            snapshot: row.snapshot,
            updated_at: row.updated_at,
            ..Default::default()
        })
        .filter(cases::Column::Id.eq(case_id.as_uuid()))
        .filter(cases::Column::Version.eq(old_version))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    let prev_hash = case_events::Entity::find()
        .filter(case_events::Column::CaseId.eq(case_id.as_uuid()))
        .filter(case_events::Column::Sequence.eq(old_version))
        .one(txn)
        .await?
        .map_or_else(|| GENESIS_HASH.to_owned(), |event| event.hash);
    append_events(
        txn,
        case_id,
        old_version,
        prev_hash,
        &transition.events,
        actor,
        now,
    )
    .await?;
    enqueue(txn, &stored, transition, actor, now).await
}
