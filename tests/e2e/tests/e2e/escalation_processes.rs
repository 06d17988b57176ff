//! The deadline queue under failure, with real `escalation` processes on one
//! Postgres database and one Redis: every deadline fires once in effect,
//! whichever process claims it and whatever is lost on the way.
//!
//! - two processes share 100,000 deadlines falling due within seconds;
//! - the Redis index is deleted while deadlines are firing;
//! - a process is SIGKILLed holding leases, and a second one takes over.
//!
//! No step is timed against the wall clock, so a slow or busy machine only
//! makes the tests slower: each waits, with a generous bound, for a state
//! (every process listing the clocks through `GetDeadlines`, a count of
//! fired deadlines, a process's session waiting on the outbox). "While
//! firing" is made a state too: the outbox is locked against writes (reads
//! go on), so a process that claims a batch waits inside the transaction
//! that would mark it and write its alerts, holding its leases, until the
//! test lets it go. Clocks that must not fire before such a point are
//! scheduled (or, for seeded rows, their processes started) only once the
//! outbox is locked.
//!
//! "Fired once in effect" is checked in the database: no deadline is left
//! pending, each is BREACHED with its `fired_at`, and the `escalation.notify`
//! outbox holds the owner's and the escalation role's alert for each (and,
//! for each stage 1 resolve clock, the complainant's holding update).
//! Without a crash nothing is written twice; after a SIGKILL only a deadline
//! the dead process had claimed may have its messages twice (the receiver
//! deduplicates by key).
//!
//! Only when `DATABASE_URL` names a Postgres server and `REDIS_URL` is set
//! (always in CI). Each test has a database of its own and its own Redis key
//! prefix, whose keys it deletes at the end; it never flushes the server,
//! which other suites may be using. The case and notification services are
//! not running: their URLs point at unused ports, so the outbox relay just
//! retries, and no deadline kind that calls the case service when it fires
//! (the day-5 referral update) is used. Warnings are turned off by the
//! policy file, so firing is the only work.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use complaints_auth::{AuthConfig, BearerToken};
use complaints_deadlines::{DeadlineQueue, IndexKeys, NewDeadline, SqlQueue, SqlQueueConfig};
use complaints_domain::calendar::Due;
use complaints_domain::case::{CaseId, DeadlineKind};
use complaints_domain::policy::{DEFAULT_POLICY_TOML, Stage};
use complaints_domain::role::Role;
use complaints_e2e::{
    Process, START_TIMEOUT, TempDir, binaries, channel, clean_command, wait_until_serving,
};
use complaints_proto::complaints::common::v1 as pb;
use complaints_proto::complaints::escalation::v1::escalation_service_client::EscalationServiceClient;
use complaints_proto::complaints::escalation::v1::{
    ApplyCaseChangeRequest, DeadlineStart, DeadlineState, GetDeadlinesRequest,
};
use complaints_proto::google::r#type::Date;
use complaints_test_support::net::free_port;
use complaints_test_support::time::timestamp_exact as timestamp;
use complaints_test_support::{TestDb, tokens};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement, TransactionTrait,
};
use tokio::task::JoinSet;

use crate::bank_holidays::london_date;

const ESCALATION: &str = "complaints.escalation.v1.EscalationService";

const SECRET: &str = "e2e-escalation-signing-secret-of-enough-bytes";
const ISSUER: &str = "https://idp.e2e.example";
const AUDIENCE: &str = "complaints-e2e";

/// The clocks each case starts, as the domain and the contract name them:
/// every kind that, when it falls due, is a breach and nothing else (the
/// day-5 referral update reads the case from the case service; the stage 2
/// response also asks the case service to escalate).
const KINDS: [(DeadlineKind, Stage, pb::DeadlineKind, pb::Stage); 5] = [
    (
        DeadlineKind::Acknowledge,
        Stage::Stage1,
        pb::DeadlineKind::Acknowledge,
        pb::Stage::Stage1,
    ),
    (
        DeadlineKind::Resolve,
        Stage::Stage1,
        pb::DeadlineKind::Resolve,
        pb::Stage::Stage1,
    ),
    (
        DeadlineKind::Stage2Acknowledge,
        Stage::Stage2,
        pb::DeadlineKind::Stage2Acknowledge,
        pb::Stage::Stage2,
    ),
    (
        DeadlineKind::Stage3Acknowledge,
        Stage::Stage3,
        pb::DeadlineKind::Stage3Acknowledge,
        pb::Stage::Stage3,
    ),
    (
        DeadlineKind::Stage3Respond,
        Stage::Stage3,
        pb::DeadlineKind::Stage3Respond,
        pb::Stage::Stage3,
    ),
];

/// `ApplyCaseChange` calls in flight while scheduling.
const IN_FLIGHT: usize = 16;

/// These tests each keep both cores of a small machine busy: run them one
/// at a time, so one's load does not starve another's leases and each
/// one's timings mean something. A Tokio mutex, as the guard is held across
/// awaits (and each test has a runtime of its own, which it does not mind).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long every process may take to list clocks just scheduled, or to
/// show a state the test waits for through `GetDeadlines`.
const LISTED_WITHIN: Duration = Duration::from_secs(120);

