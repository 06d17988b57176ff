//! The intake service, built: its gRPC handler in front of the case
//! service. Its binary and the embedded suite both build it here.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use complaints_auth::{AuthConfig, TokenVerifier};
use complaints_config::Settings;
use complaints_domain::clock::Clock;
use complaints_rpc::limits::MessageLimits;
use complaints_rpc::service::{Application, NoDatabase, Service, ServiceParts};

use crate::app::IntakeApp;
use crate::gateway::{CaseGateway, SERVICE_SUBJECT};
use crate::grpc;

/// The full name of the service, as health checks ask for it.
pub const SERVICE_NAME: &str = "complaints.intake.v1.IntakeService";

/// The subject of intake's own credentials.
pub const SUBJECT: &str = SERVICE_SUBJECT;

/// Builds the service: intake keeps no table (the case service records each
/// submission's key with its case), and reaches the case service through
/// `parts.peers`.
pub async fn build(parts: ServiceParts<NoDatabase>) -> anyhow::Result<Service> {
    let limits = MessageLimits::from_settings(&parts.settings);
    let gateway = CaseGateway::new(parts.peers.case);
    Ok(service(
        IntakeApp::new(gateway, parts.clock),
        limits.document,
    ))
}

/// A ready-made [`IntakeApp`] as a service decoding messages of up to
/// `max_message_bytes` (tests build their own app).
pub fn service(app: IntakeApp, max_message_bytes: usize) -> Service {
    Service::new(SERVICE_NAME, move |routes| {
        routes.add_service(grpc::server(app, max_message_bytes));
    })
}

/// The service as the `intake` binary runs it, on `clock`: refuses the
/// development signing key unless `COMPLAINTS_ALLOW_DEV_KEY=true`, opens no
/// database, reaches the case service at
/// `settings.case_url` lazily, and binds `settings.listen`.
pub async fn application(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
    Application::production(settings, SUBJECT, clock, build).await
}

/// Serves a ready-made [`IntakeApp`] behind authentication from `auth`, on
/// `listen` (port 0 picks a free port). No check of the key: the caller
/// chose it (tests use the development key).
pub async fn application_with_app(
    listen: SocketAddr,
    auth: &AuthConfig,
    app: IntakeApp,
) -> anyhow::Result<Application> {
    let verifier = TokenVerifier::new(auth).context("reading the token verification keys")?;
    let document = MessageLimits::default().document;
    Application::bind(listen, verifier, vec![service(app, document)]).await
}
