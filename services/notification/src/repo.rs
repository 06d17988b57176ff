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
    QueryOrder, QuerySelect,
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

/// Creates the notification unless one with the same dedupe key exists;
/// returns its id and whether this call created it.
pub async fn request(
    db: &impl ConnectionTrait,
    new: NewNotification,
    now: DateTime<Utc>,
) -> Result<(String, bool), sea_orm::DbErr> {
    let id = format!("ntf-{}", Uuid::now_v7().simple());
    let inserted = Entity::insert(entity::ActiveModel {
        notification_id: Set(id.clone()),
        dedupe_key: Set(new.dedupe_key.clone()),
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
        trace_context: Set(complaints_telemetry::current_trace_context()),
        erased_at: Set(None),
        queued_at: Set(Some(now)),
        failed_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(Column::DedupeKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let existing = Entity::find()
        .filter(Column::DedupeKey.eq(new.dedupe_key))
        .one(db)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("notification after insert".to_owned()))?;
    Ok((existing.notification_id, inserted == 1))
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
    let taken = db
        .query_all(&take)
        .await?
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<HashSet<String>, _>>()?;
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
async fn first_of_their_cases(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<entity::Model>, sea_orm::DbErr> {
    let page_size = Ord::max(limit, CLAIM_PAGE);
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
            .filter(Column::State.eq(DeliveryState::Queued.as_str()))
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
    }
    Ok(found)
}

/// How many due notifications a claim reads at a time (at least its limit).
const CLAIM_PAGE: u64 = 100;

/// The queued notifications of the same case as the row at hand, requested
/// before it and due at `now`: while there is one, the row waits.
fn earlier_of_its_case_due(now: DateTime<Utc>) -> SelectStatement {
    let earlier = Alias::new("earlier");
    Query::select()
        .expr(Expr::val(1))
        .from_as(Entity, earlier.clone())
        .and_where(Expr::col((earlier.clone(), Column::CaseId)).equals((Entity, Column::CaseId)))
        .and_where(Expr::col((earlier.clone(), Column::State)).eq(DeliveryState::Queued.as_str()))
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
