//! Delivery: turns a queued notification into an email or a letter, with
//! retries for a server that is down and no retry for one that refused.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use complaints_domain::calendar::Calendar;
use complaints_domain::case::{DeadlineKind, Finding, NotifyKind};
use complaints_domain::complainant::Complainant;
use complaints_domain::policy::{Policy, Stage};
use complaints_domain::role::Role;
use complaints_domain::values::{EmailAddress, RegisterNumber};
use complaints_notify::{
    Addressee, AlertDetails, AlertLevel, EmailSettings, LetterAddress, LetterWriter, Mailer,
    MessageContext, NotificationId, Renderer, ResponseDetails, ReviewInvitation, Route,
    build_email, choose_route_for, render_letter,
};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_rpc::mapping::{
    finding_from_proto, raw_complainant, role_from_proto, stage_to_proto,
};
use complaints_rpc::peers::CasePeer;
use complaints_store::outbox::{self, OutboxMessage};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::{Deserialize, Serialize};
use tonic::Code;

use crate::entity;
use crate::repo::{self, NewNotification, Sent};

/// The outbox topic of delivered notices, for the case timeline.
pub const CASE_TOPIC: &str = "notification.case";

/// How long a complainant has to ask for the next stage, as the letter says.
const REVIEW_WINDOW_WORKING_DAYS: u32 = 20;
const LEASE_SECONDS: i64 = 120;
const CLAIM_BATCH: u64 = 50;

/// The request details kept with a notification, for delivery.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestDetails {
    pub deadline_kind: Option<DeadlineKind>,
    pub due_date: Option<NaiveDate>,
    pub alert_level: Option<String>,
}

/// A delivered notice, for the case service's timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeDelivered {
    pub case_id: String,
    pub notification_id: String,
    pub kind: NotifyKind,
    pub stage: Stage,
    pub channel: String,
    pub route_note: String,
    pub sent_at: DateTime<Utc>,
}

/// Where mail and letters go, and how they look.
pub struct Delivery {
    pub db: DatabaseConnection,
    pub case: CasePeer,
    pub renderer: Arc<Renderer>,
    pub email: EmailSettings,
    pub mailer: Arc<dyn Mailer>,
    pub letters: LetterWriter,
    pub clock: Arc<dyn complaints_domain::clock::Clock>,
    pub calendar: Calendar,
    pub policy: Policy,
    /// Internal alerts go to `<role>@<staff_domain>`.
    pub staff_domain: String,
    /// Attempts before a notification is FAILED for good.
    pub max_attempts: i32,
    pub worker: String,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("mailer", &self.mailer)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

/// Why one attempt did not deliver.
enum Failure {
    /// Worth trying again later (a server down, a timeout).
    Transient(String),
    /// Trying again would fail the same way (a refused address, no route).
    Permanent(String),
}

pub fn kind_from_str(name: &str) -> Option<NotifyKind> {
    [
        NotifyKind::Acknowledgement,
        NotifyKind::ReferralUpdate,
        NotifyKind::StageResponse,
        NotifyKind::ReviewAcknowledgement,
        NotifyKind::FinalResponse,
        NotifyKind::InternalAlert,
    ]
    .into_iter()
    .find(|kind| kind.as_str() == name)
}

/// A notification's kind as a metric label: one of a closed set.
fn kind_label(kind: &str) -> &'static str {
    kind_from_str(kind).map_or("unknown", NotifyKind::as_str)
}

impl Delivery {
    /// Delivers every notification due now; returns how many were handled.
    pub async fn deliver_due(&self) -> Result<usize, sea_orm::DbErr> {
        let mut handled = 0;
        loop {
            let now = self.clock.now();
            let claimed = repo::claim_due(
                &self.db,
                now,
                &self.worker,
                Duration::seconds(LEASE_SECONDS),
                CLAIM_BATCH,
            )
            .await?;
            if claimed.is_empty() {
                return Ok(handled);
            }
            for notification in claimed {
                self.deliver_one(notification).await?;
                handled += 1;
            }
        }
    }

