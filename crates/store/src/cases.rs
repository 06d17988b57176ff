//! The case repository: a case, its personal data, its timeline, its due
//! dates, its outbox messages and its idempotency record are written in one
//! transaction or not at all.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use complaints_domain::DomainError;
use complaints_domain::calendar::Calendar;
use complaints_domain::case::{
    Case, CaseId, DeadlineKind, DeadlineOutcome, DeadlineSpec, Event, NotifyRequest, Transition,
};
use complaints_domain::complainant::{
    Complainant, ContactMethod, RawComplainant, RawPostalAddress,
};
use complaints_domain::policy::Stage;
use complaints_domain::role::{Actor, Role};
use complaints_domain::values::RegisterNumber;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::chain::{self, GENESIS_HASH};
use crate::entity::{case_events, cases, complainants};
use crate::idempotency::{self, RequestKey};
use crate::outbox::{self, OutboxMessage};
use crate::{StoreError, register};

/// The outbox topic of case changes, read by the escalation and
/// notification services.
pub const CASE_EVENTS_TOPIC: &str = "case.events";

/// How many times a step is retried when another writer changed the case
/// between our read and our write.
const CONFLICT_RETRIES: usize = 5;

/// A due date as the case service keeps it: what was promised and whether
/// it was kept. The escalation service keeps the clocks themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueDate {
    pub kind: DeadlineKind,
    pub stage: Stage,
    pub working_days: u32,
    pub due_date: NaiveDate,
    pub due_at: DateTime<Utc>,
    pub reason: String,
    pub state: DueState,
    pub settled_at: Option<DateTime<Utc>>,
    /// Who owns the promise and is warned before it.
    #[serde(default)]
    pub owner_role: Option<Role>,
    /// Who is alerted, with the owner, when it is broken.
    #[serde(default)]
    pub escalation_role: Option<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueState {
    Pending,
    Met,
    Cancelled,
}

impl DueDate {
    /// Whether the promise was broken as of `now`: settled late, or still
    /// pending after its due instant.
    pub fn breached(&self, now: DateTime<Utc>) -> bool {
        match (self.state, self.settled_at) {
            (DueState::Pending, _) => now > self.due_at,
            (DueState::Met, Some(at)) => at > self.due_at,
            _ => false,
        }
    }
}

/// A case as stored, with its due dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCase {
    pub case: Case,
    pub due_dates: Vec<DueDate>,
    pub erased: bool,
    pub updated_at: DateTime<Utc>,
}

/// The stored part of a case row that is not in a column of its own.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    case: Case,
    due_dates: Vec<DueDate>,
}

/// The message the outbox carries for one transition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseChanged {
    pub case_id: Uuid,
    pub register_number: String,
    /// The case's version after the change; with `case_id`, a unique key
    /// receivers deduplicate on.
    pub version: u64,
    pub stage: Stage,
    pub owner_role: String,
    pub policy_version: String,
    pub actor: Actor,
    pub at: DateTime<Utc>,
    pub events: Vec<Event>,
    pub deadlines: Vec<DueDate>,
    pub settle: Vec<(DeadlineKind, DeadlineOutcome)>,
    pub notify: Vec<NotifyRequest>,
    /// The current stage's pending response deadline, for alerts that hand
    /// the case to someone.
    #[serde(default)]
    pub respond_due: Option<DueDate>,
}

/// Whether a call created something or returned an earlier call's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stored: StoredCase,
    /// The id the step produced (the case id, a referral id).
    pub resource_id: String,
    pub replayed: bool,
}

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
    if let Some(outcome) = replay(db, key).await? {
        return Ok(outcome);
    }
    match write_new_case(db, calendar, received_at, actor, now, key, build).await {
        // A concurrent call with the same key won the race: its record
        // refused ours, and its case is the answer.
        Err(StoreError::Database(error)) if key.is_some() => match replay(db, key).await? {
            Some(outcome) => Ok(outcome),
            None => Err(StoreError::Database(error)),
        },
        result => result,
    }
}

async fn write_new_case<F>(
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
    let txn = db.begin().await?;
    let year = calendar.local_date(received_at).year();
    let number = register::next_register_number(&txn, year).await?;
    let transition = build(number)?;
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
    let resource_id = case_id.to_string();
    if let Some(key) = key {
        idempotency::record(&txn, key, &resource_id, Vec::new(), now).await?;
    }
    txn.commit().await?;
    Ok(Outcome {
        stored,
        resource_id,
        replayed: false,
    })
}

