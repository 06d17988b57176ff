//! How intake reaches the case service: in the same process (the embedded
//! suite) or over gRPC (production).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use complaints_auth::{BearerToken, TokenIssuer};
use complaints_config::Settings;
use complaints_domain::role::{Actor, Role};
use complaints_proto::complaints::case::v1::case_service_client::CaseServiceClient;
use complaints_proto::complaints::case::v1::case_service_server::CaseService;
use complaints_proto::complaints::case::v1::{OpenCaseRequest, OpenCaseResponse};
use complaints_telemetry::WithTraceContext;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// The subject intake acts as towards the case service. The complaint's
/// real submitter travels in `OpenCaseRequest.submitted_by`.
pub const SERVICE_SUBJECT: &str = "intake";

/// Lifetime of a token intake mints for itself when no
/// `COMPLAINTS_SERVICE_TOKEN` is configured. It is minted once at start-up
/// and not renewed, so a process must be restarted within this time (a
/// rolling deployment does that); renewing it in place is future work.
pub const MINTED_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// How long one `OpenCase` call over the network may take before intake
/// answers `UNAVAILABLE` (the caller retries with the same `request_id`).
const OPEN_CASE_TIMEOUT: Duration = Duration::from_secs(30);

/// The way to the case service's `OpenCase`. Cheap to clone.
#[derive(Clone)]
pub struct CaseGateway {
    route: Route,
}

#[derive(Clone)]
enum Route {
    /// The case service's handler itself, called without a network hop.
    InProcess(Arc<dyn CaseService>),
    /// A gRPC client sending intake's service token, and the complaint's
    /// trace context, with every call.
    Remote(CaseServiceClient<InterceptedService<Channel, WithTraceContext<BearerToken>>>),
}

/// Why a gateway could not be set up from the settings.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("COMPLAINTS_CASE_URL {url:?} is not a usable address: {reason}")]
    CaseUrl { url: String, reason: String },
    #[error(
        "no service token: set COMPLAINTS_SERVICE_TOKEN, or an HS256 secret so intake can mint one ({0})"
    )]
    NoToken(String),
    #[error("the service token cannot be sent in a header")]
    BadToken,
}

impl CaseGateway {
    /// Calls the case service's handler directly. The request carries the
    /// actor `intake` with role `service` in its extensions, where the case
    /// service's handler reads it (as `AuthLayer` would have put it there).
    pub fn in_process(case_service: Arc<dyn CaseService>) -> Self {
        Self {
            route: Route::InProcess(case_service),
        }
    }

    /// Calls the case service over `channel`, sending `token` as
    /// `authorization: Bearer`.
    pub fn remote(channel: Channel, token: BearerToken) -> Self {
        Self {
            route: Route::Remote(CaseServiceClient::with_interceptor(
                channel,
                WithTraceContext::new(token),
            )),
        }
    }

    /// The production gateway: a channel to `settings.case_url` that
    /// connects on first use (so intake starts, and answers `UNAVAILABLE`,
    /// while the case service is down), with `settings.service_token`, or
    /// else a token minted from `settings.auth` for subject `intake`, role
    /// `service`, valid for [`MINTED_TOKEN_TTL`].
    pub fn from_settings(settings: &Settings) -> Result<Self, GatewayError> {
        let endpoint = Endpoint::from_shared(settings.case_url.clone())
            .map_err(|e| GatewayError::CaseUrl {
                url: settings.case_url.clone(),
                reason: e.to_string(),
            })?
            .connect_timeout(Duration::from_secs(5))
            .timeout(OPEN_CASE_TIMEOUT);
        let token = match &settings.service_token {
            Some(token) => token.expose().to_owned(),
            None => TokenIssuer::new(&settings.auth)
                .map_err(|e| GatewayError::NoToken(e.to_string()))?
                .issue(SERVICE_SUBJECT, Role::Service, MINTED_TOKEN_TTL)
                .map_err(|e| GatewayError::NoToken(e.to_string()))?,
        };
        let token = BearerToken::new(token).map_err(|_| GatewayError::BadToken)?;
        Ok(Self::remote(endpoint.connect_lazy(), token))
    }

    /// Opens (or, for a `request_id` seen before, finds) the case.
    ///
    /// The caller's mistakes come back with their own codes
    /// (`INVALID_ARGUMENT`, `ALREADY_EXISTS`, `FAILED_PRECONDITION`). A case
    /// service that cannot be reached, or fails, is `UNAVAILABLE`: the caller
    /// retries with the same `request_id`. A refusal of intake's own
    /// credentials is a deployment fault, logged, and `INTERNAL`.
    pub async fn open_case(&self, request: OpenCaseRequest) -> Result<OpenCaseResponse, Status> {
        let result = match &self.route {
            Route::InProcess(service) => {
                let mut request = tonic::Request::new(request);
                request
                    .extensions_mut()
                    .insert(Actor::new(SERVICE_SUBJECT, Role::Service));
                service.open_case(request).await
            }
            Route::Remote(client) => client.clone().open_case(request).await,
        };
        result
            .map(tonic::Response::into_inner)
            .map_err(from_case_service)
    }
}

/// The case service's answer as intake's caller should see it.
fn from_case_service(status: Status) -> Status {
    match status.code() {
        Code::InvalidArgument | Code::AlreadyExists | Code::FailedPrecondition => status,
        Code::Unauthenticated | Code::PermissionDenied => {
            tracing::error!(
                code = ?status.code(),
                message = status.message(),
                "the case service refused intake's service credentials"
            );
            Status::internal("intake is not allowed to open cases; the platform is misconfigured")
        }
        _ => {
            tracing::warn!(
                code = ?status.code(),
                message = status.message(),
                "the case service could not open the case"
            );
            Status::unavailable(
                "the case service could not be reached; retry with the same request_id",
            )
        }
    }
}

impl fmt::Debug for CaseGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let route = match &self.route {
            Route::InProcess(_) => "in-process",
            Route::Remote(_) => "remote",
        };
        f.debug_struct("CaseGateway")
            .field("route", &route)
            .finish()
    }
}
