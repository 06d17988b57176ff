//! The escalation service's outbox: notices for the notification service
//! (`escalation.notify`) and steps for the case service (`escalation.case`).

use std::sync::Arc;

use complaints_domain::policy::Stage;
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::notification::v1 as notification_pb;
use complaints_rpc::mapping::{role_to_proto, stage_to_proto};
use complaints_rpc::peers::{CasePeer, NotificationPeer};
use complaints_store::entity::outbox;
use complaints_store::relay::Deliver;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tonic::Code;

pub const NOTIFY_TOPIC: &str = "escalation.notify";
pub const CASE_TOPIC: &str = "escalation.case";

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    ReferralUpdate,
    InternalAlert,
    /// A deadline moved: `deadline` names it with its new due date.
    Extension,
    /// A resolution date passed: `deadline` carries when the complainant
    /// hears from us next.
    HoldingUpdate,
}

/// A notification the escalation service asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertRequest {
    pub case_id: String,
    #[serde(default)]
    pub deadline: Option<(complaints_domain::case::DeadlineKind, chrono::NaiveDate)>,
    #[serde(default)]
    pub breach: bool,
    pub kind: NoticeKind,
    pub stage: Stage,
    pub to_role: Option<Role>,
    /// The person the case is assigned to, named on the alert besides
    /// `to_role`.
    #[serde(default)]
    pub assignee: Option<String>,
    pub reason: String,
    pub dedupe_key: String,
}

/// A move of a case's clocks, as the case's timeline records it
/// (`CaseService/RecordClockChange`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ClockMove {
    Extended {
        deadline: complaints_domain::case::DeadlineKind,
        extra_working_days: u32,
        previous_due_date: chrono::NaiveDate,
        due_date: chrono::NaiveDate,
    },
    Paused,
    Resumed {
        paused_working_days: u32,
    },
}

/// A step the escalation service takes on a case.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum CaseRequest {
    /// Stage 2 clock broken: the review goes to the Operations Lead
    /// (docs/policy.md, Stage 2, R5).
    EscalateWithinStage {
        case_id: String,
        request_id: String,
        reason: String,
    },
    /// Staff moved the case's clocks: the case's timeline records it, with
    /// `requested_by` (the person's token subject). `request_id` is
    /// `<deadline or case id>/<change id>`, so a redelivery records nothing
    /// more.
    RecordClockChange {
        case_id: String,
        request_id: String,
        clock_move: ClockMove,
        reason: String,
        requested_by: String,
    },
}

/// Wakes the relays of both topics after a commit that wrote to the
/// outbox. One `Notify` per topic: each relay keeps its own wake-up (a
/// permit, if it was busy), so a write for one topic never leaves the other
/// relay asleep until its re-check.
#[derive(Debug, Clone, Default)]
pub struct OutboxWake {
    notify: Arc<Notify>,
    case: Arc<Notify>,
}

impl OutboxWake {
    /// Wakes both relays.
    pub fn wake_all(&self) {
        self.notify.notify_one();
        self.case.notify_one();
    }

    /// The wake-up of `topic`'s relay.
    pub fn of_topic(&self, topic: &str) -> Arc<Notify> {
        if topic == CASE_TOPIC {
            self.case.clone()
        } else {
            self.notify.clone()
        }
    }
}

/// Delivers both topics.
#[derive(Debug, Clone)]
pub struct EscalationDelivery {
    pub notification: NotificationPeer,
    pub case: CasePeer,
}

