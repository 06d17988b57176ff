use sea_orm::entity::prelude::*;

/// What a request with a given `request_id` produced, so a retry gets the
/// same answer and a different request under the same id is refused.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    /// Hex SHA-256 of the request's content (without the request id).
    pub content_hash: String,
    pub resource_id: String,
    /// The encoded response returned the first time.
    pub response: Vec<u8>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
