//! The person who complained, how the complaint reached us, and how to reach
//! them back.
//!
//! A [`Complainant`] always has a way to be reached and a preferred route
//! that exists (R1, R9, R10 need somewhere to send the acknowledgement),
//! except the placeholder left after erasure ([`Complainant::anonymised`]).
//! Adapters fill a [`RawComplainant`] from the wire and call
//! [`Complainant::parse`], which reports every bad field at once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::values::{EmailAddress, PersonName, Text, UkPhone, UkPostcode};
use crate::{DomainError, FieldViolation};

// ---------------------------------------------------------------------------
// Channel and contact method

/// How a complaint reached the provider (R8-R10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Logged by a call-centre adviser, whose identity is recorded (R8).
    Telephone,
    /// A letter, scanned; the scan's reference is recorded (R9).
    Post,
    /// An inbound email, acknowledged automatically (R10).
    Email,
    /// A web form or another system's API.
    Web,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Telephone,
        Channel::Post,
        Channel::Email,
        Channel::Web,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Telephone => "telephone",
            Channel::Post => "post",
            Channel::Email => "email",
            Channel::Web => "web",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = FieldViolation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|channel| channel.as_str() == s)
            .ok_or_else(|| {
                FieldViolation::new(
                    "channel",
                    format!(
                        "unknown channel {s:?}; expected one of {}",
                        Channel::ALL.map(Channel::as_str).join(", ")
                    ),
                )
            })
    }
}

/// The route the complainant prefers to be answered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactMethod {
    Email,
    Post,
    Phone,
}

impl ContactMethod {
    pub const ALL: [ContactMethod; 3] = [
        ContactMethod::Email,
        ContactMethod::Post,
        ContactMethod::Phone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContactMethod::Email => "email",
            ContactMethod::Post => "post",
            ContactMethod::Phone => "phone",
        }
    }

    /// The complainant field this method needs, as named in the contract.
    fn route_field(self) -> &'static str {
        match self {
            ContactMethod::Email => "email",
            ContactMethod::Post => "postal_address",
            ContactMethod::Phone => "phone",
        }
    }
}

impl fmt::Display for ContactMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContactMethod {
    type Err = FieldViolation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContactMethod::ALL
            .into_iter()
            .find(|method| method.as_str() == s)
            .ok_or_else(|| {
                FieldViolation::new(
                    "preferred_contact",
                    format!(
                        "unknown contact method {s:?}; expected one of {}",
                        ContactMethod::ALL.map(ContactMethod::as_str).join(", ")
                    ),
                )
            })
    }
}

// ---------------------------------------------------------------------------
// Raw input, as an adapter fills it

/// A postal address as received, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawPostalAddress {
    pub lines: Vec<String>,
    pub town: String,
    pub postcode: String,
}

impl RawPostalAddress {
    /// Nothing filled in: a proto message present with every field empty
    /// counts as no address at all.
    fn is_blank(&self) -> bool {
        self.lines.iter().all(|line| line.trim().is_empty())
            && self.town.trim().is_empty()
            && self.postcode.trim().is_empty()
    }
}

/// A complainant as received, before validation. As in proto3, an empty (or
/// all-whitespace) string means the optional field was not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawComplainant {
    pub full_name: String,
    pub email: String,
    pub phone: String,
    pub postal_address: Option<RawPostalAddress>,
    pub preferred_contact: Option<ContactMethod>,
    pub customer_ref: String,
}

// ---------------------------------------------------------------------------
// Postal address

/// A UK postal address: one to four lines, a town and a postcode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawPostalAddress", into = "RawPostalAddress")]
pub struct PostalAddress {
    lines: Vec<Text>,
    town: Text,
    postcode: UkPostcode,
}

impl PostalAddress {
    pub const MAX_LINES: usize = 4;
    pub const LINE_MAX: usize = 100;
    pub const TOWN_MAX: usize = 100;

