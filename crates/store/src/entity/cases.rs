use sea_orm::entity::prelude::*;

/// One row per case: the columns that queries filter on, plus `snapshot`,
/// the domain case (without personal data) as JSON.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub register_number: String,
    pub stage: String,
    pub status: String,
    pub channel: String,
    pub owner_role: String,
    /// The person (a token subject) the case is assigned to, if any.
    pub assignee: Option<String>,
    pub received_at: DateTimeUtc,
    /// The local (calendar) date of receipt, `YYYY-MM-DD`, for date ranges.
    pub received_on: String,
    pub summary: String,
    pub policy_version: String,
    /// Number of timeline events; the optimistic-concurrency token.
    pub version: i64,
    /// When the current stage's response is due, while one is awaited.
    pub respond_due_at: Option<DateTimeUtc>,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub snapshot: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
