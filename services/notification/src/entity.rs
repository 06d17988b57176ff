//! The `notifications` table (created by `complaints-migration`), and the
//! typed values its text columns hold: the kind ([`NotifyKind`]), stage
//! ([`Stage`]), delivery state ([`DeliveryState`]) and channel
//! ([`DeliveryChannel`]), each stored as its `as_str` name.

use chrono::NaiveDate;
use complaints_domain::case::{DeadlineKind, NotifyKind};
use complaints_domain::policy::Stage;
use complaints_notify::{ALL_KINDS, AlertLevel};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One notification: what was asked for, where it went, what it said, and
/// how delivery went.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub notification_id: String,
    /// What makes two requests the same notification.
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub case_id: Uuid,
    /// A [`NotifyKind`]: read it with [`Model::kind`].
    pub kind: String,
    /// A [`Stage`]: read it with [`Model::stage`].
    pub stage: String,
    /// A [`complaints_domain::role::Role`], for an internal alert.
    pub to_role: Option<String>,
    pub reason: String,
    /// The request's further details as JSON: read them with
    /// [`Model::details`].
    pub request: String,
    /// A [`DeliveryChannel`], once routed: read it with [`Model::channel`].
    pub channel: Option<String>,
    pub recipient: Option<String>,
    /// Why the route differs from the preferred contact, if it does.
    pub route_note: Option<String>,
    /// A [`DeliveryState`]: read it with [`Model::state`].
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub subject: Option<String>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    /// The W3C trace context of the request that queued it, so that its
    /// delivery continues that trace.
    pub trace_context: Option<String>,
    /// When the recipient, subject and content were blanked because the
    /// complainant's personal data was erased.
    pub erased_at: Option<DateTimeUtc>,
    /// When it last entered the queue: created, or put back by a requeue.
    /// Its retry window runs from here ([`Model::retry_from`]).
    pub queued_at: Option<DateTimeUtc>,
    /// When it was given up on (FAILED).
    pub failed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The notification's kind; `None` if the row names no kind we know.
    pub fn kind(&self) -> Option<NotifyKind> {
        ALL_KINDS
            .into_iter()
            .find(|kind| kind.as_str() == self.kind)
    }

    /// The stage it is about; `None` if the row names no stage we know.
    pub fn stage(&self) -> Option<Stage> {
        self.stage.parse().ok()
    }

    /// How delivery stands; `None` if the row names no state we know.
    pub fn state(&self) -> Option<DeliveryState> {
        DeliveryState::parse(&self.state)
    }

    /// How it went, once routed (and if the row names a channel we know).
    pub fn channel(&self) -> Option<DeliveryChannel> {
        self.channel.as_deref().and_then(DeliveryChannel::parse)
    }

    /// Where its retry window starts: when it last entered the queue (rows
    /// from before that was kept: when it was created).
    pub fn retry_from(&self) -> DateTimeUtc {
        self.queued_at.unwrap_or(self.created_at)
    }

    /// The request's further details; the defaults if they are unreadable.
    pub fn details(&self) -> RequestDetails {
        serde_json::from_str(&self.request).unwrap_or_default()
    }
}

/// Where a notification is in delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Queued,
    /// Delivered: by email, or written out as a letter for posting.
    Sent,
    /// Given up on: refused for good, or failing for now for longer than the
    /// retry window. Staff were alerted (unless it was itself an alert);
    /// staff may put it back in the queue.
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 3] = [
        DeliveryState::Queued,
        DeliveryState::Sent,
        DeliveryState::Failed,
    ];

    /// The name in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

/// How a notification was delivered. Not the complainant's
/// [`complaints_domain::complainant::ContactMethod`]: a phone call cannot
/// carry a written message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryChannel {
    Email,
    /// A printed letter.
    Post,
}

impl DeliveryChannel {
    pub const ALL: [DeliveryChannel; 2] = [DeliveryChannel::Email, DeliveryChannel::Post];

    /// The name in the `channel` column, on the case timeline and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryChannel::Email => "email",
            DeliveryChannel::Post => "post",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|channel| channel.as_str() == name)
    }
}

/// The request details kept with a notification (the `request` column),
/// for delivery.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestDetails {
    pub deadline_kind: Option<DeadlineKind>,
    pub due_date: Option<NaiveDate>,
    /// An internal alert's [`AlertLevel`], by its `as_str` name.
    alert_level: Option<String>,
    /// The person the case is assigned to: an internal alert goes to them
    /// rather than to their role's mailbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}

impl RequestDetails {
    pub fn new(
        deadline_kind: Option<DeadlineKind>,
        due_date: Option<NaiveDate>,
        alert_level: Option<AlertLevel>,
    ) -> Self {
        Self {
            deadline_kind,
            due_date,
            alert_level: alert_level.map(|level| level.as_str().to_owned()),
            assignee: None,
        }
    }

    /// The same details, addressed to `assignee`.
    pub fn with_assignee(mut self, assignee: Option<String>) -> Self {
        self.assignee = assignee;
        self
    }

    /// An internal alert's level: a warning unless the request said otherwise.
    pub fn alert_level(&self) -> AlertLevel {
        [
            AlertLevel::Breach,
            AlertLevel::DeliveryFailed,
            AlertLevel::Assigned,
            AlertLevel::Correspondence,
        ]
        .into_iter()
        .find(|level| Some(level.as_str()) == self.alert_level.as_deref())
        .unwrap_or(AlertLevel::Warning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_values_are_the_stored_names() {
        let states = DeliveryState::ALL.map(DeliveryState::as_str);
        assert_eq!(states, ["queued", "sent", "failed"]);
        let channels = DeliveryChannel::ALL.map(DeliveryChannel::as_str);
        assert_eq!(channels, ["email", "post"]);
        for state in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
        }
        for channel in DeliveryChannel::ALL {
            assert_eq!(DeliveryChannel::parse(channel.as_str()), Some(channel));
            let json = serde_json::to_string(&channel).unwrap();
            assert_eq!(json, format!("\"{}\"", channel.as_str()));
        }
        assert_eq!(DeliveryState::parse("Queued"), None);
    }

    #[test]
    fn request_details_keep_the_alert_level_by_name() {
        let details = RequestDetails::new(None, None, Some(AlertLevel::DeliveryFailed));
        let json = serde_json::to_value(&details).unwrap();
        assert_eq!(json["alert_level"], "delivery_failed");
        let read: RequestDetails = serde_json::from_value(json).unwrap();
        assert_eq!(read.alert_level(), AlertLevel::DeliveryFailed);
        assert_eq!(RequestDetails::default().alert_level(), AlertLevel::Warning);
    }
}
