//! Words a person reads for every enum of the contracts, and for dates.
//!
//! The client commands print through this module only, so no raw enum name
//! (`CASE_STATUS_OPEN`, `STAGE_2`) reaches a terminal. Each enum has one
//! function from its value to words, matched exhaustively: a value added to a
//! contract does not compile here until it has words. A number the client
//! does not know (a newer server) reads as "unknown stage (9)".
//!
//! Dates are shown in the policy's time zone (`COMPLAINTS_TIME_ZONE`,
//! `Europe/London` by default; docs/policy.md, Working days), as
//! "Thu 3 Dec 2026".

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use complaints_proto::complaints::case::v1::{
    self as case_pb, AcknowledgementMethod, CaseStatus, CorrespondenceDirection, Finding,
};
use complaints_proto::complaints::common::v1::{Channel, ContactMethod, DeadlineKind, Role, Stage};
use complaints_proto::complaints::escalation::v1::{Deadline, DeadlineState};
use complaints_proto::complaints::notification::v1::{
    NotificationChannel, NotificationKind, NotificationState,
};
use complaints_proto::google::r#type::Date;

/// The words for `value`, or "unknown <what> (<value>)" for a number this
/// client does not know.
fn words<E: TryFrom<i32>>(value: i32, what: &str, name: fn(E) -> &'static str) -> String {
    E::try_from(value).map_or_else(
        |_| format!("unknown {what} ({value})"),
        |e| name(e).to_owned(),
    )
}

pub fn stage_words(stage: Stage) -> &'static str {
    match stage {
        Stage::Unspecified => "no stage",
        Stage::Stage1 => "Stage 1 (investigation)",
        Stage::Stage2 => "Stage 2 (review)",
        Stage::Stage3 => "Stage 3 (director)",
        Stage::External => "External (TSA)",
    }
}

pub fn stage(value: i32) -> String {
    words(value, "stage", stage_words)
}

pub fn status_words(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::Unspecified => "no status",
        CaseStatus::Open => "open",
        CaseStatus::Responded => "responded",
        CaseStatus::Closed => "closed",
    }
}

pub fn status(value: i32) -> String {
    words(value, "status", status_words)
}

pub fn channel_words(channel: Channel) -> &'static str {
    match channel {
        Channel::Unspecified => "no channel",
        Channel::Telephone => "telephone",
        Channel::Post => "post",
        Channel::Email => "email",
        Channel::Web => "web form",
    }
}

pub fn channel(value: i32) -> String {
    words(value, "channel", channel_words)
}

pub fn contact_method_words(method: ContactMethod) -> &'static str {
    match method {
        ContactMethod::Unspecified => "no preference",
        ContactMethod::Email => "email",
        ContactMethod::Post => "post",
        ContactMethod::Phone => "telephone",
    }
}

pub fn contact_method(value: i32) -> String {
    words(value, "contact method", contact_method_words)
}

/// Who holds a role, as a person says it: "the Customer Experience Manager".
pub fn role_words(role: Role) -> &'static str {
    match role {
        Role::Unspecified => "nobody",
        Role::Adviser => "a customer adviser",
        Role::ComplaintsHandler => "the complaints department",
        Role::CxManager => "the Customer Experience Manager",
        Role::OpsLead => "the Customer Service Operations Lead",
        Role::Director => "a director",
        Role::Integration => "an integration",
        Role::Service => "the platform",
    }
}

pub fn role(value: i32) -> String {
    words(value, "role", role_words)
}

pub fn finding_words(finding: Finding) -> &'static str {
    match finding {
        Finding::Unspecified => "no finding",
        Finding::Upheld => "upheld",
        Finding::PartlyUpheld => "partly upheld",
        Finding::NotUpheld => "not upheld",
    }
}

pub fn finding(value: i32) -> String {
    words(value, "finding", finding_words)
}

pub fn acknowledgement_method_words(method: AcknowledgementMethod) -> &'static str {
    match method {
        AcknowledgementMethod::Unspecified => "by an unstated route",
        AcknowledgementMethod::Telephone => "by telephone",
        AcknowledgementMethod::Letter => "by letter",
        AcknowledgementMethod::Email => "by email",
        AcknowledgementMethod::InPerson => "in person",
    }
}

pub fn acknowledgement_method(value: i32) -> String {
    words(
        value,
        "acknowledgement method",
        acknowledgement_method_words,
    )
}

