//! The gRPC edge shared by every service: the one mapping from domain and
//! storage errors to `tonic::Status`, the conversions of instants and dates,
//! health and reflection, the shutdown signal, each call's span and
//! metrics, TLS and the limits on calls.
//!
//! Handlers are adapters: they decode, call one application function, and
//! encode. This crate gives them the common pieces; it must not hold policy
//! decisions or queries.

mod convert;
mod error;
pub mod limits;
pub mod mapping;
pub mod metrics;
mod observe;
pub mod peers;
mod server;
pub mod service;
pub mod tls;

pub use convert::{
    date_from_proto, date_to_proto, duration_to_proto, optional_timestamp, page_size,
    required_timestamp, timestamp_from_proto, timestamp_to_proto,
};
pub use error::{AppError, PeerFailure, grpc_code, into_status, invalid_field, status};
pub use observe::GrpcMetricsLayer;
pub use server::{ServeOptions, reflection_services, serve, shutdown_signal};
