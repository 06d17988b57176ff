//! Validating value types: a value of one of these types is valid by
//! construction, whether it came from a caller or from storage.
//!
//! Each parser trims and normalises its input, and refuses it with a
//! [`FieldViolation`] naming the field and saying what to change. The default
//! field names are the names in the gRPC contract (`email`, `phone`, ...);
//! callers nest them with [`FieldViolation::nested_in`]. Messages about
//! personal data (names, emails, phone numbers, postcodes) describe the
//! problem without echoing the value, so a logged error leaks nothing.
//!
//! Deserialisation goes through the same parsers (`try_from = "String"`), so
//! an invalid stored value is refused rather than smuggled in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::FieldViolation;

/// Implements `Display`, `AsRef<str>` and `From<T> for String` for a type
/// whose normalised text is the field `$text`.
macro_rules! impl_text_traits {
    ($type:ty, $text:tt) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.$text)
            }
        }

        impl AsRef<str> for $type {
            fn as_ref(&self) -> &str {
                &self.$text
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> String {
                value.$text
            }
        }
    };
}

/// Implements `FromStr` and `TryFrom<String>` through the type's `parse`.
macro_rules! impl_parse_traits {
    ($type:ty) => {
        impl FromStr for $type {
            type Err = FieldViolation;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$type>::parse(s)
            }
        }

        impl TryFrom<String> for $type {
            type Error = FieldViolation;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                <$type>::parse(&value)
            }
        }
    };
}

// ---------------------------------------------------------------------------
// Register number

/// A case's register number, `CMP-YYYY-NNNNNN`: the year of receipt and a
/// sequence within that year, zero-padded to six digits. Quoted to the
/// complainant in every acknowledgement (R1).
///
/// Orders by year, then sequence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegisterNumber {
    year: i32,
    sequence: u32,
    text: String,
}

impl RegisterNumber {
    pub const FIELD: &'static str = "register_number";
    pub const MIN_YEAR: i32 = 2000;
    pub const MAX_YEAR: i32 = 9999;
    pub const MAX_SEQUENCE: u32 = 999_999;

    /// The register number for the `sequence`th case of `year`.
    pub fn new(year: i32, sequence: u32) -> Result<Self, FieldViolation> {
        if !(Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year) {
            return Err(FieldViolation::new(
                Self::FIELD,
                format!(
                    "year must be between {} and {} (got {year})",
                    Self::MIN_YEAR,
                    Self::MAX_YEAR
                ),
            ));
        }
        if !(1..=Self::MAX_SEQUENCE).contains(&sequence) {
            return Err(FieldViolation::new(
                Self::FIELD,
                format!(
                    "sequence must be between 1 and {} (got {sequence})",
                    Self::MAX_SEQUENCE
                ),
            ));
        }
        Ok(Self {
            year,
            sequence,
            text: format!("CMP-{year:04}-{sequence:06}"),
        })
    }

    /// Parses `CMP-YYYY-NNNNNN`, ignoring surrounding whitespace and the case
    /// of the `CMP` prefix.
    pub fn parse(raw: &str) -> Result<Self, FieldViolation> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(FieldViolation::new(
                Self::FIELD,
                "must not be empty; expected a register number like CMP-2025-000123",
            ));
        }
        let malformed = || {
            FieldViolation::new(
                Self::FIELD,
                format!(
                    "must look like CMP-YYYY-NNNNNN, e.g. CMP-2025-000123 (got {})",
                    quoted(trimmed)
                ),
            )
        };
        let bytes = trimmed.as_bytes();
        let well_formed = bytes.len() == 15
            && bytes[..4].eq_ignore_ascii_case(b"CMP-")
            && bytes[4..8].iter().all(u8::is_ascii_digit)
            && bytes[8] == b'-'
            && bytes[9..].iter().all(u8::is_ascii_digit);
        if !well_formed {
            return Err(malformed());
        }
        // Both slices are ASCII digits, so they are on char boundaries and
        // fit their types; the fallbacks cannot happen.
        let year: i32 = trimmed[4..8].parse().map_err(|_| malformed())?;
        let sequence: u32 = trimmed[9..].parse().map_err(|_| malformed())?;
        Self::new(year, sequence)
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl_text_traits!(RegisterNumber, text);
impl_parse_traits!(RegisterNumber);

// ---------------------------------------------------------------------------
// Email address

/// An email address in the common `local@domain` form, ASCII only.
///
/// Stored with the domain lowercased and the local part as given (the local
/// part is case-sensitive in principle). Quoted local parts, comments and
/// IP-literal domains are refused: no complainant needs them, and the mail
/// gateway cannot route them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const FIELD: &'static str = "email";
    pub const MAX_CHARS: usize = 254;
    pub const MAX_LOCAL_CHARS: usize = 64;
    pub const MAX_LABEL_CHARS: usize = 63;

    pub fn parse(raw: &str) -> Result<Self, FieldViolation> {
        let violation = |description: String| FieldViolation::new(Self::FIELD, description);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(violation("must not be empty".into()));
        }
        let chars = trimmed.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(violation(format!(
                "must be at most {} characters (got {chars})",
                Self::MAX_CHARS
            )));
        }
        let ats = trimmed.matches('@').count();
        let Some((local, domain)) = trimmed.split_once('@') else {
            return Err(violation(
                "must contain an @ between the name and the domain, e.g. name@example.com".into(),
            ));
        };
        if ats > 1 {
            return Err(violation(format!(
                "must contain exactly one @ (found {ats})"
            )));
        }
        check_email_local_part(local).map_err(violation)?;
        let domain = domain.to_ascii_lowercase();
        check_email_domain(&domain).map_err(violation)?;
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or("", |(local, _)| local)
    }

    /// The part after the `@`, lowercase.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, domain)| domain)
    }

    /// Whether `other` is the same address ignoring case, the local part's
    /// too: how the platform tells a complainant's address on an incoming
    /// email (the store's searches and duplicate flags compare alike, in SQL).
    pub fn same_address(&self, other: &EmailAddress) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl_text_traits!(EmailAddress, 0);
