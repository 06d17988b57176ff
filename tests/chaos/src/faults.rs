//! The faults, each injected under load and then lifted.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::cluster::{Cluster, Kind, START_WITHIN, STOP_WITHIN};
use crate::options::Options;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// SIGKILL one replica of every service at once, then start them again.
    KillOneEach,
    /// SIGTERM and restart every replica, one after another.
    RollingRestart,
    /// Postgres stopped as by a crash (`pg_ctl -m immediate`), down for the
    /// hold, started again (it recovers from its WAL).
    PostgresRestart,
    /// Redis SIGKILLed and started again empty (it keeps nothing on disk).
    RedisRestartEmpty,
    /// Redis down for the hold; meanwhile one escalation replica is killed
    /// and started, so it starts without Redis.
    RedisDown,
    /// The SMTP server down (connections refused) for the hold.
    SmtpDown,
    /// Every DATA reply delayed by `smtp_slow_delay` for the hold, which is
    /// longer than the notification service's claim lease.
    SmtpSlow,
    /// Every DATA reply delayed past the notification service's SMTP
    /// timeout (30 s) for the hold: the message is recorded, the reply
    /// never reaches the sender in time.
    SmtpTimeout,
    /// Both case replicas stopped (SIGTERM) for the hold while intake takes
    /// calls, then started.
    CaseDown,
}

impl Fault {
    pub const ALL: [Fault; 9] = [
        Fault::KillOneEach,
        Fault::RollingRestart,
        Fault::PostgresRestart,
        Fault::RedisRestartEmpty,
        Fault::RedisDown,
        Fault::SmtpDown,
        Fault::SmtpSlow,
        Fault::SmtpTimeout,
        Fault::CaseDown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::KillOneEach => "kill-one-each",
            Fault::RollingRestart => "rolling-restart",
            Fault::PostgresRestart => "postgres-restart",
            Fault::RedisRestartEmpty => "redis-restart-empty",
            Fault::RedisDown => "redis-down",
            Fault::SmtpDown => "smtp-down",
            Fault::SmtpSlow => "smtp-slow",
            Fault::SmtpTimeout => "smtp-timeout",
            Fault::CaseDown => "case-down",
        }
    }
}

impl FromStr for Fault {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> anyhow::Result<Fault> {
        match Fault::ALL.into_iter().find(|fault| fault.name() == name) {
            Some(fault) => Ok(fault),
            None => bail!(
                "unknown fault {name:?}; the faults are {}",
                Fault::ALL.map(Fault::name).join(", ")
            ),
        }
    }
}

/// One fault as it happened.
#[derive(Debug, Clone)]
pub struct Injection {
    pub fault: Fault,
    /// How many things it broke (processes killed or restarted, servers
    /// stopped or slowed).
    pub times: u32,
    /// When it was injected and lifted, in Unix seconds.
    pub started: f64,
    pub lifted: f64,
    /// From lifted until a new complaint was accepted and its
    /// acknowledgement reached the SMTP server.
    pub recovered_in: Option<Duration>,
    /// What went wrong while injecting or lifting it (a replica that did
    /// not stop on SIGTERM or did not start again).
    pub problems: Vec<String>,
}

/// Injects `fault`, holds it, lifts it. Answers how many things it broke
/// and the problems seen on the way.
pub async fn inject(
    fault: Fault,
    cluster: &mut Cluster,
    options: &Options,
    rng: &mut fastrand::Rng,
) -> (u32, Vec<String>) {
    let hold = options.hold(fault);
    let mut problems = Vec::new();
    let mut note = |result: anyhow::Result<()>| {
        if let Err(error) = result {
            problems.push(format!("{error:#}"));
        }
    };
    let times = match fault {
        Fault::KillOneEach => {
            let victims: Vec<String> = Kind::ALL
                .iter()
                .map(|kind| format!("{}-{}", kind.binary(), ["a", "b"][rng.usize(..2)]))
                .collect();
            for name in &victims {
                note(async { cluster.replica(name)?.kill().await }.await);
            }
            eprintln!("chaos: SIGKILLed {}", victims.join(", "));
            for name in &victims {
                note(restart(cluster, name).await);
            }
            victims.len() as u32
        }
        Fault::RollingRestart => {
            let names: Vec<String> = cluster.replicas.iter().map(|r| r.name.clone()).collect();
            for name in &names {
                note(async { cluster.replica(name)?.terminate(STOP_WITHIN).await }.await);
                note(restart(cluster, name).await);
            }
            names.len() as u32
        }
        Fault::PostgresRestart => {
            note(cluster.postgres.stop_immediately().await);
            tokio::time::sleep(hold).await;
            note(cluster.postgres.start().await);
            1
        }
        Fault::RedisRestartEmpty => {
            note(cluster.redis.kill().await);
            tokio::time::sleep(hold).await;
            note(cluster.redis.start().await);
            1
        }
        Fault::RedisDown => {
            let started = Instant::now();
            note(cluster.redis.kill().await);
            let name = "escalation-b";
            note(async { cluster.replica(name)?.kill().await }.await);
            let restarted = restart(cluster, name).await;
            let came_back = restarted.is_ok();
            if let Err(error) = restarted {
                note(Err(error.context(format!(
                    "{name} did not start while Redis was down"
                ))));
            }
            tokio::time::sleep(hold.saturating_sub(started.elapsed())).await;
            note(cluster.redis.start().await);
            if !came_back {
                note(restart(cluster, name).await);
            }
            2
        }
        Fault::SmtpDown => {
            note(cluster.smtp.kill().await);
            tokio::time::sleep(hold).await;
            note(cluster.smtp.start().await);
            1
        }
        Fault::SmtpSlow | Fault::SmtpTimeout => {
            let delay = if fault == Fault::SmtpSlow {
                options.smtp_slow_delay
            } else {
                options.smtp_timeout_delay
            };
            note(cluster.smtp.set_delay(delay));
            tokio::time::sleep(hold).await;
            note(cluster.smtp.set_delay(Duration::ZERO));
            1
        }
        Fault::CaseDown => {
            let names: Vec<String> = cluster
                .replicas_of(Kind::Case)
                .map(|r| r.name.clone())
                .collect();
            for name in &names {
                note(async { cluster.replica(name)?.terminate(STOP_WITHIN).await }.await);
            }
            tokio::time::sleep(hold).await;
            for name in &names {
                note(restart(cluster, name).await);
            }
            names.len() as u32
        }
    };
    (times, problems)
}

/// Starts replica `name` (if it is not running) and waits until it serves;
/// if it exits first (say, a dependency is down at start), starts it again
/// until [`START_WITHIN`] has passed, as a process supervisor would.
pub async fn restart(cluster: &mut Cluster, name: &str) -> anyhow::Result<()> {
    let replica = cluster.replica(name)?;
    let deadline = Instant::now() + START_WITHIN;
    loop {
        if !replica.is_running() {
            replica.spawn()?;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match replica.wait_serving(left).await {
            Ok(_) => return Ok(()),
            Err(error) if Instant::now() >= deadline => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}
