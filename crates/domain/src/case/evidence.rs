//! Evidence on a case: what a stored file is, who may add one, and what the timeline records of it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::effects::{Event, Transition};
use super::intake::optional;
use super::types::EvidenceId;
use crate::values::Text;
use crate::{DomainError, FieldViolation};

/// Where a piece of evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceSource {
    /// Uploaded by staff or a service.
    Upload,
    /// An attachment of the email the complaint came in (R10).
    EmailAttachment,
    /// The scan of a posted letter (R9).
    ScannedLetter,
}

impl EvidenceSource {
    pub const ALL: [EvidenceSource; 3] = [
        EvidenceSource::Upload,
        EvidenceSource::EmailAttachment,
        EvidenceSource::ScannedLetter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceSource::Upload => "upload",
            EvidenceSource::EmailAttachment => "email_attachment",
            EvidenceSource::ScannedLetter => "scanned_letter",
        }
    }
}

impl fmt::Display for EvidenceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EvidenceSource {
    type Err = FieldViolation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EvidenceSource::ALL
            .into_iter()
            .find(|source| source.as_str() == s)
            .ok_or_else(|| {
                FieldViolation::new(
                    "source",
                    "must be upload, email_attachment or scanned_letter",
                )
            })
    }
}

/// The longest evidence file name accepted, in characters.
pub const FILENAME_MAX: usize = 255;
/// The longest description of a piece of evidence, in characters.
pub const DESCRIPTION_MAX: usize = 2_000;

/// A file name as a piece of evidence keeps it: 1 to [`FILENAME_MAX`]
/// characters on one line, no control or invisible formatting characters,
/// no path separator (`/`, `\`), and not `.` or `..`. It is a label, never
/// a path: the bytes are stored by their SHA-256.
pub fn evidence_filename(field: &str, raw: &str) -> Result<Text, FieldViolation> {
    let name = Text::single_line(field, raw, FILENAME_MAX)?;
    if name.as_str().contains(['/', '\\']) {
        return Err(FieldViolation::new(
            field,
            "must be a file name without a path: no / or \\",
        ));
    }
    if matches!(name.as_str(), "." | "..") {
        return Err(FieldViolation::new(field, "must name a file"));
    }
    Ok(name)
}

/// A piece of evidence whose bytes are stored, as a caller asks to record it
/// (the file name and description as given; [`NewEvidence::validate`] checks
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvidence {
    pub evidence_id: EvidenceId,
    pub filename: String,
    /// As the blob store's limits accepted it.
    pub media_type: String,
    /// Optional: empty means none.
    pub description: String,
    /// The lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    pub size_bytes: u64,
    pub source: EvidenceSource,
}

/// A piece of evidence as recorded: every field checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub evidence_id: EvidenceId,
    pub filename: Text,
    pub media_type: String,
    pub description: Option<Text>,
    pub sha256: String,
    pub size_bytes: u64,
    pub source: EvidenceSource,
}

impl NewEvidence {
    /// Checks the file name (`filename`), the description (`description`)
    /// and the media type (`media_type`: `type/subtype`, at most 255
    /// characters), every bad field at once.
    pub fn validate(&self) -> Result<Evidence, DomainError> {
        let mut violations = Vec::new();
        let filename = evidence_filename("filename", &self.filename)
            .map_err(|v| violations.push(v))
            .ok();
        let description = optional(&self.description, &mut violations, |raw| {
            Text::multi_line("description", raw, DESCRIPTION_MAX)
        });
        let media_type = self.media_type.trim();
        let well_formed = media_type.len() <= FILENAME_MAX
            && media_type.is_ascii()
            && !media_type.chars().any(char::is_control)
            && media_type
                .split_once('/')
                .is_some_and(|(kind, subtype)| !kind.is_empty() && !subtype.is_empty());
        if !well_formed {
            violations.push(FieldViolation::new(
                "media_type",
                "must be a media type such as application/pdf",
            ));
        }
        match filename {
            Some(filename) if violations.is_empty() => Ok(Evidence {
                evidence_id: self.evidence_id,
                filename,
                media_type: media_type.to_owned(),
                description,
                sha256: self.sha256.clone(),
                size_bytes: self.size_bytes,
                source: self.source,
            }),
            _ => Err(DomainError::InvalidArgument(violations)),
        }
    }
}

impl Evidence {
    /// The timeline's record of it: no description (free text may name
    /// people), only what identifies the file.
    pub fn added_event(&self) -> Event {
        Event::EvidenceAdded {
            evidence_id: self.evidence_id,
            filename: self.filename.clone(),
            media_type: self.media_type.clone(),
            sha256: self.sha256.clone(),
            size_bytes: self.size_bytes,
            source: self.source,
        }
    }
}

/// A file that came with a complaint and was not kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedEvidence {
    /// The file's name, as it came (made one line, cut to [`FILENAME_MAX`]).
    pub filename: String,
    pub source: EvidenceSource,
    /// Why, in a sentence (the limit it broke).
    pub reason: String,
}

impl Transition {
    /// The opening of a case, with the files that came with the complaint:
    /// an `evidence.added` event for each one kept (their bytes already
    /// stored), an `evidence.refused` one naming each file the evidence
    /// limits refused and why. The complaint was accepted by `Submit`; its
    /// files need no other permission.
    pub fn with_evidence(mut self, kept: &[Evidence], refused: &[RefusedEvidence]) -> Transition {
        let before = self.events.len();
        self.events.extend(kept.iter().map(Evidence::added_event));
        self.events.extend(refused.iter().filter_map(refused_event));
        self.case.version += (self.events.len() - before) as u64;
        self
    }
}

/// The `evidence.refused` event; `None` only if neither the file name nor a
/// placeholder can be kept as one line of text, which cannot happen.
fn refused_event(refusal: &RefusedEvidence) -> Option<Event> {
    let one_line = |field: &str, raw: &str, max: usize, otherwise: &str| {
        let cleaned: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(max)
            .collect();
        Text::single_line(field, cleaned.trim(), max)
            .or_else(|_| Text::single_line(field, otherwise, max))
            .ok()
    };
    Some(Event::EvidenceRefused {
        filename: one_line(
            "filename",
            &refusal.filename,
            FILENAME_MAX,
            "(unreadable name)",
        )?,
        source: refusal.source,
        reason: one_line(
            "reason",
            &refusal.reason,
            Text::NOTE_MAX,
            "refused by the evidence limits",
        )?,
    })
}
