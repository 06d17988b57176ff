//! The load: complaints submitted at a steady rate to a random intake
//! replica, each retried with the same `request_id` on UNAVAILABLE or
//! DEADLINE_EXCEEDED (as the contract tells a client to), and a test clock
//! for some of the cases they open, due within seconds, half of them met
//! (settled) well before they fall due.
//!
//! Everything the load was told is kept in the [`Ledger`], which the
//! checks compare with what the system holds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Datelike, Utc};
use complaints_auth::{AuthConfig, BearerToken, ServiceSigner, TokenIssuer};
use complaints_domain::role::Role;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1 as escalation;
use complaints_proto::complaints::escalation::v1::escalation_service_client::EscalationServiceClient;
use complaints_proto::complaints::intake::v1::intake_service_client::IntakeServiceClient;
use complaints_proto::complaints::intake::v1::{SubmitComplaintRequest, SubmitComplaintResponse};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// How long one call may take before the client gives up on it.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Most submissions in flight at once; past that the rate drops.
const IN_FLIGHT: usize = 48;

type Authed = InterceptedService<Channel, BearerToken>;

/// A std mutex (never held across an await) whose poisoning is ignored:
/// the ledger is plain data.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A complaint the load submitted.
#[derive(Debug, Clone)]
pub struct Submission {
    pub request: SubmitComplaintRequest,
    /// When it was first sent, in Unix seconds.
    pub first_sent: f64,
    pub accepted: Option<Accepted>,
    /// Answers other than OK and the retryable ones, as `CODE: message`.
    pub refusals: Vec<String>,
    /// A probe sent when a fault was lifted, to time the recovery.
    pub probe: bool,
}

#[derive(Debug, Clone)]
pub struct Accepted {
    pub case_id: String,
    pub register_number: String,
}

/// A test clock the load started on an accepted case.
#[derive(Debug, Clone)]
pub struct TestClock {
    pub case_id: String,
    pub register_number: String,
    pub due_at: DateTime<Utc>,
    /// When its start was answered OK.
    pub started: Option<DateTime<Utc>>,
    /// When its settlement (met) was answered OK, if it was to be met.
    pub met: Option<DateTime<Utc>>,
    pub to_be_met: bool,
    pub errors: Vec<String>,
}

/// What the load did.
#[derive(Debug, Default)]
pub struct Ledger {
    pub submissions: Mutex<Vec<Submission>>,
    pub clocks: Mutex<Vec<TestClock>>,
    /// Retryable answers seen, by code.
    pub retried: Mutex<BTreeMap<String, u64>>,
    /// Test clocks still being started or settled.
    pub clocks_in_flight: AtomicU64,
}

/// The clients the load and the checks use.
#[derive(Debug, Clone)]
pub struct Clients {
    intake: Vec<IntakeServiceClient<Authed>>,
    escalation: Vec<EscalationServiceClient<Authed>>,
    rng: Arc<Mutex<fastrand::Rng>>,
    pub seed: u64,
}

fn channel(address: SocketAddr) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(CALL_TIMEOUT)
        .connect_lazy())
}

/// A bearer token for `role`, valid for `ttl`.
pub fn token(auth: &AuthConfig, subject: &str, role: Role) -> anyhow::Result<BearerToken> {
    let signed = TokenIssuer::new(auth)?.issue(subject, role, Duration::from_secs(6 * 3600))?;
    Ok(BearerToken::new(signed)?)
}

impl Clients {
    pub fn new(
        auth: &AuthConfig,
        intake: &[SocketAddr],
        escalation: &[SocketAddr],
        seed: u64,
    ) -> anyhow::Result<Clients> {
        let integration = token(auth, "chaos-load", Role::Integration)?;
        // Signed as the case service, which is who starts clocks.
        let service = BearerToken::signed(ServiceSigner::own_key(auth, "case")?);
        Ok(Clients {
            intake: intake
                .iter()
                .map(|a| {
                    Ok(IntakeServiceClient::with_interceptor(
                        channel(*a)?,
                        integration.clone(),
                    ))
                })
                .collect::<anyhow::Result<_>>()?,
            escalation: escalation
                .iter()
                .map(|a| {
                    Ok(EscalationServiceClient::with_interceptor(
                        channel(*a)?,
                        service.clone(),
                    ))
                })
                .collect::<anyhow::Result<_>>()?,
            rng: Arc::new(Mutex::new(fastrand::Rng::with_seed(seed))),
            seed,
        })
    }

    fn pick(&self, of: usize) -> usize {
        lock(&self.rng).usize(..of.max(1))
    }

