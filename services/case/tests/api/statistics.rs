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
    the_database_adds_up_what_the_rules_say,
    a_report_runs_the_same_few_statements_whatever_the_range,
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

/// `hana` refers the case to a department; returns the referral's id.
async fn refer(app: &crate::helpers::TestApp, case_id: &str) -> String {
    app.handler()
        .refer_to_department(pb::ReferToDepartmentRequest {
            case_id: case_id.to_owned(),
            request_id: String::new(),
            department: "Installations".to_owned(),
            question: "When was the pendant last tested?".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .referral_id
}

/// The platform records that a notice of `kind` reached the complainant.
async fn notice_sent(app: &crate::helpers::TestApp, case_id: &str, id: &str, kind: &str) {
    app.platform()
        .record_notice(pb::RecordNoticeRequest {
            case_id: case_id.to_owned(),
            notification_id: id.to_owned(),
            kind: kind.to_owned(),
            stage: common::Stage::Stage1 as i32,
            channel: "email".to_owned(),
            sent_at: Some(timestamp(app.now())),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// The cases received in the range, as stored, in report order (oldest
/// receipt first, then by id).
async fn cases_received(
    db: &sea_orm::DatabaseConnection,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Vec<complaints_store::cases::StoredCase> {
    use complaints_store::cases::{CaseFilter, list};
    let filter = CaseFilter {
        received_from: Some(from),
        received_to: Some(to),
        ..CaseFilter::default()
    };
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = list(db, &filter, after, 7).await.unwrap();
        all.extend(page);
        match next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    all.reverse();
    all
}

/// Writes `stored` back as the case's snapshot, as if its steps had led
/// there: for shapes of case the steps through the API cannot reach on a
/// test's clock (instants to the nanosecond, promises settled at their due
/// instant exactly, referrals of other stages).
async fn rewrite(db: &sea_orm::DatabaseConnection, stored: &complaints_store::cases::StoredCase) {
    use complaints_store::entity::cases;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut case = stored.case.clone();
    case.complainant = complaints_domain::complainant::Complainant::anonymised();
    let snapshot = serde_json::json!({ "case": case, "due_dates": stored.due_dates }).to_string();
    let updated = cases::Entity::update_many()
        .col_expr(cases::Column::Snapshot, Expr::value(snapshot))
        .col_expr(cases::Column::Stage, Expr::value(case.stage.as_str()))
        .filter(cases::Column::Id.eq(case.id.as_uuid()))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected, 1);
}

async fn the_database_adds_up_what_the_rules_say(db: TestDb) {
    use complaints_case::statistics::Statistics;
    use complaints_domain::case::{
        CaseId, DeadlineKind, Escalation, Finding, Referral, ReferralId, StageResponse,
    };
    use complaints_domain::policy::Stage;
    use complaints_domain::role::Actor;
    use complaints_domain::values::Text;
    use complaints_store::cases::{self, DueState, statistics_received_between};

    let app = spawn_app(db).await;
    let store = app.db.db.clone();
    let handler = ("hana", Role::ComplaintsHandler);
    let text = |t: &str| Text::try_from(t.to_owned()).unwrap();
    let load = |id: &str| {
        let store = store.clone();
        let id: CaseId = id.parse().unwrap();
        async move { cases::load(&store, id).await.unwrap() }
    };

    // Received earlier that morning, to the nanosecond, by telephone.
    let mut early = complaint("equivalence-early");
    early.channel = common::Channel::Telephone as i32;
    early.recorded_by = "Adviser 4471".to_owned();
    early.received_at = Some(complaints_test_support::time::timestamp_exact(
        Utc.with_ymd_and_hms(2026, 3, 2, 8, 15, 30).unwrap() + Duration::nanoseconds(123_456_789),
    ));
    app.open(early).await;
    // Referred on day 1 and still open at the referral-update instant: the
    // update is sent; acknowledged after 3 hours and a few milliseconds.
    app.advance(Duration::hours(3) + Duration::milliseconds(250));
    let referred = app
        .open(complaint("equivalence-referred"))
        .await
        .case
        .unwrap();
    notice_sent(
        &app,
        &referred.case_id,
        "ack-referred",
        "NOTIFICATION_KIND_ACKNOWLEDGEMENT",
    )
    .await;
    app.advance(Duration::microseconds(1_500));
    let answered = app
        .open(complaint("equivalence-answered"))
        .await
        .case
        .unwrap();
    app.advance(Duration::days(1));
    let open_referral = refer(&app, &referred.case_id).await;
    let answered_referral = refer(&app, &answered.case_id).await;
    app.advance(Duration::days(1));
    // The other referral is answered before the referral-update instant.
    app.handler()
        .record_department_response(pb::RecordDepartmentResponseRequest {
            case_id: answered.case_id.clone(),
            request_id: String::new(),
            referral_id: answered_referral,
            response: "Tested last month.".to_owned(),
        })
        .await
        .unwrap();
    notice_sent(
        &app,
        &answered.case_id,
        "ack-answered",
        "NOTIFICATION_KIND_ACKNOWLEDGEMENT",
    )
    .await;
    app.advance(Duration::days(6));
    notice_sent(
        &app,
        &referred.case_id,
        "update-referred",
        "NOTIFICATION_KIND_REFERRAL_UPDATE",
    )
    .await;
    app.handler()
        .record_department_response(pb::RecordDepartmentResponseRequest {
            case_id: referred.case_id.clone(),
            request_id: String::new(),
            referral_id: open_referral,
            response: "Tested last year.".to_owned(),
        })
        .await
        .unwrap();
    // Stage 1 responses: the same lesson from two cases; then a review of
    // the first, answered with a lesson of its own.
    respond(
        &app,
        handler,
        &referred.case_id,
        "billing-error",
        "Check tariffs monthly",
    )
    .await;
    app.advance(Duration::days(1));
    respond(
        &app,
        handler,
        &answered.case_id,
        "billing-error",
        "Check tariffs monthly",
    )
    .await;
    app.handler()
        .request_review(pb::RequestReviewRequest {
            case_id: referred.case_id.clone(),
            request_id: String::new(),
            desired_outcome: "A refund".to_owned(),
            unsatisfied_with: "The delay".to_owned(),
            received_at: None,
        })
        .await
        .unwrap();
    app.advance(Duration::days(2));
    respond(
        &app,
        ("carol", Role::CxManager),
        &referred.case_id,
        "late-response",
        "Call back within the hour",
    )
    .await;
    // Two more cases, shaped by hand below, and one outside the range.
    let exact = app.open(complaint("equivalence-exact")).await.case.unwrap();
    app.advance(Duration::minutes(1));
    let other = app.open(complaint("equivalence-other")).await.case.unwrap();
    let mut april = complaint("equivalence-april");
    april.received_at = None;
    app.advance(Duration::days(30));
    let april = app.open(april).await.case.unwrap();
    respond(
        &app,
        handler,
        &april.case_id,
        "billing-error",
        "Check tariffs monthly",
    )
    .await;

    let actor = Actor::new("hana", Role::ComplaintsHandler);
    let response = |root_cause: &str, finding, lesson: Option<&str>, at| StageResponse {
        stage: Stage::Stage1,
        outcome: text("We looked into it."),
        finding,
        root_cause: root_cause.to_owned(),
        lessons_learned: lesson.map(text),
        issued_by: actor.clone(),
        issued_at: at,
    };
    let referral = |stage, opened_at, responded_at: Option<chrono::DateTime<Utc>>| Referral {
        id: ReferralId(uuid::Uuid::new_v4()),
        stage,
        department: text("Installations"),
        question: text("When?"),
        opened_at,
        opened_by: actor.clone(),
        response: responded_at.map(|_| text("Then.")),
        responded_at,
        responded_by: responded_at.map(|_| actor.clone()),
    };
    let escalation = |at| Escalation {
        desired_outcome: text("A refund"),
        unsatisfied_with: text("The answer"),
        received_at: at,
        requested_at: at,
        requested_by: actor.clone(),
    };

    // Promises kept at their due instant exactly (met) and a nanosecond
    // after it (breached); a referral opened at the referral-update instant
    // exactly (open then); a director's request and a TSA referral; the
    // same lesson twice in one case, and a known lesson under another root
    // cause.
    let mut stored = load(&exact.case_id).await;
    let received = stored.case.received_at;
    for due in &mut stored.due_dates {
        match due.kind {
            DeadlineKind::Acknowledge => {
                due.state = DueState::Met;
                due.settled_at = Some(due.due_at);
            }
            DeadlineKind::Resolve => {
                due.state = DueState::Met;
                due.settled_at = Some(due.due_at + Duration::nanoseconds(1));
            }
            DeadlineKind::ReferralUpdate => {
                let at = due.due_at;
                stored
                    .case
                    .referrals
                    .push(referral(Stage::Stage1, at, None));
            }
            _ => {}
        }
    }
    stored.case.stage = Stage::Stage3;
    stored.case.review_request = Some(escalation(received + Duration::days(3)));
    stored.case.director_request = Some(escalation(received + Duration::days(9)));
    stored.case.tsa_reference = Some(text("TSA-2026-001"));
    stored.case.responses = vec![
        response(
            "late-response",
            Finding::PartlyUpheld,
            Some("Call back within the hour"),
            received + Duration::days(1),
        ),
        response(
            "late-response",
            Finding::Upheld,
            Some("Call back within the hour"),
            received + Duration::days(2),
        ),
        response(
            "staff-conduct",
            Finding::Upheld,
            Some("Check tariffs monthly"),
            received + Duration::days(3),
        ),
        response(
            "staff-conduct",
            Finding::Upheld,
            None,
            received + Duration::days(4),
        ),
    ];
    rewrite(&store, &stored).await;

    // A stage 1 referral answered at the referral-update instant exactly
    // (not open then) and an open stage 2 one: the pending update is not
    // weighed. A second update kept late with no referral open counts as
    // met; an acknowledgement kept with no instant counts as met, outside
    // the median; a cancelled resolution counts nowhere.
    let mut stored = load(&other.case_id).await;
    let mut extra = Vec::new();
    for due in &mut stored.due_dates {
        match due.kind {
            DeadlineKind::Acknowledge => {
                due.state = DueState::Met;
                due.settled_at = None;
            }
            DeadlineKind::Resolve => {
                due.state = DueState::Cancelled;
                due.settled_at = Some(due.due_at - Duration::hours(1));
            }
            DeadlineKind::ReferralUpdate => {
                let at = due.due_at;
                stored.case.referrals.push(referral(
                    Stage::Stage1,
                    at - Duration::days(2),
                    Some(at),
                ));
                stored
                    .case
                    .referrals
                    .push(referral(Stage::Stage2, at - Duration::days(1), None));
                let mut late = due.clone();
                late.state = DueState::Met;
                late.due_at = at + Duration::days(20);
                late.settled_at = Some(late.due_at + Duration::microseconds(7));
                extra.push(late);
            }
            _ => {}
        }
    }
    stored.due_dates.extend(extra);
    rewrite(&store, &stored).await;

    let (from, to) = (
        chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
    );
    let reported = cases_received(&store, from, to).await;
    assert_eq!(reported.len(), 5);
    // As of now, at a pending promise's due instant exactly (not yet
    // breached), a nanosecond after it, and long after everything.
    let pending_due = reported
        .iter()
        .flat_map(|stored| &stored.due_dates)
        .find(|due| due.state == DueState::Pending)
        .map(|due| due.due_at)
        .unwrap();
    let nows = [
        app.now(),
        pending_due,
        pending_due + Duration::nanoseconds(1),
        app.now() + Duration::days(365),
    ];
    for now in nows {
        let expected = crate::statistics_reference::compute(&reported, now);
        let computed = Statistics::from(
            statistics_received_between(&store, from, to, now)
                .await
                .unwrap(),
        );
        assert_eq!(computed, expected, "as of {now}");
    }
    // The figures the comparison rests on are not all empty.
    let expected = crate::statistics_reference::compute(&reported, app.now());
    assert_eq!(expected.total, 5);
    assert_eq!(expected.tsa_count, 1);
    assert!(expected.median_time_to_acknowledge.is_some());
    assert!(expected.median_time_to_resolve.is_some());
    assert!(expected.sla.contains_key(&DeadlineKind::ReferralUpdate));
    assert_eq!(expected.lessons_by_root_cause.len(), 3);
    // And the service reports the same through its API.
    let served = app
        .handler()
        .get_statistics(range((2026, 3, 1), (2026, 3, 31)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(served.total, 5);
    assert_eq!(
        served.median_time_to_resolve.map(|d| (d.seconds, d.nanos)),
        expected.median_time_to_resolve.map(|d| (
            d.num_seconds(),
            i32::try_from(
                (d - Duration::seconds(d.num_seconds()))
                    .num_nanoseconds()
                    .unwrap()
            )
            .unwrap()
        ))
    );
}

async fn a_report_runs_the_same_few_statements_whatever_the_range(db: TestDb) {
    use std::sync::atomic::Ordering;

    use complaints_domain::role::Actor;

    let app = spawn_app(db).await;
    // 3 cases on Monday 2 March; 403 more on Tuesday 3 March.
    for n in 0..3 {
        app.open(complaint(&format!("few-{n}"))).await;
    }
    app.advance(Duration::days(1));
    for n in 0..403 {
        app.open(complaint(&format!("many-{n}"))).await;
    }

    // A service of our own over the same database, counting the
    // statements it runs.
    let (service, statements) = crate::helpers::counting_service(&app, |_| true).await;
    let reader = Actor::new("hana", Role::ComplaintsHandler);
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let run = |from, to| {
        let (service, reader, statements) = (&service, &reader, &statements);
        async move {
            statements.store(0, Ordering::SeqCst);
            let stats = service
                .statistics(reader, day(from), day(to))
                .await
                .unwrap();
            (stats.total, statements.load(Ordering::SeqCst))
        }
    };

    let (few, for_few) = run(2, 2).await;
    let (many, for_many) = run(2, 3).await;
    assert_eq!((few, many), (3, 406));
    assert_eq!(
        for_few, for_many,
        "a report over {many} cases ran {for_many} statements, over {few} ran {for_few}"
    );
    assert!(for_many <= 6, "{for_many} statements for one report");
}
