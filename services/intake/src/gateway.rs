//! How intake reaches the case service: in the same process (the embedded
//! suite) or over gRPC (production), through the platform's shared peer
//! set-up.

use std::sync::Arc;

use complaints_auth::BearerToken;
use complaints_config::Settings;
use complaints_proto::complaints::case::v1::{
    AddCorrespondenceRequest, AddCorrespondenceResponse, FindCaseByMessageRequest,
    FindCaseByMessageResponse, OpenCaseRequest, OpenCaseResponse,
};
use complaints_rpc::PeerFailure;
use complaints_rpc::peers::{self, CasePeer, PeerError};
use tonic::Status;
use tonic::transport::Channel;

/// The subject intake acts as towards the case service. The complaint's
/// real submitter travels in `OpenCaseRequest.submitted_by`.
pub const SERVICE_SUBJECT: &str = "intake";

/// The way to the case service's `OpenCase`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CaseGateway {
    case: CasePeer,
}

impl CaseGateway {
    /// Over `case`, however it reaches the case service.
    pub fn new(case: CasePeer) -> Self {
        Self { case }
    }

    /// Calls the case service's handler directly, as the actor `intake`
    /// with role `service` (as the auth layer would have put it there).
    pub fn in_process(case_service: Arc<complaints_rpc::peers::CaseServiceHandle>) -> Self {
        Self::new(CasePeer::in_process(SERVICE_SUBJECT, case_service))
    }

    /// Calls the case service over `channel`, sending `token` as
    /// `authorization: Bearer`, and the complaint's trace context.
    pub fn remote(channel: Channel, token: BearerToken) -> Self {
        Self::new(CasePeer::remote(SERVICE_SUBJECT, channel, token))
    }

    /// The production gateway: a channel to `settings.case_url` that
    /// connects on first use (so intake starts, and answers `UNAVAILABLE`,
    /// while the case service is down), presenting the platform's service
    /// token ([`complaints_rpc::peers::service_token`]) for subject `intake`.
    pub fn from_settings(settings: &Settings) -> Result<Self, PeerError> {
        let channel = peers::channel(
            "COMPLAINTS_CASE_URL",
            &settings.case_url,
            &settings.server.client_tls,
        )?;
        let token = peers::service_token(settings, SERVICE_SUBJECT)?;
        Ok(Self::remote(channel, token))
    }

    /// Opens (or, for a `request_id` seen before, finds) the case.
    ///
    /// The caller's mistakes come back with their own codes and field
    /// details (`INVALID_ARGUMENT`, `ALREADY_EXISTS`, `FAILED_PRECONDITION`).
    /// A case service that cannot be reached, or fails, is `UNAVAILABLE`:
    /// the caller retries with the same `request_id`. A refusal of intake's
    /// own credentials is a deployment fault, logged, and `INTERNAL`.
    pub async fn open_case(&self, request: OpenCaseRequest) -> Result<OpenCaseResponse, Status> {
        self.case
            .open_case(request)
            .await
            .map_err(|status| complaints_rpc::into_status(PeerFailure::new("case", status)))
    }

    /// The case an incoming email continues, if any (as `open_case`, a
    /// failure to reach the case service is `UNAVAILABLE`).
    pub async fn find_case_by_message(
        &self,
        request: FindCaseByMessageRequest,
    ) -> Result<FindCaseByMessageResponse, Status> {
        self.case
            .find_case_by_message(request)
            .await
            .map_err(|status| complaints_rpc::into_status(PeerFailure::new("case", status)))
    }

    /// Files the complainant's further email on its case; idempotent on its
    /// Message-ID.
    pub async fn add_correspondence(
        &self,
        request: AddCorrespondenceRequest,
    ) -> Result<AddCorrespondenceResponse, Status> {
        self.case
            .add_correspondence(request)
            .await
            .map_err(|status| complaints_rpc::into_status(PeerFailure::new("case", status)))
    }
}
