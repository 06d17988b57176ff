//! Who has a case, and finding a person's cases.
//!
//! - `cases.assignee`: the person (a token subject) a case is assigned to,
//!   for a handler's "my cases";
//! - `complainants.postcode`: the postal address's postcode in a column of
//!   its own, so that a search by postcode is one comparison; filled in here
//!   from the addresses already stored (erased complainants have none);
//! - `case_assignees`, the escalation service's: who each case's alerts
//!   name, as the latest case change it took said.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The new indexes: name, table, column.
const INDEXES: [(&str, &str, &str); 4] = [
    ("idx_cases_assignee", "cases", "assignee"),
    (
        "idx_complainants_customer_ref",
        "complainants",
        "customer_ref",
    ),
    ("idx_complainants_phone", "complainants", "phone"),
    ("idx_complainants_postcode", "complainants", "postcode"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table("cases")
                    .add_column(text_null("assignee"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("complainants")
                    .add_column(string_len_null("postcode", 16))
                    .to_owned(),
            )
            .await?;
        let postcode_of_address = match manager.get_database_backend() {
            DbBackend::Postgres => "CAST(postal_address AS json) ->> 'postcode'",
            _ => "json_extract(postal_address, '$.postcode')",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE complainants SET postcode = {postcode_of_address} \
                 WHERE postal_address IS NOT NULL AND erased_at IS NULL"
            ))
            .await?;
        for (name, table, column) in INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(table)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("case_assignees")
                    .if_not_exists()
                    .col(uuid("case_id").primary_key())
                    .col(text_null("assignee"))
                    .col(big_integer("version"))
                    .col(timestamp_with_time_zone("recorded_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("case_assignees").if_exists().to_owned())
            .await?;
        for (name, table, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("complainants")
                    .drop_column("postcode")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("cases")
                    .drop_column("assignee")
                    .to_owned(),
            )
            .await
    }
}
