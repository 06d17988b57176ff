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
use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef, OnConflict, ReturningClause};
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
    apply_one(queue, change).await
}

/// [`apply`] for changes that arrived together, answered in their order.
///
/// Changes of different cases share one transaction, whose statements do
/// not grow with their number: one upsert of the assignees, one of the
/// clocks' records, one insert of the clocks started, one look-up of
/// which of their cases are paused, and one update per clock settled.
/// A case named twice starts a new transaction at its second change, so
/// each case's changes apply in their order, one after the other. When a
/// transaction fails, its changes are applied again one at a time, so one
/// that cannot be applied does not fail the others.
///
/// On Postgres a shared transaction first locks its cases' pending
/// deadlines without waiting: if a worker is completing one of them, the
/// transaction gives up at once and its changes are applied one at a
/// time, each of which waits as a change alone always has. A change alone
/// locks one case's deadlines; a worker's batch of firings may lock many.
/// Two transactions that each held some of the other's rows would wait
/// for each other until Postgres broke the cycle by failing one.
pub async fn apply_all(
    queue: &dyn DeadlineQueue,
    changes: Vec<CaseChange>,
) -> Vec<Result<Applied, QueueError>> {
    let mut answers = Vec::with_capacity(changes.len());
    for group in each_case_once(changes) {
        if group.len() > 1 {
            match apply_together(queue, &group).await {
                Ok(applied) => {
                    answers.extend(applied.into_iter().map(Ok));
                    continue;
                }
                Err(error) => tracing::warn!(
                    %error,
                    changes = group.len(),
                    "case changes applied together failed; applying each alone"
                ),
            }
        }
        for change in group {
            answers.push(apply_one(queue, change).await);
        }
    }
    answers
}

async fn apply_one(queue: &dyn DeadlineQueue, change: CaseChange) -> Result<Applied, QueueError> {
    apply_together(queue, std::slice::from_ref(&change))
        .await?
        .pop()
        .ok_or_else(|| QueueError::corrupt("a case change was applied without an answer"))
}

/// `changes` cut into runs, in order, none naming a case twice.
fn each_case_once(changes: Vec<CaseChange>) -> Vec<Vec<CaseChange>> {
    let mut groups: Vec<Vec<CaseChange>> = Vec::new();
    let mut cases: HashSet<CaseId> = HashSet::new();
    for change in changes {
        let repeated = !cases.insert(change.case_id);
        match groups.last_mut() {
            Some(group) if !repeated => group.push(change),
            _ => {
                cases.clear();
                cases.insert(change.case_id);
                groups.push(vec![change]);
            }
        }
    }
    groups
}

/// Per clock a change names: the start and the settlement it makes (a
/// change that does both leaves the clock settled, as applying them in
/// turn did). Kinds in one order (the map's).
type Clocks = BTreeMap<&'static str, (Option<NewDeadline>, Option<DeadlineOutcome>)>;

fn clocks_of(change: &CaseChange) -> Clocks {
    let mut clocks = Clocks::new();
    for deadline in &change.start {
        clocks.entry(deadline.kind.as_str()).or_default().0 = Some(deadline.clone());
    }
    for (kind, outcome) in &change.settle {
        clocks.entry(kind.as_str()).or_default().1 = Some(*outcome);
    }
    clocks
}

