//! The stop signal every background loop watches, here so that loops in any
//! crate above the store (its relay, the deadline worker, the services'
//! workers) take the same one; `complaints_rpc::service` re-exports it.
//!
//! A loop checks it between passes *and* inside a pass, between items:
//!
//! ```
//! # async fn pass(stop: complaints_store::stop::Stop, items: Vec<u32>) {
//! for item in items {
//!     if stop.is_stopped() {
//!         break; // release what the rest of the batch held, then return
//!     }
//!     // ... handle `item` to the end: an item in hand is finished ...
//! #   let _ = item;
//! }
//! # }
//! ```
//!
//! and waits for work without missing the signal:
//!
//! ```
//! # async fn idle(stop: complaints_store::stop::Stop, wake: tokio::sync::Notify) {
//! tokio::select! {
//!     () = stop.stopped() => return,
//!     () = wake.notified() => {}
//!     () = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
//! }
//! # }
//! ```

use std::ops::ControlFlow;
use std::time::Duration;

use tokio::sync::watch;

/// The stop signal: cheap to clone, to check ([`Stop::is_stopped`]) and to
/// await ([`Stop::stopped`]). Once sent it stays sent. Dropping the
/// [`StopHandle`] without sending ends every wait ([`Stop::stopped`],
/// [`Stop::wait`], [`Stop::sleep`]), so that no loop sleeps on after
/// whoever was to stop it is gone; [`Stop::is_stopped`] reports only a sent
/// signal.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

/// Sends the stop signal.
#[derive(Debug)]
pub struct StopHandle(watch::Sender<bool>);

impl Stop {
    /// A signal and the handle that sends it.
    pub fn new() -> (StopHandle, Stop) {
        let (tx, rx) = watch::channel(false);
        (StopHandle(tx), Stop(rx))
    }

    /// Whether the signal has been sent: loops check it between items of a
    /// batch, not only between passes. Never waits.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the signal is sent (at once if it was). Borrows, so it
    /// can be one arm of a `select!` in a loop; cancel-safe.
    pub async fn stopped(&self) {
        let mut receiver = self.0.clone();
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }

    /// [`Stop::stopped`], taking the signal: for a loop that hands its stop
    /// on as a future (`relay.run(stop.wait())`).
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    /// Sleeps for `duration` unless the signal comes first: `Break` when it
    /// did (or had), `Continue` after a full sleep.
    ///
    /// ```
    /// # async fn run(stop: complaints_store::stop::Stop) {
    /// while stop.sleep(std::time::Duration::from_secs(60)).await.is_continue() {
    ///     // one pass
    /// }
    /// # }
    /// ```
    pub async fn sleep(&self, duration: Duration) -> ControlFlow<()> {
        tokio::select! {
            biased;
            () = self.stopped() => ControlFlow::Break(()),
            () = tokio::time::sleep(duration) => ControlFlow::Continue(()),
        }
    }
}

impl StopHandle {
    /// Sends the signal to every clone of its [`Stop`].
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Stop;

    #[tokio::test]
    async fn a_sent_signal_is_seen_by_every_clone_and_ends_waits() {
        let (handle, stop) = Stop::new();
        let other = stop.clone();
        assert!(!stop.is_stopped());
        let waiting = tokio::spawn(async move { other.stopped().await });
        handle.stop();
        waiting.await.expect("the waiting task ends");
        assert!(stop.is_stopped());
        assert!(stop.sleep(Duration::from_secs(3600)).await.is_break());
        stop.clone().wait().await;
    }

    #[tokio::test]
    async fn a_dropped_handle_ends_every_wait() {
        let (handle, stop) = Stop::new();
        drop(handle);
        tokio::time::timeout(Duration::from_secs(30), async {
            stop.stopped().await;
            assert!(stop.sleep(Duration::from_secs(3600)).await.is_break());
            stop.clone().wait().await;
        })
        .await
        .expect("no wait outlives the handle");
    }

    #[tokio::test]
    async fn a_sleep_is_cut_short_by_the_signal() {
        let (handle, stop) = Stop::new();
        let sleeper = stop.clone();
        let sleeping = tokio::spawn(async move { sleeper.sleep(Duration::from_secs(3600)).await });
        handle.stop();
        let flow = tokio::time::timeout(Duration::from_secs(30), sleeping)
            .await
            .expect("the signal ends the sleep")
            .expect("the sleeping task ends");
        assert!(flow.is_break());
    }
}
