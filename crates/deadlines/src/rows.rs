//! The truth: the `deadlines` rows and every change to them.
//!
//! Every change of state is one conditional `UPDATE ... WHERE state =
//! 'pending'` (and, for a worker's completion, `AND lease_owner = worker`),
//! so whatever an index says and however many workers race, a deadline
//! leaves `pending` once. Instants are stored to the millisecond, the
//! precision of the Redis index, so the two compare equal.
//!
//! The public functions take any connection or transaction, so the
//! escalation service can settle or complete a deadline in the same
//! transaction as the outbox rows that doing so causes. After such a commit,
//! pass the deadline ids to [`crate::DeadlineQueue::tidy`] so the index
//! forgets them at once (it would anyway, the next time it looked).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use complaints_domain::case::{CaseId, DeadlineKind, DeadlineOutcome};
use sea_orm::sea_query::{
    Expr, ExprTrait, LockBehavior, LockType, OnConflict, Order, Query, UpdateStatement,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
};
use uuid::Uuid;

use crate::entity::{self, Column};
use complaints_domain::calendar::Due;

use crate::{
    Deadline, DeadlineFilter, DeadlineId, DeadlinePage, DeadlineState, FireOutcome, NewDeadline,
    PageRequest, QueueError, Scheduled, WorkerId,
};

/// Rows per `INSERT`: 24 columns each keeps a statement well under the
/// bind-parameter limits of Postgres (65,535) and SQLite (32,766).
const INSERT_CHUNK: usize = 500;

/// Ids per statement where a batch of ids is listed (`IN (...)` on SQLite,
/// well under its 32,766 bind parameters; one array on Postgres): the
/// largest claim.
const BATCH: usize = crate::queue::MAX_CLAIM;

const PENDING: &str = "pending";

/// `state = 'pending'` for a statement that finds its rows by a key (the
/// id, the case): wrapped in `( … ) IS TRUE`, which no index serves, so the
/// rows are found by that key whatever the table's statistics say (see
/// [`complete_fire_statement`]). Statements that look for pending rows as
/// such (the next due, the counts) test the state plainly and use its index.
fn still_pending() -> Expr {
    Expr::cust("(\"state\" = 'pending') IS TRUE")
}

/// `at` to the millisecond: the precision the index keeps.
pub(crate) fn to_ms(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// When a new pending row first needs a worker: its warning, if it has one
/// before the due instant, else the due instant.
fn first_instant(deadline: &NewDeadline) -> DateTime<Utc> {
    let due_at = to_ms(deadline.due.at);
    match deadline.warn_at.map(to_ms) {
        Some(warn_at) if warn_at < due_at => warn_at,
        _ => due_at,
    }
}

/// A schedule's result and what the index needs to know about the row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inserted {
    pub scheduled: Scheduled,
    /// The row's `next_at`: `None` when it is no longer pending.
    pub next_at: Option<DateTime<Utc>>,
}

/// Inserts each deadline unless its `(case_id, kind, stage)` is there
/// already; answers in the order given.
pub(crate) async fn insert(
    db: &impl ConnectionTrait,
    deadlines: &[NewDeadline],
) -> Result<Vec<Inserted>, QueueError> {
    let mut inserted = Vec::with_capacity(deadlines.len());
    for chunk in deadlines.chunks(INSERT_CHUNK) {
        let ids: Vec<DeadlineId> = chunk.iter().map(|_| DeadlineId::mint()).collect();
        let models = chunk
            .iter()
            .zip(&ids)
            .map(|(deadline, id)| active_model(deadline, *id));
        let mut statement = entity::Entity::insert_many(models)
            .on_conflict(
                OnConflict::columns([Column::CaseId, Column::Kind, Column::Stage])
                    .do_nothing()
                    .to_owned(),
            )
            .into_query();
        statement.returning_col(Column::DeadlineId);
        let created = db
            .query_all(&statement)
            .await?
            .iter()
            .map(|row| row.try_get_by_index::<Uuid>(0))
            .collect::<Result<HashSet<Uuid>, _>>()?;

        // The ones scheduled before: find the earlier row of each.
        let earlier = if created.len() < chunk.len() {
            let cases: HashSet<Uuid> = chunk.iter().map(|d| d.case_id.0).collect();
            entity::Entity::find()
                .filter(Column::CaseId.is_in(cases))
                .all(db)
                .await?
                .into_iter()
                .map(|row| ((row.case_id, row.kind.clone(), row.stage.clone()), row))
                .collect::<HashMap<_, _>>()
        } else {
            HashMap::new()
        };
        for (deadline, id) in chunk.iter().zip(ids) {
            if created.contains(&id.0) {
                inserted.push(Inserted {
                    scheduled: Scheduled {
                        deadline_id: id,
                        created: true,
                    },
                    next_at: Some(first_instant(deadline)),
                });
                continue;
            }
            let key = (
                deadline.case_id.0,
                deadline.kind.as_str().to_owned(),
                deadline.stage.as_str().to_owned(),
            );
            let row = earlier.get(&key).ok_or_else(|| {
                QueueError::corrupt(format!(
                    "deadline {} of case {} conflicted on insert but is not there",
                    deadline.kind, deadline.case_id
                ))
            })?;
            inserted.push(Inserted {
                scheduled: Scheduled {
                    deadline_id: DeadlineId(row.deadline_id),
                    created: false,
                },
                next_at: row.next_at,
            });
        }
    }
    Ok(inserted)
}

