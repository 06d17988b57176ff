//! How one service calls another: in the same process (the embedded suite
//! calls the generated service trait directly, as the platform's `service`
//! principal) or over gRPC with a service token (production). Callers see
//! one type per peer either way.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use complaints_auth::{BearerToken, ServiceSigner};
use complaints_config::Settings;
use complaints_domain::role::{Actor, Role};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::case::v1::case_service_client::CaseServiceClient;
use complaints_proto::complaints::case::v1::case_service_server::CaseService;
use complaints_proto::complaints::escalation::v1 as escalation_pb;
use complaints_proto::complaints::escalation::v1::escalation_service_client::EscalationServiceClient;
use complaints_proto::complaints::escalation::v1::escalation_service_server::EscalationService;
use complaints_proto::complaints::notification::v1 as notification_pb;
use complaints_proto::complaints::notification::v1::notification_service_client::NotificationServiceClient;
use complaints_proto::complaints::notification::v1::notification_service_server::NotificationService;
use complaints_telemetry::WithTraceContext;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

/// A piece of evidence as `CaseService/GetEvidence` streams it.
pub type EvidenceChunks = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<case_pb::GetEvidenceResponse, Status>> + Send>,
>;

/// Timeline events as `CaseService/WatchCaseEvents` streams them.
pub type CaseEventStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<case_pb::WatchCaseEventsResponse, Status>> + Send>,
>;

/// The case service as the others in its process call it: its
/// server-streaming calls stream boxed.
pub type CaseServiceHandle =
    dyn CaseService<GetEvidenceStream = EvidenceChunks, WatchCaseEventsStream = CaseEventStream>;

/// A service token on every call, and the caller's trace context.
type Authed = InterceptedService<Channel, WithTraceContext<BearerToken>>;

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A peer's address or credentials are unusable; the process should not start.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{setting} {url:?} is not a usable address: {reason}")]
    Url {
        setting: &'static str,
        url: String,
        reason: String,
    },
    #[error(
        "no service credential: set COMPLAINTS_SERVICE_KEY_FILE (or, without service keys, an HS256 secret) ({0})"
    )]
    NoToken(String),
}

/// The credential this process presents to its peers as `subject`: short-
/// lived tokens signed with its own key (`COMPLAINTS_SERVICE_KEY_FILE`) and
/// renewed; else `COMPLAINTS_SERVICE_TOKEN` as it is; else tokens signed
/// with the configured HS256 secret (the development suite, tests).
pub fn service_token(settings: &Settings, subject: &str) -> Result<BearerToken, PeerError> {
    if settings.auth.service_signing_key.is_none()
        && let Some(token) = &settings.service_token
    {
        return BearerToken::new(token.expose()).map_err(|e| PeerError::NoToken(e.to_string()));
    }
    ServiceSigner::from_config(&settings.auth, subject)
        .map(BearerToken::signed)
        .map_err(|e| PeerError::NoToken(e.to_string()))
}

/// A lazily connected channel to `url`, over TLS for `https://` (see
/// [`crate::tls::client_tls`]).
pub fn channel(
    setting: &'static str,
    url: &str,
    tls: &complaints_config::ClientTls,
) -> Result<Channel, PeerError> {
    let unusable = |reason: String| PeerError::Url {
        setting,
        url: url.to_owned(),
        reason,
    };
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| unusable(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(CALL_TIMEOUT);
    let endpoint = match crate::tls::client_tls(url, tls).map_err(unusable)? {
        Some(config) => endpoint
            .tls_config(config)
            .map_err(|e| unusable(e.to_string()))?,
        None => endpoint,
    };
    Ok(endpoint.connect_lazy())
}

/// A request as the platform itself makes it, for in-process calls.
fn internal<T>(subject: &'static str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .extensions_mut()
        .insert(Actor::new(subject, Role::Service));
    request
}

macro_rules! peer {
    ($name:ident, $server:ty, $client:ident) => {
        #[derive(Clone)]
        pub struct $name {
            subject: &'static str,
            route: Route<$server, $client<Authed>>,
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let route = match self.route {
                    Route::InProcess(_) => "in-process",
                    Route::Remote(_) => "remote",
                };
                f.debug_struct(stringify!($name))
                    .field("route", &route)
                    .finish()
            }
        }

        impl $name {
            /// Calls `service` directly, as `subject` with the service role.
            pub fn in_process(subject: &'static str, service: Arc<$server>) -> Self {
                let slot = Arc::new(OnceLock::new());
                let _ = slot.set(service);
                Self {
                    subject,
                    route: Route::InProcess(slot),
                }
            }

            /// Calls whatever service is put in `slot`, as `subject`; until
            /// then, calls are `UNAVAILABLE`. Lets services that call each
            /// other be built one after another in one process.
            pub fn in_slot(subject: &'static str, slot: Arc<OnceLock<Arc<$server>>>) -> Self {
                Self {
                    subject,
                    route: Route::InProcess(slot),
                }
            }

            /// Calls over gRPC, presenting `token` and the current trace context.
            pub fn remote(subject: &'static str, channel: Channel, token: BearerToken) -> Self {
                Self {
                    subject,
                    route: Route::Remote($client::with_interceptor(
                        channel,
                        WithTraceContext::new(token),
                    )),
                }
            }
        }
    };
}

