mod published;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::rules::easter_sunday;
use super::{CONFIGURED_HOLIDAY_NAME, Calendar, Due, Region, weekdays_through};

fn london() -> Tz {
    chrono_tz::Europe::London
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, minute, 0)
        .unwrap()
}

fn region(region: Region) -> Calendar {
    Calendar::new(region, london())
}

/// The obvious, slow definition the fast paths must agree with.
fn walk(calendar: &Calendar, from: NaiveDate, n: u32) -> NaiveDate {
    let mut date = from;
    let mut remaining = n;
    while remaining > 0 {
        date = date.succ_opt().unwrap();
        if calendar.is_working_day(date) {
            remaining -= 1;
        }
    }
    date
}

/// The obvious, slow definition `subtract_working_days` must agree with (the
/// walk the escalation service made before it): step back a day at a time,
/// counting working days, `None` if chrono's first date comes first.
fn walk_back(calendar: &Calendar, to: NaiveDate, n: u32) -> Option<NaiveDate> {
    let mut date = to;
    let mut counted = 0;
    while counted < n {
        date = date.pred_opt()?;
        if calendar.is_working_day(date) {
            counted += 1;
        }
    }
    Some(date)
}

fn count(calendar: &Calendar, from: NaiveDate, to: NaiveDate) -> i64 {
    let (low, high, sign) = if from <= to {
        (from, to, 1)
    } else {
        (to, from, -1)
    };
    let mut n = 0;
    let mut date = low;
    while date < high {
        date = date.succ_opt().unwrap();
        if calendar.is_working_day(date) {
            n += 1;
        }
    }
    sign * n
}

// ---------------------------------------------------------------- regions

#[test]
fn calendar_region_parses_and_prints_the_gov_uk_identifiers() {
    for (text, expected) in [
        ("england-and-wales", Region::EnglandAndWales),
        ("scotland", Region::Scotland),
        ("northern-ireland", Region::NorthernIreland),
    ] {
        assert_eq!(text.parse::<Region>(), Ok(expected));
        assert_eq!(expected.as_str(), text);
        assert_eq!(expected.to_string(), text);
    }
    assert_eq!(Region::default(), Region::EnglandAndWales);
}

#[test]
fn calendar_region_refuses_anything_else_naming_the_region_field() {
    for text in ["", "England", "wales", "Scotland", "northern_ireland"] {
        let violation = text.parse::<Region>().unwrap_err();
        assert_eq!(violation.field, "region");
        assert!(violation.description.contains("england-and-wales"));
    }
}

// ---------------------------------------------------------------- rules

#[test]
fn calendar_easter_matches_known_dates() {
    for (year, month, day) in [
        (1818, 3, 22),
        (1943, 4, 25),
        (1990, 4, 15),
        (2000, 4, 23),
        (2008, 3, 23),
        (2011, 4, 24),
        (2019, 4, 21),
        (2024, 3, 31),
        (2025, 4, 20),
        (2026, 4, 5),
        (2038, 4, 25),
        (2100, 3, 28),
        (2285, 3, 22),
    ] {
        assert_eq!(easter_sunday(year), Some(date(year, month, day)), "{year}");
    }
}

#[test]
fn calendar_default_is_england_and_wales_in_london() {
    let calendar = Calendar::default();
    assert_eq!(calendar.region(), Region::EnglandAndWales);
    assert_eq!(calendar.time_zone(), london());
}

#[test]
fn calendar_christmas_on_a_saturday_moves_both_days_to_monday_and_tuesday() {
    // 2032: Christmas Day is a Saturday.
    let holidays = region(Region::EnglandAndWales).bank_holidays(2032);
    let december: Vec<_> = holidays
        .iter()
        .filter(|holiday| holiday.date.month() == 12)
        .map(|holiday| (holiday.date, holiday.name.as_str()))
        .collect();
    assert_eq!(
        december,
        [
            (date(2032, 12, 27), "Christmas Day (substitute day)"),
            (date(2032, 12, 28), "Boxing Day (substitute day)"),
        ]
    );
}

#[test]
fn calendar_christmas_on_a_sunday_keeps_boxing_day_and_moves_christmas_to_tuesday() {
    // 2033: Christmas Day is a Sunday.
    let calendar = region(Region::EnglandAndWales);
    assert_eq!(
        calendar.holiday_name(date(2033, 12, 26)).as_deref(),
        Some("Boxing Day")
    );
    assert_eq!(
        calendar.holiday_name(date(2033, 12, 27)).as_deref(),
        Some("Christmas Day (substitute day)")
    );
    assert!(calendar.is_working_day(date(2033, 12, 28)));
}

