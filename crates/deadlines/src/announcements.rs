//! Waking this replica's workers for work another replica scheduled.
//!
//! A replica that schedules work due earlier than before publishes the
//! earliest instant on the queue's wake channel (in the same pipeline as the
//! index members, after them). Every replica keeps one subscription to that
//! channel and, for each announcement, wakes those of its sleeping workers
//! that mean to wake later. An announcement is only a hint: a replica whose
//! subscription is down misses it, so whenever the subscription comes back
//! its workers are all woken to look again, and the re-check covers the
//! rest.
//!
//! An announcement is `<instant in ms> <replica>`: each replica ignores its
//! own, whose workers it has woken already (and which would otherwise wake
//! a worker that had just gone to sleep for that very work).

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::DateTime;
use futures_util::StreamExt as _;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use crate::wakeup::Wakeup;

/// The longest wait between attempts to subscribe again.
const MOST_BACKOFF: Duration = Duration::from_secs(30);

/// What replica `replica` publishes for work due at `at_ms`.
pub(crate) fn announcement(at_ms: i64, replica: &str) -> String {
    format!("{at_ms} {replica}")
}

/// Starts listening on `channel` for `wakeup`, ignoring what `replica`
/// (this one) announces. Answers a future that resolves once the first
/// attempt to subscribe has succeeded or failed, and the task's handle. The
/// task also ends by itself once `wakeup` is gone.
pub(crate) fn listen(
    client: redis::Client,
    channel: &str,
    replica: &str,
    wakeup: &Arc<Wakeup>,
) -> (impl Future<Output = ()> + use<>, AbortHandle) {
    let (tried, first_try) = oneshot::channel();
    let task = tokio::spawn(run(
        client,
        channel.to_owned(),
        replica.to_owned(),
        Arc::downgrade(wakeup),
        tried,
    ));
    let first_try = async move {
        let _ = first_try.await;
    };
    (first_try, task.abort_handle())
}

async fn run(
    client: redis::Client,
    channel: String,
    replica: String,
    wakeup: Weak<Wakeup>,
    tried: oneshot::Sender<()>,
) {
    let mut tried = Some(tried);
    let mut backoff = Duration::from_secs(1);
    let mut subscribed_before = false;
    loop {
        let subscription = subscribe(&client, &channel).await;
        if let Some(tried) = tried.take() {
            let _ = tried.send(());
        }
        match subscription {
            Ok(mut pubsub) => {
                backoff = Duration::from_secs(1);
                if subscribed_before {
                    // Announcements made while the subscription was down are
                    // lost: every worker looks again.
                    let Some(wakeup) = wakeup.upgrade() else {
                        return;
                    };
                    wakeup.wake_all();
                    tracing::info!(channel, "listening for other replicas' deadlines again");
                }
                subscribed_before = true;
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    let Some(wakeup) = wakeup.upgrade() else {
                        return;
                    };
                    let payload = message.get_payload::<String>().unwrap_or_default();
                    let (at, sender) = payload.split_once(' ').unwrap_or((&payload, ""));
                    if sender == replica {
                        continue;
                    }
                    match at
                        .parse::<i64>()
                        .ok()
                        .and_then(DateTime::from_timestamp_millis)
                    {
                        Some(at) => {
                            wakeup.scheduled(at);
                        }
                        // Not understood: look again rather than miss it.
                        None => wakeup.wake_all(),
                    }
                }
                tracing::warn!(
                    channel,
                    "lost the subscription to other replicas' deadlines; \
                     their work waits for the re-check until it is back"
                );
            }
            Err(error) => tracing::warn!(
                channel,
                %error,
                retry_in = ?backoff,
                "cannot subscribe to other replicas' deadlines; \
                 their work waits for the re-check until it can"
            ),
        }
        if wakeup.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MOST_BACKOFF);
    }
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
