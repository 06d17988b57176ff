//! Instants the tests share, and (feature `proto`) protobuf timestamps of
//! instants.

use chrono::{DateTime, TimeZone, Utc};

/// Monday 2 March 2026, 10:00 UTC (GMT): no bank holiday near, so stage 1
/// is acknowledged by Thursday 5 March and resolved by Monday 16 March
/// (England and Wales), due at midnight at the end of that day.
pub fn monday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0)
        .single()
        .expect("a valid instant")
}

/// `at` as a protobuf timestamp, to the second (any fraction dropped).
#[cfg(feature = "proto")]
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

/// `at` as a protobuf timestamp, to the nanosecond.
#[cfg(feature = "proto")]
pub fn timestamp_exact(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).expect("under a second"),
    }
}

#[cfg(all(test, feature = "proto"))]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_keeps_the_second_and_an_exact_one_the_fraction() {
        let at = monday_morning() + chrono::Duration::milliseconds(1_250);
        assert_eq!(timestamp(at).seconds, 1_772_445_601);
        assert_eq!(timestamp(at).nanos, 0);
        assert_eq!(timestamp_exact(at).seconds, 1_772_445_601);
        assert_eq!(timestamp_exact(at).nanos, 250_000_000);
    }
}
