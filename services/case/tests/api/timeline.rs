//! GetTimeline: every change is an event, chained by hash, so that
//! tampering with the stored timeline is detected.

use chrono::Duration;
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_store::entity::case_events;
use complaints_test_support::TestDb;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{TestApp, note, on_every_backend, spawn_app, timestamp};

on_every_backend!(
    a_timeline_lists_every_change_oldest_first_chained_by_hash,
    an_altered_stored_event_makes_the_timeline_fail_to_verify,
    a_removed_stored_event_makes_the_timeline_fail_to_verify,
);

/// Changes a stored event's column behind the service's back, as someone
/// with database access might.
async fn tamper(app: &TestApp, case_id: &str, sequence: i64, change: case_events::ActiveModel) {
    let updated = case_events::Entity::update_many()
        .set(change)
        .filter(case_events::Column::CaseId.eq(uuid::Uuid::parse_str(case_id).unwrap()))
        .filter(case_events::Column::Sequence.eq(sequence))
        .exec(&app.db.db)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected, 1);
}

async fn a_timeline_lists_every_change_oldest_first_chained_by_hash(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let id = case.case_id;
    let opened_at = app.now();
    app.advance(Duration::hours(1));
    app.client("adam", Role::Adviser)
        .add_note(note(&id, "", "Complainant rang to chase."))
        .await
        .unwrap();
    app.advance(Duration::hours(1));
    app.respond_at_stage_1(&id, "late-response").await;

    let timeline = app.timeline(&id).await;

    assert!(timeline.verified);
    let events = &timeline.events;
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "case.received",
            "case.note_added",
            "case.stage_response_issued"
        ]
    );
    assert_eq!(events[0].actor, "crm");
    assert_eq!(events[0].actor_role, common::Role::Integration as i32);
    assert_eq!(events[0].at, Some(timestamp(opened_at)));
    assert_eq!(events[1].actor, "adam");
    assert_eq!(events[1].actor_role, common::Role::Adviser as i32);
    assert_eq!(
        events[1].at,
        Some(timestamp(opened_at + Duration::hours(1)))
    );
    assert!(events[1].details.contains("Complainant rang to chase."));
    assert_eq!(events[2].actor, "hana");
    assert!(
        events[2].details.contains("late-response"),
        "{}",
        events[2].details
    );
    assert_eq!(events[0].prev_hash, "", "the first event follows nothing");
    for (n, event) in (1..).zip(events) {
        assert_eq!(event.sequence, n);
        assert_eq!(event.hash.len(), 64, "hex SHA-256");
        let json: serde_json::Value = serde_json::from_str(&event.details_json).unwrap();
        assert!(json.is_object(), "{}", event.details_json);
    }
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
}

async fn an_altered_stored_event_makes_the_timeline_fail_to_verify(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let untouched = app.open_case().await;
    let id = case.case_id;
    app.handler()
        .add_note(note(&id, "", "Promised a call back by Friday."))
        .await
        .unwrap();
    let before = app.timeline(&id).await;
    assert!(before.verified);

    let mut details: serde_json::Value =
        serde_json::from_str(&before.events[1].details_json).unwrap();
    details["text"] = serde_json::Value::from("Nothing was promised.");
    tamper(
        &app,
        &id,
        2,
        case_events::ActiveModel {
            details: Set(details.to_string()),
            ..Default::default()
        },
    )
    .await;

    let after = app.timeline(&id).await;
    assert!(!after.verified);
    assert_eq!(after.events.len(), 2, "the timeline is still shown");
    assert!(after.events[1].details.contains("Nothing was promised."));
    assert!(app.timeline(&untouched.case_id).await.verified);

    // Later events do not repair the chain.
    app.handler()
        .add_note(note(&id, "", "Called back."))
        .await
        .unwrap();
    assert!(!app.timeline(&id).await.verified);

    // Nor does changing who did it, on another case.
    let other = app.open_case().await;
    tamper(
        &app,
        &other.case_id,
        1,
        case_events::ActiveModel {
            actor_subject: Set("someone-else".to_owned()),
            ..Default::default()
        },
    )
    .await;
    assert!(!app.timeline(&other.case_id).await.verified);
}

async fn a_removed_stored_event_makes_the_timeline_fail_to_verify(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let id = case.case_id;
    let mut handler = app.handler();
    handler
        .add_note(note(&id, "", "First call."))
        .await
        .unwrap();
    handler
        .add_note(note(&id, "", "Second call."))
        .await
        .unwrap();
    assert!(app.timeline(&id).await.verified);

    let deleted = case_events::Entity::delete_many()
        .filter(case_events::Column::CaseId.eq(uuid::Uuid::parse_str(&id).unwrap()))
        .filter(case_events::Column::Sequence.eq(2))
        .exec(&app.db.db)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected, 1);

    let after = app.timeline(&id).await;
    assert!(!after.verified);
    let sequences: Vec<_> = after.events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [1, 3]);
    let case = app.get(&id).await;
    assert_eq!(case.status, pb::CaseStatus::Open as i32);
}
