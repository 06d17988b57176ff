//! When something from the complainant reached the provider (a complaint, a
//! request for review, a request to go to a director), as the caller states
//! it: back-dated, or now when not given, within the bounds every step shares.

use chrono::{DateTime, Duration, Utc};

use crate::FieldViolation;

/// How far in the future a receipt time may be, for clocks that disagree.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::minutes(5);

/// How long before it is recorded something may have been received.
pub const MAX_AGE: Duration = Duration::days(366);

/// The receipt instant a request gave in `field`, or `now` when it gave none.
///
/// Refused, on `field`, when after `now` plus [`CLOCK_SKEW_ALLOWANCE`] or
/// before `now` minus [`MAX_AGE`]. Clocks count from the result
/// (docs/policy.md, Working days), so a request keyed in days after the
/// complainant made it still counts from when they made it.
pub fn received_at(
    field: &str,
    given: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, FieldViolation> {
    let received_at = given.unwrap_or(now);
    if received_at > now + CLOCK_SKEW_ALLOWANCE {
        return Err(FieldViolation::new(
            field,
            format!(
                "must not be in the future (it is {}, now is {})",
                received_at.to_rfc3339(),
                now.to_rfc3339()
            ),
        ));
    }
    if received_at < now - MAX_AGE {
        return Err(FieldViolation::new(
            field,
            format!(
                "must be within the last {} days (it is {})",
                MAX_AGE.num_days(),
                received_at.to_rfc3339()
            ),
        ));
    }
    Ok(received_at)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
    }

    #[test]
    fn an_absent_receipt_time_is_now() {
        assert_eq!(received_at("received_at", None, now()), Ok(now()));
    }

    #[test]
    fn a_receipt_time_may_be_back_dated_up_to_366_days() {
        let a_year_ago = now() - Duration::days(366);
        assert_eq!(
            received_at("received_at", Some(a_year_ago), now()),
            Ok(a_year_ago)
        );
        let too_old = a_year_ago - Duration::minutes(1);
        let refused = received_at("received_at", Some(too_old), now()).unwrap_err();
        assert_eq!(refused.field, "received_at");
        assert!(
            refused.description.contains("within the last 366 days"),
            "{refused}"
        );
    }

    #[test]
    fn a_receipt_time_may_be_five_minutes_ahead_for_clock_skew_but_no_more() {
        let skewed = now() + Duration::minutes(5);
        assert_eq!(received_at("received_at", Some(skewed), now()), Ok(skewed));
        let future = skewed + Duration::seconds(1);
        let refused = received_at("received_at", Some(future), now()).unwrap_err();
        assert!(refused.description.contains("future"), "{refused}");
    }

    #[test]
    fn a_refusal_names_the_field_it_was_given_in() {
        let future = now() + Duration::hours(1);
        let refused = received_at("review.received_at", Some(future), now()).unwrap_err();
        assert_eq!(refused.field, "review.received_at");
    }
}