/// Changes of distinct cases, in one transaction.
async fn apply_together(
    queue: &dyn DeadlineQueue,
    changes: &[CaseChange],
) -> Result<Vec<Applied>, QueueError> {
    let clocks: Vec<Clocks> = changes.iter().map(clocks_of).collect();
    let mut applied: Vec<Applied> = changes.iter().map(|_| Applied::default()).collect();
    let mut touched: Vec<DeadlineId> = Vec::new();
    let txn = queue.database().begin().await?;
    if changes.len() > 1 {
        // Several cases' deadlines are settled or held below: their locks
        // first, all at once and without waiting (see the function).
        let cases: Vec<CaseId> = changes.iter().map(|change| change.case_id).collect();
        rows::lock_pending_of_cases(&txn, &cases).await?;
    }
    // The assignees first, then the clocks: every transaction takes its
    // locks in that order, and each statement in case order.
    let recorded = assignees::record_all(
        &txn,
        changes.iter().map(|change| assignees::Assignment {
            case_id: change.case_id,
            assignee: change.assignee.clone(),
            version: change.version,
            at: change.at,
        }),
    )
    .await?;
    let records: Vec<Record> = changes
        .iter()
        .zip(&clocks)
        .flat_map(|(change, clocks)| {
            clocks.iter().map(|(kind, (_, settle))| Record {
                case_id: change.case_id,
                version: change.version,
                kind,
                state: match settle {
                    Some(DeadlineOutcome::Met) => DeadlineState::Met.as_str(),
                    Some(DeadlineOutcome::Cancelled) => DeadlineState::Cancelled.as_str(),
                    None => STARTED,
                },
                at: change.at,
            })
        })
        .collect();
    let claimed = claim(&txn, records).await?;
    let mut starts: Vec<(usize, NewDeadline)> = Vec::new();
    let mut settles: Vec<(usize, DeadlineKind, DeadlineOutcome)> = Vec::new();
    for (position, (change, clocks)) in changes.iter().zip(clocks).enumerate() {
        applied[position].assignee_recorded = recorded.contains(&change.case_id);
        for (kind, (start, settle)) in clocks {
            let Some(kind) = DeadlineKind::ALL.into_iter().find(|k| k.as_str() == kind) else {
                continue;
            };
            if !claimed.contains(&(change.case_id, kind.as_str())) {
                applied[position].stale.push(kind);
                continue;
            }
            starts.extend(start.map(|start| (position, start)));
            if let Some(outcome) = settle {
                settles.push((position, kind, outcome));
            }
        }
    }
    if !starts.is_empty() {
        let new: Vec<NewDeadline> = starts.iter().map(|(_, start)| start.clone()).collect();
        let inserted = rows::insert(&txn, &new).await?;
        // When each case with a clock started here changed.
        let mut started: BTreeMap<CaseId, DateTime<Utc>> = BTreeMap::new();
        for ((position, start), row) in starts.iter().zip(&inserted) {
            touched.push(row.scheduled.deadline_id);
            if row.scheduled.created {
                applied[*position].started += 1;
                started.insert(start.case_id, changes[*position].at);
            }
        }
        // A clock started while its case's clocks are paused is paused
        // from its start.
        let cases: Vec<CaseId> = started.keys().copied().collect();
        for case_id in rows::paused_among(&txn, &cases).await? {
            if let Some(at) = started.get(&case_id) {
                let held = rows::hold_case(&txn, case_id, *at).await?;
                touched.extend(held.iter().map(|d| d.deadline_id));
            }
        }
    }
    for (position, kind, outcome) in settles {
        let change = &changes[position];
        if let Some(id) = rows::settle(&txn, change.case_id, kind, outcome, change.at).await? {
            applied[position].settled += 1;
            touched.push(id);
        }
    }
    txn.commit().await?;
    // Committed: an index that missed this is brought in line by its
    // reconcile (or rebuilt), so the changes are not reported as failed.
    if let Err(error) = queue.tidy(&touched).await {
        tracing::warn!(%error, changes = changes.len(), "the deadline index missed a case change; its reconcile brings it in line");
    }
    if applied.iter().any(|applied| applied.started > 0) {
        queue.wake();
    }
    Ok(applied)
}

/// One clock's record as a change would leave it.
struct Record {
    case_id: CaseId,
    version: i64,
    kind: &'static str,
    /// `started`, or the settlement the change makes.
    state: &'static str,
    at: DateTime<Utc>,
}

/// Records, for each clock of `records`, that its change is the newest
/// applied to it, unless one as new or newer was: the clocks (case, kind)
/// this call recorded (their changes are to be applied), leaving out the
/// stale and the repeated. One statement for all of them, its rows in
/// case and kind order.
async fn claim(
    db: &impl ConnectionTrait,
    mut records: Vec<Record>,
) -> Result<HashSet<(CaseId, &'static str)>, QueueError> {
    if records.is_empty() {
        return Ok(HashSet::new());
    }
    records.sort_by_key(|record| (record.case_id, record.kind));
    let rows = records.iter().map(|record| entity::ActiveModel {
        case_id: Set(record.case_id.as_uuid()),
        kind: Set(record.kind.to_owned()),
        version: Set(record.version),
        state: Set(record.state.to_owned()),
        recorded_at: Set(record.at),
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
    upsert.returning(ReturningClause::Columns(vec![
        Column::CaseId.into_column_ref(),
        Column::Kind.into_column_ref(),
    ]));
    let mut claimed = HashSet::new();
    for row in db.query_all(&upsert).await? {
        let case_id = CaseId(row.try_get::<uuid::Uuid>("", "case_id")?);
        let kind: String = row.try_get("", "kind")?;
        if let Some(kind) = DeadlineKind::ALL.into_iter().find(|k| k.as_str() == kind) {
            claimed.insert((case_id, kind.as_str()));
        }
    }
    Ok(claimed)
}