    /// Validates every part and reports every bad one, with paths relative to
    /// the address (`lines[1]`, `town`, `postcode`). Blank lines are dropped
    /// (forms often send four boxes); a line's index in a violation is its
    /// index as sent.
    pub fn parse(raw: RawPostalAddress) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        let mut lines = Vec::new();
        let mut given = 0;
        for (index, line) in raw.lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            given += 1;
            let field = format!("lines[{index}]");
            if let Some(line) = keep(
                Text::single_line(&field, line, Self::LINE_MAX),
                &mut violations,
            ) {
                lines.push(line);
            }
        }
        if given == 0 {
            violations.push(FieldViolation::new(
                "lines",
                "must have at least one line, e.g. the house number and street",
            ));
        } else if given > Self::MAX_LINES {
            violations.push(FieldViolation::new(
                "lines",
                format!(
                    "must have at most {} lines (got {given}); the town and postcode have their own fields",
                    Self::MAX_LINES
                ),
            ));
        }
        let town = keep(
            Text::single_line("town", &raw.town, Self::TOWN_MAX),
            &mut violations,
        );
        let postcode = keep(UkPostcode::parse(&raw.postcode), &mut violations);
        match (town, postcode) {
            (Some(town), Some(postcode)) if violations.is_empty() => Ok(Self {
                lines,
                town,
                postcode,
            }),
            _ => Err(violations),
        }
    }

    pub fn lines(&self) -> &[Text] {
        &self.lines
    }

    pub fn town(&self) -> &Text {
        &self.town
    }

    pub fn postcode(&self) -> &UkPostcode {
        &self.postcode
    }

    /// The address as plain strings, e.g. for the wire.
    pub fn to_raw(&self) -> RawPostalAddress {
        RawPostalAddress {
            lines: self
                .lines
                .iter()
                .map(|line| line.as_str().to_owned())
                .collect(),
            town: self.town.as_str().to_owned(),
            postcode: self.postcode.as_str().to_owned(),
        }
    }
}

impl TryFrom<RawPostalAddress> for PostalAddress {
    type Error = DomainError;

    fn try_from(raw: RawPostalAddress) -> Result<Self, Self::Error> {
        PostalAddress::parse(raw).map_err(DomainError::from)
    }
}

impl From<PostalAddress> for RawPostalAddress {
    fn from(address: PostalAddress) -> Self {
        address.to_raw()
    }
}

// ---------------------------------------------------------------------------
// Complainant

/// The person who complained and how to reach them.
///
/// Invariants: at least one of email, phone and postal address is present,
/// and the preferred contact method's route is one of them. The only
/// exception is the erased placeholder, which has no route at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Complainant {
    full_name: PersonName,
    email: Option<EmailAddress>,
    phone: Option<UkPhone>,
    postal_address: Option<PostalAddress>,
    preferred_contact: ContactMethod,
    customer_ref: Option<Text>,
    erased: bool,
}

impl Complainant {
    /// The name the erased placeholder carries.
    pub const ERASED_NAME: &'static str = "Erased complainant";

