//! `deadline-bench`: the deadline queue's figures, each beside the machine's
//! own ceiling measured in the same run (see BENCHMARKS.md).
//!
//! It starts a `redis-server` of its own on a free loopback port (the
//! shared Redis is never touched) and a scratch database on `DATABASE_URL`
//! (Postgres; created and dropped), and with the Redis backend over
//! Postgres measures, with `--pending N` deadlines pending (default
//! 1,000,000, spread over 60 days from tomorrow):
//!
//! - the schedule rate: batched (`schedule_many`, 1,000 a call, 4 tasks)
//!   and one at a time (`schedule`, 16 tasks); Redis memory per pending
//!   deadline; the index rebuild rate;
//! - a lone deadline's firing lag (fired minus due), `--lone` times, each
//!   scheduled 10 to 60 ms ahead while the workers sleep, one at a time;
//! - the CPU the sleeping workers use (this process's, from
//!   `/proc/self/stat`, and the Redis server's) over `--idle-secs`, and the
//!   time of one reconciler pass;
//! - 20 reconciler passes of a second replica while 16 tasks schedule
//!   deadlines one at a time, without and with the second look at a
//!   shortfall: how many rebuilt the index although nothing was lost, and
//!   how far the index's member count ran ahead of the
//!   pending rows (or behind them);
//! - `--bursts` bursts of `--burst` deadlines (default 2 of 10,000) all due
//!   at one instant while the workers sleep: the time from that instant to
//!   the last firing (drain time) and the lag percentiles;
//! - the fire rate: a backlog of `--backlog` deadlines (default 100,000)
//!   already due, drained by `--workers` worker loops (default 8) claiming
//!   `--claim` at a time (default 1,000), completing each claimed batch with
//!   `complete_fire_many` (as the escalation service does), and a fifth of
//!   that backlog completed deadline by deadline (`complete_fire`).
//!
//! The workers run as the escalation service runs them: `wait_for_work`,
//! then `claim_due` until nothing is left. The ceiling is
//! `redis-benchmark -t zadd -n <--zadd> -q` against the bench's own Redis,
//! run twice (before the firings and at the end); each rate is printed as a
//! ratio of their mean. Percentiles come from an HDR histogram (µs, 3
//! significant digits).
//!
//! ```text
//! cargo run --release -p complaints-deadlines --bin deadline-bench -- --pending 1000000
//! ```

use std::error::Error;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use complaints_deadlines::{
    DeadlineId, DeadlineQueue, FireOutcome, NewDeadline, QueueError, Reconciled, RedisQueue,
    RedisQueueConfig, WorkerId,
};
use complaints_domain::calendar::Due;
use complaints_domain::case::{CaseId, DeadlineKind};
use complaints_domain::clock::SystemClock;
use complaints_domain::role::Role;
use hdrhistogram::Histogram;
use sea_orm::{ConnectionTrait, Database};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// A worker's lease: far longer than any firing here takes.
const LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Options {
    pending: usize,
    burst: usize,
    bursts: usize,
    backlog: usize,
    lone: usize,
    workers: usize,
    claim: usize,
    zadd: usize,
    idle_secs: u64,
    database_url: String,
}

