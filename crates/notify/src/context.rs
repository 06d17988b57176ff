//! What a message says: the facts of one notification, typed, before they
//! are turned into template values.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use complaints_domain::case::{DeadlineKind, Finding, NotifyKind};
use complaints_domain::policy::{ExternalBody, Stage};
use complaints_domain::role::Role;
use complaints_domain::values::RegisterNumber;
use minijinja::Value;

use crate::NotifyError;

/// Everything a template may say about one notification. The notification
/// service fills it from the case and the request; [`crate::Renderer`]
/// checks that the fields the kind needs are present (the list is in each
/// field's doc and in `templates/README.md`) and passes only the present
/// ones to the template, so a template that uses an absent optional value
/// without `is defined` fails loudly instead of printing "none".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContext {
    /// Quoted in every message, complainant's or staff's (R1).
    pub register_number: RegisterNumber,
    /// The stage the message is about: for a review acknowledgement, the
    /// stage just entered; for a response, the stage that answered.
    pub stage: Stage,
    /// Who the message is addressed to. Needed by every kind but
    /// [`NotifyKind::InternalAlert`], which names no complainant: alerts go
    /// to shared mailboxes and carry no personal data.
    pub complainant: Option<Addressee>,
    /// When we received what the message answers: the complaint, or the
    /// request for review. Needed by [`NotifyKind::ReviewAcknowledgement`].
    pub received_on: Option<NaiveDate>,
    /// The acknowledgement deadline of the stage. Optional everywhere.
    pub acknowledge_by: Option<NaiveDate>,
    /// When we will answer: stage 1's resolve-by date (R2), or a later
    /// stage's respond-by date. Needed by [`NotifyKind::Acknowledgement`] and
    /// [`NotifyKind::ReviewAcknowledgement`]; optional for
    /// [`NotifyKind::ReferralUpdate`].
    pub respond_by: Option<NaiveDate>,
    /// The role that now owns the case, named by its title. Needed by
    /// [`NotifyKind::ReviewAcknowledgement`] ("who owns it now").
    pub owner_role: Option<Role>,
    /// The stage's answer. Needed by [`NotifyKind::StageResponse`] and
    /// [`NotifyKind::FinalResponse`].
    pub response: Option<ResponseDetails>,
    /// How and by when to ask for the next stage. Needed by
    /// [`NotifyKind::StageResponse`] (R4, R6).
    pub review: Option<ReviewInvitation>,
    /// The body the complainant may go to, from the case's policy. Needed
    /// by [`NotifyKind::FinalResponse`] (R7).
    pub external_body: Option<ExternalBody>,
    /// The deadline an alert is about. Needed by
    /// [`NotifyKind::InternalAlert`].
    pub alert: Option<AlertDetails>,
    /// A date that moved, or when the complainant hears from us next.
    /// Needed by [`NotifyKind::Extension`] and [`NotifyKind::HoldingUpdate`].
    pub change: Option<DateChange>,
}

/// A new date for the complainant: a deadline's new due date after an
/// extension or a pause, or, in a holding update, the date by which we will
/// be in touch again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateChange {
    pub date: NaiveDate,
    /// The deadline the date is about.
    pub deadline_kind: DeadlineKind,
    /// Why, in the words of the member of staff who moved it; empty when
    /// there is nothing to say (a holding update).
    pub reason: String,
}

/// The person a message is written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressee {
    /// Their full name, as on the case: the first line of a letter's
    /// address block and the display name of an email.
    pub name: String,
    /// What follows "Dear": `Mrs Smith`, or the full name when no title is
    /// known (never a guess at one).
    pub salutation: String,
}

impl Addressee {
    /// Addressed by full name, which is never wrong.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            salutation: name.clone(),
            name,
        }
    }
}

/// A stage's answer, as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseDetails {
    pub finding: Finding,
    /// What was decided and what will be done, in the responder's words.
    pub outcome: String,
    /// The root cause's label from the policy's taxonomy (`Faulty
    /// equipment`), not its code.
    pub root_cause: String,
}

