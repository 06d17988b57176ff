//! An independent count of working days, for the tests whose receipt is the
//! real time (`embedded`, `production`) and whose due dates therefore cannot
//! be written down: England and Wales bank holidays and London's clock
//! changes as literal tables, and a day-by-day count over them. It shares no
//! code with `complaints_domain::calendar`, which these tests check; the
//! tests on the test clock (`r1_acknowledge` and the rest) use fixed
//! instants and literal dates instead.
//!
//! The rule (`docs/policy.md`): a working day is Monday to Friday except a
//! bank holiday of England and Wales; the due date for N working days is the
//! Nth working day strictly after the London date of receipt, and the due
//! instant is the next London midnight after the due date.
//!
//! The tables cover 2025-2034. A date outside them fails the test, saying
//! so: extend the tables (by hand, from gov.uk) rather than compute them.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};

/// The first and last years [`BANK_HOLIDAYS`] and [`SUMMER_TIME`] cover.
const YEARS: std::ops::RangeInclusive<i32> = 2025..=2034;

/// England and Wales bank holidays, substitute days included: 2025-2027 as
/// gov.uk publishes them (<https://www.gov.uk/bank-holidays>), 2028-2034
/// worked out by hand from the rules (New Year's Day, Good Friday, Easter
/// Monday, the first and last Mondays of May, the last Monday of August,
/// Christmas Day, Boxing Day; a day at a weekend is kept on the next weekday
/// that is not already a holiday) and checked against a second count.
const BANK_HOLIDAYS: [&str; 80] = [
    // 2025
    "2025-01-01",
    "2025-04-18",
    "2025-04-21",
    "2025-05-05",
    "2025-05-26",
    "2025-08-25",
    "2025-12-25",
    "2025-12-26",
    // 2026: Boxing Day (a Saturday) is kept on Monday 28 December.
    "2026-01-01",
    "2026-04-03",
    "2026-04-06",
    "2026-05-04",
    "2026-05-25",
    "2026-08-31",
    "2026-12-25",
    "2026-12-28",
    // 2027: Christmas Day and Boxing Day fall at the weekend.
    "2027-01-01",
    "2027-03-26",
    "2027-03-29",
    "2027-05-03",
    "2027-05-31",
    "2027-08-30",
    "2027-12-27",
    "2027-12-28",
    // 2028: New Year's Day is a Saturday.
    "2028-01-03",
    "2028-04-14",
    "2028-04-17",
    "2028-05-01",
    "2028-05-29",
    "2028-08-28",
    "2028-12-25",
    "2028-12-26",
    // 2029
    "2029-01-01",
    "2029-03-30",
    "2029-04-02",
    "2029-05-07",
    "2029-05-28",
    "2029-08-27",
    "2029-12-25",
    "2029-12-26",
    // 2030
    "2030-01-01",
    "2030-04-19",
    "2030-04-22",
    "2030-05-06",
    "2030-05-27",
    "2030-08-26",
    "2030-12-25",
    "2030-12-26",
    // 2031
    "2031-01-01",
    "2031-04-11",
    "2031-04-14",
    "2031-05-05",
    "2031-05-26",
    "2031-08-25",
    "2031-12-25",
    "2031-12-26",
    // 2032: Christmas Day and Boxing Day fall at the weekend.
    "2032-01-01",
    "2032-03-26",
    "2032-03-29",
    "2032-05-03",
    "2032-05-31",
    "2032-08-30",
    "2032-12-27",
    "2032-12-28",
    // 2033: New Year's Day is a Saturday; Christmas Day a Sunday, so Boxing
    // Day stays on Monday 26th and Christmas is kept on Tuesday 27th.
    "2033-01-03",
    "2033-04-15",
    "2033-04-18",
    "2033-05-02",
    "2033-05-30",
    "2033-08-29",
    "2033-12-26",
    "2033-12-27",
    // 2034: New Year's Day is a Sunday.
    "2034-01-02",
    "2034-04-07",
    "2034-04-10",
    "2034-05-01",
    "2034-05-29",
    "2034-08-28",
    "2034-12-25",
    "2034-12-26",
];

