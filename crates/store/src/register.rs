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
//!   transaction ([`NumberSource::take_all`]), so a rolled-back case never
//!   leaves a number in use.
//!
//! Cases opened together take their numbers in one bump
//! ([`NumberSource::reserve_many`]), in the order they arrived.

use complaints_domain::values::RegisterNumber;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::StoreError;

/// Where cases about to be written get their register numbers: already
/// taken (Postgres), or from the cases' own transaction (SQLite).
#[derive(Debug)]
pub struct NumberSource {
    year: i32,
    count: u32,
    /// The last of the `count` numbers taken ahead, on Postgres.
    reserved_last: Option<i64>,
}

impl NumberSource {
    /// [`NumberSource::reserve_many`] for one case.
    pub async fn reserve(db: &DatabaseConnection, year: i32) -> Result<Self, StoreError> {
        Self::reserve_many(db, year, 1).await
    }

    /// On Postgres, takes the next `count` numbers for `year` now, in one
    /// statement that is its own transaction: one round trip, and the
    /// counter row is locked only while that statement runs. It commits
    /// without waiting for its log record to reach the disk
    /// (`synchronous_commit` off for that transaction alone): the record is
    /// written ahead of the commit of any case that uses the numbers, and
    /// the log reaches the disk in order, so a case that survives a crash
    /// has its number's bump with it; a bump lost in a crash was used by no
    /// surviving case. (Waiting for the disk, or for a separate COMMIT's
    /// round trip, with the row locked, is what made concurrent complaints
    /// queue for their numbers.) On SQLite nothing happens yet.
    pub async fn reserve_many(
        db: &DatabaseConnection,
        year: i32,
        count: u32,
    ) -> Result<Self, StoreError> {
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(Self {
                year,
                count,
                reserved_last: None,
            });
        }
        // `set_config(..., true)` lasts until the end of the statement's own
        // transaction, so it reaches its commit and nothing after it.
        const BUMP: &str = "INSERT INTO register_sequences (year, last_value) \
             SELECT $1, $2 FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit \
             ON CONFLICT (year) DO UPDATE SET last_value = register_sequences.last_value + $2 \
             RETURNING last_value";
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                BUMP,
                [year.into(), i64::from(count).into()],
            ))
            .await?
            .ok_or_else(|| StoreError::corrupt("register sequence upsert returned no row"))?;
        Ok(Self {
            year,
            count,
            reserved_last: Some(row.try_get("", "last_value")?),
        })
    }

    /// The one number: the one reserved, or the next taken in `txn`, the
    /// transaction that writes the case.
    pub async fn take(self, txn: &impl ConnectionTrait) -> Result<RegisterNumber, StoreError> {
        self.take_all(txn).await?.next_number()
    }

    /// The numbers: those reserved, or the next `count` taken in `txn`,
    /// the transaction that writes the cases.
    pub async fn take_all(self, txn: &impl ConnectionTrait) -> Result<Numbers, StoreError> {
        let (last, in_transaction) = match self.reserved_last {
            Some(last) => (last, false),
            None => (bump(txn, self.year, self.count).await?, true),
        };
        Ok(Numbers {
            year: self.year,
            next: last - i64::from(self.count) + 1,
            last,
            in_transaction,
        })
    }
}

/// Register numbers taken for a batch of cases, handed out in order.
#[derive(Debug)]
pub struct Numbers {
    year: i32,
    next: i64,
    last: i64,
    /// Taken in the cases' transaction, which still holds the counter.
    in_transaction: bool,
}

impl Numbers {
    /// The next number, without handing it out yet.
    pub fn upcoming(&self) -> Result<RegisterNumber, StoreError> {
        if self.next > self.last {
            return Err(StoreError::corrupt(
                "more cases than register numbers taken",
            ));
        }
        register_number(self.year, self.next)
    }

    /// Hands out the next number.
    pub fn next_number(&mut self) -> Result<RegisterNumber, StoreError> {
        let number = self.upcoming()?;
        self.next += 1;
        Ok(number)
    }

    /// Puts back the numbers not handed out, when they were taken in `txn`
    /// (which holds the counter, so nobody took one after them): the
    /// counter goes back, and no number is skipped. Numbers reserved ahead
    /// (Postgres) stay unused: others may have taken numbers since.
    pub async fn give_back_unused(self, txn: &impl ConnectionTrait) -> Result<(), StoreError> {
        let unused = self.last - self.next + 1;
        if unused <= 0 || !self.in_transaction {
            return Ok(());
        }
        let statement = Query::update()
            .table("register_sequences")
            .value(
                "last_value",
                Expr::col(("register_sequences", "last_value")).sub(unused),
            )
            .and_where(Expr::col("year").eq(self.year))
            .to_owned();
        txn.execute(&statement).await?;
        Ok(())
    }
}

/// Bumps the counter for `year` in `db` (a transaction, when the number must
/// go with it) and returns the new number.
pub async fn next_register_number(
    db: &impl ConnectionTrait,
    year: i32,
) -> Result<RegisterNumber, StoreError> {
    register_number(year, bump(db, year, 1).await?)
}

/// Bumps the counter for `year` by `count`; the new last value.
async fn bump(db: &impl ConnectionTrait, year: i32, count: u32) -> Result<i64, StoreError> {
    let count = i64::from(count);
    let statement = Query::insert()
        .into_table("register_sequences")
        .columns(["year", "last_value"])
        .values([year.into(), count.into()])
        .map_err(StoreError::corrupt)?
        .on_conflict(
            OnConflict::column("year")
                .value(
                    "last_value",
                    Expr::col(("register_sequences", "last_value")).add(count),
                )
                .to_owned(),
        )
        .returning_col("last_value")
        .to_owned();
    let row = db
        .query_one(&statement)
        .await?
        .ok_or_else(|| StoreError::corrupt("register sequence upsert returned no row"))?;
    Ok(row.try_get("", "last_value")?)
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