/// What must be done by a deadline, so that "<words> by <date>" reads.
pub fn correspondence_direction_words(direction: CorrespondenceDirection) -> &'static str {
    match direction {
        CorrespondenceDirection::Unspecified => "unknown direction",
        CorrespondenceDirection::Inbound => "from the complainant",
        CorrespondenceDirection::Outbound => "to the complainant",
    }
}

pub fn correspondence_direction(value: i32) -> String {
    words(value, "direction", correspondence_direction_words)
}

pub fn deadline_kind_words(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::Unspecified => "any deadline",
        DeadlineKind::Acknowledge => "acknowledge",
        DeadlineKind::Resolve => "resolve",
        DeadlineKind::ReferralUpdate => "send the referral update",
        DeadlineKind::Stage2Acknowledge => "acknowledge the review",
        DeadlineKind::Stage2Respond => "respond to the review",
        DeadlineKind::Stage3Acknowledge => "acknowledge the escalation",
        DeadlineKind::Stage3Respond => "director to respond",
    }
}

pub fn deadline_kind(value: i32) -> String {
    words(value, "deadline", deadline_kind_words)
}

pub fn deadline_state_words(state: DeadlineState) -> &'static str {
    match state {
        DeadlineState::Unspecified => "unknown",
        DeadlineState::Pending => "pending",
        DeadlineState::Met => "met",
        DeadlineState::Breached => "breached",
        DeadlineState::Cancelled => "cancelled",
    }
}

pub fn deadline_state(value: i32) -> String {
    words(value, "deadline state", deadline_state_words)
}

pub fn notification_kind_words(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Unspecified => "any notice",
        NotificationKind::Acknowledgement => "acknowledgement",
        NotificationKind::ReferralUpdate => "referral update",
        NotificationKind::StageResponse => "stage response",
        NotificationKind::ReviewAcknowledgement => "review acknowledgement",
        NotificationKind::FinalResponse => "final response",
        NotificationKind::InternalAlert => "internal alert",
        NotificationKind::Extension => "new due date",
        NotificationKind::HoldingUpdate => "holding update",
    }
}

pub fn notification_kind(value: i32) -> String {
    words(value, "notice", notification_kind_words)
}

pub fn notification_channel_words(channel: NotificationChannel) -> &'static str {
    match channel {
        NotificationChannel::Unspecified => "no route",
        NotificationChannel::Email => "email",
        NotificationChannel::Post => "post",
    }
}

pub fn notification_channel(value: i32) -> String {
    words(value, "route", notification_channel_words)
}

pub fn notification_state_words(state: NotificationState) -> &'static str {
    match state {
        NotificationState::Unspecified => "unknown",
        NotificationState::Queued => "queued",
        NotificationState::Sent => "sent",
        NotificationState::Failed => "failed",
    }
}

pub fn notification_state(value: i32) -> String {
    words(value, "notice state", notification_state_words)
}

/// A statistics key (an enum value's name such as "STAGE_2", or a root cause
/// code) in words: names of the contracts' enums are translated, anything
/// else is shown as it is.
pub fn count_key(key: &str) -> String {
    if let Some(stage) = Stage::from_str_name(key) {
        return stage_words(stage).to_owned();
    }
    if let Some(channel) = Channel::from_str_name(key) {
        return channel_words(channel).to_owned();
    }
    if let Some(finding) = Finding::from_str_name(key) {
        return finding_words(finding).to_owned();
    }
    if let Some(status) = CaseStatus::from_str_name(key) {
        return status_words(status).to_owned();
    }
    key.to_owned()
}

/// The time zone dates are shown in: the policy's (docs/policy.md, Working
/// days).
pub fn time_zone() -> Tz {
    std::env::var("COMPLAINTS_TIME_ZONE")
        .ok()
        .and_then(|zone| zone.parse().ok())
        .unwrap_or(chrono_tz::Europe::London)
}

/// A calendar date: "Thu 3 Dec 2026".
pub fn day(date: NaiveDate) -> String {
    date.format("%a %-d %b %Y").to_string()
}

/// A contract date, or "no date" when unset or not a date.
pub fn proto_day(date: Option<&Date>) -> String {
    date.and_then(|d| {
        NaiveDate::from_ymd_opt(
            d.year,
            u32::try_from(d.month).ok()?,
            u32::try_from(d.day).ok()?,
        )
    })
    .map_or_else(|| "no date".to_owned(), day)
}

