//! Servers a test (or the fault harness) starts for itself and owns: a
//! Postgres cluster made with initdb in a folder of its own ([`Postgres`])
//! and a Redis server that keeps nothing on disk ([`Redis`]), each on a
//! free loopback port, either of them TLS-only when asked ([`ServerTls`]).
//!
//! They need the server binaries on the machine (PostgreSQL's `initdb` and
//! `pg_ctl`, `redis-server`). [`postgres_available`] and
//! [`redis_available`] say whether they are there: when not, a test fails
//! in CI (`CI=true`) and elsewhere is reported as skipped (see
//! [`crate::report`]).

mod postgres;
mod redis;

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, bail};
use tokio::process::Command;

pub use postgres::{Postgres, PostgresOptions, postgres_bin};
pub use redis::{Redis, RedisOptions, redis_server};

use crate::report::{self, Backend};

/// A server's certificate and key, and the CA its clients are to trust
/// (all PEM): with it, the server speaks TLS only.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
}

/// True when a Postgres cluster of the test's own can be made. Otherwise
/// panics in CI, and elsewhere reports the calling test as skipped and
/// returns false.
pub fn postgres_available() -> bool {
    let found = postgres_bin().and_then(|bin| {
        if is_root() {
            postgres_user().context("running initdb as root needs a `postgres` user")?;
        }
        Ok(bin)
    });
    available(Backend::Postgres, found.map(|_| ()))
}

/// True when a Redis server of the test's own can be started. Otherwise
/// panics in CI, and elsewhere reports the calling test as skipped and
/// returns false.
pub fn redis_available() -> bool {
    available(Backend::Redis, redis_server().map(|_| ()))
}

fn available(backend: Backend, found: anyhow::Result<()>) -> bool {
    match found {
        Ok(()) => {
            report::ran(backend);
            true
        }
        Err(reason) if crate::backends::in_ci() => {
            panic!("CI=true but no {backend} server of the test's own can run: {reason:#}")
        }
        Err(reason) => {
            report::skipped(
                backend,
                &format!("no {backend} server of the test's own: {reason:#}"),
            );
            false
        }
    }
}

/// A folder of its own for a server a test starts, removed when dropped.
/// Open to every user (0755), so a Postgres run as the `postgres` user can
/// reach its cluster inside.
pub(crate) fn server_folder(prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let folder = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .context("making a folder for a test server")?;
    std::fs::set_permissions(folder.path(), std::fs::Permissions::from_mode(0o755))
        .context("opening the test server's folder to the postgres user")?;
    Ok(folder)
}

pub(crate) fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// The `postgres` user, whom Postgres runs as when the tests run as root.
pub(crate) fn postgres_user() -> anyhow::Result<nix::unistd::User> {
    nix::unistd::User::from_name("postgres")
        .context("looking up the postgres user")?
        .context("there is no postgres user")
}

/// Opens `path` for appending, creating it: a server's log.
pub fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The last `lines` lines of a log, for a failure message.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `command` to its end; fails with what it printed unless it
/// succeeded.
pub(crate) async fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("starting {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
