//! The fence before each send: the worker renews its lease on the
//! notification and sends only if that worked (see the module docs of
//! [`super`]). Sends that start together renew their leases together
//! (group commit `notification.fence`): one statement and one commit for
//! all of them, each still renewed only if it is queued, leased to this
//! worker and its lease has not run out when the statement runs.

use std::sync::Arc;

use chrono::Duration;
use complaints_domain::clock::Clock;
use complaints_store::group_commit::{self, GroupCommit};
use sea_orm::DatabaseConnection;

use crate::repo;

/// Whether the lease was renewed, or why that could not be learnt.
pub type Renewed = Result<bool, String>;

/// The group commit of one worker's fences, by notification id.
pub type Fences = GroupCommit<String, Renewed>;

/// The group commit of fences, as its metric names it.
pub const FENCES: &str = "notification.fence";

/// The fences of `worker`, whose leases run for `lease` from when they
/// are renewed (read from `clock` as each batch is written).
pub fn fences(
    db: &DatabaseConnection,
    clock: Arc<dyn Clock>,
    worker: &str,
    lease: Duration,
) -> Arc<Fences> {
    let writers = group_commit::writers_for(db);
    let (db, worker) = (db.clone(), Arc::<str>::from(worker));
    GroupCommit::new(FENCES, writers, group_commit::MAX_BATCH, move |ids| {
        let (db, clock, worker) = (db.clone(), clock.clone(), worker.clone());
        async move { renew_all(&db, clock.as_ref(), &worker, lease, ids).await }
    })
}

/// Renews `worker`'s leases on `ids` in one statement, as of now on
/// `clock`: one answer per id, in order.
pub async fn renew_all(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    worker: &str,
    lease: Duration,
    ids: Vec<String>,
) -> Vec<Renewed> {
    match repo::renew_leases(db, &ids, worker, clock.now(), lease).await {
        Ok(renewed) => ids.iter().map(|id| Ok(renewed.contains(id))).collect(),
        Err(error) => {
            let error = error.to_string();
            ids.iter().map(|_| Err(error.clone())).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use chrono::{DateTime, Utc};
    use complaints_domain::clock::ManualClock;
    use complaints_test_support::TestDb;

    use super::*;

    complaints_test_support::on_every_backend!(
        sends_starting_together_renew_their_leases_in_one_statement,
    );

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    /// A queued acknowledgement of a case of its own, claimed by `worker`
    /// at `at` for `lease`: its id.
    async fn claimed(
        db: &DatabaseConnection,
        worker: &str,
        at: DateTime<Utc>,
        lease: Duration,
    ) -> String {
        let mut ids = repo::testing::claimed(db, 1, worker, at, lease).await;
        ids.remove(0)
    }

    async fn sends_starting_together_renew_their_leases_in_one_statement(test: TestDb) {
        let lease = Duration::minutes(5);
        let mine = [
            claimed(&test.db, "w", t0(), lease).await,
            claimed(&test.db, "w", t0(), lease).await,
        ];
        let other = claimed(&test.db, "v", t0(), lease).await;
        // Claimed long before: its lease has run out by now.
        let expired = claimed(&test.db, "w", t0() - Duration::minutes(10), lease).await;
        let clock = ManualClock::new(t0() + Duration::minutes(1));

        let (db, statements) = complaints_test_support::counting(&test.db, |_| true);
        let ids = vec![
            mine[0].clone(),
            other.clone(),
            expired.clone(),
            mine[1].clone(),
        ];
        let answers: Vec<bool> = renew_all(&db, &clock, "w", lease, ids)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(answers, [true, false, false, true]);
        assert_eq!(statements.load(Ordering::SeqCst), 1);
        for id in &mine {
            let row = repo::get(&test.db, id).await.unwrap().unwrap();
            assert_eq!(
                row.lease_until,
                Some(t0() + Duration::minutes(1) + lease),
                "renewed from the moment of the batch"
            );
        }
        let row = repo::get(&test.db, &other).await.unwrap().unwrap();
        assert_eq!(row.lease_owner.as_deref(), Some("v"), "another's untouched");
        assert_eq!(row.lease_until, Some(t0() + lease));
    }
}
