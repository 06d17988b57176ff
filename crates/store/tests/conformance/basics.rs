use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use complaints_store::idempotency::{self, RequestKey};
use complaints_store::{StoreError, outbox, register};
use complaints_test_support::TestDb;
use sea_orm::TransactionTrait;
use uuid::Uuid;

complaints_test_support::on_every_backend!(
    register_numbers_count_up_per_year_from_one,
    register_numbers_are_unique_under_concurrent_writers,
    a_rolled_back_number_is_not_in_use,
    an_idempotency_record_replays_the_same_content_and_refuses_other_content,
    a_duplicate_idempotency_record_fails_its_transaction,
    outbox_messages_wait_until_delivered_and_retry_after_failure,
    due_messages_behind_a_long_backlog_of_waiting_ones_are_found,
);

async fn register_numbers_count_up_per_year_from_one(test: TestDb) {
    let db = &test.db;
    let first = register::next_register_number(db, 2026).await.unwrap();
    let second = register::next_register_number(db, 2026).await.unwrap();
    let other_year = register::next_register_number(db, 2027).await.unwrap();
    assert_eq!(first.as_str(), "CMP-2026-000001");
    assert_eq!(second.as_str(), "CMP-2026-000002");
    assert_eq!(other_year.as_str(), "CMP-2027-000001");
}

async fn register_numbers_are_unique_under_concurrent_writers(test: TestDb) {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = test.db.clone();
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for _ in 0..10 {
                let txn = db.begin().await.unwrap();
                numbers.push(register::next_register_number(&txn, 2026).await.unwrap());
                txn.commit().await.unwrap();
            }
            numbers
        }));
    }
    let mut seen = BTreeSet::new();
    for task in tasks {
        for number in task.await.unwrap() {
            assert!(seen.insert(number.sequence()), "{number} issued twice");
        }
    }
    assert_eq!(seen.len(), 80);
    assert_eq!(seen.last(), Some(&80));
}

async fn a_rolled_back_number_is_not_in_use(test: TestDb) {
    let txn = test.db.begin().await.unwrap();
    let abandoned = register::next_register_number(&txn, 2026).await.unwrap();
    txn.rollback().await.unwrap();
    let next = register::next_register_number(&test.db, 2026)
        .await
        .unwrap();
    // The abandoned number was never committed, so it was never issued.
    assert_eq!(abandoned, next);
}

async fn an_idempotency_record_replays_the_same_content_and_refuses_other_content(test: TestDb) {
    let db = &test.db;
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let key = RequestKey::new("case.open", "req-1", b"content");
    assert_eq!(idempotency::lookup(db, &key).await.unwrap(), None);
    idempotency::record(db, &key, "case-1", b"response".to_vec(), now)
        .await
        .unwrap();
    let replay = idempotency::lookup(db, &key).await.unwrap().unwrap();
    assert_eq!(replay.resource_id, "case-1");
    assert_eq!(replay.response, b"response");

    let other = RequestKey::new("case.open", "req-1", b"other content");
    assert!(matches!(
        idempotency::lookup(db, &other).await,
        Err(StoreError::IdempotencyClash(id)) if id == "req-1"
    ));
    let other_scope = RequestKey::new("case.note", "req-1", b"other content");
    assert_eq!(idempotency::lookup(db, &other_scope).await.unwrap(), None);
}

async fn a_duplicate_idempotency_record_fails_its_transaction(test: TestDb) {
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let key = RequestKey::new("case.open", "req-2", b"content");
    idempotency::record(&test.db, &key, "case-1", Vec::new(), now)
        .await
        .unwrap();
    let txn = test.db.begin().await.unwrap();
    let number = register::next_register_number(&txn, 2026).await.unwrap();
    assert!(
        idempotency::record(&txn, &key, "case-2", Vec::new(), now)
            .await
            .is_err()
    );
    drop(txn);
    // The failed transaction's register number was not kept.
    assert_eq!(
        register::next_register_number(&test.db, 2026)
            .await
            .unwrap(),
        number
    );
}

