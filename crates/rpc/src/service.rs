//! One shape for every service.
//!
//! Each service crate has one builder, `build(ServiceParts) -> Service`: its
//! gRPC routes and its background loops ([`Worker`]s), not yet running. The
//! service's own binary serves one built service ([`run_production`]); the
//! embedded suite serves all four on one address. Either way an
//! [`Application`] binds, serves through [`crate::serve`] (auth, per-call
//! span and metrics, health, reflection), runs the workers until the stop
//! signal, and waits for them to finish their pass.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use complaints_auth::TokenVerifier;
use complaints_config::Settings;
use complaints_domain::clock::{Clock, SystemClock};
use complaints_store::DatabaseConnection;
use complaints_store::relay::Relay;
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;

use crate::peers::{LocalHandle, LocalServices, Peers};

/// What every service's builder takes: settings, the clock, its database
/// (`Db`: a [`DatabaseConnection`], or [`NoDatabase`] for a service that
/// keeps nothing of its own) and the way to reach the other services.
#[derive(Debug, Clone)]
pub struct ServiceParts<Db = DatabaseConnection> {
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    pub db: Db,
    pub peers: Peers,
}

/// Where a service keeps its data, opened from its settings when its
/// production binary starts.
pub trait Storage: Sized + Send {
    fn open(settings: &Settings) -> impl Future<Output = anyhow::Result<Self>> + Send;
}

impl Storage for DatabaseConnection {
    /// Connects to `COMPLAINTS_DATABASE_URL` (creating the data folder for
    /// the default SQLite file) and migrates it, one migrator at a time,
    /// unless `COMPLAINTS_MIGRATE_ON_START=false`.
    async fn open(settings: &Settings) -> anyhow::Result<Self> {
        if settings.database_url == complaints_config::sqlite_url(&settings.data_dir) {
            std::fs::create_dir_all(&settings.data_dir).with_context(|| {
                format!("creating the data folder {}", settings.data_dir.display())
            })?;
        }
        let db = if settings.migrate_on_start {
            complaints_store::db::connect(&settings.database_url).await
        } else {
            complaints_store::db::open(&settings.database_url).await
        };
        db.context("connecting to the database")
    }
}

/// The storage of a service that keeps no table (intake): it opens no
/// database, so its deployment holds no database credentials.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoDatabase;

impl Storage for NoDatabase {
    async fn open(_: &Settings) -> anyhow::Result<Self> {
        Ok(NoDatabase)
    }
}

impl<Db: Storage> ServiceParts<Db> {
    /// The production parts for the service `subject`: refuses the
    /// development signing key unless allowed, opens its storage
    /// ([`Storage::open`]), and reaches the other services over gRPC with
    /// this service's token.
    pub async fn production(
        settings: Settings,
        subject: &'static str,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        refuse_development_key(&settings, subject)?;
        let db = Db::open(&settings).await?;
        let peers = Peers::remote(&settings, subject)?;
        Ok(Self {
            settings,
            clock,
            db,
            peers,
        })
    }
}

impl ServiceParts {
    /// The parts for one service of a suite in one process: the services
    /// call each other directly through `local`.
    pub fn in_process(
        settings: Settings,
        subject: &'static str,
        clock: Arc<dyn Clock>,
        db: DatabaseConnection,
        local: &LocalServices,
    ) -> Self {
        Self {
            settings,
            clock,
            db,
            peers: Peers::in_process(local, subject),
        }
    }

    /// The same parts for a service that keeps no table of its own.
    pub fn without_database(self) -> ServiceParts<NoDatabase> {
        ServiceParts {
            settings: self.settings,
            clock: self.clock,
            db: NoDatabase,
            peers: self.peers,
        }
    }
}

/// Refuses the public development signing key, with which anyone can mint
/// a token for any role, unless `COMPLAINTS_ALLOW_DEV_KEY=true`; says so in
/// the log either way.
fn refuse_development_key(settings: &Settings, service: &str) -> anyhow::Result<()> {
    if let Err(error) = settings.check_production_keys() {
        tracing::error!(%error, service, "refusing to start with the development signing key");
        return Err(error.into());
    }
    if settings.auth.is_development() {
        tracing::warn!(
            service,
            "accepting tokens signed with the public DEVELOPMENT key ({}=true): anyone can mint any role; never run like this with real data",
            complaints_config::env::ALLOW_DEV_KEY
        );
    }
    Ok(())
}

/// The stop signal every background loop watches: check it between items
/// of a pass ([`Stop::is_stopped`]), await it beside other work
/// ([`Stop::stopped`], [`Stop::sleep`]). Defined with the store so that loops
/// below this crate (the outbox relay, the deadline worker) take it too.
pub use complaints_store::stop::{Stop, StopHandle};

/// What one pass of a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Items handled; a pass with none means the worker is idle.
    pub work: usize,
    /// Of those, deadlines that fired with an effect (the test clock reports
    /// this number).
    pub fired: usize,
}

impl Pass {
    pub fn work(work: usize) -> Self {
        Self { work, fired: 0 }
    }
}