impl_parse_traits!(EmailAddress);

/// RFC 5322 `atext`: the characters allowed in a dot-atom besides the dots.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn check_email_local_part(local: &str) -> Result<(), String> {
    if local.is_empty() {
        return Err("must have a name before the @, e.g. name@example.com".into());
    }
    let chars = local.chars().count();
    if chars > EmailAddress::MAX_LOCAL_CHARS {
        return Err(format!(
            "the part before the @ must be at most {} characters (got {chars})",
            EmailAddress::MAX_LOCAL_CHARS
        ));
    }
    if let Some(c) = local.chars().find(|&c| c != '.' && !is_atext(c)) {
        return Err(format!(
            "the part before the @ must not contain {}; use letters, digits and . ! # $ % & ' * + - / = ? ^ _ ` {{ | }} ~",
            describe_char(c)
        ));
    }
    if local.starts_with('.') || local.ends_with('.') {
        return Err("the part before the @ must not start or end with a dot".into());
    }
    if local.contains("..") {
        return Err("the part before the @ must not contain two dots in a row".into());
    }
    Ok(())
}

/// Checks a domain that has already been lowercased.
fn check_email_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("must have a domain after the @, e.g. name@example.com".into());
    }
    if let Some(c) = domain
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(format!(
            "the domain may contain only letters, digits, hyphens and dots (found {})",
            describe_char(c)
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("the domain must contain a dot, e.g. example.com".into());
    }
    if labels.iter().any(|label| label.is_empty()) {
        return Err(
            "the domain must not start or end with a dot or contain two dots in a row".into(),
        );
    }
    for label in &labels {
        if label.len() > EmailAddress::MAX_LABEL_CHARS {
            return Err(format!(
                "each dot-separated part of the domain must be at most {} characters (got {})",
                EmailAddress::MAX_LABEL_CHARS,
                label.len()
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(
                "dot-separated parts of the domain must not start or end with a hyphen".into(),
            );
        }
    }
    let tld = labels.last().copied().unwrap_or_default();
    let alphabetic = tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic());
    let punycode = tld.len() > 4 && tld.starts_with("xn--");
    if !(alphabetic || punycode) {
        return Err(format!(
            "the domain must end in a top-level domain of letters such as .uk or .com (got .{tld})"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// UK phone number

/// A UK telephone number (geographic, non-geographic, mobile, freephone).
///
/// Accepts the ways people write them (`01632 960 001`, `+44 (0)1632
/// 960001`, `0044 1632 960001`, `(01632) 960001`, `07700-900123`) and stores
/// the E.164 form, `+441632960001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UkPhone(String);

impl UkPhone {
    pub const FIELD: &'static str = "phone";

    pub fn parse(raw: &str) -> Result<Self, FieldViolation> {
        let violation = |description: String| FieldViolation::new(Self::FIELD, description);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(violation("must not be empty".into()));
        }
        if let Some(c) = trimmed.chars().find(|c| c.is_alphabetic()) {
            return Err(violation(format!(
                "must contain only digits, spaces and + - . ( ) (found the letter {})",
                describe_char(c)
            )));
        }
        let allowed = |c: char| c.is_ascii_digit() || " \t-.()+".contains(c);
        if let Some(c) = trimmed.chars().find(|&c| !allowed(c)) {
            return Err(violation(format!(
                "must contain only digits, spaces and + - . ( ) (found {})",
                describe_char(c)
            )));
        }
        let compact: String = trimmed
            .chars()
            .filter(|c| !matches!(c, ' ' | '\t' | '-' | '.'))
            .collect();
        if !compact.chars().any(|c| c.is_ascii_digit()) {
            return Err(violation(
                "must contain the digits of a phone number, e.g. 01632 960001".into(),
            ));
        }
        if compact
            .char_indices()
            .any(|(index, c)| c == '+' && index > 0)
        {
            return Err(violation(
                "may contain + only at the start, as in +44 1632 960001".into(),
            ));
        }

        let international = compact
            .strip_prefix("+44")
            .or_else(|| compact.strip_prefix("0044"));
        let national_digits: String = match international {
            Some(rest) => {
                let rest = rest.strip_prefix("(0)").unwrap_or(rest);
                let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
                if digits.starts_with('0') {
                    return Err(violation(
                        "after +44 leave out the 0 that starts the area code, or write it as (0), e.g. +44 (0)1632 960001"
                            .into(),
                    ));
                }
                format!("0{digits}")
            }
            None => {
                if compact.starts_with('+') || compact.starts_with("00") {
                    return Err(violation(
                        "must be a UK number: the country code must be +44 (this number is for another country)"
                            .into(),
                    ));
                }
                compact.chars().filter(char::is_ascii_digit).collect()
            }
        };

        if !national_digits.starts_with('0') {
            return Err(violation(
                "must start with 0, +44 or 0044, e.g. 01632 960001".into(),
            ));
        }
        let count = national_digits.len();
        if count < 10 {
            return Err(violation(format!(
                "is too short: a UK number has 10 or 11 digits including the leading 0 (got {count})"
            )));
        }
        if count > 11 {
            return Err(violation(format!(
                "is too long: a UK number has 10 or 11 digits including the leading 0 (got {count})"
            )));
        }
        let after_zero = &national_digits[1..];
        if !after_zero.starts_with(['1', '2', '3', '5', '7', '8', '9']) {
            return Err(violation(format!(
                "is not a UK number in use: UK numbers do not start 0{} (check the number)",
                &after_zero[..1]
            )));
        }
        Ok(Self(format!("+44{after_zero}")))
    }

    /// The E.164 form, e.g. `+441632960001`.
    pub fn e164(&self) -> &str {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as written in the UK, grouped for reading aloud:
    /// `020 7946 0000`, `0121 496 0000`, `01632 960001`, `07700 900123`,
    /// `0800 123 4567`. The grouping follows the common patterns and is for
    /// display only; it is not a numbering-plan lookup.
    pub fn national(&self) -> String {
        let digits = format!("0{}", self.0.trim_start_matches("+44"));
        // Every stored number has at least 10 digits, so `get(1..4)` is Some.
        let groups: &[usize] = match (digits.len(), digits.as_bytes().get(1..4)) {
            (11, Some([b'2', _, _])) => &[3, 4, 4],
            (11, Some([b'1', b'1', _] | [b'1', _, b'1'])) => &[4, 3, 4],
            (11, Some([b'1' | b'7', _, _])) => &[5, 6],
            (11, _) => &[4, 3, 4],
            (_, Some([b'1', _, _])) => &[5, 5],
            _ => &[4, 6],
        };
        let mut out = String::with_capacity(digits.len() + groups.len());
        let mut rest = digits.as_str();
        for &size in groups {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at(size.min(rest.len()));
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(head);
            rest = tail;
        }
        if !rest.is_empty() {
            out.push_str(rest);
        }
        out
    }
}

impl_text_traits!(UkPhone, 0);
impl_parse_traits!(UkPhone);

// ---------------------------------------------------------------------------
// UK postcode

/// A UK postcode, upper case with one space before the inward code:
/// `SW1A 1AA`. Checks the shape, not that the postcode exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UkPostcode(String);

impl UkPostcode {
    pub const FIELD: &'static str = "postcode";

    /// The outward-code shapes: `A` a letter, `9` a digit.
    const OUTWARD_SHAPES: [&'static str; 6] = ["A9", "A99", "AA9", "AA99", "A9A", "AA9A"];

    pub fn parse(raw: &str) -> Result<Self, FieldViolation> {
        let violation = |description: String| FieldViolation::new(Self::FIELD, description);
        let compact: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if compact.is_empty() {
            return Err(violation("must not be empty".into()));
        }
        if let Some(c) = compact.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(violation(format!(
                "may contain only letters, digits and spaces (found {})",
                describe_char(c)
            )));
        }
        if compact == "GIR0AA" {
            return Ok(Self("GIR 0AA".into()));
        }
        let count = compact.len();
        if !(5..=7).contains(&count) {
            return Err(violation(format!(
                "must have 5 to 7 letters and digits, e.g. SW1A 1AA or M1 1AE (got {count})"
            )));
        }
        let (outward, inward) = compact.split_at(count - 3);
        let inward_bytes = inward.as_bytes();
        let inward_shape = inward_bytes[0].is_ascii_digit()
            && inward_bytes[1..].iter().all(u8::is_ascii_alphabetic);
        if !inward_shape {
            return Err(violation(
                "must end in a digit and two letters, like the 1AA of SW1A 1AA".into(),
            ));
        }
        if inward_bytes[1..].iter().any(|b| b"CIKMOV".contains(b)) {
            return Err(violation(
                "the last two letters cannot be C, I, K, M, O or V".into(),
            ));
        }
        let outward_shape: String = outward
            .chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { 'A' })
            .collect();
        if !Self::OUTWARD_SHAPES.contains(&outward_shape.as_str()) {
            return Err(violation(
                "the first part must be one or two letters, a digit, then optionally a digit or letter, like M1, B33, CR2, W1A or SW1A"
                    .into(),
            ));
        }
        Ok(Self(format!("{outward} {inward}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the space, e.g. `SW1A`.
    pub fn outward(&self) -> &str {
        self.0.split_once(' ').map_or("", |(outward, _)| outward)
    }

    /// The part after the space, e.g. `1AA`.
    pub fn inward(&self) -> &str {
        self.0.split_once(' ').map_or("", |(_, inward)| inward)
    }
}

impl_text_traits!(UkPostcode, 0);
impl_parse_traits!(UkPostcode);

// ---------------------------------------------------------------------------
// Person name

/// A person's full name as they give it. Deliberately permissive (any script,
/// one word or many) but printable on a letter: trimmed, at most
/// [`PersonName::MAX_CHARS`] characters, at least one letter, no control or
/// invisible direction-changing characters, and no `<` or `>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    pub const FIELD: &'static str = "full_name";
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, FieldViolation> {
        let violation = |description: String| FieldViolation::new(Self::FIELD, description);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(violation("must not be empty".into()));
        }
        check_max_chars(trimmed, Self::MAX_CHARS).map_err(violation)?;
        for (index, c) in trimmed.chars().enumerate() {
            if c.is_control() {
                return Err(violation(control_char_message(c, index)));
            }
            if is_hidden_formatting(c) {
                return Err(violation(hidden_formatting_message(c, index)));
            }
            if c == '<' || c == '>' {
                return Err(violation("must not contain < or >".into()));
            }
        }
        if !trimmed.chars().any(char::is_alphabetic) {
            return Err(violation("must contain at least one letter".into()));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A name that is known to be valid, for placeholders built in this
    /// crate (the erased complainant). A unit test parses every such name.
    pub(crate) fn trusted(name: &'static str) -> Self {
        Self(name.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl_text_traits!(PersonName, 0);
impl_parse_traits!(PersonName);

// ---------------------------------------------------------------------------
// Free text

/// Free text a person wrote: a summary, details, a note, an outcome.
///
/// Always trimmed and non-empty. Never holds a control character except the
/// line feed and tab of multi-line text (a `\r\n` line ending becomes `\n`),
/// and never an invisible bidirectional override or zero-width character,
/// which could make a letter or the timeline read differently from what was
/// stored.
///
/// The length limit belongs to the field, so it is checked by the
/// constructors, which are given it. Deserialisation checks everything but
/// the limit (a stored value has already passed its field's limit, and a
/// limit may be raised later).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

impl Text {
    pub const SUMMARY_MAX: usize = 200;
    pub const DETAILS_MAX: usize = 20_000;
    pub const NOTE_MAX: usize = 10_000;
    pub const REFERENCE_MAX: usize = 100;
    pub const OUTCOME_MAX: usize = 20_000;

    /// Text on one line: no line breaks, tabs or other control characters.
    pub fn single_line(field: &str, raw: &str, max_chars: usize) -> Result<Self, FieldViolation> {
        let violation = |description: String| FieldViolation::new(field, description);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(violation("must not be empty".into()));
        }
        check_max_chars(trimmed, max_chars).map_err(violation)?;
        for (index, c) in trimmed.chars().enumerate() {
            if matches!(c, '\n' | '\r' | '\u{0085}' | '\u{2028}' | '\u{2029}') {
                return Err(violation(format!(
                    "must be a single line (found a line break at character {})",
                    index + 1
                )));
            }
            if c.is_control() {
                return Err(violation(control_char_message(c, index)));
            }
            if is_hidden_formatting(c) {
                return Err(violation(hidden_formatting_message(c, index)));
            }
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// Text that may run over several lines: line feeds and tabs are kept,
    /// `\r\n` becomes `\n`, any other control character is refused.
    pub fn multi_line(field: &str, raw: &str, max_chars: usize) -> Result<Self, FieldViolation> {
        let violation = |description: String| FieldViolation::new(field, description);
        let normalised = raw.replace("\r\n", "\n");
        let trimmed = normalised.trim();
        if trimmed.is_empty() {
            return Err(violation("must not be empty".into()));
        }
        check_max_chars(trimmed, max_chars).map_err(violation)?;
        for (index, c) in trimmed.chars().enumerate() {
            if c == '\n' || c == '\t' {
                continue;
            }
            if c == '\r' {
                return Err(violation(format!(
                    "must not contain a carriage return on its own (found at character {}); end lines with \\n or \\r\\n",
                    index + 1
                )));
            }
            if c.is_control() {
                return Err(violation(control_char_message(c, index)));
            }
            if is_hidden_formatting(c) {
                return Err(violation(hidden_formatting_message(c, index)));
            }
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl_text_traits!(Text, 0);

impl TryFrom<String> for Text {
    type Error = FieldViolation;

    /// The type's invariants without a field's length limit; see [`Text`].
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Text::multi_line("text", &value, usize::MAX)
    }
}

// ---------------------------------------------------------------------------
// Message-ID

/// An email's Message-ID as the platform keeps and compares it: without its
/// angle brackets, as in `abc.123@mail.example.org`.
///
/// One rule wherever one is read or written: intake reading a message's
/// headers, the case service filing correspondence and finding a case by
/// it, the notification service writing `In-Reply-To` and `References`.
/// Surrounding spaces and the angle brackets around it are dropped; what is
/// left must be 1 to [`MessageId::MAX_CHARS`] characters, each printable
/// ASCII other than `<` and `>` (RFC 5322's `msg-id`: no spaces, no control
/// characters), so that it can be written back into a header as it is and
/// a reply naming it finds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// A header line's limit (RFC 5322).
    pub const MAX_CHARS: usize = 998;

    /// `Ok(None)` when `raw` is blank or only brackets; a violation of
    /// `field` when what is left is not a Message-ID.
    pub fn parse_optional(field: &str, raw: &str) -> Result<Option<Self>, FieldViolation> {
        let violation = |description: String| FieldViolation::new(field, description);
        let id = raw
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        if id.is_empty() {
            return Ok(None);
        }
        check_max_chars(id, Self::MAX_CHARS).map_err(violation)?;
        if let Some((index, c)) = id
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_graphic() || matches!(c, '<' | '>'))
        {
            return Err(violation(format!(
                "must be a Message-ID: printable ASCII without spaces or angle brackets inside (found {} at character {})",
                describe_char(c),
                index + 1
            )));
        }
        Ok(Some(Self(id.to_owned())))
    }

    /// What [`Self::parse_optional`] accepts, and `None` for anything else:
    /// for a header read from a message, where an unusable Message-ID is
    /// left out rather than refusing the message.
    pub fn usable(raw: &str) -> Option<Self> {
        Self::parse_optional("message_id", raw).ok().flatten()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As a header writes it: `<id>`.
    pub fn bracketed(&self) -> String {
        format!("<{}>", self.0)
    }
}

impl_text_traits!(MessageId, 0);

// ---------------------------------------------------------------------------
// Shared checks and messages

fn check_max_chars(value: &str, max_chars: usize) -> Result<(), String> {
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(format!(
            "must be at most {max_chars} characters (got {chars})"
        ));
    }
    Ok(())
}

/// Invisible characters that change how the text around them displays: the
/// bidirectional embeddings, overrides and isolates (the "Trojan Source"
/// set), zero-width space, word joiner and the byte-order mark. Zero-width
/// joiner and non-joiner stay allowed: several scripts need them.
fn is_hidden_formatting(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{2060}' | '\u{FEFF}'
    )
}

fn control_char_message(c: char, index: usize) -> String {
    format!(
        "must not contain control characters (found U+{:04X} at character {})",
        u32::from(c),
        index + 1
    )
}

fn hidden_formatting_message(c: char, index: usize) -> String {
    format!(
        "must not contain invisible direction-changing or zero-width characters (found U+{:04X} at character {})",
        u32::from(c),
        index + 1
    )
}

/// A single character for a message: printable ones quoted, others by code
/// point.
fn describe_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() || is_hidden_formatting(c) {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("'{c}'")
    }
}

/// A caller's non-personal input, quoted and cut short for a message.
fn quoted(raw: &str) -> String {
    const LIMIT: usize = 40;
    let mut shown: String = raw.chars().take(LIMIT).collect();
    if raw.chars().nth(LIMIT).is_some() {
        shown.push('…');
    }
    format!("{shown:?}")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Asserts that `result` is a violation of `field` whose description
    /// contains `reason`.
    #[track_caller]
    fn assert_refused<T: fmt::Debug>(result: Result<T, FieldViolation>, field: &str, reason: &str) {
        match result {
            Ok(value) => panic!("expected {field} to be refused ({reason}), got {value:?}"),
            Err(violation) => {
                assert_eq!(violation.field, field, "{violation}");
                assert!(
                    violation.description.contains(reason),
                    "expected {reason:?} in {:?}",
                    violation.description
                );
            }
        }
    }

    fn from_stored<T: serde::de::DeserializeOwned>(stored: &str) -> Result<T, toml::de::Error> {
        toml::Value::String(stored.to_owned()).try_into()
    }

    fn round_trip<T: Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
        let stored = toml::Value::try_from(value).unwrap();
        stored.try_into().unwrap()
    }

    // Register numbers ------------------------------------------------------

    #[test]
    fn a_register_number_is_built_from_year_and_sequence() {
        let number = RegisterNumber::new(2025, 123).unwrap();
        assert_eq!(number.as_str(), "CMP-2025-000123");
        assert_eq!(number.year(), 2025);
        assert_eq!(number.sequence(), 123);
        assert_eq!(number.to_string(), "CMP-2025-000123");
    }

    #[test]
    fn a_register_number_parses_trimmed_and_with_a_lowercase_prefix() {
        let number = RegisterNumber::parse("  cmp-2031-999999\n").unwrap();
        assert_eq!(number.as_str(), "CMP-2031-999999");
        assert_eq!(number, "CMP-2031-999999".parse().unwrap());
    }

    #[test]
    fn register_numbers_order_by_year_then_sequence() {
        let a = RegisterNumber::new(2025, 999_999).unwrap();
        let b = RegisterNumber::new(2026, 1).unwrap();
        assert!(a < b);
    }

    #[test]
    fn a_register_number_outside_the_ranges_is_refused() {
        assert_refused(
            RegisterNumber::new(1999, 1),
            "register_number",
            "year must be between 2000 and 9999 (got 1999)",
        );
        assert_refused(
            RegisterNumber::new(10_000, 1),
            "register_number",
            "got 10000",
        );
        assert_refused(
            RegisterNumber::new(2025, 0),
            "register_number",
            "sequence must be between 1 and 999999 (got 0)",
        );
        assert_refused(
            RegisterNumber::new(2025, 1_000_000),
            "register_number",
            "got 1000000",
        );
        assert_refused(
            RegisterNumber::parse("CMP-2025-000000"),
            "register_number",
            "sequence must be",
        );
        assert_refused(
            RegisterNumber::parse("CMP-1999-000001"),
            "register_number",
            "year must be",
        );
    }

    #[test]
    fn a_malformed_register_number_is_refused_with_the_expected_shape() {
        for raw in [
            "CMP-2025-123",
            "CMP-2025-0000123",
            "CMX-2025-000123",
            "CMP2025-0000123",
            "CMP-20a5-000123",
            "CMP-2025_000123",
            "CMP-２０２５-000123",
        ] {
            assert_refused(
                RegisterNumber::parse(raw),
                "register_number",
                "must look like CMP-YYYY-NNNNNN",
            );
        }
        assert_refused(
            RegisterNumber::parse("   "),
            "register_number",
            "must not be empty",
        );
    }

    #[test]
    fn a_register_number_round_trips_through_serde_and_refuses_a_bad_stored_value() {
        let number = RegisterNumber::new(2025, 42).unwrap();
        assert_eq!(
            toml::Value::try_from(&number).unwrap().as_str(),
            Some("CMP-2025-000042")
        );
        assert_eq!(round_trip(&number), number);
        let err = from_stored::<RegisterNumber>("CMP-2025-000000").unwrap_err();
        assert!(err.to_string().contains("sequence must be"), "{err}");
    }

    // Email addresses -------------------------------------------------------

    #[test]
    fn an_email_address_is_trimmed_and_its_domain_lowercased() {
        let email = EmailAddress::parse("  Jane.Doe+complaints@Example.CO.UK ").unwrap();
        assert_eq!(email.as_str(), "Jane.Doe+complaints@example.co.uk");
        assert_eq!(email.local_part(), "Jane.Doe+complaints");
        assert_eq!(email.domain(), "example.co.uk");
    }

    #[test]
    fn unusual_but_valid_email_addresses_are_accepted() {
        for raw in [
            "o'brien@example.com",
            "a@b.io",
            "x_y-z!#$%&*/=?^`{|}~@mail-1.example.org",
            "user@xn--bcher-kva.example",
            "a@example.xn--p1ai",
        ] {
            assert!(EmailAddress::parse(raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn bad_email_addresses_are_refused_with_a_specific_reason() {
        let cases = [
            ("", "must not be empty"),
            ("jane.example.com", "must contain an @"),
            ("jane@doe@example.com", "exactly one @ (found 2)"),
            ("@example.com", "must have a name before the @"),
            ("jane@", "must have a domain after the @"),
            (".jane@example.com", "must not start or end with a dot"),
            ("jane.@example.com", "must not start or end with a dot"),
            ("ja..ne@example.com", "two dots in a row"),
            ("ja ne@example.com", "must not contain U+0020"),
            ("jané@example.com", "must not contain 'é'"),
            ("\"jane\"@example.com", "must not contain '\"'"),
            ("jane@localhost", "must contain a dot"),
            ("jane@example..com", "two dots in a row"),
            ("jane@.example.com", "must not start or end with a dot"),
            ("jane@example.com.", "must not start or end with a dot"),
            ("jane@-example.com", "must not start or end with a hyphen"),
            ("jane@example-.com", "must not start or end with a hyphen"),
            (
                "jane@exa_mple.com",
                "only letters, digits, hyphens and dots (found '_')",
            ),
            (
                "jane@[192.168.0.1]",
                "only letters, digits, hyphens and dots (found '[')",
            ),
            ("jane@example.123", "top-level domain of letters"),
            ("jane@example.c", "top-level domain of letters"),
        ];
        for (raw, reason) in cases {
            assert_refused(EmailAddress::parse(raw), "email", reason);
        }
    }

    #[test]
    fn over_long_email_addresses_are_refused_with_the_limit() {
        let local = "a".repeat(65);
        assert_refused(
            EmailAddress::parse(&format!("{local}@example.com")),
            "email",
            "at most 64 characters (got 65)",
        );
        let label = "b".repeat(64);
        assert_refused(
            EmailAddress::parse(&format!("a@{label}.com")),
            "email",
            "at most 63 characters (got 64)",
        );
        let long = format!("a@{}.com", vec!["c".repeat(60); 5].join("."));
        assert_refused(
            EmailAddress::parse(&long),
            "email",
            "at most 254 characters",
        );
    }

    #[test]
    fn an_email_address_is_the_same_address_whatever_the_case_of_its_local_part() {
        let stored = EmailAddress::parse("Jane.Doe@example.com").unwrap();
        assert!(stored.same_address(&EmailAddress::parse("jane.doe@EXAMPLE.com").unwrap()));
        assert!(!stored.same_address(&EmailAddress::parse("jane.do@example.com").unwrap()));
    }

    #[test]
    fn an_email_address_round_trips_through_serde_and_refuses_a_bad_stored_value() {
        let email = EmailAddress::parse("jane@example.com").unwrap();
        assert_eq!(round_trip(&email), email);
        let err = from_stored::<EmailAddress>("not-an-email").unwrap_err();
        assert!(err.to_string().contains("must contain an @"), "{err}");
    }

    // Phone numbers ---------------------------------------------------------

    #[test]
    fn common_uk_phone_formats_are_stored_in_e164() {
        let cases = [
            ("01632 960 001", "+441632960001"),
            ("+44 1632 960001", "+441632960001"),
            ("0044 (0)1632 960001", "+441632960001"),
            ("+44 (0) 1632 960001", "+441632960001"),
            ("(01632) 960001", "+441632960001"),
            ("07700-900123", "+447700900123"),
            ("07700.900.123", "+447700900123"),
            ("0800 123 4567", "+448001234567"),
            ("020 7946 0000", "+442079460000"),
            ("0800 123456", "+44800123456"),
            ("+441632960001", "+441632960001"),
        ];
        for (raw, e164) in cases {
            let phone = UkPhone::parse(raw).unwrap();
            assert_eq!(phone.e164(), e164, "{raw}");
        }
    }

    #[test]
    fn a_phone_number_reads_in_the_usual_uk_groups() {
        let cases = [
            ("+442079460000", "020 7946 0000"),
            ("+441214960000", "0121 496 0000"),
            ("+441134960000", "0113 496 0000"),
            ("+441632960001", "01632 960001"),
            ("+447700900123", "07700 900123"),
            ("+448001234567", "0800 123 4567"),
            ("+443001234567", "0300 123 4567"),
            ("+44800123456", "0800 123456"),
            ("01632 96000", "01632 96000"),
        ];
        for (raw, national) in cases {
            let phone = UkPhone::parse(raw).unwrap();
            assert_eq!(phone.national(), national, "{raw}");
            assert_eq!(UkPhone::parse(&phone.national()).unwrap(), phone);
        }
    }

    #[test]
    fn bad_phone_numbers_are_refused_with_a_specific_reason() {
        let cases = [
            ("", "must not be empty"),
            ("01632 96000I", "found the letter 'I'"),
            ("call me", "found the letter 'c'"),
            ("01632#960001", "found '#'"),
            ("- ( ) -", "must contain the digits"),
            ("01632 96+0001", "may contain + only at the start"),
            ("+33 1 23 45 67 89", "country code must be +44"),
            ("0033 1 23 45 67 89", "country code must be +44"),
            ("+1 202 555 0100", "country code must be +44"),
            ("+44 01632 960001", "leave out the 0"),
            ("1632 960001", "must start with 0, +44 or 0044"),
            ("01632 9600", "too short"),
            ("01632 9600011", "too long"),
            ("+44 1632 9600011", "too long"),
            ("0461 234 5678", "do not start 04"),
            ("0612 345 6789", "do not start 06"),
        ];
        for (raw, reason) in cases {
            assert_refused(UkPhone::parse(raw), "phone", reason);
        }
    }

    #[test]
    fn a_phone_number_round_trips_through_serde_and_refuses_a_bad_stored_value() {
        let phone = UkPhone::parse("07700 900123").unwrap();
        assert_eq!(
            toml::Value::try_from(&phone).unwrap().as_str(),
            Some("+447700900123")
        );
        assert_eq!(round_trip(&phone), phone);
        let err = from_stored::<UkPhone>("+33123456789").unwrap_err();
        assert!(err.to_string().contains("+44"), "{err}");
    }

    // Postcodes -------------------------------------------------------------

    #[test]
    fn postcodes_of_every_shape_are_normalised() {
        let cases = [
            ("m1 1ae", "M1 1AE"),
            ("B33 8TH", "B33 8TH"),
            ("cr26xh", "CR2 6XH"),
            ("DN55  1PT", "DN55 1PT"),
            ("w1a 0ax", "W1A 0AX"),
            (" sw1a1aa ", "SW1A 1AA"),
            ("gir 0aa", "GIR 0AA"),
            ("E C 1 A 1 B B", "EC1A 1BB"),
        ];
        for (raw, normalised) in cases {
            let postcode = UkPostcode::parse(raw).unwrap();
            assert_eq!(postcode.as_str(), normalised, "{raw}");
        }
        let postcode = UkPostcode::parse("SW1A 1AA").unwrap();
        assert_eq!((postcode.outward(), postcode.inward()), ("SW1A", "1AA"));
    }

    #[test]
    fn bad_postcodes_are_refused_with_a_specific_reason() {
        let cases = [
            ("  ", "must not be empty"),
            ("SW1A-1AA", "found '-'"),
            ("SW1", "5 to 7 letters and digits"),
            ("SW1A 1AAA", "5 to 7 letters and digits"),
            ("SW1A 11A", "must end in a digit and two letters"),
            ("SW1A AAA", "must end in a digit and two letters"),
            ("SW1A 1CI", "cannot be C, I, K, M, O or V"),
            ("SW1A 1AV", "cannot be C, I, K, M, O or V"),
            ("1W1 1AA", "the first part must be"),
            ("SWA1 1AA", "the first part must be"),
            ("S1AA 1AA", "the first part must be"),
            ("SW12A 1AA", "5 to 7"),
        ];
        for (raw, reason) in cases {
            assert_refused(UkPostcode::parse(raw), "postcode", reason);
        }
    }

    #[test]
    fn a_postcode_round_trips_through_serde_and_refuses_a_bad_stored_value() {
        let postcode = UkPostcode::parse("sw1a1aa").unwrap();
        assert_eq!(round_trip(&postcode), postcode);
        assert!(from_stored::<UkPostcode>("NOT A POSTCODE").is_err());
    }

    // Names -----------------------------------------------------------------

    #[test]
    fn names_in_any_script_are_accepted_and_trimmed() {
        for raw in [
            "Jane Doe",
            "Seán Ó Briain",
            "Zoë D'Arcy-Smith",
            "李小龙",
            "X",
            "Dr. A. N. Other 3rd",
        ] {
            let name = PersonName::parse(&format!("  {raw}\t")).unwrap();
            assert_eq!(name.as_str(), raw);
        }
    }

    #[test]
    fn bad_names_are_refused_with_a_specific_reason() {
        let long = "a".repeat(201);
        let cases = [
            ("  ", "must not be empty"),
            (long.as_str(), "at most 200 characters (got 201)"),
            ("12345", "at least one letter"),
            (
                "Jane\u{7}Doe",
                "control characters (found U+0007 at character 5)",
            ),
            ("Jane\nDoe", "control characters (found U+000A"),
            ("<script>", "must not contain < or >"),
            ("Jane \u{202E}eoD", "found U+202E at character 6"),
        ];
        for (raw, reason) in cases {
            assert_refused(PersonName::parse(raw), "full_name", reason);
        }
    }

    #[test]
    fn a_name_round_trips_through_serde_and_refuses_a_bad_stored_value() {
        let name = PersonName::parse("Jane Doe").unwrap();
        assert_eq!(round_trip(&name), name);
        assert!(from_stored::<PersonName>("<b>").is_err());
    }

    // Text ------------------------------------------------------------------

    #[test]
    fn single_line_text_is_trimmed_and_kept_as_given() {
        let text =
            Text::single_line("summary", "  Alarm not answered  ", Text::SUMMARY_MAX).unwrap();
        assert_eq!(text.as_str(), "Alarm not answered");
        assert_eq!(text.to_string(), "Alarm not answered");
        assert_eq!(text.into_string(), "Alarm not answered");
    }

    #[test]
    fn bad_single_line_text_is_refused_naming_the_field_and_the_limit() {
        let long = "a".repeat(250);
        assert_refused(
            Text::single_line("summary", &long, 200),
            "summary",
            "must be at most 200 characters (got 250)",
        );
        assert_refused(
            Text::single_line("summary", " \n ", 200),
            "summary",
            "must not be empty",
        );
        assert_refused(
            Text::single_line("summary", "one\ntwo", 200),
            "summary",
            "single line (found a line break at character 4)",
        );
        assert_refused(
            Text::single_line("summary", "one\r\ntwo", 200),
            "summary",
            "single line",
        );
        assert_refused(
            Text::single_line("summary", "one\u{2028}two", 200),
            "summary",
            "single line",
        );
        assert_refused(
            Text::single_line("reference", "a\tb", 100),
            "reference",
            "control characters (found U+0009 at character 2)",
        );
        assert_refused(
            Text::single_line("reference", "ab\u{0}", 100),
            "reference",
            "U+0000",
        );
        assert_refused(
            Text::single_line("summary", "safe\u{2066}evil", 200),
            "summary",
            "found U+2066",
        );
    }

    #[test]
    fn multi_line_text_keeps_line_feeds_and_tabs_and_normalises_crlf() {
        let text = Text::multi_line(
            "details",
            "\r\n First line\r\n\tSecond line\n\nThird\r\n",
            Text::DETAILS_MAX,
        )
        .unwrap();
        assert_eq!(text.as_str(), "First line\n\tSecond line\n\nThird");
    }

    #[test]
    fn bad_multi_line_text_is_refused_naming_the_field() {
        let long = "é".repeat(20_001);
        assert_refused(
            Text::multi_line("details", &long, Text::DETAILS_MAX),
            "details",
            "at most 20000 characters (got 20001)",
        );
        assert_refused(
            Text::multi_line("details", "\n\t\r\n", 100),
            "details",
            "must not be empty",
        );
        assert_refused(
            Text::multi_line("details", "old\rmac", 100),
            "details",
            "carriage return on its own",
        );
        assert_refused(
            Text::multi_line("details", "bell\u{7}", 100),
            "details",
            "U+0007 at character 5",
        );
        assert_refused(
            Text::multi_line("details", "esc\u{1b}[31m", 100),
            "details",
            "U+001B",
        );
        assert_refused(
            Text::multi_line("details", "a\u{85}b", 100),
            "details",
            "U+0085",
        );
        for hidden in [
            '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{200B}', '\u{FEFF}', '\u{2060}',
        ] {
            assert_refused(
                Text::multi_line("note", &format!("x{hidden}y"), 100),
                "note",
                "invisible",
            );
        }
    }

    #[test]
    fn text_limits_count_characters_not_bytes() {
        let accented = "é".repeat(200);
        assert!(Text::single_line("summary", &accented, Text::SUMMARY_MAX).is_ok());
    }

    #[test]
    fn text_round_trips_through_serde_and_refuses_a_bad_stored_value() {
        let text = Text::multi_line("details", "line one\nline two", Text::DETAILS_MAX).unwrap();
        assert_eq!(round_trip(&text), text);
        let err = from_stored::<Text>("sneaky\u{202E}").unwrap_err();
        assert!(err.to_string().contains("U+202E"), "{err}");
        assert!(from_stored::<Text>("   ").is_err());
    }

    // Properties ------------------------------------------------------------

    /// Strings that are often, but not always, valid for the parser: the
    /// interesting inputs are on the boundary.
    fn near_email() -> impl Strategy<Value = String> {
        "[ ]?[A-Za-z0-9.!#'+_-]{0,8}@[A-Za-z0-9.-]{0,10}\\.[A-Za-z0-9]{0,4}[ ]?"
    }

    fn near_phone() -> impl Strategy<Value = String> {
        "(\\+44|0044|0)?[ ]?(\\(0\\))?[ (]?[0-9]{2,5}[) .-]?[0-9]{3,4}[ -]?[0-9]{0,4}"
    }

    fn near_postcode() -> impl Strategy<Value = String> {
        "[ ]?[A-Za-z]{1,2}[0-9][0-9A-Za-z]?[ ]{0,2}[0-9][A-Za-z]{2}[ ]?"
    }

    /// Any text, or text dense in whitespace, control and invisible
    /// characters, so the properties below meet the characters they guard
    /// against (and the trimming that removes some of them).
    // Message-IDs -----------------------------------------------------------

    #[test]
    fn a_message_id_is_kept_without_its_brackets_and_spaces_around() {
        for raw in [
            "abc.123@mail.example.org",
            "<abc.123@mail.example.org>",
            "  <abc.123@mail.example.org>\r\n",
            "< abc.123@mail.example.org >",
        ] {
            let id = MessageId::parse_optional("message_id", raw)
                .unwrap()
                .unwrap();
            assert_eq!(id.as_str(), "abc.123@mail.example.org", "{raw:?}");
            assert_eq!(id.bracketed(), "<abc.123@mail.example.org>");
        }
    }

    #[test]
    fn a_blank_message_id_is_none() {
        for raw in ["", "   ", "<>", " < > "] {
            assert_eq!(
                MessageId::parse_optional("in_reply_to", raw),
                Ok(None),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn a_message_id_that_a_header_could_not_carry_is_refused() {
        for (raw, found) in [
            ("abc def@example.org", "U+0020 at character 4"),
            ("abc\tdef@example.org", "U+0009"),
            ("abc\u{0}@example.org", "U+0000"),
            ("réponse@example.org", "'é' at character 2"),
            ("a<b@example.org", "'<' at character 2"),
            ("<a>b@example.org>", "'>' at character 2"),
        ] {
            assert_refused(
                MessageId::parse_optional("in_reply_to", raw),
                "in_reply_to",
                found,
            );
            assert_eq!(MessageId::usable(raw), None, "{raw:?}");
        }
        let longest = format!("{}@x", "a".repeat(MessageId::MAX_CHARS - 2));
        assert!(MessageId::usable(&longest).is_some());
        assert_refused(
            MessageId::parse_optional("message_id", &format!("a{longest}")),
            "message_id",
            "at most 998 characters (got 999)",
        );
    }

    fn tricky_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zé \t\n\r\u{0}-\u{1f}\u{7f}-\u{9f}\u{85}\u{2028}\u{202A}-\u{202E}\u{2066}-\u{2069}\u{200B}\u{FEFF}]{0,30}",
            "[ \t\n\r\u{0}\u{85}\u{2028}\u{202E}]{0,3}[a-zé .\t\n]{1,20}[ \t\n\r\u{7}\u{85}\u{2029}]{0,3}",
        ]
    }

    proptest! {
        #[test]
        fn a_usable_message_id_reparses_to_itself_and_fits_a_header(raw in tricky_text()) {
            if let Some(id) = MessageId::usable(&raw) {
                prop_assert!(id.as_str().chars().all(|c| c.is_ascii_graphic() && c != '<' && c != '>'));
                prop_assert_eq!(MessageId::usable(&id.bracketed()), Some(id.clone()));
                prop_assert_eq!(MessageId::usable(id.as_str()), Some(id));
            }
        }

        #[test]
        fn a_parsed_email_reparses_to_itself(raw in near_email()) {
            if let Ok(email) = EmailAddress::parse(&raw) {
                prop_assert_eq!(EmailAddress::parse(email.as_str()), Ok(email));
            }
        }

        #[test]
        fn a_parsed_phone_reparses_to_itself(raw in near_phone()) {
            if let Ok(phone) = UkPhone::parse(&raw) {
                prop_assert_eq!(UkPhone::parse(&phone.national()), Ok(phone.clone()));
                prop_assert_eq!(UkPhone::parse(phone.e164()), Ok(phone));
            }
        }

        #[test]
        fn a_parsed_postcode_reparses_to_itself(raw in near_postcode()) {
            if let Ok(postcode) = UkPostcode::parse(&raw) {
                prop_assert_eq!(UkPostcode::parse(postcode.as_str()), Ok(postcode));
            }
        }

        #[test]
        fn a_parsed_name_reparses_to_itself(raw in "\\PC{0,20}|[ \t\n<>a-z\u{202E}]{0,10}") {
            if let Ok(name) = PersonName::parse(&raw) {
                prop_assert_eq!(PersonName::parse(name.as_str()), Ok(name));
            }
        }

        #[test]
        fn a_parsed_register_number_reparses_to_itself(raw in "[ ]?[cC][mM][pP]-[0-9]{4}-[0-9]{6}[ ]?") {
            if let Ok(number) = RegisterNumber::parse(&raw) {
                prop_assert_eq!(RegisterNumber::parse(number.as_str()), Ok(number));
            }
        }

        #[test]
        fn every_valid_register_number_round_trips_through_display(year in 2000..=9999i32, sequence in 1..=999_999u32) {
            let number = RegisterNumber::new(year, sequence).unwrap();
            let parsed: RegisterNumber = number.to_string().parse().unwrap();
            prop_assert_eq!(parsed.year(), year);
            prop_assert_eq!(parsed.sequence(), sequence);
            prop_assert_eq!(parsed, number);
        }

        #[test]
        fn single_line_text_never_holds_a_control_character(raw in tricky_text()) {
            if let Ok(text) = Text::single_line("summary", &raw, 200) {
                prop_assert!(!text.as_str().chars().any(char::is_control));
                prop_assert!(!text.as_str().chars().any(is_hidden_formatting));
                prop_assert_eq!(Text::single_line("summary", text.as_str(), 200), Ok(text));
            }
        }

        #[test]
        fn multi_line_text_holds_no_control_character_but_line_feed_and_tab(raw in tricky_text(), newline in "\r\n|\n|\r|\t") {
            let raw = format!("{raw}{newline}{raw}");
            if let Ok(text) = Text::multi_line("details", &raw, 20_000) {
                prop_assert!(!text.as_str().chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
                prop_assert!(!text.as_str().chars().any(is_hidden_formatting));
                prop_assert_eq!(Text::multi_line("details", text.as_str(), 20_000), Ok(text));
            }
        }
    }
}