/// How to take a complaint to the next stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewInvitation {
    /// The last day to ask: `window_working_days` working days after the
    /// response is sent.
    pub request_by: NaiveDate,
    /// The policy's review window (`Policy::review_window_working_days`),
    /// as the letter states it.
    pub window_working_days: u32,
    /// Who will review: the next stage's owner (stage 2: the Customer
    /// Experience Manager; stage 3: a director).
    pub reviewer: Role,
}

/// Whether an alert warns ahead of a deadline or reports a missed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertLevel {
    /// Due soon: the owner still has time.
    Warning,
    /// Missed: the deadline has passed unmet.
    Breach,
    /// A message to the complainant could not be delivered; staff must
    /// reach them another way before the deadline.
    DeliveryFailed,
    /// The case was handed to the role (a review, an escalation); the
    /// deadline is theirs now.
    Assigned,
    /// The complainant wrote again about the case; someone should read it
    /// and record what was done.
    Correspondence,
}

impl AlertLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Warning => "warning",
            AlertLevel::Breach => "breach",
            AlertLevel::DeliveryFailed => "delivery_failed",
            AlertLevel::Assigned => "assigned",
            AlertLevel::Correspondence => "correspondence",
        }
    }
}

/// The deadline an internal alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDetails {
    pub level: AlertLevel,
    pub deadline_kind: DeadlineKind,
    /// The deadline's due date (the end of that day is the due instant).
    pub due: NaiveDate,
    /// The role alerted: the deadline's owner for a warning, its
    /// escalation role for a breach.
    pub role: Role,
    /// Why, in a sentence (from [`complaints_domain::case::NotifyRequest::reason`]).
    pub reason: String,
}

impl MessageContext {
    /// A context with only what every kind has; set the rest as the kind
    /// needs.
    pub fn new(register_number: RegisterNumber, stage: Stage) -> Self {
        Self {
            register_number,
            stage,
            complainant: None,
            received_on: None,
            acknowledge_by: None,
            respond_by: None,
            owner_role: None,
            response: None,
            review: None,
            external_body: None,
            alert: None,
            change: None,
        }
    }

