//! What the tests share: a renderer, contexts, and parsing helpers.

use chrono::{NaiveDate, TimeZone, Utc};
use complaints_domain::case::NotifyKind;
use complaints_domain::values::{EmailAddress, RegisterNumber};
use complaints_notify::{
    CompanyDetails, Email, EmailSettings, MessageContext, NotificationId, Rendered, Renderer,
    TemplateSource, build_email,
};

pub const REFERENCE: &str = "CMP-2026-000123";

pub fn register_number() -> RegisterNumber {
    RegisterNumber::parse(REFERENCE).unwrap()
}

pub fn renderer() -> Renderer {
    Renderer::new(TemplateSource::Bundled, CompanyDetails::example()).unwrap()
}

pub fn sample() -> MessageContext {
    MessageContext::sample(register_number())
}

pub fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

pub fn acknowledgement() -> Rendered {
    renderer()
        .render(NotifyKind::Acknowledgement, &sample())
        .unwrap()
}

pub fn settings() -> EmailSettings {
    EmailSettings::new("Example Telecare Complaints <complaints@example.org>", None).unwrap()
}

/// The acknowledgement as an email to `to`, notification `id`.
pub fn email_to(id: &str, to: &str) -> Email {
    build_email(
        &settings(),
        &NotificationId::parse(id).unwrap(),
        "Margaret Smith",
        &EmailAddress::parse(to).unwrap(),
        &acknowledgement(),
        Utc.with_ymd_and_hms(2026, 11, 16, 9, 30, 0).unwrap(),
    )
    .unwrap()
}

/// An RFC 5322 message parsed back, or the test fails.
pub fn parse_email(raw: &[u8]) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a parseable RFC 5322 message")
}
