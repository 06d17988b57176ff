//! The gRPC adapter: reads the caller, calls the application, maps errors.

use complaints_proto::complaints::intake::v1::intake_service_server::{
    IntakeService, IntakeServiceServer,
};
use complaints_proto::complaints::intake::v1::{
    SubmitComplaintRequest, SubmitComplaintResponse, SubmitEmailRequest, SubmitEmailResponse,
};
use tonic::{Request, Response, Status};

use crate::app::IntakeApp;
use crate::email::MAX_RAW_MESSAGE_BYTES;

/// Room for `SubmitEmailRequest`'s other fields and framing above
/// [`MAX_RAW_MESSAGE_BYTES`], so an oversized message reaches the
/// application and is refused with a field violation.
const REQUEST_OVERHEAD_BYTES: usize = 64 * 1024;

/// `IntakeService` over an [`IntakeApp`]. Expects the caller's actor in the
/// request's extensions: serve it behind `complaints_auth::AuthLayer`.
#[derive(Debug, Clone)]
pub struct IntakeGrpc {
    app: IntakeApp,
}

impl IntakeGrpc {
    pub fn new(app: IntakeApp) -> Self {
        Self { app }
    }
}

/// The service ready to add to a tonic server, decoding messages of up to
/// `max_message_bytes` (at least a raw email of [`MAX_RAW_MESSAGE_BYTES`]
/// with its other fields): the document calls' limit from the settings
/// (`complaints_rpc::limits::MessageLimits::document`), so that a posted
/// letter's scan as large as the evidence limit is not refused here, below
/// the per-call limit layer that holds each call to its own size.
pub fn server(app: IntakeApp, max_message_bytes: usize) -> IntakeServiceServer<IntakeGrpc> {
    IntakeServiceServer::new(IntakeGrpc::new(app)).max_decoding_message_size(
        max_message_bytes.max(MAX_RAW_MESSAGE_BYTES + REQUEST_OVERHEAD_BYTES),
    )
}

#[tonic::async_trait]
impl IntakeService for IntakeGrpc {
    async fn submit_complaint(
        &self,
        request: Request<SubmitComplaintRequest>,
    ) -> Result<Response<SubmitComplaintResponse>, Status> {
        let actor = complaints_auth::actor(&request)?;
        let response = self
            .app
            .submit_complaint(&actor, request.into_inner())
            .await?;
        Ok(Response::new(response))
    }

    async fn submit_email(
        &self,
        request: Request<SubmitEmailRequest>,
    ) -> Result<Response<SubmitEmailResponse>, Status> {
        let actor = complaints_auth::actor(&request)?;
        let response = self.app.submit_email(&actor, request.into_inner()).await?;
        Ok(Response::new(response))
    }
}
