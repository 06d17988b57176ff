//! The `notifications` table (created by `complaints-migration`).

use sea_orm::entity::prelude::*;

/// One notification: what was asked for, where it went, what it said, and
/// how delivery went.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub notification_id: String,
    /// What makes two requests the same notification.
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub case_id: Uuid,
    pub kind: String,
    pub stage: String,
    pub to_role: Option<String>,
    pub reason: String,
    /// The request's further details (alert level, deadline) as JSON.
    pub request: String,
    /// `email` or `post`, once routed.
    pub channel: Option<String>,
    pub recipient: Option<String>,
    /// Why the route differs from the preferred contact, if it does.
    pub route_note: Option<String>,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub subject: Option<String>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