/// A boxed future, for the worker trait's async methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A background loop of a service: an outbox relay, the firing worker,
/// notification delivery, the index reconciler.
pub trait Worker: Send + Sync + std::fmt::Debug {
    /// Runs passes until `stop` is sent, sleeping between them until work
    /// is due or something wakes it. Inside a pass it checks
    /// [`Stop::is_stopped`] between items: on the signal it finishes the
    /// item in hand, gives back what it holds for the rest (leases, claims)
    /// so another replica takes them at once, and returns.
    fn run(&self, stop: Stop) -> BoxFuture<'_, ()>;

    /// One pass over everything due now. The test clock drives the suite by
    /// these, so that time moves only between passes.
    fn run_once(&self) -> BoxFuture<'_, anyhow::Result<Pass>>;

    /// When this worker next has work due, if it keeps such a time.
    fn next_due(&self) -> BoxFuture<'_, anyhow::Result<Option<DateTime<Utc>>>> {
        Box::pin(async { Ok(None) })
    }
}

impl Worker for Relay {
    fn run(&self, stop: Stop) -> BoxFuture<'_, ()> {
        Box::pin(Relay::run(self, stop))
    }

    fn run_once(&self) -> BoxFuture<'_, anyhow::Result<Pass>> {
        Box::pin(async { Ok(Pass::work(Relay::run_once(self).await?)) })
    }
}

type AddRoutes = Box<dyn FnOnce(&mut RoutesBuilder) + Send>;

/// A built service: its gRPC routes and its background loops, not yet
/// running.
pub struct Service {
    /// The service's full name, as health checks ask for it.
    pub name: &'static str,
    routes: AddRoutes,
    workers: Vec<Arc<dyn Worker>>,
    local: Option<LocalHandle>,
    /// Sent when the server stops taking calls (see [`Service::with_drain`]).
    drains: Vec<StopHandle>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service named `name` serving what `routes` adds.
    pub fn new(
        name: &'static str,
        routes: impl FnOnce(&mut RoutesBuilder) + Send + 'static,
    ) -> Self {
        Self {
            name,
            routes: Box::new(routes),
            workers: Vec::new(),
            local: None,
            drains: Vec::new(),
        }
    }

    /// Sends `drain` when the server stops taking calls, before the calls
    /// in flight are waited for: a call that streams without end (a feed)
    /// watches the other half ([`Stop::new`]) and ends, so that it does not
    /// hold the shutdown up.
    pub fn with_drain(mut self, drain: StopHandle) -> Self {
        self.drains.push(drain);
        self
    }

    /// How the other services of the same process call this one.
    pub fn with_local(mut self, handle: LocalHandle) -> Self {
        self.local = Some(handle);
        self
    }

    /// Makes this service callable by the others built with `local`.
    pub fn register_in(&self, local: &LocalServices) {
        if let Some(handle) = &self.local {
            local.register(handle);
        }
    }

    /// Adds a background loop.
    pub fn with_worker(mut self, worker: impl Worker + 'static) -> Self {
        self.workers.push(Arc::new(worker));
        self
    }

    pub fn workers(&self) -> &[Arc<dyn Worker>] {
        &self.workers
    }
}

type Background = Box<dyn FnOnce(Stop) -> BoxFuture<'static, ()> + Send>;

