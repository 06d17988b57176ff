//! When an attempt does not deliver: a transient failure goes back to the
//! queue with a capped exponential backoff for as long as the retry window
//! lasts; a permanent one, or a transient one past the window, is FAILED
//! for good, with an error log, a metric and an alert to staff (without
//! personal data) so someone reaches the complainant another way.

use std::time::Duration as StdDuration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Duration, Utc};
use complaints_domain::case::{DeadlineKind, NotifyKind};
use complaints_domain::policy::Stage;
use complaints_domain::role::Role;
use complaints_notify::AlertLevel;
use sea_orm::TransactionTrait;

use super::{Delivery, kind_label};
use crate::entity::{self, RequestDetails};
use crate::repo::{self, NewNotification};

/// Why one attempt did not deliver.
pub(crate) enum Failure {
    /// Worth trying again later: the SMTP server or the case service down
    /// or slow (refused connections, time-outs, UNAVAILABLE,
    /// DEADLINE_EXCEEDED), an SMTP 4xx reply, a letter that could not be
    /// written.
    Transient(String),
    /// Trying again would fail the same way: an SMTP 5xx refusal, an
    /// address that is not one, no route, a case that does not exist.
    Permanent(String),
    /// Not attempted: this worker no longer holds the notification (its
    /// lease ran out or could not be renewed), so another may be sending
    /// it. Nothing is recorded.
    NotHeld(String),
}

/// The first retry's wait; each further one doubles it, up to
/// [`LONGEST_WAIT`].
const FIRST_WAIT: StdDuration = StdDuration::from_secs(30);
/// The longest wait between two attempts, so that delivery resumes within
/// half an hour of the end of an outage.
const LONGEST_WAIT: StdDuration = StdDuration::from_secs(30 * 60);

impl Delivery {
    /// Records a failed attempt made at `now`: a transient failure within
    /// the retry window is retried after [`backoff`] (never later than the
    /// window's end, so the last attempt is made then); otherwise the
    /// notification is FAILED and, unless it was itself an alert, staff
    /// are alerted.
    pub(super) async fn record_failure(
        &self,
        n: &entity::Model,
        failure: Failure,
        now: DateTime<Utc>,
    ) -> Result<(), sea_orm::DbErr> {
        let give_up_at = n.retry_from() + self.retry_for;
        let reason = match failure {
            Failure::Transient(reason) if now < give_up_at => {
                let retry_at = (now + backoff(n.attempts)).min(give_up_at);
                let retrying = repo::mark_attempt_failed(
                    &self.db,
                    &n.notification_id,
                    &self.worker,
                    &reason,
                    Some(retry_at),
                    now,
                )
                .await?;
                if retrying {
                    tracing::warn!(
                        notification_id = %n.notification_id,
                        kind = kind_label(n),
                        attempts = n.attempts + 1,
                        reason = %without_personal_data(&reason),
                        %retry_at,
                        "delivery failed; will retry"
                    );
                    metrics::counter!(
                        "complaints_notification_retries_total",
                        "kind" => kind_label(n),
                    )
                    .increment(1);
                }
                return Ok(());
            }
            Failure::Transient(reason) => format!(
                "{reason} (still failing {} after it was queued)",
                span(self.retry_for)
            ),
            Failure::Permanent(reason) => reason,
            // Another worker may be sending it: nothing to record here.
            Failure::NotHeld(_) => return Ok(()),
        };
        let txn = self.db.begin().await?;
        let failed =
            repo::mark_attempt_failed(&txn, &n.notification_id, &self.worker, &reason, None, now)
                .await?;
        if failed && n.kind() != Some(NotifyKind::InternalAlert) {
            // Someone must reach the complainant another way. One alert per
            // time it fails: a requeued notification that fails again
            // alerts again.
            let stage = n.stage().unwrap_or(Stage::Stage1);
            repo::request(
                &txn,
                NewNotification {
                    dedupe_key: format!("{}/failed/{}", n.notification_id, n.attempts + 1),
                    case_id: n.case_id,
                    kind: NotifyKind::InternalAlert,
                    stage,
                    to_role: Some(Role::ComplaintsHandler),
                    reason: format!(
                        "the {} could not be delivered after {} attempt(s): {}",
                        n.kind.replace('_', " "),
                        n.attempts + 1,
                        without_personal_data(&reason)
                    ),
                    details: RequestDetails::new(
                        DeadlineKind::respond(stage),
                        None,
                        Some(AlertLevel::DeliveryFailed),
                    ),
                },
                now,
            )
            .await?;
        }
        txn.commit().await?;
        if failed {
            // The alert above goes by email, which may be what is down: the
            // error log and the metric (alerted on by Prometheus) reach
            // staff without it, and ListNotifications shows it FAILED.
            tracing::error!(
                notification_id = %n.notification_id,
                case_id = %n.case_id,
                kind = kind_label(n),
                attempts = n.attempts + 1,
                reason = %without_personal_data(&reason),
                "notification failed for good; staff must reach the recipient another way"
            );
            metrics::counter!(
                "complaints_notifications_failed_total",
                "kind" => kind_label(n),
            )
            .increment(1);
        }
        Ok(())
    }
}