    /// A context with every field set: what templates are checked against
    /// at start, and a fair preview of every kind.
    pub fn sample(register_number: RegisterNumber) -> Self {
        let date =
            |year, month, day| NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN);
        Self {
            complainant: Some(Addressee {
                name: "Margaret Smith".to_owned(),
                salutation: "Mrs Smith".to_owned(),
            }),
            received_on: Some(date(2026, 11, 16)),
            acknowledge_by: Some(date(2026, 11, 19)),
            respond_by: Some(date(2026, 12, 2)),
            owner_role: Some(Role::CxManager),
            response: Some(ResponseDetails {
                finding: Finding::PartlyUpheld,
                outcome: "Your alarm pendant was not replaced when it should have been. \
                          We have now replaced it and refunded one month's charge."
                    .to_owned(),
                root_cause: "Faulty equipment".to_owned(),
            }),
            review: Some(ReviewInvitation {
                request_by: date(2026, 12, 30),
                window_working_days: 20,
                reviewer: Role::CxManager,
            }),
            external_body: Some(ExternalBody {
                name: "Telecare Services Association".to_owned(),
                short_name: "TSA".to_owned(),
                how_to_refer: "You can refer your complaint to the Telecare Services \
                               Association. Please quote your reference number."
                    .to_owned(),
            }),
            alert: Some(AlertDetails {
                level: AlertLevel::Breach,
                deadline_kind: DeadlineKind::Stage2Respond,
                due: date(2026, 12, 2),
                role: Role::OpsLead,
                reason: "the stage 2 response was due and has not been issued".to_owned(),
            }),
            change: Some(DateChange {
                date: date(2026, 12, 9),
                deadline_kind: DeadlineKind::Stage2Respond,
                reason: "we are waiting for an engineer's report on your alarm".to_owned(),
            }),
            ..Self::new(register_number, Stage::Stage2)
        }
    }

    /// Refuses a context that lacks a field `kind` needs, naming it.
    pub fn check(&self, kind: NotifyKind) -> Result<(), NotifyError> {
        let needs = |present: bool, field| {
            if present {
                Ok(())
            } else {
                Err(NotifyError::missing(kind, field))
            }
        };
        if kind != NotifyKind::InternalAlert {
            needs(self.complainant.is_some(), "complainant")?;
        }
        match kind {
            NotifyKind::Acknowledgement => needs(self.respond_by.is_some(), "respond_by"),
            NotifyKind::ReferralUpdate => Ok(()),
            NotifyKind::StageResponse => {
                needs(self.response.is_some(), "response")?;
                needs(self.review.is_some(), "review")
            }
            NotifyKind::ReviewAcknowledgement => {
                needs(self.received_on.is_some(), "received_on")?;
                needs(self.owner_role.is_some(), "owner_role")?;
                needs(self.respond_by.is_some(), "respond_by")
            }
            NotifyKind::FinalResponse => {
                needs(self.response.is_some(), "response")?;
                needs(self.external_body.is_some(), "external_body")
            }
            NotifyKind::InternalAlert => needs(self.alert.is_some(), "alert"),
            NotifyKind::Extension | NotifyKind::HoldingUpdate => {
                needs(self.change.is_some(), "change")
            }
        }
    }

    /// The template values: only present fields, dates in words. An
    /// internal alert never sees the complainant, even when one was set.
    pub(crate) fn to_value(&self, kind: NotifyKind, company: Value) -> Value {
        let mut values: BTreeMap<&'static str, Value> = BTreeMap::new();
        values.insert("company", company);
        values.insert(
            "register_number",
            Value::from(self.register_number.as_str()),
        );
        values.insert("stage", Value::from(self.stage.number()));
        if let Some(addressee) = self
            .complainant
            .as_ref()
            .filter(|_| kind != NotifyKind::InternalAlert)
        {
            values.insert("complainant_name", Value::from(addressee.name.as_str()));
            values.insert("salutation", Value::from(addressee.salutation.as_str()));
        }
        let dates = [
            ("received_on", self.received_on),
            ("acknowledge_by", self.acknowledge_by),
            ("respond_by", self.respond_by),
        ];
        for (name, date) in dates {
            if let Some(date) = date {
                values.insert(name, Value::from(human_date(date)));
            }
        }
        if let Some(role) = self.owner_role {
            values.insert("owner", Value::from(role.title()));
        }
        if let Some(response) = &self.response {
            values.insert(
                "response",
                Value::from_pairs([
                    ("finding", Value::from(response.finding.as_str())),
                    ("finding_text", Value::from(finding_text(response.finding))),
                    ("outcome", Value::from(response.outcome.as_str())),
                    ("root_cause", Value::from(response.root_cause.as_str())),
                ]),
            );
        }
        if let Some(review) = &self.review {
            values.insert(
                "review",
                Value::from_pairs([
                    ("request_by", Value::from(human_date(review.request_by))),
                    ("window_days", Value::from(review.window_working_days)),
                    ("reviewer", Value::from(review.reviewer.title())),
                ]),
            );
        }
        if let Some(body) = &self.external_body {
            values.insert(
                "external_body",
                Value::from_pairs([
                    ("name", body.name.as_str()),
                    ("short_name", body.short_name.as_str()),
                    ("how_to_refer", body.how_to_refer.as_str()),
                ]),
            );
        }
        if let Some(alert) = &self.alert {
            values.insert(
                "alert",
                Value::from_pairs([
                    ("level", Value::from(alert.level.as_str())),
                    ("deadline_kind", Value::from(alert.deadline_kind.as_str())),
                    ("deadline", Value::from(deadline_words(alert.deadline_kind))),
                    ("due", Value::from(human_date(alert.due))),
                    ("role", Value::from(alert.role.title())),
                    ("reason", Value::from(alert.reason.as_str())),
                ]),
            );
        }
        if let Some(change) = &self.change {
            let mut pairs = vec![
                ("date", Value::from(human_date(change.date))),
                ("deadline_kind", Value::from(change.deadline_kind.as_str())),
                ("what", Value::from(promise_words(change.deadline_kind))),
            ];
            if !change.reason.trim().is_empty() {
                pairs.push(("reason", Value::from(change.reason.trim())));
            }
            values.insert("change", Value::from_pairs(pairs));
        }
        Value::from_pairs(values)
    }
}

