//! The case service's evidence: files kept on a case, their bytes in the evidence blob store by SHA-256.
//!
//! Bytes are stored first, then their record and `evidence.added` event are
//! committed together; whatever is refused before the commit leaves no
//! record, and its bytes are removed unless another record names them.

use std::sync::Arc;

use bytes::Bytes;
use complaints_blobs::{BlobError, BlobStore, BlobStream, Limits, StoredBlob};
use complaints_domain::DomainError;
use complaints_domain::case::{
    CaseId, Command, Evidence, EvidenceId, EvidenceSource, NewEvidence, RefusedEvidence, Step,
    authorize, evidence_filename,
};
use complaints_domain::role::Actor;
use complaints_domain::{FieldViolation, ServiceError};
use complaints_rpc::AppError;
use complaints_store::cases;
use complaints_store::evidence::{self, StoredEvidence};
use futures_util::Stream;

use super::CaseApp;

/// The most files one complaint brings (an email's attachments).
pub const MAX_COMPLAINT_FILES: usize = 20;

/// A placeholder address for checking a piece of evidence before its bytes
/// are known.
const UNKNOWN_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The evidence blob store and the limits every piece of evidence is held to.
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    blobs: BlobStore,
    limits: Arc<Limits>,
}

impl EvidenceStore {
    pub fn new(blobs: BlobStore, limits: Limits) -> Self {
        Self {
            blobs,
            limits: Arc::new(limits),
        }
    }
}

/// What an uploader says of a file, before its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceMetadata {
    pub filename: String,
    pub media_type: String,
    pub description: String,
}

/// A file that came with a complaint (an email attachment, a scanned letter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintFile {
    pub filename: String,
    pub media_type: String,
    pub content: Bytes,
    pub source: EvidenceSource,
}

/// What a complaint's files became: those kept (bytes stored) and those the
/// limits refused.
#[derive(Debug, Default)]
pub(super) struct KeptFiles {
    pub kept: Vec<Evidence>,
    pub refused: Vec<RefusedEvidence>,
}

impl CaseApp {
    /// Deletes the bytes of `erased` evidence that no remaining record
    /// names. A failure is logged and leaves the bytes behind (they are no
    /// longer reachable through any call); it never undoes the erasure.
    pub(super) async fn forget_evidence_bytes(&self, erased: &[StoredEvidence]) {
        let Some(store) = &self.evidence else {
            return;
        };
        for piece in erased {
            match evidence::is_referenced(&self.db, &piece.sha256).await {
                Ok(true) => {}
                Ok(false) => {
                    if let Err(error) = store.blobs.delete(&piece.sha256).await {
                        tracing::error!(
                            evidence_id = %piece.evidence_id,
                            %error,
                            "erased evidence bytes could not be deleted"
                        );
                    }
                }
                Err(error) => tracing::error!(
                    evidence_id = %piece.evidence_id,
                    %error,
                    "erased evidence bytes kept: could not check other records"
                ),
            }
        }
    }

    /// The service with an evidence store (`COMPLAINTS_EVIDENCE_*`); without
    /// one, evidence calls are refused and a complaint's files are not kept.
    #[must_use]
    pub fn with_evidence(mut self, store: EvidenceStore) -> Self {
        self.evidence = Some(store);
        self
    }

    fn evidence_store(&self) -> Result<&EvidenceStore, AppError> {
        self.evidence.as_ref().ok_or_else(|| {
            DomainError::FailedPrecondition("no evidence store is configured".to_owned()).into()
        })
    }

