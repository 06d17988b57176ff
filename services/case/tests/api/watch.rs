//! WatchCaseEvents: every case's timeline events as one stream, resumable
//! from the last cursor without gaps or repeats, even when a transaction
//! that began first commits last.

use std::time::Duration;

use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_store::chain;
use complaints_store::entity::case_events;
use complaints_test_support::TestDb;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use tonic::Streaming;

use crate::helpers::{Client, TestApp, note, on_every_backend, spawn_app, violated_fields};

on_every_backend!(
    a_watcher_that_resumes_from_its_last_cursor_gets_every_event_once_in_order,
    a_watcher_sees_only_the_kinds_it_asked_for,
    a_cursor_the_service_did_not_give_is_refused,
    a_slow_transaction_never_opens_a_gap_behind_the_watcher,
);

/// Generous: a stream that is working delivers in milliseconds; this only
/// bounds how long a broken one makes the test wait before failing.
const PATIENCE: Duration = Duration::from_secs(30);

fn watcher(app: &TestApp) -> Client {
    app.client("crm", Role::Integration)
}

async fn watch(
    app: &TestApp,
    after_cursor: &str,
    kinds: &[&str],
) -> Streaming<pb::WatchCaseEventsResponse> {
    watcher(app)
        .watch_case_events(pb::WatchCaseEventsRequest {
            after_cursor: after_cursor.to_owned(),
            kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// The next `count` messages of `stream`, failing the test if they do not
/// come.
async fn take(
    stream: &mut Streaming<pb::WatchCaseEventsResponse>,
    count: usize,
) -> Vec<pb::WatchCaseEventsResponse> {
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        let next = tokio::time::timeout(PATIENCE, stream.message())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} events came: {got:#?}", got.len()))
            .unwrap()
            .expect("the stream ended early");
        got.push(next);
    }
    got
}

/// Every event of `cases`' timelines, as (case id, sequence).
async fn recorded(app: &TestApp, cases: &[&str]) -> Vec<(String, i64)> {
    let mut all = Vec::new();
    for case in cases {
        for event in app.timeline(case).await.events {
            all.push(((*case).to_owned(), event.sequence));
        }
    }
    all
}

fn keys(messages: &[pb::WatchCaseEventsResponse]) -> Vec<(String, i64)> {
    messages
        .iter()
        .map(|m| (m.case_id.clone(), m.event.as_ref().unwrap().sequence))
        .collect()
}

async fn a_watcher_that_resumes_from_its_last_cursor_gets_every_event_once_in_order(db: TestDb) {
    let app = spawn_app(db).await;
    let first = app.open_case().await.case_id;
    let second = app.open_case().await.case_id;
    let before = recorded(&app, &[&first, &second]).await;

    let mut stream = watch(&app, "", &[]).await;
    let mut seen = take(&mut stream, before.len()).await;
    assert_eq!(
        seen.last().unwrap().register_number,
        app.get(&second).await.register_number
    );
    // Disconnect, and let the cases move on meanwhile.
    drop(stream);
    let third = app.open_case().await.case_id;
    for (i, case) in [&first, &third].into_iter().enumerate() {
        app.handler()
            .add_note(note(
                case,
                &format!("note-{i}"),
                "Called the customer back.",
            ))
            .await
            .unwrap();
    }
    let all = recorded(&app, &[&first, &second, &third]).await;

    let mut resumed = watch(&app, &seen.last().unwrap().cursor, &[]).await;
    seen.extend(take(&mut resumed, all.len() - before.len()).await);

    let mut delivered = keys(&seen);
    let cursors: std::collections::HashSet<_> = seen.iter().map(|m| m.cursor.clone()).collect();
    assert_eq!(cursors.len(), seen.len(), "a cursor repeated");
    // Each case's events in timeline order; nothing twice, nothing missing.
    for case in [&first, &second, &third] {
        let sequences: Vec<i64> = delivered
            .iter()
            .filter(|(c, _)| c == case)
            .map(|(_, s)| *s)
            .collect();
        let expected: Vec<i64> = (1..=sequences.len() as i64).collect();
        assert_eq!(sequences, expected, "case {case}");
    }
    delivered.sort();
    let mut all = all;
    all.sort();
    assert_eq!(delivered, all);
}

async fn a_watcher_sees_only_the_kinds_it_asked_for(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await.case_id;
    app.handler()
        .add_note(note(&case, "n-1", "First call."))
        .await
        .unwrap();
    let mut stream = watch(&app, "", &["case.note*", "clocks.*"]).await;
    let notes = take(&mut stream, 1).await;
    assert_eq!(notes[0].event.as_ref().unwrap().kind, "case.note_added");
    assert_eq!(notes[0].case_id, case);
    // The next event it gets is the next note, whatever came between.
    app.respond_at_stage_1(&case, "billing-error").await;
    app.handler()
        .add_note(note(&case, "n-2", "Second call."))
        .await
        .unwrap();
    let next = take(&mut stream, 1).await;
    let event = next[0].event.as_ref().unwrap();
    assert_eq!(
        (event.kind.as_str(), event.details.contains("Second")),
        ("case.note_added", true),
        "{event:?}"
    );
}

async fn a_cursor_the_service_did_not_give_is_refused(db: TestDb) {
    let app = spawn_app(db).await;
    for cursor in ["yesterday", "p1.x.1", "s1.1.1"] {
        let fields = violated_fields(
            watcher(&app)
                .watch_case_events(pb::WatchCaseEventsRequest {
                    after_cursor: cursor.to_owned(),
                    kinds: Vec::new(),
                })
                .await,
        );
        assert_eq!(fields, ["after_cursor"], "{cursor}");
    }
    let fields = violated_fields(
        watcher(&app)
            .watch_case_events(pb::WatchCaseEventsRequest {
                after_cursor: String::new(),
                kinds: vec![String::new()],
            })
            .await,
    );
    assert_eq!(fields, ["kinds[0]"]);
    // A cursor of the other kind of database names no place in this one.
    let foreign = match app.db.db.get_database_backend() {
        DatabaseBackend::Postgres => "s1.5",
        _ => "p1.5.5",
    };
    let fields = violated_fields(
        watcher(&app)
            .watch_case_events(pb::WatchCaseEventsRequest {
                after_cursor: foreign.to_owned(),
                kinds: Vec::new(),
            })
            .await,
    );
    assert_eq!(fields, ["after_cursor"]);
}

/// A transaction takes its place in the feed before a second one, and
/// commits after it. A feed ordered by insertion alone would hand out the
/// second one's events, and a watcher resuming after them would never see
/// the first one's. Postgres only: SQLite writes one transaction at a time.
async fn a_slow_transaction_never_opens_a_gap_behind_the_watcher(db: TestDb) {
    if db.db.get_database_backend() != DatabaseBackend::Postgres {
        return;
    }
    let app = spawn_app(db).await;
    let early = app.open_case().await.case_id;
    let opened = recorded(&app, &[&early]).await.len();
    let mut stream = watch(&app, "", &[]).await;
    let mut seen = take(&mut stream, opened).await;

    // The slow transaction: one more event on `early`, inserted now ...
    let slow = app.db.db.begin().await.unwrap();
    let case_uuid = uuid::Uuid::parse_str(&early).unwrap();
    let last = case_events::Entity::find()
        .filter(case_events::Column::CaseId.eq(case_uuid))
        .order_by_desc(case_events::Column::Sequence)
        .one(&slow)
        .await
        .unwrap()
        .unwrap();
    let mut late = last.clone();
    late.sequence += 1;
    late.kind = "case.note_added".to_owned();
    late.details = r#"{"text":"written by a slow transaction"}"#.to_owned();
    late.prev_hash = last.hash.clone();
    late.hash = chain::event_hash(&last.hash, &late);
    case_events::Entity::insert(case_events::ActiveModel {
        case_id: Set(late.case_id),
        sequence: Set(late.sequence),
        kind: Set(late.kind.clone()),
        actor_subject: Set(late.actor_subject.clone()),
        actor_role: Set(late.actor_role.clone()),
        at: Set(late.at),
        details: Set(late.details.clone()),
        prev_hash: Set(late.prev_hash.clone()),
        hash: Set(late.hash.clone()),
    })
    .exec_without_returning(&slow)
    .await
    .unwrap();
    // ... while another case is opened and committed ...
    let quick = app.open_case().await.case_id;
    let quick_events = recorded(&app, &[&quick]).await.len();
    // ... and only then committed.
    slow.commit().await.unwrap();

    // Resume from the cursor of the first events, as a watcher that
    // reconnected just now would, and also keep the live stream.
    let mut resumed = watch(&app, &seen.last().unwrap().cursor, &[]).await;
    let from_resumed = take(&mut resumed, 1 + quick_events).await;
    seen.extend(take(&mut stream, 1 + quick_events).await);
    for delivered in [keys(&seen[opened..]), keys(&from_resumed)] {
        assert_eq!(
            delivered[0],
            (early.clone(), late.sequence),
            "the late event comes first: {delivered:?}"
        );
        assert!(
            delivered[1..].iter().all(|(case, _)| *case == quick),
            "{delivered:?}"
        );
    }
}
