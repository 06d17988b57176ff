//! Every bank holiday gov.uk publishes for 2018-2028, typed from copies of
//! <https://www.gov.uk/bank-holidays.json> (title, plus " (substitute day)"
//! where the notes say "Substitute day"), not computed: 2019-2027 from
//! `dmossop/bank-holidays-data` and `hmcts/list-assist-e2e-tests`
//! (`bank-holidays.json`), 2018 from `Fishbowler/workingday-uk`
//! (`bank-holidays.json`, England and Wales) and a test fixture mirroring the
//! feed (Scotland, Northern Ireland). Scotland's 2026 "World Cup bank holiday"
//! is from later copies of the feed quoted in several repositories.
//!
//! 2028 is DERIVED BY HAND from the rules (gov.uk had not published it in the
//! copies found): 1 January is a Saturday, Easter Sunday is 16 April,
//! Christmas Day a Monday.

use chrono::NaiveDate;

use super::london;
use crate::calendar::{Calendar, Region};

const ENGLAND_AND_WALES: &[(&str, &str)] = &[
    ("2018-01-01", "New Year’s Day"),
    ("2018-03-30", "Good Friday"),
    ("2018-04-02", "Easter Monday"),
    ("2018-05-07", "Early May bank holiday"),
    ("2018-05-28", "Spring bank holiday"),
    ("2018-08-27", "Summer bank holiday"),
    ("2018-12-25", "Christmas Day"),
    ("2018-12-26", "Boxing Day"),
    ("2019-01-01", "New Year’s Day"),
    ("2019-04-19", "Good Friday"),
    ("2019-04-22", "Easter Monday"),
    ("2019-05-06", "Early May bank holiday"),
    ("2019-05-27", "Spring bank holiday"),
    ("2019-08-26", "Summer bank holiday"),
    ("2019-12-25", "Christmas Day"),
    ("2019-12-26", "Boxing Day"),
    ("2020-01-01", "New Year’s Day"),
    ("2020-04-10", "Good Friday"),
    ("2020-04-13", "Easter Monday"),
    ("2020-05-08", "Early May bank holiday (VE day)"),
    ("2020-05-25", "Spring bank holiday"),
    ("2020-08-31", "Summer bank holiday"),
    ("2020-12-25", "Christmas Day"),
    ("2020-12-28", "Boxing Day (substitute day)"),
    ("2021-01-01", "New Year’s Day"),
    ("2021-04-02", "Good Friday"),
    ("2021-04-05", "Easter Monday"),
    ("2021-05-03", "Early May bank holiday"),
    ("2021-05-31", "Spring bank holiday"),
    ("2021-08-30", "Summer bank holiday"),
    ("2021-12-27", "Christmas Day (substitute day)"),
    ("2021-12-28", "Boxing Day (substitute day)"),
    ("2022-01-03", "New Year’s Day (substitute day)"),
    ("2022-04-15", "Good Friday"),
    ("2022-04-18", "Easter Monday"),
    ("2022-05-02", "Early May bank holiday"),
    ("2022-06-02", "Spring bank holiday"),
    ("2022-06-03", "Platinum Jubilee bank holiday"),
    ("2022-08-29", "Summer bank holiday"),
    (
        "2022-09-19",
        "Bank Holiday for the State Funeral of Queen Elizabeth II",
    ),
    ("2022-12-26", "Boxing Day"),
    ("2022-12-27", "Christmas Day (substitute day)"),
    ("2023-01-02", "New Year’s Day (substitute day)"),
    ("2023-04-07", "Good Friday"),
    ("2023-04-10", "Easter Monday"),
    ("2023-05-01", "Early May bank holiday"),
    (
        "2023-05-08",
        "Bank holiday for the coronation of King Charles III",
    ),
    ("2023-05-29", "Spring bank holiday"),
    ("2023-08-28", "Summer bank holiday"),
    ("2023-12-25", "Christmas Day"),
    ("2023-12-26", "Boxing Day"),
    ("2024-01-01", "New Year’s Day"),
    ("2024-03-29", "Good Friday"),
    ("2024-04-01", "Easter Monday"),
    ("2024-05-06", "Early May bank holiday"),
    ("2024-05-27", "Spring bank holiday"),
    ("2024-08-26", "Summer bank holiday"),
    ("2024-12-25", "Christmas Day"),
    ("2024-12-26", "Boxing Day"),
    ("2025-01-01", "New Year’s Day"),
    ("2025-04-18", "Good Friday"),
    ("2025-04-21", "Easter Monday"),
    ("2025-05-05", "Early May bank holiday"),
    ("2025-05-26", "Spring bank holiday"),
    ("2025-08-25", "Summer bank holiday"),
    ("2025-12-25", "Christmas Day"),
    ("2025-12-26", "Boxing Day"),
    ("2026-01-01", "New Year’s Day"),
    ("2026-04-03", "Good Friday"),
    ("2026-04-06", "Easter Monday"),
    ("2026-05-04", "Early May bank holiday"),
    ("2026-05-25", "Spring bank holiday"),
    ("2026-08-31", "Summer bank holiday"),
    ("2026-12-25", "Christmas Day"),
    ("2026-12-28", "Boxing Day (substitute day)"),
    ("2027-01-01", "New Year’s Day"),
    ("2027-03-26", "Good Friday"),
    ("2027-03-29", "Easter Monday"),
    ("2027-05-03", "Early May bank holiday"),
    ("2027-05-31", "Spring bank holiday"),
    ("2027-08-30", "Summer bank holiday"),
    ("2027-12-27", "Christmas Day (substitute day)"),
    ("2027-12-28", "Boxing Day (substitute day)"),
    // 2028: derived, see the module comment.
    ("2028-01-03", "New Year’s Day (substitute day)"),
    ("2028-04-14", "Good Friday"),
    ("2028-04-17", "Easter Monday"),
    ("2028-05-01", "Early May bank holiday"),
    ("2028-05-29", "Spring bank holiday"),
    ("2028-08-28", "Summer bank holiday"),
    ("2028-12-25", "Christmas Day"),
    ("2028-12-26", "Boxing Day"),
];