async fn outbox_messages_wait_until_delivered_and_retry_after_failure(test: TestDb) {
    let db = &test.db;
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let case_id = Uuid::now_v7();
    let messages = [
        outbox::OutboxMessage::json("case.events", case_id, &serde_json::json!({"n": 1})).unwrap(),
        outbox::OutboxMessage::json("case.events", case_id, &serde_json::json!({"n": 2})).unwrap(),
        outbox::OutboxMessage::json("other", case_id, &serde_json::json!({"n": 3})).unwrap(),
    ];
    outbox::enqueue(db, &messages, now).await.unwrap();

    let pending = outbox::pending(db, "case.events", now, 10).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].payload, r#"{"n":1}"#);

    outbox::mark_delivered(db, pending[0].id, now)
        .await
        .unwrap();
    outbox::mark_failed(
        db,
        pending[1].id,
        "receiver down",
        now,
        chrono::Duration::seconds(30),
    )
    .await
    .unwrap();
    assert!(
        outbox::pending(db, "case.events", now, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let later = now + chrono::Duration::seconds(30);
    let retry = outbox::pending(db, "case.events", later, 10).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].attempts, 1);
    assert_eq!(retry[0].last_error.as_deref(), Some("receiver down"));
}

/// Hundreds of cases whose first message waits to be retried, each with a
/// due message behind it, then one case whose message may go: the relay's
/// batch is that one message, found past every page of the blocked ones,
/// in order, and nothing of a blocked case.
async fn due_messages_behind_a_long_backlog_of_waiting_ones_are_found(test: TestDb) {
    const BLOCKED: usize = 450;
    let db = &test.db;
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let message = |case: Uuid, n: usize| {
        outbox::OutboxMessage::json("case.events", case, &serde_json::json!({ "n": n })).unwrap()
    };
    let mut messages = Vec::new();
    let blocked: Vec<Uuid> = (0..BLOCKED).map(|_| Uuid::now_v7()).collect();
    for (n, case) in blocked.iter().enumerate() {
        messages.push(message(*case, n));
    }
    for (n, case) in blocked.iter().enumerate() {
        messages.push(message(*case, BLOCKED + n));
    }
    let free = Uuid::now_v7();
    messages.push(message(free, 2 * BLOCKED));
    messages.push(message(free, 2 * BLOCKED + 1));
    outbox::enqueue(db, &messages, now).await.unwrap();
    let heads = outbox::pending(db, "case.events", now, BLOCKED as u64)
        .await
        .unwrap();
    assert_eq!(heads.len(), BLOCKED, "every case's first message is due");
    for head in &heads {
        outbox::mark_failed(
            db,
            head.id,
            "receiver down",
            now,
            chrono::Duration::seconds(30),
        )
        .await
        .unwrap();
    }

    let batch = outbox::pending(db, "case.events", now, 100).await.unwrap();
    let payloads: Vec<&str> = batch.iter().map(|m| m.payload.as_str()).collect();
    assert_eq!(
        payloads,
        [
            format!(r#"{{"n":{}}}"#, 2 * BLOCKED),
            format!(r#"{{"n":{}}}"#, 2 * BLOCKED + 1)
        ],
        "only the free case's messages, oldest first"
    );
    assert_eq!(
        outbox::pending(db, "case.events", now, 1)
            .await
            .unwrap()
            .len(),
        1,
        "the limit holds"
    );

    // Once the retries are due, each blocked case's messages go in order
    // again: its first message before its second.
    let later = now + chrono::Duration::seconds(30);
    let retried = outbox::pending(db, "case.events", later, 2_000)
        .await
        .unwrap();
    assert_eq!(retried.len(), 2 * BLOCKED + 2);
    let position = |payload: String| retried.iter().position(|m| m.payload == payload).unwrap();
    for n in 0..BLOCKED {
        assert!(
            position(format!(r#"{{"n":{n}}}"#)) < position(format!(r#"{{"n":{}}}"#, BLOCKED + n))
        );
    }
}

/// On Postgres the tables work passes through are vacuumed after 1,000
/// dead rows (plus 1 %), not Postgres's default fifth of the table.
#[tokio::test]
async fn on_postgres_the_queue_tables_are_vacuumed_after_a_thousand_dead_rows() {
    use sea_orm::ConnectionTrait;
    let Some(test) = TestDb::postgres().await else {
        return;
    };
    for table in ["outbox", "outbox_leases", "notifications", "deadlines"] {
        let row = test
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!(
                    "SELECT array_to_string(reloptions, ',') AS options FROM pg_class \
                     WHERE relname = '{table}' AND relkind = 'r'"
                ),
            ))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no table {table}"));
        let options: Option<String> = row.try_get("", "options").unwrap();
        let options = options.unwrap_or_default();
        assert!(
            options.contains("autovacuum_vacuum_threshold=1000")
                && options.contains("autovacuum_vacuum_scale_factor=0.01"),
            "{table}: {options}"
        );
    }
}
