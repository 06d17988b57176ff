//! Delivery: the worker that claims queued notifications under a lease
//! and turns each into an email or a letter, and the loop that runs it.
//!
//! One attempt is in [`attempt`], what it reads from the case in
//! [`context`], and what happens when it fails in [`failure`].
//!
//! A worker keeps up to [`Delivery::concurrency`] notifications in flight at
//! once: a send spends nearly all its time waiting on the relay, so one at
//! a time would cap a replica at one message per relay round trip. Each
//! notification in flight follows the same rules as if it were alone.
//!
//! Three rules keep replicas from sending the same message twice:
//! - a worker claims a few notifications at a time
//!   ([`Delivery::claim_batch`]), and renews its lease on each right before
//!   sending it, sending only if the lease was still its own
//!   (`repo::renew_leases`; sends that start together renew together,
//!   [`fence`]);
//! - while a send is in flight the worker keeps renewing that lease, every
//!   third of it ([`Delivery::holding`]), so a relay slower than the lease
//!   never lets another replica take the message over mid-send; a worker
//!   that dies stops renewing, and the message is taken over one lease
//!   later;
//! - once sent, the worker records it even through a database outage,
//!   trying again for as long as [`RECORD_FOR`] allows, so a message sent
//!   just as the database went away is not sent again when its lease ends.
//!   The record is marked only while the lease is still the worker's;
//!   records of sends that end together share one transaction
//!   ([`record`]).
//!
//! A case's notifications are sent one at a time, in the order they were
//! requested, whichever replicas send them (`repo::claim_due`): the
//! complainant reads the acknowledgement before the response, and the
//! case's timeline lists them in that order.
//!
//! What no worker can know is whether a relay that never answered the end
//! of a message (`COMPLAINTS_SMTP_TIMEOUT_SECONDS`, five minutes by
//! default, as RFC 5321 advises) took it: such a message is tried again,
//! with the same Message-ID, so the recipient's mail client shows it once.

mod attempt;
mod context;
mod failure;
pub mod fence;
pub mod record;

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::future::OptionFuture;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use tracing::Instrument as _;

use chrono::{DateTime, Duration, Utc};
use complaints_domain::calendar::Calendar;
use complaints_domain::case::NotifyKind;
use complaints_domain::policy::Policy;
use complaints_notify::{EmailSettings, LetterWriter, Mailer, Renderer};
use complaints_rpc::peers::CasePeer;
use complaints_rpc::service::Stop;
use sea_orm::DatabaseConnection;

use crate::entity;
use crate::repo;

use failure::Failure;