/// Runs one step on a case: loads it, lets `step` decide (returning the
/// transition and the id of what it made), and stores the result if nobody
/// changed the case meanwhile; otherwise reloads and decides again.
pub async fn apply<F>(
    db: &DatabaseConnection,
    calendar: &Calendar,
    case_id: CaseId,
    actor: &Actor,
    now: DateTime<Utc>,
    key: Option<&RequestKey>,
    step: F,
) -> Result<Outcome, StoreError>
where
    F: Fn(&StoredCase) -> Result<(Transition, String), DomainError>,
{
    if let Some(outcome) = replay(db, key).await? {
        return Ok(outcome);
    }
    for _ in 0..CONFLICT_RETRIES {
        let current = load(db, case_id).await?;
        let (transition, resource_id) = step(&current)?;
        if transition.is_noop() {
            // Nothing changed (a repeated acknowledgement): nothing to write.
            return Ok(Outcome {
                stored: current,
                resource_id,
                replayed: false,
            });
        }
        match write_step(
            db,
            calendar,
            &current,
            &transition,
            &resource_id,
            actor,
            now,
            key,
        )
        .await
        {
            Err(StoreError::Conflict) => continue,
            Err(StoreError::Database(e)) if key.is_some() => {
                // A concurrent retry of the same request may have won.
                if let Some(outcome) = replay(db, key).await? {
                    return Ok(outcome);
                }
                return Err(StoreError::Database(e));
            }
            Err(e) => return Err(e),
            Ok(stored) => {
                return Ok(Outcome {
                    stored,
                    resource_id,
                    replayed: false,
                });
            }
        }
    }
    Err(StoreError::Conflict)
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
    key: Option<&RequestKey>,
) -> Result<StoredCase, StoreError> {
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
    let updated = cases::Entity::update_many()
        .set(cases::ActiveModel {
            stage: row.stage,
            status: row.status,
            owner_role: row.owner_role,
            version: row.version,
            respond_due_at: row.respond_due_at,
            acknowledged_at: row.acknowledged_at,
            closed_at: row.closed_at,
            snapshot: row.snapshot,
            updated_at: row.updated_at,
            ..Default::default()
        })
        .filter(cases::Column::Id.eq(case_id.as_uuid()))
        .filter(cases::Column::Version.eq(old_version))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    if erased && !current.erased {
        complainants::Entity::update(complainant_row(
            case_id.as_uuid(),
            &Complainant::anonymised(),
            Some(now),
        )?)
        .exec(&txn)
        .await?;
    }
    let prev_hash = case_events::Entity::find()
        .filter(case_events::Column::CaseId.eq(case_id.as_uuid()))
        .filter(case_events::Column::Sequence.eq(old_version))
        .one(&txn)
        .await?
        .map_or_else(|| GENESIS_HASH.to_owned(), |event| event.hash);
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
    Ok(stored)
}

/// A case by id.
pub async fn load(db: &impl ConnectionTrait, case_id: CaseId) -> Result<StoredCase, StoreError> {
    let row = cases::Entity::find_by_id(case_id.as_uuid())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("case {case_id}")))?;
    assemble(db, row).await
}

/// A case by register number.
pub async fn load_by_register_number(
    db: &impl ConnectionTrait,
    number: &RegisterNumber,
) -> Result<StoredCase, StoreError> {
    let row = cases::Entity::find()
        .filter(cases::Column::RegisterNumber.eq(number.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("case {number}")))?;
    assemble(db, row).await
}

/// A case's timeline, oldest first.
pub async fn timeline(
    db: &impl ConnectionTrait,
    case_id: CaseId,
) -> Result<Vec<case_events::Model>, StoreError> {
    let exists = cases::Entity::find_by_id(case_id.as_uuid()).one(db).await?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("case {case_id}")));
    }
    Ok(case_events::Entity::find()
        .filter(case_events::Column::CaseId.eq(case_id.as_uuid()))
        .order_by_asc(case_events::Column::Sequence)
        .all(db)
        .await?)
}

