//! The policy versions cases were opened under.

use chrono::{DateTime, Utc};
use complaints_domain::policy::Policy;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::StoreError;
use crate::entity::policies;

/// Records `policy` as in force. Recording the same version again with the
/// same content is a no-op; with other content it is refused, because cases
/// already opened under that version must keep their rules.
pub async fn record(
    db: &impl ConnectionTrait,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let document = serde_json::to_string(policy).map_err(StoreError::corrupt)?;
    if let Some(existing) = policies::Entity::find_by_id(policy.version.clone())
        .one(db)
        .await?
    {
        let existing: Policy =
            serde_json::from_str(&existing.document).map_err(StoreError::corrupt)?;
        if &existing == policy {
            return Ok(());
        }
        return Err(StoreError::Domain(
            complaints_domain::DomainError::FailedPrecondition(format!(
                "policy version {:?} is already recorded with different rules; give the changed policy a new version",
                policy.version
            )),
        ));
    }
    policies::Entity::insert(policies::ActiveModel {
        version: Set(policy.version.clone()),
        document: Set(document),
        recorded_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A recorded policy version.
pub async fn load(db: &impl ConnectionTrait, version: &str) -> Result<Policy, StoreError> {
    let row = policies::Entity::find_by_id(version.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("policy version {version:?}")))?;
    serde_json::from_str(&row.document).map_err(StoreError::corrupt)
}
