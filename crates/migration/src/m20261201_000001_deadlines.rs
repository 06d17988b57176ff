//! The escalation service's deadline table: the truth behind the deadline
//! queue (`complaints-deadlines`).
//!
//! One row per clock of a case. `state` is `pending` until the row is
//! settled by the case (`met`, `cancelled`) or fired by a worker
//! (`breached`, or `met`/`cancelled` when firing finds the work moot).
//! `next_at` is when the row next needs a worker: the warning instant until
//! the warning is sent, then the due instant, or the end of a worker's lease
//! while one holds it; it is null once the row is no longer pending. It is
//! what workers claim by, and the score the Redis index mirrors.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("deadlines")
                    .if_not_exists()
                    .col(uuid("deadline_id").primary_key())
                    .col(uuid("case_id"))
                    .col(string_len("register_number", 32))
                    .col(string_len("kind", 32))
                    .col(string_len("stage", 16))
                    // The local due date, `YYYY-MM-DD`.
                    .col(string_len("due_date", 10))
                    // The end of the due date in the calendar's time zone.
                    .col(timestamp_with_time_zone("due_at"))
                    .col(integer("working_days"))
                    .col(text("reason"))
                    .col(string_len("policy_version", 64))
                    .col(string_len("owner_role", 32))
                    .col(string_len("escalation_role", 32))
                    .col(string_len("state", 16))
                    .col(timestamp_with_time_zone_null("next_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("fired_at"))
                    .col(timestamp_with_time_zone_null("settled_at"))
                    .col(timestamp_with_time_zone_null("warn_at"))
                    .col(timestamp_with_time_zone_null("warned_at"))
                    .col(string_len_null("lease_owner", 128))
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_deadlines_case_kind_stage")
                    .table("deadlines")
                    .col("case_id")
                    .col("kind")
                    .col("stage")
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_deadlines_state_due_at", "due_at"),
            ("idx_deadlines_state_next_at", "next_at"),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table("deadlines")
                        .col("state")
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("deadlines").if_exists().to_owned())
            .await
    }
}
