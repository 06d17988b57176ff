//! A complaint as submitted, and its validation (R8-R10).
//!
//! Validation and opening are separate because storage assigns the case id
//! and register number in between: validate first, refuse bad input without
//! touching storage, then allocate and [`super::Case::open`].

use chrono::{DateTime, Utc};

use crate::complainant::{Channel, Complainant, RawComplainant};
use crate::values::Text;
use crate::{DomainError, FieldViolation};

use super::receipt;

/// A complaint as received over the wire, before validation. As in proto3,
/// an empty (or all-whitespace) string means the optional field was not
/// given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawComplaint {
    /// `None` for `CHANNEL_UNSPECIFIED`.
    pub channel: Option<Channel>,
    /// When the complaint reached the provider; `None` means now.
    pub received_at: Option<DateTime<Utc>>,
    /// An absent `complainant` message is an all-empty one.
    pub complainant: RawComplainant,
    pub summary: String,
    pub details: String,
    /// The adviser who took a telephone complaint (R8).
    pub recorded_by: String,
    /// The scan of a letter (R9).
    pub scan_reference: String,
}

/// A complaint that passed validation: every value valid and every channel
/// rule met. Only [`NewComplaint::validate`] makes one, so
/// [`super::Case::open`] need not check again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComplaint {
    channel: Channel,
    complainant: Complainant,
    summary: Text,
    details: Option<Text>,
    received_at: DateTime<Utc>,
    recorded_by: Option<Text>,
    scan_reference: Option<Text>,
}

impl NewComplaint {
    /// Checks a submitted complaint and reports every bad field at once, by
    /// its path in the `SubmitComplaint` request (`summary`,
    /// `complainant.email`, `complainant.postal_address.postcode`, ...).
    ///
    /// - `summary`: required, one line, at most [`Text::SUMMARY_MAX`] characters;
    /// - `details`: optional, several lines, at most [`Text::DETAILS_MAX`];
    /// - `received_at`: as [`receipt::received_at`]: not after `now` plus
    ///   [`receipt::CLOCK_SKEW_ALLOWANCE`], not older than
    ///   [`receipt::MAX_AGE`]; absent means `now`;
    /// - R1: a written route, `complainant.email` or
    ///   `complainant.postal_address`: the acknowledgement is sent in writing
    ///   or by email, never by telephone alone;
    /// - R8 telephone: `recorded_by` (the adviser) is required;
    /// - R9 post: `scan_reference` and `complainant.postal_address` are required;
    /// - R10 email: `complainant.email` is required.
    pub fn validate(raw: RawComplaint, now: DateTime<Utc>) -> Result<NewComplaint, DomainError> {
        let mut violations = Vec::new();

        let channel = raw.channel;
        if channel.is_none() {
            violations.push(FieldViolation::new(
                "channel",
                format!(
                    "must be specified: one of {}",
                    Channel::ALL.map(Channel::as_str).join(", ")
                ),
            ));
        }

        let received_at = keep(
            receipt::received_at("received_at", raw.received_at, now),
            &mut violations,
        );

        let has_email = !raw.complainant.email.trim().is_empty();
        let has_address = raw
            .complainant
            .postal_address
            .as_ref()
            .is_some_and(|address| {
                address.lines.iter().any(|line| !line.trim().is_empty())
                    || !address.town.trim().is_empty()
                    || !address.postcode.trim().is_empty()
            });
        let complainant = match Complainant::parse(raw.complainant) {
            Ok(complainant) => Some(complainant),
            Err(found) => {
                violations.extend(
                    found
                        .into_iter()
                        .map(|violation| violation.nested_in("complainant")),
                );
                None
            }
        };
        if !has_email && !has_address {
            written_route_missing(&mut violations);
        }

        let summary = keep(
            Text::single_line("summary", &raw.summary, Text::SUMMARY_MAX),
            &mut violations,
        );
        let details = optional(&raw.details, &mut violations, |value| {
            Text::multi_line("details", value, Text::DETAILS_MAX)
        });
        let recorded_by = optional(&raw.recorded_by, &mut violations, |value| {
            Text::single_line("recorded_by", value, Text::REFERENCE_MAX)
        });
        let scan_reference = optional(&raw.scan_reference, &mut violations, |value| {
            Text::single_line("scan_reference", value, Text::REFERENCE_MAX)
        });

        match channel {
            Some(Channel::Telephone) if raw.recorded_by.trim().is_empty() => {
                violations.push(FieldViolation::new(
                    "recorded_by",
                    "is required for a telephone complaint: the adviser who took the call",
                ));
            }
            Some(Channel::Post) => {
                if raw.scan_reference.trim().is_empty() {
                    violations.push(FieldViolation::new(
                        "scan_reference",
                        "is required for a complaint by post: the reference of the letter's scan",
                    ));
                }
                // Without any written route, the address is already named.
                if !has_address && has_email {
                    violations.push(FieldViolation::new(
                        "complainant.postal_address",
                        "is required for a complaint by post: the acknowledgement goes by post unless another route is preferred",
                    ));
                }
            }
            Some(Channel::Email) if !has_email && has_address => {
                violations.push(FieldViolation::new(
                    "complainant.email",
                    "is required for a complaint by email: the acknowledgement is sent to it",
                ));
            }
            _ => {}
        }

        match (channel, received_at, complainant, summary) {
            (Some(channel), Some(received_at), Some(complainant), Some(summary))
                if violations.is_empty() =>
            {
                Ok(NewComplaint {
                    channel,
                    complainant,
                    summary,
                    details,
                    received_at,
                    recorded_by,
                    scan_reference,
                })
            }
            _ => Err(DomainError::InvalidArgument(violations)),
        }
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }

    pub fn complainant(&self) -> &Complainant {
        &self.complainant
    }

    pub fn summary(&self) -> &Text {
        &self.summary
    }

    pub fn details(&self) -> Option<&Text> {
        self.details.as_ref()
    }

    pub fn received_at(&self) -> DateTime<Utc> {
        self.received_at
    }

    pub fn recorded_by(&self) -> Option<&Text> {
        self.recorded_by.as_ref()
    }

    pub fn scan_reference(&self) -> Option<&Text> {
        self.scan_reference.as_ref()
    }

    pub(super) fn into_parts(self) -> NewComplaintParts {
        NewComplaintParts {
            channel: self.channel,
            complainant: self.complainant,
            summary: self.summary,
            details: self.details,
            received_at: self.received_at,
            recorded_by: self.recorded_by,
            scan_reference: self.scan_reference,
        }
    }
}

/// The fields of a [`NewComplaint`], moved out for opening a case.
pub(super) struct NewComplaintParts {
    pub channel: Channel,
    pub complainant: Complainant,
    pub summary: Text,
    pub details: Option<Text>,
    pub received_at: DateTime<Utc>,
    pub recorded_by: Option<Text>,
    pub scan_reference: Option<Text>,
}

/// R1: the acknowledgement goes in writing or by email, so a complaint
/// needs an email or a postal address. Named on both fields, except one the
/// complainant's own checks already named (a complainant with no route at
/// all is refused on every route field).
fn written_route_missing(violations: &mut Vec<FieldViolation>) {
    for field in ["complainant.email", "complainant.postal_address"] {
        if violations.iter().any(|violation| violation.field == field) {
            continue;
        }
        violations.push(FieldViolation::new(
            field,
            "a complaint needs a written route, an email or a postal address: \
             the acknowledgement is sent in writing or by email, not by telephone (R1)",
        ));
    }
}

/// The value, or `None` with its violation recorded.
pub(super) fn keep<T>(
    result: Result<T, FieldViolation>,
    violations: &mut Vec<FieldViolation>,
) -> Option<T> {
    result.map_err(|violation| violations.push(violation)).ok()
}

/// An optional field: `None` when empty, else the parsed value or `None` with
/// its violation recorded.
pub(super) fn optional<T>(
    raw: &str,
    violations: &mut Vec<FieldViolation>,
    parse: impl FnOnce(&str) -> Result<T, FieldViolation>,
) -> Option<T> {
    if raw.trim().is_empty() {
        None
    } else {
        keep(parse(raw), violations)
    }
}