/// Where a peer's calls go: a service in this process (its slot filled
/// once it is built), or a gRPC client.
enum Route<S: ?Sized, C> {
    InProcess(Arc<OnceLock<Arc<S>>>),
    Remote(C),
}

impl<S: ?Sized, C: Clone> Clone for Route<S, C> {
    fn clone(&self) -> Self {
        match self {
            Route::InProcess(service) => Route::InProcess(service.clone()),
            Route::Remote(client) => Route::Remote(client.clone()),
        }
    }
}

/// Runs one call on whichever route the peer has.
macro_rules! call {
    ($peer:expr, $method:ident, $message:expr) => {{
        let message = $message;
        match &$peer.route {
            Route::InProcess(slot) => match slot.get() {
                Some(service) => service
                    .$method(internal($peer.subject, message))
                    .await
                    .map(tonic::Response::into_inner),
                None => Err(Status::unavailable("the service called is not started yet")),
            },
            Route::Remote(client) => client
                .clone()
                .$method(message)
                .await
                .map(tonic::Response::into_inner),
        }
    }};
}

peer!(CasePeer, CaseServiceHandle, CaseServiceClient);
peer!(
    EscalationPeer,
    dyn EscalationService,
    EscalationServiceClient
);
peer!(
    NotificationPeer,
    dyn NotificationService,
    NotificationServiceClient
);

/// The other services, as one service reaches them.
#[derive(Debug, Clone)]
pub struct Peers {
    pub case: CasePeer,
    pub escalation: EscalationPeer,
    pub notification: NotificationPeer,
}

impl Peers {
    /// Over gRPC, at the addresses `settings` names (connected on first
    /// use), presenting the token of `subject` ([`service_token`]).
    pub fn remote(settings: &Settings, subject: &'static str) -> Result<Peers, PeerError> {
        let token = service_token(settings, subject)?;
        Ok(Peers {
            case: CasePeer::remote(
                subject,
                channel(
                    "COMPLAINTS_CASE_URL",
                    &settings.case_url,
                    &settings.server.client_tls,
                )?,
                token.clone(),
            ),
            escalation: EscalationPeer::remote(
                subject,
                channel(
                    "COMPLAINTS_ESCALATION_URL",
                    &settings.escalation_url,
                    &settings.server.client_tls,
                )?,
                token.clone(),
            ),
            notification: NotificationPeer::remote(
                subject,
                channel(
                    "COMPLAINTS_NOTIFICATION_URL",
                    &settings.notification_url,
                    &settings.server.client_tls,
                )?,
                token,
            ),
        })
    }

    /// In this process, through `local`, as `subject`.
    pub fn in_process(local: &LocalServices, subject: &'static str) -> Peers {
        Peers {
            case: CasePeer::in_slot(subject, local.case.clone()),
            escalation: EscalationPeer::in_slot(subject, local.escalation.clone()),
            notification: NotificationPeer::in_slot(subject, local.notification.clone()),
        }
    }
}

