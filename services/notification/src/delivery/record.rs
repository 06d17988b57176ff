//! Recording what was sent: the notification's row marked SENT and, for a
//! notice to the complainant, its message queued for the case's timeline,
//! in one transaction.
//!
//! The sends in flight end together under load, so their records go
//! through a group commit (`notification.sent`): records that arrive
//! while a batch is being written share the next transaction, one commit
//! and one outbox insert for all of them. Each row's update still checks
//! that the notification is queued and leased to its worker, so a record
//! whose lease was lost answers false and queues nothing, whatever the rest
//! of its batch does. A batch that does not commit is written again one
//! record at a time, so one record cannot fail the others.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use complaints_store::group_commit::{self, GroupCommit};
use complaints_store::outbox::{self, OutboxMessage};
use sea_orm::{DatabaseConnection, TransactionTrait};
use tokio::sync::Notify;

use crate::repo::{self, Sent};

/// One sent notification to record.
#[derive(Debug, Clone)]
pub struct SentRecord {
    pub notification_id: String,
    /// The worker whose lease the send was made under.
    pub worker: String,
    pub sent: Sent,
    /// The notice for the case's timeline, queued only if the row was
    /// still this worker's to mark.
    pub notice: Option<OutboxMessage>,
    pub now: DateTime<Utc>,
}

/// Whether the row was marked (false: the lease was lost, nothing was
/// written for it), or why the record could not be written.
pub type Recorded = Result<bool, sea_orm::DbErr>;

/// The group commit of sent records.
pub type Records = GroupCommit<SentRecord, Recorded>;

/// The group commit of sent records, as its metric names it.
pub const RECORDS: &str = "notification.sent";

/// The group commit of sent records on `db`; a batch that queued a notice
/// wakes `outbox_wake`, the notices relay, once it has committed.
pub fn records(db: &DatabaseConnection, outbox_wake: Arc<Notify>) -> Arc<Records> {
    let writers = group_commit::writers_for(db);
    let db = db.clone();
    GroupCommit::new(RECORDS, writers, group_commit::MAX_BATCH, move |batch| {
        let (db, outbox_wake) = (db.clone(), outbox_wake.clone());
        async move { record_all(&db, &outbox_wake, batch).await }
    })
}

/// Writes `batch` in one transaction, or each record alone if that does not
/// commit; one answer per record, in order.
pub async fn record_all(
    db: &DatabaseConnection,
    outbox_wake: &Notify,
    batch: Vec<SentRecord>,
) -> Vec<Recorded> {
    if batch.len() > 1 {
        match record_together(db, outbox_wake, &batch).await {
            Ok(marked) => return marked.into_iter().map(Ok).collect(),
            Err(error) => tracing::info!(
                %error,
                records = batch.len(),
                "a batch of sent records did not commit; recording each alone"
            ),
        }
    }
    let mut answers = Vec::with_capacity(batch.len());
    for record in &batch {
        answers.push(
            record_together(db, outbox_wake, std::slice::from_ref(record))
                .await
                .map(|marked| marked.first().copied().unwrap_or(false)),
        );
    }
    answers
}

