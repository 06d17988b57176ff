//! Where the message templates come from: the copies built into the binary,
//! or a folder the company edits.

use std::path::{Path, PathBuf};

use complaints_domain::case::NotifyKind;

use crate::NotifyError;

/// Every kind of message, in the order templates are checked.
pub const ALL_KINDS: [NotifyKind; 8] = [
    NotifyKind::Acknowledgement,
    NotifyKind::ReferralUpdate,
    NotifyKind::StageResponse,
    NotifyKind::ReviewAcknowledgement,
    NotifyKind::FinalResponse,
    NotifyKind::InternalAlert,
    NotifyKind::Extension,
    NotifyKind::HoldingUpdate,
];

/// Which set of templates a [`crate::Renderer`] uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TemplateSource {
    /// The templates in this crate's `templates/` folder, compiled in.
    #[default]
    Bundled,
    /// A folder holding `<kind>.subject` and `<kind>.txt` for every kind
    /// (start from a copy of the bundled ones: [`bundled_templates`]). Read
    /// once, when the renderer is built; other files in it are ignored.
    Directory(PathBuf),
}

/// The file name of a kind's subject template.
pub fn subject_file(kind: NotifyKind) -> String {
    format!("{}.subject", kind.as_str())
}

/// The file name of a kind's body template.
pub fn body_file(kind: NotifyKind) -> String {
    format!("{}.txt", kind.as_str())
}

/// The built-in subject and body templates of a kind.
fn bundled(kind: NotifyKind) -> (&'static str, &'static str) {
    match kind {
        NotifyKind::Acknowledgement => (
            include_str!("../templates/acknowledgement.subject"),
            include_str!("../templates/acknowledgement.txt"),
        ),
        NotifyKind::ReferralUpdate => (
            include_str!("../templates/referral_update.subject"),
            include_str!("../templates/referral_update.txt"),
        ),
        NotifyKind::StageResponse => (
            include_str!("../templates/stage_response.subject"),
            include_str!("../templates/stage_response.txt"),
        ),
        NotifyKind::ReviewAcknowledgement => (
            include_str!("../templates/review_acknowledgement.subject"),
            include_str!("../templates/review_acknowledgement.txt"),
        ),
        NotifyKind::FinalResponse => (
            include_str!("../templates/final_response.subject"),
            include_str!("../templates/final_response.txt"),
        ),
        NotifyKind::InternalAlert => (
            include_str!("../templates/internal_alert.subject"),
            include_str!("../templates/internal_alert.txt"),
        ),
        NotifyKind::Extension => (
            include_str!("../templates/extension.subject"),
            include_str!("../templates/extension.txt"),
        ),
        NotifyKind::HoldingUpdate => (
            include_str!("../templates/holding_update.subject"),
            include_str!("../templates/holding_update.txt"),
        ),
    }
}

/// Every built-in template as `(file name, text)`, so a command can write
/// them out as the starting point of a company's own folder.
pub fn bundled_templates() -> Vec<(String, &'static str)> {
    ALL_KINDS
        .into_iter()
        .flat_map(|kind| {
            let (subject, body) = bundled(kind);
            [(subject_file(kind), subject), (body_file(kind), body)]
        })
        .collect()
}

/// One template's name (its file name) and source text.
#[derive(Debug, Clone)]
pub(crate) struct TemplateText {
    pub name: String,
    pub source: String,
}

impl TemplateSource {
    /// Every template, subject then body for each kind. Line endings are
    /// normalised to `\n`, so a file saved on Windows renders the same.
    pub(crate) fn load(&self) -> Result<Vec<TemplateText>, NotifyError> {
        match self {
            TemplateSource::Bundled => Ok(bundled_templates()
                .into_iter()
                .map(|(name, source)| TemplateText {
                    name,
                    source: normalise(source),
                })
                .collect()),
            TemplateSource::Directory(dir) => ALL_KINDS
                .into_iter()
                .flat_map(|kind| [subject_file(kind), body_file(kind)])
                .map(|name| read_template(dir, name))
                .collect(),
        }
    }
}

fn read_template(dir: &Path, name: String) -> Result<TemplateText, NotifyError> {
    let path = dir.join(&name);
    match std::fs::read_to_string(&path) {
        Ok(source) => Ok(TemplateText {
            name,
            source: normalise(&source),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Err(NotifyError::TemplateMissing {
                dir: dir.to_path_buf(),
                file: name,
            })
        }
        Err(source) => Err(NotifyError::TemplateUnreadable { path, source }),
    }
}

fn normalise(source: &str) -> String {
    source.replace("\r\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_subject_and_a_body_file() {
        let names: Vec<String> = bundled_templates()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names.len(), 16);
        for kind in ALL_KINDS {
            assert!(names.contains(&subject_file(kind)), "{kind:?}");
            assert!(names.contains(&body_file(kind)), "{kind:?}");
        }
    }

    #[test]
    fn windows_line_endings_are_normalised() {
        assert_eq!(normalise("a\r\nb\n"), "a\nb\n");
    }
}
