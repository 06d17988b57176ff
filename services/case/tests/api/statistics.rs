//! GetStatistics: counts over the cases received in a range of local dates.

use chrono::{Duration, TimeZone, Utc};
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_test_support::TestDb;

use complaints_domain::role::Role;
use tonic::Code;

use crate::helpers::{
    complaint, date, on_every_backend, refused, spawn_app, timestamp, violated_fields,
};

on_every_backend!(
    statistics_count_the_cases_received_in_the_range,
    a_case_counts_on_the_local_date_it_was_received,
    statistics_need_a_valid_date_range,
    an_acknowledgement_the_platform_delivered_in_time_counts_as_met,
    root_causes_count_every_stage_response_and_lessons_come_with_their_register_numbers,
);

fn count(counts: &[pb::Count], key: &str) -> i64 {
    counts.iter().find(|c| c.key == key).map_or(0, |c| c.count)
}

fn sla(stats: &pb::GetStatisticsResponse, kind: common::DeadlineKind) -> (i64, i64, i64) {
    stats
        .sla
        .iter()
        .find(|s| s.kind == kind as i32)
        .map_or((0, 0, 0), |s| (s.met, s.breached, s.pending))
}

fn range(from: (i32, i32, i32), to: (i32, i32, i32)) -> pb::GetStatisticsRequest {
    pb::GetStatisticsRequest {
        from_date: Some(date(from.0, from.1, from.2)),
        to_date: Some(date(to.0, to.1, to.2)),
    }
}

