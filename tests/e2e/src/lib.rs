//! Helpers for the end-to-end tests, which start the platform's real
//! binaries (`complaints`, `case`, `intake`, `escalation`) as child
//! processes and talk to them over gRPC like any client.
//!
//! - [`binaries`] builds the binaries once per test process (with the cargo
//!   that runs the tests, into the same target directory) and says where
//!   they are.
//! - [`Process`] is a running child whose output is collected, so a failing
//!   test can show it; dropping it kills the child.
//! - [`wait_until_serving`] polls `grpc.health.v1.Health` until a service
//!   answers `SERVING`.
//! - [`dev_token`] gets a token from `complaints token`, as a developer does.
//!
//! Test-only: nothing in a served path may depend on this crate. Every wait
//! here is bounded and every failure says what the child printed.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How long a started process may take to say it is ready, or to stop.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long building the binaries may take (a cold build on a small machine).
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The platform's binaries, built for the profile the tests were built with.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The front door: `complaints dev`, `complaints token`.
    pub complaints: PathBuf,
    /// The production case service.
    pub case: PathBuf,
    /// The production intake service.
    pub intake: PathBuf,
    /// The production escalation service.
    pub escalation: PathBuf,
    /// The production notification service.
    pub notification: PathBuf,
}

/// Builds the binaries the first time it is called in this process and
/// returns where they are. Panics, with cargo's output, if they cannot be
/// built: no end-to-end test can run without them.
///
/// Cargo only hands a test the binaries of its own package, so this runs
/// `cargo build --bins` for the five packages, into the target directory
/// this test binary lives in (`<target>/<profile>/deps/`).
pub fn binaries() -> &'static Binaries {
    static BUILT: OnceLock<Result<Binaries, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| build_binaries().map_err(|error| format!("{error:#}")));
    match built {
        Ok(binaries) => binaries,
        #[allow(clippy::panic)]
        Err(error) => panic!("cannot build the binaries under test: {error}"),
    }
}

fn build_binaries() -> anyhow::Result<Binaries> {
    let test_binary = std::env::current_exe().context("locating the test binary")?;
    let profile_dir = test_binary
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| {
            anyhow!(
                "{} is not under <target>/<profile>/deps",
                test_binary.display()
            )
        })?
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", profile_dir.display()))?;
    let workspace = complaints_test_support::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());

    let mut build = Command::new(cargo);
    // Cargo gives a running test the package's own variables (CARGO_PKG_NAME,
    // CARGO_MANIFEST_DIR, ...). Build scripts such as ring's watch some of
    // them, so passing them on would make this build, and every later build
    // in the shared target directory, recompile half the dependency tree.
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let set_for_tests = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
        ];
        if set_for_tests.iter().any(|prefix| name.starts_with(prefix)) {
            build.env_remove(name);
        }
    }
    build
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", target_dir)
        .args([
            "build",
            "--bins",
            "--package",
            "complaints",
            "--package",
            "complaints-case",
            "--package",
            "complaints-intake",
            "--package",
            "complaints-escalation",
            "--package",
            "complaints-notification",
        ]);
    // `debug` is the folder of the `dev` profile; others share their name.
    if let Some(profile) = profile_dir.file_name().filter(|name| *name != "debug") {
        build.arg("--profile").arg(profile);
    }
    eprintln!("e2e: building the binaries under test ({build:?})");
    let output = run(build, BUILD_TIMEOUT).context("running cargo build")?;
    if !output.status.success() {
        bail!(
            "cargo build failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let binary = |name: &str| -> anyhow::Result<PathBuf> {
        let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        if !path.is_file() {
            bail!("cargo build did not leave {}", path.display());
        }
        Ok(path)
    };
    Ok(Binaries {
        complaints: binary("complaints")?,
        case: binary("case")?,
        intake: binary("intake")?,
        escalation: binary("escalation")?,
        notification: binary("notification")?,
    })
}

/// Runs `command` to completion, collecting its output, within `timeout`
/// (killing it after that).
pub fn run(mut command: Command, timeout: Duration) -> anyhow::Result<Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    // Read both pipes while waiting, so a chatty child never blocks on a
    // full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{command:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// A folder under the system's temporary folder, removed on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> anyhow::Result<TempDir> {
        let unique = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A token from `complaints token --role <role> --subject <subject>`, signed
