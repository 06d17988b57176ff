//! The evidence calls over gRPC: a client-streamed upload, the list, and a server-streamed read.

use bytes::Bytes;
use complaints_domain::FieldViolation;
use complaints_domain::case::{EvidenceId, EvidenceSource};
use complaints_proto::complaints::case::v1 as pb;
use complaints_rpc::AppError;
use complaints_rpc::peers::EvidenceChunks;
use complaints_store::evidence::StoredEvidence;
use futures_util::{StreamExt, TryStreamExt};
use tonic::{Request, Status, Streaming};

use super::case_id;
use crate::app::{CaseApp, ComplaintFile, EvidenceMetadata, MAX_COMPLAINT_FILES};

/// The most bytes one `chunk` message of a read carries, and the size
/// uploads should send.
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// The largest `chunk` an upload may send in one message.
const MAX_UPLOAD_CHUNK_BYTES: usize = 4 * CHUNK_BYTES;

type StreamError = Box<dyn std::error::Error + Send + Sync>;

/// `UploadEvidence`: the metadata, checked before any bytes are stored,
/// then the chunks streamed into the evidence store.
pub(super) async fn upload(
    app: &CaseApp,
    request: Request<Streaming<pb::UploadEvidenceRequest>>,
) -> Result<pb::UploadEvidenceResponse, AppError> {
    let actor = complaints_auth::actor(&request)?;
    let mut messages = request.into_inner();
    let first = messages.message().await?;
    let Some(pb::UploadEvidenceRequest {
        part: Some(pb::upload_evidence_request::Part::Metadata(metadata)),
    }) = first
    else {
        return Err(FieldViolation::new(
            "metadata",
            "the first message of an upload must be its metadata",
        )
        .into());
    };
    let case_id = case_id(&metadata.case_id).map_err(|error| match error {
        AppError::Service(error) => AppError::from(
            error
                .field_violations()
                .into_iter()
                .map(|v| FieldViolation::new("metadata.case_id", v.description))
                .collect::<Vec<_>>(),
        ),
        other => other,
    })?;
    let chunks = messages.map(|message| -> Result<Bytes, StreamError> {
        match message?.part {
            Some(pb::upload_evidence_request::Part::Chunk(bytes))
                if bytes.len() > MAX_UPLOAD_CHUNK_BYTES =>
            {
                Err(Box::new(FieldViolation::new(
                    "chunk",
                    format!("must be at most {MAX_UPLOAD_CHUNK_BYTES} bytes per message"),
                )))
            }
            Some(pb::upload_evidence_request::Part::Chunk(bytes)) => Ok(Bytes::from(bytes)),
            Some(pb::upload_evidence_request::Part::Metadata(_)) => Err(Box::new(
                FieldViolation::new("metadata", "is sent once, as the first message"),
            )),
            None => Err(Box::new(FieldViolation::new(
                "chunk",
                "each message after the metadata must be a chunk",
            ))),
        }
    });
    let metadata = EvidenceMetadata {
        filename: metadata.filename,
        media_type: metadata.media_type,
        description: metadata.description,
    };
    let stored = app.add_evidence(&actor, case_id, metadata, chunks).await?;
    Ok(pb::UploadEvidenceResponse {
        evidence_id: stored.evidence_id.to_string(),
        sha256: stored.sha256,
        size_bytes: i64::try_from(stored.size_bytes).unwrap_or(i64::MAX),
    })
}

/// `ListEvidence`.
pub(super) async fn list(
    app: &CaseApp,
    request: Request<pb::ListEvidenceRequest>,
) -> Result<pb::ListEvidenceResponse, AppError> {
    let actor = complaints_auth::actor(&request)?;
    let case_id = case_id(&request.get_ref().case_id)?;
    let evidence = app.list_evidence(&actor, case_id).await?;
    Ok(pb::ListEvidenceResponse {
        evidence: evidence.iter().map(evidence_to_proto).collect(),
    })
}

