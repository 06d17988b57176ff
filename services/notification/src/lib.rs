//! The notification service: everything sent to people. It turns requests
//! (from the case and escalation services' outboxes) into acknowledgement
//! emails and letters, day-5 updates, stage and final responses and
//! internal alerts; delivers them by email (SMTP) or post (PDF letters
//! queued for printing); retries what failed for now and alerts staff about
//! what failed for good; and keeps the delivery log.
//!
//! Rendering and carrying messages is `complaints-notify`'s job; this crate
//! decides when and to whom, and records what happened. It must not change
//! a case except through the case service.

mod deliver;
mod entity;
mod grpc;
mod repo;
mod server;

pub use deliver::{CASE_TOPIC, Delivery, NoticeRelay};
pub use grpc::NotificationGrpc;
pub use server::{Application, DeliverySettings};

/// The fully-qualified gRPC service name, as health reports it.
pub const SERVICE_NAME: &str = "complaints.notification.v1.NotificationService";

/// Runs delivery passes until `shutdown`: at once when woken, else when the
/// next retry falls due (re-checking at least every few seconds for
/// notifications queued by other replicas).
pub async fn run_delivery(
    delivery: &Delivery,
    wake: &tokio::sync::Notify,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        if let Err(error) = delivery.deliver_due().await {
            tracing::error!(%error, "delivery pass failed");
        }
        let pause = match delivery.next_due().await {
            Ok(Some(at)) => (at - delivery.clock.now())
                .to_std()
                .unwrap_or_default()
                .clamp(
                    std::time::Duration::from_millis(200),
                    std::time::Duration::from_secs(5),
                ),
            _ => std::time::Duration::from_secs(5),
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}
