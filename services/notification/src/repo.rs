//! The delivery log: notifications as rows, claimed for delivery under a
//! lease so two replicas never send the same one at once.
//!
//! The lease is a fence: a worker claims a few notifications
//! ([`claim_due`]), and right before sending one it renews that one's lease
//! ([`renew_lease`]), which succeeds only while the lease is still its own
//! and unexpired. A worker that lost the lease does not send. The lease is
//! longer than the send timeout, so a send that started under a renewed
//! lease ends before another worker can claim the notification.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use complaints_domain::case::NotifyKind;
use complaints_domain::policy::Stage;
use complaints_domain::role::Role;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SelectStatement};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, StatementBuilder,
};
use uuid::Uuid;

use crate::entity::{self, Column, DeliveryChannel, DeliveryState, Entity, RequestDetails};

/// A notification to create.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub dedupe_key: String,
    pub case_id: Uuid,
    pub kind: NotifyKind,
    pub stage: Stage,
    pub to_role: Option<Role>,
    pub reason: String,
    /// Request details the delivery needs later (alert level, deadline).
    pub details: RequestDetails,
}

/// A notification as a request asks for it: when, and in whose trace.
#[derive(Debug, Clone)]
pub struct Requested {
    pub notification: NewNotification,
    pub at: DateTime<Utc>,
    /// The requester's trace, which the delivery continues.
    pub trace_context: Option<String>,
}

impl Requested {
    /// A request made now, in the current trace.
    pub fn now(notification: NewNotification, at: DateTime<Utc>) -> Self {
        Self {
            notification,
            at,
            trace_context: complaints_telemetry::current_trace_context(),
        }
    }
}

/// What a request found: the notification's id, and whether this request
/// created it (false when one with its dedupe key existed).
pub type RequestAnswer = Result<(String, bool), sea_orm::DbErr>;

/// Creates the notification unless one with the same dedupe key exists;
/// returns its id and whether this call created it.
pub async fn request(
    db: &impl ConnectionTrait,
    new: NewNotification,
    now: DateTime<Utc>,
) -> RequestAnswer {
    request_one(db, Requested::now(new, now)).await
}

/// [`request`] for requests that arrived together: one statement and one
/// commit for all of them, and a look-up only for the dedupe keys that
/// were taken already. When the batch fails, each request is tried on its
/// own, so one that cannot be written does not fail the others. Answers
/// come in the requests' order.
pub async fn request_all(
    db: &impl ConnectionTrait,
    requests: Vec<Requested>,
) -> Vec<RequestAnswer> {
    if requests.len() > 1 {
        match request_together(db, requests.clone()).await {
            Ok(answers) => return answers.into_iter().map(Ok).collect(),
            Err(error) => tracing::warn!(
                %error,
                requests = requests.len(),
                "notification requests written together failed; writing each alone"
            ),
        }
    }
    let mut answers = Vec::with_capacity(requests.len());
    for requested in requests {
        answers.push(request_one(db, requested).await);
    }
    answers
}

async fn request_one(db: &impl ConnectionTrait, requested: Requested) -> RequestAnswer {
    request_together(db, vec![requested])
        .await?
        .pop()
        .ok_or_else(missing_answer)
}

/// Runs `statement`, whose `RETURNING` is one notification id per row.
async fn returned_ids(
    db: &impl ConnectionTrait,
    statement: &impl StatementBuilder,
) -> Result<HashSet<String>, sea_orm::DbErr> {
    db.query_all(statement)
        .await?
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect()
}

fn missing_answer() -> sea_orm::DbErr {
    sea_orm::DbErr::RecordNotFound("notification after insert".to_owned())
}

