//! The working-day calendar (docs/policy.md, Working days): which days count,
//! when an "N working days" deadline falls due, and which day is N working
//! days before a due date.
//!
//! A working day is Monday to Friday unless it is a bank holiday of the
//! configured UK region (substitute and one-off days included) or an extra day
//! supplied by configuration. Bank holidays come from rules that hold for any
//! year plus one-off changes kept as data in `calendar/rules.rs`; gov.uk's published
//! lists for 2018-2028 are checked day by day in the tests.
//!
//! Everything here is a pure function of the calendar and its arguments: no
//! clock, no I/O, no panics. Dates beyond chrono's range saturate.

mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Bound;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::FieldViolation;
use rules::{YearHolidays, is_weekend};

/// The name given to a day added by configuration ([`Calendar::with_extra_holidays`]).
pub const CONFIGURED_HOLIDAY_NAME: &str = "Additional holiday (configured)";

/// The UK bank-holiday region whose days are not working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    #[default]
    EnglandAndWales,
    Scotland,
    NorthernIreland,
}

impl Region {
    pub const ALL: [Region; 3] = [
        Region::EnglandAndWales,
        Region::Scotland,
        Region::NorthernIreland,
    ];

    /// The region's identifier as gov.uk spells it (and as configuration and
    /// serde take it): `england-and-wales`, `scotland`, `northern-ireland`.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::EnglandAndWales => "england-and-wales",
            Region::Scotland => "scotland",
            Region::NorthernIreland => "northern-ireland",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Region {
    type Err = FieldViolation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::ALL
            .into_iter()
            .find(|region| region.as_str() == s)
            .ok_or_else(|| {
                FieldViolation::new(
                    "region",
                    format!(
                        "unknown region {s:?}; expected one of {}",
                        Region::ALL.map(Region::as_str).join(", ")
                    ),
                )
            })
    }
}

/// A named bank holiday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankHoliday {
    pub date: NaiveDate,
    pub name: String,
}

/// A due date and the instant it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The Nth working day strictly after the local date of receipt.
    pub date: NaiveDate,
    /// The end of `date` in the calendar's time zone (the next local midnight), in UTC.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    region: Region,
    time_zone: Tz,
    extra_holidays: BTreeSet<NaiveDate>,
}

impl Default for Calendar {
    fn default() -> Self {
        Self::new(Region::EnglandAndWales, chrono_tz::Europe::London)
    }
}

/// Below this many working days `add_working_days` walks day by day; above
/// it, it first jumps whole weeks and counts what it jumped over.
const WALK_LIMIT: i64 = 64;

/// `explain` lists at most this many skipped days, then says how many more.
const EXPLAIN_LIST_LIMIT: usize = 60;

impl Calendar {
    pub fn new(region: Region, time_zone: Tz) -> Self {
        Self {
            region,
            time_zone,
            extra_holidays: BTreeSet::new(),
        }
    }

    /// Adds days that are not working days in any year, whatever the region
    /// (a one-off holiday announced after this release, say).
    pub fn with_extra_holidays(mut self, days: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.extra_holidays.extend(days);
        self
    }