/// How long to wait after a notification's `attempts`-th failed attempt
/// (`attempts` counts the earlier ones: 0 for the first): 30 s, 1 min,
/// 2 min ... doubling up to 30 minutes.
fn backoff(attempts: i32) -> Duration {
    // The wait stops growing long before the 32nd attempt.
    let nth = usize::try_from(attempts.clamp(0, 32)).unwrap_or(32);
    let wait = ExponentialBuilder::new()
        .with_min_delay(FIRST_WAIT)
        .with_factor(2.0)
        .with_max_delay(LONGEST_WAIT)
        .without_max_times()
        .build()
        .nth(nth)
        .unwrap_or(LONGEST_WAIT);
    Duration::from_std(wait).unwrap_or_else(|_| Duration::minutes(30))
}

/// A span in words: `24h`, `90m`, `45s`.
fn span(span: Duration) -> String {
    let seconds = span.num_seconds();
    if seconds % 3600 == 0 {
        format!("{}h", seconds / 3600)
    } else if seconds % 60 == 0 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// A delivery error as staff may read it: alerts carry no personal data,
/// and a server's reply often quotes the address it refused. Keeps the SMTP
/// status code, if there is one, and the kind of failure.
fn without_personal_data(reason: &str) -> String {
    let code = reason
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 3 && matches!(part.as_bytes().first(), Some(b'4' | b'5')));
    match code {
        Some(code) if code.starts_with('5') => format!("the mail server refused it (SMTP {code})"),
        Some(code) => format!("the mail server deferred it (SMTP {code})"),
        None if reason.contains("connect") || reason.contains("timed out") => {
            "the mail server could not be reached".to_owned()
        }
        None => "it could not be sent or written".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::{backoff, span, without_personal_data};

    #[test]
    fn a_delivery_error_in_an_alert_keeps_the_code_and_drops_the_address() {
        let refused = "550 5.1.1 <refuse@example.com>: recipient refused";
        let said = without_personal_data(refused);
        assert!(said.contains("550"), "{said}");
        assert!(!said.contains("example.com"), "{said}");
        assert!(without_personal_data("connection refused (connect)").contains("reached"));
    }

    #[test]
    fn the_backoff_doubles_from_thirty_seconds_and_stops_at_half_an_hour() {
        let waits: Vec<i64> = (0..9).map(|n| backoff(n).num_seconds()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
        assert_eq!(backoff(-1), Duration::seconds(30));
        assert_eq!(backoff(10_000), Duration::minutes(30));
    }

    #[test]
    fn a_retry_window_reads_in_its_largest_whole_unit() {
        assert_eq!(span(Duration::hours(24)), "24h");
        assert_eq!(span(Duration::minutes(90)), "90m");
        assert_eq!(span(Duration::seconds(45)), "45s");
    }
}
