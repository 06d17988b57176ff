//! `idx_complainants_email_lower`: complainants by their email address
//! ignoring case, the way a new complaint's possible duplicates and a search
//! by email compare it (`lower(email)`). Without it both read every
//! complainant, so opening a case slowed as the register grew.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // An index on an expression: the same statement in Postgres and SQLite.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_complainants_email_lower \
                 ON complainants (lower(email))",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_complainants_email_lower")
            .await?;
        Ok(())
    }
}
