//! The reader: a case by id or register number, with its complainant's
//! personal data unless it was erased.

use complaints_domain::case::CaseId;
use complaints_domain::complainant::{
    Complainant, ContactMethod, RawComplainant, RawPostalAddress,
};
use complaints_domain::values::RegisterNumber;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::StoredCase;
use super::rows::decode;
use crate::StoreError;
use crate::entity::{cases, complainants};

/// A case by id.
pub async fn load(db: &impl ConnectionTrait, case_id: CaseId) -> Result<StoredCase, StoreError> {
    let row = cases::Entity::find_by_id(case_id.as_uuid())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("case {case_id}")))?;
    assemble(db, row).await
}

/// A case by register number.
pub async fn load_by_register_number(
    db: &impl ConnectionTrait,
    number: &RegisterNumber,
) -> Result<StoredCase, StoreError> {
    let row = cases::Entity::find()
        .filter(cases::Column::RegisterNumber.eq(number.as_str()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("case {number}")))?;
    assemble(db, row).await
}

pub(super) async fn assemble(
    db: &impl ConnectionTrait,
    row: cases::Model,
) -> Result<StoredCase, StoreError> {
    let mut stored = decode(&row)?;
    let person = complainants::Entity::find_by_id(row.id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::corrupt(format!("case {} has no complainant row", row.id)))?;
    if person.erased_at.is_some() {
        stored.erased = true;
        stored.case.complainant = Complainant::anonymised();
        return Ok(stored);
    }
    let postal_address = person
        .postal_address
        .as_deref()
        .map(serde_json::from_str::<RawPostalAddress>)
        .transpose()
        .map_err(StoreError::corrupt)?;
    let preferred_contact = person
        .preferred_contact
        .parse::<ContactMethod>()
        .map_err(StoreError::corrupt)?;
    stored.case.complainant = Complainant::parse(RawComplainant {
        full_name: person.full_name,
        email: person.email.unwrap_or_default(),
        phone: person.phone.unwrap_or_default(),
        postal_address,
        preferred_contact: Some(preferred_contact),
        customer_ref: person.customer_ref.unwrap_or_default(),
    })
    .map_err(|violations| StoreError::corrupt(format!("stored complainant: {violations:?}")))?;
    Ok(stored)
}
