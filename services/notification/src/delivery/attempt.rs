//! One delivery attempt: render the message, choose its route, renew the
//! lease, send the email or write the letter, and record it as sent
//! (queueing the notice for the case timeline).

use chrono::{DateTime, Utc};
use complaints_domain::case::NotifyKind;
use complaints_domain::complainant::Complainant;
use complaints_domain::role::Role;
use complaints_domain::values::EmailAddress;
use complaints_notify::{
    LetterAddress, NotificationId, Route, build_email_in_thread, choose_route_for, render_letter,
};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_rpc::mapping::raw_complainant;
use complaints_store::outbox::OutboxMessage;

use super::failure::Failure;
use super::record::SentRecord;
use super::{Delivery, kind_label};
use crate::entity::{self, DeliveryChannel};
use crate::relay::{CASE_TOPIC, NoticeDelivered};
use crate::repo::Sent;

impl Delivery {
    /// One delivery attempt: what was sent, or why not.
    pub(super) async fn attempt(
        &self,
        n: &entity::Model,
        now: DateTime<Utc>,
    ) -> Result<Sent, Failure> {
        let kind = n
            .kind()
            .ok_or_else(|| Failure::Permanent(format!("unknown kind {:?}", n.kind)))?;
        let stage = n
            .stage()
            .ok_or_else(|| Failure::Permanent(format!("unknown stage {:?}", n.stage)))?;
        let case = self.read_case(n).await?;
        let context = self.context(n, kind, stage, &case, now)?;
        let rendered = self
            .renderer
            .render(kind, &context)
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let id = NotificationId::parse(&n.notification_id)
            .map_err(|e| Failure::Permanent(e.to_string()))?;

        let (route, route_note, name) = self.route(n, kind, &case)?;
        match route {
            Route::Email { to } => {
                // The complainant's emails answer the one the case came in,
                // so that they thread in their mail client; staff alerts
                // stand alone.
                let thread = (kind != NotifyKind::InternalAlert)
                    .then_some(case.thread_message_id.as_str())
                    .filter(|id| !id.is_empty());
                let email =
                    build_email_in_thread(&self.email, &id, &name, &to, &rendered, now, thread)
                        .map_err(|e| Failure::Permanent(e.to_string()))?;
                // Only while this worker still holds the notification.
                self.fence(n).await?;
                self.holding(n, self.mailer.send(&email))
                    .await
                    .map_err(|e| {
                        if e.is_transient() {
                            Failure::Transient(e.reason().to_owned())
                        } else {
                            Failure::Permanent(e.reason().to_owned())
                        }
                    })?;
                Ok(Sent {
                    channel: DeliveryChannel::Email,
                    recipient: to.as_str().to_owned(),
                    route_note,
                    subject: rendered.subject.clone(),
                    content_type: "text/plain; charset=utf-8".to_owned(),
                    body: rendered.text.clone().into_bytes(),
                    at: now,
                })
            }
            Route::Post { address } => {
                let to = LetterAddress::new(name, &address);
                let pdf = render_letter(&rendered, &to, self.calendar.local_date(now));
                self.fence(n).await?;
                self.holding(n, self.letters.write(&id, &pdf))
                    .await
                    .map_err(|e| Failure::Transient(e.to_string()))?;
                Ok(Sent {
                    channel: DeliveryChannel::Post,
                    recipient: format!("{}, {}", to.name, to.lines.join(", ")),
                    route_note,
                    subject: rendered.subject.clone(),
                    content_type: "application/pdf".to_owned(),
                    body: pdf,
                    at: now,
                })
            }
        }
    }

    /// Where the message goes, why that way if it is not the complainant's
    /// preference, and the name to address it to. An internal alert goes
    /// by email to the alerted role's staff mailbox.
    fn route(
        &self,
        n: &entity::Model,
        kind: NotifyKind,
        case: &case_pb::Case,
    ) -> Result<(Route, Option<String>, String), Failure> {
        if kind == NotifyKind::InternalAlert {
            if let Some(assignee) = n.details().assignee {
                match self.staff_mailbox(&assignee) {
                    Some(to) => return Ok((Route::Email { to }, None, assignee)),
                    None => tracing::warn!(
                        notification_id = %n.notification_id,
                        "the assignee has no usable staff mailbox; the alert goes to the role's"
                    ),
                }
            }
            let role = n
                .to_role
                .as_deref()
                .unwrap_or(Role::ComplaintsHandler.as_str());
            let to = EmailAddress::parse(&format!("{role}@{}", self.staff_domain))
                .map_err(|e| Failure::Permanent(e.to_string()))?;
            return Ok((Route::Email { to }, None, role.replace('_', " ")));
        }
        let complainant =
            Complainant::parse(raw_complainant(case.complainant.as_ref())).map_err(|_| {
                Failure::Permanent("the complainant has no usable contact details".to_owned())
            })?;
        let choice =
            choose_route_for(&complainant).map_err(|e| Failure::Permanent(e.to_string()))?;
        let note = choice.fell_back_from.map(|_| choice.reason.clone());
        Ok((
            choice.route,
            note,
            complainant.full_name().as_str().to_owned(),
        ))
    }

    /// A staff member's mailbox from their token subject: the subject
    /// itself when it is an email address, else `<subject>@<staff domain>`.
    fn staff_mailbox(&self, subject: &str) -> Option<EmailAddress> {
        EmailAddress::parse(subject)
            .or_else(|_| EmailAddress::parse(&format!("{subject}@{}", self.staff_domain)))
            .ok()
    }

    /// Records a delivered notification and, unless it was an internal
    /// alert, queues the notice for the case timeline in the same
    /// transaction, shared with the other records that arrive together
    /// (see [`super::record`]).
    pub(super) async fn record_sent(
        &self,
        n: &entity::Model,
        sent: Sent,
        now: DateTime<Utc>,
    ) -> Result<(), sea_orm::DbErr> {
        let channel = sent.channel;
        let notice = match (n.kind(), n.stage()) {
            (Some(kind), Some(stage)) if kind != NotifyKind::InternalAlert => {
                // An email's Message-ID and subject, for the case's
                // correspondence; a letter has neither.
                let (message_id, subject) = match channel {
                    DeliveryChannel::Email => (
                        NotificationId::parse(&n.notification_id)
                            .map(|id| self.email.message_id(&id))
                            .unwrap_or_default(),
                        sent.subject.clone(),
                    ),
                    DeliveryChannel::Post => (String::new(), String::new()),
                };
                let notice = NoticeDelivered {
                    case_id: n.case_id.to_string(),
                    notification_id: n.notification_id.clone(),
                    kind,
                    stage,
                    channel,
                    route_note: sent.route_note.clone().unwrap_or_default(),
                    sent_at: sent.at,
                    message_id,
                    subject,
                };
                Some(
                    OutboxMessage::json(CASE_TOPIC, n.case_id, &notice)
                        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?,
                )
            }
            _ => None,
        };
        let record = SentRecord {
            notification_id: n.notification_id.clone(),
            worker: self.worker.clone(),
            sent,
            notice,
            now,
        };
        let marked = self
            .records
            .submit(record)
            .await
            .map_err(|abandoned| sea_orm::DbErr::Custom(abandoned.to_string()))??;
        if marked {
            metrics::counter!(
                "complaints_notifications_sent_total",
                "kind" => kind_label(n),
                "channel" => channel.as_str(),
            )
            .increment(1);
        }
        tracing::info!(notification_id = %n.notification_id, kind = %n.kind, "notification sent");
        Ok(())
    }
}