async fn statistics_count_the_cases_received_in_the_range(db: TestDb) {
    let app = spawn_app(db).await;
    // February: outside the range reported on.
    let mut february = complaint("stats-0");
    february.received_at = Some(timestamp(
        Utc.with_ymd_and_hms(2026, 2, 20, 9, 0, 0).unwrap(),
    ));
    app.open(february).await;
    // Monday 2 March: a call, a web form and a letter.
    let mut call = complaint("stats-1");
    call.channel = common::Channel::Telephone as i32;
    call.recorded_by = "Adviser 4471".to_owned();
    let call = app.open(call).await.case.unwrap();
    let web = app.open(complaint("stats-2")).await.case.unwrap();
    let mut letter = complaint("stats-3");
    letter.channel = common::Channel::Post as i32;
    letter.scan_reference = "SCAN-2026-0042".to_owned();
    letter.complainant.as_mut().unwrap().postal_address = Some(common::PostalAddress {
        lines: vec!["12 Park Row".to_owned()],
        town: "Leeds".to_owned(),
        postcode: "LS1 5HD".to_owned(),
    });
    app.open(letter).await;

    // The call is answered in two days, upheld; the web form in four, not
    // upheld, and its complainant asks for a review.
    app.advance(Duration::days(2));
    app.handler()
        .issue_stage_response(pb::IssueStageResponseRequest {
            upheld: pb::Finding::Upheld as i32,
            ..crate::helpers::stage_response(&call.case_id, "billing-error")
        })
        .await
        .unwrap();
    app.advance(Duration::days(2));
    app.respond_at_stage_1(&web.case_id, "billing-error").await;
    app.handler()
        .request_review(pb::RequestReviewRequest {
            case_id: web.case_id.clone(),
            request_id: String::new(),
            desired_outcome: "A refund".to_owned(),
            unsatisfied_with: "The invoice".to_owned(),
            received_at: None,
        })
        .await
        .unwrap();
    // Friday 20 March: the letter's stage 1 response (due 16 March) is late.
    app.advance(Duration::days(14));

    let stats = app
        .handler()
        .get_statistics(range((2026, 3, 1), (2026, 3, 31)))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(stats.total, 3);
    assert_eq!(count(&stats.by_stage, "STAGE_1"), 2);
    assert_eq!(count(&stats.by_stage, "STAGE_2"), 1);
    assert_eq!(count(&stats.by_channel, "CHANNEL_TELEPHONE"), 1);
    assert_eq!(count(&stats.by_channel, "CHANNEL_WEB"), 1);
    assert_eq!(count(&stats.by_channel, "CHANNEL_POST"), 1);
    assert_eq!(count(&stats.by_root_cause, "billing-error"), 2);
    assert_eq!(stats.by_root_cause.len(), 1);
    assert_eq!(count(&stats.by_finding, "FINDING_UPHELD"), 1);
    assert_eq!(count(&stats.by_finding, "FINDING_NOT_UPHELD"), 1);
    assert_eq!(sla(&stats, common::DeadlineKind::Resolve), (2, 1, 0));
    // Nobody recorded an acknowledgement being sent.
    assert_eq!(sla(&stats, common::DeadlineKind::Acknowledge), (0, 3, 0));
    assert_eq!(stats.median_time_to_acknowledge, None);
    let median = stats.median_time_to_resolve.unwrap();
    assert_eq!(median.seconds, Duration::days(3).num_seconds());
    assert_eq!(stats.review_count, 1);
    assert!((stats.escalation_rate - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!((stats.director_count, stats.tsa_count), (0, 0));
    assert!(stats.tsa_rate.abs() < f64::EPSILON);

    let february = app
        .handler()
        .get_statistics(range((2026, 2, 1), (2026, 2, 28)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(february.total, 1);
    assert_eq!(count(&february.by_channel, "CHANNEL_WEB"), 1);

    let empty = app
        .handler()
        .get_statistics(range((2025, 1, 1), (2025, 1, 31)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(empty.total, 0);
    assert!(empty.escalation_rate.abs() < f64::EPSILON);
}

async fn a_case_counts_on_the_local_date_it_was_received(db: TestDb) {
    let app = spawn_app(db).await;
    // 23:30 UTC on Saturday 25 October 2025 is 00:30 on Sunday 26 October
    // in London (British Summer Time ends that night).
    let mut late = complaint("late-night");
    late.received_at = Some(timestamp(
        Utc.with_ymd_and_hms(2025, 10, 25, 23, 30, 0).unwrap(),
    ));
    app.open(late).await;
    let total = |from, to| {
        let request = range(from, to);
        let mut client = app.handler();
        async move {
            client
                .get_statistics(request)
                .await
                .unwrap()
                .into_inner()
                .total
        }
    };

    assert_eq!(total((2025, 10, 25), (2025, 10, 25)).await, 0);
    assert_eq!(total((2025, 10, 26), (2025, 10, 26)).await, 1);
    assert_eq!(total((2025, 10, 1), (2025, 10, 31)).await, 1);
}

async fn statistics_need_a_valid_date_range(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.handler();

    assert_eq!(
        violated_fields(
            client
                .get_statistics(pb::GetStatisticsRequest {
                    from_date: None,
                    to_date: Some(date(2026, 3, 31)),
                })
                .await
        ),
        ["from_date"]
    );
    let mut both = violated_fields(
        client
            .get_statistics(pb::GetStatisticsRequest::default())
            .await,
    );
    both.sort();
    assert_eq!(both, ["from_date", "to_date"]);
    assert_eq!(
        violated_fields(
            client
                .get_statistics(range((2026, 3, 31), (2026, 3, 1)))
                .await
        ),
        ["to_date"]
    );
    assert_eq!(
        violated_fields(
            client
                .get_statistics(range((2026, 2, 30), (2026, 3, 1)))
                .await
        ),
        ["from_date"]
    );
}

async fn an_acknowledgement_the_platform_delivered_in_time_counts_as_met(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    app.advance(Duration::hours(5));
    let notice = pb::RecordNoticeRequest {
        case_id: case.case_id.clone(),
        notification_id: "notification-1".to_owned(),
        kind: "NOTIFICATION_KIND_ACKNOWLEDGEMENT".to_owned(),
        stage: common::Stage::Stage1 as i32,
        channel: "email".to_owned(),
        route_note: String::new(),
        sent_at: Some(timestamp(app.now())),
        ..Default::default()
    };

    refused(
        app.handler().record_notice(notice.clone()).await,
        Code::PermissionDenied,
    );
    let acknowledged = app
        .platform()
        .record_notice(notice.clone())
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(acknowledged.acknowledged_at, Some(timestamp(app.now())));
    // The notification service may report a delivery twice.
    app.client("notification", Role::Service)
        .record_notice(notice)
        .await
        .unwrap();
    assert_eq!(
        app.event_kinds(&case.case_id).await,
        ["case.received", "case.notice_sent", "case.acknowledged"]
    );

    let stats = app
        .handler()
        .get_statistics(range((2026, 3, 2), (2026, 3, 2)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sla(&stats, common::DeadlineKind::Acknowledge), (1, 0, 0));
    assert_eq!(
        stats.median_time_to_acknowledge.unwrap().seconds,
        Duration::hours(5).num_seconds()
    );
    assert_eq!(sla(&stats, common::DeadlineKind::Resolve), (0, 0, 1));
}

/// A lesson learned and the register numbers it came from.
type Lesson = (String, Vec<String>);

/// `author` responds to the case's current stage with `root_cause` and
/// `lesson`.
async fn respond(
    app: &crate::helpers::TestApp,
    author: (&str, Role),
    case_id: &str,
    root_cause: &str,
    lesson: &str,
) {
    app.client(author.0, author.1)
        .issue_stage_response(pb::IssueStageResponseRequest {
            lessons_learned: lesson.to_owned(),
            ..crate::helpers::stage_response(case_id, root_cause)
        })
        .await
        .unwrap();
}

async fn root_causes_count_every_stage_response_and_lessons_come_with_their_register_numbers(
    db: TestDb,
) {
    let app = spawn_app(db).await;
    // Received a minute apart, so the report lists them in this order.
    let first = app.open(complaint("lessons-1")).await.case.unwrap();
    app.advance(Duration::minutes(1));
    let second = app.open(complaint("lessons-2")).await.case.unwrap();
    app.advance(Duration::minutes(1));
    let third = app.open(complaint("lessons-3")).await.case.unwrap();
    let handler = ("hana", Role::ComplaintsHandler);
    // The first case: stage 1 blames billing, the review finds it was late.
    respond(
        &app,
        handler,
        &first.case_id,
        "billing-error",
        "Check tariffs monthly",
    )
    .await;
    app.handler()
        .request_review(pb::RequestReviewRequest {
            case_id: first.case_id.clone(),
            request_id: String::new(),
            desired_outcome: "A refund".to_owned(),
            unsatisfied_with: "The delay".to_owned(),
            received_at: None,
        })
        .await
        .unwrap();
    respond(
        &app,
        ("carol", Role::CxManager),
        &first.case_id,
        "late-response",
        "Call back within the hour",
    )
    .await;
    // The second case learns the same billing lesson; the third none.
    respond(
        &app,
        handler,
        &second.case_id,
        "billing-error",
        "Check tariffs monthly",
    )
    .await;
    respond(&app, handler, &third.case_id, "billing-error", "").await;

    let stats = app
        .handler()
        .get_statistics(range((2026, 3, 1), (2026, 3, 31)))
        .await
        .unwrap()
        .into_inner();

    // Four responses: the first case's stage 1 root cause still counts.
    assert_eq!(count(&stats.by_root_cause, "billing-error"), 3);
    assert_eq!(count(&stats.by_root_cause, "late-response"), 1);
    // The finding is still the latest response's, one per case.
    assert_eq!(stats.by_finding.iter().map(|c| c.count).sum::<i64>(), 3);
    let lessons: Vec<(String, Vec<Lesson>)> = stats
        .lessons_by_root_cause
        .iter()
        .map(|group| {
            (
                group.root_cause.clone(),
                group
                    .lessons
                    .iter()
                    .map(|l| (l.lessons_learned.clone(), l.register_numbers.clone()))
                    .collect(),
            )
        })
        .collect();
    let own = |number: &str| number.to_owned();
    assert_eq!(
        lessons,
        vec![
            (
                "billing-error".to_owned(),
                vec![(
                    "Check tariffs monthly".to_owned(),
                    vec![own(&first.register_number), own(&second.register_number)]
                )]
            ),
            (
                "late-response".to_owned(),
                vec![(
                    "Call back within the hour".to_owned(),
                    vec![own(&first.register_number)]
                )]
            ),
        ]
    );
}
