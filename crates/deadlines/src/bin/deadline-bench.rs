//! `deadline-bench`: the deadline queue's figures, each beside the machine's
//! own ceiling measured in the same run (see BENCHMARKS.md).
//!
//! With `--pending N` deadlines pending (default 1,000,000) in the Redis
//! backend over Postgres, it measures the schedule rate (batched and one at
//! a time), Redis memory per pending deadline (`INFO memory` before and
//! after), the index rebuild rate, and then `--bursts` bursts (default 2)
//! of `--burst` deadlines (default 10,000) all due within the same second,
//! fired by `--workers` worker loops (default 8) as the escalation service
//! runs them: `wait_for_work`, `claim_due`, then `complete_fire` per
//! deadline, and again with `complete_fire_many` per claimed batch. For each
//! it reports the fire rate and the firing lag (fired minus due) p50, p99
//! and max. `redis-benchmark -t zadd -n 200000 -q` runs in the same run,
//! when on PATH, as the machine's ceiling; each rate is printed as a ratio
//! of it.
//!
//! ```text
//! cargo run --release -p complaints-deadlines --bin deadline-bench -- --pending 1000000
//! ```
//!
//! Uses `DATABASE_URL` (a Postgres server; a scratch database is created
//! and dropped) and `REDIS_URL` (keys under a scratch prefix, deleted at the
//! end), defaulting to the local servers.

use std::error::Error;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use complaints_deadlines::{
    DeadlineQueue, FireOutcome, NewDeadline, RedisQueue, RedisQueueConfig, WorkerId,
};
use complaints_domain::calendar::Due;
use complaints_domain::case::{CaseId, DeadlineKind};
use complaints_domain::clock::SystemClock;
use complaints_domain::role::Role;
use sea_orm::{ConnectionTrait, Database};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

#[derive(Debug, Clone)]
struct Options {
    pending: usize,
    burst: usize,
    bursts: usize,
    workers: usize,
    database_url: String,
    redis_url: String,
}

impl Options {
    fn parse() -> BenchResult<Options> {
        let mut options = Options {
            pending: 1_000_000,
            burst: 10_000,
            bursts: 2,
            workers: 8,
            database_url: std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
            redis_url: std::env::var("REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--pending" => options.pending = value()?.parse()?,
                "--burst" => options.burst = value()?.parse()?,
                "--bursts" => options.bursts = value()?.parse()?,
                "--workers" => options.workers = value()?.parse()?,
                "--database-url" => options.database_url = value()?,
                "--redis-url" => options.redis_url = value()?,
                "--help" | "-h" => {
                    println!(
                        "deadline-bench [--pending N] [--burst N] [--bursts N] [--workers N] \
                         [--database-url URL] [--redis-url URL]"
                    );
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}; try --help").into()),
            }
        }
        if options.burst == 0 || options.bursts == 0 || options.workers == 0 {
            return Err("--burst, --bursts and --workers must be positive".into());
        }
        Ok(options)
    }
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let options = Options::parse()?;
    let name = format!("complaints_bench_{}", Uuid::new_v4().simple());
    let admin = Database::connect(options.database_url.as_str()).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    let prefix = format!("complaints-bench:{{{}}}:", Uuid::new_v4().simple());

    let outcome = run(
        &options,
        &replace_database(&options.database_url, &name),
        &prefix,
    )
    .await;

    let keys = complaints_deadlines::IndexKeys::with_prefix(&prefix);
    if let Ok(mut redis) = redis_connection(&options.redis_url).await {
        let _: Result<(), _> = redis::cmd("DEL")
            .arg(&keys.due)
            .arg(&keys.built)
            .query_async(&mut redis)
            .await;
    }
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    let report = outcome?;
    println!("{report}");
    Ok(())
}

async fn run(options: &Options, database_url: &str, prefix: &str) -> BenchResult<String> {
    let db = complaints_store::db::connect(database_url).await?;
    let queue = Arc::new(
        RedisQueue::connect(
            db,
            &options.redis_url,
            RedisQueueConfig {
                key_prefix: prefix.to_owned(),
                ..RedisQueueConfig::default()
            },
        )
        .await?,
    );
    let mut redis = redis_connection(&options.redis_url).await?;
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
    redis::cmd("DEL")
        .arg(&queue.keys().due)
        .query_async::<()>(&mut redis)
        .await?;
    let started = Instant::now();
    let rebuilt = queue.rebuild_index().await?;
    let rebuild_rate = rebuilt as f64 / started.elapsed().as_secs_f64();

    let mut bursts = Vec::new();
    for mode in [FireMode::OneByOne, FireMode::PerBatch] {
        bursts.push(fire_bursts(&queue, options, mode).await?);
    }

    progress("running redis-benchmark -t zadd -n 200000 -q".to_owned());
    let ceiling = zadd_ceiling(&mut redis).await;

    Ok(report(
        options,
        Figures {
            batched_rate,
            single_rate,
            rebuild_rate,
            rebuilt,
            bytes_per_pending,
            bursts,
            ceiling,
        },
    ))
}

