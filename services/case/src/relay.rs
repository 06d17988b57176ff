//! Delivers the case service's outbox (`case.events`) to the escalation
//! service (clocks to start and settle) and the notification service
//! (notices to send, and the erasure of what its notifications hold about
//! an erased complainant). Both receivers are idempotent.

use complaints_domain::case::{DeadlineOutcome, Event, NotifyKind};
use complaints_proto::complaints::escalation::v1 as escalation_pb;
use complaints_proto::complaints::notification::v1 as notification_pb;
use complaints_rpc::mapping::{
    deadline_kind_to_proto, notify_kind_to_proto, role_to_proto, stage_to_proto,
};
use complaints_rpc::peers::{EscalationPeer, NotificationPeer};
use complaints_rpc::{date_to_proto, timestamp_to_proto};
use complaints_store::cases::CaseChanged;
use complaints_store::entity::outbox;
use complaints_store::relay::Deliver;

/// The receivers of case changes.
#[derive(Debug, Clone)]
pub struct CaseChangeDelivery {
    pub escalation: EscalationPeer,
    pub notification: NotificationPeer,
}

/// The escalation service's part of a change, if it has one: clocks to
/// start or settle, and who the case's alerts name.
pub fn clock_change(change: &CaseChanged) -> Option<escalation_pb::ApplyCaseChangeRequest> {
    if change.deadlines.is_empty() && change.settle.is_empty() && !change.reassigned() {
        return None;
    }
    Some(escalation_pb::ApplyCaseChangeRequest {
        case_id: change.case_id.to_string(),
        register_number: change.register_number.clone(),
        version: i64::try_from(change.version).unwrap_or(i64::MAX),
        policy_version: change.policy_version.clone(),
        start: change
            .deadlines
            .iter()
            .map(|due| escalation_pb::DeadlineStart {
                kind: deadline_kind_to_proto(due.kind),
                stage: stage_to_proto(due.stage),
                working_days: i32::try_from(due.working_days).unwrap_or(i32::MAX),
                due_date: Some(date_to_proto(due.due_date)),
                due_at: Some(timestamp_to_proto(due.due_at)),
                reason: due.reason.clone(),
                owner_role: due.owner_role.map(role_to_proto).unwrap_or_default(),
                escalation_role: due.escalation_role.map(role_to_proto).unwrap_or_default(),
                started_at: due.started_at.map(timestamp_to_proto),
            })
            .collect(),
        settle: change
            .settle
            .iter()
            .map(|(kind, outcome)| escalation_pb::DeadlineSettlement {
                kind: deadline_kind_to_proto(*kind),
                state: match outcome {
                    DeadlineOutcome::Met => escalation_pb::DeadlineState::Met,
                    DeadlineOutcome::Cancelled => escalation_pb::DeadlineState::Cancelled,
                } as i32,
            })
            .collect(),
        assignee: change.assignee.clone().unwrap_or_default(),
    })
}

/// The notification service's part of a change.
pub fn notices(change: &CaseChanged) -> Vec<notification_pb::RequestNotificationRequest> {
    let wrote_again = change
        .events
        .iter()
        .any(|event| matches!(event, Event::CorrespondenceReceived { .. }));
    change
        .notify
        .iter()
        .map(|notice| notification_pb::RequestNotificationRequest {
            case_id: change.case_id.to_string(),
            kind: notify_kind_to_proto(notice.kind),
            stage: stage_to_proto(notice.stage),
            to_role: notice.to_role.map(role_to_proto).unwrap_or_default(),
            reason: notice.reason.clone().unwrap_or_default(),
            // Alerts about the same stage and role but a different change
            // (a second escalation) are new notifications.
            deadline_kind: change
                .respond_due
                .as_ref()
                .map(|d| deadline_kind_to_proto(d.kind))
                .unwrap_or_default(),
            due_date: change
                .respond_due
                .as_ref()
                .map(|d| date_to_proto(d.due_date)),
            alert_level: match notice.kind {
                // The complainant's further email (AddCorrespondence).
                NotifyKind::InternalAlert if wrote_again => {
                    notification_pb::AlertLevel::Correspondence as i32
                }
                NotifyKind::InternalAlert => notification_pb::AlertLevel::Assigned as i32,
                _ => 0,
            },
            assignee: match notice.kind {
                NotifyKind::InternalAlert => change.assignee.clone().unwrap_or_default(),
                _ => String::new(),
            },
            dedupe_key: match notice.kind {
                NotifyKind::InternalAlert => format!(
                    "{}/alert/{}/v{}",
                    change.case_id,
                    notice.to_role.map_or("none", |r| r.as_str()),
                    change.version
                ),
                _ => String::new(),
            },
        })
        .collect()
}

/// The notification service's erasure, when the change erased the
/// complainant: their name and contact details are in the notifications'
/// recipients and contents and in the files written for them.
pub fn notification_erasure(
    change: &CaseChanged,
) -> Option<notification_pb::EraseCaseNotificationsRequest> {
    change
        .events
        .iter()
        .any(|event| matches!(event, Event::ComplainantErased { .. }))
        .then(|| notification_pb::EraseCaseNotificationsRequest {
            case_id: change.case_id.to_string(),
        })
}

#[async_trait::async_trait]
impl Deliver for CaseChangeDelivery {
    async fn deliver(&self, message: &outbox::Model) -> Result<(), String> {
        let change: CaseChanged = serde_json::from_str(&message.payload)
            .map_err(|e| format!("unreadable case change: {e}"))?;
        if let Some(request) = clock_change(&change) {
            self.escalation
                .apply_case_change(request)
                .await
                .map_err(|s| format!("escalation: {}: {}", s.code(), s.message()))?;
        }
        for request in notices(&change) {
            self.notification
                .request_notification(request)
                .await
                .map_err(|s| format!("notification: {}: {}", s.code(), s.message()))?;
        }
        if let Some(request) = notification_erasure(&change) {
            self.notification
                .erase_case_notifications(request)
                .await
                .map_err(|s| format!("notification erasure: {}: {}", s.code(), s.message()))?;
        }
        Ok(())
    }
}