fn local(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Tz>> {
    let ts = ts?;
    let at = DateTime::<Utc>::from_timestamp(ts.seconds, 0)?;
    Some(at.with_timezone(&time_zone()))
}

/// The local date of an instant: "Thu 3 Dec 2026", or "never" when unset.
pub fn instant_day(ts: Option<&prost_types::Timestamp>) -> String {
    local(ts).map_or_else(|| "never".to_owned(), |at| day(at.date_naive()))
}

/// An instant in local time: "Thu 3 Dec 2026 14:05 GMT", or "never".
pub fn instant(ts: Option<&prost_types::Timestamp>) -> String {
    local(ts).map_or_else(
        || "never".to_owned(),
        |at| at.format("%a %-d %b %Y %H:%M %Z").to_string(),
    )
}

/// Whether the case's clocks hold a deadline paused: "paused since Fri 4
/// Dec 2026".
pub fn deadline_paused(deadline: &Deadline) -> Option<String> {
    let at = deadline.paused_at.as_ref()?;
    Some(format!("paused since {}", instant_day(Some(at))))
}

/// How a deadline stands, with a pause: "pending", "pending, paused since
/// Fri 4 Dec 2026".
pub fn deadline_standing(deadline: &Deadline) -> String {
    let state = deadline_state(deadline.state);
    match deadline_paused(deadline) {
        Some(paused) => format!("{state}, {paused}"),
        None => state,
    }
}

/// The due date a deadline was first given, when an extension or a pause
/// has moved it: "first due Thu 3 Dec 2026".
pub fn deadline_moved(deadline: &Deadline) -> Option<String> {
    let original = deadline.original_due_date.as_ref()?;
    (deadline.due_date.as_ref() != Some(original))
        .then(|| format!("first due {}", proto_day(Some(original))))
}

/// One deadline as a phrase: "resolve by Mon 14 Dec 2026 (met)", or
/// "resolve by Mon 7 Dec 2026 (pending; first due Thu 3 Dec 2026)".
pub fn deadline(deadline: &Deadline) -> String {
    let mut standing = deadline_standing(deadline);
    if let Some(moved) = deadline_moved(deadline) {
        standing.push_str("; ");
        standing.push_str(&moved);
    }
    format!(
        "{} by {} ({standing})",
        deadline_kind(deadline.kind),
        proto_day(deadline.due_date.as_ref()),
    )
}

/// Where a case stands, as a phrase: "Stage 2 (review), open, with the
/// Customer Experience Manager (assigned to hana)".
pub fn case_state(case: &case_pb::Case) -> String {
    let mut state = format!("{}, {}", stage(case.stage), status(case.status));
    if case.status != CaseStatus::Closed as i32 && case.owner_role != Role::Unspecified as i32 {
        state.push_str(&format!(", with {}", role(case.owner_role)));
    }
    if !case.assignee.is_empty() {
        state.push_str(&format!(" (assigned to {})", case.assignee));
    }
    state
}

/// Whether and when the case's current stage was acknowledged:
/// "acknowledged on Thu 3 Dec 2026" or "not yet acknowledged".
pub fn acknowledged(case: &case_pb::Case) -> String {
    match case.acknowledged_at.as_ref() {
        Some(at) => format!("acknowledged on {}", instant_day(Some(at))),
        None => "not yet acknowledged".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// Every value of an enum (0 upwards, until the contract has no more)
    /// has words that are not its raw name and read as words.
    fn every_value_has_words<E: TryFrom<i32> + Copy>(
        words: fn(E) -> &'static str,
        raw_name: fn(&E) -> &'static str,
    ) -> usize {
        let mut seen = 0;
        for value in 0..64 {
            let Ok(e) = E::try_from(value) else { continue };
            seen += 1;
            let said = words(e);
            let raw = raw_name(&e);
            assert!(!said.trim().is_empty(), "{raw} has no words");
            assert_ne!(said, raw, "{raw} is shown by its raw name");
            assert!(
                !said.contains('_'),
                "{raw} reads as {said:?}, which is not words"
            );
        }
        assert!(seen >= 2, "the enum has values");
        seen
    }

    #[test]
    fn every_stage_has_words() {
        assert_eq!(every_value_has_words(stage_words, Stage::as_str_name), 5);
        assert_eq!(stage(Stage::Stage2 as i32), "Stage 2 (review)");
        assert_eq!(stage(99), "unknown stage (99)");
    }

    #[test]
    fn every_case_status_has_words() {
        assert_eq!(
            every_value_has_words(status_words, CaseStatus::as_str_name),
            4
        );
        assert_eq!(status(CaseStatus::Open as i32), "open");
    }

    #[test]
    fn every_channel_has_words() {
        assert_eq!(
            every_value_has_words(channel_words, Channel::as_str_name),
            5
        );
    }

    #[test]
    fn every_contact_method_has_words() {
        assert_eq!(
            every_value_has_words(contact_method_words, ContactMethod::as_str_name),
            4
        );
    }

    #[test]
    fn every_role_has_words() {
        assert_eq!(every_value_has_words(role_words, Role::as_str_name), 8);
    }

    #[test]
    fn every_finding_has_words() {
        assert_eq!(
            every_value_has_words(finding_words, Finding::as_str_name),
            4
        );
        assert_eq!(finding(Finding::PartlyUpheld as i32), "partly upheld");
    }

    #[test]
    fn every_acknowledgement_method_has_words() {
        assert_eq!(
            every_value_has_words(
                acknowledgement_method_words,
                AcknowledgementMethod::as_str_name
            ),
            5
        );
    }

    #[test]
    fn every_deadline_kind_has_words() {
        assert_eq!(
            every_value_has_words(deadline_kind_words, DeadlineKind::as_str_name),
            8
        );
    }

    #[test]
    fn every_deadline_state_has_words() {
        assert_eq!(
            every_value_has_words(deadline_state_words, DeadlineState::as_str_name),
            5
        );
    }

    #[test]
    fn every_notification_kind_has_words() {
        assert_eq!(
            every_value_has_words(notification_kind_words, NotificationKind::as_str_name),
            9
        );
    }

    #[test]
    fn every_notification_channel_has_words() {
        assert_eq!(
            every_value_has_words(notification_channel_words, NotificationChannel::as_str_name),
            3
        );
    }

    #[test]
    fn every_notification_state_has_words() {
        assert_eq!(
            every_value_has_words(notification_state_words, NotificationState::as_str_name),
            4
        );
    }

    #[test]
    fn every_correspondence_direction_has_words() {
        assert_eq!(
            every_value_has_words(
                correspondence_direction_words,
                CorrespondenceDirection::as_str_name
            ),
            3
        );
    }

    #[test]
    fn a_deadline_reads_as_what_by_when_and_how_it_stands() {
        let due = Deadline {
            kind: DeadlineKind::Resolve as i32,
            due_date: Some(Date {
                year: 2026,
                month: 12,
                day: 14,
            }),
            state: DeadlineState::Met as i32,
            ..Deadline::default()
        };
        assert_eq!(deadline(&due), "resolve by Mon 14 Dec 2026 (met)");
        let extended = Deadline {
            state: DeadlineState::Pending as i32,
            original_due_date: Some(Date {
                year: 2026,
                month: 12,
                day: 10,
            }),
            ..due
        };
        assert_eq!(
            deadline(&extended),
            "resolve by Mon 14 Dec 2026 (pending; first due Thu 10 Dec 2026)"
        );
    }

    #[test]
    fn statistics_keys_that_name_enum_values_read_as_words() {
        assert_eq!(count_key("STAGE_2"), "Stage 2 (review)");
        assert_eq!(count_key("CHANNEL_POST"), "post");
        assert_eq!(count_key("FINDING_NOT_UPHELD"), "not upheld");
        assert_eq!(count_key("faulty-equipment"), "faulty-equipment");
    }

    #[test]
    fn a_case_state_names_stage_status_owner_and_assignee() {
        let case = case_pb::Case {
            stage: Stage::Stage2 as i32,
            status: CaseStatus::Open as i32,
            owner_role: Role::CxManager as i32,
            assignee: "hana".to_owned(),
            ..case_pb::Case::default()
        };
        assert_eq!(
            case_state(&case),
            "Stage 2 (review), open, with the Customer Experience Manager (assigned to hana)"
        );
        let closed = case_pb::Case {
            stage: Stage::Stage1 as i32,
            status: CaseStatus::Closed as i32,
            ..case_pb::Case::default()
        };
        assert_eq!(case_state(&closed), "Stage 1 (investigation), closed");
    }

    #[test]
    fn an_acknowledgement_reads_as_the_local_day() {
        let case = case_pb::Case {
            // 2026-12-03T23:30:00Z: still Thursday in London (GMT).
            acknowledged_at: Some(prost_types::Timestamp {
                seconds: 1_796_340_600,
                nanos: 0,
            }),
            ..case_pb::Case::default()
        };
        assert_eq!(acknowledged(&case), "acknowledged on Thu 3 Dec 2026");
    }
}