/// One `INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING` for every
/// request, then the ids of those whose key was taken. Two requests with
/// one dedupe key get the same notification; the first creates it.
async fn request_together(
    db: &impl ConnectionTrait,
    requests: Vec<Requested>,
) -> Result<Vec<(String, bool)>, sea_orm::DbErr> {
    let ids: Vec<String> = requests
        .iter()
        .map(|_| format!("ntf-{}", Uuid::now_v7().simple()))
        .collect();
    let keys: Vec<String> = requests
        .iter()
        .map(|r| r.notification.dedupe_key.clone())
        .collect();
    // In key order: two batches that share keys (a request repeated while
    // its first delivery is still being written) wait for each other's
    // rows in one order, never crosswise.
    let mut rows: Vec<(String, Requested)> = ids.iter().cloned().zip(requests).collect();
    rows.sort_by(|(_, a), (_, b)| a.notification.dedupe_key.cmp(&b.notification.dedupe_key));
    let rows = rows
        .into_iter()
        .map(|(id, requested)| new_row(id, requested));
    let mut insert = Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .into_query();
    insert.returning_col(Column::NotificationId);
    let created = returned_ids(db, &insert).await?;
    // Each key's notification: the one a request here created, else the
    // one that was there before.
    let mut by_key: HashMap<String, String> = ids
        .iter()
        .zip(&keys)
        .filter(|(id, _)| created.contains(*id))
        .map(|(id, key)| (key.clone(), id.clone()))
        .collect();
    let taken: Vec<String> = keys
        .iter()
        .filter(|key| !by_key.contains_key(*key))
        .cloned()
        .collect();
    if !taken.is_empty() {
        let existing = Entity::find()
            .select_only()
            .column(Column::DedupeKey)
            .column(Column::NotificationId)
            .filter(Column::DedupeKey.is_in(taken))
            .into_tuple::<(String, String)>()
            .all(db)
            .await?;
        by_key.extend(existing);
    }
    ids.into_iter()
        .zip(keys)
        .map(|(id, key)| {
            let found = by_key.get(&key).ok_or_else(missing_answer)?;
            Ok((found.clone(), *found == id))
        })
        .collect()
}

/// A new notification's row: queued, due at once.
fn new_row(id: String, requested: Requested) -> entity::ActiveModel {
    let Requested {
        notification: new,
        at: now,
        trace_context,
    } = requested;
    entity::ActiveModel {
        notification_id: Set(id),
        dedupe_key: Set(new.dedupe_key),
        case_id: Set(new.case_id),
        kind: Set(new.kind.as_str().to_owned()),
        stage: Set(new.stage.as_str().to_owned()),
        to_role: Set(new.to_role.map(|role| role.as_str().to_owned())),
        reason: Set(new.reason),
        request: Set(serde_json::to_value(new.details)
            .unwrap_or_default()
            .to_string()),
        channel: Set(None),
        recipient: Set(None),
        route_note: Set(None),
        state: Set(DeliveryState::Queued.as_str().to_owned()),
        attempts: Set(0),
        last_error: Set(None),
        next_attempt_at: Set(now),
        created_at: Set(now),
        sent_at: Set(None),
        subject: Set(None),
        content_type: Set(None),
        body: Set(None),
        lease_owner: Set(None),
        lease_until: Set(None),
        trace_context: Set(trace_context),
        erased_at: Set(None),
        queued_at: Set(Some(now)),
        failed_at: Set(None),
    }
}