struct Figures {
    batched_rate: f64,
    single_rate: f64,
    rebuild_rate: f64,
    rebuilt: u64,
    bytes_per_pending: f64,
    bursts: Vec<Bursts>,
    ceiling: Option<f64>,
}

struct Bursts {
    mode: FireMode,
    fire_rate: f64,
    lags_ms: Vec<f64>,
}

/// How the workers complete what they claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FireMode {
    /// `complete_fire` per deadline: one commit each.
    OneByOne,
    /// `complete_fire_many` per claimed batch: one commit per batch.
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

fn report(options: &Options, figures: Figures) -> String {
    let ratio = |rate: f64| match figures.ceiling {
        Some(ceiling) if ceiling > 0.0 => format!("{:.3}", rate / ceiling),
        _ => "n/a".to_owned(),
    };
    let ceiling = figures.ceiling.map_or_else(
        || "n/a (redis-benchmark not on PATH)".to_owned(),
        |c| format!("{c:.0}/s"),
    );
    let mut out = String::new();
    out.push_str(&format!(
        "\n## Deadline queue benchmark\n\n\
         `cargo run --release -p complaints-deadlines --bin deadline-bench -- --pending {} --burst {} --bursts {} --workers {}`\n\n\
         Redis backend over Postgres; {} cores. Ceiling: `redis-benchmark -t zadd -n 200000 -q` in the same run: {}.\n\n",
        options.pending,
        options.burst,
        options.bursts,
        options.workers,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        ceiling
    ));
    out.push_str("| measure | value | ratio to ZADD ceiling |\n|---|---|---|\n");
    out.push_str(&format!(
        "| schedule, batched (`schedule_many` x 1,000, 4 tasks), {} pending | {:.0}/s | {} |\n",
        options.pending,
        figures.batched_rate,
        ratio(figures.batched_rate)
    ));
    out.push_str(&format!(
        "| schedule, one at a time (`schedule`, 16 tasks) | {:.0}/s | {} |\n",
        figures.single_rate,
        ratio(figures.single_rate)
    ));
    for bursts in &figures.bursts {
        out.push_str(&format!(
            "| fire: `claim_due` (200) + {}, {} workers; {} bursts of {} due in one second | {:.0}/s | {} |\n",
            bursts.mode.describe(),
            options.workers,
            options.bursts,
            options.burst,
            bursts.fire_rate,
            ratio(bursts.fire_rate)
        ));
        let (p50, p99, max) = percentiles(&bursts.lags_ms);
        out.push_str(&format!(
            "| firing lag (fired minus due) p50 / p99 / max, same run | {p50:.0} / {p99:.0} / {max:.0} ms | |\n"
        ));
    }
    out.push_str(&format!(
        "| index rebuild from the database ({} pending) | {:.0}/s | {} |\n",
        figures.rebuilt,
        figures.rebuild_rate,
        ratio(figures.rebuild_rate)
    ));
    out.push_str(&format!(
        "| Redis memory per pending deadline (`used_memory` delta / pending) | {:.0} bytes | |\n",
        figures.bytes_per_pending
    ));
    out
}

/// p50, p99 and max of `values`.
fn percentiles(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |p: f64| -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    };
    (at(50.0), at(99.0), at(100.0))
}