    /// Submits `request` until it is answered OK, retrying UNAVAILABLE and
    /// DEADLINE_EXCEEDED with the same request (and so the same
    /// `request_id`) on a random replica, up to `attempts` times.
    pub async fn submit(
        &self,
        request: &SubmitComplaintRequest,
        attempts: usize,
        ledger: &Ledger,
    ) -> Result<SubmitComplaintResponse, Status> {
        let call = || async {
            let mut client = self.intake[self.pick(self.intake.len())].clone();
            client
                .submit_complaint(request.clone())
                .await
                .map(tonic::Response::into_inner)
        };
        call.retry(backoff(attempts))
            .when(retryable)
            .notify(|status: &Status, _| {
                let code = match status.code() {
                    Code::Unknown => "connection lost".to_owned(),
                    Code::Cancelled => "client timeout".to_owned(),
                    code => format!("{code:?}"),
                };
                *lock(&ledger.retried).entry(code).or_default() += 1;
            })
            .await
    }

    /// `ApplyCaseChange` until OK (it is idempotent), on a random replica.
    async fn apply(
        &self,
        change: escalation::ApplyCaseChangeRequest,
        attempts: usize,
    ) -> Result<(), Status> {
        let call = || async {
            let mut client = self.escalation[self.pick(self.escalation.len())].clone();
            client.apply_case_change(change.clone()).await.map(|_| ())
        };
        call.retry(backoff(attempts)).when(retryable).await
    }
}

fn backoff(attempts: usize) -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(2))
        .with_jitter()
        .with_max_times(attempts)
}

/// The answers the contract says to retry with the same request, and the
/// client's own failures before any answer came: a connection that broke
/// (tonic reports UNKNOWN "transport error", as when the replica was
/// SIGKILLed mid-call) and the client's own call timeout (CANCELLED
/// "Timeout expired", a deadline exceeded on this side).
pub fn retryable(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded => true,
        Code::Unknown => status.message().starts_with("transport error"),
        Code::Cancelled => status.message() == "Timeout expired",
        _ => false,
    }
}

/// The complaint numbered `n` of the run seeded `seed`.
pub fn complaint(seed: u64, n: u64) -> SubmitComplaintRequest {
    let request_id = format!("chaos-{seed}-{n:06}");
    SubmitComplaintRequest {
        request_id: request_id.clone(),
        channel: common::Channel::Web as i32,
        received_at: None,
        complainant: Some(common::Complainant {
            full_name: format!("Chaos Complainant {n}"),
            email: format!("c{n}.s{seed}@chaos.example"),
            phone: String::new(),
            postal_address: None,
            preferred_contact: common::ContactMethod::Email as i32,
            customer_ref: String::new(),
        }),
        summary: summary(&request_id),
        details: "The pendant alarm was pressed and nobody answered.".to_owned(),
        recorded_by: String::new(),
        scan_reference: String::new(),
        scanned_letter: None,
    }
}

/// The summary a request's case carries, by which the checks find it.
pub fn summary(request_id: &str) -> String {
    format!("chaos {request_id}: pendant alarm not answered")
}

/// The running load.
#[derive(Debug)]
pub struct Load {
    pub ledger: Arc<Ledger>,
    clients: Clients,
    next: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    driver: tokio::task::JoinHandle<()>,
    work: Arc<tokio::sync::Semaphore>,
}

/// How the load makes test clocks.
#[derive(Debug, Clone, Copy)]
pub struct ClockPlan {
    pub every: u64,
    pub due_in: Duration,
}

impl Load {
    /// Starts submitting `rate` complaints a second.
    pub fn start(clients: Clients, rate: f64, clocks: ClockPlan) -> Load {
        let ledger = Arc::new(Ledger::default());
        let next = Arc::new(AtomicU64::new(1));
        let stop = Arc::new(AtomicBool::new(false));
        let work = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let driver = {
            let (ledger, clients, next, stop, work) = (
                ledger.clone(),
                clients.clone(),
                next.clone(),
                stop.clone(),
                work.clone(),
            );
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                while !stop.load(Ordering::SeqCst) {
                    ticks.tick().await;
                    let Ok(permit) = work.clone().acquire_owned().await else {
                        return;
                    };
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let (ledger, clients) = (ledger.clone(), clients.clone());
                    tokio::spawn(async move {
                        submit_one(&clients, &ledger, n, false, Some(clocks)).await;
                        drop(permit);
                    });
                }
            })
        };
        Load {
            ledger,
            clients,
            next,
            stop,
            driver,
            work,
        }
    }

    /// One complaint outside the steady load, to see the system answer
    /// again; answers whether it was accepted, and its register number.
    pub async fn probe(&self) -> Option<String> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        submit_one(&self.clients, &self.ledger, n, true, None).await
    }

    /// Stops submitting new complaints and waits for those in flight.
    pub async fn stop(self) -> Arc<Ledger> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.driver.await;
        let _ = self.work.acquire_many(IN_FLIGHT as u32).await;
        // Each clock's calls give up after their retries (a few minutes).
        while self.ledger.clocks_in_flight.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.ledger
    }
}