/// Filters for [`list`]; every one set must match.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub stage: Option<Stage>,
    pub status: Option<complaints_domain::case::CaseStatus>,
    pub channel: Option<complaints_domain::complainant::Channel>,
    /// Only open cases whose current stage's response is past due at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Local receipt dates, inclusive.
    pub received_from: Option<NaiveDate>,
    pub received_to: Option<NaiveDate>,
    pub register_number: Option<RegisterNumber>,
    /// Case-insensitive substring of the complainant's name.
    pub complainant_name: Option<String>,
}

/// Where the previous page ended: newest first by receipt, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    pub received_at: DateTime<Utc>,
    pub id: Uuid,
}

/// One page of cases, newest receipt first, and the cursor of the next page.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &CaseFilter,
    after: Option<PageCursor>,
    page_size: u64,
) -> Result<(Vec<StoredCase>, Option<PageCursor>), StoreError> {
    let mut query = cases::Entity::find().filter(conditions(filter));
    if let Some(cursor) = after {
        query = query.filter(
            Condition::any()
                .add(cases::Column::ReceivedAt.lt(cursor.received_at))
                .add(
                    Condition::all()
                        .add(cases::Column::ReceivedAt.eq(cursor.received_at))
                        .add(cases::Column::Id.lt(cursor.id)),
                ),
        );
    }
    let rows = query
        .order_by_desc(cases::Column::ReceivedAt)
        .order_by_desc(cases::Column::Id)
        .limit(page_size + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > page_size;
    let mut page = Vec::with_capacity(rows.len());
    for row in rows
        .into_iter()
        .take(usize::try_from(page_size).unwrap_or(usize::MAX))
    {
        page.push(assemble(db, row).await?);
    }
    let next = if more {
        page.last().map(|last| PageCursor {
            received_at: last.case.received_at,
            id: last.case.id.as_uuid(),
        })
    } else {
        None
    };
    Ok((page, next))
}

/// How many cases match `filter`.
pub async fn count(db: &impl ConnectionTrait, filter: &CaseFilter) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(cases::Entity::find()
        .filter(conditions(filter))
        .count(db)
        .await?)
}