#[test]
fn calendar_scotland_new_year_on_a_sunday_takes_monday_and_tuesday() {
    // 2034: 1 January is a Sunday.
    let scotland = region(Region::Scotland);
    assert_eq!(
        scotland.holiday_name(date(2034, 1, 2)).as_deref(),
        Some("New Year’s Day (substitute day)")
    );
    assert_eq!(
        scotland.holiday_name(date(2034, 1, 3)).as_deref(),
        Some("2nd January (substitute day)")
    );
    assert!(scotland.is_working_day(date(2034, 1, 4)));
    // England and Wales has only the Monday.
    let england = region(Region::EnglandAndWales);
    assert!(!england.is_working_day(date(2034, 1, 2)));
    assert!(england.is_working_day(date(2034, 1, 3)));
}

#[test]
fn calendar_st_andrews_day_is_a_holiday_only_from_2007() {
    let scotland = region(Region::Scotland);
    // Thursday 30 November 2006, then Friday 30 November 2007.
    assert!(scotland.is_working_day(date(2006, 11, 30)));
    assert_eq!(
        scotland.holiday_name(date(2007, 11, 30)).as_deref(),
        Some("St Andrew’s Day")
    );
    // Sunday 30 November 2031 moves to Monday 1 December.
    assert_eq!(
        scotland.holiday_name(date(2031, 12, 1)).as_deref(),
        Some("St Andrew’s Day (substitute day)")
    );
}

#[test]
fn calendar_northern_ireland_boyne_on_a_saturday_moves_to_monday() {
    // 2037: 12 July is a Sunday -> Monday 13; 2031: Saturday -> Monday 14.
    let ni = region(Region::NorthernIreland);
    assert_eq!(date(2031, 7, 12).weekday(), Weekday::Sat);
    assert_eq!(
        ni.holiday_name(date(2031, 7, 14)).as_deref(),
        Some("Battle of the Boyne (Orangemen’s Day) (substitute day)")
    );
    assert!(!ni.is_working_day(date(2037, 7, 13)));
    // Not a holiday elsewhere.
    assert!(region(Region::EnglandAndWales).is_working_day(date(2031, 7, 14)));
    assert!(region(Region::Scotland).is_working_day(date(2031, 7, 14)));
}

#[test]
fn calendar_older_one_offs_are_kept() {
    let calendar = region(Region::EnglandAndWales);
    for (day, name) in [
        (date(1999, 12, 31), "Millennium Celebrations"),
        (date(2011, 4, 29), "Royal wedding bank holiday"),
        (date(2012, 6, 4), "Spring bank holiday (substitute day)"),
        (date(2012, 6, 5), "Queen’s Diamond Jubilee"),
        (date(2002, 6, 3), "Golden Jubilee bank holiday"),
        (date(2002, 6, 4), "Spring bank holiday"),
        (date(1995, 5, 8), "Early May bank holiday (VE day)"),
    ] {
        assert_eq!(calendar.holiday_name(day).as_deref(), Some(name), "{day}");
    }
    // The days the moved holidays would have had by rule are ordinary.
    for day in [
        date(1995, 5, 1),
        date(2002, 5, 27),
        date(2012, 5, 28),
        date(2020, 5, 4),
        date(2022, 5, 30),
    ] {
        assert!(calendar.is_working_day(day), "{day}");
    }
}

#[test]
fn calendar_world_cup_holiday_is_scotland_only() {
    let day = date(2026, 6, 15);
    assert!(!region(Region::Scotland).is_working_day(day));
    assert!(region(Region::EnglandAndWales).is_working_day(day));
    assert!(region(Region::NorthernIreland).is_working_day(day));
}

#[test]
fn calendar_weekday_count_matches_chrono_weekdays() {
    let mut day = date(1969, 12, 1);
    let mut expected = weekdays_through(day);
    for _ in 0..800 {
        day = day.succ_opt().unwrap();
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            expected += 1;
        }
        assert_eq!(weekdays_through(day), expected, "{day}");
    }
    // Before the common era too.
    let bce = date(-3, 6, 1);
    assert_eq!(weekdays_through(date(-3, 6, 8)) - weekdays_through(bce), 5);
}

// ---------------------------------------------------------------- arithmetic

#[test]
fn calendar_saturday_plus_three_is_wednesday() {
    let calendar = Calendar::default();
    let saturday = date(2026, 3, 7);
    assert_eq!(saturday.weekday(), Weekday::Sat);
    assert_eq!(calendar.add_working_days(saturday, 3), date(2026, 3, 11));
    assert_eq!(
        calendar.add_working_days(date(2026, 3, 8), 3),
        date(2026, 3, 11)
    );
    assert_eq!(
        calendar.working_days_between(saturday, date(2026, 3, 11)),
        3
    );
}

