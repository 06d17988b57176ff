//! Who each case is assigned to, as the latest case change the escalation
//! service took said: the `case_assignees` table (migration
//! `m20261204_000001_assignee`). Whether an alert names that person is the
//! escalation service's call; this module only keeps the record.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use complaints_domain::case::CaseId;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryTrait,
};

use crate::QueueError;

/// The `case_assignees` table: one row per case whose change was taken.
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_assignees")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: Uuid,
        /// The person (a token subject); `None` when nobody is assigned.
        pub assignee: Option<String>,
        /// The case's version after the change this row was taken from.
        pub version: i64,
        pub recorded_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{Column, Entity};

/// Records that after its change `version` the case is assigned to
/// `assignee` (`None`: nobody), unless a change as new or newer was taken
/// already: case changes arrive at least once and in any order, and a late
/// one must not undo a later assignment. True if this call changed the
/// record. One statement, so concurrent deliveries cannot interleave.
pub async fn record(
    db: &impl ConnectionTrait,
    case_id: CaseId,
    assignee: Option<&str>,
    version: i64,
    at: DateTime<Utc>,
) -> Result<bool, QueueError> {
    let recorded = record_all(
        db,
        [Assignment {
            case_id,
            assignee: assignee.map(str::to_owned),
            version,
            at,
        }],
    )
    .await?;
    Ok(recorded.contains(&case_id))
}

/// Who a case is assigned to after one of its changes.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub case_id: CaseId,
    /// `None`: nobody.
    pub assignee: Option<String>,
    /// The case's version after the change.
    pub version: i64,
    pub at: DateTime<Utc>,
}

/// [`record`] for the assignments of several cases (each named once), in
/// one statement, its rows in case order; the cases whose record changed.
pub async fn record_all(
    db: &impl ConnectionTrait,
    assignments: impl IntoIterator<Item = Assignment>,
) -> Result<HashSet<CaseId>, QueueError> {
    let mut assignments: Vec<Assignment> = assignments.into_iter().collect();
    if assignments.is_empty() {
        return Ok(HashSet::new());
    }
    assignments.sort_by_key(|assignment| assignment.case_id);
    let rows = assignments
        .into_iter()
        .map(|assignment| entity::ActiveModel {
            case_id: Set(assignment.case_id.as_uuid()),
            assignee: Set(assignment.assignee),
            version: Set(assignment.version),
            recorded_at: Set(assignment.at),
        });
    let mut upsert = Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(Column::CaseId)
                .update_columns([Column::Assignee, Column::Version, Column::RecordedAt])
                .action_and_where(
                    Expr::col(("case_assignees", "version")).lt(Expr::col(("excluded", "version"))),
                )
                .to_owned(),
        )
        .into_query();
    // Rows inserted or updated come back; those the condition kept do not.
    upsert.returning_col(Column::CaseId);
    let mut recorded = HashSet::new();
    for row in db.query_all(&upsert).await? {
        recorded.insert(CaseId(row.try_get_by_index::<uuid::Uuid>(0)?));
    }
    Ok(recorded)
}

/// The assignees of those of `case_ids` that have one.
pub async fn of_cases(
    db: &impl ConnectionTrait,
    case_ids: &[CaseId],
) -> Result<HashMap<CaseId, String>, QueueError> {
    if case_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = Entity::find()
        .filter(Column::CaseId.is_in(case_ids.iter().map(CaseId::as_uuid)))
        .filter(Column::Assignee.is_not_null())
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| Some((CaseId(row.case_id), row.assignee?)))
        .collect())
}
