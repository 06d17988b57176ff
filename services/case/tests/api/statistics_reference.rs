//! The statistics rules written out in Rust over decoded cases: the
//! reference the database's aggregation
//! (`complaints_store::cases::statistics_received_between`) is checked
//! against. It is the computation the case service ran, a case at a time,
//! before the database did it.

use chrono::{DateTime, Duration, Utc};
use complaints_case::statistics::{Lesson, Statistics};
use complaints_domain::case::DeadlineKind;
use complaints_domain::policy::Stage;
use complaints_store::cases::{DueState, StoredCase};

/// The statistics of `cases`, given in report order (oldest receipt first,
/// then by case id), as of `now`.
pub fn compute(cases: &[StoredCase], now: DateTime<Utc>) -> Statistics {
    let mut stats = Statistics::default();
    let mut to_acknowledge = Vec::new();
    let mut to_resolve = Vec::new();
    for stored in cases {
        let case = &stored.case;
        stats.total += 1;
        *stats.by_stage.entry(case.stage).or_default() += 1;
        *stats.by_channel.entry(case.channel.as_str()).or_default() += 1;
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
                if due.state == DueState::Met {
                    stats.sla.entry(due.kind).or_default().met += 1;
                }
                continue;
            }
            let sla = stats.sla.entry(due.kind).or_default();
            if due.breached(now) {
                sla.breached += 1;
            } else if due.state == DueState::Met {
                sla.met += 1;
            } else if due.state == DueState::Pending {
                sla.pending += 1;
            }
            if let (DueState::Met, Some(settled)) = (due.state, due.settled_at) {
                match due.kind {
                    DeadlineKind::Acknowledge => to_acknowledge.push(settled - case.received_at),
                    DeadlineKind::Resolve => to_resolve.push(settled - case.received_at),
                    _ => {}
                }
            }
        }
    }
    stats.median_time_to_acknowledge = median(to_acknowledge);
    stats.median_time_to_resolve = median(to_resolve);
    stats
}

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

fn referral_open_at(stored: &StoredCase, at: DateTime<Utc>) -> bool {
    stored.case.referrals.iter().any(|referral| {
        referral.stage == Stage::Stage1
            && referral.opened_at <= at
            && referral.responded_at.is_none_or(|answered| answered > at)
    })
}

fn median(mut values: Vec<Duration>) -> Option<Duration> {
    values.sort();
    match values.len() {
        0 => None,
        n if n % 2 == 1 => values.get(n / 2).copied(),
        n => {
            let (a, b) = (values.get(n / 2 - 1)?, values.get(n / 2)?);
            Some(*a + (*b - *a) / 2)
        }
    }
}

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