    pub fn region(&self) -> Region {
        self.region
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The region's bank holidays in `year` with gov.uk's names, plus the
    /// configured extra days in that year, sorted by date. A configured day
    /// that is already a bank holiday appears once, under the bank holiday's name.
    pub fn bank_holidays(&self, year: i32) -> Vec<BankHoliday> {
        let observed = rules::observed(self.region, year);
        let mut holidays: Vec<BankHoliday> = observed
            .iter()
            .map(|day| BankHoliday {
                date: day.date,
                name: day.name(),
            })
            .collect();
        if let (Some(first), Some(last)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) {
            holidays.extend(
                self.extra_holidays
                    .range(first..=last)
                    .filter(|date| observed.get(**date).is_none())
                    .map(|&date| BankHoliday {
                        date,
                        name: CONFIGURED_HOLIDAY_NAME.to_owned(),
                    }),
            );
        }
        holidays.sort_by_key(|holiday| holiday.date);
        holidays
    }

    /// The name of the holiday kept on `date`, if any: a bank holiday of the
    /// region (e.g. "Boxing Day (substitute day)") or a configured extra day.
    /// Weekends are not holidays and give `None`.
    pub fn holiday_name(&self, date: NaiveDate) -> Option<String> {
        rules::observed(self.region, date.year())
            .get(date)
            .map(|day| day.name())
            .or_else(|| {
                self.extra_holidays
                    .contains(&date)
                    .then(|| CONFIGURED_HOLIDAY_NAME.to_owned())
            })
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        Lookup::new(self).is_working_day(date)
    }

    /// The `n`th working day strictly after `from`, which may itself be a
    /// weekend or holiday (Saturday + 3 = Wednesday); `n = 0` gives `from`.
    /// Saturates at [`NaiveDate::MAX`] if the answer is beyond chrono's range.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let mut date = from;
        let mut remaining = i64::from(n);
        // 5k working days never fit in fewer than 7k calendar days, so a jump
        // of `remaining / 5` weeks cannot overshoot; what is left after the
        // jump is the holidays it crossed, a few percent of the distance.
        while remaining >= WALK_LIMIT {
            let days = (remaining / 5).saturating_mul(7).unsigned_abs();
            let Some(target) = date.checked_add_days(Days::new(days)) else {
                return NaiveDate::MAX;
            };
            remaining -= self.working_days_between(date, target);
            date = target;
        }
        let mut lookup = Lookup::new(self);
        while remaining > 0 {
            let Some(next) = date.succ_opt() else {
                return NaiveDate::MAX;
            };
            date = next;
            if lookup.is_working_day(date) {
                remaining -= 1;
            }
        }
        date
    }

    /// The `n`th working day strictly before `to`: the latest working day `d`
    /// such that exactly `n` working days fall in `d <= day < to` (`d` itself
    /// counts, `to` never does); `n = 0` gives `to`. This is the day "N
    /// working days before a due date" `to` (a warning goes at its end).
    ///
    /// `to` may itself be a weekend or holiday and is treated like any other
    /// day: it is never counted, working or not, and counting starts from the
    /// day before it. So Monday - 1 and Saturday - 1 are both the Friday
    /// before, and Christmas Day 2026 (a Friday) - 1 is Thursday 24 December,
    /// as is Monday 28 December 2026 (the Boxing Day substitute) - 1.
    ///
    /// The mirror image of [`Self::add_working_days`]: for a working day `d`,
    /// `add_working_days(subtract_working_days(d, n), n) == d` and
    /// `subtract_working_days(add_working_days(d, n), n) == d`. For any `to`
    /// and `n > 0`, short of saturating, the answer is a working day and
    /// `working_days_between(answer, to)` is `n` if `to` is a working day and
    /// `n - 1` if not.
    ///
    /// Saturates at [`NaiveDate::MIN`] when fewer than `n` working days come
    /// before `to` in chrono's range.
    pub fn subtract_working_days(&self, to: NaiveDate, n: u32) -> NaiveDate {
        let mut date = to;
        // `remaining` is `n` less the working days in `date <= day < to`.
        let mut remaining = i64::from(n);
        // As in `add_working_days`, 7k calendar days never hold more than 5k
        // working days, so a jump back of at most `remaining / 5` weeks cannot
        // overshoot. Near chrono's first date the jump is cut to the whole
        // weeks left, and the walk below finishes (or saturates) exactly.
        let mut lookup = Lookup::new(self);
        while remaining >= WALK_LIMIT {
            let weeks_left = date.signed_duration_since(NaiveDate::MIN).num_days() / 7;
            let weeks = (remaining / 5).min(weeks_left);
            let Some(target) = u64::try_from(weeks.saturating_mul(7))
                .ok()
                .filter(|days| *days > 0)
                .and_then(|days| date.checked_sub_days(Days::new(days)))
            else {
                break;
            };
            // Working days in `target <= day < date`, from those in `(target, date]`.
            remaining -= self.working_days_between(target, date)
                + i64::from(lookup.is_working_day(target))
                - i64::from(lookup.is_working_day(date));
            date = target;
        }
        // A jump can use up the count exactly and land on a weekend or
        // holiday: the answer is then the first working day after it (the
        // days between hold no working day, so the count stays `n`).
        if remaining == 0 && date != to {
            while !lookup.is_working_day(date) {
                let Some(next) = date.succ_opt() else {
                    return NaiveDate::MAX;
                };
                date = next;
            }
        }
        while remaining > 0 {
            let Some(previous) = date.pred_opt() else {
                return NaiveDate::MIN;
            };
            date = previous;
            if lookup.is_working_day(date) {
                remaining -= 1;
            }
        }
        date
    }