fn active_model(deadline: &NewDeadline, id: DeadlineId) -> entity::ActiveModel {
    entity::ActiveModel {
        deadline_id: Set(id.0),
        case_id: Set(deadline.case_id.0),
        register_number: Set(deadline.register_number.clone()),
        kind: Set(deadline.kind.as_str().to_owned()),
        stage: Set(deadline.stage.as_str().to_owned()),
        due_date: Set(deadline.due.date.format("%Y-%m-%d").to_string()),
        due_at: Set(to_ms(deadline.due.at)),
        working_days: Set(i32::try_from(deadline.working_days).unwrap_or(i32::MAX)),
        reason: Set(deadline.reason.clone()),
        policy_version: Set(deadline.policy_version.clone()),
        owner_role: Set(deadline.owner_role.as_str().to_owned()),
        escalation_role: Set(deadline.escalation_role.as_str().to_owned()),
        state: Set(PENDING.to_owned()),
        next_at: Set(Some(first_instant(deadline))),
        created_at: Set(to_ms(deadline.created_at)),
        fired_at: Set(None),
        settled_at: Set(None),
        warn_at: Set(deadline.warn_at.map(to_ms)),
        warned_at: Set(None),
        lease_owner: Set(None),
        lease_until: Set(None),
        original_due_date: Set(Some(deadline.due.date.format("%Y-%m-%d").to_string())),
        original_due_at: Set(Some(to_ms(deadline.due.at))),
        held_at: Set(None),
        trace_context: Set(complaints_telemetry::current_trace_context()),
    }
}

/// Ends the pending deadline `kind` of a case, as the case settled it.
/// Returns its id, or `None` when there was no pending one (never
/// scheduled, or already met, breached or cancelled: a breach stays).
pub async fn settle(
    db: &impl ConnectionTrait,
    case_id: CaseId,
    kind: DeadlineKind,
    outcome: DeadlineOutcome,
    at: DateTime<Utc>,
) -> Result<Option<DeadlineId>, QueueError> {
    let state = match outcome {
        DeadlineOutcome::Met => DeadlineState::Met,
        DeadlineOutcome::Cancelled => DeadlineState::Cancelled,
    };
    Ok(
        update_returning(db, settle_update(case_id, kind, state, at))
            .await?
            .first()
            .map(|row| DeadlineId(row.deadline_id)),
    )
}

fn settle_update(
    case_id: CaseId,
    kind: DeadlineKind,
    state: DeadlineState,
    at: DateTime<Utc>,
) -> UpdateStatement {
    let mut update = leave_pending(state, at, false);
    update
        .and_where(Column::CaseId.eq(case_id.0))
        .and_where(Column::Kind.eq(kind.as_str()));
    update
}

/// Cancels every pending deadline of a case; returns their ids.
pub async fn cancel_case(
    db: &impl ConnectionTrait,
    case_id: CaseId,
    at: DateTime<Utc>,
) -> Result<Vec<DeadlineId>, QueueError> {
    let mut update = leave_pending(DeadlineState::Cancelled, at, false);
    update.and_where(Column::CaseId.eq(case_id.0));
    Ok(update_returning(db, update)
        .await?
        .iter()
        .map(|row| DeadlineId(row.deadline_id))
        .collect())
}

/// Moves a pending deadline to a new due date (an extension, or the end of
/// a pause), with the warning instant for it (`None`: no warning). The
/// first due date is kept (`original_due_*`); a warning already sent is
/// forgotten, so the owner is warned again before the new date; a worker's
/// lease on it ends (its firing, if under way, then changes nothing).
/// With `release_hold`, a held deadline is handed to workers again; without
/// it, a held one stays held. Answers the row as it now is, or `None` when
/// it was not pending (a deadline that fired stays fired).
pub async fn reschedule(
    db: &impl ConnectionTrait,
    deadline_id: DeadlineId,
    due: Due,
    warn_at: Option<DateTime<Utc>>,
    release_hold: bool,
) -> Result<Option<Deadline>, QueueError> {
    let due_at = to_ms(due.at);
    let warn_at = warn_at.map(to_ms).filter(|warn_at| *warn_at < due_at);
    let first = warn_at.unwrap_or(due_at);
    let mut update = Query::update();
    update
        .table(entity::Entity)
        .value(Column::DueDate, due.date.format("%Y-%m-%d").to_string())
        .value(Column::DueAt, due_at)
        .value(Column::WarnAt, warn_at)
        .value(Column::WarnedAt, Option::<DateTime<Utc>>::None)
        .value(Column::LeaseOwner, Option::<String>::None)
        .value(Column::LeaseUntil, Option::<DateTime<Utc>>::None)
        .and_where(Column::DeadlineId.eq(deadline_id.0))
        .and_where(still_pending());
    if release_hold {
        update
            .value(Column::HeldAt, Option::<DateTime<Utc>>::None)
            .value(Column::NextAt, first);
    } else {
        update.value(
            Column::NextAt,
            Expr::case(Column::HeldAt.is_null(), Expr::val(first))
                .finally(Expr::val(Option::<DateTime<Utc>>::None)),
        );
    }
    update_returning(db, update)
        .await?
        .into_iter()
        .next()
        .map(Deadline::try_from)
        .transpose()
}

