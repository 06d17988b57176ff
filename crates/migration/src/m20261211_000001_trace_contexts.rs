//! Queued work remembers the trace that queued it (a W3C `traceparent`),
//! so that the work, possibly on another replica and much later, continues
//! the complaint's trace: `notifications.trace_context` (the request that
//! asked for the notice, continued by its delivery) and
//! `deadlines.trace_context` (the change that started the clock, continued
//! by its firing).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 2] = ["notifications", "deadlines"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(text_null("trace_context"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column("trace_context")
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