/// The services of one process, for each other to call directly. Each is
/// put in its slot once it is built.
#[derive(Clone, Default)]
pub struct LocalServices {
    case: Arc<OnceLock<Arc<CaseServiceHandle>>>,
    escalation: Arc<OnceLock<Arc<dyn EscalationService>>>,
    notification: Arc<OnceLock<Arc<dyn NotificationService>>>,
}

impl std::fmt::Debug for LocalServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalServices")
            .field("case", &self.case.get().is_some())
            .field("escalation", &self.escalation.get().is_some())
            .field("notification", &self.notification.get().is_some())
            .finish()
    }
}

/// A built service as the others in its process call it.
#[derive(Clone)]
pub enum LocalHandle {
    Case(Arc<CaseServiceHandle>),
    Escalation(Arc<dyn EscalationService>),
    Notification(Arc<dyn NotificationService>),
}

impl std::fmt::Debug for LocalHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LocalHandle::Case(_) => "Case",
            LocalHandle::Escalation(_) => "Escalation",
            LocalHandle::Notification(_) => "Notification",
        })
    }
}

impl LocalServices {
    /// Puts a built service in its slot (the first one of each kind wins).
    pub fn register(&self, handle: &LocalHandle) {
        // A second service of a kind is ignored: the first one built serves.
        match handle.clone() {
            LocalHandle::Case(service) => drop(self.case.set(service)),
            LocalHandle::Escalation(service) => drop(self.escalation.set(service)),
            LocalHandle::Notification(service) => drop(self.notification.set(service)),
        }
    }
}

impl CasePeer {
    /// Opens (or, for a `request_id` seen before, finds) a case.
    pub async fn open_case(
        &self,
        request: case_pb::OpenCaseRequest,
    ) -> Result<case_pb::OpenCaseResponse, Status> {
        call!(self, open_case, request)
    }

    pub async fn get_case(&self, case_id: &str) -> Result<case_pb::Case, Status> {
        let reply = call!(
            self,
            get_case,
            case_pb::GetCaseRequest {
                lookup: Some(case_pb::get_case_request::Lookup::CaseId(
                    case_id.to_owned()
                )),
            }
        )?;
        reply
            .case
            .ok_or_else(|| Status::internal("GetCase replied without a case"))
    }

    pub async fn escalate_within_stage(
        &self,
        request: case_pb::EscalateWithinStageRequest,
    ) -> Result<case_pb::EscalateWithinStageResponse, Status> {
        call!(self, escalate_within_stage, request)
    }

    /// Records a move of the case's clocks on its timeline (once per
    /// request id).
    pub async fn record_clock_change(
        &self,
        request: case_pb::RecordClockChangeRequest,
    ) -> Result<case_pb::RecordClockChangeResponse, Status> {
        call!(self, record_clock_change, request)
    }

    pub async fn record_notice(
        &self,
        request: case_pb::RecordNoticeRequest,
    ) -> Result<case_pb::RecordNoticeResponse, Status> {
        call!(self, record_notice, request)
    }

    /// The case an incoming email continues, if its sender is its complainant.
    pub async fn find_case_by_message(
        &self,
        request: case_pb::FindCaseByMessageRequest,
    ) -> Result<case_pb::FindCaseByMessageResponse, Status> {
        call!(self, find_case_by_message, request)
    }

    /// Files the complainant's further email on its case.
    pub async fn add_correspondence(
        &self,
        request: case_pb::AddCorrespondenceRequest,
    ) -> Result<case_pb::AddCorrespondenceResponse, Status> {
        call!(self, add_correspondence, request)
    }
}

impl EscalationPeer {
    pub async fn apply_case_change(
        &self,
        request: escalation_pb::ApplyCaseChangeRequest,
    ) -> Result<escalation_pb::ApplyCaseChangeResponse, Status> {
        call!(self, apply_case_change, request)
    }
}

impl NotificationPeer {
    pub async fn request_notification(
        &self,
        request: notification_pb::RequestNotificationRequest,
    ) -> Result<notification_pb::RequestNotificationResponse, Status> {
        call!(self, request_notification, request)
    }

    pub async fn erase_case_notifications(
        &self,
        request: notification_pb::EraseCaseNotificationsRequest,
    ) -> Result<notification_pb::EraseCaseNotificationsResponse, Status> {
        call!(self, erase_case_notifications, request)
    }
}
