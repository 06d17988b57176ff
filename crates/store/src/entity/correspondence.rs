use sea_orm::entity::prelude::*;

/// One message of a case's correspondence: an email received from the
/// complainant or a notice the platform sent. Only what threading needs
/// and the subject; never the body.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "correspondence")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The Message-ID without angle brackets.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    /// Sender (inbound) or recipient (outbound); `None` once erased.
    pub address: Option<String>,
    pub subject: Option<String>,
    pub at: DateTimeUtc,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