const SCOTLAND: &[(&str, &str)] = &[
    ("2018-01-01", "New Year’s Day"),
    ("2018-01-02", "2nd January"),
    ("2018-03-30", "Good Friday"),
    ("2018-05-07", "Early May bank holiday"),
    ("2018-05-28", "Spring bank holiday"),
    ("2018-08-06", "Summer bank holiday"),
    ("2018-11-30", "St Andrew’s Day"),
    ("2018-12-25", "Christmas Day"),
    ("2018-12-26", "Boxing Day"),
    ("2019-01-01", "New Year’s Day"),
    ("2019-01-02", "2nd January"),
    ("2019-04-19", "Good Friday"),
    ("2019-05-06", "Early May bank holiday"),
    ("2019-05-27", "Spring bank holiday"),
    ("2019-08-05", "Summer bank holiday"),
    ("2019-12-02", "St Andrew’s Day (substitute day)"),
    ("2019-12-25", "Christmas Day"),
    ("2019-12-26", "Boxing Day"),
    ("2020-01-01", "New Year’s Day"),
    ("2020-01-02", "2nd January"),
    ("2020-04-10", "Good Friday"),
    ("2020-05-08", "Early May bank holiday (VE day)"),
    ("2020-05-25", "Spring bank holiday"),
    ("2020-08-03", "Summer bank holiday"),
    ("2020-11-30", "St Andrew’s Day"),
    ("2020-12-25", "Christmas Day"),
    ("2020-12-28", "Boxing Day (substitute day)"),
    ("2021-01-01", "New Year’s Day"),
    ("2021-01-04", "2nd January (substitute day)"),
    ("2021-04-02", "Good Friday"),
    ("2021-05-03", "Early May bank holiday"),
    ("2021-05-31", "Spring bank holiday"),
    ("2021-08-02", "Summer bank holiday"),
    ("2021-11-30", "St Andrew’s Day"),
    ("2021-12-27", "Christmas Day (substitute day)"),
    ("2021-12-28", "Boxing Day (substitute day)"),
    ("2022-01-03", "New Year’s Day (substitute day)"),
    ("2022-01-04", "2nd January (substitute day)"),
    ("2022-04-15", "Good Friday"),
    ("2022-05-02", "Early May bank holiday"),
    ("2022-06-02", "Spring bank holiday"),
    ("2022-06-03", "Platinum Jubilee bank holiday"),
    ("2022-08-01", "Summer bank holiday"),
    (
        "2022-09-19",
        "Bank Holiday for the State Funeral of Queen Elizabeth II",
    ),
    ("2022-11-30", "St Andrew’s Day"),
    ("2022-12-26", "Boxing Day"),
    ("2022-12-27", "Christmas Day (substitute day)"),
    ("2023-01-02", "New Year’s Day (substitute day)"),
    ("2023-01-03", "2nd January (substitute day)"),
    ("2023-04-07", "Good Friday"),
    ("2023-05-01", "Early May bank holiday"),
    (
        "2023-05-08",
        "Bank holiday for the coronation of King Charles III",
    ),
    ("2023-05-29", "Spring bank holiday"),
    ("2023-08-07", "Summer bank holiday"),
    ("2023-11-30", "St Andrew’s Day"),
    ("2023-12-25", "Christmas Day"),
    ("2023-12-26", "Boxing Day"),
    ("2024-01-01", "New Year’s Day"),
    ("2024-01-02", "2nd January"),
    ("2024-03-29", "Good Friday"),
    ("2024-05-06", "Early May bank holiday"),
    ("2024-05-27", "Spring bank holiday"),
    ("2024-08-05", "Summer bank holiday"),
    ("2024-12-02", "St Andrew’s Day (substitute day)"),
    ("2024-12-25", "Christmas Day"),
    ("2024-12-26", "Boxing Day"),
    ("2025-01-01", "New Year’s Day"),
    ("2025-01-02", "2nd January"),
    ("2025-04-18", "Good Friday"),
    ("2025-05-05", "Early May bank holiday"),
    ("2025-05-26", "Spring bank holiday"),
    ("2025-08-04", "Summer bank holiday"),
    ("2025-12-01", "St Andrew’s Day (substitute day)"),
    ("2025-12-25", "Christmas Day"),
    ("2025-12-26", "Boxing Day"),
    ("2026-01-01", "New Year’s Day"),
    ("2026-01-02", "2nd January"),
    ("2026-04-03", "Good Friday"),
    ("2026-05-04", "Early May bank holiday"),
    ("2026-05-25", "Spring bank holiday"),
    ("2026-06-15", "World Cup bank holiday"),
    ("2026-08-03", "Summer bank holiday"),
    ("2026-11-30", "St Andrew’s Day"),
    ("2026-12-25", "Christmas Day"),
    ("2026-12-28", "Boxing Day (substitute day)"),
    ("2027-01-01", "New Year’s Day"),
    ("2027-01-04", "2nd January (substitute day)"),
    ("2027-03-26", "Good Friday"),
    ("2027-05-03", "Early May bank holiday"),
    ("2027-05-31", "Spring bank holiday"),
    ("2027-08-02", "Summer bank holiday"),
    ("2027-11-30", "St Andrew’s Day"),
    ("2027-12-27", "Christmas Day (substitute day)"),
    ("2027-12-28", "Boxing Day (substitute day)"),
    // 2028: derived, see the module comment.
    ("2028-01-03", "New Year’s Day (substitute day)"),
    ("2028-01-04", "2nd January (substitute day)"),
    ("2028-04-14", "Good Friday"),
    ("2028-05-01", "Early May bank holiday"),
    ("2028-05-29", "Spring bank holiday"),
    ("2028-08-07", "Summer bank holiday"),
    ("2028-11-30", "St Andrew’s Day"),
    ("2028-12-25", "Christmas Day"),
    ("2028-12-26", "Boxing Day"),
];

