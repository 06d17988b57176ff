//! Applying one case change to a case's clocks, in version order per clock:
//! the `clock_versions` table (migration `m20261208_000001_clock_versions`)
//! keeps, for each clock of each case, the newest change applied to it and
//! whether that change started or settled it.
//!
//! Case changes arrive at least once and in any order. A change older than
//! (or as old as) the one a clock last took changes nothing on that clock;
//! so a settle that arrives before its start is remembered (a tombstone),
//! and the late start does not start a clock that would then breach
//! falsely. Clocks the change does not name are not affected by it.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use complaints_domain::case::{CaseId, DeadlineKind, DeadlineOutcome};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryTrait, TransactionTrait};

use crate::{DeadlineId, DeadlineQueue, DeadlineState, NewDeadline, QueueError, assignees, rows};

/// The `clock_versions` table: one row per clock a case change named.
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clock_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: Uuid,
        /// `DeadlineKind::as_str`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        /// The case's version after the newest change applied to the clock.
        pub version: i64,
        /// `started`, or the settlement (`met`, `cancelled`) that change made.
        pub state: String,
        pub recorded_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{Column, Entity};

const STARTED: &str = "started";

/// One case change, as it reaches the clocks.
#[derive(Debug, Clone)]
pub struct CaseChange {
    pub case_id: CaseId,
    /// The case's version after the change.
    pub version: i64,
    pub start: Vec<NewDeadline>,
    pub settle: Vec<(DeadlineKind, DeadlineOutcome)>,
    /// Who the case is assigned to after the change (`None`: nobody),
    /// recorded in the same transaction as the clocks
    /// ([`assignees::record`]).
    pub assignee: Option<String>,
    pub at: DateTime<Utc>,
}

/// What applying a change did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Clocks started by this call (not those started before).
    pub started: usize,
    /// Pending deadlines this call settled.
    pub settled: usize,
    /// Clocks the change named that had taken a change as new or newer:
    /// left as they were.
    pub stale: Vec<DeadlineKind>,
    /// The change's assignee was recorded (no change as new or newer had
    /// been taken).
    pub assignee_recorded: bool,
}

/// Applies `change` to its case's clocks in one transaction, with its
/// assignee (see [`assignees::record`]): for each clock it names, only if
/// the clock has taken no change as new or newer (recording this one),
/// starting it (idempotent on case, kind and stage; held from the start if
/// the case's clocks are paused) or settling it if it is pending. Safe
/// under concurrent and repeated deliveries: the clocks' records are
/// claimed by one conditional upsert, which on Postgres makes a concurrent
/// change of the same clock wait for this one. The index
/// is told after the commit; its failing then does not fail the call.
pub async fn apply(queue: &dyn DeadlineQueue, change: CaseChange) -> Result<Applied, QueueError> {
    // Per clock: the start and the settlement this change makes (a change
    // that does both leaves the clock settled, as applying them in turn did).
    let mut clocks: BTreeMap<&'static str, (Option<NewDeadline>, Option<DeadlineOutcome>)> =
        BTreeMap::new();
    for deadline in &change.start {
        clocks.entry(deadline.kind.as_str()).or_default().0 = Some(deadline.clone());
    }
    for (kind, outcome) in &change.settle {
        clocks.entry(kind.as_str()).or_default().1 = Some(*outcome);
    }
    let mut applied = Applied::default();
    let mut touched: Vec<DeadlineId> = Vec::new();
    let txn = queue.database().begin().await?;
    // The assignee first, then the clocks: every change takes its locks in
    // that order.
    applied.assignee_recorded = assignees::record(
        &txn,
        change.case_id,
        change.assignee.as_deref(),
        change.version,
        change.at,
    )
    .await?;
    // Kinds in one order (the map's), so two changes of one case never
    // lock each other's records crosswise.
    let records: Vec<(&'static str, &'static str)> = clocks
        .iter()
        .map(|(kind, (_, settle))| {
            let state = match settle {
                Some(DeadlineOutcome::Met) => DeadlineState::Met.as_str(),
                Some(DeadlineOutcome::Cancelled) => DeadlineState::Cancelled.as_str(),
                None => STARTED,
            };
            (*kind, state)
        })
        .collect();
    let claimed = claim(&txn, change.case_id, change.version, &records, change.at).await?;
    let mut starts = Vec::new();
    let mut settles = Vec::new();
    for (kind, (start, settle)) in clocks {
        let Some(kind) = DeadlineKind::ALL.into_iter().find(|k| k.as_str() == kind) else {
            continue;
        };
        if !claimed.contains(kind.as_str()) {
            applied.stale.push(kind);
            continue;
        }
        starts.extend(start);
        if let Some(outcome) = settle {
            settles.push((kind, outcome));
        }
    }
    if !starts.is_empty() {
        let inserted = rows::insert(&txn, &starts).await?;
        applied.started = inserted.iter().filter(|row| row.scheduled.created).count();
        touched.extend(inserted.iter().map(|row| row.scheduled.deadline_id));
        if applied.started > 0 {
            // A clock started while its case's clocks are paused is paused
            // from its start.
            let paused = rows::of_case(&txn, change.case_id)
                .await?
                .iter()
                .any(|d| d.state == DeadlineState::Pending && d.held_at.is_some());
            if paused {
                let held = rows::hold_case(&txn, change.case_id, change.at).await?;
                touched.extend(held.iter().map(|d| d.deadline_id));
            }
        }
    }
    for (kind, outcome) in settles {
        if let Some(id) = rows::settle(&txn, change.case_id, kind, outcome, change.at).await? {
            applied.settled += 1;
            touched.push(id);
        }
    }
    txn.commit().await?;
    // Committed: an index that missed this is brought in line by its
    // reconcile (or rebuilt), so the change is not reported as failed.
    if let Err(error) = queue.tidy(&touched).await {
        tracing::warn!(%error, case_id = %change.case_id, "the deadline index missed a case change; its reconcile brings it in line");
    }
    if applied.started > 0 {
        queue.wake();
    }
    Ok(applied)
}

/// Records that the change `version` is the newest applied to each clock
/// of `records` (kind, state), unless one as new or newer was: the kinds
/// this call recorded (their changes are to be applied), leaving out the
/// stale and the repeated. One statement for all of them, its rows in the
/// order given.
async fn claim(
    db: &impl ConnectionTrait,
    case_id: CaseId,
    version: i64,
    records: &[(&'static str, &'static str)],
    at: DateTime<Utc>,
) -> Result<HashSet<String>, QueueError> {
    if records.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = records.iter().map(|(kind, state)| entity::ActiveModel {
        case_id: Set(case_id.as_uuid()),
        kind: Set((*kind).to_owned()),
        version: Set(version),
        state: Set((*state).to_owned()),
        recorded_at: Set(at),
    });
    let mut upsert = Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([Column::CaseId, Column::Kind])
                .update_columns([Column::Version, Column::State, Column::RecordedAt])
                .action_and_where(
                    Expr::col(("clock_versions", "version")).lt(Expr::col(("excluded", "version"))),
                )
                .to_owned(),
        )
        .into_query();
    // Rows inserted or updated come back; those the condition kept do not.
    upsert.returning_col(Column::Kind);
    let mut claimed = HashSet::new();
    for row in db.query_all(&upsert).await? {
        claimed.insert(row.try_get::<String>("", "kind")?);
    }
    Ok(claimed)
}
