//! The outbox relay: delivers one topic's messages at least once, in order
//! per aggregate (a case), with backoff for a receiver that is down.
//!
//! A message that fails holds back the later messages of its aggregate
//! until it is delivered, while other aggregates' messages keep flowing; a
//! relay claims an aggregate (a lease in `outbox_leases`) before delivering
//! its messages, so two replicas never deliver one case's messages at the
//! same time, out of order. Receivers are idempotent, so a message
//! delivered twice (a crash between delivering and marking) changes nothing
//! the second time.
//!
//! The relay sleeps until woken: by this process's commits (the `wake` it is
//! built with), on Postgres by any replica's (`LISTEN` on
//! [`outbox::NOTIFY_CHANNEL`], which [`outbox::enqueue`] notifies in the
//! writing transaction), and otherwise only every [`FALLBACK_POLL`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use complaints_domain::clock::Clock;
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::Notify;
use tracing::Instrument;
use uuid::Uuid;

use crate::StoreError;
use crate::entity::outbox as row;
use crate::outbox;
use crate::stop::Stop;

/// Hands one message to its receiver.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    /// `Ok` once the receiver has it; `Err(reason)` to try again later.
    async fn deliver(&self, message: &row::Model) -> Result<(), String>;
}

/// How many messages one look for work takes.
const BATCH: u64 = 100;
/// How many of one aggregate's messages are delivered under one claim.
const PER_AGGREGATE: u64 = 100;
/// The longest wait between passes when nothing wakes the relay: a safety
/// net for a lost wake-up (a dropped `LISTEN` connection, SQLite shared by
/// several processes), not the way messages are normally found.
pub const FALLBACK_POLL: Duration = Duration::from_secs(30);
/// How long a claim on an aggregate lasts unless renewed: the longest an
/// aggregate's messages wait after a replica died while delivering them.
/// Renewed before every message, so it only needs to outlast one delivery.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// The relay of one topic.
pub struct Relay {
    db: DatabaseConnection,
    topic: &'static str,
    deliver: Arc<dyn Deliver>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    /// This relay's name on its leases.
    holder: String,
    fallback_poll: Duration,
    passes: AtomicU64,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("topic", &self.topic)
            .field("holder", &self.holder)
            .finish()
    }
}

/// How one aggregate's turn ended.
enum Turn {
    /// Delivered this many; the rest (if any) wait for a failed one or the
    /// stop signal.
    Delivered(usize),
    /// Another replica holds the aggregate.
    Busy,
}