const NORTHERN_IRELAND: &[(&str, &str)] = &[
    ("2018-01-01", "New Year’s Day"),
    ("2018-03-19", "St Patrick’s Day (substitute day)"),
    ("2018-03-30", "Good Friday"),
    ("2018-04-02", "Easter Monday"),
    ("2018-05-07", "Early May bank holiday"),
    ("2018-05-28", "Spring bank holiday"),
    ("2018-07-12", "Battle of the Boyne (Orangemen’s Day)"),
    ("2018-08-27", "Summer bank holiday"),
    ("2018-12-25", "Christmas Day"),
    ("2018-12-26", "Boxing Day"),
    ("2019-01-01", "New Year’s Day"),
    ("2019-03-18", "St Patrick’s Day (substitute day)"),
    ("2019-04-19", "Good Friday"),
    ("2019-04-22", "Easter Monday"),
    ("2019-05-06", "Early May bank holiday"),
    ("2019-05-27", "Spring bank holiday"),
    ("2019-07-12", "Battle of the Boyne (Orangemen’s Day)"),
    ("2019-08-26", "Summer bank holiday"),
    ("2019-12-25", "Christmas Day"),
    ("2019-12-26", "Boxing Day"),
    ("2020-01-01", "New Year’s Day"),
    ("2020-03-17", "St Patrick’s Day"),
    ("2020-04-10", "Good Friday"),
    ("2020-04-13", "Easter Monday"),
    ("2020-05-08", "Early May bank holiday (VE day)"),
    ("2020-05-25", "Spring bank holiday"),
    (
        "2020-07-13",
        "Battle of the Boyne (Orangemen’s Day) (substitute day)",
    ),
    ("2020-08-31", "Summer bank holiday"),
    ("2020-12-25", "Christmas Day"),
    ("2020-12-28", "Boxing Day (substitute day)"),
    ("2021-01-01", "New Year’s Day"),
    ("2021-03-17", "St Patrick’s Day"),
    ("2021-04-02", "Good Friday"),
    ("2021-04-05", "Easter Monday"),
    ("2021-05-03", "Early May bank holiday"),
    ("2021-05-31", "Spring bank holiday"),
    ("2021-07-12", "Battle of the Boyne (Orangemen’s Day)"),
    ("2021-08-30", "Summer bank holiday"),
    ("2021-12-27", "Christmas Day (substitute day)"),
    ("2021-12-28", "Boxing Day (substitute day)"),
    ("2022-01-03", "New Year’s Day (substitute day)"),
    ("2022-03-17", "St Patrick’s Day"),
    ("2022-04-15", "Good Friday"),
    ("2022-04-18", "Easter Monday"),
    ("2022-05-02", "Early May bank holiday"),
    ("2022-06-02", "Spring bank holiday"),
    ("2022-06-03", "Platinum Jubilee bank holiday"),
    ("2022-07-12", "Battle of the Boyne (Orangemen’s Day)"),
    ("2022-08-29", "Summer bank holiday"),
    (
        "2022-09-19",
        "Bank Holiday for the State Funeral of Queen Elizabeth II",
    ),
    ("2022-12-26", "Boxing Day"),
    ("2022-12-27", "Christmas Day (substitute day)"),
    ("2023-01-02", "New Year’s Day (substitute day)"),
    ("2023-03-17", "St Patrick’s Day"),
    ("2023-04-07", "Good Friday"),
    ("2023-04-10", "Easter Monday"),
    ("2023-05-01", "Early May bank holiday"),
    (
        "2023-05-08",
        "Bank holiday for the coronation of King Charles III",
    ),
    ("2023-05-29", "Spring bank holiday"),
    ("2023-07-12", "Battle of the Boyne (Orangemen’s Day)"),
    ("2023-08-28", "Summer bank holiday"),
    ("2023-12-25", "Christmas Day"),
    ("2023-12-26", "Boxing Day"),
    ("2024-01-01", "New Year’s Day"),
    ("2024-03-18", "St Patrick’s Day (substitute day)"),
    ("2024-03-29", "Good Friday"),
    ("2024-04-01", "Easter Monday"),
    ("2024-05-06", "Early May bank holiday"),
    ("2024-05-27", "Spring bank holiday"),
    ("2024-07-12", "Battle of the Boyne (Orangemen’s Day)"),
    ("2024-08-26", "Summer bank holiday"),
    ("2024-12-25", "Christmas Day"),
    ("2024-12-26", "Boxing Day"),
    ("2025-01-01", "New Year’s Day"),
    ("2025-03-17", "St Patrick’s Day"),
    ("2025-04-18", "Good Friday"),
    ("2025-04-21", "Easter Monday"),
    ("2025-05-05", "Early May bank holiday"),
    ("2025-05-26", "Spring bank holiday"),
    (
        "2025-07-14",
        "Battle of the Boyne (Orangemen’s Day) (substitute day)",
    ),
    ("2025-08-25", "Summer bank holiday"),
    ("2025-12-25", "Christmas Day"),
    ("2025-12-26", "Boxing Day"),
    ("2026-01-01", "New Year’s Day"),
    ("2026-03-17", "St Patrick’s Day"),
    ("2026-04-03", "Good Friday"),
    ("2026-04-06", "Easter Monday"),
    ("2026-05-04", "Early May bank holiday"),
    ("2026-05-25", "Spring bank holiday"),
    (
        "2026-07-13",
        "Battle of the Boyne (Orangemen’s Day) (substitute day)",
    ),
    ("2026-08-31", "Summer bank holiday"),
    ("2026-12-25", "Christmas Day"),
    ("2026-12-28", "Boxing Day (substitute day)"),
    ("2027-01-01", "New Year’s Day"),
    ("2027-03-17", "St Patrick’s Day"),
    ("2027-03-26", "Good Friday"),
    ("2027-03-29", "Easter Monday"),
    ("2027-05-03", "Early May bank holiday"),
    ("2027-05-31", "Spring bank holiday"),
    ("2027-07-12", "Battle of the Boyne (Orangemen’s Day)"),
    ("2027-08-30", "Summer bank holiday"),
    ("2027-12-27", "Christmas Day (substitute day)"),
    ("2027-12-28", "Boxing Day (substitute day)"),
    // 2028: derived, see the module comment.
    ("2028-01-03", "New Year’s Day (substitute day)"),
    ("2028-03-17", "St Patrick’s Day"),
    ("2028-04-14", "Good Friday"),
    ("2028-04-17", "Easter Monday"),
    ("2028-05-01", "Early May bank holiday"),
    ("2028-05-29", "Spring bank holiday"),
    ("2028-07-12", "Battle of the Boyne (Orangemen’s Day)"),
    ("2028-08-28", "Summer bank holiday"),
    ("2028-12-25", "Christmas Day"),
    ("2028-12-26", "Boxing Day"),
];

