//! The case service's tables and the intake service's idempotency records.
//!
//! Owners: `policies` (every policy version a case was opened under),
//! `cases`, `complainants`, `case_events`, `register_sequences`,
//! `outbox` belong to the case service; `idempotency_records` is keyed by
//! scope, so intake (`intake`) and case (`case`) each keep their own rows.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("policies")
                    .if_not_exists()
                    .col(string_len("version", 64).primary_key())
                    .col(text("document"))
                    .col(timestamp_with_time_zone("recorded_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("register_sequences")
                    .if_not_exists()
                    .col(integer("year").primary_key())
                    .col(big_integer("last_value"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("cases")
                    .if_not_exists()
                    .col(uuid("id").primary_key())
                    .col(string_len_uniq("register_number", 16))
                    .col(string_len("stage", 16))
                    .col(string_len("status", 16))
                    .col(string_len("channel", 16))
                    .col(string_len("owner_role", 32))
                    .col(timestamp_with_time_zone("received_at"))
                    .col(string_len("received_on", 10))
                    .col(text("summary"))
                    .col(string_len("policy_version", 64))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone_null("respond_due_at"))
                    .col(timestamp_with_time_zone_null("acknowledged_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .col(text("snapshot"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_cases_received_at", "received_at"),
            ("idx_cases_stage_status", "stage"),
            ("idx_cases_respond_due_at", "respond_due_at"),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table("cases")
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("complainants")
                    .if_not_exists()
                    .col(uuid("case_id").primary_key())
                    .col(text("full_name"))
                    .col(text_null("email"))
                    .col(text_null("phone"))
                    .col(text_null("postal_address"))
                    .col(string_len("preferred_contact", 16))
                    .col(text_null("customer_ref"))
                    .col(timestamp_with_time_zone_null("erased_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_complainants_case")
                            .from("complainants", "case_id")
                            .to("cases", "id"),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("case_events")
                    .if_not_exists()
                    .col(uuid("case_id"))
                    .col(big_integer("sequence"))
                    .col(string_len("kind", 64))
                    .col(text("actor_subject"))
                    .col(string_len("actor_role", 32))
                    .col(timestamp_with_time_zone("at"))
                    .col(text("details"))
                    .col(string_len("prev_hash", 64))
                    .col(string_len("hash", 64))
                    .primary_key(Index::create().col("case_id").col("sequence"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_case_events_case")
                            .from("case_events", "case_id")
                            .to("cases", "id"),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("idempotency_records")
                    .if_not_exists()
                    .col(string_len("scope", 32))
                    .col(string_len("request_id", 200))
                    .col(string_len("content_hash", 64))
                    .col(text("resource_id"))
                    .col(blob("response"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("scope").col("request_id"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("outbox")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string_len("topic", 64))
                    .col(uuid("aggregate_id"))
                    .col(text("payload"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("available_at"))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone_null("delivered_at"))
                    .col(text_null("last_error"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_pending")
                    .table("outbox")
                    .col("delivered_at")
                    .col("available_at")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "outbox",
            "idempotency_records",
            "case_events",
            "complainants",
            "cases",
            "register_sequences",
            "policies",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