pub async fn get(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<entity::Model>, sea_orm::DbErr> {
    Entity::find_by_id(id.to_owned()).one(db).await
}

/// A case's notifications, oldest first, after the given id.
pub async fn of_case(
    db: &impl ConnectionTrait,
    case_id: Uuid,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<entity::Model>, sea_orm::DbErr> {
    let mut query = Entity::find().filter(Column::CaseId.eq(case_id));
    if let Some(after) = after {
        query = query.filter(Column::NotificationId.gt(after));
    }
    query
        .order_by_asc(Column::NotificationId)
        .limit(limit)
        .all(db)
        .await
}

/// Claims up to `limit` queued notifications that are due, under a lease
/// held by `worker` until `now + lease`. Keep `limit` small: the ones
/// waiting behind the first are leased but not yet sent.
///
/// A case's notifications go one at a time, in the order they were
/// requested: one is claimed only when no earlier notification of its case
/// is queued and due (waiting to be claimed, or claimed and being sent by
/// this or another worker). That holds across replicas, since it turns on
/// the earlier one's state, which changes only when it is recorded. An
/// earlier one waiting to be retried does not hold the later ones back.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    worker: &str,
    lease: Duration,
    limit: u64,
) -> Result<Vec<entity::Model>, sea_orm::DbErr> {
    let candidates = first_of_their_cases(db, now, limit).await?;
    if candidates.is_empty() {
        return Ok(candidates);
    }
    // One statement for the whole page: each row is taken only if it is
    // still queued, unleased and the first due of its case.
    let mut take = Query::update();
    take.table(Entity)
        .value(Column::LeaseOwner, worker.to_owned())
        .value(Column::LeaseUntil, now + lease)
        .and_where(
            Column::NotificationId.is_in(candidates.iter().map(|c| c.notification_id.clone())),
        )
        .and_where(Column::State.eq(DeliveryState::Queued.as_str()))
        .cond_where(
            Condition::any()
                .add(Column::LeaseUntil.is_null())
                .add(Column::LeaseUntil.lt(now)),
        )
        .and_where(Expr::exists(earlier_of_its_case_due(now)).not())
        .returning_col(Column::NotificationId);
    let taken = returned_ids(db, &take).await?;
    Ok(candidates
        .into_iter()
        .filter(|candidate| taken.contains(&candidate.notification_id))
        .collect())
}

/// Up to `limit` queued, due and unleased notifications, each the earliest
/// queued and due one of its case, soonest due first.
///
/// Two plain statements a page at a time rather than one correlated
/// `NOT EXISTS` over the table: the due ones, then, for the page's cases
/// only, the earliest due one of each. However the planner judges the
/// table (a cached plan made while it was small, statistics behind a
/// burst), neither can cost more than one pass over the backlog, where the
/// correlated form could cost the backlog squared on every claim.
///
/// The first page is a few times `limit` (a case rarely has two
/// notifications queued, so it usually holds enough), and each page after
/// it twice the one before, up to [`LARGEST_PAGE`]: a claim of three from
/// a long queue looks up a dozen cases, not a hundred.
async fn first_of_their_cases(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<entity::Model>, sea_orm::DbErr> {
    let largest = Ord::max(limit, LARGEST_PAGE);
    let mut page_size = Ord::min(limit.saturating_mul(FIRST_PAGE_PER_CLAIMED), largest);
    let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut found = Vec::new();
    let mut offset = 0;
    while found.len() < wanted {
        let page = Entity::find()
            .filter(Column::State.eq(DeliveryState::Queued.as_str()))
            .filter(Column::NextAttemptAt.lte(now))
            .filter(
                Condition::any()
                    .add(Column::LeaseUntil.is_null())
                    .add(Column::LeaseUntil.lt(now)),
            )
            .order_by_asc(Column::NextAttemptAt)
            .order_by_asc(Column::NotificationId)
            .offset(offset)
            .limit(page_size)
            .all(db)
            .await?;
        if page.is_empty() {
            break;
        }
        offset += page.len() as u64;
        let full = page.len() as u64 == page_size;
        let mut cases: Vec<Uuid> = page.iter().map(|n| n.case_id).collect();
        cases.sort_unstable();
        cases.dedup();
        let earliest: HashMap<Uuid, String> = Entity::find()
            .select_only()
            .column(Column::CaseId)
            .column_as(Column::NotificationId.min(), "earliest")
            .filter(Column::CaseId.is_in(cases))
            .filter(is_queued(Expr::col(Column::State)))
            .filter(Column::NextAttemptAt.lte(now))
            .group_by(Column::CaseId)
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        found.extend(
            page.into_iter()
                .filter(|n| {
                    earliest
                        .get(&n.case_id)
                        .is_none_or(|first| *first == n.notification_id)
                })
                .take(wanted - found.len()),
        );
        if !full {
            break;
        }
        page_size = Ord::min(page_size.saturating_mul(2), largest);
    }
    Ok(found)
}

/// A claim's first page, per notification it may claim.
const FIRST_PAGE_PER_CLAIMED: u64 = 4;

/// The most due notifications a claim reads at a time (at least its limit).
const LARGEST_PAGE: u64 = 100;

/// `state = 'queued'`, the state spelled as a literal: the partial index of
/// each case's queued notifications (`idx_notifications_queued_case`)
/// serves only statements whose condition the planner can see implies its
/// own, and a bound parameter hides the value from a cached plan.
fn is_queued(state: Expr) -> Expr {
    debug_assert_eq!(DeliveryState::Queued.as_str(), "queued");
    state.eq(Expr::cust("'queued'"))
}

/// The queued notifications of the same case as the row at hand, requested
/// before it and due at `now`: while there is one, the row waits.
fn earlier_of_its_case_due(now: DateTime<Utc>) -> SelectStatement {
    let earlier = Alias::new("earlier");
    Query::select()
        .expr(Expr::val(1))
        .from_as(Entity, earlier.clone())
        .and_where(Expr::col((earlier.clone(), Column::CaseId)).equals((Entity, Column::CaseId)))
        .and_where(is_queued(Expr::col((earlier.clone(), Column::State))))
        .and_where(Expr::col((earlier.clone(), Column::NextAttemptAt)).lte(now))
        .and_where(
            Expr::col((earlier, Column::NotificationId))
                .lt(Expr::col((Entity, Column::NotificationId))),
        )
        .to_owned()
}

/// Renews `worker`'s lease on the notification just before it is sent: to
/// `now + lease`, only if it is still queued, still leased to `worker` and
/// the lease has not run out. False means the lease was lost (another
/// worker may hold it now) and the notification must not be sent.
pub async fn renew_lease(
    db: &impl ConnectionTrait,
    id: &str,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<bool, sea_orm::DbErr> {
    let renewed = Entity::update_many()
        .col_expr(Column::LeaseUntil, Expr::value(now + lease))
        .filter(Column::NotificationId.eq(id))
        .filter(Column::State.eq(DeliveryState::Queued.as_str()))
        .filter(Column::LeaseOwner.eq(worker))
        .filter(Column::LeaseUntil.gt(now))
        .exec(db)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// [`renew_lease`] of several of `worker`'s notifications in one
/// statement: the ids whose lease was renewed (each still queued, still
/// leased to `worker`, and its lease not run out at `now`).
pub async fn renew_leases(
    db: &impl ConnectionTrait,
    ids: &[String],
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<HashSet<String>, sea_orm::DbErr> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut renew = Query::update();
    renew
        .table(Entity)
        .value(Column::LeaseUntil, now + lease)
        .and_where(Column::NotificationId.is_in(ids.iter().cloned()))
        .and_where(Column::State.eq(DeliveryState::Queued.as_str()))
        .and_where(Column::LeaseOwner.eq(worker))
        .and_where(Column::LeaseUntil.gt(now))
        .returning_col(Column::NotificationId);
    returned_ids(db, &renew).await
}

/// Gives back `worker`'s leases on the notifications it claimed but will
/// not attempt (it is stopping), so that another worker takes them at once.
/// Returns how many were released.
pub async fn release(
    db: &impl ConnectionTrait,
    ids: &[String],
    worker: &str,
) -> Result<u64, sea_orm::DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let released = Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::NotificationId.is_in(ids.iter().cloned()))
        .filter(Column::State.eq(DeliveryState::Queued.as_str()))
        .filter(Column::LeaseOwner.eq(worker))
        .exec(db)
        .await?;
    Ok(released.rows_affected)
}

/// What was sent, and how.
#[derive(Debug, Clone)]
pub struct Sent {
    pub channel: DeliveryChannel,
    pub recipient: String,
    pub route_note: Option<String>,
    pub subject: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub at: DateTime<Utc>,
}

pub async fn mark_sent(
    db: &impl ConnectionTrait,
    id: &str,
    worker: &str,
    sent: Sent,
) -> Result<bool, sea_orm::DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::State, Expr::value(DeliveryState::Sent.as_str()))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::Channel, Expr::value(sent.channel.as_str()))
        .col_expr(Column::Recipient, Expr::value(sent.recipient))
        .col_expr(Column::RouteNote, Expr::value(sent.route_note))
        .col_expr(Column::Subject, Expr::value(sent.subject))
        .col_expr(Column::ContentType, Expr::value(sent.content_type))
        .col_expr(Column::Body, Expr::value(sent.body))
        .col_expr(Column::SentAt, Expr::value(sent.at))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::NotificationId.eq(id))
        .filter(Column::State.eq(DeliveryState::Queued.as_str()))
        .filter(Column::LeaseOwner.eq(worker))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A failed attempt at `now`: back to the queue at `retry_at`, or FAILED
