//! The size of each request message a server accepts, by call: small for
//! ordinary calls, the evidence limit for the calls that carry a document,
//! a few MiB per evidence chunk. Checked on the gRPC frame headers as the
//! bytes arrive, so an oversized message is refused (`RESOURCE_EXHAUSTED`)
//! before it is buffered, and a long stream of small messages is not.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Status;
use tower::{Layer, Service};

/// Calls whose one request carries a whole document (a raw email, a
/// letter's scan, an email's attachments).
const DOCUMENT_CALLS: &[&str] = &[
    "/complaints.intake.v1.IntakeService/SubmitComplaint",
    "/complaints.intake.v1.IntakeService/SubmitEmail",
    "/complaints.case.v1.CaseService/OpenCase",
];

/// The evidence upload, a stream of chunks.
const CHUNK_CALLS: &[&str] = &["/complaints.case.v1.CaseService/UploadEvidence"];

/// Room for a message's other fields beside its bytes.
pub const OVERHEAD_BYTES: usize = 64 * 1024;

/// The largest raw email intake takes, which bounds the attachments it
/// passes on.
pub const RAW_EMAIL_BYTES: usize = 10 * 1024 * 1024;

/// The largest evidence chunk the case service takes in one message.
pub const EVIDENCE_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// The largest request message of each kind of call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// Every call not named below.
    pub ordinary: usize,
    /// `SubmitComplaint`, `SubmitEmail`, `OpenCase`.
    pub document: usize,
    /// Each `UploadEvidence` message.
    pub chunk: usize,
}

impl MessageLimits {
    /// Ordinary calls up to `ordinary` bytes; document calls up to the
    /// larger of a piece of evidence and a raw email, plus room for the
    /// rest of the message.
    pub fn new(ordinary: usize, evidence_max_bytes: u64) -> Self {
        let evidence = usize::try_from(evidence_max_bytes).unwrap_or(usize::MAX);
        MessageLimits {
            ordinary,
            document: evidence.max(RAW_EMAIL_BYTES).saturating_add(OVERHEAD_BYTES),
            chunk: (EVIDENCE_CHUNK_BYTES + OVERHEAD_BYTES).max(ordinary),
        }
    }

    /// The limits `settings` call for (`COMPLAINTS_MAX_MESSAGE_BYTES` and
    /// `COMPLAINTS_EVIDENCE_MAX_BYTES`). A service's generated server must
    /// decode at least [`MessageLimits::document`] for its document calls,
    /// or it would refuse, below this layer, what the settings allow.
    pub fn from_settings(settings: &complaints_config::Settings) -> Self {
        MessageLimits::new(
            settings.server.limits.max_message_bytes,
            settings.evidence.max_bytes,
        )
    }

    /// The limit for a call's path.
    pub fn for_path(&self, path: &str) -> usize {
        if DOCUMENT_CALLS.contains(&path) {
            self.document
        } else if CHUNK_CALLS.contains(&path) {
            self.chunk
        } else {
            self.ordinary
        }
    }
}

impl Default for MessageLimits {
    fn default() -> Self {
        MessageLimits::new(1024 * 1024, 25 * 1024 * 1024)
    }
}

/// Holds every request message to its call's limit.
#[derive(Debug, Clone)]
pub struct MessageLimitLayer {
    limits: Arc<MessageLimits>,
}

impl MessageLimitLayer {
    pub fn new(limits: MessageLimits) -> Self {
        Self {
            limits: Arc::new(limits),
        }
    }
}

impl<S> Layer<S> for MessageLimitLayer {
    type Service = MessageLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MessageLimit {
            inner,
            limits: self.limits.clone(),
        }
    }
}

/// The service [`MessageLimitLayer`] wraps.
#[derive(Debug, Clone)]
pub struct MessageLimit<S> {
    inner: S,
    limits: Arc<MessageLimits>,
}

impl<S> Service<http::Request<tonic::body::Body>> for MessageLimit<S>
where
    S: Service<http::Request<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let limit = self.limits.for_path(request.uri().path());
        self.inner
            .call(request.map(|body| tonic::body::Body::new(Limited::new(body, limit))))
    }
}

