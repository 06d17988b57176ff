//! Register numbers: `CMP-YYYY-NNNNNN`, unique per year, never issued twice.
//!
//! The counter is one row per year, bumped with a single atomic upsert, so
//! concurrent writers (and replicas) serialise on that row. Where the bump
//! happens depends on the database (docs/policy.md, Records):
//!
//! - On Postgres, in a short transaction of its own, committed before the
//!   case's transaction starts ([`NumberSource::reserve`]). The row is then
//!   locked for one statement instead of for the whole case write, which
//!   lets cases be opened in parallel. A case whose write then fails leaves
//!   its number unused: numbers are unique and increasing, not gapless.
//! - On SQLite (one writer at a time anyway), inside the case's own
//!   transaction ([`next_register_number`]), so a rolled-back case never
//!   leaves a number in use.

use complaints_domain::values::RegisterNumber;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait};

use crate::StoreError;

/// Where a case about to be written gets its register number: already
/// taken (Postgres), or from the case's own transaction (SQLite).
#[derive(Debug)]
pub struct NumberSource {
    reserved: Option<RegisterNumber>,
}

impl NumberSource {
    /// On Postgres, takes the next number for `year` now, in a transaction
    /// of its own. That transaction commits without waiting for its log
    /// record to reach the disk (`synchronous_commit = off`): the record
    /// is written ahead of the commit of any case that uses the number, and
    /// the log reaches the disk in order, so a case that survives a crash
    /// has its number's bump with it; a bump lost in a crash was used by no
    /// surviving case. On SQLite nothing happens yet.
    pub async fn reserve(db: &DatabaseConnection, year: i32) -> Result<Self, StoreError> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(Self { reserved: None });
        }
        let txn = db.begin().await?;
        txn.execute_unprepared("SET LOCAL synchronous_commit = off")
            .await?;
        let number = next_register_number(&txn, year).await?;
        txn.commit().await?;
        Ok(Self {
            reserved: Some(number),
        })
    }

    /// The number: the one reserved, or the next for `year` taken in `txn`,
    /// the transaction that writes the case.
    pub async fn take(
        self,
        txn: &impl ConnectionTrait,
        year: i32,
    ) -> Result<RegisterNumber, StoreError> {
        match self.reserved {
            Some(number) => Ok(number),
            None => next_register_number(txn, year).await,
        }
    }
}

/// Bumps the counter for `year` in `db` (a transaction, when the number must
/// go with it) and returns the new number.
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
