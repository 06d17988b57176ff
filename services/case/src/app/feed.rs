//! Timeline events across cases, as `WatchCaseEvents` follows them.

use complaints_domain::case::{Step, authorize};
use complaints_domain::role::Actor;
use complaints_rpc::AppError;
use complaints_store::feed::{self, FeedCursor, FeedEvent};

use super::CaseApp;

impl CaseApp {
    /// Wakes whatever waits on a committed change: the outbox relay and the
    /// event feeds.
    pub(super) fn committed(&self) {
        self.outbox_wake.notify_one();
        self.committed.send_replace(());
    }

    /// A receiver that sees a change after each commit of this process
    /// (other replicas' commits are found by looking again).
    pub fn watch_commits(&self) -> tokio::sync::watch::Receiver<()> {
        self.committed.subscribe()
    }

    /// Up to `limit` events after `after`, in feed order, for a caller who
    /// may read cases.
    pub async fn events_after(
        &self,
        actor: &Actor,
        after: FeedCursor,
        limit: u64,
    ) -> Result<Vec<FeedEvent>, AppError> {
        authorize(actor.role, Step::Read)?;
        Ok(feed::events_after(&self.db, after, limit).await?)
    }
}