impl Options {
    fn parse() -> BenchResult<Options> {
        let mut options = Options {
            pending: 1_000_000,
            burst: 10_000,
            bursts: 2,
            backlog: 100_000,
            lone: 300,
            workers: 8,
            claim: 1_000,
            zadd: 1_000_000,
            idle_secs: 10,
            database_url: std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--pending" => options.pending = value()?.parse()?,
                "--burst" => options.burst = value()?.parse()?,
                "--bursts" => options.bursts = value()?.parse()?,
                "--backlog" => options.backlog = value()?.parse()?,
                "--lone" => options.lone = value()?.parse()?,
                "--workers" => options.workers = value()?.parse()?,
                "--claim" => options.claim = value()?.parse()?,
                "--zadd" => options.zadd = value()?.parse()?,
                "--idle-secs" => options.idle_secs = value()?.parse()?,
                "--database-url" => options.database_url = value()?,
                "--help" | "-h" => {
                    println!(
                        "deadline-bench [--pending N] [--burst N] [--bursts N] [--backlog N] \
                         [--lone N] [--workers N] [--claim N] [--zadd N] [--idle-secs N] \
                         [--database-url URL]"
                    );
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}; try --help").into()),
            }
        }
        if options.burst == 0
            || options.bursts == 0
            || options.backlog == 0
            || options.workers == 0
            || options.zadd == 0
            || !(1..=1000).contains(&options.claim)
        {
            return Err(
                "--burst, --bursts, --backlog, --workers and --zadd must be positive; \
                        --claim 1 to 1000"
                    .into(),
            );
        }
        Ok(options)
    }
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let options = Options::parse()?;
    let mut redis_server = OwnRedis::start().await?;
    let name = format!("complaints_bench_{}", Uuid::new_v4().simple());
    let admin = Database::connect(options.database_url.as_str()).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;

    let outcome = run(
        &options,
        &replace_database(&options.database_url, &name),
        &redis_server,
    )
    .await;

    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    redis_server.stop().await;
    let report = outcome?;
    println!("{report}");
    Ok(())
}

