//! `complaints bench`: a load driver for `IntakeService/SubmitComplaint`,
//! closed loop (N calls in flight, each sent when the last came back) or
//! open loop (a fixed rate, whatever the answers do), printing accepted
//! complaints a second, latency percentiles and errors by gRPC code.
//!
//! Latency in open loop runs from the instant a call was due, not when it
//! was sent, so a server that falls behind is charged for the wait
//! (no coordinated omission). Every complaint has its own complainant, so
//! the possible-duplicate search finds nobody, as with real callers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use complaints_auth::BearerToken;
use complaints_proto::complaints::common::v1::{self as common, Channel, ContactMethod};
use complaints_proto::complaints::intake::v1::SubmitComplaintRequest;
use complaints_proto::complaints::intake::v1::intake_service_client::IntakeServiceClient;
use hdrhistogram::Histogram;
use tokio::sync::{Mutex, Semaphore};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel as Transport;

use crate::client::{Connection, Service};

type Client = IntakeServiceClient<InterceptedService<Transport, BearerToken>>;

/// The largest latency recorded exactly: a minute, in microseconds.
const MAX_LATENCY_MICROS: u64 = 60_000_000;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Calls in flight at once (closed loop). With --rate: the most calls
    /// left waiting for an answer before further ones are counted as not
    /// sent.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Calls a second, sent on schedule whatever the answers do (open loop).
    /// Unset: as fast as the answers come back.
    #[arg(long)]
    rate: Option<f64>,
    /// Stop after this many seconds of load.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many calls, if sooner.
    #[arg(long)]
    count: Option<u64>,
    /// Calls sent first and left out of the figures (connections, caches,
    /// the database's first pages).
    #[arg(long, default_value_t = 200)]
    warmup: u64,
    /// HTTP/2 connections to spread the calls over.
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Where acknowledgement emails land as `.eml` files (the notification
    /// service's outbox folder without SMTP): counts them each second and
    /// after the load, to give the end-to-end rate and the backlog.
    #[arg(long)]
    sent_dir: Option<PathBuf>,
    /// With --sent-dir: how long to wait after the load for the backlog to
    /// drain.
    #[arg(long, default_value_t = 60.0)]
    drain_timeout: f64,
    /// A label printed with the machine-readable result line.
    #[arg(long, default_value = "intake")]
    label: String,
    #[command(flatten)]
    connection: Connection,
}

/// What the load came to.
#[derive(Debug)]
struct Tally {
    latency: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    accepted: u64,
    /// Open loop: calls due while `concurrency` were already waiting.
    not_sent: u64,
}

impl Tally {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3)
                .context("latency histogram bounds")?,
            errors: BTreeMap::new(),
            accepted: 0,
            not_sent: 0,
        })
    }

    fn record(
        &mut self,
        complaints: &Complaints,
        result: Result<(), tonic::Status>,
        latency: Duration,
    ) {
        match result {
            Ok(()) => {
                self.accepted += 1;
                complaints.accepted.fetch_add(1, Ordering::Relaxed);
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.latency.saturating_record(micros.max(1));
            }
            Err(status) => {
                *self
                    .errors
                    .entry(format!("{:?}", status.code()))
                    .or_default() += 1;
            }
        }
    }
}

/// Unique complainants (the run's tag and a counter), and the complaints
/// accepted so far, for the backlog watch.
#[derive(Debug)]
struct Complaints {
    run: String,
    next: AtomicU64,
    accepted: AtomicU64,
}

