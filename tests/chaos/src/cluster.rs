//! The processes of a run, all the harness's own: a Postgres cluster made
//! with initdb in the run's folder and a Redis without persistence (both
//! `complaints_test_support::servers`), the SMTP server in `smtp.py`, two replicas of each production service, and a TCP
//! balancer in front of each service's replicas (what a Kubernetes Service
//! does), which the services call each other through. Each process logs to
//! a file of its own in the run's folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use complaints_auth::AuthConfig;
use complaints_test_support::net::try_free_port;
use complaints_test_support::servers::{
    Postgres, PostgresOptions, Redis, RedisOptions, log_file, tail,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, Command};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::options::Options;

/// How long a process may take to start serving, or to stop on SIGTERM.
pub const START_WITHIN: Duration = Duration::from_secs(60);
pub const STOP_WITHIN: Duration = Duration::from_secs(30);

pub const JWT_SECRET: &str = "chaos-harness-signing-secret-of-enough-bytes";
pub const JWT_ISSUER: &str = "https://idp.chaos.example";
pub const JWT_AUDIENCE: &str = "complaints-chaos";

const SMTP_SCRIPT: &str = include_str!("smtp.py");

/// A production service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Case,
    Escalation,
    Notification,
    Intake,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Case,
        Kind::Escalation,
        Kind::Notification,
        Kind::Intake,
    ];

    pub fn binary(self) -> &'static str {
        match self {
            Kind::Case => "case",
            Kind::Escalation => "escalation",
            Kind::Notification => "notification",
            Kind::Intake => "intake",
        }
    }

    /// The gRPC service its health check names.
    pub fn grpc_service(self) -> &'static str {
        match self {
            Kind::Case => "complaints.case.v1.CaseService",
            Kind::Escalation => "complaints.escalation.v1.EscalationService",
            Kind::Notification => "complaints.notification.v1.NotificationService",
            Kind::Intake => "complaints.intake.v1.IntakeService",
        }
    }
}

/// Now, in Unix seconds (the SMTP server's clock too).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// Sends `signal` to the process `id`.
fn signal(id: Option<u32>, signal: Signal) -> anyhow::Result<()> {
    let id = id.context("the process has already been reaped")?;
    let pid = Pid::from_raw(i32::try_from(id).context("a process id")?);
    kill(pid, signal).with_context(|| format!("sending {signal} to {id}"))
}

/// One message the SMTP server recorded.
#[derive(Debug, Clone)]
pub struct Mail {
    /// When it was recorded, in Unix seconds.
    pub at: f64,
    pub message_id: String,
    pub recipients: String,
    pub subject: String,
}

/// Makes each service's own key pair, as an operator would: the private
/// key in `<dir>/<service>.key`, the public one in
/// `<dir>/service-keys/<service>.pem`, the folder every replica reads.
/// Answers the case service's private key (PEM).
fn make_service_keys(dir: &Path) -> anyhow::Result<String> {
    let public = dir.join("service-keys");
    std::fs::create_dir_all(&public)?;
    let mut case_key = String::new();
    for kind in Kind::ALL {
        let pair = rcgen::KeyPair::generate()?;
        let private = pair.serialize_pem();
        std::fs::write(dir.join(format!("{}.key", kind.binary())), &private)?;
        std::fs::write(
            public.join(format!("{}.pem", kind.binary())),
            pair.public_key_pem(),
        )?;
        if kind == Kind::Case {
            case_key = private;
        }
    }
    Ok(case_key)
}

/// The SMTP server (`smtp.py`).
#[derive(Debug)]
pub struct Smtp {
    pub port: u16,
    script: PathBuf,
    inbox: PathBuf,
    delay_file: PathBuf,
    log: PathBuf,
    child: Option<(Child, ChildStdin)>,
}

