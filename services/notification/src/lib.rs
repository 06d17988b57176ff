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

mod delivery;
mod entity;
mod erasure;
mod grpc;
mod metrics;
mod relay;
mod repo;
mod server;

pub use delivery::{Delivery, run_delivery};
pub use erasure::OutboxDirs;
pub use grpc::NotificationGrpc;
pub use relay::{CASE_TOPIC, NoticeRelay};
pub use server::{DeliverySettings, SUBJECT, application, build};

/// The fully-qualified gRPC service name, as health reports it.
pub const SERVICE_NAME: &str = "complaints.notification.v1.NotificationService";
