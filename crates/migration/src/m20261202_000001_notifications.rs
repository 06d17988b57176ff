//! The notification service's table: every notification, its rendered
//! content and its delivery log. Owner: the notification service.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("notifications")
                    .if_not_exists()
                    .col(string_len("notification_id", 64).primary_key())
                    .col(string_len_uniq("dedupe_key", 255))
                    .col(uuid("case_id"))
                    .col(string_len("kind", 32))
                    .col(string_len("stage", 16))
                    .col(string_len_null("to_role", 32))
                    .col(text("reason"))
                    .col(text("request"))
                    .col(string_len_null("channel", 16))
                    .col(text_null("recipient"))
                    .col(text_null("route_note"))
                    .col(string_len("state", 16))
                    .col(integer("attempts"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .col(text_null("subject"))
                    .col(string_len_null("content_type", 64))
                    .col(blob_null("body"))
                    .col(string_len_null("lease_owner", 64))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("idx_notifications_case", vec!["case_id", "created_at"]),
            ("idx_notifications_due", vec!["state", "next_attempt_at"]),
        ] {
            let mut index = Index::create();
            index.name(name).table("notifications").if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("notifications").if_exists().to_owned())
            .await
    }
}
