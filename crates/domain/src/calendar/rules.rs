//! The bank-holiday rules of the three UK regions, and the one-off changes
//! proclaimed for particular years, as data.
//!
//! Names follow gov.uk (<https://www.gov.uk/bank-holidays.json>): the event
//! title, with " (substitute day)" added where gov.uk's notes say "Substitute
//! day". The literal table in `calendar::tests::published` checks every
//! published day from 2018 on against these rules.
//!
//! Years before 1978 (when the Early May holiday began) are projected with
//! today's rules; nothing in the complaints platform looks that far back.

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::Region;

const NEW_YEARS_DAY: &str = "New Year’s Day";
const SECOND_JANUARY: &str = "2nd January";
const ST_PATRICKS_DAY: &str = "St Patrick’s Day";
const GOOD_FRIDAY: &str = "Good Friday";
const EASTER_MONDAY: &str = "Easter Monday";
const EARLY_MAY: &str = "Early May bank holiday";
const SPRING: &str = "Spring bank holiday";
const BATTLE_OF_THE_BOYNE: &str = "Battle of the Boyne (Orangemen’s Day)";
const SUMMER: &str = "Summer bank holiday";
const ST_ANDREWS_DAY: &str = "St Andrew’s Day";
const CHRISTMAS_DAY: &str = "Christmas Day";
const BOXING_DAY: &str = "Boxing Day";

/// St Andrew's Day became a Scottish bank holiday under the St Andrew's Day
/// Bank Holiday (Scotland) Act 2007; 30 November 2007 was the first.
const FIRST_ST_ANDREWS_DAY_HOLIDAY: i32 = 2007;

/// A rule-based holiday that a proclamation moved to another date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Movable {
    EarlyMay,
    Spring,
}

/// A rule-based holiday moved, in all regions, for one year.
#[derive(Debug)]
struct Moved {
    year: i32,
    holiday: Movable,
    month: u32,
    day: u32,
    title: &'static str,
    substitute: bool,
}

const MOVED: &[Moved] = &[
    // 50th anniversary of VE Day.
    Moved {
        year: 1995,
        holiday: Movable::EarlyMay,
        month: 5,
        day: 8,
        title: "Early May bank holiday (VE day)",
        substitute: false,
    },
    // Golden Jubilee: Spring holiday moved to Tuesday 4 June (see ONE_OFF).
    Moved {
        year: 2002,
        holiday: Movable::Spring,
        month: 6,
        day: 4,
        title: SPRING,
        substitute: false,
    },
    // Diamond Jubilee: gov.uk lists Monday 4 June with the note "Substitute day".
    Moved {
        year: 2012,
        holiday: Movable::Spring,
        month: 6,
        day: 4,
        title: SPRING,
        substitute: true,
    },
    // 75th anniversary of VE Day: Friday 8 May.
    Moved {
        year: 2020,
        holiday: Movable::EarlyMay,
        month: 5,
        day: 8,
        title: "Early May bank holiday (VE day)",
        substitute: false,
    },
    // Platinum Jubilee: Thursday 2 June (and Friday 3 June, see ONE_OFF).
    Moved {
        year: 2022,
        holiday: Movable::Spring,
        month: 6,
        day: 2,
        title: SPRING,
        substitute: false,
    },
];

/// Which regions a one-off holiday applies to.
#[derive(Debug, Clone, Copy)]
enum Regions {
    All,
    Only(Region),
}

/// An extra bank holiday proclaimed for one date.
#[derive(Debug)]
struct OneOff {
    year: i32,
    month: u32,
    day: u32,
    title: &'static str,
    regions: Regions,
}