    /// The number of working days `d` with `from < d <= to`; negative (the
    /// mirror image) when `to < from`. The inverse of [`Self::add_working_days`]:
    /// `working_days_between(d, add_working_days(d, n)) == n`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return -self.working_days_between(to, from);
        }
        let weekdays = weekdays_through(to) - weekdays_through(from);
        weekdays - self.holidays_on_weekdays(from, to)
    }

    /// The date of `instant` in the calendar's time zone. Saturates at
    /// chrono's first and last dates.
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        let utc = instant.naive_utc();
        let offset = self.time_zone.offset_from_utc_datetime(&utc).fix();
        match utc.checked_add_offset(offset) {
            Some(local) => local.date(),
            None if offset.local_minus_utc() > 0 => NaiveDate::MAX,
            None => NaiveDate::MIN,
        }
    }

    /// The instant `date` ends in the calendar's time zone: the start of the
    /// next local day (23:00 UTC during British Summer Time, midnight UTC in
    /// winter). Saturates at [`DateTime::<Utc>::MAX_UTC`].
    pub fn end_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        match date.succ_opt() {
            Some(next) => self.start_of_day(next),
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// When a deadline of `working_days` working days, counted from receipt
    /// at `received_at`, falls due.
    pub fn due(&self, received_at: DateTime<Utc>, working_days: u32) -> Due {
        let date = self.add_working_days(self.local_date(received_at), working_days);
        Due {
            date,
            at: self.end_of_day(date),
        }
    }

    /// One line saying how [`Self::due`] reached its answer, for the case
    /// timeline and for people checking a deadline by hand: the receipt date,
    /// each non-working day skipped between it and the due date, and the due date.
    pub fn explain(&self, received_at: DateTime<Utc>, working_days: u32) -> String {
        let received = self.local_date(received_at);
        let due = self.due(received_at, working_days).date;

        let mut lookup = Lookup::new(self);
        let mut skipped = Vec::new();
        let mut more = 0_usize;
        let mut day = received.succ_opt();
        while let Some(date) = day.filter(|date| *date < due) {
            if let Some(reason) = lookup.non_working_reason(date) {
                if skipped.len() < EXPLAIN_LIST_LIMIT {
                    let when = if date.year() == received.year() {
                        date.format("%a %-d %b")
                    } else {
                        date.format("%a %-d %b %Y")
                    };
                    skipped.push(format!("{when} ({reason})"));
                } else {
                    more += 1;
                }
            }
            day = date.succ_opt();
        }

        let unit = if working_days == 1 { "day" } else { "days" };
        let skipped = match (skipped.is_empty(), more) {
            (true, _) => "no non-working days skipped".to_owned(),
            (false, 0) => format!("skipped {}", skipped.join(", ")),
            (false, more) => format!("skipped {} and {more} more", skipped.join(", ")),
        };
        format!(
            "{working_days} working {unit} after receipt on {}: {skipped}; due by the end of {} (23:59 {})",
            received.format("%a %-d %b %Y"),
            due.format("%a %-d %b %Y"),
            self.time_zone.name(),
        )
    }

    /// Bank holidays and configured days in `(from, to]` that fall on a
    /// weekday (weekends are already excluded by the weekday count).
    fn holidays_on_weekdays(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        let in_range = |date: NaiveDate| from < date && date <= to;
        let mut count = 0;
        for year in from.year()..=to.year() {
            count += rules::observed(self.region, year)
                .iter()
                .filter(|day| in_range(day.date) && !is_weekend(day.date))
                .count();
        }
        let mut lookup = Lookup::new(self);
        count += self
            .extra_holidays
            .range((Bound::Excluded(from), Bound::Included(to)))
            .filter(|date| !is_weekend(**date) && lookup.bank_holiday(**date).is_none())
            .count();
        i64::try_from(count).unwrap_or(i64::MAX)
    }

    /// The first instant of `date` in the calendar's time zone. Where the
    /// clocks skip midnight, the first local time that exists; where midnight
    /// happens twice, the first.
    fn start_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_time(NaiveTime::MIN);
        match self.time_zone.from_local_datetime(&midnight) {
            LocalResult::Single(start) | LocalResult::Ambiguous(start, _) => {
                start.with_timezone(&Utc)
            }
            LocalResult::None => self.first_instant_after_gap(midnight),
        }
    }

    /// Walks forward a minute at a time to the first local time that exists.
    /// Real gaps are an hour or so; the limit covers a skipped day (Samoa, 2011).
    fn first_instant_after_gap(&self, midnight: NaiveDateTime) -> DateTime<Utc> {
        let mut local = midnight;
        for _ in 0..(2 * 24 * 60) {
            let Some(next) = local.checked_add_signed(TimeDelta::minutes(1)) else {
                break;
            };
            local = next;
            if let Some(start) = self.time_zone.from_local_datetime(&local).earliest() {
                return start.with_timezone(&Utc);
            }
        }
        midnight.and_utc()
    }
}