/// Holds every pending deadline of a case that is not held already (its
/// clocks are paused): each stays pending, but with no `next_at` no worker
/// is handed it, for a warning or a firing, until [`reschedule`] releases
/// it. A worker's lease on one ends. Answers the rows held by this call.
pub async fn hold_case(
    db: &impl ConnectionTrait,
    case_id: CaseId,
    at: DateTime<Utc>,
) -> Result<Vec<Deadline>, QueueError> {
    let mut update = Query::update();
    update
        .table(entity::Entity)
        .value(Column::HeldAt, to_ms(at))
        .value(Column::NextAt, Option::<DateTime<Utc>>::None)
        .value(Column::LeaseOwner, Option::<String>::None)
        .value(Column::LeaseUntil, Option::<DateTime<Utc>>::None)
        .and_where(Column::CaseId.eq(case_id.0))
        .and_where(still_pending())
        .and_where(Column::HeldAt.is_null());
    update_returning(db, update)
        .await?
        .into_iter()
        .map(Deadline::try_from)
        .collect()
}

/// Fires a deadline that `worker` claimed: true if this call changed it.
/// False when it was settled meanwhile, or another worker took it over
/// after this worker's lease ran out: then this worker's firing did not
/// happen, and whatever it wrote in the same transaction must not either.
pub async fn complete_fire(
    db: &impl ConnectionTrait,
    deadline_id: DeadlineId,
    worker: &WorkerId,
    outcome: FireOutcome,
    at: DateTime<Utc>,
) -> Result<bool, QueueError> {
    let mut update = leave_pending(outcome.state(), at, true);
    update
        .and_where(Column::DeadlineId.eq(deadline_id.0))
        .and_where(Column::LeaseOwner.eq(worker.as_str()));
    Ok(db.execute(&update).await?.rows_affected() == 1)
}

/// [`complete_fire`] for many deadlines `worker` claimed: answers those this
/// call fired. One statement per batch of up to [`BATCH`] (on Postgres
/// whatever their outcomes; on SQLite one per outcome present). Inside a
/// transaction, the caller writes what the firings cause for exactly these.
pub async fn complete_fire_many(
    db: &impl ConnectionTrait,
    fired: &[(DeadlineId, FireOutcome)],
    worker: &WorkerId,
    at: DateTime<Utc>,
) -> Result<Vec<DeadlineId>, QueueError> {
    let mut changed = Vec::with_capacity(fired.len());
    if db.get_database_backend() == DbBackend::Postgres {
        for chunk in fired.chunks(BATCH) {
            changed.extend(complete_fire_postgres(db, chunk, worker, at).await?);
        }
        return Ok(changed);
    }
    for outcome in [
        FireOutcome::Breached,
        FireOutcome::Met,
        FireOutcome::Cancelled,
    ] {
        let ids: Vec<Uuid> = fired
            .iter()
            .filter(|(_, o)| *o == outcome)
            .map(|(id, _)| id.0)
            .collect();
        for chunk in ids.chunks(BATCH) {
            let mut update = leave_pending(outcome.state(), at, true);
            update
                .and_where(Column::DeadlineId.is_in(chunk.iter().copied()))
                .and_where(Column::LeaseOwner.eq(worker.as_str()))
                .returning_col(Column::DeadlineId);
            for row in db.query_all(&update).await? {
                changed.push(DeadlineId(row.try_get_by_index::<Uuid>(0)?));
            }
        }
    }
    Ok(changed)
}

/// One `UPDATE` for a batch of firings, each with its own outcome: the ids
/// and states go in as two array parameters, whatever the batch's size, so
/// Postgres prepares the statement once.
async fn complete_fire_postgres(
    db: &impl ConnectionTrait,
    fired: &[(DeadlineId, FireOutcome)],
    worker: &WorkerId,
    at: DateTime<Utc>,
) -> Result<Vec<DeadlineId>, QueueError> {
    if fired.is_empty() {
        return Ok(Vec::new());
    }
    db.query_all_raw(complete_fire_statement(fired, worker, at))
        .await?
        .iter()
        .map(|row| Ok(DeadlineId(row.try_get_by_index::<Uuid>(0)?)))
        .collect()
}