const ONE_OFF: &[OneOff] = &[
    OneOff {
        year: 1999,
        month: 12,
        day: 31,
        title: "Millennium Celebrations",
        regions: Regions::All,
    },
    OneOff {
        year: 2002,
        month: 6,
        day: 3,
        title: "Golden Jubilee bank holiday",
        regions: Regions::All,
    },
    OneOff {
        year: 2011,
        month: 4,
        day: 29,
        title: "Royal wedding bank holiday",
        regions: Regions::All,
    },
    OneOff {
        year: 2012,
        month: 6,
        day: 5,
        title: "Queen’s Diamond Jubilee",
        regions: Regions::All,
    },
    OneOff {
        year: 2022,
        month: 6,
        day: 3,
        title: "Platinum Jubilee bank holiday",
        regions: Regions::All,
    },
    OneOff {
        year: 2022,
        month: 9,
        day: 19,
        title: "Bank Holiday for the State Funeral of Queen Elizabeth II",
        regions: Regions::All,
    },
    OneOff {
        year: 2023,
        month: 5,
        day: 8,
        title: "Bank holiday for the coronation of King Charles III",
        regions: Regions::All,
    },
    // Proclaimed for Scotland after the men's team qualified for the 2026
    // World Cup; listed by gov.uk for Scotland only.
    OneOff {
        year: 2026,
        month: 6,
        day: 15,
        title: "World Cup bank holiday",
        regions: Regions::Only(Region::Scotland),
    },
];

/// One bank holiday as observed: the date it is kept and its gov.uk title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Observed {
    pub(super) date: NaiveDate,
    pub(super) title: &'static str,
    /// Kept on a later weekday because the day itself fell at a weekend (or
    /// on another holiday's substitute).
    pub(super) substitute: bool,
}

impl Observed {
    fn on(date: NaiveDate, title: &'static str) -> Self {
        Self {
            date,
            title,
            substitute: false,
        }
    }

    /// The name gov.uk shows, e.g. "Boxing Day (substitute day)".
    pub(super) fn name(&self) -> String {
        if self.substitute {
            format!("{} (substitute day)", self.title)
        } else {
            self.title.to_owned()
        }
    }
}

/// No region has more than twelve bank holidays in a year (Northern Ireland in
/// 2022); the headroom is for future one-offs.
const CAPACITY: usize = 16;

/// One region's bank holidays in one year, sorted by date. Fixed capacity, so
/// that checking a day in a tight loop allocates nothing.
#[derive(Debug, Clone, Copy)]
pub(super) struct YearHolidays {
    len: usize,
    days: [Option<Observed>; CAPACITY],
}

impl YearHolidays {
    fn empty() -> Self {
        Self {
            len: 0,
            days: [None; CAPACITY],
        }
    }

    fn push(&mut self, observed: Observed) {
        if let Some(slot) = self.days.get_mut(self.len) {
            *slot = Some(observed);
            self.len += 1;
        }
    }

    fn contains(&self, date: NaiveDate) -> bool {
        self.get(date).is_some()
    }

    pub(super) fn get(&self, date: NaiveDate) -> Option<Observed> {
        self.iter().find(|observed| observed.date == date)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = Observed> + '_ {
        self.days.iter().flatten().copied()
    }

    fn sort(&mut self) {
        if let Some(filled) = self.days.get_mut(..self.len) {
            filled.sort_by_key(|observed| observed.map(|o| o.date));
        }
    }
}

