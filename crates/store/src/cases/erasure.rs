//! What erasing a complainant reaches besides their row: the copies of the
//! case's content the case service keeps in its outbox, its idempotency
//! records, its correspondence (addresses and subjects) and its evidence
//! records (the bytes go from the blob store after the commit).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use complaints_domain::case::CaseId;

use super::outbox_message::CASE_EVENTS_TOPIC;
use crate::StoreError;
use crate::entity::{evidence, idempotency_records, outbox};
use crate::evidence::StoredEvidence;

/// What a scrubbed outbox payload reads: valid JSON naming why it is empty.
pub const ERASED_PAYLOAD: &str = r#"{"erased":true}"#;

/// What a scrubbed idempotency record's content hash reads. No request
/// hashes to it, so a retry of a request made before the erasure is
/// refused as a clash (ALREADY_EXISTS) rather than matched against a
/// fingerprint of the person's data.
pub const ERASED_CONTENT_HASH: &str = "erased";

/// Blanks the payloads of the case's delivered `case.events` messages
/// (undelivered ones are still owed to their receivers and are left to the
/// relay), and the content hashes of the case's idempotency records (scopes
/// `case.*`: among them `case.open`, the submission's own key, since intake
/// keeps no record of its own). Run it in
/// the transaction that erases the complainant, before that request's own
/// idempotency record is written.
///
/// Returns the evidence records it removed: exactly those of the case as
/// this transaction sees it, which has already claimed the case's version
/// (a file added concurrently either committed first, and is here, or
/// fails on the version), so the caller deletes the bytes of each after
/// the commit and leaves none behind.
pub(super) async fn scrub_copies(
    txn: &impl ConnectionTrait,
    case_id: Uuid,
) -> Result<Vec<StoredEvidence>, StoreError> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Payload, Expr::value(ERASED_PAYLOAD))
        .filter(outbox::Column::Topic.eq(CASE_EVENTS_TOPIC))
        .filter(outbox::Column::AggregateId.eq(case_id))
        .filter(outbox::Column::DeliveredAt.is_not_null())
        .exec(txn)
        .await?;
    idempotency_records::Entity::update_many()
        .col_expr(
            idempotency_records::Column::ContentHash,
            Expr::value(ERASED_CONTENT_HASH),
        )
        .filter(idempotency_records::Column::Scope.starts_with("case."))
        .filter(idempotency_records::Column::ResourceId.eq(case_id.to_string()))
        .exec(txn)
        .await?;
    crate::correspondence::scrub(txn, case_id).await?;
    let removed = crate::evidence::list(txn, CaseId(case_id)).await?;
    evidence::Entity::delete_many()
        .filter(evidence::Column::CaseId.eq(case_id))
        .exec(txn)
        .await?;
    Ok(removed)
}