#[test]
fn calendar_zero_working_days_is_the_day_itself() {
    let calendar = Calendar::default();
    for day in [date(2026, 3, 7), date(2026, 12, 25), date(2026, 3, 10)] {
        assert_eq!(calendar.add_working_days(day, 0), day);
        assert_eq!(calendar.working_days_between(day, day), 0);
    }
}

#[test]
fn calendar_between_is_negative_when_reversed() {
    let calendar = Calendar::default();
    let (from, to) = (date(2026, 12, 24), date(2027, 1, 8));
    let forward = calendar.working_days_between(from, to);
    // 29, 30, 31 Dec; 4-8 Jan (25, 28 Dec and 1 Jan are holidays).
    assert_eq!(forward, 8);
    assert_eq!(calendar.working_days_between(to, from), -8);
}

#[test]
fn calendar_christmas_eve_2026_plus_three_skips_christmas_and_the_substitute() {
    let calendar = Calendar::default();
    let received = utc(2026, 12, 24, 10, 0);
    let due = calendar.due(received, 3);
    assert_eq!(due.date, date(2026, 12, 31));
    assert_eq!(due.at, utc(2027, 1, 1, 0, 0));
    assert_eq!(
        calendar.explain(received, 3),
        "3 working days after receipt on Thu 24 Dec 2026: skipped Fri 25 Dec (Christmas Day), \
         Sat 26 Dec (weekend), Sun 27 Dec (weekend), Mon 28 Dec (Boxing Day (substitute day)); \
         due by the end of Thu 31 Dec 2026 (23:59 Europe/London)"
    );
}

#[test]
fn calendar_explain_with_nothing_skipped_and_across_a_year_end() {
    let calendar = Calendar::default();
    assert_eq!(
        calendar.explain(utc(2026, 3, 9, 9, 0), 1),
        "1 working day after receipt on Mon 9 Mar 2026: no non-working days skipped; \
         due by the end of Tue 10 Mar 2026 (23:59 Europe/London)"
    );
    assert_eq!(
        calendar.explain(utc(2026, 12, 31, 9, 0), 1),
        "1 working day after receipt on Thu 31 Dec 2026: skipped Fri 1 Jan 2027 (New Year’s Day), \
         Sat 2 Jan 2027 (weekend), Sun 3 Jan 2027 (weekend); \
         due by the end of Mon 4 Jan 2027 (23:59 Europe/London)"
    );
}

#[test]
fn calendar_scotland_and_england_differ_on_easter_monday_and_august() {
    let england = region(Region::EnglandAndWales);
    let scotland = region(Region::Scotland);
    // Thursday 2 April 2026 + 2: Good Friday everywhere; Easter Monday in
    // England and Wales only.
    let thursday = date(2026, 4, 2);
    assert_eq!(england.add_working_days(thursday, 2), date(2026, 4, 8));
    assert_eq!(scotland.add_working_days(thursday, 2), date(2026, 4, 7));
    // Summer: first Monday of August in Scotland, last in England and Wales.
    let friday = date(2026, 7, 31);
    assert_eq!(england.add_working_days(friday, 1), date(2026, 8, 3));
    assert_eq!(scotland.add_working_days(friday, 1), date(2026, 8, 4));
    let friday = date(2026, 8, 28);
    assert_eq!(england.add_working_days(friday, 1), date(2026, 9, 1));
    assert_eq!(scotland.add_working_days(friday, 1), date(2026, 8, 31));
}

#[test]
fn calendar_configured_extra_holiday_is_skipped_and_listed() {
    let extra = date(2026, 3, 11);
    let calendar = Calendar::default().with_extra_holidays([extra, date(2026, 12, 25)]);
    assert!(!calendar.is_working_day(extra));
    assert_eq!(
        calendar.add_working_days(date(2026, 3, 7), 3),
        date(2026, 3, 12)
    );
    assert_eq!(
        calendar.working_days_between(date(2026, 3, 7), date(2026, 3, 12)),
        3
    );
    assert_eq!(
        calendar.holiday_name(extra).as_deref(),
        Some(CONFIGURED_HOLIDAY_NAME)
    );
    let holidays = calendar.bank_holidays(2026);
    assert_eq!(holidays.len(), 9, "Christmas is listed once: {holidays:?}");
    assert!(holidays.windows(2).all(|pair| pair[0].date < pair[1].date));
    assert!(
        holidays
            .iter()
            .any(|holiday| holiday.date == extra && holiday.name == CONFIGURED_HOLIDAY_NAME)
    );
    assert!(
        calendar
            .explain(utc(2026, 3, 10, 9, 0), 1)
            .contains("Wed 11 Mar (Additional holiday (configured))")
    );
    // Without the configuration the day is ordinary.
    assert!(Calendar::default().is_working_day(extra));
}

