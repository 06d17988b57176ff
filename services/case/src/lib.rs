//! The case service: the system of record for complaints. Cases, register
//! numbers, stage and status, the append-only hash-chained timeline,
//! outcomes, root causes, evidence (its bytes in the evidence blob store)
//! and reporting.
//!
//! Every change runs through the domain's state machine and is stored with
//! its timeline events and outbox message in one transaction. Handlers here
//! are adapters; this crate must not decide policy (the domain does) or
//! write SQL (the store does).

mod app;
mod convert;
mod grpc;
pub mod relay;
pub mod retention;
mod server;
pub mod statistics;

pub use app::{
    CaseApp, ComplaintFile, EvidenceMetadata, EvidenceStore, MAX_COMPLAINT_FILES, Retention, Thread,
};
pub use grpc::{CaseGrpc, EVIDENCE_CHUNK_BYTES};
pub use server::{SUBJECT, application, build};

/// The fully-qualified gRPC service name, as health reports it.
pub const SERVICE_NAME: &str = "complaints.case.v1.CaseService";
