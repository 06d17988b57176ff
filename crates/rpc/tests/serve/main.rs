//! The shared serve path as a client meets it: TLS (and mutual TLS), the
//! concurrency and time limits, message sizes and reflection, on a server
//! serving a test double of a service.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod limits;
mod support;
mod tls;
