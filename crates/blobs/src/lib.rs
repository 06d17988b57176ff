//! The evidence blob store: the bytes of complaint evidence (email
//! attachments, scanned letters, call recordings, uploads), each stored once
//! under its SHA-256, through `object_store`.
//!
//! A blob's address is the lowercase hex SHA-256 of its bytes, stored under
//! the key `sha256/<first two hex digits>/<hex>`. [`BlobStore::put_stream`]
//! hashes the bytes as they stream in, writes them under a temporary key
//! (`tmp/<uuid>`, by a multipart upload), and moves them to their address
//! only when the stream has ended cleanly within the [`Limits`]. So:
//!
//! - a refused, failed or cut-off upload leaves no object behind (the
//!   multipart upload is aborted);
//! - two uploads of the same bytes give one object at one address.
//!
//! Only a process that dies between completing the upload and moving it can
//! leave a `tmp/` object; nothing reads `tmp/`, and it may be swept. A
//! backend that fails while completing an upload can leave an incomplete
//! multipart upload, which is no object and which an S3 lifecycle rule
//! (`AbortIncompleteMultipartUpload`) expires.
//!
//! # Where the blobs are: one URL
//!
//! [`BlobStore::from_url`] takes one setting:
//!
//! - `file:///var/lib/complaints/blobs` or a plain path
//!   (`/var/lib/complaints/blobs`, `data/blobs`): the local filesystem under
//!   that directory, created if missing (the embedded suite, under its data
//!   dir).
//! - `s3://bucket` or `s3://bucket/prefix`, with any of object_store's S3
//!   settings as query parameters, for example
//!   `s3://evidence/complaints?endpoint=http://127.0.0.1:9000&region=eu-west-2`.
//!   The names are those of `object_store::aws::AmazonS3ConfigKey`
//!   (`endpoint`, `region`, `access_key_id`, `secret_access_key`,
//!   `session_token`, `allow_http`, `virtual_hosted_style_request`, or their
//!   `aws_` forms). An `http://` endpoint allows plain HTTP by itself.
//!   Credentials and anything else unset come from the standard AWS
//!   environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_REGION`, `AWS_ENDPOINT`, ...); what the URL says wins. The
//!   prefix, if any, is prepended to every key.
//!
//! The URL may carry credentials: it is never logged or put in an error.
//!
//! # Must not
//!
//! This crate must not know what a blob is evidence of: no case ids, no
//! metadata, no database. Which blobs belong to which case, and when one may
//! be erased, is the caller's record; this crate only keeps bytes.

mod address;
mod error;
mod limits;
mod location;
mod store;

pub use address::StoredBlob;
pub use error::BlobError;
pub use limits::{DEFAULT_ALLOWED_MEDIA_TYPES, DEFAULT_MAX_BYTES, Limits};
pub use store::{BlobStore, BlobStream};