/// with the development key, as a developer gets one. Panics, with what the
/// command printed, if it fails.
#[allow(clippy::panic)]
pub fn dev_token(role: &str, subject: &str) -> String {
    let mut command = clean_command(&binaries().complaints);
    command.args(["token", "--role", role, "--subject", subject]);
    let output = match run(command, Duration::from_secs(30)) {
        Ok(output) => output,
        Err(error) => panic!("complaints token --role {role}: {error:#}"),
    };
    assert!(
        output.status.success(),
        "complaints token --role {role} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A command for `binary` with an environment of only `PATH` and quiet-ish
/// logs, so the developer's or CI's `COMPLAINTS_*` and `DATABASE_URL`
/// settings never leak into the process under test.
pub fn clean_command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.env("RUST_LOG", "info").env("RUST_BACKTRACE", "1");
    command
}

/// A running child process whose stdout and stderr are collected line by
/// line. Dropping it kills the process if it is still running.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Each stdout line as it arrives, for [`Process::wait_for_line`].
    lines: Receiver<String>,
    exited: Option<ExitStatus>,
}

impl Process {
    /// Starts `command`, calling it `name` in messages.
    pub fn spawn(name: &str, mut command: Command) -> anyhow::Result<Process> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (sender, lines) = mpsc::channel();
        if let Some(pipe) = child.stdout.take() {
            let collected = stdout.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    lock(&collected).push(line.clone());
                    let _ = sender.send(line);
                }
            });
        }
        if let Some(pipe) = child.stderr.take() {
            let collected = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    lock(&collected).push(line);
                }
            });
        }
        Ok(Process {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
            lines,
            exited: None,
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stdout line starting with `prefix` and returns the rest
    /// of it. Fails if the process exits or `timeout` passes first.
    pub fn wait_for_line(&mut self, prefix: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.to_owned());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(status) = self.child.try_wait()? {
                        self.exited = Some(status);
                        bail!(
                            "{} exited ({status}) before printing {prefix:?}\n{}",
                            self.name,
                            self.output()
                        );
                    }
                    if Instant::now() >= deadline {
                        bail!(
                            "{} did not print {prefix:?} within {timeout:?}\n{}",
                            self.name,
                            self.output()
                        );
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait_for_exit(Duration::from_secs(5))?;
                    bail!(
                        "{} closed its output ({status}) before printing {prefix:?}\n{}",
                        self.name,
                        self.output()
                    );
                }
            }
        }
    }

    /// Fails, with the output so far, if the process has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            self.exited = Some(status);
            bail!("{} exited ({status})\n{}", self.name, self.output());
        }
        Ok(())
    }

    /// Sends SIGTERM, as a container runtime does to stop a process.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.id().to_string())
            .status()
            .context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {} failed ({status})", self.id());
        }
        Ok(())
    }

    /// Sends SIGKILL, as the kernel's OOM killer or a lost node does: the
    /// process gets no chance to finish anything. Answers its exit status.
    pub fn kill_hard(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let status = Command::new("kill")
            .arg("-KILL")
            .arg(self.id().to_string())
            .status()
            .context("running kill -KILL")?;
        if !status.success() {
            bail!("kill -KILL {} failed ({status})", self.id());
        }
        self.wait_for_exit(timeout)
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.exited = Some(status);
                // Let the readers take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not exit within {timeout:?}\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status, which must come within `timeout`.
    pub fn stop(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        self.terminate()?;
        self.wait_for_exit(timeout)
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        lock(&self.stdout).join("\n")
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        lock(&self.stderr).join("\n")
    }

    /// Both outputs, labelled, for a failure message.
    pub fn output(&self) -> String {
        format!(
            "--- {name} stdout ---\n{}\n--- {name} stderr ---\n{}\n--- end of {name} ---",
            self.stdout(),
            self.stderr(),
            name = self.name
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.exited.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            if std::thread::panicking() {
                eprintln!("{}", self.output());
            }
        }
    }
}

/// A std `Mutex` (no await happens while it is held); a reader thread that
/// panicked cannot poison what the test reads.
fn lock(lines: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    lines.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A channel to `address` that connects on first use.
pub fn channel(address: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect_lazy())
}

/// Polls `grpc.health.v1.Health/Check` for `service` at `address` until it
/// answers `SERVING`, failing with `process`'s output if it exits or
/// `timeout` passes first.
pub async fn wait_until_serving(
    process: &mut Process,
    address: SocketAddr,
    service: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut health = HealthClient::new(channel(address)?);
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        process.ensure_running()?;
        let request = HealthCheckRequest {
            service: service.to_owned(),
        };
        // Each check is bounded too, so the deadline holds even if a call hangs.
        match tokio::time::timeout(Duration::from_secs(2), health.check(request)).await {
            Ok(Ok(response)) if response.get_ref().status == ServingStatus::Serving as i32 => {
                return Ok(());
            }
            Ok(Ok(response)) => last = format!("status {:?}", response.get_ref().status()),
            Ok(Err(status)) => last = format!("{status:?}"),
            Err(_) => last = "no answer within 2s".to_owned(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "{service} at {address} was not SERVING within {timeout:?} (last: {last})\n{}",
        process.output()
    )
}
