//! ListCases: every filter, alone and together, and paging.

use std::collections::BTreeSet;

use chrono::{Duration, TimeZone, Utc};
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_test_support::TestDb;

use crate::helpers::{
    TestApp, complaint, date, on_every_backend, spawn_app, timestamp, violated_fields,
};

on_every_backend!(
    each_filter_narrows_the_list_and_filters_combine,
    the_complainant_name_matches_any_part_ignoring_case,
    overdue_cases_are_those_open_past_their_stage_response_date,
    pages_cover_every_case_once_newest_first,
    bad_filters_and_page_tokens_are_invalid_arguments,
);

/// The register numbers of the cases `request` lists (one page).
async fn listed(app: &TestApp, request: pb::ListCasesRequest) -> Vec<String> {
    let response = app
        .handler()
        .list_cases(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        usize::try_from(response.total_size).unwrap(),
        response.cases.len(),
        "one page holds them all"
    );
    response
        .cases
        .into_iter()
        .map(|case| case.register_number)
        .collect()
}

/// Four cases, oldest first:
/// 1. web, Ann Jones, received Friday 20 February, stage 1 open;
/// 2. telephone, Joanna Smith, received Wednesday 25 February, stage 1 open;
/// 3. post, Bob Brown, received now (2 March), at stage 2 after a review;
/// 4. email, Dee O'Neill, received a minute later, stage 1 responded.
async fn four_cases(app: &TestApp) {
    let mut ann = complaint("list-1");
    ann.received_at = Some(timestamp(
        Utc.with_ymd_and_hms(2026, 2, 20, 11, 0, 0).unwrap(),
    ));
    app.open(ann).await;

    let mut joanna = complaint("list-2");
    joanna.channel = common::Channel::Telephone as i32;
    joanna.recorded_by = "Adviser 4471".to_owned();
    joanna.received_at = Some(timestamp(
        Utc.with_ymd_and_hms(2026, 2, 25, 15, 30, 0).unwrap(),
    ));
    let person = joanna.complainant.as_mut().unwrap();
    person.full_name = "Joanna Smith".to_owned();
    person.email = "joanna@example.org".to_owned();
    app.open(joanna).await;

    let mut bob = complaint("list-3");
    bob.channel = common::Channel::Post as i32;
    bob.scan_reference = "SCAN-2026-0042".to_owned();
    let person = bob.complainant.as_mut().unwrap();
    person.full_name = "Bob Brown".to_owned();
    person.email.clear();
    person.postal_address = Some(common::PostalAddress {
        lines: vec!["12 Park Row".to_owned()],
        town: "Leeds".to_owned(),
        postcode: "LS1 5HD".to_owned(),
    });
    let bob = app.open(bob).await.case.unwrap();
    app.respond_at_stage_1(&bob.case_id, "billing-error").await;
    app.handler()
        .request_review(pb::RequestReviewRequest {
            case_id: bob.case_id.clone(),
            request_id: String::new(),
            desired_outcome: "A refund".to_owned(),
            unsatisfied_with: "The invoice is still wrong".to_owned(),
            received_at: None,
        })
        .await
        .unwrap();

    app.advance(Duration::minutes(1));
    let mut dee = complaint("list-4");
    dee.channel = common::Channel::Email as i32;
    let person = dee.complainant.as_mut().unwrap();
    person.full_name = "Dee O'Neill".to_owned();
    person.email = "dee@example.org".to_owned();
    let dee = app.open(dee).await.case.unwrap();
    app.respond_at_stage_1(&dee.case_id, "communication").await;
}

const ANN: &str = "CMP-2026-000001";
const JOANNA: &str = "CMP-2026-000002";
const BOB: &str = "CMP-2026-000003";
const DEE: &str = "CMP-2026-000004";

