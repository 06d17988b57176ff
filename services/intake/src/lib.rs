//! The intake service: every channel's entry point (telephone, post, email,
//! web). It checks who is calling and what they sent, makes each submission
//! idempotent on its `request_id` (which the case service records with the
//! case it opens), reads raw inbound email, and hands a clean, validated
//! complaint to the case service's `OpenCase`.
//!
//! What it must not do: decide policy (the domain validates and its
//! permission table authorises), keep anything (the case service is the
//! system of record; intake holds no table and no database credentials), or
//! pass on a submission that fails validation.
//!
//! - [`IntakeApp`]: one function per call, independent of gRPC.
//! - [`IntakeGrpc`] / [`server`]: the thin `IntakeService` adapter.
//! - [`CaseGateway`]: the case service, in process or over gRPC.
//! - [`build`]: the service as its binary and the embedded suite run it.

mod app;
pub mod email;
mod gateway;
mod grpc;
mod request_id;
mod startup;

pub use app::{IntakeApp, RequestId};
pub use gateway::{CaseGateway, SERVICE_SUBJECT};
pub use grpc::{IntakeGrpc, server};
pub use startup::{SERVICE_NAME, SUBJECT, application, application_with_app, build, service};
