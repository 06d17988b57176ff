//! A case's evidence: what each stored file is and where it came from.
//!
//! `evidence`, owned by the case service, one row per piece of evidence:
//! `id`, `case_id`, `filename` (a label, never a path), `media_type`,
//! `description` (optional free text), `sha256` (the lowercase hex SHA-256
//! of the bytes, which the evidence blob store keeps under that address;
//! several rows may share one), `size_bytes`, `source` (`upload`,
//! `email_attachment`, `scanned_letter`), `added_by` (the token subject)
//! and `added_at`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("evidence")
                    .if_not_exists()
                    .col(uuid("id").primary_key())
                    .col(uuid("case_id"))
                    .col(string_len("filename", 1024))
                    .col(string_len("media_type", 255))
                    .col(text_null("description"))
                    .col(string_len("sha256", 64))
                    .col(big_integer("size_bytes"))
                    .col(string_len("source", 32))
                    .col(text("added_by"))
                    .col(timestamp_with_time_zone("added_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_evidence_case")
                    .table("evidence")
                    .col("case_id")
                    .col("added_at")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_evidence_sha256")
                    .table("evidence")
                    .col("sha256")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("evidence").if_exists().to_owned())
            .await
    }
}