/// The rows of a batch keyed by id are found through the primary key,
/// whatever the table's statistics say: the batch statements wrap their
/// other conditions in `( … ) IS TRUE`, which no index serves. Written
/// plainly (`state = 'pending' AND …`), a table that has not been analysed
/// yet (a new one, or one whose autovacuum has not come round) leads the
/// planner to read every pending row through `idx_deadlines_state_next_at`
/// and join the batch to them, so a batch's cost grows with the backlog.
fn complete_fire_statement(
    fired: &[(DeadlineId, FireOutcome)],
    worker: &WorkerId,
    at: DateTime<Utc>,
) -> Statement {
    const SQL: &str = r#"
        UPDATE deadlines
        SET state = fired.state, settled_at = $3, fired_at = $3,
            next_at = NULL, lease_owner = NULL, lease_until = NULL
        FROM unnest($1::uuid[], $2::text[]) AS fired(deadline_id, state)
        WHERE deadlines.deadline_id = fired.deadline_id
          AND (deadlines.state = 'pending' AND deadlines.lease_owner = $4) IS TRUE
        RETURNING deadlines.deadline_id"#;
    let ids = array_literal(fired.iter().map(|(id, _)| id.0.hyphenated().to_string()));
    let states = array_literal(
        fired
            .iter()
            .map(|(_, outcome)| outcome.state().as_str().to_owned()),
    );
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        SQL,
        [
            ids.into(),
            states.into(),
            to_ms(at).into(),
            worker.as_str().into(),
        ],
    )
}

/// `{a,b,c}`: a Postgres array literal of plain words (UUIDs, state
/// names), bound as one text parameter and cast in the statement.
fn array_literal(items: impl Iterator<Item = String>) -> String {
    let mut literal = String::from("{");
    for (n, item) in items.enumerate() {
        if n > 0 {
            literal.push(',');
        }
        literal.push_str(&item);
    }
    literal.push('}');
    literal
}

/// Records that `worker` sent the warning it claimed: true if this call
/// changed the row, under the same conditions as [`complete_fire`]. The
/// deadline stays pending, now waiting for its due instant.
pub async fn complete_warn(
    db: &impl ConnectionTrait,
    deadline_id: DeadlineId,
    worker: &WorkerId,
    at: DateTime<Utc>,
) -> Result<bool, QueueError> {
    Ok(finish_warning(db, deadline_id, worker, at).await?.is_some())
}

/// [`complete_warn`], answering the row's new `next_at` (its due instant).
pub(crate) async fn finish_warning(
    db: &impl ConnectionTrait,
    deadline_id: DeadlineId,
    worker: &WorkerId,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, QueueError> {
    let mut update = Query::update();
    update
        .table(entity::Entity)
        .value(Column::WarnedAt, to_ms(at))
        .value(Column::NextAt, Expr::col(Column::DueAt))
        .value(Column::LeaseOwner, Option::<String>::None)
        .value(Column::LeaseUntil, Option::<DateTime<Utc>>::None)
        .and_where(Column::DeadlineId.eq(deadline_id.0))
        .and_where(still_pending())
        .and_where(Column::LeaseOwner.eq(worker.as_str()))
        .and_where(Column::WarnAt.is_not_null())
        .and_where(Column::WarnedAt.is_null());
    Ok(update_returning(db, update)
        .await?
        .first()
        .map(|row| row.due_at))
}

/// An update taking a row out of `pending`, for the caller to narrow.
fn leave_pending(state: DeadlineState, at: DateTime<Utc>, fired: bool) -> UpdateStatement {
    let at = to_ms(at);
    let mut update = Query::update();
    update
        .table(entity::Entity)
        .value(Column::State, state.as_str())
        .value(Column::SettledAt, at)
        .value(Column::NextAt, Option::<DateTime<Utc>>::None)
        .value(Column::LeaseOwner, Option::<String>::None)
        .value(Column::LeaseUntil, Option::<DateTime<Utc>>::None)
        .and_where(still_pending());
    if fired {
        update.value(Column::FiredAt, at);
    }
    update
}

/// An update giving rows to `worker` until `until`, for the caller to narrow.
/// `next_at` moves to the end of the lease: that is when the row needs a
/// worker again if this one dies.
fn take_lease(worker: &WorkerId, until: DateTime<Utc>) -> UpdateStatement {
    let until = to_ms(until);
    let mut update = Query::update();
    update
        .table(entity::Entity)
        .value(Column::LeaseOwner, worker.as_str())
        .value(Column::LeaseUntil, until)
        .value(Column::NextAt, until);
    update
}

/// Pending, and nobody needs to be working on it later than `now`: not
/// leased, or leased until no later than `now`.
fn claimable(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(Column::State.eq(PENDING))
        .add(Column::NextAt.lte(now))
}

/// Claims up to `limit` rows whose `next_at` has passed, earliest first.
pub(crate) async fn claim_next(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    worker: &WorkerId,
    until: DateTime<Utc>,
) -> Result<Vec<entity::Model>, QueueError> {
    let now = to_ms(now);
    if db.get_database_backend() == DbBackend::Postgres {
        return claim_next_postgres(db, now, limit, worker, to_ms(until)).await;
    }
    // SQLite runs one statement at a time: the subquery is the claim.
    let mut pick = Query::select();
    pick.column(Column::DeadlineId)
        .from(entity::Entity)
        .cond_where(claimable(now))
        .order_by(Column::NextAt, Order::Asc)
        .limit(limit);
    let mut update = take_lease(worker, until);
    update
        .and_where(Column::DeadlineId.in_subquery(pick))
        .cond_where(claimable(now));
    update_returning(db, update).await
}

/// On Postgres the rows are picked in a CTE, which runs once (a `LIMIT`ed
/// `IN (subquery)` may be re-run by the plan and take more than `limit`),
/// and rows another claim is taking are skipped, not waited for. The outer
/// `WHERE` checks again what the pick saw.
async fn claim_next_postgres(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    worker: &WorkerId,
    until: DateTime<Utc>,
) -> Result<Vec<entity::Model>, QueueError> {
    const SQL: &str = r#"
        WITH picked AS (
            SELECT deadline_id FROM deadlines
            WHERE state = 'pending' AND next_at <= $1
            ORDER BY next_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        )
        UPDATE deadlines
        SET lease_owner = $3, lease_until = $4, next_at = $4
        FROM picked
        WHERE deadlines.deadline_id = picked.deadline_id
          AND deadlines.state = 'pending' AND deadlines.next_at <= $1
        RETURNING deadlines.*"#;
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        SQL,
        [
            now.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
            worker.as_str().into(),
            until.into(),
        ],
    );
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| entity::Model::from_query_result(row, "").map_err(QueueError::from))
        .collect()
}