    /// Validates a complainant as received and reports every bad field at
    /// once, with paths relative to the complainant (`email`,
    /// `postal_address.postcode`, `postal_address.lines[1]`).
    ///
    /// Without a `preferred_contact` the method is email if an email was
    /// given, else post if an address was, else phone. A route that was given
    /// but is invalid counts as given for these rules, so the caller hears
    /// about the bad value only, not also about a missing route.
    pub fn parse(raw: RawComplainant) -> Result<Complainant, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        let full_name = keep(PersonName::parse(&raw.full_name), &mut violations);
        let email = optional(&raw.email, EmailAddress::parse, &mut violations);
        let phone = optional(&raw.phone, UkPhone::parse, &mut violations);
        let raw_address = raw.postal_address.filter(|address| !address.is_blank());
        let routes = Routes {
            email: present(&raw.email),
            phone: present(&raw.phone),
            postal_address: raw_address.is_some(),
        };
        let postal_address = raw_address.and_then(|address| {
            PostalAddress::parse(address)
                .map_err(|nested| {
                    violations.extend(
                        nested
                            .into_iter()
                            .map(|violation| violation.nested_in("postal_address")),
                    );
                })
                .ok()
        });
        let preferred_contact = keep_all(
            routes.resolve_preferred(raw.preferred_contact),
            &mut violations,
        );
        let customer_ref = optional(
            &raw.customer_ref,
            |value| Text::single_line("customer_ref", value, Text::REFERENCE_MAX),
            &mut violations,
        );
        match (full_name, preferred_contact) {
            (Some(full_name), Some(preferred_contact)) if violations.is_empty() => Ok(Self {
                full_name,
                email,
                phone,
                postal_address,
                preferred_contact,
                customer_ref,
                erased: false,
            }),
            _ => Err(violations),
        }
    }

    /// The placeholder that replaces a complainant whose personal data has
    /// been erased (spec section 6): the case and its statistics stay, the
    /// person does not. It holds no contact route, so nothing can be sent to
    /// it. `preferred_contact` is `Post` only because the field must hold
    /// something; senders must check [`Complainant::is_erased`] (or find no
    /// address) and send nothing.
    pub fn anonymised() -> Self {
        Self {
            full_name: PersonName::trusted(Self::ERASED_NAME),
            email: None,
            phone: None,
            postal_address: None,
            preferred_contact: ContactMethod::Post,
            customer_ref: None,
            erased: true,
        }
    }

    pub fn full_name(&self) -> &PersonName {
        &self.full_name
    }

    pub fn email(&self) -> Option<&EmailAddress> {
        self.email.as_ref()
    }

    pub fn phone(&self) -> Option<&UkPhone> {
        self.phone.as_ref()
    }

    pub fn postal_address(&self) -> Option<&PostalAddress> {
        self.postal_address.as_ref()
    }

    pub fn preferred_contact(&self) -> ContactMethod {
        self.preferred_contact
    }

    pub fn customer_ref(&self) -> Option<&Text> {
        self.customer_ref.as_ref()
    }

    /// Whether this is the placeholder left after erasure.
    pub fn is_erased(&self) -> bool {
        self.erased
    }

    /// The complainant as plain strings, e.g. for the wire. Absent fields
    /// become empty strings. For a non-erased complainant,
    /// `Complainant::parse(c.to_raw()) == Ok(c)`.
    pub fn to_raw(&self) -> RawComplainant {
        let text = |value: Option<&str>| value.map(str::to_owned).unwrap_or_default();
        RawComplainant {
            full_name: self.full_name.as_str().to_owned(),
            email: text(self.email.as_ref().map(EmailAddress::as_str)),
            phone: text(self.phone.as_ref().map(UkPhone::e164)),
            postal_address: self.postal_address.as_ref().map(PostalAddress::to_raw),
            preferred_contact: Some(self.preferred_contact),
            customer_ref: text(self.customer_ref.as_ref().map(Text::as_str)),
        }
    }

    /// Rebuilds a stored complainant, checking the same rules as
    /// [`Complainant::parse`].
    fn from_record(record: ComplainantRecord) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        // A stored `Text` is only checked for its type's invariants; the
        // reference's own limit and single-line rule are checked here.
        let customer_ref = match record.customer_ref {
            None => None,
            Some(reference) => keep(
                Text::single_line("customer_ref", reference.as_str(), Text::REFERENCE_MAX),
                &mut violations,
            ),
        };
        let routes = Routes {
            email: record.email.is_some(),
            phone: record.phone.is_some(),
            postal_address: record.postal_address.is_some(),
        };
        if record.erased {
            if routes.any() || customer_ref.is_some() {
                violations.push(FieldViolation::new(
                    "erased",
                    "an erased complainant must hold no email, phone, postal_address or customer_ref",
                ));
            }
        } else {
            keep_all(
                routes.resolve_preferred(Some(record.preferred_contact)),
                &mut violations,
            );
        }
        if !violations.is_empty() {
            return Err(violations);
        }
        Ok(Self {
            full_name: record.full_name,
            email: record.email,
            phone: record.phone,
            postal_address: record.postal_address,
            preferred_contact: record.preferred_contact,
            customer_ref,
            erased: record.erased,
        })
    }
}

