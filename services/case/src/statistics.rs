//! The statistics of the cases received in a range of dates, as the case
//! service reports them. The database computes them
//! ([`complaints_store::cases::statistics_received_between`]: a few
//! aggregating statements, whatever the size of the range); this module
//! names them as the gRPC response does.

use std::collections::BTreeMap;

use chrono::Duration;
use complaints_domain::case::DeadlineKind;
use complaints_domain::policy::Stage;
use complaints_store::cases::CaseStatistics;

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

impl From<CaseStatistics> for Statistics {
    /// The service's view of the aggregates the database computed.
    fn from(figures: CaseStatistics) -> Self {
        Statistics {
            total: figures.total,
            by_stage: figures.by_stage,
            by_channel: figures
                .by_channel
                .into_iter()
                .map(|(channel, cases)| (channel.as_str(), cases))
                .collect(),
            by_root_cause: figures.by_root_cause,
            lessons_by_root_cause: figures
                .lessons_by_root_cause
                .into_iter()
                .map(|(root_cause, lessons)| {
                    let lessons = lessons
                        .into_iter()
                        .map(|lesson| Lesson {
                            text: lesson.text,
                            register_numbers: lesson.register_numbers,
                        })
                        .collect();
                    (root_cause, lessons)
                })
                .collect(),
            by_finding: figures
                .by_finding
                .into_iter()
                .map(|(finding, cases)| (finding.as_str(), cases))
                .collect(),
            sla: figures
                .sla
                .into_iter()
                .map(|(kind, sla)| {
                    let sla = Sla {
                        met: sla.met,
                        breached: sla.breached,
                        pending: sla.pending,
                    };
                    (kind, sla)
                })
                .collect(),
            median_time_to_acknowledge: figures.median_time_to_acknowledge,
            median_time_to_resolve: figures.median_time_to_resolve,
            review_count: figures.review_count,
            director_count: figures.director_count,
            tsa_count: figures.tsa_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_of_nothing_are_zero() {
        let stats = Statistics::from(CaseStatistics::default());
        assert_eq!(stats.total, 0);
        assert!(stats.escalation_rate().abs() < f64::EPSILON);
        assert!(stats.tsa_rate().abs() < f64::EPSILON);
    }

    #[test]
    fn rates_are_shares_of_the_cases() {
        let stats = Statistics {
            total: 4,
            review_count: 1,
            tsa_count: 2,
            ..Statistics::default()
        };
        assert!((stats.escalation_rate() - 0.25).abs() < f64::EPSILON);
        assert!((stats.tsa_rate() - 0.5).abs() < f64::EPSILON);
    }
}
