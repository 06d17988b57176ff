//! `chaos`: the fault harness that `cargo xtask chaos` runs.
//!
//! It starts a Postgres, a Redis and an SMTP server of its own and two
//! replicas of each production service ([`cluster`]), submits complaints
//! continuously ([`load`]), injects faults one after another under that
//! load ([`faults`]), then stops the load, lets the system finish its work
//! and checks that nothing was lost or done twice ([`invariants`]). It
//! prints a table per fault and per invariant ([`report`]) and exits
//! non-zero if any invariant was broken. The run's folder (every process's
//! log, the SMTP inbox, the database) is kept when something failed.

mod cluster;
mod faults;
mod invariants;
mod load;
mod options;
mod report;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cluster::{Cluster, Kind};
use crate::faults::Injection;
use crate::invariants::{Check, Findings};
use crate::load::{Clients, ClockPlan, Load, lock};
use crate::options::Options;

#[tokio::main]
async fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("chaos: {error:#}");
            return ExitCode::from(2);
        }
    };
    let dir = match tempfile::Builder::new()
        .prefix("complaints-chaos-")
        .tempdir()
        .context("making the run's folder")
        .and_then(|dir| {
            // Readable by the postgres user, when its cluster runs as one.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
            Ok(dir)
        }) {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("chaos: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "chaos: profile {}, seed {}, faults {}, run folder {}",
        options.profile,
        options.seed,
        options
            .faults
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(","),
        dir.path().display()
    );
    // Interrupted, the run is dropped: every process it started is killed
    // and its Postgres stopped.
    let outcome = tokio::select! {
        outcome = run(&options, dir.path()) => outcome,
        signal = interrupted() => Err(anyhow::anyhow!("interrupted by {signal}")),
    };
    let keep = options.keep || !matches!(outcome, Ok(true));
    let code = match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("chaos: the run could not finish: {error:#}");
            ExitCode::FAILURE
        }
    };
    if keep {
        let kept = dir.keep();
        eprintln!("chaos: logs, inbox and database kept in {}", kept.display());
    }
    code
}

/// The first SIGINT or SIGTERM.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}

/// The whole run; answers whether every invariant held.
async fn run(options: &Options, dir: &std::path::Path) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut cluster = Cluster::start(dir, options).await?;
    let result = exercise(options, &mut cluster).await;
    let stop_problems = cluster.stop().await;
    let (report, mut held) = result?;
    println!("{report}");
    if !stop_problems.is_empty() {
        held = false;
        println!("VIOLATED: every replica stops cleanly on SIGTERM at the end:");
        for problem in stop_problems {
            println!("  - {}", problem.lines().next().unwrap_or_default());
        }
    }
    std::fs::write(dir.join("report.md"), &report)?;
    eprintln!(
        "chaos: {} in {:.0?}",
        if held {
            "every invariant held"
        } else {
            "INVARIANTS VIOLATED"
        },
        started.elapsed()
    );
    Ok(held)
}

