use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use complaints_deadlines::{
    DeadlineId, DeadlineQueue, FireOutcome, IndexKeys, NewDeadline, RedisQueue, RedisQueueConfig,
    SqlQueue, SqlQueueConfig, Work, WorkerId,
};
use complaints_domain::calendar::Due;
use complaints_domain::case::{CaseId, DeadlineKind};
use complaints_domain::role::Role;
use complaints_test_support::TestDb;
use uuid::Uuid;

/// Declares each listed `async fn(Harness)` as a test on every backend.
#[macro_export]
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sql_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let test = complaints_test_support::TestDb::sqlite().await;
                    super::$test($crate::support::Harness::sql(test)).await;
                }
            )*
        }
        mod sql_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(test) = complaints_test_support::TestDb::postgres().await {
                        super::$test($crate::support::Harness::sql(test)).await;
                    }
                }
            )*
        }
        mod redis_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(harness) = $crate::support::Harness::redis_postgres().await {
                        super::$test(harness).await;
                    }
                }
            )*
        }
    };
}

/// A lease long enough that it never runs out unless a test moves `now` past it.
pub const LEASE: Duration = Duration::from_secs(30);

/// Waiting workers re-check this rarely, so a test that sees one wake knows
/// something woke it.
const RECHECK: Duration = Duration::from_secs(3600);

/// A queue on one backend, and what a test needs to break its index.
pub struct Harness {
    pub queue: Arc<dyn DeadlineQueue>,
    /// The Redis backend, when that is the one under test.
    pub redis: Option<Arc<RedisQueue>>,
    _keys: Option<RedisKeys>,
    _test: TestDb,
}

impl Harness {
    pub fn sql(test: TestDb) -> Harness {
        let queue = SqlQueue::new(test.db.clone(), SqlQueueConfig { recheck: RECHECK });
        Harness {
            queue: Arc::new(queue),
            redis: None,
            _keys: None,
            _test: test,
        }
    }

    /// The Redis backend over a fresh Postgres database and keys of its
    /// own, or `None` when Postgres or Redis tests are skipped.
    pub async fn redis_postgres() -> Option<Harness> {
        // Redis first: no database is made for a variant skipped for want of it.
        let url = complaints_test_support::redis_url()?;
        let test = TestDb::postgres().await?;
        let keys = RedisKeys::unique(&url);
        let queue = Arc::new(
            RedisQueue::connect(test.db.clone(), &url, keys.config())
                .await
                .expect("connect to Redis at REDIS_URL"),
        );
        Some(Harness {
            queue: queue.clone(),
            redis: Some(queue),
            _keys: Some(keys),
            _test: test,
        })
    }

    /// A second replica of the Redis backend: the same database and keys,
    /// a connection and workers of its own.
    pub async fn another_replica(&self) -> Arc<RedisQueue> {
        let keys = self._keys.as_ref().expect("the Redis backend");
        Arc::new(
            RedisQueue::connect(self._test.db.clone(), &keys.url, keys.config())
                .await
                .expect("connect a second replica to Redis at REDIS_URL"),
        )
    }

    /// What Redis losing its data (a restart with nothing persisted, a
    /// FLUSHALL) does to this queue's keys. Nothing, for the SQL backend.
    pub async fn lose_index(&self) {
        if let Some(redis) = &self.redis {
            let keys = redis.keys();
            delete_keys(&self.redis_url(), &[&keys.due, &keys.built]);
        }
    }

    /// Loses the sorted set only, keeping the marker that says it was built.
    pub async fn lose_members(&self) {
        if let Some(redis) = &self.redis {
            delete_keys(&self.redis_url(), &[&redis.keys().due]);
        }
    }

    fn redis_url(&self) -> String {
        self._keys
            .as_ref()
            .map(|keys| keys.url.clone())
            .unwrap_or_default()
    }
}

/// A unique key prefix on the test Redis, deleted when dropped (a failing
/// test included).
pub struct RedisKeys {
    pub url: String,
    pub prefix: String,
}

impl RedisKeys {
    pub fn unique(url: &str) -> RedisKeys {
        RedisKeys {
            url: url.to_owned(),
            prefix: format!("complaints-test:{{{}}}:", Uuid::new_v4().simple()),
        }
    }

    pub fn config(&self) -> RedisQueueConfig {
        RedisQueueConfig {
            key_prefix: self.prefix.clone(),
            recheck: RECHECK,
            ..RedisQueueConfig::default()
        }
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let keys = IndexKeys::with_prefix(&self.prefix);
        delete_keys(&self.url, &[&keys.due, &keys.built]);
    }
}

fn delete_keys(url: &str, keys: &[&str]) {
    let deleted = redis::Client::open(url)
        .and_then(|client| client.get_connection())
        .and_then(|mut connection| redis::cmd("DEL").arg(keys).exec(&mut connection));
    if let Err(error) = deleted {
        eprintln!("note: could not delete test keys {keys:?}: {error}");
    }
}

/// 09:00 UTC on Tuesday 1 December 2026: "now" unless a test says otherwise.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

pub fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

pub fn hours(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

pub fn new_case() -> CaseId {
    CaseId(Uuid::now_v7())
}

pub fn worker(name: &str) -> WorkerId {
    WorkerId::new(name).unwrap()
}

/// A deadline of `kind` for `case`, due at `due_at`, with no warning.
pub fn deadline(case_id: CaseId, kind: DeadlineKind, due_at: DateTime<Utc>) -> NewDeadline {
    NewDeadline {
        case_id,
        register_number: "CMP-2026-000001".to_owned(),
        kind,
        stage: kind.stage(),
        working_days: 3,
        due: Due {
            date: due_at.date_naive(),
            at: due_at,
        },
        reason: "3 working days after Tuesday 1 December 2026".to_owned(),
        policy_version: "2026-11".to_owned(),
        owner_role: Role::ComplaintsHandler,
        escalation_role: Role::CxManager,
        warn_at: None,
        created_at: t0() - hours(1),
    }
}

/// `count` acknowledge deadlines of new cases, due at `due_at(i)`.
pub fn many(count: usize, due_at: impl Fn(usize) -> DateTime<Utc>) -> Vec<NewDeadline> {
    (0..count)
        .map(|i| deadline(new_case(), DeadlineKind::Acknowledge, due_at(i)))
        .collect()
}

/// Claims at `now` as `worker` until nothing is left and fires all it gets
/// as breached; answers what this worker fired.
pub async fn drain(
    queue: &dyn DeadlineQueue,
    now: DateTime<Utc>,
    worker: &WorkerId,
    limit: usize,
) -> Vec<DeadlineId> {
    let mut fired = Vec::new();
    loop {
        let claimed = queue.claim_due(now, limit, worker, LEASE).await.unwrap();
        if claimed.is_empty() {
            return fired;
        }
        for claim in claimed {
            assert_eq!(claim.work, Work::Fire);
            let id = claim.deadline.deadline_id;
            if queue
                .complete_fire(id, worker, FireOutcome::Breached, now)
                .await
                .unwrap()
            {
                fired.push(id);
            }
        }
    }
}

pub fn ids<'a>(
    items: impl IntoIterator<Item = &'a complaints_deadlines::Claimed>,
) -> Vec<DeadlineId> {
    items
        .into_iter()
        .map(|claim| claim.deadline.deadline_id)
        .collect()
}
