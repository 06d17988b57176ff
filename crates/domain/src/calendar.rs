//! The working-day calendar (SPEC section 3). STUB: signatures are fixed, bodies to be written.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The UK bank-holiday region whose days are not working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    #[default]
    EnglandAndWales,
    Scotland,
    NorthernIreland,
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

impl Calendar {
    pub fn new(region: Region, time_zone: Tz) -> Self {
        Self {
            region,
            time_zone,
            extra_holidays: BTreeSet::new(),
        }
    }

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

    pub fn bank_holidays(&self, _year: i32) -> Vec<BankHoliday> {
        todo!()
    }

    pub fn is_working_day(&self, _date: NaiveDate) -> bool {
        todo!()
    }

    pub fn add_working_days(&self, _from: NaiveDate, _n: u32) -> NaiveDate {
        todo!()
    }

    pub fn working_days_between(&self, _from: NaiveDate, _to: NaiveDate) -> i64 {
        todo!()
    }

    pub fn local_date(&self, _instant: DateTime<Utc>) -> NaiveDate {
        todo!()
    }

    pub fn end_of_day(&self, _date: NaiveDate) -> DateTime<Utc> {
        todo!()
    }

    pub fn due(&self, _received_at: DateTime<Utc>, _working_days: u32) -> Due {
        todo!()
    }

    pub fn explain(&self, _received_at: DateTime<Utc>, _working_days: u32) -> String {
        todo!()
    }
}
