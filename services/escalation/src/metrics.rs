//! The escalation service's metrics, present from the first scrape.

use std::sync::Arc;

use complaints_domain::case::DeadlineKind;
use complaints_domain::clock::Clock;
use complaints_rpc::metrics::{GROUP_COMMIT_BATCH, OutboxGauges, preregister};
use complaints_store::DatabaseConnection;

use crate::relay::{CASE_TOPIC, NOTIFY_TOPIC};

/// Makes every series this service reports exist at 0, and returns the
/// worker that measures its outbox backlog.
pub(crate) fn register(db: DatabaseConnection, clock: Arc<dyn Clock>) -> OutboxGauges {
    for kind in DeadlineKind::ALL {
        preregister(
            "complaints_deadlines_breached_total",
            &[("kind", kind.as_str())],
        );
    }
    for name in [
        "complaints_deadlines_pending",
        "complaints_deadline_firing_lag_seconds",
        "complaints_deadline_index_degraded",
    ] {
        preregister(name, &[]);
    }
    preregister(GROUP_COMMIT_BATCH, &[("name", crate::app::CASE_CHANGES)]);
    OutboxGauges::new(db, clock, &[NOTIFY_TOPIC, CASE_TOPIC])
}
