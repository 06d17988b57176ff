//! [`EscalationApp`], the escalation service's one shared state, with its
//! constructor and read accessors. Applying case changes is in `scheduling`,
//! firing deadlines in `firing`, the words sent in `alerts`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use complaints_deadlines::clock_versions::{self, Applied, CaseChange};
use complaints_deadlines::{Deadline, DeadlineQueue, QueueError, WorkerId};
use complaints_domain::calendar::Calendar;
use complaints_domain::case::CaseId;
use complaints_domain::clock::Clock;
use complaints_domain::policy::ExtensionPolicy;
use complaints_rpc::peers::CasePeer;
use complaints_store::group_commit::{self, GroupCommit};

use crate::relay::OutboxWake;

/// How long a worker holds a claimed deadline before another may take it,
/// by default: long enough for a slow peer call, short enough that a crashed
/// worker's deadlines are taken over within a minute.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The escalation service: the deadline queue, the calendar its clocks run
/// on, and the case service it reads. Clones share everything.
#[derive(Clone)]
pub struct EscalationApp {
    pub(crate) queue: Arc<dyn DeadlineQueue>,
    pub(crate) calendar: Arc<Calendar>,
    pub(crate) warn_before_working_days: u32,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) case: CasePeer,
    pub(crate) worker: WorkerId,
    pub(crate) lease: Duration,
    pub(crate) outbox_wake: OutboxWake,
    /// Who may move clocks and by how much, and when a complainant whose
    /// resolution date passed hears next: the policy in force.
    pub(crate) extensions: ExtensionPolicy,
    /// When the pending-deadlines gauge was last counted (see
    /// `EscalationApp::record_pending`).
    pub(crate) pending_counted: Arc<complaints_telemetry::AtMostEvery>,
    /// Case changes, applied together when they arrive together.
    pub(crate) case_changes: Arc<CaseChanges>,
}

/// The escalation service's group commit of case changes.
pub(crate) type CaseChanges = GroupCommit<CaseChange, Result<Applied, QueueError>>;

/// The group commit of case changes, as its metric names it.
pub(crate) const CASE_CHANGES: &str = "escalation.case_change";

/// The group commit of case changes to `queue`'s clocks.
fn case_changes(queue: &Arc<dyn DeadlineQueue>) -> Arc<CaseChanges> {
    let writers = group_commit::writers_for(queue.database());
    let queue = queue.clone();
    GroupCommit::new(
        CASE_CHANGES,
        writers,
        group_commit::MAX_BATCH,
        move |batch| {
            let queue = queue.clone();
            async move { clock_versions::apply_all(queue.as_ref(), batch).await }
        },
    )
}

impl std::fmt::Debug for EscalationApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscalationApp")
            .field("queue", &self.queue)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

impl EscalationApp {
    pub fn new(
        queue: Arc<dyn DeadlineQueue>,
        calendar: Calendar,
        warn_before_working_days: u32,
        clock: Arc<dyn Clock>,
        case: CasePeer,
    ) -> Self {
        Self {
            case_changes: case_changes(&queue),
            queue,
            calendar: Arc::new(calendar),
            warn_before_working_days,
            clock,
            case,
            worker: WorkerId::unique("escalation"),
            lease: DEFAULT_LEASE,
            outbox_wake: OutboxWake::default(),
            extensions: ExtensionPolicy::default(),
            pending_counted: Arc::new(complaints_telemetry::AtMostEvery::new(
                crate::firing::PENDING_GAUGE_EVERY,
            )),
        }
    }

    /// The same service under another policy for moving clocks.
    pub fn with_extensions(mut self, extensions: ExtensionPolicy) -> Self {
        self.extensions = extensions;
        self
    }

    /// The same service with another lease length.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub fn queue(&self) -> &Arc<dyn DeadlineQueue> {
        &self.queue
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// What wakes the outbox relays after a commit that wrote to the outbox.
    pub fn outbox_wake(&self) -> &OutboxWake {
        &self.outbox_wake
    }

    /// Soonest-due first, everything known for a case.
    pub async fn deadlines_of(&self, case_id: CaseId) -> Result<Vec<Deadline>, QueueError> {
        self.queue.get(case_id).await
    }

    /// The end of the next working day after today: "due soon" by default.
    pub fn end_of_next_working_day(&self) -> DateTime<Utc> {
        let today: NaiveDate = self.calendar.local_date(self.clock.now());
        self.calendar
            .end_of_day(self.calendar.add_working_days(today, 1))
    }
}