impl Smtp {
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub async fn start(&mut self) -> anyhow::Result<()> {
        let mut child = Command::new("python3")
            .arg(&self.script)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--inbox")
            .arg(&self.inbox)
            .arg("--delay-file")
            .arg(&self.delay_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file(&self.log)?)
            .kill_on_drop(true)
            .spawn()
            .context("starting python3 for the SMTP server")?;
        let stdin = child.stdin.take().context("the SMTP server's stdin")?;
        let stdout = child.stdout.take().context("the SMTP server's stdout")?;
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        let ready = tokio::time::timeout(START_WITHIN, stdout.read_line(&mut line)).await;
        if !matches!(ready, Ok(Ok(_))) || line.trim() != "ready" {
            bail!(
                "the SMTP server on port {} did not start (is aiosmtpd installed? \
                 python3 -m pip install aiosmtpd)\n{}",
                self.port,
                tail(&self.log, 20)
            );
        }
        self.child = Some((child, stdin));
        Ok(())
    }

    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some((mut child, _stdin)) = self.child.take() {
            signal(child.id(), Signal::SIGKILL)?;
            child.wait().await?;
        }
        Ok(())
    }

    /// Each DATA reply waits this long after the message is recorded.
    pub fn set_delay(&self, delay: Duration) -> anyhow::Result<()> {
        std::fs::write(&self.delay_file, format!("{}", delay.as_secs_f64()))
            .context("writing the SMTP delay")
    }

    /// Every message recorded so far, oldest first.
    pub fn received(&self) -> Vec<Mail> {
        let text = std::fs::read_to_string(self.inbox.join("received.tsv")).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let at = fields.next()?.parse().ok()?;
                Some(Mail {
                    at,
                    message_id: fields.next()?.to_owned(),
                    recipients: fields.next()?.to_owned(),
                    subject: fields.next().unwrap_or_default().to_owned(),
                })
            })
            .collect()
    }
}

/// One replica of a service.
#[derive(Debug)]
pub struct Replica {
    pub kind: Kind,
    pub name: String,
    pub port: u16,
    binary: PathBuf,
    env: Vec<(String, String)>,
    pub log: PathBuf,
    child: Option<Child>,
    /// How many times it has been started.
    pub starts: u32,
    /// When it was SIGKILLed, in Unix seconds.
    pub killed_at: Vec<f64>,
}

impl Replica {
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the process (its output appended to its log).
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        let log = log_file(&self.log)?;
        let mut command = Command::new(&self.binary);
        command.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// Waits until its health check answers SERVING.
    pub async fn wait_serving(&mut self, within: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let channel = Channel::from_shared(format!("http://{}", self.address()))?
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(2))
            .connect_lazy();
        let mut health = HealthClient::new(channel);
        let mut last = String::from("no answer");
        while started.elapsed() < within {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                bail!(
                    "{} exited ({status}) before serving\n{}",
                    self.name,
                    tail(&self.log, 30)
                );
            }
            let request = HealthCheckRequest {
                service: self.kind.grpc_service().to_owned(),
            };
            match health.check(request).await {
                Ok(answer) if answer.get_ref().status == ServingStatus::Serving as i32 => {
                    return Ok(started.elapsed());
                }
                Ok(answer) => last = format!("{:?}", answer.get_ref().status()),
                Err(status) => last = format!("{}: {}", status.code(), status.message()),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!(
            "{} was not SERVING within {within:?} (last: {last})\n{}",
            self.name,
            tail(&self.log, 30)
        )
    }

    /// SIGKILL: no chance to finish anything.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), Signal::SIGKILL)?;
            self.killed_at.push(unix_now());
            child.wait().await?;
        }
        Ok(())
    }

    /// SIGTERM, then the exit, within `within`; past that it is killed and
    /// this fails.
    pub async fn terminate(&mut self, within: Duration) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        signal(child.id(), Signal::SIGTERM)?;
        match tokio::time::timeout(within, child.wait()).await {
            Ok(status) => {
                let status = status?;
                if status.success() {
                    Ok(())
                } else {
                    bail!("{} exited with {status} on SIGTERM", self.name)
                }
            }
            Err(_) => {
                signal(child.id(), Signal::SIGKILL)?;
                child.wait().await?;
                bail!("{} did not stop within {within:?} of SIGTERM", self.name)
            }
        }
    }
}

