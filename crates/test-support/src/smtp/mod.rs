//! A real SMTP server for tests: `server.py` beside this file, on Python's
//! aiosmtpd.
//!
//! Each [`SmtpServer`] is its own Python process on its own loopback port,
//! writing what it accepts into its own folder (each message and its
//! envelope recipients), so tests run in parallel. Recipients starting
//! with `refuse` get a permanent 550, those starting with `later` a
//! transient 451. aiosmtpd is installed with pip on first use if it is
//! missing; when it cannot be had, [`smtp_available`] fails the test in CI
//! (`CI=true`) and elsewhere reports it as skipped (see [`crate::report`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::report::{self, Backend};

pub use crate::net::free_port;

/// The server's source, built into the test binary and handed to
/// `python3 -c`: a path baked in at build time would name the clone that
/// built it, which in a shared target directory may be another.
const SCRIPT: &str = include_str!("server.py");
/// How long a server may take to say it is ready.
const START_LIMIT: Duration = Duration::from_secs(20);
/// How long installing aiosmtpd may take, per pip run.
const INSTALL_LIMIT: Duration = Duration::from_secs(180);

/// True when the test SMTP server can run. Otherwise panics in CI, and
/// elsewhere reports the calling test as skipped and returns false.
pub fn smtp_available() -> bool {
    match ensure_aiosmtpd() {
        Ok(()) => true,
        Err(reason) if crate::backends::in_ci() => {
            panic!("CI=true but the test SMTP server cannot run: {reason}")
        }
        Err(reason) => {
            let reason = format!("no python3 with aiosmtpd for the test SMTP server: {reason}");
            report::skipped(Backend::Smtp, &reason);
            false
        }
    }
}

/// One message as the server received it.
#[derive(Debug)]
pub struct Received {
    /// The envelope recipients (`RCPT TO`), which need not match `To:`.
    pub envelope_to: Vec<String>,
    /// The RFC 5322 message, exactly as sent.
    pub raw: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a parseable RFC 5322 message")
    }
}

/// A running server. Dropping it stops it.
#[derive(Debug)]
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    inbox: PathBuf,
}

impl SmtpServer {
    /// Starts a server on `port` that writes what it accepts to `inbox`,
    /// and waits (a bounded time) until it accepts connections.
    pub fn start(port: u16, inbox: &Path) -> anyhow::Result<Self> {
        Self::start_slow(port, inbox, Duration::ZERO)
    }

    /// [`SmtpServer::start`] for a slow relay: the server waits `delay`
    /// after each message's data before it takes the message (writes it to
    /// `inbox`) and replies.
    pub fn start_slow(port: u16, inbox: &Path, delay: Duration) -> anyhow::Result<Self> {
        ensure_aiosmtpd().map_err(anyhow::Error::msg)?;
        // A file, not a pipe: a pipe nobody reads could fill and stall the server.
        let log_path = inbox.with_extension("log");
        let log = std::fs::File::create(&log_path)?;
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg("--port")
            .arg(port.to_string())
            .arg("--outbox")
            .arg(inbox)
            .arg("--delay")
            .arg(delay.as_secs_f64().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("starting python3 for the test SMTP server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_LIMIT).unwrap_or_default();
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!("the test SMTP server on port {port} did not start: {log}");
        }
        Ok(Self {
            child,
            port,
            inbox: inbox.to_path_buf(),
        })
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        received_in(&self.inbox)
    }

    /// The most messages the server has held at once, each from the end of
    /// its data to the server's reply (with [`SmtpServer::start_slow`], at
    /// least the delay): more than one only if a client sent several at a
    /// time, over connections of their own. 0 before the first message.
    pub fn most_at_once(&self) -> usize {
        std::fs::read_to_string(self.inbox.join("most-at-once"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The messages a server wrote into `inbox`, oldest first.
pub fn received_in(inbox: &Path) -> Vec<Received> {
    read_inbox(inbox).expect("read the test SMTP server's inbox")
}

fn read_inbox(inbox: &Path) -> anyhow::Result<Vec<Received>> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    if !inbox.exists() {
        return Ok(Vec::new());
    }
    for entry in std::fs::read_dir(inbox)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "eml") {
            files.push((entry.metadata()?.modified()?, path));
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|(_, path)| {
            let raw = std::fs::read(&path).with_context(|| path.display().to_string())?;
            let envelope = std::fs::read_to_string(path.with_extension("rcpt"))
                .with_context(|| format!("the envelope of {}", path.display()))?;
            Ok(Received {
                envelope_to: envelope.lines().map(str::to_owned).collect(),
                raw,
            })
        })
        .collect()
}

/// Installs aiosmtpd once per test run if `python3` cannot import it.
fn ensure_aiosmtpd() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let importable = || {
                Command::new("python3")
                    .args(["-c", "import aiosmtpd"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
            };
            if importable() {
                return Ok(());
            }
            let mut failures = Vec::new();
            // Plain first; then for the user only; then past a
            // distribution's "externally managed" guard, which refuses both.
            for extra in [
                &[][..],
                &["--user"][..],
                &["--user", "--break-system-packages"][..],
            ] {
                let mut pip = Command::new("python3");
                pip.args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(["--timeout", "30"])
                .args(extra)
                .arg("aiosmtpd");
                match run_bounded(pip, INSTALL_LIMIT) {
                    Ok(()) if importable() => return Ok(()),
                    Ok(()) => {
                        failures.push("pip succeeded but aiosmtpd is not importable".to_owned())
                    }
                    Err(reason) => failures.push(reason),
                }
            }
            Err(format!(
                "aiosmtpd is not installed and pip could not install it: {}",
                failures.join("; ")
            ))
        })
        .clone()
}

/// Runs `command` to completion within `limit`, killing it past that.
fn run_bounded(mut command: Command, limit: Duration) -> Result<(), String> {
    let log = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let stderr = log.reopen().map_err(|e| e.to_string())?;
    let mut child = command
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|error| format!("cannot run python3 -m pip: {error}"))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let output = std::fs::read_to_string(log.path()).unwrap_or_default();
                return Err(format!("pip failed ({status}): {}", output.trim()));
            }
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("pip did not finish within {limit:?}"));
            }
            Err(error) => return Err(error.to_string()),
        }
    }
}
