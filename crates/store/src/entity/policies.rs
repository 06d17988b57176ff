use sea_orm::entity::prelude::*;

/// Every policy version that cases were opened under, so a case's later
/// clocks use its own policy even after the policy in force has changed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "policies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: String,
    /// The policy as JSON.
    #[sea_orm(column_type = "Text")]
    pub document: String,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
