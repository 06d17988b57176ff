//! A case's correspondence: the messages received and sent for it, by
//! Message-ID, for threading replies onto their case.
//!
//! Rows are written in the transaction of the case change that caused them
//! ([`crate::cases::open_case_recording`], [`crate::cases::apply`]);
//! this module reads them and offers the insert those writers run.

use chrono::{DateTime, Utc};
use complaints_domain::case::CaseId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::StoreError;
use crate::entity::correspondence;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the complainant to the platform.
    Inbound,
    /// From the platform to the complainant.
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    fn parse(raw: &str) -> Result<Self, StoreError> {
        match raw {
            "inbound" => Ok(Direction::Inbound),
            "outbound" => Ok(Direction::Outbound),
            other => Err(StoreError::corrupt(format!(
                "correspondence direction {other:?}"
            ))),
        }
    }
}

/// One message of a case's correspondence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub case_id: CaseId,
    pub direction: Direction,
    /// The Message-ID without angle brackets.
    pub message_id: String,
    /// The Message-ID it answered, without angle brackets.
    pub in_reply_to: Option<String>,
    /// The sender (inbound) or recipient (outbound); `None` once erased.
    pub address: Option<String>,
    /// `None` once erased, or when there was none.
    pub subject: Option<String>,
    /// When it was received or sent.
    pub at: DateTime<Utc>,
}

/// Inserts `message` unless its case already has a message with its
/// Message-ID (`idx_correspondence_case_message` is unique: one statement,
/// and a concurrent insert of the same message waits for this one). Returns
/// whether it inserted. Run inside the case change's transaction.
pub(crate) async fn insert(
    txn: &impl ConnectionTrait,
    message: &Message,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = correspondence::Entity::insert(row(message, now))
        .on_conflict(once_per_message_id())
        .exec_without_returning(txn)
        .await?;
    Ok(inserted > 0)
}

/// [`insert`] of each of `messages`, in one statement.
pub(crate) async fn insert_all(
    txn: &impl ConnectionTrait,
    messages: &[&Message],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    correspondence::Entity::insert_many(messages.iter().map(|message| row(message, now)))
        .on_conflict(once_per_message_id())
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

fn row(message: &Message, now: DateTime<Utc>) -> correspondence::ActiveModel {
    correspondence::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(message.case_id.as_uuid()),
        direction: Set(message.direction.as_str().to_owned()),
        message_id: Set(message.message_id.clone()),
        in_reply_to: Set(message.in_reply_to.clone()),
        address: Set(message.address.clone()),
        subject: Set(message.subject.clone()),
        at: Set(message.at),
        recorded_at: Set(now),
    }
}

/// A message already on its case (`idx_correspondence_case_message` is
/// unique) is left as it is.
fn once_per_message_id() -> OnConflict {
    OnConflict::columns([
        correspondence::Column::CaseId,
        correspondence::Column::MessageId,
    ])
    .do_nothing()
    .to_owned()
}

/// Whether the case's correspondence holds `message_id` (without brackets).
pub async fn has_message(
    db: &impl ConnectionTrait,
    case_id: CaseId,
    message_id: &str,
) -> Result<bool, StoreError> {
    Ok(correspondence::Entity::find()
        .filter(correspondence::Column::CaseId.eq(case_id.as_uuid()))
        .filter(correspondence::Column::MessageId.eq(message_id))
        .one(db)
        .await?
        .is_some())
}

/// The case's messages, oldest first (in the order recorded when two share
/// an instant).
pub async fn list(db: &impl ConnectionTrait, case_id: CaseId) -> Result<Vec<Message>, StoreError> {
    correspondence::Entity::find()
        .filter(correspondence::Column::CaseId.eq(case_id.as_uuid()))
        .order_by_asc(correspondence::Column::At)
        .order_by_asc(correspondence::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            Ok(Message {
                case_id: CaseId(row.case_id),
                direction: Direction::parse(&row.direction)?,
                message_id: row.message_id,
                in_reply_to: row.in_reply_to,
                address: row.address,
                subject: row.subject,
                at: row.at,
            })
        })
        .collect()
}

/// The case whose correspondence holds one of `message_ids` (without
/// brackets), preferring the id that comes last (the nearest parent in a
/// References chain). `None` when no case knows any of them.
pub async fn case_of_messages(
    db: &impl ConnectionTrait,
    message_ids: &[String],
) -> Result<Option<CaseId>, StoreError> {
    if message_ids.is_empty() {
        return Ok(None);
    }
    let rows: Vec<(Uuid, String)> = correspondence::Entity::find()
        .select_only()
        .column(correspondence::Column::CaseId)
        .column(correspondence::Column::MessageId)
        .filter(correspondence::Column::MessageId.is_in(message_ids.iter().cloned()))
        .order_by_asc(correspondence::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(message_ids.iter().rev().find_map(|wanted| {
        rows.iter()
            .find(|(_, id)| id == wanted)
            .map(|(case_id, _)| CaseId(*case_id))
    }))
}

/// The original inbound Message-ID of the case (the email it was opened
/// from), if it came by email.
pub async fn thread_message_id(
    db: &impl ConnectionTrait,
    case_id: CaseId,
) -> Result<Option<String>, StoreError> {
    Ok(correspondence::Entity::find()
        .filter(correspondence::Column::CaseId.eq(case_id.as_uuid()))
        .filter(correspondence::Column::Direction.eq(Direction::Inbound.as_str()))
        .order_by_asc(correspondence::Column::At)
        .order_by_asc(correspondence::Column::Id)
        .one(db)
        .await?
        .map(|row| row.message_id))
}

/// Blanks the addresses and subjects of the case's correspondence (the
/// Message-IDs stay, for threading). Run in the erasing transaction.
pub(crate) async fn scrub(txn: &impl ConnectionTrait, case_id: Uuid) -> Result<(), StoreError> {
    correspondence::Entity::update_many()
        .col_expr(
            correspondence::Column::Address,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            correspondence::Column::Subject,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(correspondence::Column::CaseId.eq(case_id))
        .exec(txn)
        .await?;
    Ok(())
}