/// Claims those of `ids` that are claimable at `now`: one statement. On
/// Postgres the ids are one array parameter, so the statement is prepared
/// once whatever the batch's size; it is joined as a table (`unnest`),
/// which parses the array once, where `= ANY($1::uuid[])` may parse it
/// again for every row the plan looks at.
pub(crate) async fn claim_ids(
    db: &impl ConnectionTrait,
    ids: &[DeadlineId],
    now: DateTime<Utc>,
    worker: &WorkerId,
    until: DateTime<Utc>,
) -> Result<Vec<entity::Model>, QueueError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (now, until) = (to_ms(now), to_ms(until));
    if db.get_database_backend() == DbBackend::Postgres {
        return db
            .query_all_raw(claim_ids_statement(ids, now, worker, until))
            .await?
            .iter()
            .map(|row| entity::Model::from_query_result(row, "").map_err(QueueError::from))
            .collect();
    }
    let mut taken = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let mut update = take_lease(worker, until);
        update
            .and_where(Column::DeadlineId.is_in(chunk.iter().map(|id| id.0)))
            .cond_where(claimable(now));
        taken.extend(update_returning(db, update).await?);
    }
    Ok(taken)
}

/// [`claim_ids`] on Postgres; its rows are found by primary key whatever
/// the statistics (see [`complete_fire_statement`]).
fn claim_ids_statement(
    ids: &[DeadlineId],
    now: DateTime<Utc>,
    worker: &WorkerId,
    until: DateTime<Utc>,
) -> Statement {
    const SQL: &str = r#"
        UPDATE deadlines
        SET lease_owner = $2, lease_until = $3, next_at = $3
        FROM unnest($1::uuid[]) AS claimed(deadline_id)
        WHERE deadlines.deadline_id = claimed.deadline_id
          AND (deadlines.state = 'pending' AND deadlines.next_at <= $4) IS TRUE
        RETURNING deadlines.*"#;
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        SQL,
        [
            array_literal(ids.iter().map(|id| id.0.hyphenated().to_string())).into(),
            worker.as_str().into(),
            until.into(),
            now.into(),
        ],
    )
}

/// Gives back the pending rows `worker` holds (only those of `only`, if
/// given): each needs a worker again at its warning or due instant.
pub(crate) async fn release(
    db: &impl ConnectionTrait,
    worker: &WorkerId,
    only: Option<&[DeadlineId]>,
) -> Result<Vec<(DeadlineId, DateTime<Utc>)>, QueueError> {
    let warning_unsent = Condition::all()
        .add(Column::WarnAt.is_not_null())
        .add(Column::WarnedAt.is_null())
        .add(Expr::col(Column::WarnAt).lt(Expr::col(Column::DueAt)));
    let mut update = Query::update();
    update
        .table(entity::Entity)
        .value(Column::LeaseOwner, Option::<String>::None)
        .value(Column::LeaseUntil, Option::<DateTime<Utc>>::None)
        .value(
            Column::NextAt,
            Expr::case(warning_unsent, Expr::col(Column::WarnAt)).finally(Expr::col(Column::DueAt)),
        )
        .and_where(Column::LeaseOwner.eq(worker.as_str()));
    match only {
        Some(ids) => {
            update
                .and_where(Column::DeadlineId.is_in(ids.iter().map(|id| id.0)))
                .and_where(still_pending());
        }
        None => {
            update.and_where(Column::State.eq(PENDING));
        }
    }
    update_returning(db, update)
        .await?
        .into_iter()
        .map(|row| {
            let next_at = row
                .next_at
                .ok_or_else(|| QueueError::corrupt("a released deadline has no next_at"))?;
            Ok((DeadlineId(row.deadline_id), next_at))
        })
        .collect()
}

