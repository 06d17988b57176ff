//! A case's evidence records: what each stored file is, who added it and when.
//!
//! Rows are written in the transaction of the case change that records them
//! ([`crate::cases::open_case_recording`], [`crate::cases::apply`]),
//! with their `evidence.added` events; this module reads them and offers the
//! insert those writers run. The bytes are the evidence blob store's.

use chrono::{DateTime, Utc};
use complaints_domain::case::{CaseId, Evidence, EvidenceId, EvidenceSource};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use crate::StoreError;
use crate::entity::evidence;

/// A piece of evidence as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvidence {
    pub evidence_id: EvidenceId,
    pub case_id: CaseId,
    pub filename: String,
    pub media_type: String,
    pub description: Option<String>,
    pub sha256: String,
    pub size_bytes: u64,
    pub source: EvidenceSource,
    /// The token subject who added it.
    pub added_by: String,
    pub added_at: DateTime<Utc>,
}

/// Inserts the record of `evidence` on `case_id`. Run inside the case
/// change's transaction.
pub(crate) async fn insert(
    txn: &impl ConnectionTrait,
    case_id: CaseId,
    evidence: &Evidence,
    added_by: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let size_bytes = i64::try_from(evidence.size_bytes).map_err(StoreError::corrupt)?;
    evidence::Entity::insert(evidence::ActiveModel {
        id: Set(evidence.evidence_id.as_uuid()),
        case_id: Set(case_id.as_uuid()),
        filename: Set(evidence.filename.as_str().to_owned()),
        media_type: Set(evidence.media_type.clone()),
        description: Set(evidence
            .description
            .as_ref()
            .map(|text| text.as_str().to_owned())),
        sha256: Set(evidence.sha256.clone()),
        size_bytes: Set(size_bytes),
        source: Set(evidence.source.as_str().to_owned()),
        added_by: Set(added_by.to_owned()),
        added_at: Set(crate::chain::truncate_to_micros(now)),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// A case's evidence, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    case_id: CaseId,
) -> Result<Vec<StoredEvidence>, StoreError> {
    evidence::Entity::find()
        .filter(evidence::Column::CaseId.eq(case_id.as_uuid()))
        .order_by_asc(evidence::Column::AddedAt)
        .order_by_asc(evidence::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// One piece of evidence; [`StoreError::NotFound`] when there is none.
pub async fn get(
    db: &impl ConnectionTrait,
    evidence_id: EvidenceId,
) -> Result<StoredEvidence, StoreError> {
    let row = evidence::Entity::find_by_id(evidence_id.as_uuid())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("evidence {evidence_id}")))?;
    from_row(row)
}

/// Whether any evidence record names the bytes at `sha256` (so they must be
/// kept).
pub async fn is_referenced(db: &impl ConnectionTrait, sha256: &str) -> Result<bool, StoreError> {
    let count = evidence::Entity::find()
        .filter(evidence::Column::Sha256.eq(sha256))
        .count(db)
        .await?;
    Ok(count > 0)
}

fn from_row(row: evidence::Model) -> Result<StoredEvidence, StoreError> {
    Ok(StoredEvidence {
        evidence_id: EvidenceId(row.id),
        case_id: CaseId(row.case_id),
        filename: row.filename,
        media_type: row.media_type,
        description: row.description,
        sha256: row.sha256,
        size_bytes: u64::try_from(row.size_bytes).map_err(StoreError::corrupt)?,
        source: row
            .source
            .parse::<EvidenceSource>()
            .map_err(|_| StoreError::corrupt(format!("evidence source {:?}", row.source)))?,
        added_by: row.added_by,
        added_at: row.added_at,
    })
}