/// A TCP balancer on `port`: each connection goes to the next replica that
/// accepts one.
#[derive(Debug)]
struct Balancer {
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    async fn start(port: u16, backends: Vec<u16>) -> anyhow::Result<Balancer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("binding the balancer on {port}"))?;
        let next = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let backends = backends.clone();
                let next = next.clone();
                tokio::spawn(async move {
                    let first = next.fetch_add(1, Ordering::Relaxed);
                    for i in 0..backends.len() {
                        let port = backends[(first + i) % backends.len()];
                        let connect = TcpStream::connect(("127.0.0.1", port));
                        if let Ok(Ok(mut outbound)) =
                            tokio::time::timeout(Duration::from_secs(1), connect).await
                        {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        Ok(Balancer { task })
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Everything a run started.
#[derive(Debug)]
pub struct Cluster {
    pub postgres: Postgres,
    pub redis: Redis,
    pub smtp: Smtp,
    pub replicas: Vec<Replica>,
    _balancers: Vec<Balancer>,
    pub auth: AuthConfig,
}

impl Cluster {
    /// Starts everything in `dir`, and waits until every replica serves.
    pub async fn start(dir: &Path, options: &Options) -> anyhow::Result<Cluster> {
        let postgres = Postgres::init(
            dir,
            PostgresOptions {
                max_connections: 400,
                ..PostgresOptions::default()
            },
        )
        .await?;
        postgres.start().await?;
        eprintln!("chaos: postgres on {}", postgres.port);

        let mut redis = Redis::new(dir, RedisOptions::default())?;
        redis.start().await?;
        eprintln!("chaos: redis on {}", redis.port);

        let script = dir.join("smtp.py");
        std::fs::write(&script, SMTP_SCRIPT)?;
        let mut smtp = Smtp {
            port: try_free_port()?,
            script,
            inbox: dir.join("inbox"),
            delay_file: dir.join("smtp-delay"),
            log: dir.join("smtp.log"),
            child: None,
        };
        smtp.set_delay(Duration::ZERO)?;
        smtp.start().await?;
        eprintln!("chaos: smtp on {}", smtp.port);

        let mut fronts = std::collections::BTreeMap::new();
        let mut ports = std::collections::BTreeMap::new();
        for kind in Kind::ALL {
            fronts.insert(kind, try_free_port()?);
            ports.insert(kind, [try_free_port()?, try_free_port()?]);
        }
        let mut balancers = Vec::new();
        for kind in [Kind::Case, Kind::Escalation, Kind::Notification] {
            balancers.push(Balancer::start(fronts[&kind], ports[&kind].to_vec()).await?);
        }
        let front = |kind: Kind| format!("http://127.0.0.1:{}", fronts[&kind]);
        let case_key = make_service_keys(dir)?;
        let mut replicas = Vec::new();
        for kind in Kind::ALL {
            for (i, port) in ports[&kind].iter().enumerate() {
                let name = format!("{}-{}", kind.binary(), ["a", "b"][i]);
                let data = dir.join(&name);
                std::fs::create_dir_all(&data)?;
                let env: Vec<(String, String)> = [
                    (
                        "DATABASE_URL",
                        format!("{}?application_name={name}", postgres.url()),
                    ),
                    ("COMPLAINTS_LISTEN", format!("127.0.0.1:{port}")),
                    ("COMPLAINTS_DATA_DIR", data.display().to_string()),
                    (
                        "COMPLAINTS_EVIDENCE_URL",
                        dir.join("evidence").display().to_string(),
                    ),
                    ("COMPLAINTS_CASE_URL", front(Kind::Case)),
                    ("COMPLAINTS_ESCALATION_URL", front(Kind::Escalation)),
                    ("COMPLAINTS_NOTIFICATION_URL", front(Kind::Notification)),
                    ("REDIS_URL", redis.url()),
                    ("COMPLAINTS_SMTP_URL", smtp.url()),
                    (
                        "COMPLAINTS_DEADLINE_LEASE_SECONDS",
                        options.deadline_lease_seconds.to_string(),
                    ),
                    // People's tokens: the shared secret. Services sign
                    // their calls with their own keys, as in production.
                    ("COMPLAINTS_JWT_SECRET", JWT_SECRET.to_owned()),
                    (
                        "COMPLAINTS_SERVICE_KEY_FILE",
                        dir.join(format!("{}.key", kind.binary()))
                            .display()
                            .to_string(),
                    ),
                    (
                        "COMPLAINTS_SERVICE_PUBLIC_KEYS_DIR",
                        dir.join("service-keys").display().to_string(),
                    ),
                    ("COMPLAINTS_JWT_ISSUER", JWT_ISSUER.to_owned()),
                    ("COMPLAINTS_JWT_AUDIENCE", JWT_AUDIENCE.to_owned()),
                    ("RUST_LOG", "info".to_owned()),
                    ("NO_COLOR", "1".to_owned()),
                ]
                .into_iter()
                // Intake keeps no table: as in production, it gets no
                // database to connect to.
                .filter(|(k, _)| !(kind == Kind::Intake && *k == "DATABASE_URL"))
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
                let binary = options.bin_dir.join(kind.binary());
                if !binary.is_file() {
                    bail!("no {} binary at {}", kind.binary(), binary.display());
                }
                replicas.push(Replica {
                    kind,
                    name: name.clone(),
                    port: *port,
                    binary,
                    env,
                    log: dir.join(format!("{name}.log")),
                    child: None,
                    starts: 0,
                    killed_at: Vec::new(),
                });
            }
        }
        let mut cluster = Cluster {
            postgres,
            redis,
            smtp,
            replicas,
            _balancers: balancers,
            // The harness starts test clocks as the case service does, so
            // it signs those calls with the case service's key.
            auth: AuthConfig::new(JWT_ISSUER, JWT_AUDIENCE)
                .with_hs256_secret(JWT_SECRET)
                .with_service_signing_key(case_key),
        };
        // The first replica migrates the database alone; the rest find it done.
        let first = &mut cluster.replicas[0];
        first.spawn()?;
        first.wait_serving(START_WITHIN).await?;
        for replica in &mut cluster.replicas[1..] {
            replica.spawn()?;
        }
        for replica in &mut cluster.replicas[1..] {
            replica.wait_serving(START_WITHIN).await?;
        }
        eprintln!(
            "chaos: {} replicas serving: {}",
            cluster.replicas.len(),
            cluster
                .replicas
                .iter()
                .map(|r| format!("{} on {}", r.name, r.port))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(cluster)
    }

    pub fn replicas_of(&mut self, kind: Kind) -> impl Iterator<Item = &mut Replica> {
        self.replicas.iter_mut().filter(move |r| r.kind == kind)
    }

    pub fn replica(&mut self, name: &str) -> anyhow::Result<&mut Replica> {
        self.replicas
            .iter_mut()
            .find(|r| r.name == name)
            .with_context(|| format!("no replica {name}"))
    }

    pub fn intake_addresses(&self) -> Vec<SocketAddr> {
        self.replicas
            .iter()
            .filter(|r| r.kind == Kind::Intake)
            .map(Replica::address)
            .collect()
    }

    pub fn address_of(&self, kind: Kind) -> SocketAddr {
        self.replicas
            .iter()
            .find(|r| r.kind == kind)
            .map(Replica::address)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Stops every replica (SIGTERM), then the servers. Answers what did not
    /// stop cleanly.
    pub async fn stop(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        for replica in self.replicas.iter_mut().rev() {
            if let Err(error) = replica.terminate(STOP_WITHIN).await {
                problems.push(format!("{error:#}"));
            }
        }
        if let Err(error) = self.smtp.kill().await {
            problems.push(format!("smtp: {error:#}"));
        }
        if let Err(error) = self.redis.kill().await {
            problems.push(format!("redis: {error:#}"));
        }
        if let Err(error) = self.postgres.stop().await {
            problems.push(format!("postgres: {error:#}"));
        }
        problems
    }
}