/// Runs `update` and answers the rows it changed, as they now are.
async fn update_returning(
    db: &impl ConnectionTrait,
    mut update: UpdateStatement,
) -> Result<Vec<entity::Model>, QueueError> {
    update.returning_all();
    db.query_all(&update)
        .await?
        .iter()
        .map(|row| entity::Model::from_query_result(row, "").map_err(QueueError::from))
        .collect()
}

/// The earliest `next_at` of any pending row.
pub(crate) async fn next_due(
    db: &impl ConnectionTrait,
) -> Result<Option<DateTime<Utc>>, QueueError> {
    Ok(entity::Entity::find()
        .select_only()
        .column(Column::NextAt)
        .filter(Column::State.eq(PENDING))
        .filter(Column::NextAt.is_not_null())
        .order_by_asc(Column::NextAt)
        .limit(1)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten())
}

/// For each of `ids` that is pending, its `next_at`; the others (settled,
/// or unknown) are absent.
pub(crate) async fn pending_next_at(
    db: &impl ConnectionTrait,
    ids: &[DeadlineId],
) -> Result<HashMap<DeadlineId, DateTime<Utc>>, QueueError> {
    let rows = pending_next_at_query(ids)
        .into_tuple::<(Uuid, Option<DateTime<Utc>>)>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, next_at)| Some((DeadlineId(id), next_at?)))
        .collect())
}

fn pending_next_at_query(ids: &[DeadlineId]) -> sea_orm::Select<entity::Entity> {
    entity::Entity::find()
        .select_only()
        .column(Column::DeadlineId)
        .column(Column::NextAt)
        .filter(Column::DeadlineId.is_in(ids.iter().map(|id| id.0)))
        .filter(still_pending())
}

/// Up to `limit` pending rows after `after` in id order, with their
/// `next_at`: a page of the index as it should be.
pub(crate) async fn pending_page(
    db: &impl ConnectionTrait,
    after: Option<DeadlineId>,
    limit: u64,
) -> Result<Vec<(DeadlineId, DateTime<Utc>)>, QueueError> {
    let mut query = entity::Entity::find()
        .select_only()
        .column(Column::DeadlineId)
        .column(Column::NextAt)
        .filter(Column::State.eq(PENDING))
        .filter(Column::NextAt.is_not_null());
    if let Some(after) = after {
        query = query.filter(Column::DeadlineId.gt(after.0));
    }
    let rows = query
        .order_by_asc(Column::DeadlineId)
        .limit(limit)
        .into_tuple::<(Uuid, Option<DateTime<Utc>>)>()
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(id, next_at)| {
            let next_at = next_at.ok_or_else(|| {
                QueueError::corrupt(format!("pending deadline {id} has no next_at"))
            })?;
            Ok((DeadlineId(id), next_at))
        })
        .collect()
}

/// How many pending rows need a worker at some point: every pending one
/// but those held. What a complete index holds.
pub(crate) async fn count_indexable(db: &impl ConnectionTrait) -> Result<u64, QueueError> {
    Ok(entity::Entity::find()
        .filter(Column::State.eq(PENDING))
        .filter(Column::NextAt.is_not_null())
        .count(db)
        .await?)
}

pub(crate) async fn count_pending(db: &impl ConnectionTrait) -> Result<u64, QueueError> {
    Ok(entity::Entity::find()
        .filter(Column::State.eq(PENDING))
        .count(db)
        .await?)
}

/// Those of `case_ids` whose clocks are paused: they have a pending
/// deadline on hold.
pub(crate) async fn paused_among(
    db: &impl ConnectionTrait,
    case_ids: &[CaseId],
) -> Result<Vec<CaseId>, QueueError> {
    if case_ids.is_empty() {
        return Ok(Vec::new());
    }
    let paused = entity::Entity::find()
        .select_only()
        .column(Column::CaseId)
        .distinct()
        .filter(Column::CaseId.is_in(case_ids.iter().map(CaseId::as_uuid)))
        .filter(still_pending())
        .filter(Column::HeldAt.is_not_null())
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    Ok(paused.into_iter().map(CaseId).collect())
}

