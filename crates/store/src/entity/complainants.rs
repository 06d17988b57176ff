use sea_orm::entity::prelude::*;

/// A complainant's personal data, kept apart from the case so that erasure
/// replaces this row and leaves the record and its statistics intact.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "complainants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_id: Uuid,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The postal address as JSON (`{"lines": [..], "town": .., "postcode": ..}`).
    pub postal_address: Option<String>,
    /// The postal address's postcode as `UkPostcode` writes it (`LS1 4AP`),
    /// for searching.
    pub postcode: Option<String>,
    pub preferred_contact: String,
    pub customer_ref: Option<String>,
    pub erased_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