/// A `redis-server` of the bench's own, on a free loopback port, saving
/// nothing; stopped at the end (or when dropped).
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    async fn start() -> BenchResult<OwnRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("starting redis-server (is it on PATH?): {error}"))?;
        let server = OwnRedis { port, child };
        let started = Instant::now();
        loop {
            if let Ok(mut redis) = redis_connection(&server.url()).await
                && redis::cmd("PING")
                    .query_async::<String>(&mut redis)
                    .await
                    .is_ok()
            {
                return Ok(server);
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err(format!("redis-server on port {port} did not answer").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

async fn run(options: &Options, database_url: &str, server: &OwnRedis) -> BenchResult<String> {
    let db = complaints_store::db::connect(database_url).await?;
    let queue = Arc::new(
        RedisQueue::connect(
            db,
            &server.url(),
            RedisQueueConfig {
                key_prefix: "complaints-bench:{deadlines}:".to_owned(),
                ..RedisQueueConfig::default()
            },
        )
        .await?,
    );
    let mut redis = redis_connection(&server.url()).await?;
    let now = Utc::now();

    progress(format!("scheduling {} pending deadlines", options.pending));
    let memory_before = used_memory(&mut redis).await?;
    let started = Instant::now();
    // Spread over 60 days from tomorrow: none falls due during the run.
    let step_ms = TimeDelta::days(60).num_milliseconds() / options.pending.max(1) as i64;
    schedule_batched(&queue, options.pending, 4, move |i| {
        now + TimeDelta::days(1) + TimeDelta::milliseconds(i as i64 * step_ms)
    })
    .await?;
    let batched_rate = options.pending as f64 / started.elapsed().as_secs_f64();
    let memory_after = used_memory(&mut redis).await?;
    let bytes_per_pending = (memory_after - memory_before) as f64 / options.pending.max(1) as f64;

    let singles = 5_000.min(options.pending.max(1000));
    progress(format!("scheduling {singles} one at a time"));
    let started = Instant::now();
    schedule_singly(&queue, singles, 16, now + TimeDelta::days(90)).await?;
    let single_rate = singles as f64 / started.elapsed().as_secs_f64();

    progress("rebuilding the index after losing it".to_owned());
    // UNLINK frees the million members off Redis's main thread.
    redis::cmd("UNLINK")
        .arg(&queue.keys().due)
        .query_async::<()>(&mut redis)
        .await?;
    let started = Instant::now();
    let cpu_before = process_cpu_seconds()?;
    let rebuilt = queue.rebuild_index().await?;
    let rebuild = (started.elapsed(), process_cpu_seconds()? - cpu_before);
    let rebuild_rate = rebuilt as f64 / rebuild.0.as_secs_f64();

    progress("timing a reconciler pass".to_owned());
    let started = Instant::now();
    let cpu_before = process_cpu_seconds()?;
    queue.reconcile().await?;
    let reconcile = (started.elapsed(), process_cpu_seconds()? - cpu_before);

    let mut shortfalls = Vec::new();
    for recheck in [
        Duration::ZERO,
        RedisQueueConfig::default().shortfall_recheck,
    ] {
        progress(format!(
            "reconciler passes while deadlines are scheduled, second look after {recheck:?}"
        ));
        shortfalls.push(reconcile_while_scheduling(&queue, &server.url(), recheck, now).await?);
    }

    let zadd_before = zadd_ceiling(server.port, options.zadd).await?;

    let lone = lone_lags(&queue, options).await?;
    let idle = idle_cpu(&queue, options, &mut redis).await?;

    let mut bursts = Vec::new();
    for n in 0..options.bursts {
        bursts.push(burst(&queue, options, n).await?);
    }

    let per_batch = fire_backlog(&queue, options, options.backlog, FireMode::PerBatch).await?;
    let one_by_one = fire_backlog(
        &queue,
        options,
        (options.backlog / 5).max(1),
        FireMode::OneByOne,
    )
    .await?;

    let zadd_after = zadd_ceiling(server.port, options.zadd).await?;

    Ok(report(
        options,
        &Figures {
            batched_rate,
            single_rate,
            rebuild_rate,
            rebuilt,
            rebuild,
            reconcile,
            shortfalls,
            bytes_per_pending,
            lone,
            idle,
            bursts,
            backlogs: vec![per_batch, one_by_one],
            zadd: (zadd_before, zadd_after),
        },
    ))
}

struct Figures {
    batched_rate: f64,
    single_rate: f64,
    rebuild_rate: f64,
    rebuilt: u64,
    /// Wall time and this process's CPU seconds.
    rebuild: (Duration, f64),
    reconcile: (Duration, f64),
    shortfalls: Vec<Shortfalls>,
    bytes_per_pending: f64,
    lone: Histogram<u64>,
    idle: Idle,
    bursts: Vec<Burst>,
    backlogs: Vec<Backlog>,
    zadd: (f64, f64),
}

/// Reconciler passes run while 16 tasks schedule deadlines one at a time.
struct Shortfalls {
    /// The pass's second look after a shortfall (zero: none, as before).
    recheck: Duration,
    passes: u32,
    /// Passes that rebuilt the index: nothing was lost, so each took a
    /// schedule in flight for a lost member.
    rebuilt: u32,
    /// The most and the fewest members beyond the pending rows a pass
    /// counted (negative: fewer members than rows); `None` when every pass
    /// rebuilt.
    ahead: Option<(i64, i64)>,
}

struct Idle {
    seconds: f64,
    /// This process's CPU time over the window, in % of one core.
    process_percent: f64,
    /// The Redis server's.
    redis_percent: f64,
}

struct Burst {
    drain: Duration,
    lags: Histogram<u64>,
}

struct Backlog {
    mode: FireMode,
    count: usize,
    rate: f64,
}

/// How the workers complete what they claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FireMode {
    /// `complete_fire` per deadline: one statement and commit each.
    OneByOne,
    /// `complete_fire_many` per claimed batch: one statement per batch.
    PerBatch,
}

impl FireMode {
    fn describe(self) -> &'static str {
        match self {
            FireMode::OneByOne => "`complete_fire` per deadline",
            FireMode::PerBatch => "`complete_fire_many` per claimed batch",
        }
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn lag_cell(lags: &Histogram<u64>) -> String {
    format!(
        "{:.1} / {:.1} / {:.1} ms (n = {})",
        ms(lags.value_at_quantile(0.5)),
        ms(lags.value_at_quantile(0.99)),
        ms(lags.max()),
        lags.len()
    )
}

fn report(options: &Options, figures: &Figures) -> String {
    let (before, after) = figures.zadd;
    let ceiling = (before + after) / 2.0;
    let ratio = |rate: f64| format!("{:.3}", rate / ceiling);
    let met = |ok: bool| if ok { "met" } else { "missed" };
    let mut out = String::new();
    out.push_str(&format!(
        "\n## Deadline queue benchmark\n\n\
         `cargo run --release -p complaints-deadlines --bin deadline-bench -- --pending {} \
         --burst {} --bursts {} --backlog {} --lone {} --workers {} --claim {}`\n\n\
         Redis backend over Postgres; {} cores; {} workers claiming {} at a time. \
         Ceiling: `redis-benchmark -t zadd -n {} -q` on the bench's own Redis in the same run: \
         {before:.0}/s before the firings, {after:.0}/s after; ratios are to the mean, {ceiling:.0}/s.\n\n",
        options.pending,
        options.burst,
        options.bursts,
        options.backlog,
        options.lone,
        options.workers,
        options.claim,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.workers,
        options.claim,
        options.zadd,
    ));
    out.push_str("| measure | value | ratio to ZADD | target |\n|---|---|---|---|\n");
    out.push_str(&format!(
        "| schedule, batched (`schedule_many` x 1,000, 4 tasks), {} pending | {:.0}/s | {} | |\n",
        options.pending,
        figures.batched_rate,
        ratio(figures.batched_rate)
    ));
    out.push_str(&format!(
        "| schedule, one at a time (`schedule`, 16 tasks) | {:.0}/s | {} | |\n",
        figures.single_rate,
        ratio(figures.single_rate)
    ));
    for backlog in &figures.backlogs {
        let target = if backlog.mode == FireMode::PerBatch {
            format!("≥ 0.25: {}", met(backlog.rate / ceiling >= 0.25))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "| fire rate: backlog of {} due, `claim_due` ({}) + {} | {:.0}/s | {} | {target} |\n",
            backlog.count,
            options.claim,
            backlog.mode.describe(),
            backlog.rate,
            ratio(backlog.rate)
        ));
    }
    let lone_p99 = ms(figures.lone.value_at_quantile(0.99));
    out.push_str(&format!(
        "| lone deadline lag (fired minus due) p50 / p99 / max | {} | | p99 < 50 ms: {} |\n",
        lag_cell(&figures.lone),
        met(lone_p99 < 50.0)
    ));
    for (n, burst) in figures.bursts.iter().enumerate() {
        out.push_str(&format!(
            "| burst {} of {} due at one instant: drain time (due to last firing) | {:.0} ms | | ≤ 1 s: {} |\n",
            n + 1,
            options.burst,
            burst.drain.as_secs_f64() * 1000.0,
            met(burst.drain <= Duration::from_secs(1))
        ));
        out.push_str(&format!(
            "| burst {} lag p50 / p99 / max | {} | | |\n",
            n + 1,
            lag_cell(&burst.lags)
        ));
    }
    out.push_str(&format!(
        "| idle: {} sleeping workers, {:.0} s: this process / Redis CPU | {:.3}% / {:.3}% of a core | | < 0.5%: {} |\n",
        options.workers,
        figures.idle.seconds,
        figures.idle.process_percent,
        figures.idle.redis_percent,
        met(figures.idle.process_percent < 0.5)
    ));
    out.push_str(&format!(
        "| one reconciler pass ({} pending): wall / this process's CPU | {:.0} ms / {:.0} ms | | |\n",
        figures.rebuilt,
        figures.reconcile.0.as_secs_f64() * 1000.0,
        figures.reconcile.1 * 1000.0
    ));
    for shortfall in &figures.shortfalls {
        out.push_str(&format!(
            "| reconciler passes while 16 tasks schedule one at a time, a shortfall looked at again after {} ms: rebuilt (nothing was lost); index members beyond the pending rows, most / fewest | {} of {}; {} / {} | | |\n",
            shortfall.recheck.as_millis(),
            shortfall.rebuilt,
            shortfall.passes,
            shortfall.ahead.map_or("-".to_owned(), |(most, _)| most.to_string()),
            shortfall.ahead.map_or("-".to_owned(), |(_, fewest)| fewest.to_string()),
        ));
    }
    out.push_str(&format!(
        "| index rebuild from the database ({} pending): rate; wall / this process's CPU | {:.0}/s; {:.1} s / {:.1} s | {} | |\n",
        figures.rebuilt,
        figures.rebuild_rate,
        figures.rebuild.0.as_secs_f64(),
        figures.rebuild.1,
        ratio(figures.rebuild_rate)
    ));
    out.push_str(&format!(
        "| Redis memory per pending deadline (`used_memory` delta / pending) | {:.0} bytes | | |\n",
        figures.bytes_per_pending
    ));
    out
}

/// Worker loops as the escalation service runs them, reporting each firing
/// as (due, fired).
struct Workers {
    stop: watch::Sender<bool>,
    fired: mpsc::UnboundedReceiver<(DateTime<Utc>, DateTime<Utc>)>,
    handles: Vec<JoinHandle<Result<(), QueueError>>>,
}

impl Workers {
    fn start(queue: &Arc<RedisQueue>, options: &Options, mode: FireMode) -> BenchResult<Workers> {
        let (stop, stopped) = watch::channel(false);
        let (fired_tx, fired) = mpsc::unbounded_channel();
        let mut handles = Vec::new();
        for _ in 0..options.workers {
            let queue = queue.clone();
            let fired = fired_tx.clone();
            let mut stopped = stopped.clone();
            let worker = WorkerId::unique("bench");
            let claim = options.claim;
            handles.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stopped.changed() => break,
                        woke = queue.wait_for_work(&SystemClock) => woke?,
                    }
                    loop {
                        let claimed = queue.claim_due(Utc::now(), claim, &worker, LEASE).await?;
                        if claimed.is_empty() {
                            break;
                        }
                        match mode {
                            FireMode::OneByOne => {
                                for claim in claimed {
                                    let id = claim.deadline.deadline_id;
                                    if queue
                                        .complete_fire(
                                            id,
                                            &worker,
                                            FireOutcome::Breached,
                                            Utc::now(),
                                        )
                                        .await?
                                    {
                                        let _ = fired.send((claim.deadline.due.at, Utc::now()));
                                    }
                                }
                            }
                            FireMode::PerBatch => {
                                let batch: Vec<_> = claimed
                                    .iter()
                                    .map(|c| (c.deadline.deadline_id, FireOutcome::Breached))
                                    .collect();
                                let done = queue
                                    .complete_fire_many(&batch, &worker, Utc::now())
                                    .await?;
                                let at = Utc::now();
                                let done: std::collections::HashSet<DeadlineId> =
                                    done.into_iter().collect();
                                for claim in &claimed {
                                    if done.contains(&claim.deadline.deadline_id) {
                                        let _ = fired.send((claim.deadline.due.at, at));
                                    }
                                }
                            }
                        }
                    }
                }
                Ok(())
            }));
        }
        Ok(Workers {
            stop,
            fired,
            handles,
        })
    }

    /// Waits until every worker sleeps in `wait_for_work`.
    async fn until_asleep(&self, queue: &RedisQueue) -> BenchResult<()> {
        let started = Instant::now();
        while queue.sleeping_workers() < self.handles.len() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err("the workers did not go to sleep".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }

    async fn next_firing(&mut self) -> BenchResult<(DateTime<Utc>, DateTime<Utc>)> {
        match tokio::time::timeout(Duration::from_secs(120), self.fired.recv()).await {
            Ok(Some(firing)) => Ok(firing),
            Ok(None) => Err("the workers stopped".into()),
            Err(_) => Err("nothing fired for two minutes".into()),
        }
    }

    async fn stop(self) -> BenchResult<()> {
        let _ = self.stop.send(true);
        for handle in self.handles {
            handle.await??;
        }
        Ok(())
    }
}