/// Every case received in the local date range, for reporting.
pub async fn received_between(
    db: &impl ConnectionTrait,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<StoredCase>, StoreError> {
    let filter = CaseFilter {
        received_from: Some(from),
        received_to: Some(to),
        ..CaseFilter::default()
    };
    let rows = cases::Entity::find()
        .filter(conditions(&filter))
        .order_by_asc(cases::Column::ReceivedAt)
        .all(db)
        .await?;
    let mut all = Vec::with_capacity(rows.len());
    for row in rows {
        all.push(decode(&row)?);
    }
    Ok(all)
}

fn conditions(filter: &CaseFilter) -> Condition {
    let mut all = Condition::all();
    if let Some(stage) = filter.stage {
        all = all.add(cases::Column::Stage.eq(stage.as_str()));
    }
    if let Some(status) = filter.status {
        all = all.add(cases::Column::Status.eq(status.as_str()));
    }
    if let Some(channel) = filter.channel {
        all = all.add(cases::Column::Channel.eq(channel.as_str()));
    }
    if let Some(at) = filter.overdue_at {
        all = all
            .add(cases::Column::Status.eq(complaints_domain::case::CaseStatus::Open.as_str()))
            .add(cases::Column::RespondDueAt.lt(at));
    }
    if let Some(from) = filter.received_from {
        all = all.add(cases::Column::ReceivedOn.gte(from.to_string()));
    }
    if let Some(to) = filter.received_to {
        all = all.add(cases::Column::ReceivedOn.lte(to.to_string()));
    }
    if let Some(number) = &filter.register_number {
        all = all.add(cases::Column::RegisterNumber.eq(number.as_str()));
    }
    if let Some(name) = &filter.complainant_name {
        let pattern = format!("%{}%", escape_like(&name.to_lowercase()));
        all = all.add(
            cases::Column::Id.in_subquery(
                Query::select()
                    .column(complainants::Column::CaseId)
                    .from(complainants::Entity)
                    .and_where(
                        Expr::expr(Func::lower(Expr::col(complainants::Column::FullName)))
                            .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
                    )
                    .to_owned(),
            ),
        );
    }
    all
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

async fn replay(
    db: &DatabaseConnection,
    key: Option<&RequestKey>,
) -> Result<Option<Outcome>, StoreError> {
    let Some(key) = key else { return Ok(None) };
    let Some(earlier) = idempotency::lookup(db, key).await? else {
        return Ok(None);
    };
    // The record names the case; its response holds the id of what the
    // step made (the case itself, or a referral).
    let case_id = earlier
        .resource_id
        .parse::<CaseId>()
        .map_err(|_| StoreError::corrupt("idempotency record without a case id"))?;
    let resource_id = match String::from_utf8(earlier.response) {
        Ok(made) if !made.is_empty() => made,
        _ => earlier.resource_id,
    };
    Ok(Some(Outcome {
        stored: load(db, case_id).await?,
        resource_id,
        replayed: true,
    }))
}

async fn append_events(
    db: &impl ConnectionTrait,
    case_id: CaseId,
    after_sequence: i64,
    mut prev_hash: String,
    events: &[Event],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = chain::truncate_to_micros(now);
    let mut rows = Vec::with_capacity(events.len());
    for (sequence, event) in (after_sequence + 1..).zip(events) {
        let details = serde_json::to_value(event)
            .and_then(|value| serde_json::to_string(&value))
            .map_err(StoreError::corrupt)?;
        let mut row = case_events::Model {
            case_id: case_id.as_uuid(),
            sequence,
            kind: event.kind().to_owned(),
            actor_subject: actor.subject.clone(),
            actor_role: actor.role.as_str().to_owned(),
            at,
            details,
            prev_hash: prev_hash.clone(),
            hash: String::new(),
        };
        row.hash = chain::event_hash(&prev_hash, &row);
        prev_hash.clone_from(&row.hash);
        rows.push(case_events::ActiveModel {
            case_id: Set(row.case_id),
            sequence: Set(row.sequence),
            kind: Set(row.kind),
            actor_subject: Set(row.actor_subject),
            actor_role: Set(row.actor_role),
            at: Set(row.at),
            details: Set(row.details),
            prev_hash: Set(row.prev_hash),
            hash: Set(row.hash),
        });
    }
    if !rows.is_empty() {
        case_events::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

async fn enqueue(
    db: &impl ConnectionTrait,
    stored: &StoredCase,
    transition: &Transition,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let message = CaseChanged {
        case_id: stored.case.id.as_uuid(),
        register_number: stored.case.register_number.as_str().to_owned(),
        version: stored.case.version,
        stage: stored.case.stage,
        owner_role: stored.case.owner_role.as_str().to_owned(),
        policy_version: stored.case.policy_version.clone(),
        actor: actor.clone(),
        at: now,
        events: transition.events.clone(),
        deadlines: transition
            .deadlines
            .iter()
            .map(|spec| due_date(spec, now))
            .collect(),
        settle: transition.settle.clone(),
        notify: transition.notify.clone(),
        respond_due: DeadlineKind::respond(stored.case.stage).and_then(|kind| {
            stored
                .due_dates
                .iter()
                .rev()
                .find(|d| d.kind == kind && d.state == DueState::Pending)
                .cloned()
        }),
    };
    let message = OutboxMessage::json(CASE_EVENTS_TOPIC, stored.case.id.as_uuid(), &message)?;
    outbox::enqueue(db, &[message], now).await
}

fn due_date(spec: &DeadlineSpec, _now: DateTime<Utc>) -> DueDate {
    DueDate {
        kind: spec.kind,
        stage: spec.stage,
        working_days: spec.working_days,
        due_date: spec.due.date,
        due_at: spec.due.at,
        reason: spec.reason.clone(),
        state: DueState::Pending,
        settled_at: None,
        owner_role: Some(spec.owner_role),
        escalation_role: Some(spec.escalation_role),
    }
}

/// The case's due dates after `transition`: new ones added, settled ones
/// marked with when they were settled.
fn started(before: &[DueDate], transition: &Transition, now: DateTime<Utc>) -> Vec<DueDate> {
    let mut due_dates = before.to_vec();
    for (kind, outcome) in &transition.settle {
        for due in due_dates
            .iter_mut()
            .filter(|d| d.kind == *kind && d.state == DueState::Pending)
        {
            due.state = match outcome {
                DeadlineOutcome::Met => DueState::Met,
                DeadlineOutcome::Cancelled => DueState::Cancelled,
            };
            due.settled_at = Some(now);
        }
    }
    due_dates.extend(transition.deadlines.iter().map(|spec| due_date(spec, now)));
    due_dates
}

fn case_row(
    stored: &StoredCase,
    calendar: &Calendar,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<cases::ActiveModel, StoreError> {
    let case = &stored.case;
    let respond_due_at = DeadlineKind::respond(case.stage).and_then(|kind| {
        stored
            .due_dates
            .iter()
            .rev()
            .find(|d| d.kind == kind && d.state == DueState::Pending)
            .map(|d| d.due_at)
    });
    let mut snapshot_case = case.clone();
    // Personal data lives in `complainants` only, so erasure reaches it all.
    snapshot_case.complainant = Complainant::anonymised();
    let snapshot = serde_json::to_string(&Snapshot {
        case: snapshot_case,
        due_dates: stored.due_dates.clone(),
    })
    .map_err(StoreError::corrupt)?;
    Ok(cases::ActiveModel {
        id: Set(case.id.as_uuid()),
        register_number: Set(case.register_number.as_str().to_owned()),
        stage: Set(case.stage.as_str().to_owned()),
        status: Set(case.status.as_str().to_owned()),
        channel: Set(case.channel.as_str().to_owned()),
        owner_role: Set(case.owner_role.as_str().to_owned()),
        received_at: Set(case.received_at),
        received_on: Set(calendar.local_date(case.received_at).to_string()),
        summary: Set(case.summary.as_str().to_owned()),
        policy_version: Set(case.policy_version.clone()),
        version: Set(i64::try_from(case.version).map_err(StoreError::corrupt)?),
        respond_due_at: Set(respond_due_at),
        acknowledged_at: Set(case.acknowledged_at),
        closed_at: Set(case.closed_at),
        snapshot: Set(snapshot),
        created_at: Set(created_at),
        updated_at: Set(now),
    })
}

fn complainant_row(
    case_id: Uuid,
    complainant: &Complainant,
    erased_at: Option<DateTime<Utc>>,
) -> Result<complainants::ActiveModel, StoreError> {
    let address = complainant
        .postal_address()
        .map(|address| serde_json::to_string(&address.to_raw()))
        .transpose()
        .map_err(StoreError::corrupt)?;
    Ok(complainants::ActiveModel {
        case_id: Set(case_id),
        full_name: Set(complainant.full_name().as_str().to_owned()),
        email: Set(complainant.email().map(|e| e.as_str().to_owned())),
        phone: Set(complainant.phone().map(|p| p.e164().to_owned())),
        postal_address: Set(address),
        preferred_contact: Set(complainant.preferred_contact().as_str().to_owned()),
        customer_ref: Set(complainant.customer_ref().map(|r| r.as_str().to_owned())),
        erased_at: Set(erased_at),
    })
}

fn decode(row: &cases::Model) -> Result<StoredCase, StoreError> {
    let snapshot: Snapshot = serde_json::from_str(&row.snapshot).map_err(StoreError::corrupt)?;
    Ok(StoredCase {
        case: snapshot.case,
        due_dates: snapshot.due_dates,
        erased: false,
        updated_at: row.updated_at,
    })
}

async fn assemble(db: &impl ConnectionTrait, row: cases::Model) -> Result<StoredCase, StoreError> {
    let mut stored = decode(&row)?;
    let person = complainants::Entity::find_by_id(row.id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::corrupt(format!("case {} has no complainant row", row.id)))?;
    if person.erased_at.is_some() {
        stored.erased = true;
        stored.case.complainant = Complainant::anonymised();
        return Ok(stored);
    }
    let postal_address = person
        .postal_address
        .as_deref()
        .map(serde_json::from_str::<RawPostalAddress>)
        .transpose()
        .map_err(StoreError::corrupt)?;
    let preferred_contact = person
        .preferred_contact
        .parse::<ContactMethod>()
        .map_err(StoreError::corrupt)?;
    stored.case.complainant = Complainant::parse(RawComplainant {
        full_name: person.full_name,
        email: person.email.unwrap_or_default(),
        phone: person.phone.unwrap_or_default(),
        postal_address,
        preferred_contact: Some(preferred_contact),
        customer_ref: person.customer_ref.unwrap_or_default(),
    })
    .map_err(|violations| StoreError::corrupt(format!("stored complainant: {violations:?}")))?;
    Ok(stored)
}