impl Relay {
    pub fn new(
        db: DatabaseConnection,
        topic: &'static str,
        deliver: Arc<dyn Deliver>,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            topic,
            deliver,
            clock,
            wake,
            holder: Uuid::new_v4().to_string(),
            fallback_poll: FALLBACK_POLL,
            passes: AtomicU64::new(0),
        }
    }

    /// The same relay, looking for work unprompted every `every` instead of
    /// every [`FALLBACK_POLL`].
    #[must_use]
    pub fn with_fallback_poll(mut self, every: Duration) -> Self {
        self.fallback_poll = every;
        self
    }

    /// How many passes [`Relay::run`] has finished: after the first, a
    /// running relay waits to be woken.
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Relaxed)
    }

    /// Delivers every message that is due now; returns how many arrived.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        self.pass(None).await
    }

    /// One pass, ending between messages once `stop` is sent.
    async fn pass(&self, stop: Option<&Stop>) -> Result<usize, StoreError> {
        let stopped = || stop.is_some_and(Stop::is_stopped);
        let mut delivered = 0;
        loop {
            let batch = outbox::pending(&self.db, self.topic, self.clock.now(), BATCH).await?;
            if batch.is_empty() {
                return Ok(delivered);
            }
            let mut aggregates: Vec<Uuid> = Vec::new();
            for message in &batch {
                if !aggregates.contains(&message.aggregate_id) {
                    aggregates.push(message.aggregate_id);
                }
            }
            let mut progressed = false;
            for aggregate_id in aggregates {
                if stopped() {
                    return Ok(delivered);
                }
                if let Turn::Delivered(count) = self.deliver_aggregate(aggregate_id, stop).await? {
                    delivered += count;
                    progressed |= count > 0;
                }
            }
            if !progressed {
                return Ok(delivered);
            }
        }
    }

    /// Claims one aggregate, delivers its due messages in order until one
    /// fails or `stop` is sent, and gives the claim back.
    async fn deliver_aggregate(
        &self,
        aggregate_id: Uuid,
        stop: Option<&Stop>,
    ) -> Result<Turn, StoreError> {
        if !self.claim(aggregate_id).await? {
            return Ok(Turn::Busy);
        }
        let delivered = self.deliver_claimed(aggregate_id, stop).await;
        let released =
            outbox::release_aggregate(&self.db, self.topic, aggregate_id, &self.holder).await;
        let delivered = delivered?;
        released?;
        Ok(Turn::Delivered(delivered))
    }

    async fn deliver_claimed(
        &self,
        aggregate_id: Uuid,
        stop: Option<&Stop>,
    ) -> Result<usize, StoreError> {
        // Read after claiming: another replica may have delivered some of
        // what the batch showed.
        let messages = outbox::pending_for_aggregate(
            &self.db,
            self.topic,
            aggregate_id,
            self.clock.now(),
            PER_AGGREGATE,
        )
        .await?;
        let mut delivered = 0;
        for (index, message) in messages.iter().enumerate() {
            if stop.is_some_and(Stop::is_stopped) {
                break;
            }
            // Renewed before each message, so a slow receiver does not let
            // the claim lapse while earlier messages were delivered.
            if index > 0 && !self.claim(aggregate_id).await? {
                break;
            }
            let span = complaints_telemetry::queued_work_span(
                "outbox.deliver",
                message.trace_context.as_deref(),
            );
            match self.deliver.deliver(message).instrument(span).await {
                Ok(()) => {
                    outbox::mark_delivered(&self.db, message.id, self.clock.now()).await?;
                    delivered += 1;
                }
                Err(reason) => {
                    let retry_after = backoff(message.attempts);
                    tracing::warn!(
                        topic = self.topic,
                        message_id = message.id,
                        attempts = message.attempts + 1,
                        %reason,
                        "outbox delivery failed; will retry"
                    );
                    outbox::mark_failed(
                        &self.db,
                        message.id,
                        &reason,
                        self.clock.now(),
                        retry_after,
                    )
                    .await?;
                    // The aggregate's later messages wait for this one.
                    break;
                }
            }
        }
        Ok(delivered)
    }

    async fn claim(&self, aggregate_id: Uuid) -> Result<bool, StoreError> {
        let now = self.clock.now();
        outbox::claim_aggregate(
            &self.db,
            self.topic,
            aggregate_id,
            &self.holder,
            now,
            now + LEASE,
        )
        .await
    }

    /// Delivers until `stop` is sent: after every commit that wakes it
    /// (this process's, and on Postgres any replica's), and every
    /// [`FALLBACK_POLL`] otherwise. On the signal it finishes the message in
    /// hand, gives back its claims and returns.
    pub async fn run(&self, stop: Stop) {
        let listening = self.listen(&stop).await;
        loop {
            if let Err(error) = self.pass(Some(&stop)).await {
                tracing::error!(topic = self.topic, %error, "outbox relay pass failed");
            }
            self.passes.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                () = stop.stopped() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.fallback_poll) => {}
            }
        }
        if let Some(listening) = listening {
            listening.abort();
        }
        if let Err(error) = outbox::release_all(&self.db, self.topic, &self.holder).await {
            tracing::warn!(topic = self.topic, %error, "outbox relay could not give back its claims");
        }
    }

    /// On Postgres, listens for other connections' new messages of this
    /// topic and turns each into a wake-up; the listening has begun when
    /// this returns, so nothing committed afterwards is missed. `None` on
    /// SQLite, or when listening failed (the fallback poll remains).
    async fn listen(&self, stop: &Stop) -> Option<tokio::task::JoinHandle<()>> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            return None;
        }
        let pool = self.db.get_postgres_connection_pool();
        let listener = async {
            let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(pool).await?;
            listener.listen(outbox::NOTIFY_CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        }
        .await;
        let mut listener = match listener {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(
                    topic = self.topic,
                    %error,
                    "outbox relay cannot listen for new messages; polling every {:?}",
                    self.fallback_poll
                );
                return None;
            }
        };
        let (topic, wake, stop) = (self.topic, self.wake.clone(), stop.clone());
        Some(tokio::spawn(async move {
            loop {
                let notification = tokio::select! {
                    () = stop.stopped() => return,
                    received = listener.recv() => received,
                };
                match notification {
                    Ok(notification) if notification.payload() == topic => wake.notify_one(),
                    Ok(_) => {}
                    Err(error) => {
                        // Reconnects on the next receive; what was sent in
                        // between is found by the pass this wake-up starts.
                        tracing::warn!(topic, %error, "outbox relay lost its listening connection");
                        wake.notify_one();
                        if stop.sleep(Duration::from_secs(1)).await.is_break() {
                            return;
                        }
                    }
                }
            }
        }))
    }
}

/// 1 s, 2 s, 4 s ... capped at five minutes.
fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = u32::try_from(attempts.clamp(0, 8)).unwrap_or(8);
    chrono::Duration::seconds(2_i64.pow(exponent).min(300))
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0).num_seconds(), 1);
        assert_eq!(backoff(3).num_seconds(), 8);
        assert_eq!(backoff(50).num_seconds(), 256);
        assert!(backoff(8).num_seconds() <= 300);
    }
}