/// What a deadline promises the complainant, to follow "we will": the
/// words of an extension notice.
fn promise_words(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::Acknowledge
        | DeadlineKind::Stage2Acknowledge
        | DeadlineKind::Stage3Acknowledge => "acknowledge your complaint",
        DeadlineKind::Resolve => "give you our answer to your complaint",
        DeadlineKind::ReferralUpdate => "update you on your complaint",
        DeadlineKind::Stage2Respond => "give you the result of our review",
        DeadlineKind::Stage3Respond => "give you our final response",
    }
}

/// A date as a letter writes it: `Wednesday 2 December 2026`.
pub fn human_date(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

fn finding_text(finding: Finding) -> &'static str {
    match finding {
        Finding::Upheld => "upheld",
        Finding::PartlyUpheld => "partly upheld",
        Finding::NotUpheld => "not upheld",
    }
}

/// What a deadline asks for, as staff say it.
fn deadline_words(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::Acknowledge => "Acknowledge the complaint (stage 1)",
        DeadlineKind::Resolve => "Resolve the complaint (stage 1)",
        DeadlineKind::ReferralUpdate => "Tell the complainant about the referral (stage 1)",
        DeadlineKind::Stage2Acknowledge => "Acknowledge the review request (stage 2)",
        DeadlineKind::Stage2Respond => "Respond to the review (stage 2)",
        DeadlineKind::Stage3Acknowledge => "Acknowledge the escalation to a director (stage 3)",
        DeadlineKind::Stage3Respond => "Respond at stage 3 (director)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::ALL_KINDS;

    #[test]
    fn dates_read_as_a_letter_writes_them() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(human_date(date), "Wednesday 2 December 2026");
        let date = NaiveDate::from_ymd_opt(2027, 1, 11).unwrap();
        assert_eq!(human_date(date), "Monday 11 January 2027");
    }

    #[test]
    fn the_sample_satisfies_every_kind() {
        let sample = MessageContext::sample(RegisterNumber::new(2026, 123).unwrap());
        assert_eq!(sample.register_number.as_str(), "CMP-2026-000123");
        for kind in ALL_KINDS {
            sample.check(kind).unwrap();
        }
    }

    #[test]
    fn a_missing_field_is_named_for_the_kind_that_needs_it() {
        let bare = MessageContext::new(RegisterNumber::new(2026, 1).unwrap(), Stage::Stage1);
        let err = bare.check(NotifyKind::Acknowledgement).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a acknowledgement message needs complainant, which was not given"
        );
        let addressed = MessageContext {
            complainant: Some(Addressee::new("Jane Doe")),
            ..bare.clone()
        };
        assert!(
            addressed
                .check(NotifyKind::FinalResponse)
                .unwrap_err()
                .to_string()
                .contains("needs response")
        );
        assert!(addressed.check(NotifyKind::ReferralUpdate).is_ok());
        assert!(
            bare.check(NotifyKind::InternalAlert)
                .unwrap_err()
                .to_string()
                .contains("needs alert")
        );
    }

    #[test]
    fn an_alert_never_carries_the_complainant() {
        let value = MessageContext::sample(RegisterNumber::new(2026, 123).unwrap())
            .to_value(NotifyKind::InternalAlert, Value::UNDEFINED);
        assert!(value.get_attr("salutation").unwrap().is_undefined());
        assert!(value.get_attr("complainant_name").unwrap().is_undefined());
        let value = MessageContext::sample(RegisterNumber::new(2026, 123).unwrap())
            .to_value(NotifyKind::Acknowledgement, Value::UNDEFINED);
        assert_eq!(
            value.get_attr("salutation").unwrap().as_str(),
            Some("Mrs Smith")
        );
    }
}