/// Locks the pending deadlines of `case_ids` for the rest of the
/// transaction, in id order, or fails at once (Postgres's
/// `lock_not_available`) if another transaction holds one: a transaction
/// that changes several cases' deadlines takes their locks here, before
/// any other, and never waits for one, so it cannot close a cycle of
/// waits with a worker completing a batch of firings. Nothing on SQLite,
/// whose one writer at a time waits for no one.
pub(crate) async fn lock_pending_of_cases(
    db: &impl ConnectionTrait,
    case_ids: &[CaseId],
) -> Result<(), QueueError> {
    if case_ids.is_empty() || db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut select = Query::select();
    select
        .column(Column::DeadlineId)
        .from(entity::Entity)
        .and_where(Column::CaseId.is_in(case_ids.iter().map(CaseId::as_uuid)))
        .and_where(still_pending())
        .order_by(Column::DeadlineId, Order::Asc)
        .lock_with_behavior(LockType::Update, LockBehavior::Nowait);
    db.query_all(&select).await?;
    Ok(())
}

pub(crate) async fn of_case(
    db: &impl ConnectionTrait,
    case_id: CaseId,
) -> Result<Vec<Deadline>, QueueError> {
    entity::Entity::find()
        .filter(Column::CaseId.eq(case_id.0))
        .order_by_asc(Column::DueAt)
        .order_by_asc(Column::Kind)
        .all(db)
        .await?
        .into_iter()
        .map(Deadline::try_from)
        .collect()
}

pub(crate) async fn by_id(
    db: &impl ConnectionTrait,
    deadline_id: DeadlineId,
) -> Result<Option<Deadline>, QueueError> {
    entity::Entity::find_by_id(deadline_id.0)
        .one(db)
        .await?
        .map(Deadline::try_from)
        .transpose()
}

/// Which way a listing runs, by `(due_at, deadline_id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Ascending,
    Descending,
}