#[test]
fn calendar_large_counts_use_the_fast_path_and_agree_with_walking() {
    for region_kind in Region::ALL {
        let calendar = region(region_kind).with_extra_holidays([date(2031, 2, 3)]);
        for n in [64, 65, 250, 1_000, 5_003] {
            let from = date(2026, 12, 24);
            let due = calendar.add_working_days(from, n);
            assert_eq!(due, walk(&calendar, from, n), "{region_kind} {n}");
            assert_eq!(calendar.working_days_between(from, due), i64::from(n));
        }
    }
}

#[test]
fn calendar_saturates_instead_of_overflowing() {
    let calendar = Calendar::default();
    assert_eq!(
        calendar.add_working_days(date(2026, 1, 1), u32::MAX),
        NaiveDate::MAX
    );
    assert_eq!(calendar.add_working_days(NaiveDate::MAX, 1), NaiveDate::MAX);
    assert_eq!(
        calendar.end_of_day(NaiveDate::MAX),
        DateTime::<Utc>::MAX_UTC
    );
    let _ = calendar.due(DateTime::<Utc>::MAX_UTC, 5);
    let _ = calendar.due(DateTime::<Utc>::MIN_UTC, 5);
    let _ = calendar.bank_holidays(NaiveDate::MAX.year());
    let _ = calendar.bank_holidays(NaiveDate::MIN.year());
    let _ = calendar.working_days_between(date(1, 1, 1), date(9999, 12, 31));
    for zone in [
        london(),
        chrono_tz::Asia::Tokyo,
        chrono_tz::America::Los_Angeles,
        chrono_tz::Pacific::Kiritimati,
    ] {
        let calendar = Calendar::new(Region::Scotland, zone);
        for day in [
            NaiveDate::MIN,
            NaiveDate::MIN.succ_opt().unwrap(),
            NaiveDate::MAX.pred_opt().unwrap(),
            NaiveDate::MAX,
        ] {
            let _ = calendar.end_of_day(day);
            let _ = calendar.add_working_days(day, 3);
            let _ = calendar.holiday_name(day);
        }
        for instant in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let _ = calendar.local_date(instant);
            let _ = calendar.explain(instant, 2);
        }
    }
}

#[test]
fn calendar_subtract_skips_the_weekend_whatever_day_it_starts_from() {
    let calendar = Calendar::default();
    // Monday 9, Saturday 7 and Sunday 8 March 2026 less one: Friday 6 March.
    let friday = date(2026, 3, 6);
    assert_eq!(friday.weekday(), Weekday::Fri);
    for day in [date(2026, 3, 9), date(2026, 3, 7), date(2026, 3, 8)] {
        assert_eq!(calendar.subtract_working_days(day, 1), friday, "{day}");
    }
    // Wednesday 11 March less three: Tuesday 10, Monday 9, Friday 6.
    assert_eq!(calendar.subtract_working_days(date(2026, 3, 11), 3), friday);
    // Friday 6 March less one is Thursday 5: the day itself never counts.
    assert_eq!(calendar.subtract_working_days(friday, 1), date(2026, 3, 5));
    // Saturday 14 March less six: Friday 13 back to Friday 6.
    assert_eq!(calendar.subtract_working_days(date(2026, 3, 14), 6), friday);
}

#[test]
fn calendar_subtract_zero_working_days_is_the_day_itself() {
    let calendar = Calendar::default();
    for day in [date(2026, 3, 7), date(2026, 12, 25), date(2026, 3, 10)] {
        assert_eq!(calendar.subtract_working_days(day, 0), day);
    }
}

#[test]
fn calendar_subtract_skips_bank_holidays() {
    let calendar = Calendar::default();
    // Early May bank holiday, Monday 4 May 2026: Tuesday 5 May less one is
    // Friday 1 May.
    assert_eq!(
        calendar.subtract_working_days(date(2026, 5, 5), 1),
        date(2026, 5, 1)
    );
    // Summer bank holiday, Monday 31 August 2026.
    assert_eq!(
        calendar.subtract_working_days(date(2026, 9, 1), 1),
        date(2026, 8, 28)
    );
    // The holiday itself as the due date is skipped like a weekend.
    assert_eq!(
        calendar.subtract_working_days(date(2026, 8, 31), 1),
        date(2026, 8, 28)
    );
}