#[async_trait::async_trait]
impl Deliver for EscalationDelivery {
    async fn deliver(&self, message: &outbox::Model) -> Result<(), String> {
        match message.topic.as_str() {
            NOTIFY_TOPIC => {
                let alert: AlertRequest = serde_json::from_str(&message.payload)
                    .map_err(|e| format!("unreadable notice request: {e}"))?;
                let kind = match alert.kind {
                    NoticeKind::ReferralUpdate => notification_pb::NotificationKind::ReferralUpdate,
                    NoticeKind::InternalAlert => notification_pb::NotificationKind::InternalAlert,
                    NoticeKind::Extension => notification_pb::NotificationKind::Extension,
                    NoticeKind::HoldingUpdate => notification_pb::NotificationKind::HoldingUpdate,
                };
                self.notification
                    .request_notification(notification_pb::RequestNotificationRequest {
                        case_id: alert.case_id,
                        kind: kind as i32,
                        stage: stage_to_proto(alert.stage),
                        to_role: alert.to_role.map(role_to_proto).unwrap_or_default(),
                        reason: alert.reason,
                        dedupe_key: alert.dedupe_key,
                        deadline_kind: alert
                            .deadline
                            .map(|(kind, _)| complaints_rpc::mapping::deadline_kind_to_proto(kind))
                            .unwrap_or_default(),
                        due_date: alert
                            .deadline
                            .map(|(_, due)| complaints_rpc::date_to_proto(due)),
                        alert_level: match (alert.kind, alert.breach) {
                            (NoticeKind::InternalAlert, true) => {
                                notification_pb::AlertLevel::Breach as i32
                            }
                            (NoticeKind::InternalAlert, false) => {
                                notification_pb::AlertLevel::Warning as i32
                            }
                            _ => 0,
                        },
                        assignee: alert.assignee.unwrap_or_default(),
                    })
                    .await
                    .map(drop)
                    .map_err(|s| format!("notification: {}: {}", s.code(), s.message()))
            }
            CASE_TOPIC => {
                let request: CaseRequest = serde_json::from_str(&message.payload)
                    .map_err(|e| format!("unreadable case request: {e}"))?;
                match request {
                    CaseRequest::EscalateWithinStage {
                        case_id,
                        request_id,
                        reason,
                    } => {
                        let result = self
                            .case
                            .escalate_within_stage(case_pb::EscalateWithinStageRequest {
                                case_id,
                                request_id,
                                reason,
                            })
                            .await;
                        // Already escalated, answered or closed meanwhile:
                        // nothing left to do.
                        case_answer(
                            result.map(drop),
                            message,
                            "escalate_within_stage",
                            "automatic escalation not needed",
                        )
                    }
                    CaseRequest::RecordClockChange {
                        case_id,
                        request_id,
                        clock_move,
                        reason,
                        requested_by,
                    } => {
                        let result = self
                            .case
                            .record_clock_change(clock_change_request(
                                case_id,
                                request_id,
                                clock_move,
                                reason,
                                requested_by,
                            ))
                            .await;
                        // Closed meanwhile: its timeline takes nothing more.
                        case_answer(
                            result.map(drop),
                            message,
                            "record_clock_change",
                            "clock change not recorded on the case",
                        )
                    }
                }
            }
            other => Err(format!("unknown topic {other:?}")),
        }
    }
}

/// The case service does not know the case (NOT_FOUND): asking again will
/// not change that, so the request is not retried. It stays in the outbox,
/// marked delivered, as the record of what was asked; the log line and
/// `complaints_outbox_given_up_total` tell staff it was not taken.
/// What the case service's answer to `step` means for the outbox row: done
/// when it took it or the case's state no longer calls for it
/// (FAILED_PRECONDITION, logged as `not_needed`), given up on when the case
/// is unknown, tried again otherwise.
fn case_answer(
    result: Result<(), tonic::Status>,
    message: &outbox::Model,
    step: &'static str,
    not_needed: &'static str,
) -> Result<(), String> {
    match result {
        Ok(()) => Ok(()),
        Err(s) if s.code() == Code::FailedPrecondition => {
            tracing::info!(reason = s.message(), "{not_needed}");
            Ok(())
        }
        Err(s) if s.code() == Code::NotFound => {
            give_up(message, step, &s);
            Ok(())
        }
        Err(s) => Err(format!("case: {}: {}", s.code(), s.message())),
    }
}

fn give_up(message: &outbox::Model, step: &'static str, status: &tonic::Status) {
    tracing::error!(
        topic = CASE_TOPIC,
        message_id = message.id,
        step,
        reason = status.message(),
        "the case service does not know the case; the request is not retried"
    );
    metrics::counter!(
        "complaints_outbox_given_up_total",
        "topic" => CASE_TOPIC,
        "step" => step,
    )
    .increment(1);
}