/// One page of the rows matching `base` and `filter`.
pub(crate) async fn list(
    db: &impl ConnectionTrait,
    base: Condition,
    filter: &DeadlineFilter,
    page: &PageRequest,
    direction: Direction,
) -> Result<DeadlinePage, QueueError> {
    let size = page.size();
    let mut query = entity::Entity::find()
        .filter(base)
        .filter(filter_condition(filter));
    if let Some(token) = &page.page_token {
        let (at, id) = parse_page_token(token)?;
        let later = match direction {
            Direction::Ascending => Condition::any().add(Column::DueAt.gt(at)).add(
                Condition::all()
                    .add(Column::DueAt.eq(at))
                    .add(Column::DeadlineId.gt(id)),
            ),
            Direction::Descending => Condition::any().add(Column::DueAt.lt(at)).add(
                Condition::all()
                    .add(Column::DueAt.eq(at))
                    .add(Column::DeadlineId.lt(id)),
            ),
        };
        query = query.filter(later);
    }
    query = match direction {
        Direction::Ascending => query
            .order_by_asc(Column::DueAt)
            .order_by_asc(Column::DeadlineId),
        Direction::Descending => query
            .order_by_desc(Column::DueAt)
            .order_by_desc(Column::DeadlineId),
    };
    let mut rows = query.limit(size + 1).all(db).await?;
    let more = rows.len() as u64 > size;
    rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    let next_page_token = if more {
        rows.last()
            .map(|row| page_token(row.due_at, row.deadline_id))
    } else {
        None
    };
    Ok(DeadlinePage {
        deadlines: rows
            .into_iter()
            .map(Deadline::try_from)
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}

pub(crate) fn state_is(state: DeadlineState) -> Condition {
    Condition::all().add(Column::State.eq(state.as_str()))
}

pub(crate) fn due_by(until: DateTime<Utc>) -> Condition {
    Condition::all().add(Column::DueAt.lte(to_ms(until)))
}

fn filter_condition(filter: &DeadlineFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(case_id) = filter.case_id {
        condition = condition.add(Column::CaseId.eq(case_id.0));
    }
    if let Some(kind) = filter.kind {
        condition = condition.add(Column::Kind.eq(kind.as_str()));
    }
    if let Some(stage) = filter.stage {
        condition = condition.add(Column::Stage.eq(stage.as_str()));
    }
    if let Some(role) = filter.owner_role {
        condition = condition.add(Column::OwnerRole.eq(role.as_str()));
    }
    if let Some(role) = filter.escalation_role {
        condition = condition.add(Column::EscalationRole.eq(role.as_str()));
    }
    if let Some(from) = filter.due_from {
        condition = condition.add(Column::DueAt.gte(to_ms(from)));
    }
    if let Some(before) = filter.due_before {
        condition = condition.add(Column::DueAt.lt(to_ms(before)));
    }
    condition
}

/// `<due_at ms>_<deadline id>`: where the page ended.
fn page_token(due_at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}_{}", due_at.timestamp_millis(), id.simple())
}

fn parse_page_token(token: &str) -> Result<(DateTime<Utc>, Uuid), QueueError> {
    let bad = || QueueError::invalid("page_token", "not a token from this listing");
    let (millis, id) = token.split_once('_').ok_or_else(bad)?;
    let at = millis
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scans of `deadlines`, and the index scans under them, in the
    /// plan Postgres makes for `statement` when it reads the table through an
    /// index. A table this small is
    /// cheaper to read whole, so sequential scans are ruled out here: what
    /// is left is the index the plan would take on a table of millions.
    async fn deadline_scans(
        db: &sea_orm::DatabaseConnection,
        statement: &Statement,
    ) -> Vec<String> {
        use sea_orm::TransactionTrait as _;
        let txn = db.begin().await.expect("BEGIN");
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .expect("SET LOCAL");
        let explain = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN {}", statement.sql),
            statement
                .values
                .clone()
                .map(|values| values.0)
                .unwrap_or_default(),
        );
        let plan = txn.query_all_raw(explain).await.expect("EXPLAIN");
        txn.rollback().await.expect("ROLLBACK");
        plan.iter()
            .map(|row| row.try_get_by_index::<String>(0).expect("a plan line"))
            .filter(|line| {
                (line.contains(" on deadlines") || line.contains("Index Scan"))
                    && !line.contains("Update on")
            })
            .map(|line| line.trim().to_owned())
            .collect()
    }

    /// Statements keyed by id or case reach their rows through that key
    /// on a table Postgres has no statistics for yet, and on one it has
    /// analysed: never through an index on the state.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn statements_by_key_find_their_rows_by_that_key_with_or_without_statistics() {
        let Some(test) = complaints_test_support::TestDb::postgres().await else {
            return;
        };
        let db = &test.db;
        let t0 = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let deadlines: Vec<NewDeadline> = (0..5_000_i64)
            .map(|n| {
                let at = t0 + chrono::TimeDelta::minutes(n);
                NewDeadline {
                    case_id: CaseId(Uuid::now_v7()),
                    register_number: format!("CMP-2026-{n:06}"),
                    kind: DeadlineKind::Acknowledge,
                    stage: DeadlineKind::Acknowledge.stage(),
                    working_days: 3,
                    due: Due {
                        date: at.date_naive(),
                        at,
                    },
                    reason: "plan test".to_owned(),
                    policy_version: "2026-11".to_owned(),
                    owner_role: complaints_domain::role::Role::ComplaintsHandler,
                    escalation_role: complaints_domain::role::Role::CxManager,
                    warn_at: None,
                    created_at: t0,
                }
            })
            .collect();
        let ids: Vec<DeadlineId> = insert(db, &deadlines)
            .await
            .expect("insert")
            .iter()
            .take(1_000)
            .map(|inserted| inserted.scheduled.deadline_id)
            .collect();
        let worker = WorkerId::new("plan-test").expect("a worker id");
        let fired: Vec<(DeadlineId, FireOutcome)> =
            ids.iter().map(|id| (*id, FireOutcome::Breached)).collect();
        let later = t0 + chrono::TimeDelta::days(30);
        let case_id = CaseId(Uuid::now_v7());
        let statements = [
            claim_ids_statement(&ids, later, &worker, later),
            complete_fire_statement(&fired, &worker, later),
            pending_next_at_query(&ids[..3]).build(DbBackend::Postgres),
            DbBackend::Postgres.build(&settle_update(
                case_id,
                DeadlineKind::Acknowledge,
                DeadlineState::Met,
                later,
            )),
        ];
        for analysed in [false, true] {
            if analysed {
                db.execute_unprepared("ANALYZE deadlines")
                    .await
                    .expect("ANALYZE");
            }
            for statement in &statements {
                let scans = deadline_scans(db, statement).await;
                assert!(
                    scans.iter().any(|scan| {
                        scan.contains("deadlines_pkey")
                            || scan.contains("uq_deadlines_case_kind_stage")
                    }) && !scans.iter().any(|scan| {
                        scan.contains("Seq Scan") || scan.contains("idx_deadlines_state")
                    }),
                    "analysed: {analysed}; scans {scans:?} for {}",
                    statement.sql
                );
            }
        }
    }

    #[test]
    fn a_page_token_reads_back_as_written_and_junk_is_refused() {
        let at = DateTime::from_timestamp_millis(1_790_000_000_123).unwrap_or_default();
        let id = Uuid::now_v7();
        assert_eq!(parse_page_token(&page_token(at, id)).ok(), Some((at, id)));
        for junk in [
            "",
            "x",
            "12_",
            "_abc",
            "12_not-a-uuid",
            "x_0190f5e47a8b7c3d9e0f123456789abc",
        ] {
            assert!(
                matches!(
                    parse_page_token(junk),
                    Err(QueueError::InvalidArgument {
                        field: "page_token",
                        ..
                    })
                ),
                "{junk:?} accepted"
            );
        }
    }

    #[test]
    fn instants_are_kept_to_the_millisecond() {
        let at = DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap_or_default();
        assert_eq!(
            to_ms(at).timestamp_nanos_opt(),
            Some(1_790_000_000_123_000_000)
        );
        assert_eq!(to_ms(to_ms(at)), to_ms(at));
    }
}