#[test]
fn calendar_subtract_across_easter_differs_between_england_and_scotland() {
    let england = region(Region::EnglandAndWales);
    let scotland = region(Region::Scotland);
    // Good Friday 3 April 2026 everywhere; Easter Monday 6 April in England
    // and Wales only.
    assert_eq!(
        england.subtract_working_days(date(2026, 4, 7), 1),
        date(2026, 4, 2)
    );
    assert_eq!(
        scotland.subtract_working_days(date(2026, 4, 7), 1),
        date(2026, 4, 6)
    );
    assert_eq!(
        england.subtract_working_days(date(2026, 4, 8), 2),
        date(2026, 4, 2)
    );
    assert_eq!(
        scotland.subtract_working_days(date(2026, 4, 8), 2),
        date(2026, 4, 6)
    );
    // Easter 2027 (Good Friday 26 March, Easter Monday 29 March), from
    // Easter Sunday: Thursday 25 March everywhere.
    for calendar in [&england, &scotland] {
        assert_eq!(
            calendar.subtract_working_days(date(2027, 3, 28), 1),
            date(2027, 3, 25)
        );
    }
    // From Tuesday 30 March 2027 back over Easter Monday and Good Friday.
    let northern_ireland = region(Region::NorthernIreland);
    for calendar in [&england, &northern_ireland] {
        assert_eq!(
            calendar.subtract_working_days(date(2027, 3, 30), 3),
            date(2027, 3, 23)
        );
    }
    assert_eq!(
        scotland.subtract_working_days(date(2027, 3, 30), 3),
        date(2027, 3, 24)
    );
    // Northern Ireland also keeps St Patrick's Day, Wednesday 17 March 2027.
    assert_eq!(
        england.subtract_working_days(date(2027, 3, 19), 2),
        date(2027, 3, 17)
    );
    assert_eq!(
        northern_ireland.subtract_working_days(date(2027, 3, 19), 2),
        date(2027, 3, 16)
    );
}

#[test]
fn calendar_subtract_across_christmas_and_new_year() {
    let england = region(Region::EnglandAndWales);
    let scotland = region(Region::Scotland);
    // 2026: Christmas Day Friday 25 December, Boxing Day (Saturday) moved to
    // Monday 28 December; New Year's Day Friday 1 January 2027.
    assert_eq!(
        england.subtract_working_days(date(2026, 12, 31), 3),
        date(2026, 12, 24)
    );
    for holiday in [date(2026, 12, 25), date(2026, 12, 28)] {
        assert_eq!(
            england.subtract_working_days(holiday, 1),
            date(2026, 12, 24),
            "{holiday}"
        );
    }
    assert_eq!(
        england.subtract_working_days(date(2026, 12, 26), 2),
        date(2026, 12, 23)
    );
    assert_eq!(
        england.subtract_working_days(date(2027, 1, 4), 1),
        date(2026, 12, 31)
    );
    // Scotland also keeps 2 January, a Saturday in 2027, on Monday 4 January.
    assert_eq!(
        england.subtract_working_days(date(2027, 1, 5), 1),
        date(2027, 1, 4)
    );
    assert_eq!(
        scotland.subtract_working_days(date(2027, 1, 5), 1),
        date(2026, 12, 31)
    );
    // 2032: Christmas on a Saturday, both days moved to 27 and 28 December.
    assert_eq!(
        england.subtract_working_days(date(2032, 12, 29), 1),
        date(2032, 12, 24)
    );
}

#[test]
fn calendar_subtract_skips_configured_days() {
    let calendar = Calendar::default().with_extra_holidays([date(2026, 3, 11)]);
    // Thursday 12 March less one skips the configured Wednesday.
    assert_eq!(
        calendar.subtract_working_days(date(2026, 3, 12), 1),
        date(2026, 3, 10)
    );
    assert_eq!(
        Calendar::default().subtract_working_days(date(2026, 3, 12), 1),
        date(2026, 3, 11)
    );
}

#[test]
fn calendar_subtract_a_whole_year_of_working_days() {
    // England and Wales, 2026: 261 weekdays, 8 bank holidays all on weekdays
    // (Boxing Day moved to Monday 28 December), so 253 working days. Counting
    // them back from New Year's Day 2027 reaches Friday 2 January 2026, the
    // first working day of the year; one more is Wednesday 31 December 2025.
    let calendar = Calendar::default();
    let new_year = date(2027, 1, 1);
    assert_eq!(
        calendar.subtract_working_days(new_year, 253),
        date(2026, 1, 2)
    );
    assert_eq!(
        calendar.subtract_working_days(new_year, 254),
        date(2025, 12, 31)
    );
    // Scotland keeps 2 January instead of Easter Monday, the first Monday of
    // August instead of the last, St Andrew's Day (Monday 30 November) and
    // the World Cup bank holiday (Monday 15 June): 10 in all, so 251 working
    // days, from Monday 5 January 2026.
    let scotland = region(Region::Scotland);
    assert_eq!(
        scotland.subtract_working_days(new_year, 251),
        date(2026, 1, 5)
    );
    assert_eq!(
        scotland.subtract_working_days(new_year, 252),
        date(2025, 12, 31)
    );
}

