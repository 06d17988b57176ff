//! Alerts name the person a case is assigned to, as the latest case change
//! said, besides the owner role; the escalation role's breach alert does
//! not.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use complaints_deadlines::{SqlQueue, SqlQueueConfig};
use complaints_domain::calendar::Calendar;
use complaints_domain::clock::{Clock, ManualClock};
use complaints_escalation::{EscalationApp, EscalationGrpc, NOTIFY_TOPIC};
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1 as pb;
use complaints_proto::google::r#type::Date;
use complaints_rpc::peers::{CasePeer, EscalationPeer};
use complaints_store::entity::outbox;
use complaints_test_support::time::monday_morning;
use complaints_test_support::{TestDb, on_every_backend};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

on_every_backend!(
    a_warning_and_a_breach_name_the_assignee_besides_the_owner_role,
    a_late_delivery_of_an_earlier_change_does_not_undo_an_assignment,
    an_unassigned_cases_alerts_go_to_the_roles_only,
    an_assignee_that_is_not_one_printable_line_is_an_invalid_argument,
);

struct Harness {
    app: EscalationApp,
    peer: EscalationPeer,
    clock: ManualClock,
    db: TestDb,
}

/// The escalation service on `db`, warning one working day ahead; its case
/// peer answers nothing (a breach or a warning never asks it).
fn harness(db: TestDb) -> Harness {
    let clock = ManualClock::new(monday_morning());
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let queue = SqlQueue::new(db.db.clone(), SqlQueueConfig::default());
    let app = EscalationApp::new(
        Arc::new(queue),
        Calendar::default(),
        1,
        shared,
        CasePeer::in_slot("escalation", Arc::new(OnceLock::new())),
    );
    let peer = EscalationPeer::in_process("case", Arc::new(EscalationGrpc::new(app.clone())));
    Harness {
        app,
        peer,
        clock,
        db,
    }
}

/// A change of case `case_id` at `version` naming `assignee`; with `clock`,
/// it starts the stage 1 resolve clock, due by the end of Wednesday 4 March
/// (so its owner is warned at the end of Tuesday 3 March).
fn change(case_id: &str, version: i64, assignee: &str, clock: bool) -> pb::ApplyCaseChangeRequest {
    let start = clock.then(|| pb::DeadlineStart {
        kind: common::DeadlineKind::Resolve as i32,
        stage: common::Stage::Stage1 as i32,
        working_days: 2,
        due_date: Some(Date {
            year: 2026,
            month: 3,
            day: 4,
        }),
        due_at: Some(prost_types::Timestamp {
            seconds: Utc
                .with_ymd_and_hms(2026, 3, 5, 0, 0, 0)
                .unwrap()
                .timestamp(),
            nanos: 0,
        }),
        reason: "2 working days from Monday 2 March".to_owned(),
        owner_role: common::Role::ComplaintsHandler as i32,
        escalation_role: common::Role::CxManager as i32,
        started_at: Some(prost_types::Timestamp {
            seconds: monday_morning().timestamp(),
            nanos: 0,
        }),
    });
    pb::ApplyCaseChangeRequest {
        case_id: case_id.to_owned(),
        register_number: "CMP-2026-000001".to_owned(),
        version,
        policy_version: "2026-01".to_owned(),
        start: start.into_iter().collect(),
        settle: Vec::new(),
        assignee: assignee.to_owned(),
    }
}

/// The staff alerts the escalation service queued for the notification
/// service, oldest first: (role, assignee) of each. Notices to the
/// complainant are left out.
async fn alerts(h: &Harness) -> Vec<(String, Option<String>)> {
    outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(NOTIFY_TOPIC))
        .order_by_asc(outbox::Column::Id)
        .all(&h.db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| serde_json::from_str::<Value>(&row.payload).unwrap())
        .filter(|alert| alert["kind"] == "internal_alert")
        .map(|alert| {
            let role = alert["to_role"]
                .as_str()
                .unwrap_or_else(|| panic!("an alert to no role: {alert}"))
                .to_owned();
            let assignee = alert["assignee"].as_str().map(str::to_owned);
            (role, assignee)
        })
        .collect()
}

fn alert(role: &str, assignee: Option<&str>) -> (String, Option<String>) {
    (role.to_owned(), assignee.map(str::to_owned))
}

/// Moves the clock to `at` and fires what is due.
async fn fire_at(h: &Harness, at: DateTime<Utc>) {
    let by = at - h.clock.now();
    h.clock.advance(by).unwrap();
    h.app.fire_due().await.unwrap();
}

/// Just after the end of Tuesday 3 March: the warning is due.
fn warning_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 1).unwrap()
}

/// Just after the end of Wednesday 4 March: the deadline is breached.
fn breach_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 5, 0, 0, 1).unwrap()
}

async fn a_warning_and_a_breach_name_the_assignee_besides_the_owner_role(db: TestDb) {
    let h = harness(db);
    let case_id = uuid::Uuid::now_v7().to_string();
    h.peer
        .apply_case_change(change(&case_id, 1, "", true))
        .await
        .unwrap();
    // Assigned after the clock started: no clock moves, and the alerts
    // still name her.
    h.peer
        .apply_case_change(change(&case_id, 2, "hana", false))
        .await
        .unwrap();

    fire_at(&h, warning_time()).await;
    assert_eq!(
        alerts(&h).await,
        [alert("complaints_handler", Some("hana"))]
    );

    fire_at(&h, breach_time()).await;
    assert_eq!(
        alerts(&h).await,
        [
            alert("complaints_handler", Some("hana")),
            alert("complaints_handler", Some("hana")),
            alert("cx_manager", None),
        ]
    );
}

async fn a_late_delivery_of_an_earlier_change_does_not_undo_an_assignment(db: TestDb) {
    let h = harness(db);
    let case_id = uuid::Uuid::now_v7().to_string();
    h.peer
        .apply_case_change(change(&case_id, 3, "pat", true))
        .await
        .unwrap();
    // Version 2 (an earlier assignment to hana) arrives after version 3,
    // and version 3 again.
    h.peer
        .apply_case_change(change(&case_id, 2, "hana", false))
        .await
        .unwrap();
    h.peer
        .apply_case_change(change(&case_id, 3, "pat", true))
        .await
        .unwrap();

    fire_at(&h, breach_time()).await;
    assert_eq!(
        alerts(&h).await,
        [
            alert("complaints_handler", Some("pat")),
            alert("cx_manager", None),
        ]
    );
}

async fn an_unassigned_cases_alerts_go_to_the_roles_only(db: TestDb) {
    let h = harness(db);
    let case_id = uuid::Uuid::now_v7().to_string();
    h.peer
        .apply_case_change(change(&case_id, 1, "hana", true))
        .await
        .unwrap();
    // The assignment was cleared (or ended with a handover).
    h.peer
        .apply_case_change(change(&case_id, 2, "", false))
        .await
        .unwrap();

    fire_at(&h, breach_time()).await;
    assert_eq!(
        alerts(&h).await,
        [alert("complaints_handler", None), alert("cx_manager", None)]
    );
}

async fn an_assignee_that_is_not_one_printable_line_is_an_invalid_argument(db: TestDb) {
    let h = harness(db);
    let case_id = uuid::Uuid::now_v7().to_string();
    let status = h
        .peer
        .apply_case_change(change(&case_id, 1, "two\nlines", true))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("assignee"), "{status:?}");
    assert!(
        h.app
            .deadlines_of(case_id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}