fn published(region: Region) -> &'static [(&'static str, &'static str)] {
    match region {
        Region::EnglandAndWales => ENGLAND_AND_WALES,
        Region::Scotland => SCOTLAND,
        Region::NorthernIreland => NORTHERN_IRELAND,
    }
}

#[test]
fn calendar_bank_holidays_equal_the_published_list_for_every_region_and_year() {
    for region in Region::ALL {
        let calendar = Calendar::new(region, london());
        for year in 2018..=2028 {
            let expected: Vec<(String, String)> = published(region)
                .iter()
                .filter(|(date, _)| date.starts_with(&year.to_string()))
                .map(|(date, name)| ((*date).to_owned(), (*name).to_owned()))
                .collect();
            assert!(expected.len() >= 8, "{region} {year}: table incomplete");
            let actual: Vec<(String, String)> = calendar
                .bank_holidays(year)
                .into_iter()
                .map(|holiday| (holiday.date.to_string(), holiday.name))
                .collect();
            assert_eq!(actual, expected, "{region} {year}");
        }
    }
}

#[test]
fn calendar_published_days_are_not_working_days_and_their_weekdays_are_the_only_others() {
    for region in Region::ALL {
        let calendar = Calendar::new(region, london());
        let table = published(region);
        let mut date = NaiveDate::from_ymd_opt(2018, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2028, 12, 31).unwrap();
        while date <= end {
            let key = date.to_string();
            let published = table.iter().find(|(day, _)| *day == key);
            let weekend = matches!(
                chrono::Datelike::weekday(&date),
                chrono::Weekday::Sat | chrono::Weekday::Sun
            );
            assert_eq!(
                calendar.is_working_day(date),
                !weekend && published.is_none(),
                "{region} {date}"
            );
            assert_eq!(
                calendar.holiday_name(date).as_deref(),
                published.map(|(_, name)| *name),
                "{region} {date}"
            );
            date = date.succ_opt().unwrap();
        }
    }
}