/// British Summer Time, one row a year: it begins and ends at 01:00 UTC on
/// the last Sundays of March and October.
const SUMMER_TIME: [(&str, &str); 10] = [
    ("2025-03-30T01:00:00Z", "2025-10-26T01:00:00Z"),
    ("2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"),
    ("2027-03-28T01:00:00Z", "2027-10-31T01:00:00Z"),
    ("2028-03-26T01:00:00Z", "2028-10-29T01:00:00Z"),
    ("2029-03-25T01:00:00Z", "2029-10-28T01:00:00Z"),
    ("2030-03-31T01:00:00Z", "2030-10-27T01:00:00Z"),
    ("2031-03-30T01:00:00Z", "2031-10-26T01:00:00Z"),
    ("2032-03-28T01:00:00Z", "2032-10-31T01:00:00Z"),
    ("2033-03-27T01:00:00Z", "2033-10-30T01:00:00Z"),
    ("2034-03-26T01:00:00Z", "2034-10-29T01:00:00Z"),
];

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn covered(year: i32) {
    assert!(
        YEARS.contains(&year),
        "{year} is outside the working-day table of the end-to-end tests ({YEARS:?}): \
         extend it in tests/e2e/tests/e2e/bank_holidays.rs"
    );
}

/// London's offset from UTC at `at`: an hour in summer time, else none.
fn london_offset(at: DateTime<Utc>) -> Duration {
    covered(at.year());
    let summer = SUMMER_TIME
        .iter()
        .any(|(begins, ends)| (instant(begins)..instant(ends)).contains(&at));
    Duration::hours(i64::from(summer))
}

/// The date in London at `at`.
pub fn london_date(at: DateTime<Utc>) -> NaiveDate {
    (at + london_offset(at)).date_naive()
}

/// The instant `date` ends in London: the next London midnight.
pub fn end_of_london_day(date: NaiveDate) -> DateTime<Utc> {
    let midnight_utc = date.succ_opt().unwrap().and_time(NaiveTime::MIN).and_utc();
    // Clocks change at 01:00 UTC, never near a London midnight: the offset
    // an hour before midnight UTC is the one in force at London's midnight.
    let in_summer = midnight_utc - Duration::hours(1);
    midnight_utc - london_offset(in_summer)
}

pub fn is_working_day(date: NaiveDate) -> bool {
    covered(date.year());
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
        && !BANK_HOLIDAYS.iter().any(|holiday| day(holiday) == date)
}

/// The due date and due instant of `working_days` working days from a
/// receipt at `received_at`.
pub fn due(received_at: DateTime<Utc>, working_days: u32) -> (NaiveDate, DateTime<Utc>) {
    let mut date = london_date(received_at);
    let mut left = working_days;
    while left > 0 {
        date = date.succ_opt().unwrap();
        if is_working_day(date) {
            left -= 1;
        }
    }
    (date, end_of_london_day(date))
}

/// The count checked on cases worked out by hand, so that the tests that
/// rely on it rely on something checked.
#[test]
fn the_table_counts_working_days_as_worked_out_by_hand() {
    let due = |received: &str, days: u32| {
        let (date, at) = due(instant(received), days);
        (
            date.format("%Y-%m-%d").to_string(),
            at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
    };
    let expect = |date: &str, at: &str| (date.to_owned(), at.to_owned());
    // Monday 30 November 2026 (GMT): Thursday 3 December; and Monday 14
    // December, ten working days on.
    assert_eq!(
        due("2026-11-30T09:30:00Z", 3),
        expect("2026-12-03", "2026-12-04T00:00:00Z")
    );
    assert_eq!(
        due("2026-11-30T09:30:00Z", 10),
        expect("2026-12-14", "2026-12-15T00:00:00Z")
    );
    // Christmas 2026: Friday 25th, and Monday 28th for Boxing Day.
    assert_eq!(
        due("2026-12-23T12:00:00Z", 3),
        expect("2026-12-30", "2026-12-31T00:00:00Z")
    );
    // New Year's Day 2028 is a Saturday, kept on Monday 3 January.
    assert_eq!(
        due("2027-12-31T12:00:00Z", 1),
        expect("2028-01-04", "2028-01-05T00:00:00Z")
    );
    // 23:30 UTC on Friday 28 August 2026 is already Saturday in London
    // (BST); Monday 31st is the summer bank holiday; the due instant is
    // 23:00 UTC, London's midnight in summer.
    assert_eq!(
        due("2026-08-28T23:30:00Z", 3),
        expect("2026-09-03", "2026-09-03T23:00:00Z")
    );
    // Easter 2027 (Good Friday 26 March, Easter Monday 29 March), and the
    // clocks going forward on Sunday 28 March in between.
    assert_eq!(
        due("2027-03-25T12:00:00Z", 2),
        expect("2027-03-31", "2027-03-31T23:00:00Z")
    );
    // The clocks going back on Sunday 25 October 2026: due on the Monday,
    // which ends at midnight GMT.
    assert_eq!(
        due("2026-10-21T12:00:00Z", 3),
        expect("2026-10-26", "2026-10-27T00:00:00Z")
    );
    assert_eq!(
        due("2026-10-20T12:00:00Z", 3),
        expect("2026-10-23", "2026-10-23T23:00:00Z")
    );
}
