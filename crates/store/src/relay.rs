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
//! A pass works a page of due messages at a time in a handful of
//! statements, whatever the page holds: the page's aggregates are claimed
//! in one, re-read in one, what arrived is marked in one and the claims are
//! given back in one; the deliveries themselves go [`CONCURRENCY`]
//! aggregates at a time. A crash before the mark redelivers at most that
//! page.
//!
//! The relay sleeps until woken: by this process's commits (the `wake` it is
//! built with), on Postgres by any replica's (`LISTEN` on
//! [`outbox::NOTIFY_CHANNEL`]), and otherwise only every [`FALLBACK_POLL`].
//! A relay woken by its own process's commit passes the news on to the
//! others ([`outbox::announce`]) before its pass, so the announcement
//! follows the commit and never rides in the writing transaction.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use complaints_domain::clock::Clock;
use futures_util::stream::{self, StreamExt};
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
/// How many aggregates' messages are on their way at once. Each
/// aggregate's go one at a time, in order; receivers are idempotent and
/// take concurrent calls.
const CONCURRENCY: usize = 16;
/// The longest wait between passes when nothing wakes the relay: a safety
/// net for a lost wake-up (a dropped `LISTEN` connection, SQLite shared by
/// several processes), not the way messages are normally found.
pub const FALLBACK_POLL: Duration = Duration::from_secs(30);
/// How long a claim on an aggregate lasts unless renewed: the longest an
/// aggregate's messages wait after a replica died while delivering them.
/// Renewed once half of it has gone.
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
        let mut delivered = 0;
        loop {
            if stop.is_some_and(Stop::is_stopped) {
                return Ok(delivered);
            }
            let batch = outbox::pending(&self.db, self.topic, self.clock.now(), BATCH).await?;
            if batch.is_empty() {
                return Ok(delivered);
            }
            let arrived = self.deliver_batch(&batch, stop).await?;
            if arrived == 0 {
                return Ok(delivered);
            }
            delivered += arrived;
        }
    }

    /// Claims the batch's aggregates (one statement), delivers the
    /// messages of those it holds, up to [`CONCURRENCY`] aggregates at once
    /// and each aggregate's in order, marks what arrived (one statement)
    /// and gives the claims back (one statement). Aggregates another
    /// replica holds are left to it.
    async fn deliver_batch(
        &self,
        batch: &[row::Model],
        stop: Option<&Stop>,
    ) -> Result<usize, StoreError> {
        let mut aggregates: Vec<Uuid> = Vec::new();
        for message in batch {
            if !aggregates.contains(&message.aggregate_id) {
                aggregates.push(message.aggregate_id);
            }
        }
        let claimed_at = self.clock.now();
        let held = outbox::claim_aggregates(
            &self.db,
            self.topic,
            &aggregates,
            &self.holder,
            claimed_at,
            claimed_at + LEASE,
        )
        .await?;
        if held.is_empty() {
            return Ok(0);
        }
        let delivered = self.deliver_held(batch, &held, claimed_at, stop).await;
        let released = outbox::release_aggregates(&self.db, self.topic, &held, &self.holder).await;
        let delivered = delivered?;
        released?;
        Ok(delivered)
    }

    async fn deliver_held(
        &self,
        batch: &[row::Model],
        held: &[Uuid],
        claimed_at: DateTime<Utc>,
        stop: Option<&Stop>,
    ) -> Result<usize, StoreError> {
        // Read again after claiming: another replica may have delivered,
        // or put back for a retry, some of what the batch showed.
        let ids: Vec<i64> = batch
            .iter()
            .filter(|message| held.contains(&message.aggregate_id))
            .map(|message| message.id)
            .collect();
        let now = self.clock.now();
        let mut queues: Vec<(Uuid, Vec<row::Model>)> = Vec::new();
        let mut waiting: HashSet<Uuid> = HashSet::new();
        for message in outbox::by_ids(&self.db, &ids).await? {
            let aggregate_id = message.aggregate_id;
            if message.delivered_at.is_some() || waiting.contains(&aggregate_id) {
                continue;
            }
            if message.available_at > now {
                // Its aggregate's later messages wait for it.
                waiting.insert(aggregate_id);
                continue;
            }
            match queues.iter_mut().find(|(id, _)| *id == aggregate_id) {
                Some((_, queue)) => queue.push(message),
                None => queues.push((aggregate_id, vec![message])),
            }
        }
        let turns: Vec<(Vec<i64>, Result<(), StoreError>)> = stream::iter(queues)
            .map(|(aggregate_id, messages)| {
                self.deliver_in_order(aggregate_id, messages, claimed_at, stop)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut arrived = Vec::new();
        let mut failed = None;
        for (ids, outcome) in turns {
            arrived.extend(ids);
            if let Err(error) = outcome {
                failed.get_or_insert(error);
            }
        }
        outbox::mark_all_delivered(&self.db, &arrived, self.clock.now()).await?;
        match failed {
            Some(error) => Err(error),
            None => Ok(arrived.len()),
        }
    }

    /// Delivers one held aggregate's messages in order until one fails or
    /// `stop` is sent; the ids of those that arrived, and the error that
    /// ended the turn early, if any.
    async fn deliver_in_order(
        &self,
        aggregate_id: Uuid,
        messages: Vec<row::Model>,
        mut claimed_at: DateTime<Utc>,
        stop: Option<&Stop>,
    ) -> (Vec<i64>, Result<(), StoreError>) {
        let mut arrived = Vec::new();
        for message in &messages {
            if stop.is_some_and(Stop::is_stopped) {
                break;
            }
            // Renewed once half of it has gone, so a slow receiver does not
            // let the claim lapse while this aggregate's turn lasts.
            let now = self.clock.now();
            if now >= claimed_at + LEASE / 2 {
                match outbox::claim_aggregate(
                    &self.db,
                    self.topic,
                    aggregate_id,
                    &self.holder,
                    now,
                    now + LEASE,
                )
                .await
                {
                    Ok(true) => claimed_at = now,
                    Ok(false) => break,
                    Err(error) => return (arrived, Err(error)),
                }
            }
            let span = complaints_telemetry::queued_work_span(
                "outbox.deliver",
                message.trace_context.as_deref(),
            );
            match self.deliver.deliver(message).instrument(span).await {
                Ok(()) => arrived.push(message.id),
                Err(reason) => {
                    let retry_after = backoff(message.attempts);
                    tracing::warn!(
                        topic = self.topic,
                        message_id = message.id,
                        attempts = message.attempts + 1,
                        %reason,
                        "outbox delivery failed; will retry"
                    );
                    let marked = outbox::mark_failed(
                        &self.db,
                        message.id,
                        &reason,
                        self.clock.now(),
                        retry_after,
                    )
                    .await;
                    // The aggregate's later messages wait for this one.
                    return (arrived, marked);
                }
            }
        }
        (arrived, Ok(()))
    }

    /// Delivers until `stop` is sent: after every commit that wakes it
    /// (this process's, and on Postgres any replica's), and every
    /// [`FALLBACK_POLL`] otherwise. On the signal it finishes the message in
    /// hand, gives back its claims and returns.
    pub async fn run(&self, stop: Stop) {
        // Other replicas' news, kept apart from this process's commits so
        // that what is heard is not announced again.
        let heard = Arc::new(Notify::new());
        let listening = self.listen(&stop, heard.clone()).await;
        loop {
            if let Err(error) = self.pass(Some(&stop)).await {
                tracing::error!(topic = self.topic, %error, "outbox relay pass failed");
            }
            self.passes.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                () = stop.stopped() => break,
                () = self.wake.notified() => self.announce().await,
                () = heard.notified() => {}
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

    /// Tells the other replicas' relays of this topic that this process
    /// committed messages of it. A lost announcement costs them at most
    /// [`FALLBACK_POLL`]; this relay delivers the messages itself.
    async fn announce(&self) {
        if let Err(error) = outbox::announce(&self.db, self.topic).await {
            tracing::warn!(topic = self.topic, %error, "outbox relay could not announce new messages");
        }
    }

    /// On Postgres, listens for new messages of this topic announced by
    /// any replica and turns each into a wake-up (`heard`); the listening
    /// has begun when this returns, so nothing announced afterwards is
    /// missed. `None` on SQLite, or when listening failed (the fallback
    /// poll remains).
    async fn listen(&self, stop: &Stop, heard: Arc<Notify>) -> Option<tokio::task::JoinHandle<()>> {
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
        let (topic, wake, stop) = (self.topic, heard, stop.clone());
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
