//! The caller's idempotency key, as intake and the case service both
//! require it.

use complaints_domain::FieldViolation;

/// A caller's idempotency key: 1 to [`RequestId::MAX_CHARS`] printable
/// ASCII characters, no spaces (`!` to `~`), as the case service also
/// requires of the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub const FIELD: &'static str = "request_id";
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<RequestId, FieldViolation> {
        let violation = |description: String| FieldViolation::new(Self::FIELD, description);
        if raw.trim().is_empty() {
            return Err(violation(
                "is required: an idempotency key chosen by the caller, a UUID is recommended"
                    .into(),
            ));
        }
        if raw.len() > Self::MAX_CHARS {
            return Err(violation(format!(
                "must be at most {} characters (got {})",
                Self::MAX_CHARS,
                raw.chars().count()
            )));
        }
        if let Some((index, c)) = raw.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic()) {
            return Err(violation(format!(
                "must be printable ASCII without spaces (found U+{:04X} at character {})",
                u32::from(c),
                index + 1
            )));
        }
        Ok(RequestId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
