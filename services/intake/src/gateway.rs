//! How intake reaches the case service: in the same process (the embedded
//! suite) or over gRPC (production).

use std::fmt;
use std::sync::Arc;

use complaints_auth::BearerToken;
use complaints_config::Settings;
use complaints_domain::role::{Actor, Role};
use complaints_proto::complaints::case::v1::case_service_client::CaseServiceClient;
use complaints_proto::complaints::case::v1::case_service_server::CaseService;
use complaints_proto::complaints::case::v1::{OpenCaseRequest, OpenCaseResponse};
use complaints_rpc::PeerFailure;
use complaints_rpc::peers::{self, PeerError};
use complaints_telemetry::WithTraceContext;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::Status;

/// The subject intake acts as towards the case service. The complaint's
/// real submitter travels in `OpenCaseRequest.submitted_by`.
pub const SERVICE_SUBJECT: &str = "intake";

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
    /// while the case service is down), presenting the platform's service
    /// token ([`complaints_rpc::peers::service_token`]) for subject `intake`.
    pub fn from_settings(settings: &Settings) -> Result<Self, PeerError> {
        let channel = peers::channel("COMPLAINTS_CASE_URL", &settings.case_url)?;
        let token = peers::service_token(settings, SERVICE_SUBJECT)?;
        Ok(Self::remote(channel, token))
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
            .map_err(|status| complaints_rpc::into_status(PeerFailure::new("case", status)))
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
