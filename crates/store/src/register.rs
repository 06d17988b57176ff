//! Register numbers: `CMP-YYYY-NNNNNN`, unique per year, never issued twice.
//!
//! The counter is one row per year, bumped with a single atomic upsert
//! inside the transaction that creates the case, so concurrent replicas
//! serialise on that row and a rolled-back case never leaves a number in use.

use complaints_domain::values::RegisterNumber;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

use crate::StoreError;

pub async fn next_register_number(
    db: &impl ConnectionTrait,
    year: i32,
) -> Result<RegisterNumber, StoreError> {
    let statement = Query::insert()
        .into_table("register_sequences")
        .columns(["year", "last_value"])
        .values([year.into(), 1_i64.into()])
        .map_err(StoreError::corrupt)?
        .on_conflict(
            OnConflict::column("year")
                .value(
                    "last_value",
                    Expr::col(("register_sequences", "last_value")).add(1),
                )
                .to_owned(),
        )
        .returning_col("last_value")
        .to_owned();
    let row = db
        .query_one(&statement)
        .await?
        .ok_or_else(|| StoreError::corrupt("register sequence upsert returned no row"))?;
    let sequence: i64 = row.try_get("", "last_value")?;
    let sequence = u32::try_from(sequence).map_err(StoreError::corrupt)?;
    RegisterNumber::new(year, sequence).map_err(|violation| {
        StoreError::Domain(complaints_domain::DomainError::FailedPrecondition(format!(
            "no register number left for {year}: {}",
            violation.description
        )))
    })
}