/// Load, faults, drain, checks: the report and whether everything held.
async fn exercise(options: &Options, cluster: &mut Cluster) -> anyhow::Result<(String, bool)> {
    let escalation: Vec<_> = cluster
        .replicas
        .iter()
        .filter(|r| r.kind == Kind::Escalation)
        .map(|r| r.address())
        .collect();
    let clients = Clients::new(
        &cluster.auth,
        &cluster.intake_addresses(),
        &escalation,
        options.seed,
    )?;
    let load = Load::start(
        clients,
        options.rate,
        ClockPlan {
            every: options.clock_every,
            due_in: options.clock_due_in,
        },
    );
    tokio::time::sleep(options.warmup).await;

    let mut rng = fastrand::Rng::with_seed(options.seed);
    let mut injections = Vec::new();
    for &fault in &options.faults {
        eprintln!("chaos: injecting {}", fault.name());
        let started = cluster::unix_now();
        let (times, problems) = faults::inject(fault, cluster, options, &mut rng).await;
        let lifted_at = Instant::now();
        let lifted = cluster::unix_now();
        let recovered_in = recovery(&load, cluster, options.recover_within, lifted_at).await;
        eprintln!(
            "chaos: {} lifted after {:.0} s; recovered in {}",
            fault.name(),
            lifted - started,
            recovered_in.map_or_else(|| "NOT within the bound".to_owned(), |d| format!("{d:.1?}"))
        );
        injections.push(Injection {
            fault,
            times,
            started,
            lifted,
            recovered_in,
            problems,
        });
        tokio::time::sleep(options.settle).await;
    }

    eprintln!("chaos: stopping the load");
    let ledger = load.stop().await;
    retry_unanswered(cluster, &ledger, options.seed).await?;

    let db = sea_orm::Database::connect(cluster.postgres.url())
        .await
        .context("connecting to the harness's database")?;
    eprintln!(
        "chaos: waiting (at most {:?}) for the system to finish",
        options.drain
    );
    let (drained_in, drained, state) =
        invariants::drain(&db, cluster, &ledger, options.drain).await;
    eprintln!("chaos: drain: {state}");
    let (mut checks, outcomes, repeated_mails, resent_after_kill) =
        invariants::check(&db, cluster, &ledger).await?;
    let mut replicas = Check {
        name: "every replica stops on SIGTERM and starts again when its fault is lifted",
        checked: injections.iter().map(|i| i.times as usize).sum(),
        violations: Vec::new(),
    };
    for injection in &injections {
        for problem in &injection.problems {
            replicas.violations.push(format!(
                "{}: {}",
                injection.fault.name(),
                problem.lines().next().unwrap_or_default()
            ));
        }
    }
    let mut recovered = Check {
        name: "the system recovers from every fault (a new complaint accepted and acknowledged)",
        checked: injections.len(),
        violations: Vec::new(),
    };
    for injection in injections.iter().filter(|i| i.recovered_in.is_none()) {
        recovered.violations.push(format!(
            "{}: not within {:?}",
            injection.fault.name(),
            options.recover_within
        ));
    }
    checks.extend([replicas, recovered]);
    let findings = Findings {
        checks,
        outcomes,
        repeated_mails,
        resent_after_kill,
        drained_in,
        drained,
    };
    let retried = lock(&ledger.retried)
        .iter()
        .map(|(code, n)| format!("{n} {code}"))
        .collect::<Vec<_>>()
        .join(", ");
    let submissions = lock(&ledger.submissions).clone();
    let clocks = lock(&ledger.clocks).clone();
    let header = format!(
        "chaos run: profile {}, seed {}, {} complaints submitted at {}/s (and {} probes), \
         {} test clocks ({} to be met); answers retried with the same request_id: {}",
        options.profile,
        options.seed,
        submissions.iter().filter(|s| !s.probe).count(),
        options.rate,
        submissions.iter().filter(|s| s.probe).count(),
        clocks.len(),
        clocks.iter().filter(|c| c.to_be_met).count(),
        if retried.is_empty() {
            "none".to_owned()
        } else {
            retried
        }
    );
    let report = report::render(
        &header,
        &injections,
        &submissions,
        &findings,
        options.recover_within,
    );
    Ok((report, findings.violations() == 0))
}

/// How long after `lifted` a new complaint was accepted and its
/// acknowledgement reached the SMTP server; `None` past `within`.
async fn recovery(
    load: &Load,
    cluster: &Cluster,
    within: Duration,
    lifted: Instant,
) -> Option<Duration> {
    let probe = tokio::time::timeout(within, load.probe()).await.ok()??;
    while lifted.elapsed() < within {
        if cluster
            .smtp
            .received()
            .iter()
            .any(|m| m.subject.starts_with("Your complaint") && m.subject.contains(&probe))
        {
            return Some(lifted.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

/// Submits again, with the same request, every complaint that was not
/// answered OK (the load gave up retrying, or was refused), as a client
/// does once the system is back.
async fn retry_unanswered(
    cluster: &Cluster,
    ledger: &load::Ledger,
    seed: u64,
) -> anyhow::Result<()> {
    let escalation: Vec<_> = cluster
        .replicas
        .iter()
        .filter(|r| r.kind == Kind::Escalation)
        .map(|r| r.address())
        .collect();
    let clients = Clients::new(
        &cluster.auth,
        &cluster.intake_addresses(),
        &escalation,
        seed,
    )?;
    let unanswered: Vec<(usize, _)> = lock(&ledger.submissions)
        .iter()
        .enumerate()
        .filter(|(_, s)| s.accepted.is_none())
        .map(|(i, s)| (i, s.request.clone()))
        .collect();
    if !unanswered.is_empty() {
        eprintln!(
            "chaos: submitting {} unanswered complaints again",
            unanswered.len()
        );
    }
    for (index, request) in unanswered {
        let answer = clients.submit(&request, 30, ledger).await;
        load::record(ledger, index, answer);
    }
    Ok(())
}