impl Complaints {
    fn next(&self) -> SubmitComplaintRequest {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        SubmitComplaintRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            channel: Channel::Web as i32,
            received_at: None,
            complainant: Some(common::Complainant {
                full_name: format!("Bench Complainant {n}"),
                email: format!("bench-{}-{n}@example.org", self.run),
                phone: String::new(),
                postal_address: None,
                preferred_contact: ContactMethod::Email as i32,
                customer_ref: String::new(),
            }),
            summary: "The pendant alarm did not reach the response centre".to_owned(),
            details: "A load test complaint: the alarm was pressed twice and nobody called back."
                .to_owned(),
            recorded_by: String::new(),
            scan_reference: String::new(),
            scanned_letter: None,
        }
    }
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(args.duration > 0.0, "--duration must be positive");
    if let Some(rate) = args.rate {
        anyhow::ensure!(rate > 0.0, "--rate must be positive");
    }
    let token = BearerToken::new(args.connection.token()?)?;
    let mut clients = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let channel = args
            .connection
            .endpoint(Service::Intake)?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| {
                let (address, option) = args.connection.address(Service::Intake);
                format!("cannot reach the suite at {address} ({option})")
            })?;
        clients.push(IntakeServiceClient::new(InterceptedService::new(
            channel,
            token.clone(),
        )));
    }
    let complaints = Arc::new(Complaints {
        run: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
        next: AtomicU64::new(0),
        accepted: AtomicU64::new(0),
    });
    let drain_timeout = Duration::from_secs_f64(args.drain_timeout);

    let sent_at_start = match &args.sent_dir {
        Some(dir) => count_sent(dir)?,
        None => 0,
    };
    if args.warmup > 0 {
        let warm = closed_loop(
            &clients,
            &complaints,
            args.concurrency.min(8),
            Some(args.warmup),
            Duration::from_secs(60),
        )
        .await?;
        if warm.accepted == 0 {
            anyhow::bail!(
                "no complaint was accepted while warming up; errors: {:?}",
                warm.errors
            );
        }
        // The warm-up's acknowledgements go out before the count starts.
        if let Some(dir) = &args.sent_dir {
            wait_for_sent(dir, sent_at_start + warm.accepted, drain_timeout).await?;
        }
    }

    let sent_before = match &args.sent_dir {
        Some(dir) => count_sent(dir)?,
        None => 0,
    };
    let accepted_before = complaints.accepted.load(Ordering::Relaxed);
    let stop_watch = Arc::new(AtomicBool::new(false));
    let watcher = args.sent_dir.clone().map(|dir| {
        tokio::spawn(watch_backlog(
            dir,
            sent_before,
            complaints.clone(),
            accepted_before,
            stop_watch.clone(),
        ))
    });
    let duration = Duration::from_secs_f64(args.duration);
    let started = Instant::now();
    let tally = match args.rate {
        None => {
            closed_loop(
                &clients,
                &complaints,
                args.concurrency,
                args.count,
                duration,
            )
            .await?
        }
        Some(rate) => {
            open_loop(
                &clients,
                &complaints,
                rate,
                args.concurrency,
                args.count,
                duration,
            )
            .await?
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    report(&args, &tally, elapsed);

    if let (Some(dir), Some(watcher)) = (&args.sent_dir, watcher) {
        stop_watch.store(true, Ordering::Relaxed);
        let samples = watcher.await.context("the backlog watch failed")?;
        let sent = wait_for_sent(dir, sent_before + tally.accepted, drain_timeout)
            .await?
            .saturating_sub(sent_before);
        let drained = started.elapsed().as_secs_f64();
        end_to_end(
            &args.label,
            sent,
            tally.accepted,
            elapsed,
            drained,
            &samples,
        );
    }
    Ok(())
}

/// `concurrency` tasks, each sending its next call when the last came back.
async fn closed_loop(
    clients: &[Client],
    complaints: &Arc<Complaints>,
    concurrency: usize,
    count: Option<u64>,
    duration: Duration,
) -> anyhow::Result<Tally> {
    let tally = Arc::new(Mutex::new(Tally::new()?));
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let mut client = clients[worker % clients.len()].clone();
        let complaints = complaints.clone();
        let tally = tally.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if let Some(count) = count
                    && issued.fetch_add(1, Ordering::Relaxed) >= count
                {
                    break;
                }
                let request = complaints.next();
                let sent = Instant::now();
                let result = client.submit_complaint(request).await.map(|_| ());
                tally
                    .lock()
                    .await
                    .record(&complaints, result, sent.elapsed());
            }
        }));
    }
    for task in tasks {
        task.await.context("a load task failed")?;
    }
    take(tally).await
}

/// Calls sent on a fixed schedule; at most `limit` waiting at once.
async fn open_loop(
    clients: &[Client],
    complaints: &Arc<Complaints>,
    rate: f64,
    limit: usize,
    count: Option<u64>,
    duration: Duration,
) -> anyhow::Result<Tally> {
    let tally = Arc::new(Mutex::new(Tally::new()?));
    let waiting = Arc::new(Semaphore::new(limit));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut n: u64 = 0;
    loop {
        let due = started + interval.mul_f64(n as f64);
        if due.duration_since(started) >= duration || count.is_some_and(|count| n >= count) {
            break;
        }
        tokio::time::sleep_until(due).await;
        let Ok(permit) = waiting.clone().try_acquire_owned() else {
            tally.lock().await.not_sent += 1;
            n += 1;
            continue;
        };
        let mut client = clients[(n as usize) % clients.len()].clone();
        let request = complaints.next();
        let tally = tally.clone();
        let complaints = complaints.clone();
        tasks.spawn(async move {
            let result = client.submit_complaint(request).await.map(|_| ());
            tally
                .lock()
                .await
                .record(&complaints, result, due.elapsed());
            drop(permit);
        });
        n += 1;
        // Reap finished calls so the set does not grow with the run.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    take(tally).await
}

async fn take(tally: Arc<Mutex<Tally>>) -> anyhow::Result<Tally> {
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("a load task still holds the tally"))?
        .into_inner();
    Ok(tally)
}

fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn report(args: &BenchArgs, tally: &Tally, elapsed: f64) {
    let rate = tally.accepted as f64 / elapsed;
    let h = &tally.latency;
    let mode = match args.rate {
        Some(rate) => format!(
            "open loop at {rate}/s (at most {} waiting)",
            args.concurrency
        ),
        None => format!("closed loop, {} in flight", args.concurrency),
    };
    let errors: u64 = tally.errors.values().sum();
    println!(
        "{}: {mode}, {:.1} s: {} accepted ({rate:.1}/s), {errors} errors{}",
        args.label,
        elapsed,
        tally.accepted,
        if tally.not_sent > 0 {
            format!(", {} not sent (too many waiting)", tally.not_sent)
        } else {
            String::new()
        }
    );
    println!(
        "  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        millis(h.value_at_quantile(0.50)),
        millis(h.value_at_quantile(0.90)),
        millis(h.value_at_quantile(0.99)),
        millis(h.max()),
    );
    for (code, n) in &tally.errors {
        println!("  error {code}: {n}");
    }
    let errors_by_code: Vec<String> = tally
        .errors
        .iter()
        .map(|(code, n)| format!("{code}:{n}"))
        .collect();
    println!(
        "RESULT label={} concurrency={} rate={} seconds={elapsed:.2} accepted={} accepted_per_s={rate:.1} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2} errors={errors} not_sent={} errors_by_code={}",
        args.label,
        args.concurrency,
        args.rate
            .map_or_else(|| "max".to_owned(), |rate| format!("{rate}")),
        tally.accepted,
        millis(h.value_at_quantile(0.50)),
        millis(h.value_at_quantile(0.90)),
        millis(h.value_at_quantile(0.99)),
        millis(h.max()),
        tally.not_sent,
        if errors_by_code.is_empty() {
            "none".to_owned()
        } else {
            errors_by_code.join(",")
        },
    );
}

/// `.eml` files in `dir` (none yet if it does not exist).
fn count_sent(dir: &Path) -> anyhow::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error).with_context(|| format!("reading {}", dir.display())),
    };
    let mut n = 0;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if entry.path().extension().is_some_and(|ext| ext == "eml") {
            n += 1;
        }
    }
    Ok(n)
}

/// Waits until `dir` holds `target` emails, or `timeout` passes; the count
/// reached.
async fn wait_for_sent(dir: &Path, target: u64, timeout: Duration) -> anyhow::Result<u64> {
    let give_up = Instant::now() + timeout;
    loop {
        let sent = count_sent(dir)?;
        if sent >= target || Instant::now() >= give_up {
            return Ok(sent);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Once a second until `stop`: (seconds since the start, accepted minus
/// acknowledgements sent since the start).
async fn watch_backlog(
    dir: PathBuf,
    sent_before: u64,
    complaints: Arc<Complaints>,
    accepted_before: u64,
    stop: Arc<AtomicBool>,
) -> Vec<(f64, u64)> {
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let sent = count_sent(&dir)
            .unwrap_or(sent_before)
            .saturating_sub(sent_before);
        let accepted = complaints
            .accepted
            .load(Ordering::Relaxed)
            .saturating_sub(accepted_before);
        samples.push((
            started.elapsed().as_secs_f64(),
            accepted.saturating_sub(sent),
        ));
    }
    samples
}

/// Prints the rate the acknowledgements went out at and how the backlog
/// moved during the load.
fn end_to_end(
    label: &str,
    sent: u64,
    accepted: u64,
    load_seconds: f64,
    drained_seconds: f64,
    samples: &[(f64, u64)],
) {
    let backlog_at = |at: f64| {
        samples
            .iter()
            .rev()
            .find(|(t, _)| *t <= at)
            .map_or(0, |(_, backlog)| *backlog)
    };
    let third = backlog_at(load_seconds / 3.0);
    let two_thirds = backlog_at(load_seconds * 2.0 / 3.0);
    let end = backlog_at(load_seconds);
    let rate = sent.min(accepted) as f64 / drained_seconds;
    let trace: Vec<String> = samples.iter().map(|(_, b)| b.to_string()).collect();
    println!(
        "  acknowledgements: {sent} of {accepted} sent within {drained_seconds:.1} s ({rate:.1}/s); backlog at 1/3, 2/3 and the end of the load: {third}, {two_thirds}, {end}"
    );
    println!("  backlog each second: {}", trace.join(" "));
    println!(
        "RESULT label={label}-e2e accepted={accepted} sent={sent} seconds={drained_seconds:.2} sent_per_s={rate:.1} backlog_third={third} backlog_two_thirds={two_thirds} backlog_end={end}"
    );
}
