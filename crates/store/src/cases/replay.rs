//! Idempotent requests: a retry of a request already carried out gets the
//! earlier call's result back instead of running again.

use complaints_domain::case::CaseId;
use sea_orm::DatabaseConnection;

use super::Outcome;
use super::read::load;
use crate::StoreError;
use crate::idempotency::{self, RequestKey};

pub(super) async fn replay(
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
        erased_evidence: Vec::new(),
    }))
}
