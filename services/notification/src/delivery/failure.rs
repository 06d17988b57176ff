//! When an attempt does not deliver: back to the queue with a backoff while
//! the failure is transient and attempts remain, else FAILED for good with
//! an alert to staff (without personal data) so someone reaches the
//! complainant another way.

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
pub(super) enum Failure {
    /// Worth trying again later (a server down, a timeout).
    Transient(String),
    /// Trying again would fail the same way (a refused address, no route).
    Permanent(String),
}

impl Delivery {
    /// Records a failed attempt: a retry after [`backoff`], or a permanent
    /// failure and, unless the notification was itself an alert, the alert
    /// about it.
    pub(super) async fn record_failure(
        &self,
        n: &entity::Model,
        failure: Failure,
        now: DateTime<Utc>,
    ) -> Result<(), sea_orm::DbErr> {
        let reason = match failure {
            Failure::Transient(reason) if n.attempts + 1 < self.max_attempts => {
                let retry_at = now + backoff(n.attempts);
                tracing::warn!(notification_id = %n.notification_id, %reason, %retry_at, "delivery failed; will retry");
                repo::mark_attempt_failed(
                    &self.db,
                    &n.notification_id,
                    &self.worker,
                    &reason,
                    Some(retry_at),
                    None,
                )
                .await?;
                return Ok(());
            }
            Failure::Transient(reason) | Failure::Permanent(reason) => reason,
        };
        tracing::error!(notification_id = %n.notification_id, %reason, "notification failed");
        let txn = self.db.begin().await?;
        let failed =
            repo::mark_attempt_failed(&txn, &n.notification_id, &self.worker, &reason, None, None)
                .await?;
        if failed && n.kind() != Some(NotifyKind::InternalAlert) {
            // Someone must reach the complainant another way.
            let stage = n.stage().unwrap_or(Stage::Stage1);
            repo::request(
                &txn,
                NewNotification {
                    dedupe_key: format!("{}/failed", n.notification_id),
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
            metrics::counter!(
                "complaints_notifications_failed_total",
                "kind" => kind_label(n),
            )
            .increment(1);
        }
        Ok(())
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

/// 30 s, 1 min, 2 min ... capped at an hour.
fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 7)).unwrap_or(7);
    Duration::seconds((30 * 2_i64.pow(exponent)).min(3600))
}

#[cfg(test)]
mod tests {
    use super::without_personal_data;

    #[test]
    fn a_delivery_error_in_an_alert_keeps_the_code_and_drops_the_address() {
        let refused = "550 5.1.1 <refuse@example.com>: recipient refused";
        let said = without_personal_data(refused);
        assert!(said.contains("550"), "{said}");
        assert!(!said.contains("example.com"), "{said}");
        assert!(without_personal_data("connection refused (connect)").contains("reached"));
    }
}
