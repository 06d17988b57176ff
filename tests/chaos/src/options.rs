//! What a run does: the profile's faults and timings, each of which the
//! command line can change.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::faults::Fault;

pub const USAGE: &str = "\
usage: chaos --bin-dir DIR [options]

  --bin-dir DIR        where the intake, case, escalation and notification
                       binaries are (cargo xtask chaos passes it)
  --profile P          short (CI, a few minutes) or full (every fault, real
                       durations); default short
  --seed N             seeds the load's choices (intake replica, which
                       complaints get a test clock); default: the time
  --faults A,B,...     the faults to inject, in order (default: the profile's);
                       names: kill-one-each, rolling-restart, postgres-restart,
                       redis-restart-empty, redis-down, smtp-down, smtp-slow,
                       smtp-timeout, case-down
  --hold SECONDS       how long each outage lasts (redis-down, smtp-down,
                       case-down, smtp-slow, smtp-timeout)
  --rate N             complaints submitted per second (default: profile's)
  --warmup SECONDS     load before the first fault
  --drain SECONDS      the most to wait, after the load stops, for the
                       system to finish its work before the checks
  --smtp-delay SECONDS how long smtp-slow delays each DATA reply
  --keep               keep the run's folder (logs, inbox, database) even
                       when every check passes";

/// The run's settings.
#[derive(Debug, Clone)]
pub struct Options {
    pub bin_dir: PathBuf,
    pub profile: String,
    pub seed: u64,
    pub faults: Vec<Fault>,
    /// Per-fault outage length, when the command line sets one for all.
    pub hold: Option<Duration>,
    pub rate: f64,
    pub warmup: Duration,
    /// Load after each fault is lifted and recovered, before the next.
    pub settle: Duration,
    pub drain: Duration,
    /// How long a fault may take to recover (a probe complaint answered and
    /// its acknowledgement received).
    pub recover_within: Duration,
    pub smtp_slow_delay: Duration,
    /// Beyond the notification service's SMTP timeout.
    pub smtp_timeout_delay: Duration,
    /// The escalation workers' lease (`COMPLAINTS_DEADLINE_LEASE_SECONDS`).
    pub deadline_lease_seconds: u64,
    /// How far ahead the test clocks fall due.
    pub clock_due_in: Duration,
    /// Every this-many accepted complaints get a test clock.
    pub clock_every: u64,
    pub keep: bool,
}

impl Options {
    pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Options> {
        let mut args = args.into_iter();
        let mut bin_dir = None;
        let mut profile = "short".to_owned();
        let mut seed = None;
        let mut faults = None;
        let mut hold = None;
        let mut rate = None;
        let mut warmup = None;
        let mut drain = None;
        let mut smtp_delay = None;
        let mut keep = false;
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--bin-dir" => bin_dir = Some(PathBuf::from(value()?)),
                "--profile" => profile = value()?,
                "--seed" => seed = Some(value()?.parse().context("--seed")?),
                "--faults" => {
                    faults = Some(
                        value()?
                            .split(',')
                            .filter(|name| !name.trim().is_empty())
                            .map(|name| name.trim().parse())
                            .collect::<anyhow::Result<Vec<Fault>>>()?,
                    )
                }
                "--hold" => hold = Some(seconds(&value()?, "--hold")?),
                "--rate" => rate = Some(value()?.parse::<f64>().context("--rate")?),
                "--warmup" => warmup = Some(seconds(&value()?, "--warmup")?),
                "--drain" => drain = Some(seconds(&value()?, "--drain")?),
                "--smtp-delay" => smtp_delay = Some(seconds(&value()?, "--smtp-delay")?),
                "--keep" => keep = true,
                "-h" | "--help" => bail!("{USAGE}"),
                other => bail!("unknown option {other:?}\n{USAGE}"),
            }
        }
        let bin_dir = bin_dir.with_context(|| format!("--bin-dir is required\n{USAGE}"))?;
        let seed = seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default()
        });
        let mut options = match profile.as_str() {
            "short" => Options {
                bin_dir,
                profile,
                seed,
                faults: vec![
                    Fault::KillOneEach,
                    Fault::RedisRestartEmpty,
                    Fault::PostgresRestart,
                    Fault::SmtpDown,
                    Fault::SmtpTimeout,
                    Fault::CaseDown,
                ],
                hold: None,
                rate: 3.0,
                warmup: Duration::from_secs(10),
                settle: Duration::from_secs(5),
                drain: Duration::from_secs(150),
                recover_within: Duration::from_secs(90),
                smtp_slow_delay: Duration::from_secs(3),
                smtp_timeout_delay: Duration::from_secs(35),
                deadline_lease_seconds: 5,
                clock_due_in: Duration::from_secs(20),
                clock_every: 3,
                keep: false,
            },
            "full" => Options {
                bin_dir,
                profile,
                seed,
                faults: Fault::ALL.to_vec(),
                hold: None,
                rate: 5.0,
                warmup: Duration::from_secs(30),
                settle: Duration::from_secs(20),
                drain: Duration::from_secs(400),
                recover_within: Duration::from_secs(240),
                smtp_slow_delay: Duration::from_secs(3),
                smtp_timeout_delay: Duration::from_secs(35),
                deadline_lease_seconds: 10,
                clock_due_in: Duration::from_secs(45),
                clock_every: 2,
                keep: false,
            },
            other => bail!("unknown profile {other:?}: short or full"),
        };
        if let Some(faults) = faults {
            options.faults = faults;
        }
        options.hold = hold;
        if let Some(rate) = rate {
            if !(rate > 0.0 && rate <= 200.0) {
                bail!("--rate: expected more than 0 and at most 200 a second");
            }
            options.rate = rate;
        }
        if let Some(warmup) = warmup {
            options.warmup = warmup;
        }
        if let Some(drain) = drain {
            options.drain = drain;
        }
        if let Some(delay) = smtp_delay {
            options.smtp_slow_delay = delay;
        }
        options.keep = keep;
        Ok(options)
    }

    /// How long `fault`'s outage lasts in this run.
    pub fn hold(&self, fault: Fault) -> Duration {
        if let Some(hold) = self.hold {
            return hold;
        }
        let full = self.profile == "full";
        let secs = match fault {
            Fault::KillOneEach | Fault::RollingRestart => 0,
            Fault::PostgresRestart => 5,
            Fault::RedisRestartEmpty => 2,
            Fault::RedisDown if full => 60,
            Fault::RedisDown => 20,
            Fault::SmtpDown if full => 90,
            Fault::SmtpDown => 20,
            // Longer than the notification lease (120 s): a batch claimed
            // at the start is still being sent when its lease runs out.
            Fault::SmtpSlow if full => 200,
            Fault::SmtpSlow => 60,
            Fault::SmtpTimeout if full => 90,
            Fault::SmtpTimeout => 40,
            Fault::CaseDown if full => 60,
            Fault::CaseDown => 15,
        };
        Duration::from_secs(secs)
    }
}

