//! A case's correspondence: the emails the case service received for a
//! case and the notices the platform sent about it, kept for threading.
//!
//! `correspondence`, owned by the case service, one row per message:
//! `direction` (`inbound` from the complainant, `outbound` from the
//! platform), `message_id` (the RFC 5322 Message-ID without its angle
//! brackets, unique within the case), `in_reply_to` (the Message-ID it
//! answered, when it named one), `address` (the sender of an inbound
//! message, the recipient of an outbound one: personal data, blanked by
//! erasure), `subject` (blanked by erasure), `at` (received or sent) and
//! `recorded_at`. No message body is kept.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("correspondence")
                    .if_not_exists()
                    .col(uuid("id").primary_key())
                    .col(uuid("case_id"))
                    .col(string_len("direction", 16))
                    .col(text("message_id"))
                    .col(text_null("in_reply_to"))
                    .col(text_null("address"))
                    .col(text_null("subject"))
                    .col(timestamp_with_time_zone("at"))
                    .col(timestamp_with_time_zone("recorded_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_correspondence_case_message")
                    .table("correspondence")
                    .col("case_id")
                    .col("message_id")
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_correspondence_message")
                    .table("correspondence")
                    .col("message_id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("correspondence").if_exists().to_owned())
            .await
    }
}
