//! Time, always read through a [`Clock`] so tests and the test-clock mode can
//! move it.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to, and only forward.
///
/// Cloning shares the same time: every holder sees an advance at once. A std
/// `Mutex`, not an async one, because no await happens while it is held.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves time forward by `by` and returns the new instant.
    ///
    /// A zero or negative step is refused: time never moves backwards.
    pub fn advance(&self, by: Duration) -> Result<DateTime<Utc>, NonPositiveStep> {
        if by <= Duration::zero() {
            return Err(NonPositiveStep);
        }
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
        Ok(*now)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`ManualClock::advance`] was asked to stand still or go back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("time can only move forward: the step must be positive")]
pub struct NonPositiveStep;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_manual_clock_moves_only_forward_and_clones_share_it() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        let shared = clock.clone();
        assert_eq!(
            clock.advance(Duration::hours(1)),
            Ok(start + Duration::hours(1))
        );
        assert_eq!(shared.now(), start + Duration::hours(1));
        assert_eq!(clock.advance(Duration::zero()), Err(NonPositiveStep));
        assert_eq!(clock.advance(Duration::seconds(-5)), Err(NonPositiveStep));
        assert_eq!(shared.now(), start + Duration::hours(1));
    }
}
