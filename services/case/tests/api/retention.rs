//! The retention job: with `COMPLAINTS_RETENTION_DAYS` set, the complainants
//! of cases closed longer ago than the period are erased, by
//! `RunRetention` or the hourly job, through the same erasure as
//! `EraseComplainant`.

use std::sync::Arc;

use chrono::Duration;
use complaints_case::CaseApp;
use complaints_case::retention::{RETENTION_SUBJECT, RetentionWorker};
use complaints_domain::calendar::Calendar;
use complaints_domain::clock::ManualClock;
use complaints_domain::policy::Policy;
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_test_support::TestDb;
use tonic::Code;

use crate::helpers::{TestApp, on_every_backend, refused, spawn_app, spawn_app_with, timestamp};

on_every_backend!(
    retention_erases_the_complainants_of_cases_closed_longer_ago_than_the_period,
    retention_needs_a_configured_period_and_the_erasing_roles,
    the_scheduled_job_erases_what_is_due_as_the_platform,
);

/// A case answered at stage 1 and closed now; its register number.
async fn closed_case(app: &TestApp) -> (String, String) {
    let case = app.open_case().await;
    app.respond_at_stage_1(&case.case_id, "late-response").await;
    app.handler()
        .close_case(pb::CloseCaseRequest {
            case_id: case.case_id.clone(),
            request_id: String::new(),
            reason: "The complainant accepted the response.".to_owned(),
        })
        .await
        .unwrap();
    (case.case_id, case.register_number)
}

fn run() -> pb::RunRetentionRequest {
    pb::RunRetentionRequest {}
}

async fn retention_erases_the_complainants_of_cases_closed_longer_ago_than_the_period(db: TestDb) {
    let app = spawn_app_with(db, &[(complaints_config::env::RETENTION_DAYS, "30")]).await;
    // Closed on Monday 2 March 2026.
    let (old_id, old_number) = closed_case(&app).await;
    let still_open = app.open_case().await;
    app.advance(Duration::days(20));
    // Closed twenty days later.
    let (recent_id, _) = closed_case(&app).await;

    // Thirty days after the first closing: not yet longer ago than 30 days.
    app.advance(Duration::days(10));
    let none = app
        .handler()
        .run_retention(run())
        .await
        .unwrap()
        .into_inner();
    assert!(none.register_numbers.is_empty(), "{none:?}");
    assert_eq!(
        none.closed_before,
        Some(timestamp(app.now() - Duration::days(30)))
    );

    app.advance(Duration::seconds(1));
    let first = app
        .handler()
        .run_retention(run())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.register_numbers, [old_number]);
    let old = app.get(&old_id).await;
    assert!(old.personal_data_erased);
    assert_eq!(old.summary, "[erased]");
    assert_eq!(old.complainant.unwrap().email, "");
    let erasure = app
        .timeline(&old_id)
        .await
        .events
        .into_iter()
        .find(|event| event.kind == "case.complainant_erased")
        .unwrap();
    assert_eq!(erasure.actor, "hana");
    assert!(
        erasure.details_json.contains("retention period of 30 days"),
        "{}",
        erasure.details_json
    );
    assert!(!app.get(&recent_id).await.personal_data_erased);
    assert!(!app.get(&still_open.case_id).await.personal_data_erased);

    // Run again: nothing more is due.
    let again = app
        .platform()
        .run_retention(run())
        .await
        .unwrap()
        .into_inner();
    assert!(again.register_numbers.is_empty());

    // Twenty more days: the second case's period has ended too; the open
    // case is never due.
    app.advance(Duration::days(20));
    let second = app
        .platform()
        .run_retention(run())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.register_numbers.len(), 1);
    assert!(app.get(&recent_id).await.personal_data_erased);
    assert!(!app.get(&still_open.case_id).await.personal_data_erased);
}

async fn retention_needs_a_configured_period_and_the_erasing_roles(db: TestDb) {
    let app = spawn_app(db).await;
    let (id, _) = closed_case(&app).await;
    app.advance(Duration::days(4000));
    refused(
        app.handler().run_retention(run()).await,
        Code::FailedPrecondition,
    );
    assert!(!app.get(&id).await.personal_data_erased);
    for role in [Role::Adviser, Role::Integration, Role::CxManager] {
        refused(
            app.client("someone", role).run_retention(run()).await,
            Code::PermissionDenied,
        );
    }
}

async fn the_scheduled_job_erases_what_is_due_as_the_platform(db: TestDb) {
    let app = spawn_app(db).await;
    let (id, _) = closed_case(&app).await;
    // The case service of a deployment with a 30-day period, 31 days later.
    let later = ManualClock::new(app.now() + Duration::days(31));
    let service = CaseApp::new(
        app.db.db.clone(),
        Policy::default(),
        Calendar::default(),
        Arc::new(later),
    )
    .await
    .unwrap()
    .with_retention(Some(30));
    let job = RetentionWorker::new(service);

    assert_eq!(job.run_once().await.unwrap(), 1);
    assert_eq!(job.run_once().await.unwrap(), 0);
    assert!(app.get(&id).await.personal_data_erased);
    let erasure = app
        .timeline(&id)
        .await
        .events
        .into_iter()
        .find(|event| event.kind == "case.complainant_erased")
        .unwrap();
    assert_eq!(erasure.actor, RETENTION_SUBJECT);
}