    /// Checks everything about an upload that can be checked before its
    /// bytes: the caller's role, the case (NOT_FOUND, FAILED_PRECONDITION
    /// when closed), the file name, the description and the media type.
    pub async fn check_evidence(
        &self,
        actor: &Actor,
        case_id: CaseId,
        metadata: &EvidenceMetadata,
    ) -> Result<(), AppError> {
        authorize(actor.role, Step::AddEvidence)?;
        let store = self.evidence_store()?;
        let placeholder = new_evidence(
            EvidenceId(uuid::Uuid::nil()),
            metadata,
            &StoredBlob {
                sha256: UNKNOWN_SHA256.to_owned(),
                size_bytes: 0,
            },
        );
        let mut violations = match placeholder.validate() {
            Ok(_) => Vec::new(),
            Err(error) => error.field_violations(),
        };
        if let Err(refused) = store.limits.check_media_type(&metadata.media_type) {
            violations.retain(|v| v.field != "media_type");
            violations.extend(
                refused
                    .field_violations()
                    .into_iter()
                    .map(|v| FieldViolation::new("metadata.media_type", v.description)),
            );
        }
        if !violations.is_empty() {
            return Err(DomainError::InvalidArgument(
                violations
                    .into_iter()
                    .map(|v| {
                        if v.field.starts_with("metadata.") {
                            v
                        } else {
                            FieldViolation::new(format!("metadata.{}", v.field), v.description)
                        }
                    })
                    .collect(),
            )
            .into());
        }
        let current = cases::load(&self.db, case_id).await?;
        let policy = self.policy_for(&current.case.policy_version).await?;
        current.case.apply(
            Command::AddEvidence(placeholder),
            actor,
            self.clock.now(),
            &policy,
            &self.calendar,
        )?;
        Ok(())
    }

    /// Adds a piece of evidence: checks it ([`CaseApp::check_evidence`]),
    /// stores `chunks` within the limits, then commits its record and its
    /// `evidence.added` event. Nothing is kept when this returns an error.
    /// A chunk stream ending in a [`FieldViolation`] (a second metadata
    /// message) is INVALID_ARGUMENT; any other error in it is ABORTED.
    pub async fn add_evidence<S>(
        &self,
        actor: &Actor,
        case_id: CaseId,
        metadata: EvidenceMetadata,
        chunks: S,
    ) -> Result<StoredEvidence, AppError>
    where
        S: Stream<Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>> + Send,
    {
        self.check_evidence(actor, case_id, &metadata).await?;
        let store = self.evidence_store()?;
        let blob = store
            .blobs
            .put_stream(chunks, &store.limits)
            .await
            .map_err(upload_error)?;
        let evidence_id = EvidenceId(uuid::Uuid::now_v7());
        let new = new_evidence(evidence_id, &metadata, &blob);
        let written = self.record_evidence(actor, case_id, new).await;
        if written.is_err() {
            self.forget_blob(&blob.sha256).await;
        }
        written?;
        Ok(evidence::get(&self.db, evidence_id).await?)
    }

    async fn record_evidence(
        &self,
        actor: &Actor,
        case_id: CaseId,
        new: NewEvidence,
    ) -> Result<(), AppError> {
        let evidence = new.validate()?;
        let current = cases::load(&self.db, case_id).await?;
        let policy = self.policy_for(&current.case.policy_version).await?;
        let now = self.clock.now();
        let calendar = self.calendar.clone();
        let alongside = cases::Alongside {
            evidence: Some(&evidence),
            ..cases::Alongside::default()
        };
        cases::apply(
            &self.db,
            &calendar,
            current,
            actor,
            now,
            alongside,
            |stored| {
                let transition = stored.case.apply(
                    Command::AddEvidence(new.clone()),
                    actor,
                    now,
                    &policy,
                    &calendar,
                )?;
                Ok((transition, new.evidence_id.to_string()))
            },
        )
        .await?;
        self.committed();
        Ok(())
    }

    /// A case's evidence, oldest first (NOT_FOUND for an unknown case).
    pub async fn list_evidence(
        &self,
        actor: &Actor,
        case_id: CaseId,
    ) -> Result<Vec<StoredEvidence>, AppError> {
        authorize(actor.role, Step::Read)?;
        cases::load(&self.db, case_id).await?;
        Ok(evidence::list(&self.db, case_id).await?)
    }

    /// One piece of evidence and its bytes.
    pub async fn get_evidence(
        &self,
        actor: &Actor,
        evidence_id: EvidenceId,
    ) -> Result<(StoredEvidence, BlobStream), AppError> {
        authorize(actor.role, Step::Read)?;
        let store = self.evidence_store()?;
        let found = evidence::get(&self.db, evidence_id).await?;
        let bytes = store
            .blobs
            .get_stream(&found.sha256)
            .await
            .map_err(AppError::service)?;
        Ok((found, bytes))
    }

