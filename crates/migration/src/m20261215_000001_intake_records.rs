//! Intake keeps no table any more: the case service records each
//! submission's `request_id` with the case it opens. The idempotency
//! records intake wrote (scope `intake`) are read by nothing, and they hold
//! fingerprints of complaints that erasing a complainant never reached, so
//! they go. Down does nothing: what they said is in the case service's own
//! records (scope `case.open`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyRecords {
    Table,
    Scope,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let delete = Query::delete()
            .from_table(IdempotencyRecords::Table)
            .and_where(Expr::col(IdempotencyRecords::Scope).eq("intake"))
            .to_owned();
        manager.exec_stmt(delete).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
