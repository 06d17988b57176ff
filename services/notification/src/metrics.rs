//! The notification service's metrics, present from the first scrape.

use std::sync::Arc;

use complaints_domain::case::NotifyKind;
use complaints_domain::clock::Clock;
use complaints_rpc::metrics::{GROUP_COMMIT_BATCH, OutboxGauges, preregister};
use complaints_store::DatabaseConnection;

use crate::entity::DeliveryChannel;
use crate::relay::CASE_TOPIC;

/// Makes every series this service reports exist at 0, and returns the
/// worker that measures its outbox backlog.
pub(crate) fn register(db: DatabaseConnection, clock: Arc<dyn Clock>) -> OutboxGauges {
    for kind in NotifyKind::ALL {
        let kind = kind.as_str();
        for channel in DeliveryChannel::ALL {
            preregister(
                "complaints_notifications_sent_total",
                &[("kind", kind), ("channel", channel.as_str())],
            );
        }
        preregister("complaints_notifications_failed_total", &[("kind", kind)]);
        preregister("complaints_notification_retries_total", &[("kind", kind)]);
    }
    for name in [
        "complaints_notifications_pending",
        "complaints_notification_leases_lost_total",
    ] {
        preregister(name, &[]);
    }
    for name in [
        crate::grpc::REQUESTS,
        crate::delivery::record::RECORDS,
        crate::delivery::fence::FENCES,
    ] {
        preregister(GROUP_COMMIT_BATCH, &[("name", name)]);
    }
    OutboxGauges::new(db, clock, &[CASE_TOPIC])
}