    async fn deliver_one(&self, n: entity::Model) -> Result<(), sea_orm::DbErr> {
        let now = self.clock.now();
        let attempt = self.attempt(&n, now).await;
        match attempt {
            Ok((sent, route_note)) => {
                let kind = kind_from_str(&n.kind);
                let txn = self.db.begin().await?;
                let channel = sent.channel.clone();
                let at = sent.at;
                let marked = repo::mark_sent(&txn, &n.notification_id, &self.worker, sent).await?;
                if let (true, Some(kind), Ok(stage)) = (marked, kind, n.stage.parse::<Stage>())
                    && kind != NotifyKind::InternalAlert
                {
                    let notice = NoticeDelivered {
                        case_id: n.case_id.to_string(),
                        notification_id: n.notification_id.clone(),
                        kind,
                        stage,
                        channel: channel.clone(),
                        route_note: route_note.unwrap_or_default(),
                        sent_at: at,
                    };
                    let message = OutboxMessage::json(CASE_TOPIC, n.case_id, &notice)
                        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
                    outbox::enqueue(&txn, &[message], now)
                        .await
                        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
                }
                txn.commit().await?;
                if marked {
                    metrics::counter!(
                        "complaints_notifications_sent_total",
                        "kind" => kind_label(&n.kind),
                        "channel" => channel,
                    )
                    .increment(1);
                }
                tracing::info!(notification_id = %n.notification_id, kind = %n.kind, "notification sent");
            }
            Err(Failure::Transient(reason)) if n.attempts + 1 < self.max_attempts => {
                let retry_at = now + backoff(n.attempts);
                tracing::warn!(notification_id = %n.notification_id, %reason, %retry_at, "delivery failed; will retry");
                repo::mark_attempt_failed(
                    &self.db,
                    &n.notification_id,
                    &self.worker,
                    &reason,
                    Some(retry_at),
                    None,
                )
                .await?;
            }
            Err(Failure::Transient(reason) | Failure::Permanent(reason)) => {
                tracing::error!(notification_id = %n.notification_id, %reason, "notification failed");
                let txn = self.db.begin().await?;
                let failed = repo::mark_attempt_failed(
                    &txn,
                    &n.notification_id,
                    &self.worker,
                    &reason,
                    None,
                    None,
                )
                .await?;
                if failed && n.kind != NotifyKind::InternalAlert.as_str() {
                    // Someone must reach the complainant another way.
                    repo::request(
                        &txn,
                        NewNotification {
                            dedupe_key: format!("{}/failed", n.notification_id),
                            case_id: n.case_id,
                            kind: NotifyKind::InternalAlert.as_str().to_owned(),
                            stage: n.stage.clone(),
                            to_role: Some(Role::ComplaintsHandler.as_str().to_owned()),
                            reason: format!(
                                "the {} could not be delivered after {} attempt(s): {}",
                                n.kind.replace('_', " "),
                                n.attempts + 1,
                                without_personal_data(&reason)
                            ),
                            extra: serde_json::to_value(RequestDetails {
                                alert_level: Some("delivery_failed".to_owned()),
                                deadline_kind: DeadlineKind::respond(
                                    n.stage.parse::<Stage>().unwrap_or(Stage::Stage1),
                                ),
                                due_date: None,
                            })
                            .unwrap_or_default(),
                        },
                        now,
                    )
                    .await?;
                }
                txn.commit().await?;
                if failed {
                    metrics::counter!(
                        "complaints_notifications_failed_total",
                        "kind" => kind_label(&n.kind),
                    )
                    .increment(1);
                }
            }
        }
        Ok(())
    }