#[test]
fn calendar_subtract_large_counts_use_the_fast_path_and_agree_with_walking() {
    for region_kind in Region::ALL {
        let calendar = region(region_kind).with_extra_holidays([date(2021, 2, 3)]);
        for n in [63, 64, 65, 250, 1_000, 5_003] {
            for to in [date(2026, 12, 25), date(2026, 12, 29)] {
                assert_eq!(
                    Some(calendar.subtract_working_days(to, n)),
                    walk_back(&calendar, to, n),
                    "{region_kind} {to} {n}"
                );
            }
        }
    }
}

#[test]
fn calendar_subtract_saturates_at_chronos_first_date() {
    let calendar = Calendar::default();
    assert_eq!(
        calendar.subtract_working_days(date(2026, 1, 1), u32::MAX),
        NaiveDate::MIN
    );
    assert_eq!(
        calendar.subtract_working_days(NaiveDate::MIN, 1),
        NaiveDate::MIN
    );
    assert_eq!(
        calendar.subtract_working_days(NaiveDate::MIN, 0),
        NaiveDate::MIN
    );
    // Close to the first date, the fast path gives way to the exact walk.
    let near = NaiveDate::MIN + chrono::Duration::days(400);
    for n in [1, 64, 200, 300, 400] {
        assert_eq!(
            calendar.subtract_working_days(near, n),
            walk_back(&calendar, near, n).unwrap_or(NaiveDate::MIN),
            "{n}"
        );
    }
    assert_eq!(
        Some(calendar.subtract_working_days(NaiveDate::MAX, 3)),
        walk_back(&calendar, NaiveDate::MAX, 3)
    );
}

// ---------------------------------------------------------------- time zone

#[test]
fn calendar_local_date_follows_british_summer_time() {
    let calendar = Calendar::default();
    // Saturday 28 March 2026, 23:30 UTC: still GMT, still Saturday.
    assert_eq!(
        calendar.local_date(utc(2026, 3, 28, 23, 30)),
        date(2026, 3, 28)
    );
    // Saturday 27 June 2026, 23:30 UTC: 00:30 BST, already Sunday.
    assert_eq!(
        calendar.local_date(utc(2026, 6, 27, 23, 30)),
        date(2026, 6, 28)
    );
    // Either side of the spring change (Sunday 29 March 2026, 01:00 UTC).
    assert_eq!(
        calendar.local_date(utc(2026, 3, 29, 0, 59)),
        date(2026, 3, 29)
    );
    assert_eq!(
        calendar.local_date(utc(2026, 3, 29, 22, 59)),
        date(2026, 3, 29)
    );
    assert_eq!(
        calendar.local_date(utc(2026, 3, 29, 23, 0)),
        date(2026, 3, 30)
    );
    // Either side of the autumn change (Sunday 25 October 2026, 01:00 UTC).
    assert_eq!(
        calendar.local_date(utc(2026, 10, 24, 22, 59)),
        date(2026, 10, 24)
    );
    assert_eq!(
        calendar.local_date(utc(2026, 10, 24, 23, 0)),
        date(2026, 10, 25)
    );
    assert_eq!(
        calendar.local_date(utc(2026, 10, 25, 23, 30)),
        date(2026, 10, 25)
    );
    assert_eq!(
        calendar.local_date(utc(2026, 10, 26, 0, 0)),
        date(2026, 10, 26)
    );
}

#[test]
fn calendar_end_of_day_is_midnight_utc_in_winter_and_23_00_utc_in_summer() {
    let calendar = Calendar::default();
    assert_eq!(
        calendar.end_of_day(date(2026, 1, 15)),
        utc(2026, 1, 16, 0, 0)
    );
    assert_eq!(
        calendar.end_of_day(date(2026, 7, 15)),
        utc(2026, 7, 15, 23, 0)
    );
    // The Saturday before the spring change ends at GMT midnight; the day
    // of the change (23 hours long) ends at BST midnight.
    assert_eq!(
        calendar.end_of_day(date(2026, 3, 28)),
        utc(2026, 3, 29, 0, 0)
    );
    assert_eq!(
        calendar.end_of_day(date(2026, 3, 29)),
        utc(2026, 3, 29, 23, 0)
    );
    // The Saturday before the autumn change ends at BST midnight; the day of
    // the change (25 hours long) ends at GMT midnight.
    assert_eq!(
        calendar.end_of_day(date(2026, 10, 24)),
        utc(2026, 10, 24, 23, 0)
    );
    assert_eq!(
        calendar.end_of_day(date(2026, 10, 25)),
        utc(2026, 10, 26, 0, 0)
    );
}

