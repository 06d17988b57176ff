//! Moving clocks: a deadline keeps the due date it was first given
//! (`original_due_date`, `original_due_at`, filled in from the due date for
//! the deadlines already there) and may be held while its case's clocks are
//! paused (`held_at`); `deadline_extensions`, the escalation service's, keeps
//! each extension once per request.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            string_len_null("original_due_date", 10),
            timestamp_with_time_zone_null("original_due_at"),
            timestamp_with_time_zone_null("held_at"),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table("deadlines")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE deadlines SET original_due_date = due_date, original_due_at = due_at \
                 WHERE original_due_date IS NULL",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("deadline_extensions")
                    .if_not_exists()
                    .col(uuid("case_id"))
                    .col(string_len("request_id", 100))
                    .col(uuid("deadline_id"))
                    .col(integer("extra_working_days"))
                    .col(text("reason"))
                    .col(string_len("previous_due_date", 10))
                    .col(string_len("due_date", 10))
                    .col(text("requested_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("case_id").col("request_id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("deadline_extensions")
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        for column in ["held_at", "original_due_at", "original_due_date"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("deadlines")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