/// The stored form of a [`Complainant`]. Deserialising goes through
/// [`Complainant::from_record`], so stored data that breaks a rule is
/// refused.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComplainantRecord {
    full_name: PersonName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phone: Option<UkPhone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    postal_address: Option<PostalAddress>,
    preferred_contact: ContactMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    customer_ref: Option<Text>,
    #[serde(default, skip_serializing_if = "is_false")]
    erased: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Serialize for Complainant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let complainant = self.clone();
        ComplainantRecord {
            full_name: complainant.full_name,
            email: complainant.email,
            phone: complainant.phone,
            postal_address: complainant.postal_address,
            preferred_contact: complainant.preferred_contact,
            customer_ref: complainant.customer_ref,
            erased: complainant.erased,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Complainant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let record = ComplainantRecord::deserialize(deserializer)?;
        Complainant::from_record(record)
            .map_err(|violations| serde::de::Error::custom(DomainError::from(violations)))
    }
}

// ---------------------------------------------------------------------------
// Rules and helpers

/// Which contact routes were given.
#[derive(Debug, Clone, Copy)]
struct Routes {
    email: bool,
    phone: bool,
    postal_address: bool,
}

impl Routes {
    fn any(self) -> bool {
        self.email || self.phone || self.postal_address
    }

    fn has(self, method: ContactMethod) -> bool {
        match method {
            ContactMethod::Email => self.email,
            ContactMethod::Post => self.postal_address,
            ContactMethod::Phone => self.phone,
        }
    }

    /// The contact method to use: the preferred one if its route was given,
    /// else the default order email, post, phone. With no route at all, each
    /// route field is reported, so a form can mark all three.
    fn resolve_preferred(
        self,
        preferred: Option<ContactMethod>,
    ) -> Result<ContactMethod, Vec<FieldViolation>> {
        if !self.any() {
            return Err(["email", "phone", "postal_address"]
                .into_iter()
                .map(|field| {
                    FieldViolation::new(
                        field,
                        "at least one of email, phone or postal_address is needed to reach the complainant",
                    )
                })
                .collect());
        }
        match preferred {
            Some(method) if self.has(method) => Ok(method),
            Some(method) => Err(vec![FieldViolation::new(
                "preferred_contact",
                format!(
                    "is {method} but no {} was given; give one or choose a method whose details were given",
                    method.route_field()
                ),
            )]),
            None => Ok([
                ContactMethod::Email,
                ContactMethod::Post,
                ContactMethod::Phone,
            ]
            .into_iter()
            .find(|&method| self.has(method))
            .unwrap_or(ContactMethod::Phone)),
        }
    }
}

/// Whether an optional string field was given (proto3: empty means absent).
fn present(raw: &str) -> bool {
    !raw.trim().is_empty()
}

/// The value, or `None` with its violation recorded.
fn keep<T>(result: Result<T, FieldViolation>, violations: &mut Vec<FieldViolation>) -> Option<T> {
    result.map_err(|violation| violations.push(violation)).ok()
}

/// The value, or `None` with all its violations recorded.
fn keep_all<T>(
    result: Result<T, Vec<FieldViolation>>,
    violations: &mut Vec<FieldViolation>,
) -> Option<T> {
    result.map_err(|found| violations.extend(found)).ok()
}