#[test]
fn calendar_receipt_late_on_friday_counts_from_friday_in_winter_but_saturday_in_summer() {
    let calendar = Calendar::default();
    // Friday 27 March 2026, 23:30 UTC is 23:30 GMT on Friday: Monday 30 March
    // (BST by then) is the first working day.
    assert_eq!(
        calendar.due(utc(2026, 3, 27, 23, 30), 1),
        Due {
            date: date(2026, 3, 30),
            at: utc(2026, 3, 30, 23, 0),
        }
    );
    // Friday 26 June 2026, 23:30 UTC is 00:30 BST on Saturday: Monday 29 June
    // is one working day on, Tuesday 30 June two.
    assert_eq!(
        calendar.due(utc(2026, 6, 26, 23, 30), 2),
        Due {
            date: date(2026, 6, 30),
            at: utc(2026, 6, 30, 23, 0),
        }
    );
    assert_eq!(
        calendar.due(utc(2026, 6, 26, 22, 59), 2).date,
        date(2026, 6, 30)
    );
    assert_eq!(
        calendar.due(utc(2026, 1, 9, 23, 30), 2).date,
        date(2026, 1, 13)
    );
    // Received on the night of the autumn change, due the Friday after.
    assert_eq!(
        calendar.due(utc(2026, 10, 24, 23, 30), 5),
        Due {
            date: date(2026, 10, 30),
            at: utc(2026, 10, 31, 0, 0),
        }
    );
}

#[test]
fn calendar_end_of_day_survives_zones_whose_midnight_is_skipped_or_repeated() {
    // São Paulo began summer time at midnight on 4 November 2018: the day
    // started at 01:00 -02:00, which is 03:00 UTC.
    let sao_paulo = Calendar::new(Region::EnglandAndWales, chrono_tz::America::Sao_Paulo);
    assert_eq!(
        sao_paulo.end_of_day(date(2018, 11, 3)),
        utc(2018, 11, 4, 3, 0)
    );
    // Havana ended summer time at 01:00 on 5 November 2023, repeating the
    // hour from midnight: the day began at the first midnight (-04:00).
    let havana = Calendar::new(Region::EnglandAndWales, chrono_tz::America::Havana);
    assert_eq!(havana.end_of_day(date(2023, 11, 4)), utc(2023, 11, 5, 4, 0));
    // Samoa skipped 30 December 2011: 29 December ran straight into 31 December.
    let apia = Calendar::new(Region::EnglandAndWales, chrono_tz::Pacific::Apia);
    assert_eq!(
        apia.end_of_day(date(2011, 12, 29)),
        utc(2011, 12, 30, 10, 0)
    );
    assert_eq!(
        apia.end_of_day(date(2011, 12, 30)),
        utc(2011, 12, 30, 10, 0)
    );
}

// ---------------------------------------------------------------- properties

fn any_region() -> impl Strategy<Value = Region> {
    prop::sample::select(Region::ALL.to_vec())
}

/// Dates from 1 January 1990 to 31 December 2100.
fn any_date() -> impl Strategy<Value = NaiveDate> {
    let first = date(1990, 1, 1);
    let span = date(2100, 12, 31).signed_duration_since(first).num_days();
    (0..=span).prop_map(move |offset| first + chrono::Duration::days(offset))
}