/// Bank holidays by year for a run of nearby dates: computes a year's days
/// once and reuses them until the dates move into another year.
struct Lookup<'a> {
    calendar: &'a Calendar,
    year: Option<(i32, YearHolidays)>,
}

impl<'a> Lookup<'a> {
    fn new(calendar: &'a Calendar) -> Self {
        Self {
            calendar,
            year: None,
        }
    }

    fn bank_holiday(&mut self, date: NaiveDate) -> Option<rules::Observed> {
        let year = date.year();
        let holidays = match self.year {
            Some((cached, holidays)) if cached == year => holidays,
            _ => {
                let holidays = rules::observed(self.calendar.region, year);
                self.year = Some((year, holidays));
                holidays
            }
        };
        holidays.get(date)
    }

    fn is_working_day(&mut self, date: NaiveDate) -> bool {
        !is_weekend(date)
            && !self.calendar.extra_holidays.contains(&date)
            && self.bank_holiday(date).is_none()
    }

    /// Why `date` is not a working day, or `None` if it is one.
    fn non_working_reason(&mut self, date: NaiveDate) -> Option<String> {
        if is_weekend(date) {
            return Some("weekend".to_owned());
        }
        if let Some(holiday) = self.bank_holiday(date) {
            return Some(holiday.name());
        }
        self.calendar
            .extra_holidays
            .contains(&date)
            .then(|| CONFIGURED_HOLIDAY_NAME.to_owned())
    }
}

/// The number of weekdays from 1 January 1 CE (a Monday, day 1) up to and
/// including `date`, extended to earlier dates so that differences count the
/// weekdays between any two dates.
fn weekdays_through(date: NaiveDate) -> i64 {
    let day = i64::from(date.num_days_from_ce());
    5 * day.div_euclid(7) + day.rem_euclid(7).min(5)
}