fn lag_micros(due: DateTime<Utc>, fired: DateTime<Utc>) -> u64 {
    u64::try_from((fired - due).num_microseconds().unwrap_or(0)).unwrap_or(0)
}

fn histogram() -> BenchResult<Histogram<u64>> {
    Ok(Histogram::new(3)?)
}

/// Lone deadlines, one at a time, each scheduled 10 to 60 ms ahead while
/// every worker sleeps.
async fn lone_lags(queue: &Arc<RedisQueue>, options: &Options) -> BenchResult<Histogram<u64>> {
    progress(format!(
        "firing {} lone deadlines one at a time",
        options.lone
    ));
    let mut workers = Workers::start(queue, options, FireMode::PerBatch)?;
    let mut lags = histogram()?;
    for n in 0..options.lone {
        workers.until_asleep(queue).await?;
        let due = Utc::now() + TimeDelta::milliseconds(10 + (n as i64 * 7) % 50);
        queue.schedule(new_deadline(due)).await?;
        let (due, fired) = workers.next_firing().await?;
        lags.record(lag_micros(due, fired))?;
    }
    workers.stop().await?;
    Ok(lags)
}

/// CPU used while every worker sleeps: this process's and the Redis
/// server's (`INFO cpu`), as % of one core.
async fn idle_cpu(
    queue: &Arc<RedisQueue>,
    options: &Options,
    redis: &mut redis::aio::MultiplexedConnection,
) -> BenchResult<Idle> {
    progress(format!(
        "measuring the CPU of {} sleeping workers for {} s",
        options.workers, options.idle_secs
    ));
    let workers = Workers::start(queue, options, FireMode::PerBatch)?;
    workers.until_asleep(queue).await?;
    let started = Instant::now();
    let process_before = process_cpu_seconds()?;
    let redis_before = redis_cpu_seconds(redis).await?;
    tokio::time::sleep(Duration::from_secs(options.idle_secs)).await;
    let process = process_cpu_seconds()? - process_before;
    let redis_cpu = redis_cpu_seconds(redis).await? - redis_before;
    let seconds = started.elapsed().as_secs_f64();
    workers.stop().await?;
    Ok(Idle {
        seconds,
        process_percent: process / seconds * 100.0,
        redis_percent: redis_cpu / seconds * 100.0,
    })
}

