//! What evidence is accepted: how large, and of which media types.

use crate::error::BlobError;

/// The default largest upload: 25 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 25 * 1024 * 1024;

/// The media types accepted by default: documents, pictures, recordings,
/// plain text, emails, and the common office formats.
pub const DEFAULT_ALLOWED_MEDIA_TYPES: &[&str] = &[
    "application/pdf",
    "image/*",
    "audio/*",
    "text/plain",
    "message/rfc822",
    "application/rtf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
];

/// What an upload may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes one blob may hold.
    pub max_bytes: u64,
    /// Accepted media types: exact `type/subtype`, or `type/*` for every
    /// subtype of a type. Compared without case.
    pub allowed_media_types: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            allowed_media_types: DEFAULT_ALLOWED_MEDIA_TYPES
                .iter()
                .map(|media_type| (*media_type).to_owned())
                .collect(),
        }
    }
}

impl Limits {
    /// Accepts `media_type` if one of the allowed types matches it, ignoring
    /// parameters (`text/plain; charset=utf-8` is `text/plain`) and case;
    /// otherwise [`BlobError::RefusedMediaType`], naming it.
    pub fn check_media_type(&self, media_type: &str) -> Result<(), BlobError> {
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let refused = || BlobError::RefusedMediaType {
            media_type: media_type.to_owned(),
        };
        let Some((kind, subtype)) = essence.split_once('/') else {
            return Err(refused());
        };
        if kind.is_empty() || subtype.is_empty() || subtype == "*" {
            return Err(refused());
        }
        let allowed = self.allowed_media_types.iter().any(|pattern| {
            let pattern = pattern.trim().to_ascii_lowercase();
            match pattern.split_once('/') {
                Some((pattern_kind, "*")) => pattern_kind == kind,
                Some(_) => pattern == essence,
                None => false,
            }
        });
        if allowed { Ok(()) } else { Err(refused()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limit_is_25_mebibytes() {
        assert_eq!(Limits::default().max_bytes, 26_214_400);
    }

    #[test]
    fn documents_pictures_recordings_and_emails_are_accepted_by_default() {
        let limits = Limits::default();
        for accepted in [
            "application/pdf",
            "image/jpeg",
            "image/png",
            "audio/mpeg",
            "audio/wav",
            "text/plain",
            "text/plain; charset=utf-8",
            "message/rfc822",
            "Application/PDF",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ] {
            assert!(
                limits.check_media_type(accepted).is_ok(),
                "{accepted} was refused"
            );
        }
    }

    #[test]
    fn executables_html_and_malformed_types_are_refused_by_default() {
        let limits = Limits::default();
        for refused in [
            "application/x-msdownload",
            "text/html",
            "application/octet-stream",
            "video/mp4",
            "image",
            "image/",
            "image/*",
            "",
        ] {
            assert!(
                matches!(
                    limits.check_media_type(refused),
                    Err(BlobError::RefusedMediaType { ref media_type }) if media_type == refused
                ),
                "{refused} was accepted"
            );
        }
    }

    #[test]
    fn a_wildcard_covers_only_its_own_type() {
        let limits = Limits {
            max_bytes: 1,
            allowed_media_types: vec!["audio/*".to_owned(), "text/csv".to_owned()],
        };
        assert!(limits.check_media_type("audio/ogg").is_ok());
        assert!(limits.check_media_type("text/csv").is_ok());
        assert!(limits.check_media_type("text/plain").is_err());
        assert!(limits.check_media_type("audiox/ogg").is_err());
    }
}
