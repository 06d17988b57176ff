use sea_orm::entity::prelude::*;

/// One piece of a case's evidence: what the file is; its bytes are in the
/// evidence blob store under `sha256`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evidence")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub filename: String,
    pub media_type: String,
    pub description: Option<String>,
    pub sha256: String,
    pub size_bytes: i64,
    /// `upload`, `email_attachment` or `scanned_letter`.
    pub source: String,
    pub added_by: String,
    pub added_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