fn seconds(text: &str, name: &str) -> anyhow::Result<Duration> {
    let secs: f64 = text
        .parse()
        .with_context(|| format!("{name}: {text:?} is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&secs) {
        bail!("{name}: expected 0 to 86400 seconds");
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Options> {
        Options::parse(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn the_command_line_overrides_the_profile() {
        let options = parse(&[
            "--bin-dir",
            "/b",
            "--profile",
            "full",
            "--faults",
            "smtp-slow,case-down",
            "--hold",
            "7",
            "--seed",
            "3",
        ])
        .unwrap();
        assert_eq!(options.faults, [Fault::SmtpSlow, Fault::CaseDown]);
        assert_eq!(options.hold(Fault::CaseDown), Duration::from_secs(7));
        assert_eq!(options.seed, 3);
        let short = parse(&["--bin-dir", "/b"]).unwrap();
        assert_eq!(short.profile, "short");
        assert!(!short.faults.contains(&Fault::SmtpSlow));
        assert_eq!(short.hold(Fault::SmtpDown), Duration::from_secs(20));
    }

    #[test]
    fn a_bad_option_is_named() {
        for (args, named) in [
            (&["--bin-dir", "/b", "--faults", "meteor"][..], "meteor"),
            (&["--bin-dir", "/b", "--profile", "long"][..], "long"),
            (&["--bin-dir", "/b", "--rate", "0"][..], "--rate"),
            (&["--profile", "short"][..], "--bin-dir"),
        ] {
            let error = parse(args).unwrap_err().to_string();
            assert!(error.contains(named), "{args:?}: {error}");
        }
    }
}