/// Schedules `count` deadlines due at `due_at(i)` in batches of 1,000
/// from `tasks` tasks.
async fn schedule_batched(
    queue: &Arc<RedisQueue>,
    count: usize,
    tasks: usize,
    due_at: impl Fn(usize) -> DateTime<Utc> + Send + Sync + 'static,
) -> BenchResult<Vec<(complaints_deadlines::DeadlineId, DateTime<Utc>)>> {
    let due_at = Arc::new(due_at);
    let per_task = count.div_ceil(tasks.max(1));
    let mut handles = Vec::new();
    for task in 0..tasks {
        let queue = queue.clone();
        let due_at = due_at.clone();
        let range = (task * per_task)..((task + 1) * per_task).min(count);
        handles.push(tokio::spawn(async move {
            let mut scheduled = Vec::with_capacity(range.len());
            let indices: Vec<usize> = range.collect();
            for chunk in indices.chunks(1_000) {
                let batch: Vec<NewDeadline> =
                    chunk.iter().map(|&i| new_deadline(due_at(i))).collect();
                let dues: Vec<DateTime<Utc>> = batch.iter().map(|d| d.due.at).collect();
                let answers = queue.schedule_many(batch).await?;
                scheduled.extend(answers.into_iter().map(|a| a.deadline_id).zip(dues));
            }
            Ok::<_, complaints_deadlines::QueueError>(scheduled)
        }));
    }
    let mut scheduled = Vec::with_capacity(count);
    for handle in handles {
        scheduled.extend(handle.await??);
    }
    Ok(scheduled)
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
            Ok::<_, complaints_deadlines::QueueError>(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    Ok(())
}

/// Runs the worker loops, schedules the bursts, and collects each firing's
/// lag until every burst has fired.
async fn fire_bursts(
    queue: &Arc<RedisQueue>,
    options: &Options,
    mode: FireMode,
) -> BenchResult<Bursts> {
    let (stop, stopped) = watch::channel(false);
    let (fired_tx, mut fired_rx) = mpsc::unbounded_channel::<(DateTime<Utc>, DateTime<Utc>)>();
    let mut workers = Vec::new();
    for n in 0..options.workers {
        let queue = queue.clone();
        let fired = fired_tx.clone();
        let mut stopped = stopped.clone();
        let worker = WorkerId::new(format!("bench-{n}"))?;
        workers.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    woke = queue.wait_for_work(&SystemClock) => woke?,
                }
                loop {
                    let claimed = queue
                        .claim_due(Utc::now(), 200, &worker, Duration::from_secs(30))
                        .await?;
                    if claimed.is_empty() {
                        break;
                    }
                    match mode {
                        FireMode::OneByOne => {
                            for claim in claimed {
                                let id = claim.deadline.deadline_id;
                                if queue
                                    .complete_fire(id, &worker, FireOutcome::Breached, Utc::now())
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
                            for claim in &claimed {
                                if done.contains(&claim.deadline.deadline_id) {
                                    let _ = fired.send((claim.deadline.due.at, at));
                                }
                            }
                        }
                    }
                }
            }
            Ok::<_, complaints_deadlines::QueueError>(())
        }));
    }
    drop(fired_tx);

    let mut lags_ms = Vec::with_capacity(options.burst * options.bursts);
    let mut firing_time = 0.0;
    for burst in 0..options.bursts {
        // All due within one whole second, two seconds from now.
        let second = Utc::now()
            .timestamp()
            .checked_add(2)
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or("clock out of range")?;
        let spread = options.burst as i64;
        progress(format!(
            "{mode:?} burst {}/{}: {} deadlines due within {second}",
            burst + 1,
            options.bursts,
            options.burst
        ));
        schedule_batched(queue, options.burst, 4, move |i| {
            second + TimeDelta::microseconds(i as i64 * 1_000_000 / spread)
        })
        .await?;
        let mut last = second;
        for _ in 0..options.burst {
            let (due, fired) = fired_rx.recv().await.ok_or("the workers stopped")?;
            lags_ms.push((fired - due).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0);
            last = last.max(fired);
        }
        firing_time += (last - second).num_microseconds().unwrap_or(0) as f64 / 1e6;
    }
    let _ = stop.send(true);
    for worker in workers {
        worker.await??;
    }
    let fire_rate = (options.burst * options.bursts) as f64 / firing_time.max(1e-9);
    Ok(Bursts {
        mode,
        fire_rate,
        lags_ms,
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

async fn redis_connection(url: &str) -> BenchResult<redis::aio::MultiplexedConnection> {
    Ok(redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?)
}

async fn used_memory(redis: &mut redis::aio::MultiplexedConnection) -> BenchResult<i64> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(redis).await?;
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .ok_or("INFO memory has no used_memory")?
        .trim()
        .parse()
        .map_err(Into::into)
}

/// `redis-benchmark -t zadd -n 200000 -q` requests per second, or `None`
/// when it is not on PATH or says nothing readable. It writes the key
/// `myzset`, which is deleted again unless it was there before.
async fn zadd_ceiling(redis: &mut redis::aio::MultiplexedConnection) -> Option<f64> {
    let existed: bool = redis::cmd("EXISTS")
        .arg("myzset")
        .query_async(redis)
        .await
        .ok()?;
    let output = Command::new("redis-benchmark")
        .args(["-t", "zadd", "-n", "200000", "-q"])
        .output()
        .ok()?;
    if !existed {
        let _: Result<(), _> = redis::cmd("DEL").arg("myzset").query_async(redis).await;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.rsplit("ZADD: ")
        .next()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
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