    /// One delivery attempt: what was sent and the route note, or why not.
    async fn attempt(
        &self,
        n: &entity::Model,
        now: DateTime<Utc>,
    ) -> Result<(Sent, Option<String>), Failure> {
        let kind = kind_from_str(&n.kind)
            .ok_or_else(|| Failure::Permanent(format!("unknown kind {:?}", n.kind)))?;
        let stage: Stage = n
            .stage
            .parse()
            .map_err(|_| Failure::Permanent(format!("unknown stage {:?}", n.stage)))?;
        let details: RequestDetails = serde_json::from_str(&n.request).unwrap_or_default();
        let case = match self.case.get_case(&n.case_id.to_string()).await {
            Ok(case) => case,
            Err(status) if status.code() == Code::NotFound => {
                return Err(Failure::Permanent("the case does not exist".to_owned()));
            }
            Err(status) => {
                return Err(Failure::Transient(format!(
                    "reading the case: {}",
                    status.message()
                )));
            }
        };
        let register_number = RegisterNumber::parse(&case.register_number)
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let context = self.context(kind, stage, n, &details, &case, register_number, now)?;
        let rendered = self
            .renderer
            .render(kind, &context)
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let id = NotificationId::parse(&n.notification_id)
            .map_err(|e| Failure::Permanent(e.to_string()))?;

        let (route, route_note, name) = if kind == NotifyKind::InternalAlert {
            let role = n.to_role.as_deref().unwrap_or("complaints_handler");
            let to = EmailAddress::parse(&format!("{role}@{}", self.staff_domain))
                .map_err(|e| Failure::Permanent(e.to_string()))?;
            (Route::Email { to }, None, role.replace('_', " "))
        } else {
            let complainant = Complainant::parse(raw_complainant(case.complainant.as_ref()))
                .map_err(|_| {
                    Failure::Permanent("the complainant has no usable contact details".to_owned())
                })?;
            let choice =
                choose_route_for(&complainant).map_err(|e| Failure::Permanent(e.to_string()))?;
            let note = choice.fell_back_from.map(|_| choice.reason.clone());
            (
                choice.route,
                note,
                complainant.full_name().as_str().to_owned(),
            )
        };
        match route {
            Route::Email { to } => {
                let email = build_email(&self.email, &id, &name, &to, &rendered, now)
                    .map_err(|e| Failure::Permanent(e.to_string()))?;
                self.mailer.send(&email).await.map_err(|e| {
                    if e.is_transient() {
                        Failure::Transient(e.reason().to_owned())
                    } else {
                        Failure::Permanent(e.reason().to_owned())
                    }
                })?;
                Ok((
                    Sent {
                        channel: "email".to_owned(),
                        recipient: to.as_str().to_owned(),
                        route_note: route_note.clone(),
                        subject: rendered.subject.clone(),
                        content_type: "text/plain; charset=utf-8".to_owned(),
                        body: rendered.text.clone().into_bytes(),
                        at: now,
                    },
                    route_note,
                ))
            }
            Route::Post { address } => {
                let to = LetterAddress::new(name, &address);
                let pdf = render_letter(&rendered, &to, self.calendar.local_date(now));
                self.letters
                    .write(&id, &pdf)
                    .await
                    .map_err(|e| Failure::Transient(e.to_string()))?;
                Ok((
                    Sent {
                        channel: "post".to_owned(),
                        recipient: format!("{}, {}", to.name, to.lines.join(", ")),
                        route_note: route_note.clone(),
                        subject: rendered.subject.clone(),
                        content_type: "application/pdf".to_owned(),
                        body: pdf,
                        at: now,
                    },
                    route_note,
                ))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn context(
        &self,
        kind: NotifyKind,
        stage: Stage,
        n: &entity::Model,
        details: &RequestDetails,
        case: &case_pb::Case,
        register_number: RegisterNumber,
        now: DateTime<Utc>,
    ) -> Result<MessageContext, Failure> {
        let mut context = MessageContext::new(register_number, stage);
        let today = self.calendar.local_date(now);
        context.owner_role = role_from_proto(case.owner_role);
        context.respond_by = details.due_date;
        if kind == NotifyKind::InternalAlert {
            let role = n
                .to_role
                .as_deref()
                .and_then(|r| r.parse::<Role>().ok())
                .unwrap_or(Role::ComplaintsHandler);
            let level = match details.alert_level.as_deref() {
                Some("breach") => AlertLevel::Breach,
                Some("delivery_failed") => AlertLevel::DeliveryFailed,
                Some("assigned") => AlertLevel::Assigned,
                _ => AlertLevel::Warning,
            };
            context.alert = Some(AlertDetails {
                level,
                deadline_kind: details
                    .deadline_kind
                    .or_else(|| DeadlineKind::respond(stage))
                    .unwrap_or(DeadlineKind::Resolve),
                due: details.due_date.unwrap_or(today),
                role,
                reason: n.reason.clone(),
            });
            return Ok(context);
        }
        let name = case
            .complainant
            .as_ref()
            .map(|c| c.full_name.clone())
            .unwrap_or_default();
        context.complainant = Some(Addressee::new(name));
        let received = case
            .received_at
            .as_ref()
            .and_then(|ts| DateTime::from_timestamp(ts.seconds, 0))
            .map(|at| self.calendar.local_date(at));
        context.received_on = match kind {
            NotifyKind::ReviewAcknowledgement => Some(today),
            _ => received,
        };
        if matches!(kind, NotifyKind::StageResponse | NotifyKind::FinalResponse) {
            let response = case
                .responses
                .iter()
                .rev()
                .find(|r| r.stage == stage_to_proto(stage))
                .ok_or_else(|| Failure::Permanent(format!("the case has no {stage} response")))?;
            let root_cause = self
                .policy
                .root_cause(&response.root_cause)
                .map_or_else(|| response.root_cause.clone(), |c| c.label.clone());
            context.response = Some(ResponseDetails {
                finding: finding_from_proto(response.upheld).unwrap_or(Finding::NotUpheld),
                outcome: response.outcome.clone(),
                root_cause,
            });
            if kind == NotifyKind::StageResponse {
                let reviewer = match stage {
                    Stage::Stage1 => self.policy.stage_2.owner,
                    _ => self.policy.stage_3.owner,
                };
                context.review = Some(ReviewInvitation {
                    request_by: self
                        .calendar
                        .add_working_days(today, REVIEW_WINDOW_WORKING_DAYS),
                    reviewer,
                });
            } else {
                context.external_body = Some(self.policy.external_body.clone());
            }
        }
        Ok(context)
    }

    /// When the earliest queued notification falls due (it may be past), if
    /// any: the delivery loop sleeps until then.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, sea_orm::DbErr> {
        repo::next_due(&self.db).await
    }
}

/// A delivery error as staff may read it: alerts carry no personal data,
/// and a server's reply often quotes the address it refused. Keeps the SMTP
/// status code, if there is one, and the kind of failure.
fn without_personal_data(reason: &str) -> String {
    let code = reason
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 3 && matches!(part.as_bytes().first(), Some(b'4' | b'5')));
    match code {
        Some(code) if code.starts_with('5') => format!("the mail server refused it (SMTP {code})"),
        Some(code) => format!("the mail server deferred it (SMTP {code})"),
        None if reason.contains("connect") || reason.contains("timed out") => {
            "the mail server could not be reached".to_owned()
        }
        None => "it could not be sent or written".to_owned(),
    }
}

/// 30 s, 1 min, 2 min ... capped at an hour.
fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 7)).unwrap_or(7);
    Duration::seconds((30 * 2_i64.pow(exponent)).min(3600))
}

