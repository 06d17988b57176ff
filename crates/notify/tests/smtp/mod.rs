//! A real SMTP server for tests: `server.py` beside this file, on aiosmtpd.
//!
//! Each [`SmtpServer`] is its own Python process on its own loopback port,
//! writing what it accepts into its own folder, so tests run in parallel.
//! aiosmtpd is installed with pip on first use if it is missing.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, bail};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/server.py");

/// A running server. Dropping it stops it.
#[derive(Debug)]
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub outbox: PathBuf,
}

impl SmtpServer {
    /// Starts a server on `port` that writes what it accepts to `outbox`,
    /// and waits until it accepts connections.
    pub fn start(port: u16, outbox: &Path) -> anyhow::Result<Self> {
        ensure_aiosmtpd()?;
        // A file, not a pipe: a pipe nobody reads could fill and stall the server.
        let log_path = outbox.with_extension("log");
        let log = std::fs::File::create(&log_path)?;
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .arg("--port")
            .arg(port.to_string())
            .arg("--outbox")
            .arg(outbox)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("starting python3 for the test SMTP server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!("the test SMTP server did not start: {log}");
        }
        Ok(Self {
            child,
            port,
            outbox: outbox.to_path_buf(),
        })
    }

    /// Every message received so far, as received.
    pub fn received(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        received_in(&self.outbox)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The messages a server wrote into `outbox`, oldest first.
pub fn received_in(outbox: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(outbox)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "eml") {
            files.push((entry.metadata()?.modified()?, path));
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|(_, path)| std::fs::read(&path).with_context(|| path.display().to_string()))
        .collect()
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Installs aiosmtpd once per test run if `python3` cannot import it.
fn ensure_aiosmtpd() -> anyhow::Result<()> {
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
            let output = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
                .output()
                .map_err(|error| format!("cannot run pip: {error}"))?;
            if importable() {
                Ok(())
            } else {
                Err(format!(
                    "aiosmtpd is not installed and pip could not install it: {}",
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        })
        .clone()
        .map_err(anyhow::Error::msg)
}
