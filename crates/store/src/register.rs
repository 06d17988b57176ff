//! Register numbers: `CMP-YYYY-NNNNNN`, unique per year, never issued twice.
//!
//! The counter is one row per year, bumped with a single atomic upsert, so
//! concurrent writers (and replicas) serialise on that row. Where the bump
//! happens depends on the database (docs/policy.md, Records):
//!
//! - On Postgres, in one statement that is its own transaction, committed
//!   before the case's transaction starts ([`NumberSource::reserve`]). The row is then
//!   locked for one statement instead of for the whole case write, which
//!   lets cases be opened in parallel. A case whose write then fails leaves
//!   its number unused: numbers are unique and increasing, not gapless.
//! - On SQLite (one writer at a time anyway), inside the case's own
//!   transaction ([`next_register_number`]), so a rolled-back case never
//!   leaves a number in use.

use complaints_domain::values::RegisterNumber;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::StoreError;

/// Where a case about to be written gets its register number: already
/// taken (Postgres), or from the case's own transaction (SQLite).
#[derive(Debug)]
pub struct NumberSource {
    reserved: Option<RegisterNumber>,
}

impl NumberSource {
    /// On Postgres, takes the next number for `year` now, in one statement
    /// that is its own transaction: one round trip, and the counter row is
    /// locked only while that statement runs. It commits without waiting
    /// for its log record to reach the disk (`synchronous_commit` off for
    /// that transaction alone): the record is written ahead of the commit
    /// of any case that uses the number, and the log reaches the disk in
    /// order, so a case that survives a crash has its number's bump with
    /// it; a bump lost in a crash was used by no surviving case. (Waiting
    /// for the disk, or for a separate COMMIT's round trip, with the row
    /// locked, is what made concurrent complaints queue for their numbers.)
    /// On SQLite nothing happens yet.
    pub async fn reserve(db: &DatabaseConnection, year: i32) -> Result<Self, StoreError> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(Self { reserved: None });
        }
        // `set_config(..., true)` lasts until the end of the statement's own
        // transaction, so it reaches its commit and nothing after it.
        const BUMP: &str = "INSERT INTO register_sequences (year, last_value) \
             SELECT $1, 1 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit \
             ON CONFLICT (year) DO UPDATE SET last_value = register_sequences.last_value + 1 \
             RETURNING last_value";
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                BUMP,
                [year.into()],
            ))
            .await?
            .ok_or_else(|| StoreError::corrupt("register sequence upsert returned no row"))?;
        Ok(Self {
            reserved: Some(register_number(year, row.try_get("", "last_value")?)?),
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
    register_number(year, row.try_get("", "last_value")?)
}

/// The register number of the `sequence`th case of `year`.
fn register_number(year: i32, sequence: i64) -> Result<RegisterNumber, StoreError> {
    let sequence = u32::try_from(sequence).map_err(StoreError::corrupt)?;
    RegisterNumber::new(year, sequence).map_err(|violation| {
        StoreError::Domain(complaints_domain::DomainError::FailedPrecondition(format!(
            "no register number left for {year}: {}",
            violation.description
        )))
    })
}