/// Delivers `notification.case` messages to the case service's timeline.
#[derive(Debug, Clone)]
pub struct NoticeRelay {
    pub case: CasePeer,
}

#[async_trait::async_trait]
impl complaints_store::relay::Deliver for NoticeRelay {
    async fn deliver(
        &self,
        message: &complaints_store::entity::outbox::Model,
    ) -> Result<(), String> {
        let notice: NoticeDelivered = serde_json::from_str(&message.payload)
            .map_err(|e| format!("unreadable notice: {e}"))?;
        let result = self
            .case
            .record_notice(case_pb::RecordNoticeRequest {
                case_id: notice.case_id,
                notification_id: notice.notification_id,
                kind: complaints_rpc::mapping::notify_kind_name(notice.kind).to_owned(),
                stage: stage_to_proto(notice.stage),
                channel: notice.channel,
                route_note: notice.route_note,
                sent_at: Some(complaints_rpc::timestamp_to_proto(notice.sent_at)),
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(s)
                if matches!(
                    s.code(),
                    Code::NotFound | Code::FailedPrecondition | Code::InvalidArgument
                ) =>
            {
                tracing::warn!(code = ?s.code(), reason = s.message(), "notice not recorded on the case");
                Ok(())
            }
            Err(s) => Err(format!("case: {}: {}", s.code(), s.message())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::without_personal_data;

    #[test]
    fn a_delivery_error_in_an_alert_keeps_the_code_and_drops_the_address() {
        let refused = "550 5.1.1 <refuse@example.com>: recipient refused";
        let said = without_personal_data(refused);
        assert!(said.contains("550"), "{said}");
        assert!(!said.contains("example.com"), "{said}");
        assert!(without_personal_data("connection refused (connect)").contains("reached"));
    }
}
