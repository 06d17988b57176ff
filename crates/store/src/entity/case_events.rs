use sea_orm::entity::prelude::*;

/// One timeline event. Rows are only ever inserted: the store offers no
/// update or delete, and each row's `hash` chains it to the one before.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    pub kind: String,
    pub actor_subject: String,
    pub actor_role: String,
    pub at: DateTimeUtc,
    /// Canonical JSON of the event's details, stored as text so the bytes
    /// that were hashed are the bytes that are read back.
    #[sea_orm(column_type = "Text")]
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