/// How long deadlines already due may take to be claimed, or fired, in one
/// of the steps that waits for that: generous, for two busy cores.
const FIRING_WITHIN: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_fire_100_000_deadlines_due_within_seconds_each_exactly_once() {
    const CASES: usize = 20_000;
    const DEADLINES: i64 = (CASES * KINDS.len()) as i64;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(rig) = Rig::new("load").await else {
        return;
    };

    // Scheduling 100,000 clocks through `ApplyCaseChange` took 76 s on two
    // busy cores (the other tests here schedule theirs that way).
    // Instead the rows are written with the deadlines crate's own insert,
    // where `ApplyCaseChange` ends up, and each process's start-up rebuild
    // puts them in the index. All fall due within 3 seconds of the start of
    // the load: due, or nearly, by the time the processes run.
    let base = Utc::now();
    let due = move |case: usize| base + spread(case, CASES, Duration::from_secs(3));
    let (seeded_in, sample) = seed(&rig.db.db, CASES, due).await;
    // As after any bulk load: without statistics (this server may run
    // without autovacuum) the planner takes the claim's `state, next_at`
    // index for selective, and each claim of a hundred by id scans every
    // due row.
    rig.db
        .db
        .execute_unprepared("ANALYZE deadlines")
        .await
        .unwrap();

    // Both processes must take part, however long one takes to start: the
    // outbox is locked while they start, so neither fires anything until
    // each holds a batch of its own, waiting on the lock.
    let outbox = OutboxLock::take(&rig.db.db).await;
    let started = Instant::now();
    let (mut a, mut b) = tokio::join!(
        rig.start("escalation-a", None),
        rig.start("escalation-b", None)
    );
    assert_eq!(counts(&rig.db.db).await.total, DEADLINES);
    wait_until_listed(
        &[&a, &b],
        &sample,
        Some(DeadlineState::Pending),
        LISTED_WITHIN,
    )
    .await;
    wait_until_waiting_on_the_outbox(&rig.db.db, &[&a, &b], FIRING_WITHIN).await;
    let both_held_a_batch_in = started.elapsed();
    let released = Instant::now();
    outbox.release().await;

    // About 80 s (debug builds) on two cores that other builds were sharing.
    let settled =
        wait_until_none_pending(&rig.db.db, &mut [&mut a, &mut b], Duration::from_secs(900)).await;
    let firing_took = released.elapsed();
    assert_all_breached_once(&rig.db.db, &settled, DEADLINES, &[&a, &b]).await;
    wait_until_listed(
        &[&a, &b],
        &sample,
        Some(DeadlineState::Breached),
        LISTED_WITHIN,
    )
    .await;
    let alerts = alerts(&rig.db.db).await;
    assert_eq!(
        alerts.rows,
        notify_rows(DEADLINES),
        "no crash: exactly two alerts per deadline and a holding update per resolve clock, \
         none written twice ({alerts:?})"
    );

    // Both processes took part, and between them fired each deadline once.
    let (by_a, by_b) = (a.breached_by_log(), b.breached_by_log());
    assert!(
        by_a > 0 && by_b > 0,
        "one process fired everything (a: {by_a}, b: {by_b})\n{}\n{}",
        a.process.output(),
        b.process.output()
    );
    assert_eq!(
        by_a + by_b,
        DEADLINES,
        "the processes' own counts of what they fired\n{}\n{}",
        a.process.output(),
        b.process.output()
    );
    let lag = firing_lag(&rig.db.db).await;
    eprintln!(
        "escalation load: {DEADLINES} deadlines of {CASES} cases written in {seeded_in:.1?}; \
         both processes started and holding a batch {both_held_a_batch_in:.1?} later; all \
         fired {firing_took:.1?} after the outbox was unlocked; a fired {by_a}, b fired {by_b}; \
         firing lag {lag}; meanwhile the outbox relays failed {} deliveries",
        alerts.attempts,
    );
    rig.finish(vec![a, b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_still_fire_exactly_once_when_the_redis_index_is_lost_mid_run() {
    const CASES: usize = 2_000;
    const DEADLINES: i64 = (CASES * KINDS.len()) as i64;
    /// The cases whose clocks fire before the index is lost.
    const FIRST: usize = CASES / 4;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(rig) = Rig::new("index-lost").await else {
        return;
    };
    let mut a = rig.start("escalation-a", None).await;
    let mut b = rig.start("escalation-b", None).await;
    let targets = [a.address, b.address];

    // A quarter of the cases fall due at once, and are fired.
    let now = Utc::now();
    let first: Vec<_> = (0..FIRST).map(|case| case_change(case, now)).collect();
    let mut scheduled_in = schedule(&targets, &first)
        .await
        .unwrap_or_else(|error| scheduling_failed(&error, &[&a, &b]));
    wait_until_listed(&[&a, &b], &sample(&first), None, LISTED_WITHIN).await;
    let first_deadlines = (FIRST * KINDS.len()) as i64;
    let fired_first = wait_for(&rig.db.db, FIRING_WITHIN, |c| c.breached >= first_deadlines)
        .await
        .unwrap_or_else(|last| {
            panic!(
                "the first quarter of the deadlines did not fire ({last:?})\n{}\n{}",
                a.process.output(),
                b.process.output()
            )
        });
    assert_eq!(fired_first.breached, first_deadlines, "{fired_first:?}");
    wait_until_listed(
        &[&a, &b],
        &sample(&first),
        Some(DeadlineState::Breached),
        LISTED_WITHIN,
    )
    .await;

    // The rest fall due evenly over 10 seconds, scheduled once the outbox
    // is locked: both processes claim a batch and wait inside their firing
    // transactions, and nothing more is fired until the index is gone.
    let outbox = OutboxLock::take(&rig.db.db).await;
    let base = Utc::now();
    let rest: Vec<_> = (FIRST..CASES)
        .map(|case| {
            let due = base + spread(case - FIRST, CASES - FIRST, Duration::from_secs(10));
            case_change(case, due)
        })
        .collect();
    scheduled_in += schedule(&targets, &rest)
        .await
        .unwrap_or_else(|error| scheduling_failed(&error, &[&a, &b]));
    wait_until_listed(
        &[&a, &b],
        &sample(&rest),
        Some(DeadlineState::Pending),
        LISTED_WITHIN,
    )
    .await;
    wait_until_waiting_on_the_outbox(&rig.db.db, &[&a, &b], FIRING_WITHIN).await;

    // While they fire, Redis loses every key of the index.
    let at_loss = counts(&rig.db.db).await;
    assert_eq!(
        at_loss.breached, first_deadlines,
        "nothing fired while the outbox was locked: {at_loss:?}"
    );
    assert!(
        at_loss.pending > 0,
        "all fired before the index could be lost"
    );
    let rebuilds_before = a.rebuilds() + b.rebuilds();
    let deleted = rig.redis.delete_all().unwrap();
    let lost_at = Instant::now();
    assert!(deleted >= 1, "no keys under {}", rig.redis.prefix);
    outbox.release().await;
    // Rebuilt by the next claim that finds the marker gone, or at worst by
    // the reconciler (every 30 s).
    let mut rebuilt_in = None;
    while lost_at.elapsed() < Duration::from_secs(180) {
        if rig.redis.is_marked_built().unwrap() {
            rebuilt_in = Some(lost_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rebuilt_in = rebuilt_in.unwrap_or_else(|| {
        panic!(
            "the index was not rebuilt within 180 s\n{}\n{}",
            a.process.output(),
            b.process.output()
        )
    });

    let settled = wait_until_none_pending(
        &rig.db.db,
        &mut [&mut a, &mut b],
        // The worst case is the reconciler's 30 s period, twice over, and
        // then the firing itself.
        FIRING_WITHIN,
    )
    .await;
    let recovered_in = lost_at.elapsed();
    assert_all_breached_once(&rig.db.db, &settled, DEADLINES, &[&a, &b]).await;
    wait_until_listed(
        &[&a, &b],
        &sample(&rest),
        Some(DeadlineState::Breached),
        LISTED_WITHIN,
    )
    .await;
    let alerts = alerts(&rig.db.db).await;
    assert_eq!(
        alerts.rows,
        notify_rows(DEADLINES),
        "no crash: exactly two alerts per deadline and a holding update per resolve clock, \
         none written twice ({alerts:?})"
    );
    assert!(
        a.rebuilds() + b.rebuilds() > rebuilds_before,
        "no process rebuilt the index after it was lost\n{}\n{}",
        a.process.output(),
        b.process.output()
    );
    eprintln!(
        "escalation index lost: {DEADLINES} deadlines scheduled through ApplyCaseChange in \
         {scheduled_in:.1?}; {deleted} keys deleted with {} breached and {} pending; index \
         rebuilt {rebuilt_in:.1?} later, every deadline breached {recovered_in:.1?} later; \
         a fired {}, b fired {}",
        at_loss.breached,
        at_loss.pending,
        a.breached_by_log(),
        b.breached_by_log()
    );
    rig.finish(vec![a, b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_holding_leases_loses_nothing_and_only_its_claims_may_alert_twice() {
    const CASES: usize = 1_000;
    const DEADLINES: i64 = (CASES * KINDS.len()) as i64;
    /// The cases whose clocks fire before the kill.
    const EARLY: usize = CASES / 5;
    const LEASE_SECONDS: u64 = 3;
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(rig) = Rig::new("sigkill").await else {
        return;
    };
    let mut first = rig.start("escalation-first", Some(LEASE_SECONDS)).await;

    // A fifth of the cases fall due at once, and are fired.
    let now = Utc::now();
    let early: Vec<_> = (0..EARLY).map(|case| case_change(case, now)).collect();
    let mut scheduled_in = schedule(&[first.address], &early)
        .await
        .unwrap_or_else(|error| scheduling_failed(&error, &[&first]));
    wait_until_listed(&[&first], &sample(&early), None, LISTED_WITHIN).await;
    let early_deadlines = (EARLY * KINDS.len()) as i64;
    let firing = wait_for(&rig.db.db, FIRING_WITHIN, |c| c.breached >= early_deadlines)
        .await
        .unwrap_or_else(|last| {
            panic!(
                "a fifth of the deadlines did not fire ({last:?})\n{}",
                first.process.output()
            )
        });
    wait_until_listed(
        &[&first],
        &sample(&early),
        Some(DeadlineState::Breached),
        LISTED_WITHIN,
    )
    .await;

    // Killed while firing: some deadlines breached, others not yet, and a
    // batch under its lease. Between batches it holds none, so to catch it
    // holding some every time, the outbox is locked against writes before
    // the rest are scheduled (all due within a second): the process claims
    // a batch and then waits inside the transaction that would mark it and
    // write its alerts.
    let outbox = OutboxLock::take(&rig.db.db).await;
    let base = Utc::now();
    let rest: Vec<_> = (EARLY..CASES)
        .map(|case| {
            let due = base + spread(case - EARLY, CASES - EARLY, Duration::from_secs(1));
            case_change(case, due)
        })
        .collect();
    scheduled_in += schedule(&[first.address], &rest)
        .await
        .unwrap_or_else(|error| scheduling_failed(&error, &[&first]));
    wait_until_listed(
        &[&first],
        &sample(&rest),
        Some(DeadlineState::Pending),
        LISTED_WITHIN,
    )
    .await;
    wait_until_waiting_on_the_outbox(&rig.db.db, &[&first], FIRING_WITHIN).await;
    let status = first.process.kill_hard(Duration::from_secs(10)).unwrap();
    assert!(!status.success(), "SIGKILL ended it with {status}");
    // What the dead process held; its leases run out after LEASE_SECONDS.
    let claimed = claimed_by_the_dead(&rig.db.db).await;
    // Its transaction is rolled back once its server session notices the
    // client is gone: when it gets the lock.
    outbox.release().await;
    let at_kill = counts(&rig.db.db).await;
    assert!(!claimed.is_empty(), "killed holding no lease");
    assert!(
        at_kill.pending > 0,
        "every deadline fired before the kill (breached at {} when it was sent)",
        firing.breached
    );
    let half_done = alerted_but_pending(&rig.db.db).await;

    let mut second = rig.start("escalation-second", Some(LEASE_SECONDS)).await;
    let started_again = Instant::now();
    let settled = wait_until_none_pending(&rig.db.db, &mut [&mut second], FIRING_WITHIN).await;
    let recovered_in = started_again.elapsed();
    assert_all_breached_once(&rig.db.db, &settled, DEADLINES, &[&first, &second]).await;
    wait_until_listed(
        &[&second],
        &sample(&rest),
        Some(DeadlineState::Breached),
        LISTED_WITHIN,
    )
    .await;
    assert_eq!(
        second.breached_by_log(),
        at_kill.pending,
        "the second process fired exactly what was left\n{}",
        second.process.output()
    );
    // Nobody took the dead process's deadlines before its leases ran out.
    let fired_at = fired_at(&rig.db.db).await;
    for (deadline, lease_until) in &claimed {
        assert!(
            fired_at[deadline] >= *lease_until,
            "{deadline} fired at {} inside the dead process's lease (until {lease_until})",
            fired_at[deadline]
        );
    }
    let alerts = alerts(&rig.db.db).await;
    let twice: HashSet<String> = alerts.duplicated.iter().cloned().collect();
    let claimed_ids: HashSet<String> = claimed.keys().cloned().collect();
    let strays: Vec<&String> = twice.difference(&claimed_ids).collect();
    assert!(
        strays.is_empty(),
        "deadlines the dead process had not claimed alerted twice: {strays:?} \
         (claimed: {claimed_ids:?})"
    );
    eprintln!(
        "escalation SIGKILL: {DEADLINES} deadlines scheduled through ApplyCaseChange in \
         {scheduled_in:.1?}; killed with {} breached and {} pending, {} of them \
         claimed by the dead process ({} with alerts written but not marked); a second process \
         breached the {} left in {recovered_in:.1?} (lease {LEASE_SECONDS} s); {} deadlines \
         alerted twice ({} extra alert rows)",
        at_kill.breached,
        at_kill.pending,
        claimed.len(),
        half_done,
        second.breached_by_log(),
        twice.len(),
        alerts.rows - notify_rows(DEADLINES)
    );
    rig.finish(vec![second]);
}

/// One test's database, Redis key prefix and settings for its processes.
struct Rig {
    // Declared first, so dropped first: on a panic the processes are gone
    // (dropped before the rig) and the index keys go before the database.
    redis: RedisIndex,
    db: TestDb,
    folder: TempDir,
    policy_file: PathBuf,
    /// Addresses where nothing listens: the case and notification services.
    case_url: String,
    notification_url: String,
}

impl Rig {
    /// `None`, with a message, when Postgres or Redis is not configured.
    async fn new(name: &str) -> Option<Rig> {
        let redis_url = complaints_test_support::redis_url()?;
        let db = TestDb::postgres().await?;
        // Built now, so that building is not counted in any timing.
        binaries();
        let prefix = format!("complaints-test:{{{}}}:", uuid::Uuid::new_v4());
        let folder = TempDir::new(&format!("complaints-e2e-escalation-{name}")).unwrap();
        // Warnings off: with deadlines due today, yesterday's warning would
        // be sent first, doubling the work and the alerts.
        let policy = DEFAULT_POLICY_TOML.replace(
            "warn_before_working_days = 1",
            "warn_before_working_days = 0",
        );
        assert_ne!(policy, DEFAULT_POLICY_TOML, "the default policy changed");
        let policy_file = folder.path().join("policy.toml");
        std::fs::write(&policy_file, policy).unwrap();
        Some(Rig {
            redis: RedisIndex {
                url: redis_url,
                prefix,
            },
            db,
            policy_file,
            case_url: format!("http://127.0.0.1:{}", free_port()),
            notification_url: format!("http://127.0.0.1:{}", free_port()),
            folder,
        })
    }

    /// Starts an escalation process and waits until it serves.
    async fn start(&self, name: &str, lease_seconds: Option<u64>) -> Escalation {
        let address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut command: Command = clean_command(&binaries().escalation);
        command
            .current_dir(self.folder.path())
            .env("DATABASE_URL", named_url(&self.db.url, name))
            .env("REDIS_URL", &self.redis.url)
            .env("COMPLAINTS_REDIS_PREFIX", &self.redis.prefix)
            .env("COMPLAINTS_LISTEN", address.to_string())
            .env("COMPLAINTS_JWT_SECRET", SECRET)
            .env("COMPLAINTS_JWT_ISSUER", ISSUER)
            .env("COMPLAINTS_JWT_AUDIENCE", AUDIENCE)
            .env("COMPLAINTS_CASE_URL", &self.case_url)
            .env("COMPLAINTS_NOTIFICATION_URL", &self.notification_url)
            .env("COMPLAINTS_POLICY_FILE", &self.policy_file)
            // Every failed delivery to the absent notification service is a
            // warning: hundreds of thousands of lines, none of them news.
            .env("RUST_LOG", "info,complaints_store::relay=error")
            .env("NO_COLOR", "1");
        if let Some(seconds) = lease_seconds {
            command.env("COMPLAINTS_DEADLINE_LEASE_SECONDS", seconds.to_string());
        }
        let mut process = Process::spawn(name, command).unwrap();
        wait_until_serving(&mut process, address, ESCALATION, START_TIMEOUT)
            .await
            .unwrap();
        Escalation {
            name: name.to_owned(),
            process,
            address,
        }
    }

    /// Stops the processes (each must stop cleanly on SIGTERM, having
    /// logged no error: a failed firing is retried, but it is news), then
    /// deletes the index's keys.
    fn finish(&self, processes: Vec<Escalation>) {
        for mut escalation in processes {
            let status = escalation.process.stop(Duration::from_secs(30)).unwrap();
            assert!(
                status.success(),
                "exit {status}\n{}",
                escalation.process.output()
            );
            let stderr = escalation.process.stderr();
            assert!(
                !stderr.lines().any(|line| line.contains(" ERROR ")),
                "an error was logged\n{}",
                escalation.process.output()
            );
        }
        self.redis.delete_all().unwrap();
    }
}

/// The Redis keys under one test's prefix: the whole deadline index.
struct RedisIndex {
    url: String,
    prefix: String,
}

impl RedisIndex {
    /// Deletes every key under the prefix, in one `DEL` (so a process sees
    /// the index whole or gone); answers how many there were. A blocking
    /// client, so that `Drop` can use it too: these are a few quick calls.
    fn delete_all(&self) -> anyhow::Result<usize> {
        let client = redis::Client::open(self.url.as_str())?;
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(5))?;
        let pattern = format!("{}*", self.prefix);
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query(&mut connection)?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        if !keys.is_empty() {
            redis::cmd("DEL").arg(&keys).exec(&mut connection)?;
        }
        Ok(keys.len())
    }

    /// Whether the index is marked as built from the database.
    fn is_marked_built(&self) -> anyhow::Result<bool> {
        let client = redis::Client::open(self.url.as_str())?;
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(5))?;
        Ok(redis::cmd("EXISTS")
            .arg(IndexKeys::with_prefix(&self.prefix).built)
            .query(&mut connection)?)
    }
}

impl Drop for RedisIndex {
    fn drop(&mut self) {
        if let Err(error) = self.delete_all() {
            eprintln!(
                "note: Redis keys under {} were left behind: {error:#}",
                self.prefix
            );
        }
    }
}

/// A running escalation process and where it listens.
struct Escalation {
    /// Also its database sessions' `application_name`.
    name: String,
    process: Process,
    address: SocketAddr,
}

impl Escalation {
    /// How many deadlines this process says it breached: the sum of its
    /// "deadlines fired" log lines (`Fired { breached: N, .. }`).
    fn breached_by_log(&self) -> i64 {
        self.process
            .stderr()
            .lines()
            .filter(|line| line.contains("deadlines fired"))
            .filter_map(|line| {
                let rest = &line[line.find("breached: ")? + "breached: ".len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<i64>().ok()
            })
            .sum()
    }

    /// How many times this process rebuilt the index from the database.
    fn rebuilds(&self) -> usize {
        self.process
            .stderr()
            .matches("deadline index rebuilt from the database")
            .count()
    }
}

/// The database URL for the process `name`: the test's database, with
/// `name` as the sessions' `application_name`, so that `pg_stat_activity`
/// tells the processes' sessions apart.
fn named_url(url: &str, name: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={name}")
}

/// Fails the test with what the processes printed.
fn scheduling_failed(error: &anyhow::Error, processes: &[&Escalation]) -> ! {
    let outputs: Vec<String> = processes.iter().map(|e| e.process.output()).collect();
    panic!("scheduling failed: {error:#}\n{}", outputs.join("\n"))
}

/// `total` cases' due instants spread evenly over `over`.
fn spread(case: usize, total: usize, over: Duration) -> chrono::Duration {
    let millis = over.as_millis() as usize * case / total.max(1);
    chrono::Duration::milliseconds(millis as i64)
}

fn service_token() -> String {
    let config = AuthConfig::new(ISSUER, AUDIENCE).with_hs256_secret(SECRET);
    tokens::mint(&config, "case", Role::Service, Duration::from_secs(3600))
}

/// Case `case`'s change as the case service's outbox would carry it: its
/// five clocks, all due at `due_at`, owned by the complaints handler and
/// escalated to the CX manager.
fn case_change(case: usize, due_at: DateTime<Utc>) -> ApplyCaseChangeRequest {
    use chrono::Datelike;
    let day = london_date(due_at);
    let start = KINDS
        .iter()
        .map(|(_, _, kind, stage)| DeadlineStart {
            kind: *kind as i32,
            stage: *stage as i32,
            working_days: 3,
            due_date: Some(Date {
                year: day.year(),
                month: i32::try_from(day.month()).unwrap(),
                day: i32::try_from(day.day()).unwrap(),
            }),
            due_at: Some(timestamp(due_at)),
            reason: "end-to-end load".to_owned(),
            owner_role: pb::Role::ComplaintsHandler as i32,
            escalation_role: pb::Role::CxManager as i32,
            started_at: None,
        })
        .collect();
    ApplyCaseChangeRequest {
        case_id: uuid::Uuid::now_v7().to_string(),
        register_number: format!("CMP-E2E-{case:06}"),
        version: 1,
        policy_version: "2026-01".to_owned(),
        start,
        settle: Vec::new(),
        // Nobody assigned: the alerts go to the roles only.
        assignee: String::new(),
    }
}

/// Writes `cases` cases' clocks (as [`case_change`] would start them)
/// straight into the database, in batches, for processes started afterwards
/// to find. Answers how long it took, and the first and last cases' ids.
async fn seed(
    db: &DatabaseConnection,
    cases: usize,
    due: impl Fn(usize) -> DateTime<Utc>,
) -> (Duration, Vec<String>) {
    const BATCH: usize = 5_000;
    let queue = SqlQueue::new(db.clone(), SqlQueueConfig::default());
    let started = Instant::now();
    let mut sample = Vec::new();
    let now = Utc::now();
    let mut batch = Vec::with_capacity(BATCH);
    for case in 0..cases {
        let at = due(case);
        let case_id = CaseId(uuid::Uuid::now_v7());
        if case == 0 || case + 1 == cases {
            sample.push(case_id.to_string());
        }
        for (kind, stage, _, _) in KINDS {
            batch.push(NewDeadline {
                case_id,
                register_number: format!("CMP-E2E-{case:06}"),
                kind,
                stage,
                working_days: 3,
                due: Due {
                    date: london_date(at),
                    at,
                },
                reason: "end-to-end load".to_owned(),
                policy_version: "2026-01".to_owned(),
                owner_role: Role::ComplaintsHandler,
                escalation_role: Role::CxManager,
                warn_at: None,
                created_at: now,
            });
        }
        if batch.len() >= BATCH || case + 1 == cases {
            let scheduled = queue
                .schedule_many(std::mem::take(&mut batch))
                .await
                .unwrap();
            assert!(scheduled.iter().all(|s| s.created));
        }
    }
    (started.elapsed(), sample)
}

/// Sends `changes` through `ApplyCaseChange` with a service token, spread
/// over the processes at `targets`, [`IN_FLIGHT`] at a time. Every clock
/// must start. Answers how long it took.
async fn schedule(
    targets: &[SocketAddr],
    changes: &[ApplyCaseChangeRequest],
) -> anyhow::Result<Duration> {
    let token = BearerToken::new(service_token())?;
    let clients = targets
        .iter()
        .map(|address| {
            Ok(EscalationServiceClient::with_interceptor(
                channel(*address)?,
                token.clone(),
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let requests: Arc<Vec<ApplyCaseChangeRequest>> = Arc::new(changes.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut senders = JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (requests, next, clients) = (requests.clone(), next.clone(), clients.clone());
        senders.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(index) else {
                    return anyhow::Ok(());
                };
                let mut client = clients[index % clients.len()].clone();
                let reply = client
                    .apply_case_change(request.clone())
                    .await
                    .map_err(|status| anyhow::anyhow!("case change {index}: {status:?}"))?
                    .into_inner();
                anyhow::ensure!(
                    reply.started == KINDS.len() as i32,
                    "case change {index} started {} clocks",
                    reply.started
                );
            }
        });
    }
    while let Some(sent) = senders.join_next().await {
        sent??;
    }
    Ok(started.elapsed())
}

/// The deadlines by state.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    total: i64,
    pending: i64,
    breached: i64,
    /// Breached with `fired_at` set.
    fired: i64,
}

async fn counts(db: &DatabaseConnection) -> Counts {
    let row = one(
        db,
        "SELECT count(*) AS total,
                count(*) FILTER (WHERE state = 'pending') AS pending,
                count(*) FILTER (WHERE state = 'breached') AS breached,
                count(*) FILTER (WHERE state = 'breached' AND fired_at IS NOT NULL) AS fired
         FROM deadlines",
    )
    .await;
    Counts {
        total: row.try_get("", "total").unwrap(),
        pending: row.try_get("", "pending").unwrap(),
        breached: row.try_get("", "breached").unwrap(),
        fired: row.try_get("", "fired").unwrap(),
    }
}

/// Polls the counts every 100 ms until `done` holds; `Err` with the last
/// counts after `timeout`.
async fn wait_for(
    db: &DatabaseConnection,
    timeout: Duration,
    done: impl Fn(&Counts) -> bool,
) -> Result<Counts, Counts> {
    let deadline = Instant::now() + timeout;
    loop {
        let now = counts(db).await;
        if done(&now) {
            return Ok(now);
        }
        if Instant::now() >= deadline {
            return Err(now);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls once a second until no deadline is pending, failing with the
/// processes' output if one exits or `timeout` passes first.
async fn wait_until_none_pending(
    db: &DatabaseConnection,
    processes: &mut [&mut Escalation],
    timeout: Duration,
) -> Counts {
    let deadline = Instant::now() + timeout;
    loop {
        let now = counts(db).await;
        if now.pending == 0 {
            return now;
        }
        for escalation in processes.iter_mut() {
            escalation.process.ensure_running().unwrap();
        }
        if Instant::now() >= deadline {
            let outputs: Vec<String> = processes.iter().map(|e| e.process.output()).collect();
            panic!(
                "deadlines still pending after {timeout:?}: {now:?}\n{}",
                outputs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Every deadline BREACHED with its `fired_at`, and its owner's and
/// escalation role's breach alerts in the outbox (at least once).
async fn assert_all_breached_once(
    db: &DatabaseConnection,
    settled: &Counts,
    deadlines: i64,
    processes: &[&Escalation],
) {
    let outputs = || -> String {
        let outputs: Vec<String> = processes.iter().map(|e| e.process.output()).collect();
        outputs.join("\n")
    };
    assert_eq!(settled.total, deadlines, "{settled:?}\n{}", outputs());
    assert_eq!(settled.breached, deadlines, "{settled:?}\n{}", outputs());
    assert_eq!(settled.fired, deadlines, "fired_at unset: {settled:?}");
    let alerts = alerts(db).await;
    assert_eq!(
        alerts.keys,
        2 * deadlines,
        "one owner and one escalation alert per deadline: {alerts:?}\n{}",
        outputs()
    );
    assert_eq!(
        alerts.deadlines_with_both, deadlines,
        "a deadline lacks one of its alerts: {alerts:?}"
    );
    assert_eq!(
        alerts.holding_updates,
        resolve_clocks(deadlines),
        "one holding update to the complainant per stage 1 resolve clock: {alerts:?}"
    );
    assert_eq!(alerts.case_steps, 0, "asked the case service for something");
}

/// Of `deadlines` started by [`case_change`], the stage 1 resolve clocks: one
/// per case.
fn resolve_clocks(deadlines: i64) -> i64 {
    deadlines / KINDS.len() as i64
}

/// The rows a run without a crash leaves in `escalation.notify` for
/// `deadlines`: two staff alerts per deadline and one holding update per
/// resolve clock, none written twice.
fn notify_rows(deadlines: i64) -> i64 {
    2 * deadlines + resolve_clocks(deadlines)
}

/// What the `escalation.notify` outbox holds: the staff's breach alerts
/// and, when a stage 1 resolve clock breaches, the complainant's holding
/// update (when we will be in touch next).
#[derive(Debug, Default)]
struct Alerts {
    /// Every row, of either kind.
    rows: i64,
    /// Distinct dedupe keys of breach alerts (`<deadline id>/breach/<role>`).
    keys: i64,
    /// Distinct dedupe keys of holding updates (`<deadline id>/holding_update`).
    holding_updates: i64,
    /// Deadlines with both their owner's and escalation role's breach alert.
    deadlines_with_both: i64,
    /// Rows of the `escalation.case` topic.
    case_steps: i64,
    /// Failed deliveries so far: nothing listens at the notification URL.
    attempts: i64,
    /// Deadlines with some alert written more than once.
    duplicated: Vec<String>,
}

async fn alerts(db: &DatabaseConnection) -> Alerts {
    let row = one(
        db,
        "WITH alerts AS (
             SELECT payload::json ->> 'dedupe_key' AS dedupe_key
             FROM outbox WHERE topic = 'escalation.notify'
         ), keys AS (SELECT DISTINCT dedupe_key FROM alerts)
         SELECT (SELECT count(*) FROM alerts) AS rows,
                (SELECT count(*) FROM keys WHERE dedupe_key LIKE '%/breach/%') AS keys,
                (SELECT count(*) FROM keys WHERE dedupe_key LIKE '%/holding_update')
                  AS holding_updates,
                (SELECT count(*) FROM deadlines d
                 JOIN keys o ON o.dedupe_key = d.deadline_id::text || '/breach/' || d.owner_role
                 JOIN keys e
                   ON e.dedupe_key = d.deadline_id::text || '/breach/' || d.escalation_role
                ) AS deadlines_with_both,
                (SELECT count(*) FROM outbox WHERE topic = 'escalation.case') AS case_steps,
                (SELECT coalesce(sum(attempts), 0)::int8 FROM outbox) AS attempts",
    )
    .await;
    let duplicated = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT DISTINCT split_part(dedupe_key, '/', 1) AS deadline_id
             FROM (SELECT payload::json ->> 'dedupe_key' AS dedupe_key
                   FROM outbox WHERE topic = 'escalation.notify') AS alerts
             GROUP BY dedupe_key HAVING count(*) > 1",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "deadline_id").unwrap())
        .collect();
    Alerts {
        rows: row.try_get("", "rows").unwrap(),
        keys: row.try_get("", "keys").unwrap(),
        holding_updates: row.try_get("", "holding_updates").unwrap(),
        deadlines_with_both: row.try_get("", "deadlines_with_both").unwrap(),
        case_steps: row.try_get("", "case_steps").unwrap(),
        attempts: row.try_get("", "attempts").unwrap(),
        duplicated,
    }
}

/// The pending deadlines under a lease, with the lease's end: right after
/// a SIGKILL of the only process, those the dead process had claimed.
async fn claimed_by_the_dead(db: &DatabaseConnection) -> HashMap<String, DateTime<Utc>> {
    db.query_all_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT deadline_id::text AS deadline_id, lease_until FROM deadlines
         WHERE state = 'pending' AND lease_owner IS NOT NULL",
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| {
        (
            row.try_get("", "deadline_id").unwrap(),
            row.try_get("", "lease_until").unwrap(),
        )
    })
    .collect()
}

/// Each fired deadline's `fired_at`.
async fn fired_at(db: &DatabaseConnection) -> HashMap<String, DateTime<Utc>> {
    db.query_all_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT deadline_id::text AS deadline_id, fired_at FROM deadlines
         WHERE fired_at IS NOT NULL",
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| {
        (
            row.try_get("", "deadline_id").unwrap(),
            row.try_get("", "fired_at").unwrap(),
        )
    })
    .collect()
}

/// The outbox locked against writes (`EXCLUSIVE`: plain reads go on) until
/// released: a process that claims a batch then waits inside the
/// transaction that would mark it and write its alerts, holding its leases.
struct OutboxLock(sea_orm::DatabaseTransaction);

impl OutboxLock {
    async fn take(db: &DatabaseConnection) -> OutboxLock {
        let lock = db.begin().await.unwrap();
        lock.execute_unprepared("LOCK TABLE outbox IN EXCLUSIVE MODE")
            .await
            .unwrap();
        OutboxLock(lock)
    }

    async fn release(self) {
        self.0.rollback().await.unwrap();
    }
}

/// Polls until each of `processes` has a session waiting for the lock to
/// write to the outbox while deadlines are under a lease (a worker inside
/// its firing transaction, holding its claimed batch); fails with the
/// processes' output after `timeout`.
async fn wait_until_waiting_on_the_outbox(
    db: &DatabaseConnection,
    processes: &[&Escalation],
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    let mut waiting = HashSet::new();
    let mut leased = 0;
    while Instant::now() < deadline {
        waiting = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT DISTINCT application_name FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE '%INSERT INTO \"outbox\" %'",
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String>("", "application_name").unwrap())
            .collect::<HashSet<String>>();
        leased = one(
            db,
            "SELECT count(*) AS n FROM deadlines
             WHERE state = 'pending' AND lease_owner IS NOT NULL",
        )
        .await
        .try_get::<i64>("", "n")
        .unwrap();
        if leased > 0 && processes.iter().all(|e| waiting.contains(&e.name)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let outputs: Vec<String> = processes.iter().map(|e| e.process.output()).collect();
    panic!(
        "not every process waited on the outbox holding leases within {timeout:?} (waiting: \
         {waiting:?}; {leased} deadlines leased)\n{}",
        outputs.join("\n")
    );
}

/// The first and last cases' ids of `changes`.
fn sample(changes: &[ApplyCaseChangeRequest]) -> Vec<String> {
    let ends = [changes.first(), changes.last()];
    ends.into_iter()
        .flatten()
        .map(|change| change.case_id.clone())
        .collect()
}

/// Polls `GetDeadlines` for each of `cases` through every one of
/// `processes` until each lists its clocks, one of each kind in [`KINDS`],
/// all in `state` if one is given (a breached one with its `fired_at`);
/// fails with the last answer and the processes' output after `timeout`.
async fn wait_until_listed(
    processes: &[&Escalation],
    cases: &[String],
    state: Option<DeadlineState>,
    timeout: Duration,
) {
    let token = BearerToken::new(service_token()).unwrap();
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no answer yet");
    'poll: while Instant::now() < deadline {
        for escalation in processes {
            let mut client = EscalationServiceClient::with_interceptor(
                channel(escalation.address).unwrap(),
                token.clone(),
            );
            for case_id in cases {
                let request = GetDeadlinesRequest {
                    case_id: case_id.clone(),
                };
                let deadlines = match client.get_deadlines(request).await {
                    Ok(answer) => answer.into_inner().deadlines,
                    Err(status) => {
                        last = format!("{} on {case_id}: {status:?}", escalation.name);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue 'poll;
                    }
                };
                let mut kinds: Vec<i32> = deadlines.iter().map(|d| d.kind).collect();
                kinds.sort_unstable();
                let mut want: Vec<i32> = KINDS.iter().map(|(_, _, kind, _)| *kind as i32).collect();
                want.sort_unstable();
                let in_state = state.is_none_or(|state| {
                    deadlines.iter().all(|d| {
                        d.state == state as i32
                            && (state != DeadlineState::Breached || d.fired_at.is_some())
                    })
                });
                if kinds != want || !in_state {
                    last = format!("{} on {case_id}: {deadlines:#?}", escalation.name);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue 'poll;
                }
            }
        }
        return;
    }
    let outputs: Vec<String> = processes.iter().map(|e| e.process.output()).collect();
    panic!(
        "the clocks of {cases:?} were not listed{} within {timeout:?}; last: {last}\n{}",
        state.map_or(String::new(), |state| format!(" as {state:?}")),
        outputs.join("\n")
    );
}

/// Pending deadlines whose alerts are already in the outbox: the dead
/// process wrote them and died before marking the deadline.
async fn alerted_but_pending(db: &DatabaseConnection) -> i64 {
    one(
        db,
        "SELECT count(*) AS n FROM deadlines
         WHERE state = 'pending' AND deadline_id::text IN (
             SELECT split_part(payload::json ->> 'dedupe_key', '/', 1)
             FROM outbox WHERE topic = 'escalation.notify')",
    )
    .await
    .try_get("", "n")
    .unwrap()
}

/// Fired minus due, over every deadline.
async fn firing_lag(db: &DatabaseConnection) -> String {
    let row = one(
        db,
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99,
                max(lag) AS worst
         FROM (SELECT extract(epoch FROM fired_at - due_at)::float8 AS lag
               FROM deadlines) AS lags",
    )
    .await;
    let seconds = |column: &str| row.try_get::<f64>("", column).unwrap();
    format!(
        "p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        seconds("p50"),
        seconds("p99"),
        seconds("worst")
    )
}

async fn one(db: &DatabaseConnection, sql: &str) -> QueryResult {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap()
}
