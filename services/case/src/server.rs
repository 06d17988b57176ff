//! The case service, built: its gRPC handler, the relay that delivers its
//! outbox to the escalation and notification services, and the retention
//! job where a retention period is configured. Its binary and the
//! embedded suite both build it here.

use std::sync::Arc;

use anyhow::Context as _;
use complaints_config::Settings;
use complaints_domain::clock::Clock;
use complaints_proto::complaints::case::v1::case_service_server::CaseServiceServer;
use complaints_rpc::limits::MessageLimits;
use complaints_rpc::metrics::{GROUP_COMMIT_BATCH, OutboxGauges, preregister};
use complaints_rpc::peers::LocalHandle;
use complaints_rpc::service::{Application, Service, ServiceParts, Stop};
use complaints_store::cases::CASE_EVENTS_TOPIC;

use crate::relay::CaseChangeDelivery;
use crate::retention::RetentionWorker;
use crate::{CaseApp, CaseGrpc, EvidenceStore, SERVICE_NAME};

/// The subject of the case service's own credentials.
pub const SUBJECT: &str = "case";

/// Records the policy in force (refusing a changed policy that kept its
/// version) and builds the service.
pub async fn build(parts: ServiceParts) -> anyhow::Result<Service> {
    let ServiceParts {
        settings,
        clock,
        db,
        peers,
    } = parts;
    let backlog = OutboxGauges::new(db.clone(), clock.clone(), &[CASE_EVENTS_TOPIC]);
    for name in [crate::app::OPENINGS, crate::app::NOTICES] {
        preregister(GROUP_COMMIT_BATCH, &[("name", name)]);
    }
    // The largest message decoded: an `OpenCase` carrying an email's
    // attachments or a letter's scan, up to the evidence limit (the
    // per-call limit layer holds every other call to its own size).
    let max_message_bytes = MessageLimits::from_settings(&settings).document;
    let app = CaseApp::new(db, settings.policy, settings.calendar, clock)
        .await
        .context("starting the case service")?
        .with_retention(settings.retention_days);
    // The URL may hold credentials: the error never quotes it.
    let blobs = complaints_blobs::BlobStore::from_url(&settings.evidence.url)
        .context("opening the evidence store (COMPLAINTS_EVIDENCE_URL)")?;
    let app = app.with_evidence(EvidenceStore::new(blobs, settings.evidence.limits()));
    // The retention job runs only where a period is configured.
    let retention = settings
        .retention_days
        .map(|_| RetentionWorker::new(app.clone()));
    let relay = app.outbox_relay(CaseChangeDelivery {
        escalation: peers.escalation,
        notification: peers.notification,
    });
    let (drain, draining) = Stop::new();
    let handler = CaseGrpc::new(app).with_draining(draining);
    let local = LocalHandle::Case(Arc::new(handler.clone()));
    let service = Service::new(SERVICE_NAME, move |routes| {
        routes.add_service(
            CaseServiceServer::new(handler).max_decoding_message_size(max_message_bytes),
        );
    })
    .with_worker(relay)
    .with_worker(backlog)
    .with_local(local)
    .with_drain(drain);
    Ok(match retention {
        Some(worker) => service.with_worker(worker),
        None => service,
    })
}

/// The service as the `case` binary runs it, on `clock`.
pub async fn application(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
    Application::production(settings, SUBJECT, clock, build).await
}