async fn each_filter_narrows_the_list_and_filters_combine(db: TestDb) {
    let app = spawn_app(db).await;
    four_cases(&app).await;
    let all = pb::ListCasesRequest::default;

    assert_eq!(listed(&app, all()).await, [DEE, BOB, JOANNA, ANN]);
    let stage = |stage: common::Stage| pb::ListCasesRequest {
        stage: stage as i32,
        ..all()
    };
    assert_eq!(
        listed(&app, stage(common::Stage::Stage1)).await,
        [DEE, JOANNA, ANN]
    );
    assert_eq!(listed(&app, stage(common::Stage::Stage2)).await, [BOB]);
    assert!(listed(&app, stage(common::Stage::Stage3)).await.is_empty());

    let status = |status: pb::CaseStatus| pb::ListCasesRequest {
        status: status as i32,
        ..all()
    };
    assert_eq!(
        listed(&app, status(pb::CaseStatus::Open)).await,
        [BOB, JOANNA, ANN]
    );
    assert_eq!(listed(&app, status(pb::CaseStatus::Responded)).await, [DEE]);
    assert!(
        listed(&app, status(pb::CaseStatus::Closed))
            .await
            .is_empty()
    );

    let channel = |channel: common::Channel| pb::ListCasesRequest {
        channel: channel as i32,
        ..all()
    };
    assert_eq!(listed(&app, channel(common::Channel::Web)).await, [ANN]);
    assert_eq!(
        listed(&app, channel(common::Channel::Telephone)).await,
        [JOANNA]
    );
    assert_eq!(listed(&app, channel(common::Channel::Post)).await, [BOB]);
    assert_eq!(listed(&app, channel(common::Channel::Email)).await, [DEE]);

    let received =
        |from: Option<(i32, i32, i32)>, to: Option<(i32, i32, i32)>| pb::ListCasesRequest {
            received_from: from.map(|(y, m, d)| date(y, m, d)),
            received_to: to.map(|(y, m, d)| date(y, m, d)),
            ..all()
        };
    assert_eq!(
        listed(&app, received(None, Some((2026, 2, 20)))).await,
        [ANN]
    );
    assert_eq!(
        listed(&app, received(Some((2026, 2, 21)), Some((2026, 2, 28)))).await,
        [JOANNA]
    );
    assert_eq!(
        listed(&app, received(Some((2026, 2, 25)), Some((2026, 2, 25)))).await,
        [JOANNA],
        "both ends are included"
    );
    assert_eq!(
        listed(&app, received(Some((2026, 3, 2)), None)).await,
        [DEE, BOB]
    );

    let number = |number: &str| pb::ListCasesRequest {
        register_number: number.to_owned(),
        ..all()
    };
    assert_eq!(listed(&app, number(JOANNA)).await, [JOANNA]);
    assert!(listed(&app, number("CMP-2026-000099")).await.is_empty());

    // All filters together must all match.
    let together = pb::ListCasesRequest {
        stage: common::Stage::Stage1 as i32,
        status: pb::CaseStatus::Open as i32,
        received_from: Some(date(2026, 2, 1)),
        complainant_name: "an".to_owned(),
        ..all()
    };
    assert_eq!(listed(&app, together).await, [JOANNA, ANN]);
    let contradictory = pb::ListCasesRequest {
        channel: common::Channel::Post as i32,
        stage: common::Stage::Stage1 as i32,
        ..all()
    };
    assert!(listed(&app, contradictory).await.is_empty());
}

async fn the_complainant_name_matches_any_part_ignoring_case(db: TestDb) {
    let app = spawn_app(db).await;
    four_cases(&app).await;
    let name = |text: &str| pb::ListCasesRequest {
        complainant_name: text.to_owned(),
        ..Default::default()
    };

    assert_eq!(listed(&app, name("ANN")).await, [JOANNA, ANN]);
    assert_eq!(listed(&app, name("jones")).await, [ANN]);
    assert_eq!(listed(&app, name("  bob BROWN ")).await, [BOB]);
    assert_eq!(listed(&app, name("o'neill")).await, [DEE]);
    assert!(
        listed(&app, name("%")).await.is_empty(),
        "% is not a wildcard"
    );
    assert!(
        listed(&app, name("_")).await.is_empty(),
        "_ is not a wildcard"
    );
    assert!(listed(&app, name("nobody")).await.is_empty());
}

