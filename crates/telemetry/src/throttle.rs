//! For a gauge whose measurement reads many rows, updated from a loop that
//! may turn many times a second under load: measure at most once every so
//! often, which a scrape every 15 to 30 s cannot tell apart.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Says yes at most once every `every`.
#[derive(Debug)]
pub struct AtMostEvery {
    every: Duration,
    last: Mutex<Option<Instant>>,
}

impl AtMostEvery {
    pub const fn new(every: Duration) -> Self {
        Self {
            every,
            last: Mutex::new(None),
        }
    }

    /// True the first time, then again only once `every` has passed since
    /// the last true.
    pub fn due(&self) -> bool {
        let mut last = match self.last.lock() {
            Ok(last) => last,
            Err(poisoned) => poisoned.into_inner(),
        };
        if last.is_some_and(|at| at.elapsed() < self.every) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_the_first_time_then_not_until_the_interval_has_passed() {
        let gauge = AtMostEvery::new(Duration::from_secs(3600));
        assert!(gauge.due());
        assert!(!gauge.due());
        let always = AtMostEvery::new(Duration::ZERO);
        assert!(always.due());
        assert!(always.due());
    }
}
