//! The notices relay: delivered notices, which delivery queues in the
//! outbox under [`CASE_TOPIC`], carried to the case service's timeline.

use chrono::{DateTime, Utc};
use complaints_domain::case::NotifyKind;
use complaints_domain::policy::Stage;
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_rpc::mapping::stage_to_proto;
use complaints_rpc::peers::CasePeer;
use serde::{Deserialize, Serialize};
use tonic::Code;

use crate::entity::DeliveryChannel;

/// The outbox topic of delivered notices, for the case timeline.
pub const CASE_TOPIC: &str = "notification.case";

/// A delivered notice, for the case service's timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeDelivered {
    pub case_id: String,
    pub notification_id: String,
    pub kind: NotifyKind,
    pub stage: Stage,
    pub channel: DeliveryChannel,
    pub route_note: String,
    pub sent_at: DateTime<Utc>,
    /// An email's `Message-ID` (`<notification_id@mail domain>`); empty for
    /// a letter, and in messages queued before it was kept.
    #[serde(default)]
    pub message_id: String,
    /// An email's subject; empty for a letter.
    #[serde(default)]
    pub subject: String,
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
                channel: notice.channel.as_str().to_owned(),
                route_note: notice.route_note,
                sent_at: Some(complaints_rpc::timestamp_to_proto(notice.sent_at)),
                message_id: notice.message_id,
                // The case service knows its complainant's address; it is
                // not copied into this outbox.
                recipient: String::new(),
                subject: notice.subject,
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
