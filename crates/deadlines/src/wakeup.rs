//! Sleeping until work is due, and waking early when earlier work arrives.
//!
//! Like mini-redis's expiry task: a worker reads the next due instant,
//! sleeps until then (or a long safety re-check, for work scheduled by other
//! processes), and is woken through a [`Notify`] when this process
//! schedules something earlier than any sleeper means to wake.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use complaints_domain::clock::Clock;
use tokio::sync::Notify;

use crate::QueueError;

#[derive(Debug, Default)]
pub(crate) struct Wakeup {
    notify: Notify,
    /// When each waiting worker means to wake, by ticket: `None` while it
    /// is still reading the next due instant. A std `Mutex`, not a Tokio
    /// one, because it is held only to insert, remove or scan, never across
    /// an await.
    sleepers: Mutex<Sleepers>,
}

#[derive(Debug, Default)]
struct Sleepers {
    next_ticket: u64,
    wake_at: BTreeMap<u64, Option<DateTime<Utc>>>,
}

impl Wakeup {
    /// Returns when work may be due: `next_due` (read after this worker is
    /// registered, so nothing scheduled meanwhile is missed) has passed on
    /// `clock`, or something earlier was scheduled, or [`Self::wake_all`]
    /// was called, or `recheck` went by.
    ///
    /// The sleep runs on Tokio's timer for the span `clock` says is left;
    /// a clock that jumps (a test clock) must call [`Self::wake_all`] when
    /// it does. Cancel-safe: dropping the future deregisters the worker.
    pub(crate) async fn wait<F, Fut>(
        &self,
        clock: &dyn Clock,
        recheck: Duration,
        next_due: F,
    ) -> Result<(), QueueError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<DateTime<Utc>>, QueueError>>,
    {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let sleeper = Sleeper::register(self);

        let next = next_due().await?;
        let now = clock.now();
        let recheck_at = TimeDelta::from_std(recheck)
            .ok()
            .and_then(|recheck| now.checked_add_signed(recheck))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let wake_at = match next {
            Some(at) if at <= now => return Ok(()),
            Some(at) => at.min(recheck_at),
            None => recheck_at,
        };
        sleeper.sleep_until(wake_at);
        let span = (wake_at - now).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep(span) => {}
        }
        Ok(())
    }

    /// Something is due at `at`: wakes the sleepers if any of them means to
    /// wake later than that. Answers whether it woke them.
    pub(crate) fn scheduled(&self, at: DateTime<Utc>) -> bool {
        let later = self
            .lock()
            .wake_at
            .values()
            .any(|wake_at| wake_at.is_none_or(|wake_at| wake_at > at));
        if later {
            self.notify.notify_waiters();
        }
        later
    }

    /// Wakes every waiting worker, to look again at once.
    pub(crate) fn wake_all(&self) {
        self.notify.notify_waiters();
    }

    /// How many workers are asleep with a wake-up time set.
    pub(crate) fn sleeping(&self) -> usize {
        self.lock()
            .wake_at
            .values()
            .filter(|wake_at| wake_at.is_some())
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sleepers> {
        self.sleepers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A worker's place among the sleepers, given up when dropped.
struct Sleeper<'a> {
    wakeup: &'a Wakeup,
    ticket: u64,
}

impl<'a> Sleeper<'a> {
    fn register(wakeup: &'a Wakeup) -> Self {
        let mut sleepers = wakeup.lock();
        let ticket = sleepers.next_ticket;
        sleepers.next_ticket += 1;
        sleepers.wake_at.insert(ticket, None);
        Sleeper { wakeup, ticket }
    }

    fn sleep_until(&self, at: DateTime<Utc>) {
        self.wakeup.lock().wake_at.insert(self.ticket, Some(at));
    }
}

impl Drop for Sleeper<'_> {
    fn drop(&mut self) {
        self.wakeup.lock().wake_at.remove(&self.ticket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn only_work_due_before_a_sleeper_wakes_it() {
        let wakeup = Wakeup::default();
        assert!(!wakeup.scheduled(at(9)), "nobody is asleep");

        let sleeper = Sleeper::register(&wakeup);
        assert!(
            wakeup.scheduled(at(23)),
            "a worker still reading the next due instant must be woken"
        );
        sleeper.sleep_until(at(12));
        assert_eq!(wakeup.sleeping(), 1);
        assert!(!wakeup.scheduled(at(12)));
        assert!(!wakeup.scheduled(at(13)));
        assert!(wakeup.scheduled(at(11)));

        drop(sleeper);
        assert_eq!(wakeup.sleeping(), 0);
        assert!(!wakeup.scheduled(at(1)));
    }
}