/// `burst` deadlines all due at one instant, at least a second after they
/// are scheduled, fired by sleeping workers; the time from that instant to
/// the last firing.
async fn burst(queue: &Arc<RedisQueue>, options: &Options, n: usize) -> BenchResult<Burst> {
    let mut workers = Workers::start(queue, options, FireMode::PerBatch)?;
    workers.until_asleep(queue).await?;
    let due = Utc::now()
        .timestamp()
        .checked_add(2)
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or("clock out of range")?;
    progress(format!(
        "burst {}/{}: {} deadlines due at {due}",
        n + 1,
        options.bursts,
        options.burst
    ));
    schedule_batched(queue, options.burst, 4, move |_| due).await?;
    if Utc::now() > due {
        return Err("the burst was still being scheduled when it fell due".into());
    }
    let mut lags = histogram()?;
    let mut last = due;
    for _ in 0..options.burst {
        let (due, fired) = workers.next_firing().await?;
        lags.record(lag_micros(due, fired))?;
        last = last.max(fired);
    }
    workers.stop().await?;
    Ok(Burst {
        drain: (last - due).to_std().unwrap_or_default(),
        lags,
    })
}

/// `count` deadlines already due, scheduled before any worker runs; the
/// rate at which the workers fire them all.
async fn fire_backlog(
    queue: &Arc<RedisQueue>,
    options: &Options,
    count: usize,
    mode: FireMode,
) -> BenchResult<Backlog> {
    progress(format!("backlog of {count} due, {mode:?}"));
    let due = Utc::now() - TimeDelta::seconds(1);
    schedule_batched(queue, count, 4, move |_| due).await?;
    let started = Instant::now();
    let mut workers = Workers::start(queue, options, mode)?;
    for _ in 0..count {
        workers.next_firing().await?;
    }
    let elapsed = started.elapsed();
    workers.stop().await?;
    Ok(Backlog {
        mode,
        count,
        rate: count as f64 / elapsed.as_secs_f64(),
    })
}

