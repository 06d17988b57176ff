//! EraseComplainant reaches every copy the case service keeps: the
//! complainant's row, the summary (their words), the payloads of delivered
//! outbox messages and the fingerprints in its idempotency records.

use complaints_proto::complaints::case::v1 as pb;
use complaints_store::cases::{CASE_EVENTS_TOPIC, ERASED_CONTENT_HASH, ERASED_PAYLOAD};
use complaints_store::entity::{idempotency_records, outbox};
use complaints_test_support::TestDb;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tonic::Code;

use crate::helpers::{TestApp, complaint, note, on_every_backend, refused, spawn_app};

on_every_backend!(
    erasure_blanks_the_summary_and_the_copies_the_case_service_keeps,
    the_erasing_change_asks_the_notification_service_to_erase_too,
);

async fn erase(app: &TestApp, case_id: &str, request_id: &str) -> pb::Case {
    app.handler()
        .erase_complainant(pb::EraseComplainantRequest {
            case_id: case_id.to_owned(),
            request_id: request_id.to_owned(),
            reason: "Data-subject request".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap()
}

/// The case's `case.events` messages, oldest first.
async fn messages(app: &TestApp, case_id: uuid::Uuid) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(CASE_EVENTS_TOPIC))
        .filter(outbox::Column::AggregateId.eq(case_id))
        .order_by_asc(outbox::Column::Id)
        .all(&app.db.db)
        .await
        .unwrap()
}

async fn erasure_blanks_the_summary_and_the_copies_the_case_service_keeps(db: TestDb) {
    let app = spawn_app(db).await;
    let mut request = complaint("erase-open-1");
    request.summary = "Ann Jones: pendant alarm not answered".to_owned();
    let opened = app.open(request.clone()).await.case.unwrap();
    let id = opened.case_id.clone();
    let uuid: uuid::Uuid = id.parse().unwrap();
    app.handler()
        .add_note(note(&id, "note-1", "Rang back."))
        .await
        .unwrap();
    // The relay has delivered everything so far.
    outbox::Entity::update_many()
        .col_expr(outbox::Column::DeliveredAt, Expr::value(app.now()))
        .filter(outbox::Column::AggregateId.eq(uuid))
        .exec(&app.db.db)
        .await
        .unwrap();
    let before = messages(&app, uuid).await;
    assert_eq!(before.len(), 2);
    assert!(
        before
            .iter()
            .all(|m| m.payload.contains(&opened.register_number))
    );

    let erased = erase(&app, &id, "erase-1").await;

    assert!(erased.personal_data_erased);
    assert_eq!(erased.summary, "[erased]");
    assert_eq!(app.get(&id).await.summary, "[erased]");
    let listed = app
        .handler()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].summary, "[erased]");
    let search = pb::ListCasesRequest {
        text: "pendant".to_owned(),
        ..Default::default()
    };
    let found = app.handler().list_cases(search).await.unwrap().into_inner();
    assert!(found.cases.is_empty(), "{found:?}");

    // The delivered messages are blank; the erasure's own is still owed.
    let after = messages(&app, uuid).await;
    assert_eq!(after.len(), 3);
    assert!(after[..2].iter().all(|m| m.payload == ERASED_PAYLOAD));
    assert!(after[2].delivered_at.is_none());
    assert!(after[2].payload.contains("case.complainant_erased"));

    // The records of earlier requests keep no fingerprint of their content;
    // the erasure's own record still replays it.
    let records = idempotency_records::Entity::find()
        .filter(idempotency_records::Column::ResourceId.eq(id.clone()))
        .order_by_asc(idempotency_records::Column::CreatedAt)
        .all(&app.db.db)
        .await
        .unwrap();
    let hashes: Vec<(String, bool)> = records
        .iter()
        .map(|r| (r.scope.clone(), r.content_hash == ERASED_CONTENT_HASH))
        .collect();
    assert_eq!(hashes.len(), 3, "{hashes:?}");
    assert_eq!(
        hashes.iter().filter(|(_, blank)| *blank).count(),
        2,
        "{hashes:?}"
    );
    let replayed = erase(&app, &id, "erase-1").await;
    assert_eq!(replayed, erased);
    // A retry of the opening request can no longer be matched to the
    // person's data: it is refused, and opens nothing.
    refused(app.platform().open_case(request).await, Code::AlreadyExists);
}

async fn the_erasing_change_asks_the_notification_service_to_erase_too(db: TestDb) {
    let app = spawn_app(db).await;
    let id = app.open_case().await.case_id;
    let uuid: uuid::Uuid = id.parse().unwrap();
    erase(&app, &id, "").await;
    let changes: Vec<_> = messages(&app, uuid)
        .await
        .iter()
        .map(|m| serde_json::from_str(&m.payload).unwrap())
        .collect::<Vec<complaints_store::cases::CaseChanged>>();
    let requests: Vec<_> = changes
        .iter()
        .filter_map(complaints_case::relay::notification_erasure)
        .collect();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].case_id, id);
}
