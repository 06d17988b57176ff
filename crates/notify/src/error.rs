//! What can go wrong before a message is handed to a carrier. Delivery
//! failures have their own type, [`crate::SendError`], because the caller
//! must treat them differently: some are retried, none is a bug.

use std::path::PathBuf;

use complaints_domain::case::NotifyKind;

/// Why a message could not be prepared.
///
/// Template errors name the file to fix. None of these gets better by
/// retrying: the caller records the notification as failed and says why.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A template directory was configured but lacks one of the templates.
    #[error("template {file} is missing from {dir}")]
    TemplateMissing { dir: PathBuf, file: String },

    /// A template file exists but could not be read.
    #[error("cannot read template {path}: {source}")]
    TemplateUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A template does not parse, or refers to a value the renderer does
    /// not provide; found at start by rendering every template with a
    /// complete sample (`message` says which value and where).
    #[error("template {template} is not valid: {message}")]
    TemplateInvalid { template: String, message: String },

    /// A subject template rendered to nothing or to more than one line.
    #[error("template {template} must render to one non-empty line (got {rendered:?})")]
    SubjectNotOneLine { template: String, rendered: String },

    /// The company details needed on every message are incomplete.
    #[error("company details: {field} {problem}")]
    InvalidCompany {
        field: &'static str,
        problem: String,
    },

    /// The context lacks a value this kind of message needs.
    #[error("a {kind} message needs {field}, which was not given")]
    MissingContext {
        kind: &'static str,
        field: &'static str,
    },

    /// Rendering failed for a reason validation could not foresee (a value
    /// that was given but is unusable).
    #[error("cannot render the {kind} message: {message}")]
    Render { kind: &'static str, message: String },

    /// No written route reaches the complainant.
    #[error("no route reaches the complainant: {reason}")]
    NoRoute { reason: String },

    /// A notification id that cannot name a file or a Message-ID.
    #[error(
        "notification id {id:?} must be 1 to 128 ASCII letters, digits, '-', '_' or '.', and not start with '.'"
    )]
    InvalidNotificationId { id: String },

    /// Email settings or an address lettre refuses.
    #[error("email: {0}")]
    Email(String),

    /// Writing to an outbox folder failed.
    #[error("cannot write {path}: {source}")]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl NotifyError {
    pub(crate) fn missing(kind: NotifyKind, field: &'static str) -> Self {
        NotifyError::MissingContext {
            kind: kind.as_str(),
            field,
        }
    }
}