    /// Stores the files that came with a complaint, each within the limits:
    /// those refused (a bad name, a refused media type, too large, or no
    /// evidence store configured) are reported, not stored. Fails only when
    /// the store fails, having removed what it stored.
    pub(super) async fn keep_files(
        &self,
        files: Vec<ComplaintFile>,
    ) -> Result<KeptFiles, AppError> {
        let mut result = KeptFiles::default();
        if files.is_empty() {
            return Ok(result);
        }
        let Some(store) = self.evidence.as_ref() else {
            // The complaint is taken all the same; the timeline says why
            // its files are not.
            result.refused = files
                .into_iter()
                .map(|file| RefusedEvidence {
                    filename: file.filename,
                    source: file.source,
                    reason: "no evidence store is configured".to_owned(),
                })
                .collect();
            return Ok(result);
        };
        for file in files {
            let refuse = |reason: String| RefusedEvidence {
                filename: file.filename.clone(),
                source: file.source,
                reason,
            };
            if let Err(violation) = evidence_filename("filename", &file.filename) {
                result
                    .refused
                    .push(refuse(format!("its name {}", violation.description)));
                continue;
            }
            if let Err(error) = store.limits.check_media_type(&file.media_type) {
                result.refused.push(refuse(error.to_string()));
                continue;
            }
            let chunk: Result<Bytes, std::convert::Infallible> = Ok(file.content.clone());
            let blob = match store
                .blobs
                .put_stream(futures_util::stream::iter([chunk]), &store.limits)
                .await
            {
                Ok(blob) => blob,
                Err(error) if !error.error_code().is_fault() => {
                    result.refused.push(refuse(error.to_string()));
                    continue;
                }
                Err(error) => {
                    self.forget_files(&result.kept).await;
                    return Err(AppError::service(error));
                }
            };
            let metadata = EvidenceMetadata {
                filename: file.filename.clone(),
                media_type: file.media_type.clone(),
                description: String::new(),
            };
            let mut new = new_evidence(EvidenceId(uuid::Uuid::now_v7()), &metadata, &blob);
            new.source = file.source;
            match new.validate() {
                Ok(evidence) => result.kept.push(evidence),
                Err(error) => {
                    self.forget_blob(&blob.sha256).await;
                    result.refused.push(refuse(error.to_string()));
                }
            }
        }
        Ok(result)
    }

    /// Removes the bytes of files that were not recorded after all.
    pub(super) async fn forget_files(&self, kept: &[Evidence]) {
        for evidence in kept {
            self.forget_blob(&evidence.sha256).await;
        }
    }

    /// Removes the bytes at `sha256` unless an evidence record names them
    /// (the same bytes kept on another case, or earlier).
    async fn forget_blob(&self, sha256: &str) {
        let Some(store) = self.evidence.as_ref() else {
            return;
        };
        match evidence::is_referenced(&self.db, sha256).await {
            Ok(true) => {}
            Ok(false) => {
                if let Err(error) = store.blobs.delete(sha256).await {
                    tracing::warn!(%error, sha256, "removing unrecorded evidence bytes failed");
                }
            }
            Err(error) => {
                tracing::warn!(%error, sha256, "could not tell whether evidence bytes are recorded; kept");
            }
        }
    }
}

fn new_evidence(
    evidence_id: EvidenceId,
    metadata: &EvidenceMetadata,
    blob: &StoredBlob,
) -> NewEvidence {
    NewEvidence {
        evidence_id,
        filename: metadata.filename.clone(),
        media_type: metadata.media_type.clone(),
        description: metadata.description.clone(),
        sha256: blob.sha256.clone(),
        size_bytes: blob.size_bytes,
        source: EvidenceSource::Upload,
    }
}

/// A failed upload as the caller hears it: the stream's own refusal (a
/// field violation) as INVALID_ARGUMENT, anything else as the blob store's
/// error says.
fn upload_error(error: BlobError) -> AppError {
    match error {
        BlobError::Incomplete { source } => match source.downcast::<FieldViolation>() {
            Ok(violation) => AppError::from(*violation),
            Err(source) => AppError::service(BlobError::Incomplete { source }),
        },
        error => AppError::service(error),
    }
}
