//! A Redis server of the caller's own: `redis-server` as a child process on
//! a free loopback port, keeping nothing on disk (killed, it comes back
//! empty), TLS-only when asked.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use super::{ServerTls, log_file, server_folder, tail};
use crate::backends;

/// How long the server may take to accept connections.
const START_WITHIN: Duration = Duration::from_secs(60);

/// What Redis logs once it accepts connections (7.0; later versions add
/// the connection type after it).
const READY: &str = "Ready to accept connections";

/// How a server is started.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// Set: TLS only (`--port 0 --tls-port <port>`), with this certificate
    /// and key; clients need no certificate (`--tls-auth-clients no`).
    pub tls: Option<ServerTls>,
}

/// A Redis server that keeps nothing on disk. Killed when dropped.
#[derive(Debug)]
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    log: PathBuf,
    tls: bool,
    child: Option<Child>,
    /// The folder [`Redis::start_temporary`] made, removed after the server
    /// is killed.
    _folder: Option<tempfile::TempDir>,
}

impl Redis {
    /// `redis://127.0.0.1:<port>`, or `rediss://` with TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// A server in a temporary folder of its own, started; killed, and its
    /// folder removed, when dropped.
    pub async fn start_temporary(options: RedisOptions) -> anyhow::Result<Redis> {
        let folder = server_folder("complaints-redis-")?;
        let mut redis = Redis::new(folder.path(), options)?;
        redis._folder = Some(folder);
        redis.start().await?;
        Ok(redis)
    }

    /// A server working in `<dir>/redis` (where its TLS files go) and
    /// logging to `<dir>/redis.log`. It is not started.
    pub fn new(dir: &Path, options: RedisOptions) -> anyhow::Result<Redis> {
        let work = dir.join("redis");
        std::fs::create_dir_all(&work).with_context(|| format!("making {}", work.display()))?;
        if let Some(tls) = &options.tls {
            for (name, text) in [
                ("redis.crt", &tls.cert_pem),
                ("redis.key", &tls.key_pem),
                ("ca.pem", &tls.ca_pem),
            ] {
                let path = work.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Ok(Redis {
            port: crate::net::try_free_port()?,
            dir: work,
            log: dir.join("redis.log"),
            tls: options.tls.is_some(),
            child: None,
            _folder: None,
        })
    }

    /// Starts it and waits until it accepts connections: answers `PING`,
    /// or with TLS (which a plaintext `PING` cannot reach) has logged that
    /// it is ready.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let logged_before = std::fs::metadata(&self.log).map_or(0, |m| m.len());
        let port = self.port.to_string();
        let mut command = Command::new(redis_server()?);
        if self.tls {
            command
                .args(["--port", "0", "--tls-port", &port])
                .arg("--tls-cert-file")
                .arg(self.dir.join("redis.crt"))
                .arg("--tls-key-file")
                .arg(self.dir.join("redis.key"))
                .arg("--tls-ca-cert-file")
                .arg(self.dir.join("ca.pem"))
                .args(["--tls-auth-clients", "no"]);
        } else {
            command.args(["--port", &port]);
        }
        let child = command
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&self.log)?)
            .kill_on_drop(true)
            .spawn()
            .context("starting redis-server")?;
        self.child = Some(child);
        let deadline = Instant::now() + START_WITHIN;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                bail!(
                    "redis-server exited ({status}) before serving\n{}",
                    tail(&self.log, 20)
                );
            }
            let ready = if self.tls {
                logged_since(&self.log, logged_before).contains(READY)
            } else {
                answers_ping(self.port).await
            };
            if ready {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "redis-server on port {} was not ready within {START_WITHIN:?}\n{}",
            self.port,
            tail(&self.log, 20)
        )
    }

    /// SIGKILL: no chance to save anything (nor is anything saved).
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await.context("killing redis-server")?;
        }
        Ok(())
    }
}

/// `redis-server` on PATH.
pub fn redis_server() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|binary| binary.is_file())
        .context("no redis-server on PATH")
}

/// Whether a Redis server on `port` answers `PING` (within the probe's
/// time limit).
async fn answers_ping(port: u16) -> bool {
    let address = format!("127.0.0.1:{port}");
    tokio::task::spawn_blocking(move || {
        backends::connect(&address)
            .and_then(backends::redis_ping)
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// What was appended to the log after its first `offset` bytes.
fn logged_since(log: &Path, offset: u64) -> String {
    let bytes = std::fs::read(log).unwrap_or_default();
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}
