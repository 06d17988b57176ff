//! Which cases the retention period has run out on: closed before a cutoff,
//! with their complainant not yet erased.

use chrono::{DateTime, Utc};
use complaints_domain::case::CaseId;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::StoreError;
use crate::entity::{cases, complainants};

/// Up to `limit` cases closed before `cutoff` whose complainant has not
/// been erased, longest closed first.
pub async fn closed_before_with_personal_data(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<CaseId>, StoreError> {
    let unerased = Query::select()
        .column(complainants::Column::CaseId)
        .from(complainants::Entity)
        .and_where(complainants::Column::ErasedAt.is_null())
        .to_owned();
    let rows = cases::Entity::find()
        .filter(cases::Column::ClosedAt.lt(cutoff))
        .filter(cases::Column::Id.in_subquery(unerased))
        .order_by_asc(cases::Column::ClosedAt)
        .order_by_asc(cases::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| CaseId(row.id)).collect())
}