fn clock_change_request(
    case_id: String,
    request_id: String,
    clock_move: ClockMove,
    reason: String,
    requested_by: String,
) -> case_pb::RecordClockChangeRequest {
    let mut request = case_pb::RecordClockChangeRequest {
        case_id,
        request_id,
        reason,
        requested_by,
        ..Default::default()
    };
    match clock_move {
        ClockMove::Extended {
            deadline,
            extra_working_days,
            previous_due_date,
            due_date,
        } => {
            request.change = case_pb::ClockChangeKind::Extended as i32;
            request.deadline_kind = complaints_rpc::mapping::deadline_kind_to_proto(deadline);
            request.extra_working_days = i32::try_from(extra_working_days).unwrap_or(i32::MAX);
            request.previous_due_date = Some(complaints_rpc::date_to_proto(previous_due_date));
            request.due_date = Some(complaints_rpc::date_to_proto(due_date));
        }
        ClockMove::Paused => request.change = case_pb::ClockChangeKind::Paused as i32,
        ClockMove::Resumed {
            paused_working_days,
        } => {
            request.change = case_pb::ClockChangeKind::Resumed as i32;
            request.paused_working_days = i32::try_from(paused_working_days).unwrap_or(i32::MAX);
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use complaints_domain::case::DeadlineKind;

    use super::*;

    #[test]
    fn an_extension_reaches_the_case_service_as_the_outbox_stored_it() {
        let request = CaseRequest::RecordClockChange {
            case_id: "case-1".into(),
            request_id: "deadline-1/extend-ab".into(),
            clock_move: ClockMove::Extended {
                deadline: DeadlineKind::Resolve,
                extra_working_days: 3,
                previous_due_date: NaiveDate::from_ymd_opt(2032, 12, 29).unwrap(),
                due_date: NaiveDate::from_ymd_opt(2033, 1, 4).unwrap(),
            },
            reason: "waiting for the engineer".into(),
            requested_by: "hana".into(),
        };
        let stored = serde_json::to_string(&request).unwrap();
        let Ok(CaseRequest::RecordClockChange {
            case_id,
            request_id,
            clock_move,
            reason,
            requested_by,
        }) = serde_json::from_str(&stored)
        else {
            panic!("unreadable: {stored}");
        };
        let sent = clock_change_request(case_id, request_id, clock_move, reason, requested_by);
        assert_eq!(
            sent,
            case_pb::RecordClockChangeRequest {
                case_id: "case-1".into(),
                request_id: "deadline-1/extend-ab".into(),
                change: case_pb::ClockChangeKind::Extended as i32,
                reason: "waiting for the engineer".into(),
                requested_by: "hana".into(),
                deadline_kind: complaints_proto::complaints::common::v1::DeadlineKind::Resolve
                    as i32,
                extra_working_days: 3,
                previous_due_date: Some(complaints_rpc::date_to_proto(
                    NaiveDate::from_ymd_opt(2032, 12, 29).unwrap()
                )),
                due_date: Some(complaints_rpc::date_to_proto(
                    NaiveDate::from_ymd_opt(2033, 1, 4).unwrap()
                )),
                paused_working_days: 0,
            }
        );
    }

    /// Whether `notify` holds a wake-up: a permit makes `notified` ready at
    /// its first poll.
    async fn woken(notify: &tokio::sync::Notify) -> bool {
        tokio::select! {
            biased;
            () = notify.notified() => true,
            () = std::future::ready(()) => false,
        }
    }

    #[tokio::test]
    async fn a_commit_wakes_the_relays_of_both_topics() {
        let wake = OutboxWake::default();
        let (notify, case) = (wake.of_topic(NOTIFY_TOPIC), wake.of_topic(CASE_TOPIC));
        assert!(!woken(&notify).await && !woken(&case).await);
        // Both relays busy (not waiting) when the commit wakes them.
        wake.wake_all();
        assert!(woken(&notify).await, "the notices relay slept on");
        assert!(woken(&case).await, "the case relay slept on");
    }

    /// The case service's answer decides the outbox row: taken, or no
    /// longer called for, or about a case it does not know (given up: a
    /// retry cannot succeed), is done; anything else is tried again.
    #[test]
    fn an_unknown_case_is_given_up_and_an_outage_is_retried() {
        let message = outbox::Model {
            id: 7,
            topic: CASE_TOPIC.into(),
            aggregate_id: uuid::Uuid::nil(),
            payload: "{}".into(),
            created_at: chrono::Utc::now(),
            available_at: chrono::Utc::now(),
            attempts: 0,
            delivered_at: None,
            last_error: None,
            trace_context: None,
        };
        let answer = |result| case_answer(result, &message, "stage_review", "not needed");
        assert_eq!(answer(Ok(())), Ok(()));
        assert_eq!(
            answer(Err(tonic::Status::failed_precondition("already closed"))),
            Ok(())
        );
        assert_eq!(
            answer(Err(tonic::Status::not_found("no such case"))),
            Ok(())
        );
        for retried in [
            tonic::Status::unavailable("case down"),
            tonic::Status::deadline_exceeded("slow"),
            tonic::Status::internal("bug"),
            tonic::Status::resource_exhausted("shed"),
        ] {
            let code = retried.code();
            let answer = answer(Err(retried));
            assert!(
                answer
                    .as_ref()
                    .is_err_and(|e| e.contains(&format!("{code}"))),
                "{code:?} must be retried: {answer:?}"
            );
        }
    }

    #[test]
    fn a_resume_carries_the_working_days_paused_and_no_dates() {
        let sent = clock_change_request(
            "case-1".into(),
            "case-1/resume-1".into(),
            ClockMove::Resumed {
                paused_working_days: 2,
            },
            "home again".into(),
            "hana".into(),
        );
        assert_eq!(sent.change, case_pb::ClockChangeKind::Resumed as i32);
        assert_eq!(sent.paused_working_days, 2);
        assert_eq!(sent.due_date, None);
        assert_eq!(sent.deadline_kind, 0);
    }
}
