use chrono::{DateTime, Datelike, NaiveDate, Utc};
use complaints_domain::FieldViolation;
use complaints_proto::google::r#type::Date;

/// A protobuf instant as UTC; out-of-range values are the caller's mistake.
pub fn timestamp_from_proto(
    field: &str,
    ts: &prost_types::Timestamp,
) -> Result<DateTime<Utc>, FieldViolation> {
    let nanos = u32::try_from(ts.nanos).ok().filter(|n| *n < 1_000_000_000);
    nanos
        .and_then(|nanos| DateTime::from_timestamp(ts.seconds, nanos))
        .ok_or_else(|| FieldViolation::new(field, "is not a valid timestamp"))
}

/// A required instant.
pub fn required_timestamp(
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Result<DateTime<Utc>, FieldViolation> {
    match ts {
        Some(ts) => timestamp_from_proto(field, ts),
        None => Err(FieldViolation::new(field, "is required")),
    }
}

/// An optional instant: `None` when unset.
pub fn optional_timestamp(
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, FieldViolation> {
    ts.map(|ts| timestamp_from_proto(field, ts)).transpose()
}

pub fn timestamp_to_proto(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn duration_to_proto(duration: chrono::Duration) -> prost_types::Duration {
    let seconds = duration.num_seconds();
    let nanos = (duration - chrono::Duration::seconds(seconds))
        .num_nanoseconds()
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(0);
    prost_types::Duration { seconds, nanos }
}

pub fn date_to_proto(date: NaiveDate) -> Date {
    Date {
        year: date.year(),
        month: i32::try_from(date.month()).unwrap_or(0),
        day: i32::try_from(date.day()).unwrap_or(0),
    }
}

/// A full calendar date (no zero year, month or day).
pub fn date_from_proto(field: &str, date: &Date) -> Result<NaiveDate, FieldViolation> {
    let month = u32::try_from(date.month).ok();
    let day = u32::try_from(date.day).ok();
    month
        .zip(day)
        .and_then(|(month, day)| NaiveDate::from_ymd_opt(date.year, month, day))
        .ok_or_else(|| {
            FieldViolation::new(field, "must be a full calendar date (year, month and day)")
        })
}

/// The page size to use: 0 means the default of 50, above 500 means 500.
pub fn page_size(field: &str, requested: i32) -> Result<u64, FieldViolation> {
    match requested {
        0 => Ok(50),
        n if n < 0 => Err(FieldViolation::new(field, "must not be negative")),
        n => Ok(u64::try_from(n.min(500)).unwrap_or(500)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_and_dates_round_trip() {
        let at = Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 15).unwrap();
        assert_eq!(timestamp_from_proto("t", &timestamp_to_proto(at)), Ok(at));
        let day = NaiveDate::from_ymd_opt(2026, 12, 28).unwrap();
        assert_eq!(date_from_proto("d", &date_to_proto(day)), Ok(day));
    }

    #[test]
    fn bad_instants_and_dates_name_their_field() {
        let bad = prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(
            timestamp_from_proto("received_at", &bad).unwrap_err().field,
            "received_at"
        );
        let bad = Date {
            year: 2026,
            month: 2,
            day: 30,
        };
        assert_eq!(
            date_from_proto("from_date", &bad).unwrap_err().field,
            "from_date"
        );
        assert!(page_size("page_size", -1).is_err());
        assert_eq!(page_size("page_size", 0), Ok(50));
        assert_eq!(page_size("page_size", 10_000), Ok(500));
    }
}
