//! Reporting over a set of cases: pure functions over cases handed in one
//! at a time, so they are tested without a database and a report never
//! holds the whole range.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use complaints_domain::case::DeadlineKind;
use complaints_domain::policy::Stage;
use complaints_store::cases::{DueState, StoredCase};

/// Met, breached and still-pending promises of one deadline kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sla {
    pub met: u64,
    pub breached: u64,
    pub pending: u64,
}

/// One lesson learned, with the register numbers of the cases whose stage
/// responses recorded it (in the order the cases were reported on, each
/// once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    pub text: String,
    pub register_numbers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Statistics {
    pub total: u64,
    pub by_stage: BTreeMap<Stage, u64>,
    pub by_channel: BTreeMap<&'static str, u64>,
    /// Stage responses by root cause: every stage's response counts, not
    /// only a case's latest.
    pub by_root_cause: BTreeMap<String, u64>,
    /// The lessons learned of the responses, grouped by root cause.
    pub lessons_by_root_cause: BTreeMap<String, Vec<Lesson>>,
    pub by_finding: BTreeMap<&'static str, u64>,
    pub sla: BTreeMap<DeadlineKind, Sla>,
    pub median_time_to_acknowledge: Option<Duration>,
    pub median_time_to_resolve: Option<Duration>,
    pub review_count: u64,
    pub director_count: u64,
    pub tsa_count: u64,
}

impl Statistics {
    /// The share of cases that went beyond stage 1.
    pub fn escalation_rate(&self) -> f64 {
        ratio(self.review_count, self.total)
    }

    pub fn tsa_rate(&self) -> f64 {
        ratio(self.tsa_count, self.total)
    }
}

#[allow(clippy::cast_precision_loss)]
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Statistics of `cases` as of `now` (a promise still pending after its due
/// instant counts as breached).
pub fn compute(cases: &[StoredCase], now: DateTime<Utc>) -> Statistics {
    let mut tally = Tally::new(now);
    for stored in cases {
        tally.count(stored.case.stage, stored.case.channel.as_str(), 1);
        tally.add(stored);
    }
    tally.finish()
}

/// Statistics gathered a case at a time, so that a report over any range
/// holds one page of cases, not the range: the database counts cases by
/// stage and channel ([`Tally::count`]); every case's promises, responses
/// and requests are added one by one ([`Tally::add`]).
#[derive(Debug)]
pub struct Tally {
    now: DateTime<Utc>,
    stats: Statistics,
    to_acknowledge: Vec<Duration>,
    to_resolve: Vec<Duration>,
}

impl Tally {
    /// An empty tally as of `now` (a promise still pending after its due
    /// instant counts as breached).
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            stats: Statistics::default(),
            to_acknowledge: Vec::new(),
            to_resolve: Vec::new(),
        }
    }

    /// Counts `cases` cases at `stage` that came by `channel`.
    pub fn count(&mut self, stage: Stage, channel: &'static str, cases: u64) {
        self.stats.total += cases;
        *self.stats.by_stage.entry(stage).or_default() += cases;
        *self.stats.by_channel.entry(channel).or_default() += cases;
    }

    /// Adds one case's responses, requests and promises (not its count).
    pub fn add(&mut self, stored: &StoredCase) {
        let stats = &mut self.stats;
        let case = &stored.case;
        for response in &case.responses {
            *stats
                .by_root_cause
                .entry(response.root_cause.clone())
                .or_default() += 1;
            if let Some(lesson) = &response.lessons_learned {
                record_lesson(
                    stats
                        .lessons_by_root_cause
                        .entry(response.root_cause.clone())
                        .or_default(),
                    lesson.as_str(),
                    case.register_number.as_str(),
                );
            }
        }
        if let Some(response) = case.responses.last() {
            *stats
                .by_finding
                .entry(response.finding.as_str())
                .or_default() += 1;
        }
        stats.review_count += u64::from(case.review_request.is_some());
        stats.director_count += u64::from(case.director_request.is_some());
        stats.tsa_count += u64::from(case.tsa_reference.is_some());
        for due in &stored.due_dates {
            if due.kind == DeadlineKind::ReferralUpdate && !referral_open_at(stored, due.due_at) {
                // R3 promises a notice only while a referral is open at day
                // 5; without one there was nothing to keep or break.
                if due.state == DueState::Met {
                    stats.sla.entry(due.kind).or_default().met += 1;
                }
                continue;
            }
            let sla = stats.sla.entry(due.kind).or_default();
            if due.breached(self.now) {
                sla.breached += 1;
            } else if due.state == DueState::Met {
                sla.met += 1;
            } else if due.state == DueState::Pending {
                sla.pending += 1;
            }
            if let (DueState::Met, Some(settled)) = (due.state, due.settled_at) {
                match due.kind {
                    DeadlineKind::Acknowledge => {
                        self.to_acknowledge.push(settled - case.received_at);
                    }
                    DeadlineKind::Resolve => self.to_resolve.push(settled - case.received_at),
                    _ => {}
                }
            }
        }
    }

    /// The statistics of everything counted and added.
    pub fn finish(self) -> Statistics {
        let mut stats = self.stats;
        stats.median_time_to_acknowledge = median(self.to_acknowledge);
        stats.median_time_to_resolve = median(self.to_resolve);
        stats
    }
}

/// Adds a case's lesson to its root cause's list: the same words from
/// several cases are one lesson naming each case once.
fn record_lesson(lessons: &mut Vec<Lesson>, text: &str, register_number: &str) {
    let Some(lesson) = lessons.iter_mut().find(|lesson| lesson.text == text) else {
        lessons.push(Lesson {
            text: text.to_owned(),
            register_numbers: vec![register_number.to_owned()],
        });
        return;
    };
    if !lesson.register_numbers.iter().any(|n| n == register_number) {
        lesson.register_numbers.push(register_number.to_owned());
    }
}

/// Whether a stage 1 referral was open at `at` (opened before it and not
/// yet answered).
fn referral_open_at(stored: &StoredCase, at: DateTime<Utc>) -> bool {
    stored.case.referrals.iter().any(|referral| {
        referral.stage == Stage::Stage1
            && referral.opened_at <= at
            && referral.responded_at.is_none_or(|answered| answered > at)
    })
}

fn median(mut values: Vec<Duration>) -> Option<Duration> {
    values.sort();
    let n = values.len();
    match n {
        0 => None,
        n if n % 2 == 1 => values.get(n / 2).copied(),
        n => {
            let (a, b) = (values.get(n / 2 - 1)?, values.get(n / 2)?);
            Some(*a + (*b - *a) / 2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_between_the_middle_two() {
        let hours = |h| Duration::hours(h);
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![hours(5), hours(1), hours(3)]), Some(hours(3)));
        assert_eq!(
            median(vec![hours(4), hours(1), hours(2), hours(3)]),
            Some(Duration::minutes(150))
        );
    }

    #[test]
    fn rates_of_nothing_are_zero() {
        let stats = compute(&[], Utc::now());
        assert_eq!(stats.total, 0);
        assert!(stats.escalation_rate().abs() < f64::EPSILON);
    }
}