/// Marks each record's row and queues the notices of those marked, in one
/// transaction: whether each row was marked, or nothing was written.
async fn record_together(
    db: &DatabaseConnection,
    outbox_wake: &Notify,
    batch: &[SentRecord],
) -> Result<Vec<bool>, sea_orm::DbErr> {
    let Some(first) = batch.first() else {
        return Ok(Vec::new());
    };
    let txn = db.begin().await?;
    let mut marked = Vec::with_capacity(batch.len());
    let mut notices = Vec::new();
    for record in batch {
        let this = repo::mark_sent(
            &txn,
            &record.notification_id,
            &record.worker,
            record.sent.clone(),
        )
        .await?;
        if this && let Some(notice) = &record.notice {
            notices.push(notice.clone());
        }
        marked.push(this);
    }
    if !notices.is_empty() {
        outbox::enqueue(&txn, &notices, first.now)
            .await
            .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
    }
    txn.commit().await?;
    if !notices.is_empty() {
        outbox_wake.notify_one();
    }
    Ok(marked)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use chrono::Duration;
    use complaints_test_support::TestDb;
    use futures_util::FutureExt as _;
    use uuid::Uuid;

    use super::*;
    use crate::entity::{DeliveryChannel, DeliveryState};
    use crate::relay::CASE_TOPIC;

    complaints_test_support::on_every_backend!(
        sends_that_end_together_are_recorded_in_one_transaction,
    );

    const WORKER: &str = "worker-1";

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    /// `count` acknowledgements, each of a case of its own, claimed by
    /// [`WORKER`]: their ids.
    async fn claimed(db: &DatabaseConnection, count: usize) -> Vec<String> {
        repo::testing::claimed(db, count, WORKER, t0(), Duration::minutes(5)).await
    }

    fn record(id: &str, worker: &str, notice: Option<&str>) -> SentRecord {
        SentRecord {
            notification_id: id.to_owned(),
            worker: worker.to_owned(),
            sent: Sent {
                channel: DeliveryChannel::Email,
                recipient: "person@example.org".to_owned(),
                route_note: None,
                subject: "We have your complaint".to_owned(),
                content_type: "text/plain; charset=utf-8".to_owned(),
                body: b"Dear person".to_vec(),
                at: t0(),
            },
            notice: notice.map(|payload| OutboxMessage {
                topic: CASE_TOPIC.to_owned(),
                aggregate_id: Uuid::now_v7(),
                payload: payload.to_owned(),
                trace_context: None,
            }),
            now: t0(),
        }
    }

    async fn state(db: &DatabaseConnection, id: &str) -> Option<DeliveryState> {
        repo::get(db, id).await.unwrap().unwrap().state()
    }

    async fn notices(db: &DatabaseConnection) -> Vec<String> {
        outbox::pending(db, CASE_TOPIC, t0(), 100)
            .await
            .unwrap()
            .into_iter()
            .map(|message| message.payload)
            .collect()
    }

    async fn sends_that_end_together_are_recorded_in_one_transaction(test: TestDb) {
        let ids = claimed(&test.db, 4).await;
        let (db, statements) = complaints_test_support::counting(&test.db, |_| true);
        let wake = Notify::new();
        let answers = record_all(
            &db,
            &wake,
            vec![
                record(&ids[0], WORKER, Some("first")),
                // An alert: no notice for the timeline.
                record(&ids[1], WORKER, None),
                // Its lease went to another worker: nothing is written.
                record(&ids[2], "worker-2", Some("lost")),
                record(&ids[3], WORKER, Some("fourth")),
            ],
        )
        .await;
        let answers: Vec<bool> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, [true, true, false, true]);
        assert_eq!(
            statements.load(Ordering::SeqCst),
            5,
            "one update a record and one insert of the notices"
        );
        assert_eq!(notices(&test.db).await, ["first", "fourth"]);
        for (id, expected) in ids.iter().zip([
            DeliveryState::Sent,
            DeliveryState::Sent,
            DeliveryState::Queued,
            DeliveryState::Sent,
        ]) {
            assert_eq!(state(&test.db, id).await, Some(expected), "{id}");
        }
        assert!(
            wake.notified().now_or_never().is_some(),
            "the notices relay is woken"
        );

        // Recorded again (a retry after an answer that never came): nothing
        // changes and nothing more is queued.
        let again = record_all(
            &test.db,
            &wake,
            vec![record(&ids[0], WORKER, Some("first"))],
        )
        .await;
        assert!(!again[0].as_ref().unwrap());
        assert_eq!(notices(&test.db).await, ["first", "fourth"]);
    }

    /// A record that cannot be written (a notice Postgres refuses: text
    /// holding a NUL) fails alone; the others in its batch are written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_record_that_cannot_be_written_does_not_fail_the_others_in_its_batch() {
        let Some(test) = TestDb::postgres().await else {
            return;
        };
        let ids = claimed(&test.db, 3).await;
        let wake = Notify::new();
        let answers = record_all(
            &test.db,
            &wake,
            vec![
                record(&ids[0], WORKER, Some("before")),
                record(&ids[1], WORKER, Some("nul \0 inside")),
                record(&ids[2], WORKER, Some("after")),
            ],
        )
        .await;
        assert!(answers[0].as_ref().unwrap());
        assert!(answers[1].is_err());
        assert!(answers[2].as_ref().unwrap());
        assert_eq!(notices(&test.db).await, ["before", "after"]);
        assert_eq!(state(&test.db, &ids[1]).await, Some(DeliveryState::Queued));
    }
}
