//! The outbox relay: delivers one topic's messages at least once, oldest
//! first, with backoff for a receiver that is down. Receivers are
//! idempotent, so a message delivered twice (a crash between delivering and
//! marking, or two replicas' relays racing) changes nothing the second time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use complaints_domain::clock::Clock;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::StoreError;
use crate::entity::outbox as row;
use crate::outbox;

/// Hands one message to its receiver.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    /// `Ok` once the receiver has it; `Err(reason)` to try again later.
    async fn deliver(&self, message: &row::Model) -> Result<(), String>;
}

/// How many messages one pass takes.
const BATCH: u64 = 100;
/// The longest wait between passes: covers messages written by other
/// replicas, which do not wake this relay.
const IDLE_RECHECK: Duration = Duration::from_secs(5);

/// The relay of one topic.
pub struct Relay {
    db: DatabaseConnection,
    topic: &'static str,
    deliver: Arc<dyn Deliver>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").field("topic", &self.topic).finish()
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
        }
    }

    /// Delivers every message that is due now; returns how many arrived.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let mut delivered = 0;
        loop {
            let now = self.clock.now();
            let batch = outbox::pending(&self.db, self.topic, now, BATCH).await?;
            if batch.is_empty() {
                return Ok(delivered);
            }
            let mut progressed = false;
            for message in &batch {
                let span = complaints_telemetry::queued_work_span(
                    "outbox.deliver",
                    message.trace_context.as_deref(),
                );
                match self.deliver.deliver(message).instrument(span).await {
                    Ok(()) => {
                        outbox::mark_delivered(&self.db, message.id, self.clock.now()).await?;
                        delivered += 1;
                        progressed = true;
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
                    }
                }
            }
            if !progressed {
                return Ok(delivered);
            }
        }
    }

    /// Delivers until `shutdown` resolves: after every write that wakes it,
    /// and every few seconds for messages other processes wrote.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.run_once().await {
                tracing::error!(topic = self.topic, %error, "outbox relay pass failed");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(IDLE_RECHECK) => {}
            }
        }
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