async fn overdue_cases_are_those_open_past_their_stage_response_date(db: TestDb) {
    let app = spawn_app(db).await;
    four_cases(&app).await;
    let overdue = || pb::ListCasesRequest {
        overdue_only: true,
        ..Default::default()
    };
    assert!(listed(&app, overdue()).await.is_empty());

    // Monday 9 March: Ann's stage 1 response was due by Friday 6 March.
    app.advance(Duration::days(7));
    assert_eq!(listed(&app, overdue()).await, [ANN]);
    let all = app
        .handler()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cases;
    let flagged: Vec<_> = all
        .iter()
        .filter(|case| case.overdue)
        .map(|case| case.register_number.as_str())
        .collect();
    assert_eq!(flagged, [ANN]);

    // Friday 20 March: Joanna's (due 11 March) and Bob's review (due 16
    // March) too; Dee's stage 1 response was issued, so hers is not.
    app.advance(Duration::days(11));
    assert_eq!(listed(&app, overdue()).await, [BOB, JOANNA, ANN]);
    let combined = pb::ListCasesRequest {
        stage: common::Stage::Stage2 as i32,
        ..overdue()
    };
    assert_eq!(listed(&app, combined).await, [BOB]);
}

async fn pages_cover_every_case_once_newest_first(db: TestDb) {
    let app = spawn_app(db).await;
    let monday = Utc.with_ymd_and_hms(2026, 2, 23, 9, 0, 0).unwrap();
    // Seven cases; four share one receipt instant, so the order within it
    // must be stable too.
    for n in 0..7 {
        let mut request = complaint(&format!("page-{n}"));
        let received = if n < 4 {
            monday
        } else {
            monday + Duration::hours(n)
        };
        request.received_at = Some(timestamp(received));
        app.open(request).await;
    }

    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = Vec::new();
    loop {
        let response = app
            .handler()
            .list_cases(pb::ListCasesRequest {
                page_size: 3,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.total_size, 7);
        pages.push(response.cases.len());
        seen.extend(response.cases);
        if response.next_page_token.is_empty() {
            break;
        }
        assert!(pages.len() < 10, "paging does not end");
        page_token = response.next_page_token;
    }

    assert_eq!(pages, [3, 3, 1]);
    let ids: BTreeSet<_> = seen.iter().map(|case| case.case_id.clone()).collect();
    assert_eq!(ids.len(), 7, "no case twice");
    let received: Vec<_> = seen
        .iter()
        .map(|case| case.received_at.unwrap().seconds)
        .collect();
    let mut newest_first = received.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(received, newest_first);

    // The same paging under a filter, one at a time.
    let mut filtered = Vec::new();
    let mut page_token = String::new();
    loop {
        let response = app
            .handler()
            .list_cases(pb::ListCasesRequest {
                page_size: 1,
                page_token,
                received_to: Some(date(2026, 2, 23)),
                received_from: Some(date(2026, 2, 23)),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        filtered.extend(response.cases.into_iter().map(|case| case.case_id));
        if response.next_page_token.is_empty() {
            break;
        }
        assert!(filtered.len() <= 7, "paging does not end");
        page_token = response.next_page_token;
    }
    let unique: BTreeSet<_> = filtered.iter().collect();
    assert_eq!((filtered.len(), unique.len()), (7, 7));

    // Page size 0 means the default, 50.
    let everything = app
        .handler()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(everything.cases.len(), 7);
    assert!(everything.next_page_token.is_empty());
}

async fn bad_filters_and_page_tokens_are_invalid_arguments(db: TestDb) {
    let app = spawn_app(db).await;
    app.open_case().await;
    let mut handler = app.handler();

    assert_eq!(
        violated_fields(
            handler
                .list_cases(pb::ListCasesRequest {
                    page_token: "not-a-token".to_owned(),
                    ..Default::default()
                })
                .await
        ),
        ["page_token"]
    );
    assert_eq!(
        violated_fields(
            handler
                .list_cases(pb::ListCasesRequest {
                    page_size: -1,
                    ..Default::default()
                })
                .await
        ),
        ["page_size"]
    );
    assert_eq!(
        violated_fields(
            handler
                .list_cases(pb::ListCasesRequest {
                    received_from: Some(date(2026, 3, 2)),
                    received_to: Some(date(2026, 3, 1)),
                    ..Default::default()
                })
                .await
        ),
        ["received_to"]
    );
    assert_eq!(
        violated_fields(
            handler
                .list_cases(pb::ListCasesRequest {
                    received_from: Some(date(2026, 2, 30)),
                    ..Default::default()
                })
                .await
        ),
        ["received_from"]
    );
}