pin_project! {
    /// A request body whose gRPC messages are each at most `limit` bytes:
    /// it reads each 5-byte frame header (a flag, then the length) as the
    /// bytes pass and fails the body at the first longer message.
    struct Limited<B> {
        #[pin]
        inner: B,
        limit: usize,
        header: [u8; 5],
        header_len: usize,
        remaining: usize,
        failed: bool,
    }
}

impl<B> Limited<B> {
    fn new(inner: B, limit: usize) -> Self {
        Self {
            inner,
            limit,
            header: [0; 5],
            header_len: 0,
            remaining: 0,
            failed: false,
        }
    }
}

/// Walks `data`, a piece of the body, through the frame headers.
fn check(
    data: &[u8],
    limit: usize,
    header: &mut [u8; 5],
    header_len: &mut usize,
    remaining: &mut usize,
) -> Result<(), Status> {
    let mut at = 0;
    while at < data.len() {
        if *remaining > 0 {
            let take = (*remaining).min(data.len() - at);
            *remaining -= take;
            at += take;
            continue;
        }
        header[*header_len] = data[at];
        *header_len += 1;
        at += 1;
        if *header_len == header.len() {
            *header_len = 0;
            let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            if length > limit {
                return Err(Status::resource_exhausted(format!(
                    "the request message is {length} bytes; this call takes at most {limit}"
                )));
            }
            *remaining = length;
        }
    }
    Ok(())
}

impl<B> Body for Limited<B>
where
    B: Body<Data = Bytes, Error = Status>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        if *this.failed {
            return Poll::Ready(None);
        }
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
            && let Err(status) = check(
                data,
                *this.limit,
                this.header,
                this.header_len,
                this.remaining,
            )
        {
            *this.failed = true;
            return Poll::Ready(Some(Err(status)));
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(lengths: &[u32]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for length in lengths {
            bytes.push(0);
            bytes.extend_from_slice(&length.to_be_bytes());
            bytes.extend(std::iter::repeat_n(7, *length as usize));
        }
        bytes
    }

    fn fed_in_pieces(bytes: &[u8], piece: usize, limit: usize) -> Result<(), Status> {
        let (mut header, mut header_len, mut remaining) = ([0; 5], 0, 0);
        for chunk in bytes.chunks(piece) {
            check(chunk, limit, &mut header, &mut header_len, &mut remaining)?;
        }
        Ok(())
    }

    #[test]
    fn messages_within_the_limit_pass_however_the_bytes_are_split() {
        let bytes = frames(&[0, 10, 100, 3]);
        for piece in [1, 2, 3, 5, 7, 64, 1000] {
            fed_in_pieces(&bytes, piece, 100).unwrap();
        }
    }

    #[test]
    fn the_first_message_over_the_limit_fails_the_body_with_resource_exhausted() {
        let bytes = frames(&[10, 101, 5]);
        for piece in [1, 4, 6, 1000] {
            let status = fed_in_pieces(&bytes, piece, 100).unwrap_err();
            assert_eq!(status.code(), tonic::Code::ResourceExhausted);
            assert!(status.message().contains("101 bytes"), "{status:?}");
        }
    }

    #[test]
    fn document_calls_take_the_evidence_limit_and_others_the_ordinary_one() {
        let limits = MessageLimits::new(1024 * 1024, 25 * 1024 * 1024);
        assert_eq!(
            limits.for_path("/complaints.intake.v1.IntakeService/SubmitEmail"),
            25 * 1024 * 1024 + 64 * 1024
        );
        assert_eq!(
            limits.for_path("/complaints.case.v1.CaseService/UploadEvidence"),
            4 * 1024 * 1024 + 64 * 1024
        );
        assert_eq!(
            limits.for_path("/complaints.case.v1.CaseService/GetCase"),
            1024 * 1024
        );
        // A small evidence limit still lets a raw email through.
        assert_eq!(
            MessageLimits::new(1024, 1024).document,
            10 * 1024 * 1024 + 64 * 1024
        );
    }
}
