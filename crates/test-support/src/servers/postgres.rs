//! A Postgres cluster of the caller's own: initdb in a folder, started and
//! stopped with pg_ctl, on a free loopback port, TLS-only when asked. As
//! root its commands run as the `postgres` user (Postgres refuses to run
//! as root).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use tokio::process::Command;

use super::{ServerTls, is_root, log_file, postgres_user, run, server_folder, tail};

/// How a cluster is made and started.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// `max_connections` (Postgres's default is 100).
    pub max_connections: u32,
    /// Set: `ssl=on` with this certificate and key, and a `pg_hba.conf`
    /// that admits `hostssl` connections only, so a plaintext one is
    /// refused ("no pg_hba.conf entry ... no encryption").
    pub tls: Option<ServerTls>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 100,
            tls: None,
        }
    }
}

/// A Postgres cluster in a folder. Every login is trusted (user
/// `postgres`, no password); with TLS, over TLS only.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    pub port: u16,
    options: PostgresOptions,
    /// Whether it may be running: a caller that fails part way still
    /// stops it (on drop).
    running: AtomicBool,
    /// The folder [`Postgres::start_temporary`] made, removed after the
    /// cluster stops.
    _folder: Option<tempfile::TempDir>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running.load(Ordering::SeqCst) {
            let path = self.bin.join("pg_ctl");
            let mut stop = if is_root() {
                let mut command = std::process::Command::new("runuser");
                command.args(["-u", "postgres", "--"]).arg(path);
                command
            } else {
                std::process::Command::new(path)
            };
            let _ = stop
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Postgres {
    /// `postgres://postgres@127.0.0.1:<port>/postgres`; append
    /// `?sslmode=...` to choose how a client uses TLS.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Its log file (the server's own messages, pg_ctl's too).
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// A cluster in a temporary folder of its own, started; stopped, and
    /// its folder removed, when dropped.
    pub async fn start_temporary(options: PostgresOptions) -> anyhow::Result<Postgres> {
        let folder = server_folder("complaints-postgres-")?;
        let mut postgres = Postgres::init(folder.path(), options).await?;
        postgres._folder = Some(folder);
        postgres.start().await?;
        Ok(postgres)
    }

    /// Makes a cluster in `<dir>/postgres`, logging to `<dir>/postgres.log`
    /// (`dir` must be open to the `postgres` user when run as root). It
    /// is not started.
    pub async fn init(dir: &Path, options: PostgresOptions) -> anyhow::Result<Postgres> {
        let bin = postgres_bin()?;
        let data = dir.join("postgres");
        let postgres = Postgres {
            bin,
            data: data.clone(),
            log: dir.join("postgres.log"),
            port: crate::net::try_free_port()?,
            options,
            running: AtomicBool::new(false),
            _folder: None,
        };
        std::fs::create_dir_all(&data)?;
        log_file(&postgres.log)?;
        for path in [&data, &postgres.log] {
            give_to_postgres(path)?;
        }
        let mut initdb = postgres.command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(&mut initdb).await?;
        if let Some(tls) = &postgres.options.tls {
            postgres.write_tls(tls)?;
        }
        Ok(postgres)
    }

    /// The certificate and key in the data folder (the key 0600 and the
    /// server's own, as Postgres requires), and a `pg_hba.conf` with
    /// `hostssl` lines only.
    fn write_tls(&self, tls: &ServerTls) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let cert = self.data.join("server.crt");
        let key = self.data.join("server.key");
        let hba = self.data.join("pg_hba.conf");
        std::fs::write(&cert, &tls.cert_pem)?;
        std::fs::write(&key, &tls.key_pem)?;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        std::fs::write(
            &hba,
            "# TLS only: a connection without it matches no line and is refused.\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostssl all all ::1/128 trust\n",
        )?;
        for path in [&cert, &key, &hba] {
            give_to_postgres(path)?;
        }
        Ok(())
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        };
        command.stdin(Stdio::null()).kill_on_drop(true);
        command
    }

    /// Starts it. `fsync` is off: only the machine crashing could lose
    /// what it skips, and no test or fault crashes the machine. Commits
    /// stay synchronous, so a commit answered before an immediate stop
    /// survives.
    pub async fn start(&self) -> anyhow::Result<()> {
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off \
             -c full_page_writes=off -c max_connections={}",
            self.port, self.options.max_connections
        );
        if self.options.tls.is_some() {
            // Relative to the data folder.
            options.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        self.running.store(true, Ordering::SeqCst);
        run(&mut start).await.map_err(|error| {
            anyhow::anyhow!("{error:#}\nthe Postgres log ends:\n{}", tail(&self.log, 20))
        })
    }

    /// Stops at once, as a crash does: recovery replays the WAL at the
    /// next start.
    pub async fn stop_immediately(&self) -> anyhow::Result<()> {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]);
        run(&mut stop).await?;
        self.running.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Stops after the sessions end (`-m fast`).
    pub async fn stop(&self) -> anyhow::Result<()> {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"]);
        run(&mut stop).await?;
        self.running.store(false, Ordering::SeqCst);
        Ok(())
    }
}

/// As root, makes `path` the `postgres` user's; otherwise leaves it.
fn give_to_postgres(path: &Path) -> anyhow::Result<()> {
    if !is_root() {
        return Ok(());
    }
    let user = postgres_user()?;
    std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
        .with_context(|| format!("giving {} to the postgres user", path.display()))
}

/// The newest PostgreSQL's binaries under /usr/lib/postgresql, or those
/// `pg_ctl` on PATH lives with.
pub fn postgres_bin() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| dir.join("pg_ctl").is_file() && dir.join("initdb").is_file())
        .context(
            "no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on PATH",
        )
}