/// How long a worker keeps trying to record a message it sent while the
/// database does not answer.
pub const RECORD_FOR: std::time::Duration = std::time::Duration::from_secs(10 * 60);

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
    /// How long a claim (and each renewal, just before a send and every
    /// third of it during one) holds a notification for this worker: see
    /// the module docs.
    pub lease: Duration,
    /// Notifications claimed at a time. Those claimed while every slot is
    /// taken wait under their claim's lease, so keep it small: with
    /// `claim_batch` x send timeout below the lease, a claimed notification
    /// is normally sent before its claim runs out.
    pub claim_batch: u64,
    /// The most notifications this worker has in flight at once (at least
    /// one): claimed, then sent and recorded each on its own.
    pub concurrency: usize,
    /// How long transient failures are retried, from when the notification
    /// entered the queue, before it is FAILED.
    pub retry_for: Duration,
    pub worker: String,
    /// Woken when a sent notice is queued for the case timeline: the
    /// notices relay's wake-up.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Where sent notifications are recorded, together when they end
    /// together ([`record::records`], waking `outbox_wake`).
    pub records: Arc<record::Records>,
    /// This worker's fences before each send, renewed together when sends
    /// start together ([`fence::fences`], for `worker` and `lease`).
    pub fences: Arc<fence::Fences>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("mailer", &self.mailer)
            .field("worker", &self.worker)
            .field("lease", &self.lease)
            .field("claim_batch", &self.claim_batch)
            .field("concurrency", &self.concurrency)
            .field("retry_for", &self.retry_for)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Delivers every notification due now; returns how many were attempted.
    /// Returns once none is in flight and none is left that may go now.
    pub async fn deliver_due(&self) -> Result<usize, sea_orm::DbErr> {
        self.pass(None).await
    }

    /// [`Delivery::deliver_due`], ending early once `stop` is sent: nothing
    /// more is claimed, the notifications in flight are finished, and those
    /// claimed but not started are released for another replica.
    pub async fn deliver_due_until(&self, stop: &Stop) -> Result<usize, sea_orm::DbErr> {
        self.pass(Some(stop)).await
    }

    /// One pass: claims while a slot is free and nothing claimed waits,
    /// starts what was claimed as slots free up, and ends when nothing is
    /// in flight and the last claim (made after the last delivery ended)
    /// found nothing.
    ///
    /// A stop, or a database error (in a claim or in one delivery's
    /// record), halts the pass the same way: no further claims or starts,
    /// the claimed-but-not-started released, and every delivery in flight
    /// finished and recorded before it returns, so one failure does not
    /// cost the others their records. The first error is returned.
    async fn pass(&self, stop: Option<&Stop>) -> Result<usize, sea_orm::DbErr> {
        let stopped = || stop.is_some_and(Stop::is_stopped);
        let slots = self.concurrency.max(1);
        let mut in_flight = FuturesUnordered::new();
        let mut waiting: VecDeque<entity::Model> = VecDeque::new();
        let mut claiming = None;
        let mut releasing = None;
        // A claim that found nothing is not repeated until a delivery ends:
        // its end may let the next notification of its case go.
        let mut may_find_more = true;
        // Until the signal is sent, or its sender is gone without sending.
        let mut watch_stop = stop.is_some();
        let mut handled = 0;
        let mut failed: Option<sea_orm::DbErr> = None;
        loop {
            let halted = stopped() || failed.is_some();
            if halted {
                if releasing.is_none() && !waiting.is_empty() {
                    let rest: Vec<String> = waiting.drain(..).map(|n| n.notification_id).collect();
                    let (db, worker) = (&self.db, self.worker.as_str());
                    releasing = Some(Box::pin(
                        async move { repo::release(db, &rest, worker).await },
                    ));
                }
            } else {
                while in_flight.len() < slots {
                    let Some(n) = waiting.pop_front() else { break };
                    in_flight.push(self.deliver_one(n));
                }
                if claiming.is_none()
                    && may_find_more
                    && waiting.is_empty()
                    && in_flight.len() < slots
                {
                    may_find_more = false;
                    claiming = Some(Box::pin(repo::claim_due(
                        &self.db,
                        self.clock.now(),
                        &self.worker,
                        self.lease,
                        self.claim_batch,
                    )));
                }
            }
            if claiming.is_none() && releasing.is_none() && in_flight.is_empty() {
                break;
            }
            // The deliveries in flight, a claim and a release all move on
            // together: a delivery may hold a database connection (the
            // only one, on SQLite) that the claim or release waits for. A
            // claim under way is seen through even when halted: what it
            // takes is then released, not left to its lease.
            let next = tokio::select! {
                Some(done) = in_flight.next(), if !in_flight.is_empty() => Next::Delivered(done),
                Some(claimed) = OptionFuture::from(claiming.as_mut()), if claiming.is_some() => {
                    Next::Claimed(claimed)
                }
                Some(released) = OptionFuture::from(releasing.as_mut()), if releasing.is_some() => {
                    Next::Released(released)
                }
                () = stopped_signal(stop), if watch_stop && !halted => Next::Stop,
                else => break,
            };
            match next {
                Next::Delivered(Ok(attempted)) => {
                    handled += usize::from(attempted);
                    may_find_more = true;
                }
                Next::Delivered(Err(error)) => keep_first(&mut failed, error),
                Next::Claimed(result) => {
                    claiming = None;
                    match result {
                        Ok(claimed) if !claimed.is_empty() => {
                            may_find_more = true;
                            waiting.extend(claimed);
                        }
                        Ok(_) => {}
                        Err(error) => keep_first(&mut failed, error),
                    }
                }
                Next::Released(result) => {
                    releasing = None;
                    match result {
                        Ok(released) => tracing::info!(
                            released,
                            "delivery stopping; released what it claimed but had not started"
                        ),
                        // Their leases run out anyway.
                        Err(error) => keep_first(&mut failed, error),
                    }
                }
                Next::Stop => {
                    // Sent: the next turn halts. Gone unsent: stop waiting on it.
                    watch_stop = stopped();
                }
            }
        }
        if let Some(error) = failed {
            return Err(error);
        }
        if !stopped() {
            self.report_backlog().await;
        }
        Ok(handled)
    }

    /// One attempt at a claimed notification, and its record. False when it
    /// was not attempted because the lease was lost before sending.
    ///
    /// Runs in the trace of the request that queued it, so the send and the
    /// notice reported back to the case continue the complaint's trace.
    async fn deliver_one(&self, n: entity::Model) -> Result<bool, sea_orm::DbErr> {
        let span = complaints_telemetry::queued_work_span(
            "notification.deliver",
            n.trace_context.as_deref(),
        );
        self.deliver_one_traced(n).instrument(span).await
    }

    async fn deliver_one_traced(&self, n: entity::Model) -> Result<bool, sea_orm::DbErr> {
        let now = self.clock.now();
        match self.attempt(&n, now).await {
            Ok(sent) => self.record_sent_surely(&n, sent, now).await.map(|()| true),
            Err(Failure::NotHeld(reason)) => {
                tracing::warn!(notification_id = %n.notification_id, %reason, "not sent: this worker no longer holds the notification");
                metrics::counter!("complaints_notification_leases_lost_total").increment(1);
                Ok(false)
            }
            Err(failure) => self.record_failure(&n, failure, now).await.map(|()| true),
        }
    }

    /// Runs `send` while keeping this worker's lease on `n`, renewed every
    /// third of the lease: a slow relay must not let the lease run out
    /// mid-send, or another replica would send the message again.
    pub(super) async fn holding<T>(
        &self,
        n: &entity::Model,
        send: impl std::future::Future<Output = T>,
    ) -> T {
        let every = (self.lease / 3)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(1))
            .max(std::time::Duration::from_millis(100));
        tokio::pin!(send);
        loop {
            tokio::select! {
                result = &mut send => return result,
                () = tokio::time::sleep(every) => {
                    let now = self.clock.now();
                    match repo::renew_lease(&self.db, &n.notification_id, &self.worker, now, self.lease).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(
                            notification_id = %n.notification_id,
                            "the lease ran out during a send; another worker may send it again"
                        ),
                        Err(error) => tracing::warn!(
                            notification_id = %n.notification_id,
                            %error,
                            "cannot renew the lease during a send"
                        ),
                    }
                }
            }
        }
    }

    /// Records a sent notification, trying again through a database outage
    /// (every second, then up to every 15 s, for up to [`RECORD_FOR`]): a
    /// message left unrecorded is sent again when its lease ends.
    async fn record_sent_surely(
        &self,
        n: &entity::Model,
        sent: repo::Sent,
        now: DateTime<Utc>,
    ) -> Result<(), sea_orm::DbErr> {
        let started = std::time::Instant::now();
        let mut wait = std::time::Duration::from_secs(1);
        loop {
            match self.record_sent(n, sent.clone(), now).await {
                Ok(()) => return Ok(()),
                Err(error) if started.elapsed() < RECORD_FOR => {
                    tracing::warn!(
                        notification_id = %n.notification_id,
                        %error,
                        "sent, but recording it failed; trying again"
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_secs(15));
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Renews this worker's lease on `n` just before it is sent; an error
    /// (the lease is lost, or cannot be confirmed) means: do not send.
    pub(super) async fn fence(&self, n: &entity::Model) -> Result<(), Failure> {
        let renewed = match self.fences.submit(n.notification_id.clone()).await {
            Ok(renewed) => renewed,
            Err(abandoned) => Err(abandoned.to_string()),
        };
        match renewed {
            Ok(true) => Ok(()),
            Ok(false) => Err(Failure::NotHeld(
                "its lease ran out or another worker took it".to_owned(),
            )),
            Err(error) => Err(Failure::NotHeld(format!(
                "its lease could not be renewed: {error}"
            ))),
        }
    }

    /// Sets `complaints_notifications_pending`, the queued notifications
    /// (due or waiting to retry), for dashboards: at the end of a pass, at
    /// most once every 10 s, since the count reads every queued row and
    /// under load passes end several times a second.
    async fn report_backlog(&self) {
        static COUNTED: complaints_telemetry::AtMostEvery =
            complaints_telemetry::AtMostEvery::new(std::time::Duration::from_secs(10));
        if !COUNTED.due() {
            return;
        }
        match repo::queued_count(&self.db).await {
            Ok(queued) => {
                #[allow(clippy::cast_precision_loss)]
                metrics::gauge!("complaints_notifications_pending").set(queued as f64);
            }
            Err(error) => tracing::warn!(%error, "cannot count the queued notifications"),
        }
    }

    /// When a queued notification can next be claimed (it may be past), if
    /// any: when it falls due, or when another worker's lease on it runs
    /// out. The delivery loop sleeps until then.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, sea_orm::DbErr> {
        repo::next_due(&self.db, self.clock.now()).await
    }
}

/// What a pass goes on with.
enum Next {
    /// A delivery in flight ended: attempted, or not (its lease was lost).
    Delivered(Result<bool, sea_orm::DbErr>),
    /// A claim ended.
    Claimed(Result<Vec<entity::Model>, sea_orm::DbErr>),
    /// What was claimed but not started was given back (how many).
    Released(Result<u64, sea_orm::DbErr>),
    /// The stop signal was sent, or its sender is gone.
    Stop,
}

/// Keeps a pass's first database error, which it returns once the
/// deliveries in flight are finished (the caller logs it); logs the later
/// ones, which would otherwise go unseen.
fn keep_first(failed: &mut Option<sea_orm::DbErr>, error: sea_orm::DbErr) {
    match failed {
        None => *failed = Some(error),
        Some(_) => tracing::error!(%error, "delivery: a further database error in this pass"),
    }
}

/// Resolves when `stop` is sent or its sender is gone; never without one.
async fn stopped_signal(stop: Option<&Stop>) {
    match stop {
        Some(stop) => stop.stopped().await,
        None => std::future::pending().await,
    }
}

/// A notification's kind as a metric label: one of a closed set.
fn kind_label(n: &entity::Model) -> &'static str {
    n.kind().map_or("unknown", NotifyKind::as_str)
}

/// The longest the delivery loop sleeps with nothing to wake it: a safety
/// net for work nobody told this process of (a notification another
/// replica queued and stopped before sending), not the way work is found.
/// Every request and requeue wakes the replica that took it, and a retry or
/// a lease running out ([`Delivery::next_due`]) is slept until.
pub const FALLBACK_POLL: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs delivery passes until `stop`: at once when woken, else when a
/// notification can next be claimed, and at least every [`FALLBACK_POLL`].
/// The signal reaches into a pass: the notifications in flight are
/// finished, the rest of the claim released.
pub async fn run_delivery(delivery: &Delivery, wake: &tokio::sync::Notify, stop: Stop) {
    loop {
        if let Err(error) = delivery.deliver_due_until(&stop).await {
            tracing::error!(%error, "delivery pass failed");
        }
        if stop.is_stopped() {
            return;
        }
        let pause = match delivery.next_due().await {
            Ok(Some(at)) => (at - delivery.clock.now())
                .to_std()
                .unwrap_or_default()
                .clamp(std::time::Duration::from_millis(200), FALLBACK_POLL),
            Ok(None) => FALLBACK_POLL,
            // The database did not answer: look again soon.
            Err(_) => std::time::Duration::from_secs(5),
        };
        tokio::select! {
            () = stop.clone().wait() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}
