//! The identity of one notification, shared by everything it becomes.

use std::fmt;

use uuid::Uuid;

use crate::NotifyError;

/// The notification service's id for one message. It names the outbox file
/// (`<id>.eml`, `<id>.pdf`) and the email's `Message-ID` (`<id@domain>`), so
/// every retry of the same notification produces the same identity and a
/// receiver (or a person looking at the outbox) can tell a repeat from a new
/// message.
///
/// Restricted to ASCII letters, digits, `-`, `_` and `.` (not leading), at
/// most 128 characters: safe as a file name on every platform and as the
/// left part of a Message-ID without quoting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotificationId(String);

impl NotificationId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, NotifyError> {
        let valid = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && !raw.starts_with('.')
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(NotifyError::InvalidNotificationId { id: raw.to_owned() })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Uuid> for NotificationId {
    /// The hyphenated lowercase form, always valid.
    fn from(id: Uuid) -> Self {
        Self(id.hyphenated().to_string())
    }
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_is_a_valid_id() {
        let uuid = Uuid::nil();
        let id = NotificationId::from(uuid);
        assert_eq!(id.as_str(), "00000000-0000-0000-0000-000000000000");
        assert_eq!(NotificationId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn ids_that_could_escape_a_folder_or_a_header_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../etc",
            "a/b",
            "a\\b",
            "a b",
            "a@b",
            "<a>",
            "é",
            &"a".repeat(129),
        ] {
            assert!(NotificationId::parse(bad).is_err(), "{bad:?}");
        }
        for good in ["n-1", "ACK_2026.1", &"a".repeat(128)] {
            assert!(NotificationId::parse(good).is_ok(), "{good:?}");
        }
    }
}
