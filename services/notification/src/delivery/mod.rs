//! Delivery: the worker that claims queued notifications under a lease and
//! turns each into an email or a letter, and the loop that runs it.
//!
//! One attempt is in [`attempt`], what it reads from the case in
//! [`context`], and what happens when it fails in [`failure`].

mod attempt;
mod context;
mod failure;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use complaints_domain::calendar::Calendar;
use complaints_domain::case::NotifyKind;
use complaints_domain::policy::Policy;
use complaints_notify::{EmailSettings, LetterWriter, Mailer, Renderer};
use complaints_rpc::peers::CasePeer;
use sea_orm::DatabaseConnection;

use crate::entity;
use crate::repo;

const LEASE_SECONDS: i64 = 120;
const CLAIM_BATCH: u64 = 50;

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
    /// Woken when a sent notice is queued for the case timeline: the
    /// notices relay's wake-up.
    pub outbox_wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("mailer", &self.mailer)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
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

    /// One attempt at a claimed notification, and its record.
    async fn deliver_one(&self, n: entity::Model) -> Result<(), sea_orm::DbErr> {
        let now = self.clock.now();
        match self.attempt(&n, now).await {
            Ok(sent) => self.record_sent(&n, sent, now).await,
            Err(failure) => self.record_failure(&n, failure, now).await,
        }
    }

    /// When the earliest queued notification falls due (it may be past), if
    /// any: the delivery loop sleeps until then.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, sea_orm::DbErr> {
        repo::next_due(&self.db).await
    }
}

/// A notification's kind as a metric label: one of a closed set.
fn kind_label(n: &entity::Model) -> &'static str {
    n.kind().map_or("unknown", NotifyKind::as_str)
}

/// Runs delivery passes until `shutdown`: at once when woken, else when the
/// next retry falls due (re-checking at least every few seconds for
/// notifications queued by other replicas).
pub async fn run_delivery(
    delivery: &Delivery,
    wake: &tokio::sync::Notify,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        if let Err(error) = delivery.deliver_due().await {
            tracing::error!(%error, "delivery pass failed");
        }
        let pause = match delivery.next_due().await {
            Ok(Some(at)) => (at - delivery.clock.now())
                .to_std()
                .unwrap_or_default()
                .clamp(
                    std::time::Duration::from_millis(200),
                    std::time::Duration::from_secs(5),
                ),
            _ => std::time::Duration::from_secs(5),
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}