/// Parses an optional field: absent when empty, else the parsed value or
/// `None` with its violation recorded.
fn optional<T>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, FieldViolation>,
    violations: &mut Vec<FieldViolation>,
) -> Option<T> {
    if present(raw) {
        keep(parse(raw), violations)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(lines: &[&str], town: &str, postcode: &str) -> RawPostalAddress {
        RawPostalAddress {
            lines: lines.iter().map(|line| (*line).to_owned()).collect(),
            town: town.to_owned(),
            postcode: postcode.to_owned(),
        }
    }

    fn jane() -> RawComplainant {
        RawComplainant {
            full_name: "Jane Doe".into(),
            email: "jane@example.com".into(),
            phone: "07700 900123".into(),
            postal_address: Some(address(&["1 High Street"], "Leeds", "ls1 4ap")),
            preferred_contact: None,
            customer_ref: "CUST-001".into(),
        }
    }

    fn fields(violations: &[FieldViolation]) -> Vec<&str> {
        violations.iter().map(|v| v.field.as_str()).collect()
    }

    fn round_trip<T: Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
        toml::Value::try_from(value).unwrap().try_into().unwrap()
    }

    // Channel and contact method --------------------------------------------

    #[test]
    fn every_channel_and_contact_method_round_trips_through_its_name() {
        for channel in Channel::ALL {
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(channel));
            assert_eq!(
                toml::Value::try_from(channel).unwrap().as_str(),
                Some(channel.as_str())
            );
        }
        for method in ContactMethod::ALL {
            assert_eq!(method.as_str().parse::<ContactMethod>(), Ok(method));
            assert_eq!(
                toml::Value::try_from(method).unwrap().as_str(),
                Some(method.as_str())
            );
        }
        assert_eq!(Channel::Telephone.to_string(), "telephone");
        assert_eq!(ContactMethod::Phone.to_string(), "phone");
    }

    #[test]
    fn an_unknown_channel_or_contact_method_is_refused_with_the_choices() {
        let err = "fax".parse::<Channel>().unwrap_err();
        assert_eq!(err.field, "channel");
        assert!(
            err.description.contains("telephone, post, email, web"),
            "{err}"
        );
        let err = "pigeon".parse::<ContactMethod>().unwrap_err();
        assert_eq!(err.field, "preferred_contact");
        assert!(err.description.contains("email, post, phone"), "{err}");
    }

    // Parsing a complainant -------------------------------------------------

    #[test]
    fn a_complete_complainant_is_parsed_and_normalised() {
        let complainant = Complainant::parse(jane()).unwrap();
        assert_eq!(complainant.full_name().as_str(), "Jane Doe");
        assert_eq!(complainant.email().unwrap().as_str(), "jane@example.com");
        assert_eq!(complainant.phone().unwrap().e164(), "+447700900123");
        let address = complainant.postal_address().unwrap();
        assert_eq!(address.lines()[0].as_str(), "1 High Street");
        assert_eq!(address.town().as_str(), "Leeds");
        assert_eq!(address.postcode().as_str(), "LS1 4AP");
        assert_eq!(complainant.customer_ref().unwrap().as_str(), "CUST-001");
        assert!(!complainant.is_erased());
    }

    #[test]
    fn the_preferred_contact_defaults_to_email_then_post_then_phone() {
        assert_eq!(
            Complainant::parse(jane()).unwrap().preferred_contact(),
            ContactMethod::Email
        );

        let no_email = RawComplainant {
            email: String::new(),
            ..jane()
        };
        assert_eq!(
            Complainant::parse(no_email).unwrap().preferred_contact(),
            ContactMethod::Post
        );

        let phone_only = RawComplainant {
            email: String::new(),
            postal_address: None,
            ..jane()
        };
        assert_eq!(
            Complainant::parse(phone_only).unwrap().preferred_contact(),
            ContactMethod::Phone
        );
    }

    #[test]
    fn a_given_preferred_contact_is_kept_when_its_route_is_present() {
        for method in ContactMethod::ALL {
            let raw = RawComplainant {
                preferred_contact: Some(method),
                ..jane()
            };
            assert_eq!(Complainant::parse(raw).unwrap().preferred_contact(), method);
        }
    }

    #[test]
    fn empty_and_blank_optional_fields_count_as_absent() {
        let raw = RawComplainant {
            email: "  ".into(),
            phone: String::new(),
            customer_ref: " ".into(),
            postal_address: Some(address(&["1 High Street", "", "  "], "Leeds", "LS1 4AP")),
            ..jane()
        };
        let complainant = Complainant::parse(raw).unwrap();
        assert_eq!(complainant.email(), None);
        assert_eq!(complainant.phone(), None);
        assert_eq!(complainant.customer_ref(), None);
        assert_eq!(complainant.postal_address().unwrap().lines().len(), 1);

        let blank_address = RawComplainant {
            postal_address: Some(RawPostalAddress::default()),
            ..jane()
        };
        assert_eq!(
            Complainant::parse(blank_address).unwrap().postal_address(),
            None
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once_with_its_path() {
        let raw = RawComplainant {
            full_name: "12345".into(),
            email: "jane@".into(),
            phone: "+33 1 23 45 67 89".into(),
            postal_address: Some(address(
                &["1 High Street", "Flat\n2", "", &"x".repeat(101)],
                "",
                "LS1 4CI",
            )),
            preferred_contact: None,
            customer_ref: "r".repeat(101),
        };
        let violations = Complainant::parse(raw).unwrap_err();
        assert_eq!(
            fields(&violations),
            [
                "full_name",
                "email",
                "phone",
                "postal_address.lines[1]",
                "postal_address.lines[3]",
                "postal_address.town",
                "postal_address.postcode",
                "customer_ref",
            ]
        );
        assert!(violations[3].description.contains("single line"));
        assert!(
            violations[4]
                .description
                .contains("at most 100 characters (got 101)")
        );
        assert!(violations[5].description.contains("must not be empty"));
        assert!(
            violations[7]
                .description
                .contains("at most 100 characters (got 101)")
        );
    }

    #[test]
    fn a_complainant_with_no_route_is_refused_on_every_route_field() {
        let raw = RawComplainant {
            full_name: "Jane Doe".into(),
            preferred_contact: Some(ContactMethod::Email),
            ..RawComplainant::default()
        };
        let violations = Complainant::parse(raw).unwrap_err();
        assert_eq!(fields(&violations), ["email", "phone", "postal_address"]);
        assert!(violations.iter().all(|v| {
            v.description
                .contains("at least one of email, phone or postal_address")
        }));
    }

    #[test]
    fn a_preferred_contact_without_its_route_is_refused() {
        let cases = [
            (
                ContactMethod::Email,
                RawComplainant {
                    email: String::new(),
                    ..jane()
                },
                "is email but no email was given",
            ),
            (
                ContactMethod::Post,
                RawComplainant {
                    postal_address: None,
                    ..jane()
                },
                "is post but no postal_address was given",
            ),
            (
                ContactMethod::Phone,
                RawComplainant {
                    phone: String::new(),
                    ..jane()
                },
                "is phone but no phone was given",
            ),
        ];
        for (method, raw, reason) in cases {
            let raw = RawComplainant {
                preferred_contact: Some(method),
                ..raw
            };
            let violations = Complainant::parse(raw).unwrap_err();
            assert_eq!(fields(&violations), ["preferred_contact"]);
            assert!(
                violations[0].description.contains(reason),
                "{}",
                violations[0]
            );
        }
    }

    #[test]
    fn an_invalid_preferred_route_is_reported_once_as_invalid_not_as_missing() {
        let raw = RawComplainant {
            email: "not-an-email".into(),
            preferred_contact: Some(ContactMethod::Email),
            ..jane()
        };
        let violations = Complainant::parse(raw).unwrap_err();
        assert_eq!(fields(&violations), ["email"]);
    }

    #[test]
    fn a_complainant_survives_to_raw_and_back() {
        let complainant = Complainant::parse(jane()).unwrap();
        assert_eq!(Complainant::parse(complainant.to_raw()), Ok(complainant));
    }

    // Postal addresses ------------------------------------------------------

    #[test]
    fn an_address_needs_one_to_four_lines() {
        let none = PostalAddress::parse(address(&["", " "], "Leeds", "LS1 4AP")).unwrap_err();
        assert_eq!(fields(&none), ["lines"]);
        assert!(none[0].description.contains("at least one line"));

        let five = PostalAddress::parse(address(&["a", "b", "c", "d", "e"], "Leeds", "LS1 4AP"))
            .unwrap_err();
        assert_eq!(fields(&five), ["lines"]);
        assert!(five[0].description.contains("at most 4 lines (got 5)"));

        let four =
            PostalAddress::parse(address(&["a", "b", "c", "d"], "Leeds", "LS1 4AP")).unwrap();
        assert_eq!(four.lines().len(), 4);
    }

    #[test]
    fn an_address_round_trips_through_serde_and_refuses_a_bad_stored_value() {
        let address = PostalAddress::parse(address(
            &["1 High Street", "Headingley"],
            "Leeds",
            "ls6 3aa",
        ))
        .unwrap();
        assert_eq!(round_trip(&address), address);

        let stored = "lines = ['a', 'b', 'c', 'd', 'e']\ntown = 'Leeds'\npostcode = 'LS1 4AP'";
        let err = toml::from_str::<PostalAddress>(stored).unwrap_err();
        assert!(err.to_string().contains("at most 4 lines"), "{err}");

        let stored = "lines = [\"a\\nb\"]\ntown = 'Leeds'\npostcode = 'LS1 4AP'";
        let err = toml::from_str::<PostalAddress>(stored).unwrap_err();
        assert!(err.to_string().contains("lines[0]"), "{err}");
    }

    // Erasure and storage ---------------------------------------------------

    #[test]
    fn the_anonymised_complainant_holds_nothing_personal() {
        let erased = Complainant::anonymised();
        assert!(erased.is_erased());
        assert_eq!(
            erased.full_name(),
            &PersonName::parse(Complainant::ERASED_NAME).unwrap()
        );
        assert_eq!(
            (erased.email(), erased.phone(), erased.postal_address()),
            (None, None, None)
        );
        assert_eq!(erased.customer_ref(), None);
        assert_eq!(erased.preferred_contact(), ContactMethod::Post);
        assert_eq!(round_trip(&erased), erased);
    }

    #[test]
    fn a_complainant_round_trips_through_serde() {
        let complainant = Complainant::parse(jane()).unwrap();
        assert_eq!(round_trip(&complainant), complainant);
        let phone_only = Complainant::parse(RawComplainant {
            email: String::new(),
            postal_address: None,
            customer_ref: String::new(),
            ..jane()
        })
        .unwrap();
        assert_eq!(round_trip(&phone_only), phone_only);
    }

    #[test]
    fn a_stored_complainant_that_breaks_a_rule_is_refused() {
        let cases = [
            (
                "full_name = 'Jane'\npreferred_contact = 'email'",
                "at least one of email",
            ),
            (
                "full_name = 'Jane'\nphone = '07700900123'\npreferred_contact = 'email'",
                "no email was given",
            ),
            (
                "full_name = 'Jane'\nemail = 'jane@'\npreferred_contact = 'email'",
                "must have a domain",
            ),
            (
                "full_name = 'Jane'\nemail = 'j@example.com'\npreferred_contact = 'email'\ncustomer_ref = \"a\\nb\"",
                "customer_ref",
            ),
            (
                "full_name = 'Jane'\nemail = 'j@example.com'\npreferred_contact = 'post'\nerased = true",
                "erased complainant must hold no",
            ),
        ];
        for (stored, reason) in cases {
            let err = toml::from_str::<Complainant>(stored).unwrap_err();
            assert!(err.to_string().contains(reason), "{stored}: {err}");
        }
    }
}