/// Schedules `count` deadlines due at `due_at(i)` in batches of 1,000
/// from `tasks` tasks.
async fn schedule_batched(
    queue: &Arc<RedisQueue>,
    count: usize,
    tasks: usize,
    due_at: impl Fn(usize) -> DateTime<Utc> + Send + Sync + 'static,
) -> BenchResult<()> {
    let due_at = Arc::new(due_at);
    let per_task = count.div_ceil(tasks.max(1));
    let mut handles = Vec::new();
    for task in 0..tasks {
        let queue = queue.clone();
        let due_at = due_at.clone();
        let range = (task * per_task).min(count)..((task + 1) * per_task).min(count);
        handles.push(tokio::spawn(async move {
            let indices: Vec<usize> = range.collect();
            for chunk in indices.chunks(1_000) {
                let batch: Vec<NewDeadline> =
                    chunk.iter().map(|&i| new_deadline(due_at(i))).collect();
                queue.schedule_many(batch).await?;
            }
            Ok::<_, QueueError>(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    Ok(())
}

async fn schedule_singly(
    queue: &Arc<RedisQueue>,
    count: usize,
    tasks: usize,
    due_at: DateTime<Utc>,
) -> BenchResult<()> {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let queue = queue.clone();
        let mine = count / tasks + usize::from(task < count % tasks);
        handles.push(tokio::spawn(async move {
            for _ in 0..mine {
                queue.schedule(new_deadline(due_at)).await?;
            }
            Ok::<_, QueueError>(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    Ok(())
}

/// Runs reconciler passes on a second replica (a shortfall looked at again
/// after `recheck`, no periodic rebuild) while
/// 16 tasks schedule deadlines one at a time through `queue`: how many
/// passes took a schedule in flight for a lost member and rebuilt the
/// index, and how far the index's count ran ahead of the rows'.
async fn reconcile_while_scheduling(
    queue: &Arc<RedisQueue>,
    redis_url: &str,
    recheck: Duration,
    now: DateTime<Utc>,
) -> BenchResult<Shortfalls> {
    const PASSES: u32 = 20;
    let replica = RedisQueue::connect(
        queue.database().clone(),
        redis_url,
        RedisQueueConfig {
            key_prefix: "complaints-bench:{deadlines}:".to_owned(),
            full_rebuild_every: 0,
            shortfall_recheck: recheck,
            ..RedisQueueConfig::default()
        },
    )
    .await?;
    let (stop, stopped) = watch::channel(false);
    let mut schedulers = Vec::new();
    for _ in 0..16 {
        let queue = queue.clone();
        let stopped = stopped.clone();
        schedulers.push(tokio::spawn(async move {
            while !*stopped.borrow() {
                queue
                    .schedule(new_deadline(now + TimeDelta::days(120)))
                    .await?;
            }
            Ok::<_, QueueError>(())
        }));
    }
    let mut rebuilt = 0;
    let mut ahead: Option<(i64, i64)> = None;
    let mut outcome = Ok(());
    for _ in 0..PASSES {
        match replica.reconcile().await {
            Ok(Reconciled::Rebuilt { .. }) => rebuilt += 1,
            Ok(Reconciled::InLine { pending, indexed }) => {
                let beyond = indexed as i64 - pending as i64;
                ahead = Some(ahead.map_or((beyond, beyond), |(most, fewest)| {
                    (most.max(beyond), fewest.min(beyond))
                }));
            }
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send_replace(true);
    for scheduler in schedulers {
        scheduler.await??;
    }
    outcome?;
    Ok(Shortfalls {
        recheck,
        passes: PASSES,
        rebuilt,
        ahead,
    })
}

fn new_deadline(due_at: DateTime<Utc>) -> NewDeadline {
    NewDeadline {
        case_id: CaseId(Uuid::now_v7()),
        register_number: "CMP-2026-000001".to_owned(),
        kind: DeadlineKind::Resolve,
        stage: DeadlineKind::Resolve.stage(),
        working_days: 10,
        due: Due {
            date: due_at.date_naive(),
            at: due_at,
        },
        reason: "10 working days after receipt".to_owned(),
        policy_version: "bench".to_owned(),
        owner_role: Role::ComplaintsHandler,
        escalation_role: Role::CxManager,
        warn_at: None,
        created_at: Utc::now(),
    }
}

/// A connection for the bench's own commands, which may wait behind the
/// queue's (the default 500 ms response timeout is too short for that on a
/// busy machine).
async fn redis_connection(url: &str) -> BenchResult<redis::aio::MultiplexedConnection> {
    let config =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(60)));
    Ok(redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await?)
}

async fn info_field(
    redis: &mut redis::aio::MultiplexedConnection,
    section: &str,
    field: &str,
) -> BenchResult<f64> {
    let info: String = redis::cmd("INFO").arg(section).query_async(redis).await?;
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .ok_or_else(|| format!("INFO {section} has no {field}"))?
        .trim()
        .parse()
        .map_err(Into::into)
}

async fn used_memory(redis: &mut redis::aio::MultiplexedConnection) -> BenchResult<i64> {
    Ok(info_field(redis, "memory", "used_memory").await? as i64)
}

async fn redis_cpu_seconds(redis: &mut redis::aio::MultiplexedConnection) -> BenchResult<f64> {
    Ok(info_field(redis, "cpu", "used_cpu_user").await?
        + info_field(redis, "cpu", "used_cpu_sys").await?)
}

/// This process's user + system CPU time, from `/proc/self/stat` (fields 14
/// and 15, in clock ticks of 1/100 s, Linux's `USER_HZ`).
fn process_cpu_seconds() -> BenchResult<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) may hold spaces: count from its ')'.
    let after = stat.rsplit_once(')').ok_or("unreadable /proc/self/stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |n: usize| -> BenchResult<f64> {
        Ok(fields
            .get(n)
            .ok_or("short /proc/self/stat")?
            .parse::<f64>()?)
    };
    // After ')', field 3 (state) is index 0: utime (14) is 11, stime (15) 12.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// `redis-benchmark -t zadd -n <requests> -q` against the bench's Redis:
/// its requests per second.
async fn zadd_ceiling(port: u16, requests: usize) -> BenchResult<f64> {
    progress(format!(
        "running redis-benchmark -p {port} -t zadd -n {requests} -q"
    ));
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-t", "zadd", "-n", &requests.to_string(), "-q"])
        .output()
        .await
        .map_err(|error| format!("running redis-benchmark (is it on PATH?): {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.rsplit("ZADD: ")
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|rate| rate.parse().ok())
        .ok_or_else(|| format!("redis-benchmark said nothing readable: {text:?}").into())
}

fn progress(message: String) {
    eprintln!("deadline-bench: {message}");
}

/// `postgres://user@host:port/db?x` with the database name replaced.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}
