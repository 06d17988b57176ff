//! The escalation service: the clocks of the policy. It starts each stage's
//! deadlines from case changes, fires them when they fall due (a breach, or
//! the day-5 referral notice), warns owners before they fall due, alerts the
//! owner and the escalation role on a breach, and hands a stage 2 review to
//! the Operations Lead when its clock is broken.
//!
//! The deadline rows are the truth (`complaints-deadlines`); what this
//! service asks of others goes through its outbox. Handlers are adapters;
//! this crate must not decide case policy (the domain does).

mod alerts;
mod app;
mod clocks;
mod firing;
mod grpc;
mod metrics;
mod relay;
mod scheduling;
mod server;

pub use app::EscalationApp;
pub use clocks::{ClockError, Extended, Extension};
pub use firing::Fired;
pub use grpc::EscalationGrpc;
pub use relay::{CASE_TOPIC, EscalationDelivery, NOTIFY_TOPIC, OutboxWake};
pub use server::{SUBJECT, application, build};

/// The fully-qualified gRPC service name, as health reports it.
pub const SERVICE_NAME: &str = "complaints.escalation.v1.EscalationService";