/// for good when `retry_at` is `None`. Only by the lease's holder.
pub async fn mark_attempt_failed(
    db: &impl ConnectionTrait,
    id: &str,
    worker: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let mut update = Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LastError, Expr::value(error.to_owned()))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    update = match retry_at {
        Some(at) => update.col_expr(Column::NextAttemptAt, Expr::value(at)),
        None => update
            .col_expr(Column::State, Expr::value(DeliveryState::Failed.as_str()))
            .col_expr(Column::FailedAt, Expr::value(now)),
    };
    let result = update
        .filter(Column::NotificationId.eq(id))
        .filter(Column::State.eq(DeliveryState::Queued.as_str()))
        .filter(Column::LeaseOwner.eq(worker))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Which FAILED notifications to requeue: every given selector must hold.
#[derive(Debug, Clone, Default)]
pub struct Requeue {
    pub ids: Vec<String>,
    pub case_id: Option<Uuid>,
    pub failed_since: Option<DateTime<Utc>>,
}

/// Puts the selected FAILED notifications back in the queue, due at `now`
/// with a fresh retry window from `now`. Erased ones stay FAILED: there is
/// nobody left to address them to. Returns how many it requeued; a repeat
/// finds none FAILED and requeues none.
pub async fn requeue(
    db: &impl ConnectionTrait,
    which: &Requeue,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    let mut update = Entity::update_many()
        .col_expr(Column::State, Expr::value(DeliveryState::Queued.as_str()))
        .col_expr(Column::NextAttemptAt, Expr::value(now))
        .col_expr(Column::QueuedAt, Expr::value(now))
        .col_expr(Column::FailedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::State.eq(DeliveryState::Failed.as_str()))
        .filter(Column::ErasedAt.is_null());
    if !which.ids.is_empty() {
        update = update.filter(Column::NotificationId.is_in(which.ids.iter().cloned()));
    }
    if let Some(case_id) = which.case_id {
        update = update.filter(Column::CaseId.eq(case_id));
    }
    if let Some(since) = which.failed_since {
        // Rows failed before `failed_at` was kept have none: a time-only
        // requeue reaches them by id or case.
        update = update.filter(Column::FailedAt.gte(since));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// How many notifications are queued (due or waiting to retry).
pub async fn queued_count(db: &impl ConnectionTrait) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::PaginatorTrait;
    Entity::find()
        .filter(Column::State.eq(DeliveryState::Queued.as_str()))
        .count(db)
        .await
}

/// When a queued notification can next be claimed (it may be past), if
/// any: when it falls due, or, for one leased at `now`, when its lease
/// runs out. The delivery loop sleeps until then. One statement while the
/// earliest due is free to claim; a second when another worker holds it.
pub async fn next_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sea_orm::DbErr> {
    let earliest = |free_only: bool| {
        let mut query = Entity::find().filter(Column::State.eq(DeliveryState::Queued.as_str()));
        if free_only {
            query = query.filter(
                Condition::any()
                    .add(Column::LeaseUntil.is_null())
                    .add(Column::LeaseUntil.lt(now)),
            );
        }
        query.order_by_asc(Column::NextAttemptAt).one(db)
    };
    let Some(first) = earliest(false).await? else {
        return Ok(None);
    };
    match first.lease_until.filter(|until| *until >= now) {
        None => Ok(Some(first.next_attempt_at)),
        Some(until) => {
            let held = Ord::max(first.next_attempt_at, until);
            let free = earliest(true).await?.map(|n| n.next_attempt_at);
            Ok(Some(free.map_or(held, |free| Ord::min(free, held))))
        }
    }
}

/// Blanks what the case's notifications say about the complainant
/// (recipient, subject, content) and marks them erased; a message to the
/// complainant still queued is failed, as there is nobody left to address
/// it to (internal alerts, which never name the complainant, go on).
/// Returns how many rows this call blanked: 0 when they already were.
pub async fn erase_case(
    db: &impl ConnectionTrait,
    case_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, sea_orm::DbErr> {
    Entity::update_many()
        .col_expr(Column::State, Expr::value(DeliveryState::Failed.as_str()))
        .col_expr(
            Column::LastError,
            Expr::value("not sent: the complainant's personal data was erased"),
        )
        .col_expr(Column::FailedAt, Expr::value(now))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::CaseId.eq(case_id))
        .filter(Column::State.eq(DeliveryState::Queued.as_str()))
        .filter(Column::Kind.ne(NotifyKind::InternalAlert.as_str()))
        .exec(db)
        .await?;
    let blanked = Entity::update_many()
        .col_expr(Column::Recipient, Expr::value(Option::<String>::None))
        .col_expr(Column::Subject, Expr::value(Option::<String>::None))
        .col_expr(Column::ContentType, Expr::value(Option::<String>::None))
        .col_expr(Column::Body, Expr::value(Option::<Vec<u8>>::None))
        .col_expr(Column::ErasedAt, Expr::value(now))
        .filter(Column::CaseId.eq(case_id))
        .filter(Column::ErasedAt.is_null())
        .exec(db)
        .await?;
    Ok(blanked.rows_affected)
}

/// The ids of every notification of the case.
pub async fn ids_of_case(
    db: &impl ConnectionTrait,
    case_id: Uuid,
) -> Result<Vec<String>, sea_orm::DbErr> {
    Entity::find()
        .select_only()
        .column(Column::NotificationId)
        .filter(Column::CaseId.eq(case_id))
        .into_tuple()
        .all(db)
        .await
}

/// What the delivery modules' tests start from.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// `count` acknowledgements requested at `at`, each of a case of its
    /// own, then claimed by `worker` at `at` for `lease`: their ids.
    pub(crate) async fn claimed(
        db: &impl ConnectionTrait,
        count: usize,
        worker: &str,
        at: DateTime<Utc>,
        lease: Duration,
    ) -> Vec<String> {
        let requests = (0..count)
            .map(|_| Requested {
                notification: NewNotification {
                    dedupe_key: Uuid::now_v7().to_string(),
                    case_id: Uuid::now_v7(),
                    kind: NotifyKind::Acknowledgement,
                    stage: Stage::Stage1,
                    to_role: None,
                    reason: "acknowledge".to_owned(),
                    details: RequestDetails::new(None, None, None),
                },
                at,
                trace_context: None,
            })
            .collect();
        for answer in request_all(db, requests).await {
            answer.unwrap();
        }
        let limit = u64::try_from(count).unwrap();
        let claimed = claim_due(db, at, worker, lease, limit).await.unwrap();
        assert_eq!(claimed.len(), count);
        claimed.into_iter().map(|n| n.notification_id).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use complaints_test_support::TestDb;
    use sea_orm::sea_query::{PostgresQueryBuilder, QueryBuilder};
    use sea_orm::{DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};

    use super::*;

    complaints_test_support::on_every_backend!(
        requests_written_together_cost_one_statement_and_each_gets_its_answer,
        a_claim_from_a_long_queue_looks_up_a_few_cases,
        a_claim_reads_past_a_case_with_many_queued_to_the_firsts_of_others,
    );

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn alert(case_id: Uuid, key: &str) -> Requested {
        Requested {
            notification: NewNotification {
                dedupe_key: key.to_owned(),
                case_id,
                kind: NotifyKind::InternalAlert,
                stage: Stage::Stage1,
                to_role: Some(Role::ComplaintsHandler),
                reason: format!("alert {key}"),
                details: RequestDetails::new(None, None, None),
            },
            at: t0(),
            trace_context: Some(format!("trace of {key}")),
        }
    }

    /// `db`, and every statement run through it from now on.
    fn recording(db: &DatabaseConnection) -> (DatabaseConnection, Arc<Mutex<Vec<Statement>>>) {
        let statements = Arc::new(Mutex::new(Vec::new()));
        let mut counted = db.clone();
        let seen = statements.clone();
        counted.set_metric_callback(move |info| {
            seen.lock().unwrap().push(info.statement.clone());
        });
        (counted, statements)
    }

    fn taken(statements: &Mutex<Vec<Statement>>) -> Vec<Statement> {
        std::mem::take(&mut *statements.lock().unwrap())
    }

    async fn requests_written_together_cost_one_statement_and_each_gets_its_answer(test: TestDb) {
        let (db, statements) = recording(&test.db);
        let case = Uuid::now_v7();
        let first = request_all(&db, vec![alert(case, "taken")]).await;
        let (first, created) = first[0].as_ref().unwrap().clone();
        assert!(created);
        taken(&statements);

        let keys: Vec<String> = (0..8).map(|n| format!("new-{n}")).collect();
        let answers = request_all(&db, keys.iter().map(|key| alert(case, key)).collect()).await;
        assert_eq!(
            taken(&statements).len(),
            1,
            "eight new requests, one statement"
        );
        for (key, answer) in keys.iter().zip(&answers) {
            let (id, created) = answer.as_ref().unwrap();
            assert!(created, "{key}");
            let row = get(&test.db, id).await.unwrap().unwrap();
            assert_eq!(&row.dedupe_key, key);
            assert_eq!(
                row.trace_context.as_deref(),
                Some(&*format!("trace of {key}"))
            );
        }

        // A key taken before, and one key twice in one batch.
        let answers = request_all(
            &db,
            ["taken", "twice", "twice", "once"]
                .into_iter()
                .map(|key| alert(case, key))
                .collect(),
        )
        .await;
        assert_eq!(
            taken(&statements).len(),
            2,
            "the insert, and one look-up of the keys already taken"
        );
        let answers: Vec<(String, bool)> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers[0], (first, false));
        assert!(answers[1].1, "the first request for a key creates it");
        assert_eq!(answers[2], (answers[1].0.clone(), false));
        assert!(answers[3].1);
        assert_eq!(of_case(&test.db, case, None, 100).await.unwrap().len(), 11);
    }

    /// A request that cannot be written (a key wider than its column, which
    /// only Postgres enforces) fails alone; the others in its batch are
    /// written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_cannot_be_written_does_not_fail_the_others_in_its_batch() {
        let Some(test) = TestDb::postgres().await else {
            return;
        };
        let case = Uuid::now_v7();
        let answers = request_all(
            &test.db,
            vec![
                alert(case, "before"),
                alert(case, &"k".repeat(256)),
                alert(case, "after"),
            ],
        )
        .await;
        assert!(answers[0].as_ref().unwrap().1);
        assert!(answers[1].is_err());
        assert!(answers[2].as_ref().unwrap().1);
        assert_eq!(of_case(&test.db, case, None, 100).await.unwrap().len(), 2);
    }

    /// The case ids a claim's look-up of earliest notifications named.
    fn cases_looked_up(statements: &[Statement]) -> Vec<usize> {
        statements
            .iter()
            .filter(|statement| statement.sql.contains("GROUP BY"))
            .map(|statement| {
                statement.values.as_ref().map_or(0, |values| {
                    values
                        .0
                        .iter()
                        .filter(|value| matches!(value, Value::Uuid(_)))
                        .count()
                })
            })
            .collect()
    }

    /// The ids of the notifications `requests` queued.
    async fn queued(db: &DatabaseConnection, requests: Vec<Requested>) -> Vec<String> {
        request_all(db, requests)
            .await
            .into_iter()
            .map(|answer| answer.unwrap().0)
            .collect()
    }

    /// A worker's claim of three a second after the requests: the ids it
    /// took, and the statements it ran.
    async fn claim_three(db: &DatabaseConnection) -> (Vec<String>, Vec<Statement>) {
        let (db, statements) = recording(db);
        let now = t0() + Duration::seconds(1);
        let claimed = claim_due(&db, now, "worker", Duration::minutes(1), 3)
            .await
            .unwrap();
        let claimed = claimed.into_iter().map(|n| n.notification_id).collect();
        (claimed, taken(&statements))
    }

    /// Sixty notifications queued, each of its own case: a claim of three
    /// takes the three requested first, and asks about a dozen cases, not
    /// every case on the queue.
    async fn a_claim_from_a_long_queue_looks_up_a_few_cases(test: TestDb) {
        let requests: Vec<Requested> = (0..60)
            .map(|n| alert(Uuid::now_v7(), &format!("n-{n}")))
            .collect();
        let ids = queued(&test.db, requests).await;
        let (claimed, statements) = claim_three(&test.db).await;
        assert_eq!(claimed, ids[..3]);
        assert_eq!(cases_looked_up(&statements), [12]);
    }

    /// A case with twenty notifications queued ahead of everyone else's:
    /// a claim pages on (each page twice the last) past its later ones to
    /// the first of the next cases.
    async fn a_claim_reads_past_a_case_with_many_queued_to_the_firsts_of_others(test: TestDb) {
        let busy = Uuid::now_v7();
        let mut requests: Vec<Requested> =
            (0..20).map(|n| alert(busy, &format!("busy-{n}"))).collect();
        requests.extend((0..5).map(|n| alert(Uuid::now_v7(), &format!("other-{n}"))));
        let ids = queued(&test.db, requests).await;
        let (claimed, statements) = claim_three(&test.db).await;
        assert_eq!(claimed, [ids[0].clone(), ids[20].clone(), ids[21].clone()]);
        // Pages of 12 (the busy case alone) and 24 (it and five others).
        assert_eq!(cases_looked_up(&statements), [1, 6]);
    }

    /// The claim's look-up and its lease reach each case's queued
    /// notifications through their partial index, even in a plan made for
    /// any parameters (as a cached statement's plan is): its condition on
    /// the state is a literal the planner can match.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_claim_reads_each_cases_queued_notifications_through_their_index() {
        let Some(test) = TestDb::postgres().await else {
            return;
        };
        let requests: Vec<Requested> = (0..2_000)
            .map(|n| alert(Uuid::now_v7(), &format!("n-{n}")))
            .collect();
        for chunk in requests.chunks(200) {
            for answer in request_all(&test.db, chunk.to_vec()).await {
                answer.unwrap();
            }
        }
        // Most of a real table has been sent.
        test.db
            .execute_unprepared(
                "UPDATE notifications SET state = 'sent' \
                 WHERE notification_id IN \
                 (SELECT notification_id FROM notifications ORDER BY notification_id LIMIT 1900)",
            )
            .await
            .unwrap();
        test.db
            .execute_unprepared("ANALYZE notifications")
            .await
            .unwrap();
        let (db, statements) = recording(&test.db);
        let now = t0() + Duration::seconds(1);
        let claimed = claim_due(&db, now, "worker", Duration::minutes(1), 3)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 3);
        let statements = taken(&statements);
        let by_case: Vec<&Statement> = statements
            .iter()
            .filter(|s| s.sql.contains("GROUP BY") || s.sql.starts_with("UPDATE"))
            .collect();
        assert_eq!(by_case.len(), 2, "{statements:?}");
        for statement in by_case {
            let plan = generic_plan(&test.db, statement).await;
            assert!(
                plan.contains("idx_notifications_queued_case"),
                "{}\n{plan}",
                statement.sql
            );
        }
    }

    /// Postgres's generic plan for `statement` (the plan a cached statement
    /// settles on, made for any parameters), as text.
    async fn generic_plan(db: &DatabaseConnection, statement: &Statement) -> String {
        let values = statement
            .values
            .clone()
            .map(|values| values.0)
            .unwrap_or_default();
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
            .await
            .unwrap();
        txn.execute_unprepared(&format!("PREPARE claim_step AS {}", statement.sql))
            .await
            .unwrap();
        // The values as literals: `EXECUTE` takes no bound parameters.
        let arguments: Vec<String> = values
            .iter()
            .map(|value| PostgresQueryBuilder.value_to_string(value))
            .collect();
        let explain = Statement::from_string(
            DbBackend::Postgres,
            format!("EXPLAIN EXECUTE claim_step({})", arguments.join(", ")),
        );
        let plan = txn.query_all_raw(explain).await.unwrap();
        txn.rollback().await.unwrap();
        plan.iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