/// Bound services, ready to serve: one process's gRPC server and its
/// background loops.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    verifier: TokenVerifier,
    names: Vec<&'static str>,
    routes: RoutesBuilder,
    workers: Vec<Arc<dyn Worker>>,
    background: Vec<Background>,
    drains: Vec<StopHandle>,
    serve_options: crate::ServeOptions,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("address", &self.address)
            .field("services", &self.names)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds `listen` (port 0 picks a free port) for `services`, behind
    /// tokens checked by `verifier`.
    pub async fn bind(
        listen: SocketAddr,
        verifier: TokenVerifier,
        services: Vec<Service>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let address = listener.local_addr()?;
        let mut routes = RoutesBuilder::default();
        let mut names = Vec::new();
        let mut workers = Vec::new();
        let mut drains = Vec::new();
        for service in services {
            names.push(service.name);
            (service.routes)(&mut routes);
            workers.extend(service.workers);
            drains.extend(service.drains);
        }
        crate::metrics::register_server(&names);
        Ok(Self {
            listener,
            address,
            verifier,
            names,
            routes,
            workers,
            background: Vec::new(),
            drains,
            serve_options: crate::ServeOptions::default(),
        })
    }

    /// Serves with `options` (TLS, limits, reflection) instead of the
    /// embedded defaults.
    pub fn with_serve_options(mut self, options: crate::ServeOptions) -> Self {
        self.serve_options = options;
        self
    }

    /// One service as its production binary runs it: its parts from
    /// `settings` ([`ServiceParts::production`]), built by `build`, bound to
    /// `COMPLAINTS_LISTEN`. Tests pass their own clock and a port-0 address.
    pub async fn production<Db, F, Fut>(
        settings: Settings,
        subject: &'static str,
        clock: Arc<dyn Clock>,
        build: F,
    ) -> anyhow::Result<Self>
    where
        Db: Storage,
        F: FnOnce(ServiceParts<Db>) -> Fut,
        Fut: Future<Output = anyhow::Result<Service>>,
    {
        let listen = settings.listen;
        let verifier =
            TokenVerifier::new(&settings.auth).context("reading the token verification keys")?;
        let options = crate::ServeOptions::from_settings(&settings);
        let parts = ServiceParts::production(settings, subject, clock).await?;
        let service = build(parts).await?;
        Ok(Self::bind(listen, verifier, vec![service])
            .await?
            .with_serve_options(options))
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Takes the workers out, so that something else drives them (the test
    /// clock runs their passes itself) instead of each its own loop.
    pub fn take_workers(&mut self) -> Vec<Arc<dyn Worker>> {
        std::mem::take(&mut self.workers)
    }

    /// Serves one more gRPC service that is not part of any built service.
    pub fn add_routes(&mut self, add: impl FnOnce(&mut RoutesBuilder)) {
        add(&mut self.routes);
    }

    /// Runs `task` beside the server until the stop signal.
    pub fn add_background<F>(&mut self, task: impl FnOnce(Stop) -> F + Send + 'static)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.background.push(Box::new(move |stop| {
            Box::pin(task(stop)) as BoxFuture<'static, ()>
        }));
    }

    /// Serves until `shutdown` resolves: health reports NOT_SERVING, no new
    /// calls are taken, the calls in flight finish; then every worker is
    /// told to stop, finishes the item in hand and releases its leases.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let (stop, stopped) = Stop::new();
        let mut tasks = tokio::task::JoinSet::new();
        let mut running = HashMap::new();
        for worker in self.workers {
            let name: String = format!("{worker:?}").chars().take(NAME_CHARS).collect();
            let stopped = stopped.clone();
            let task = tasks.spawn(async move { worker.run(stopped).await });
            running.insert(task.id(), name);
        }
        for (index, task) in self.background.into_iter().enumerate() {
            let task = tasks.spawn(task(stopped.clone()));
            running.insert(task.id(), format!("background task {index}"));
        }
        tracing::info!(address = %self.address, services = ?self.names, "listening");
        let drains = self.drains;
        let shutdown = async move {
            shutdown.await;
            for drain in &drains {
                drain.stop();
            }
        };
        let served = crate::serve(
            self.listener,
            self.verifier,
            self.routes,
            &self.names,
            &self.serve_options,
            shutdown,
        )
        .await;
        tracing::info!("stopped taking calls; stopping the background work");
        stop.stop();
        join_reporting(tasks, running).await;
        tracing::info!(services = ?self.names, "stopped");
        served
    }
}

/// How much of a worker's debug form names it in shutdown logs.
const NAME_CHARS: usize = 80;

/// How often a shutdown names the background loops it still waits for.
const STILL_STOPPING_EVERY: Duration = Duration::from_secs(5);

/// Waits for every loop; every [`STILL_STOPPING_EVERY`] names those still
/// running (`running`, by task), so a shutdown that the orchestrator's
/// grace period cuts short says what it was waiting for.
async fn join_reporting(
    mut tasks: tokio::task::JoinSet<()>,
    mut running: HashMap<tokio::task::Id, String>,
) {
    let mut report = tokio::time::interval(STILL_STOPPING_EVERY);
    report.tick().await;
    loop {
        tokio::select! {
            joined = tasks.join_next_with_id() => match joined {
                Some(Ok((task, ()))) => {
                    running.remove(&task);
                }
                Some(Err(error)) => {
                    let name = running.remove(&error.id());
                    tracing::error!(%error, loop_name = ?name, "a background loop failed while stopping");
                }
                None => return,
            },
            _ = report.tick() => tracing::warn!(
                waiting_for = ?running.values().collect::<Vec<_>>(),
                "still stopping the background work"
            ),
        }
    }
}

/// A production binary's `main`: settings from the environment (and the
/// file `COMPLAINTS_CONFIG` names), telemetry, the service built by `build`
/// from its production parts, served on `COMPLAINTS_LISTEN` until SIGTERM
/// or Ctrl-C, then telemetry flushed.
pub async fn run_production<Db, F, Fut>(subject: &'static str, build: F) -> anyhow::Result<()>
where
    Db: Storage,
    F: FnOnce(ServiceParts<Db>) -> Fut,
    Fut: Future<Output = anyhow::Result<Service>>,
{
    let settings = Settings::load()?;
    let telemetry = complaints_telemetry::init(complaints_telemetry::TelemetryOptions {
        service: subject,
        log_filter: &settings.log_filter,
        trace_filter: &settings.trace_filter,
        log_json: settings.log_json,
        metrics_listen: settings.metrics_listen,
    })?;
    let result = async {
        Application::production(settings, subject, Arc::new(SystemClock), build)
            .await?
            .run_until_stopped(crate::shutdown_signal())
            .await
    }
    .await;
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), service = subject, "failed");
    }
    telemetry.shutdown();
    result
}