/// Submits complaint `n` (retrying as the contract says, for up to about
/// four minutes), records the outcome, and may start a test clock on its
/// case. Answers the register number if it was accepted.
async fn submit_one(
    clients: &Clients,
    ledger: &Arc<Ledger>,
    n: u64,
    probe: bool,
    clocks: Option<ClockPlan>,
) -> Option<String> {
    let request = complaint(clients.seed, n);
    let index = {
        let mut submissions = lock(&ledger.submissions);
        submissions.push(Submission {
            request: request.clone(),
            first_sent: crate::cluster::unix_now(),
            accepted: None,
            refusals: Vec::new(),
            probe,
        });
        submissions.len() - 1
    };
    let answer = clients.submit(&request, 120, ledger).await;
    let accepted = record(ledger, index, answer);
    if let (Some(accepted), Some(plan)) = (&accepted, clocks)
        && plan.every > 0
        && n.is_multiple_of(plan.every)
    {
        let to_be_met = (n / plan.every).is_multiple_of(2);
        let clients = clients.clone();
        let ledger = ledger.clone();
        let accepted = accepted.clone();
        ledger.clocks_in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            run_clock(&clients, &ledger, &accepted, plan.due_in, to_be_met).await;
            ledger.clocks_in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
    accepted.map(|a| a.register_number)
}

/// Records the answer to submission `index`.
pub fn record(
    ledger: &Ledger,
    index: usize,
    answer: Result<SubmitComplaintResponse, Status>,
) -> Option<Accepted> {
    let mut submissions = lock(&ledger.submissions);
    let submission = &mut submissions[index];
    match answer {
        Ok(response) => {
            let accepted = Accepted {
                case_id: response.case_id,
                register_number: response.register_number,
            };
            submission.accepted = Some(accepted.clone());
            Some(accepted)
        }
        Err(status) => {
            submission
                .refusals
                .push(format!("{:?}: {}", status.code(), status.message()));
            None
        }
    }
}

/// A Stage 3 acknowledgement clock on `case`, due in `due_in`: a kind that
/// only alerts staff when it is breached, which a stage 1 case never
/// starts itself. If `to_be_met`, it is settled as met a quarter of the way
/// to its due instant.
async fn run_clock(
    clients: &Clients,
    ledger: &Ledger,
    case: &Accepted,
    due_in: Duration,
    to_be_met: bool,
) {
    let due_at = Utc::now() + chrono::Duration::from_std(due_in).unwrap_or_default();
    let london = due_at
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    let start = escalation::ApplyCaseChangeRequest {
        case_id: case.case_id.clone(),
        register_number: case.register_number.clone(),
        // Far above any version the case service itself reaches in a run.
        version: 1_000_000,
        policy_version: String::new(),
        start: vec![escalation::DeadlineStart {
            kind: common::DeadlineKind::Stage3Acknowledge as i32,
            stage: common::Stage::Stage3 as i32,
            working_days: 5,
            due_date: Some(complaints_proto::google::r#type::Date {
                year: london.year(),
                month: i32::try_from(london.month()).unwrap_or_default(),
                day: i32::try_from(london.day()).unwrap_or_default(),
            }),
            due_at: Some(prost_types::Timestamp {
                seconds: due_at.timestamp(),
                nanos: i32::try_from(due_at.timestamp_subsec_nanos()).unwrap_or_default(),
            }),
            reason: "a test clock of the fault harness".to_owned(),
            owner_role: common::Role::ComplaintsHandler as i32,
            escalation_role: common::Role::CxManager as i32,
            started_at: None,
        }],
        settle: Vec::new(),
        assignee: String::new(),
    };
    let mut clock = TestClock {
        case_id: case.case_id.clone(),
        register_number: case.register_number.clone(),
        due_at,
        started: None,
        met: None,
        to_be_met,
        errors: Vec::new(),
    };
    match clients.apply(start.clone(), 120).await {
        Ok(()) => clock.started = Some(Utc::now()),
        Err(status) => clock.errors.push(format!("start: {status:?}")),
    }
    if to_be_met && clock.started.is_some() {
        let settle_at = due_in / 4;
        tokio::time::sleep(settle_at).await;
        let settle = escalation::ApplyCaseChangeRequest {
            version: 1_000_001,
            start: Vec::new(),
            settle: vec![escalation::DeadlineSettlement {
                kind: common::DeadlineKind::Stage3Acknowledge as i32,
                state: escalation::DeadlineState::Met as i32,
            }],
            ..start
        };
        match clients.apply(settle, 120).await {
            Ok(()) => clock.met = Some(Utc::now()),
            Err(status) => clock.errors.push(format!("settle: {status:?}")),
        }
    }
    lock(&ledger.clocks).push(clock);
}
