//! Each extension of a deadline, once per request: the
//! `deadline_extensions` table (migration
//! `m20261204_000003_deadline_extensions`). Whether a deadline may be
//! extended, and by how much, is the escalation service's call with the
//! domain; this module only keeps the record that makes a repeat harmless.

use chrono::{DateTime, NaiveDate, Utc};
use complaints_domain::case::CaseId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::{DeadlineId, QueueError};

/// The `deadline_extensions` table: one row per `(case_id, request_id)`.
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deadline_extensions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: Uuid,
        /// The caller's id for the extension, unique per case.
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        pub deadline_id: Uuid,
        pub extra_working_days: i32,
        #[sea_orm(column_type = "Text")]
        pub reason: String,
        /// `YYYY-MM-DD`: the due date before, and after, the extension.
        pub previous_due_date: String,
        pub due_date: String,
        /// The token subject of who asked.
        #[sea_orm(column_type = "Text")]
        pub requested_by: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{Column, Entity};

/// One extension, as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub case_id: CaseId,
    pub request_id: String,
    pub deadline_id: DeadlineId,
    pub extra_working_days: u32,
    pub reason: String,
    pub previous_due_date: NaiveDate,
    pub due_date: NaiveDate,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
}

/// Records an extension unless its `(case_id, request_id)` is recorded
/// already: true if this call recorded it, false for a repeat (then nothing
/// was written, and the caller must not move the deadline again). One
/// statement, so concurrent repeats cannot both be first.
pub async fn record(db: &impl ConnectionTrait, extension: &Extension) -> Result<bool, QueueError> {
    let row = entity::ActiveModel {
        case_id: Set(extension.case_id.as_uuid()),
        request_id: Set(extension.request_id.clone()),
        deadline_id: Set(extension.deadline_id.as_uuid()),
        extra_working_days: Set(i32::try_from(extension.extra_working_days).unwrap_or(i32::MAX)),
        reason: Set(extension.reason.clone()),
        previous_due_date: Set(extension.previous_due_date.format("%Y-%m-%d").to_string()),
        due_date: Set(extension.due_date.format("%Y-%m-%d").to_string()),
        requested_by: Set(extension.requested_by.clone()),
        created_at: Set(extension.created_at),
    };
    let inserted = Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::CaseId, Column::RequestId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// The deadline an earlier request extended, if `request_id` was seen for
/// the case.
pub async fn extended_by(
    db: &impl ConnectionTrait,
    case_id: CaseId,
    request_id: &str,
) -> Result<Option<DeadlineId>, QueueError> {
    Ok(
        Entity::find_by_id((case_id.as_uuid(), request_id.to_owned()))
            .one(db)
            .await?
            .map(|row| DeadlineId(row.deadline_id)),
    )
}