/// `GetEvidence`: the metadata, then the bytes in chunks of at most
/// [`CHUNK_BYTES`].
pub(super) async fn get(
    app: &CaseApp,
    request: Request<pb::GetEvidenceRequest>,
) -> Result<EvidenceChunks, AppError> {
    let actor = complaints_auth::actor(&request)?;
    let raw = request.get_ref().evidence_id.trim();
    if raw.is_empty() {
        return Err(FieldViolation::new("evidence_id", "is required").into());
    }
    let evidence_id = raw.parse::<EvidenceId>()?;
    let (evidence, bytes) = app.get_evidence(&actor, evidence_id).await?;
    let first = pb::GetEvidenceResponse {
        part: Some(pb::get_evidence_response::Part::Metadata(
            evidence_to_proto(&evidence),
        )),
    };
    let chunks = bytes
        .map_err(|error| Status::from(AppError::service(error)))
        .map_ok(|bytes| {
            futures_util::stream::iter(
                split(bytes)
                    .into_iter()
                    .map(|chunk| Ok::<_, Status>(chunk_response(chunk))),
            )
        })
        .try_flatten();
    Ok(Box::pin(
        futures_util::stream::once(async move { Ok(first) }).chain(chunks),
    ))
}

fn chunk_response(chunk: Bytes) -> pb::GetEvidenceResponse {
    pb::GetEvidenceResponse {
        part: Some(pb::get_evidence_response::Part::Chunk(chunk.to_vec())),
    }
}

/// `bytes` in pieces of at most [`CHUNK_BYTES`].
fn split(mut bytes: Bytes) -> Vec<Bytes> {
    let mut pieces = Vec::with_capacity(bytes.len() / CHUNK_BYTES + 1);
    while bytes.len() > CHUNK_BYTES {
        pieces.push(bytes.split_to(CHUNK_BYTES));
    }
    if !bytes.is_empty() {
        pieces.push(bytes);
    }
    pieces
}

pub(super) fn evidence_to_proto(evidence: &StoredEvidence) -> pb::Evidence {
    pb::Evidence {
        evidence_id: evidence.evidence_id.to_string(),
        case_id: evidence.case_id.to_string(),
        filename: evidence.filename.clone(),
        media_type: evidence.media_type.clone(),
        description: evidence.description.clone().unwrap_or_default(),
        sha256: evidence.sha256.clone(),
        size_bytes: i64::try_from(evidence.size_bytes).unwrap_or(i64::MAX),
        source: source_to_proto(evidence.source) as i32,
        added_by: evidence.added_by.clone(),
        added_at: Some(complaints_rpc::timestamp_to_proto(evidence.added_at)),
    }
}

fn source_to_proto(source: EvidenceSource) -> pb::EvidenceSource {
    match source {
        EvidenceSource::Upload => pb::EvidenceSource::Upload,
        EvidenceSource::EmailAttachment => pb::EvidenceSource::EmailAttachment,
        EvidenceSource::ScannedLetter => pb::EvidenceSource::ScannedLetter,
    }
}

/// The files an `OpenCase` request brings: its attachments and its scanned
/// letter. More than [`MAX_COMPLAINT_FILES`] attachments is refused.
pub(super) fn complaint_files(
    m: &mut pb::OpenCaseRequest,
) -> Result<Vec<ComplaintFile>, FieldViolation> {
    if m.attachments.len() > MAX_COMPLAINT_FILES {
        return Err(FieldViolation::new(
            "attachments",
            format!(
                "must be at most {MAX_COMPLAINT_FILES} (got {})",
                m.attachments.len()
            ),
        ));
    }
    let file = |file: pb::EvidenceFile, source| ComplaintFile {
        filename: file.filename,
        media_type: file.media_type,
        content: Bytes::from(file.content),
        source,
    };
    Ok(std::mem::take(&mut m.attachments)
        .into_iter()
        .map(|attachment| file(attachment, EvidenceSource::EmailAttachment))
        .chain(
            m.scanned_letter
                .take()
                .map(|letter| file(letter, EvidenceSource::ScannedLetter)),
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_read_back_in_pieces_of_at_most_one_mebibyte() {
        let sizes: Vec<usize> = split(Bytes::from(vec![7u8; 2 * 1024 * 1024 + 5]))
            .iter()
            .map(Bytes::len)
            .collect();
        assert_eq!(sizes, [1_048_576, 1_048_576, 5]);
        assert!(split(Bytes::new()).is_empty());
    }
}
