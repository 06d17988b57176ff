//! The blob store conformance suite. Every test runs against each backend:
//! the local filesystem in a temp dir, and S3 against an S3-compatible
//! server (`s3s-fs` over a temp dir) that the test serves in-process on
//! loopback. Both always run; neither needs anything installed.
//!
//! Expected hashes are the SHA-256 of literal data, computed here with
//! `sha2`, never by the crate under test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod erasure;
mod refusals;
mod round_trip;
mod streaming;