/// Instants from 1990 to 2100, with minutes chosen to land near midnight often.
fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    (
        any_date(),
        prop_oneof![0_u32..24, Just(22), Just(23), Just(0)],
        0_u32..60,
    )
        .prop_map(|(day, hour, minute)| {
            Utc.from_utc_datetime(&day.and_hms_opt(hour, minute, 0).unwrap())
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn calendar_due_date_is_a_working_day_n_working_days_after_receipt(
        region_kind in any_region(),
        received in any_instant(),
        n in 0_u32..=40,
    ) {
        let calendar = region(region_kind);
        let received_on = calendar.local_date(received);
        let due = calendar.due(received, n);
        prop_assert_eq!(calendar.working_days_between(received_on, due.date), i64::from(n));
        prop_assert_eq!(due.date, walk(&calendar, received_on, n));
        if n > 0 {
            prop_assert!(calendar.is_working_day(due.date));
            prop_assert!(due.date > received_on);
            prop_assert!(due.at > received);
        } else {
            prop_assert_eq!(due.date, received_on);
        }
        // `at` is the first instant of the next local day.
        prop_assert_eq!(due.at, calendar.end_of_day(due.date));
        prop_assert_eq!(calendar.local_date(due.at), due.date.succ_opt().unwrap());
        prop_assert_eq!(
            calendar.local_date(due.at - chrono::Duration::seconds(1)),
            due.date
        );
    }

    #[test]
    fn calendar_later_receipt_never_gives_an_earlier_due_date(
        region_kind in any_region(),
        first in any_date(),
        gap in 0_i64..20,
        n in 0_u32..=40,
    ) {
        let calendar = region(region_kind);
        let second = first + chrono::Duration::days(gap);
        prop_assert!(calendar.add_working_days(first, n) <= calendar.add_working_days(second, n));
        prop_assert!(calendar.add_working_days(first, n) <= calendar.add_working_days(first, n + 1));
    }

    #[test]
    fn calendar_add_and_between_are_inverse(
        region_kind in any_region(),
        from in any_date(),
        n in 0_u32..=40,
        extra in any_date(),
    ) {
        let calendar = region(region_kind).with_extra_holidays([extra]);
        let to = calendar.add_working_days(from, n);
        prop_assert_eq!(calendar.working_days_between(from, to), i64::from(n));
        prop_assert_eq!(calendar.working_days_between(to, from), -i64::from(n));
        if n > 0 {
            // The due date is the first day reaching n: the day before is short by one.
            let before = to.pred_opt().unwrap();
            prop_assert_eq!(calendar.working_days_between(from, before), i64::from(n) - 1);
        }
    }

    #[test]
    fn calendar_subtract_and_add_undo_each_other_from_a_working_day(
        region_kind in any_region(),
        day in any_date(),
        n in 0_u32..=120,
        extra in any_date(),
    ) {
        let calendar = region(region_kind).with_extra_holidays([extra]);
        prop_assume!(calendar.is_working_day(day));
        prop_assert_eq!(calendar.add_working_days(calendar.subtract_working_days(day, n), n), day);
        prop_assert_eq!(calendar.subtract_working_days(calendar.add_working_days(day, n), n), day);
    }

    #[test]
    fn calendar_subtract_is_the_walk_back_and_lands_on_a_working_day(
        region_kind in any_region(),
        to in any_date(),
        n in prop_oneof![0_u32..=40, 60_u32..=400],
        extra in any_date(),
    ) {
        let calendar = region(region_kind).with_extra_holidays([extra]);
        let back = calendar.subtract_working_days(to, n);
        prop_assert_eq!(Some(back), walk_back(&calendar, to, n));
        if n == 0 {
            prop_assert_eq!(back, to);
        } else {
            prop_assert!(back < to);
            prop_assert!(calendar.is_working_day(back));
            // `to` itself never counts: n working days in `back..to`.
            let to_counts = i64::from(calendar.is_working_day(to));
            prop_assert_eq!(
                calendar.working_days_between(back, to),
                i64::from(n) - 1 + to_counts
            );
            // Whether or not `to` is a working day, counting forward again
            // reaches the first working day on or after it.
            prop_assert_eq!(
                calendar.add_working_days(back, n),
                calendar.add_working_days(to.pred_opt().unwrap(), 1)
            );
            // One more working day back is strictly earlier.
            prop_assert!(calendar.subtract_working_days(to, n + 1) < back);
        }
    }

    #[test]
    fn calendar_between_counts_working_days_in_the_half_open_range(
        region_kind in any_region(),
        from in any_date(),
        to in any_date(),
    ) {
        let calendar = region(region_kind);
        let to = from + chrono::Duration::days(to.signed_duration_since(from).num_days() % 800);
        prop_assert_eq!(calendar.working_days_between(from, to), count(&calendar, from, to));
    }

    #[test]
    fn calendar_every_region_keeps_the_fixed_holidays_in_some_form(
        region_kind in any_region(),
        year in 1990_i32..=2100,
    ) {
        let holidays = region(region_kind).bank_holidays(year);
        let names: Vec<&str> = holidays.iter().map(|holiday| holiday.name.as_str()).collect();
        let has = |title: &str| names.iter().any(|name| name.starts_with(title));
        prop_assert!(has("New Year’s Day"));
        prop_assert!(has("Good Friday"));
        prop_assert!(has("Christmas Day"));
        prop_assert!(has("Boxing Day"));
        prop_assert_eq!(has("Easter Monday"), region_kind != Region::Scotland);
        prop_assert_eq!(has("2nd January"), region_kind == Region::Scotland);
        prop_assert_eq!(has("St Patrick’s Day"), region_kind == Region::NorthernIreland);
        for holiday in &holidays {
            prop_assert_eq!(holiday.date.year(), year);
            prop_assert!(!matches!(holiday.date.weekday(), Weekday::Sat | Weekday::Sun));
        }
        prop_assert!(holidays.windows(2).all(|pair| pair[0].date < pair[1].date));
    }
}