pub(super) fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The bank holidays of `region` in `year`, substitute days applied.
pub(super) fn observed(region: Region, year: i32) -> YearHolidays {
    let scotland = region == Region::Scotland;
    let northern_ireland = region == Region::NorthernIreland;
    let mut out = YearHolidays::empty();

    // Holidays that always fall on a weekday and so are never substituted.
    if let Some(easter) = easter_sunday(year) {
        if let Some(good_friday) = easter.checked_sub_days(Days::new(2)) {
            out.push(Observed::on(good_friday, GOOD_FRIDAY));
        }
        if !scotland && let Some(easter_monday) = easter.succ_opt() {
            out.push(Observed::on(easter_monday, EASTER_MONDAY));
        }
    }
    if let Some(early_may) = movable(year, Movable::EarlyMay, first_monday(year, 5), EARLY_MAY) {
        out.push(early_may);
    }
    if let Some(spring) = movable(year, Movable::Spring, last_monday(year, 5), SPRING) {
        out.push(spring);
    }
    let summer = if scotland {
        first_monday(year, 8)
    } else {
        last_monday(year, 8)
    };
    if let Some(summer) = summer {
        out.push(Observed::on(summer, SUMMER));
    }
    for one_off in ONE_OFF.iter().filter(|one_off| one_off.year == year) {
        let applies = match one_off.regions {
            Regions::All => true,
            Regions::Only(only) => only == region,
        };
        if let (true, Some(date)) = (
            applies,
            NaiveDate::from_ymd_opt(year, one_off.month, one_off.day),
        ) {
            out.push(Observed::on(date, one_off.title));
        }
    }

    // Fixed-date holidays, in date order.
    let day = |month: u32, day: u32, title: &'static str| {
        NaiveDate::from_ymd_opt(year, month, day).map(|date| (date, title))
    };
    let fixed: [Option<(NaiveDate, &'static str)>; 7] = [
        day(1, 1, NEW_YEARS_DAY),
        day(1, 2, SECOND_JANUARY).filter(|_| scotland),
        day(3, 17, ST_PATRICKS_DAY).filter(|_| northern_ireland),
        day(7, 12, BATTLE_OF_THE_BOYNE).filter(|_| northern_ireland),
        day(11, 30, ST_ANDREWS_DAY).filter(|_| scotland && year >= FIRST_ST_ANDREWS_DAY_HOLIDAY),
        day(12, 25, CHRISTMAS_DAY),
        day(12, 26, BOXING_DAY),
    ];

    // When 1 January is a Sunday, gov.uk keeps New Year's Day on Monday 2
    // January and moves "2nd January" to Tuesday 3 January (both marked as
    // substitute days; 2017 and 2023). Christmas on a Sunday is the other way
    // round: Boxing Day stays on Monday 26th and Christmas moves to the 27th.
    let new_year_on_sunday = NaiveDate::from_ymd_opt(year, 1, 1)
        .is_some_and(|new_year| new_year.weekday() == Weekday::Sun);
    let displaced = |date: NaiveDate, title: &str| {
        is_weekend(date) || (scotland && title == SECOND_JANUARY && new_year_on_sunday)
    };

    // A fixed-date holiday on a weekday is kept on the day...
    for &(date, title) in fixed.iter().flatten() {
        if !displaced(date, title) {
            out.push(Observed::on(date, title));
        }
    }
    // ...one at a weekend moves to the next weekday not already a holiday,
    // taking earlier holidays first (Christmas Day on Saturday: Monday 27th
    // for Christmas, Tuesday 28th for Boxing Day).
    for &(date, title) in fixed.iter().flatten() {
        if displaced(date, title)
            && let Some(substitute) = next_free_weekday(date, &out)
        {
            out.push(Observed {
                date: substitute,
                title,
                substitute: true,
            });
        }
    }

    out.sort();
    out
}

fn movable(
    year: i32,
    holiday: Movable,
    by_rule: Option<NaiveDate>,
    title: &'static str,
) -> Option<Observed> {
    match MOVED
        .iter()
        .find(|moved| moved.year == year && moved.holiday == holiday)
    {
        Some(moved) => NaiveDate::from_ymd_opt(year, moved.month, moved.day).map(|date| Observed {
            date,
            title: moved.title,
            substitute: moved.substitute,
        }),
        None => by_rule.map(|date| Observed::on(date, title)),
    }
}

/// The first weekday after `date` that is not already a holiday. A handful of
/// steps at most; bounded so a corrupt table cannot loop.
fn next_free_weekday(date: NaiveDate, taken: &YearHolidays) -> Option<NaiveDate> {
    let mut candidate = date;
    for _ in 0..14 {
        candidate = candidate.succ_opt()?;
        if !is_weekend(candidate) && !taken.contains(candidate) {
            return Some(candidate);
        }
    }
    None
}

fn first_monday(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, 1)
}

fn last_monday(year: i32, month: u32) -> Option<NaiveDate> {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year.checked_add(1)?, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month.checked_add(1)?, 1)?
    };
    let last_day = first_of_next.pred_opt()?;
    let back = last_day.weekday().days_since(Weekday::Mon);
    last_day.checked_sub_days(Days::new(u64::from(back)))
}

/// Easter Sunday in the Gregorian calendar (the anonymous Gregorian
/// algorithm of Meeus, Jones and Butcher).
pub(super) fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let n = h + l - 7 * m + 114;
    let month = u32::try_from(n.div_euclid(31)).ok()?;
    let day = u32::try_from(n.rem_euclid(31) + 1).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}
