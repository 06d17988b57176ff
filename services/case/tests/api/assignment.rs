//! AssignCase and the handler's day: a case names the person who has it for
//! its role, a handler lists their own cases, and a person's cases are
//! found the way a CRM or a telephone adviser looks for them.

use chrono::Duration;
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_store::cases::{CASE_EVENTS_TOPIC, CaseChanged};
use complaints_store::entity::outbox;
use complaints_test_support::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tonic::Code;

use crate::helpers::{TestApp, complaint, on_every_backend, refused, spawn_app, violated_fields};

on_every_backend!(
    a_handler_assigns_a_case_and_the_timeline_records_who_and_by_whom,
    an_empty_assignee_clears_the_assignment,
    a_handler_lists_their_own_cases,
    a_case_is_found_by_customer_reference_exactly,
    a_case_is_found_by_email_ignoring_case,
    a_case_is_found_by_phone_however_the_number_is_written,
    a_case_is_found_by_postcode_ignoring_case_and_spaces,
    a_case_is_found_by_every_word_of_its_summary_ignoring_case,
    an_erased_complainant_is_never_found_by_their_details,
    bad_search_values_are_invalid_arguments_naming_each_field,
    only_the_complaints_department_and_the_stage_deciders_assign,
    a_bad_assignee_is_an_invalid_argument_on_assignee,
    a_closed_case_refuses_assignment,
    a_retried_assignment_is_applied_once,
    the_assignment_ends_when_the_case_passes_to_another_role,
    the_case_change_carries_the_assignee_to_the_escalation_service,
);

fn assign(case_id: &str, assignee: &str, request_id: &str) -> pb::AssignCaseRequest {
    pb::AssignCaseRequest {
        case_id: case_id.to_owned(),
        assignee: assignee.to_owned(),
        request_id: request_id.to_owned(),
    }
}

/// `hana` (the complaints department) assigns the case to `assignee`.
async fn assigned(app: &TestApp, case_id: &str, assignee: &str) -> pb::Case {
    app.handler()
        .assign_case(assign(case_id, assignee, ""))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap()
}

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

const ANN: &str = "CMP-2026-000001";
const MARY: &str = "CMP-2026-000002";
const TOM: &str = "CMP-2026-000003";

/// Three complainants, a minute apart (so newest first is Tom, Mary, Ann),
/// their details written the ways people write them:
/// 1. Ann Jones, the helpers' complaint: `ann.jones@example.org`, `0113 496
///    0000`, `CRM-1001`, no address, "Pendant alarm call not answered";
/// 2. Mary Jones: `Mary.Jones@Example.com`, `01632960001`, `CRM-2002`,
///    `ls1 4ap`, "Engineer visit was late";
/// 3. Tom Smith: `tom@example.net`, `+44 1632 960002`, no reference,
///    `M1 1AE`, "Alarm pendant battery failed (100% flat)".
///
/// Answers their case ids, in that order.
async fn three_people(app: &TestApp) -> [String; 3] {
    let ann = app.open(complaint("search-1")).await.case.unwrap();

    app.advance(Duration::minutes(1));
    let mut mary = complaint("search-2");
    mary.summary = "Engineer visit was late".to_owned();
    let person = mary.complainant.as_mut().unwrap();
    person.full_name = "Mary Jones".to_owned();
    person.email = "Mary.Jones@Example.com".to_owned();
    person.phone = "01632960001".to_owned();
    person.customer_ref = "CRM-2002".to_owned();
    person.postal_address = Some(common::PostalAddress {
        lines: vec!["2 Park Row".to_owned()],
        town: "Leeds".to_owned(),
        postcode: "ls1 4ap".to_owned(),
    });
    let mary = app.open(mary).await.case.unwrap();

    app.advance(Duration::minutes(1));
    let mut tom = complaint("search-3");
    tom.summary = "Alarm pendant battery failed (100% flat)".to_owned();
    let person = tom.complainant.as_mut().unwrap();
    person.full_name = "Tom Smith".to_owned();
    person.email = "tom@example.net".to_owned();
    person.phone = "+44 1632 960002".to_owned();
    person.customer_ref = String::new();
    person.postal_address = Some(common::PostalAddress {
        lines: vec!["3 Mill Lane".to_owned()],
        town: "Manchester".to_owned(),
        postcode: "M1 1AE".to_owned(),
    });
    let tom = app.open(tom).await.case.unwrap();
    [ann.case_id, mary.case_id, tom.case_id]
}

async fn a_handler_assigns_a_case_and_the_timeline_records_who_and_by_whom(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    assert_eq!(case.assignee, "");

    let updated = assigned(&app, &case.case_id, "  pat ").await;
    assert_eq!(updated.assignee, "pat");
    assert_eq!(
        updated.owner_role,
        common::Role::ComplaintsHandler as i32,
        "the case still belongs to the role"
    );
    assert_eq!(app.get(&case.case_id).await.assignee, "pat");

    let reassigned = assigned(&app, &case.case_id, "hana").await;
    assert_eq!(reassigned.assignee, "hana");

    let timeline = app.timeline(&case.case_id).await;
    assert!(timeline.verified);
    let kinds: Vec<_> = timeline.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["case.received", "case.assigned", "case.assigned"]);
    let first = &timeline.events[1];
    assert_eq!(first.actor, "hana");
    assert_eq!(first.actor_role, common::Role::ComplaintsHandler as i32);
    assert_eq!(
        first.details_json,
        r#"{"assignee":"pat","kind":"case.assigned"}"#
    );
    assert_eq!(
        timeline.events[2].details_json,
        r#"{"assignee":"hana","kind":"case.assigned","previous_assignee":"pat"}"#
    );
}

async fn an_empty_assignee_clears_the_assignment(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    assigned(&app, &case.case_id, "hana").await;

    let cleared = assigned(&app, &case.case_id, "").await;
    assert_eq!(cleared.assignee, "");
    let mine = pb::ListCasesRequest {
        assignee: "hana".to_owned(),
        ..Default::default()
    };
    assert!(listed(&app, mine).await.is_empty());
    let timeline = app.timeline(&case.case_id).await;
    let last = timeline.events.last().unwrap();
    assert_eq!(last.kind, "case.unassigned");
    assert_eq!(
        last.details_json,
        r#"{"kind":"case.unassigned","owner_role":"complaints_handler","previous_assignee":"hana"}"#
    );

    // Clearing it again changes nothing.
    assigned(&app, &case.case_id, "").await;
    assert_eq!(app.timeline(&case.case_id).await.events.len(), 3);
}

async fn a_handler_lists_their_own_cases(db: TestDb) {
    let app = spawn_app(db).await;
    let [ann, mary, tom] = three_people(&app).await;
    assigned(&app, &ann, "hana").await;
    assigned(&app, &mary, "pat").await;
    assigned(&app, &tom, "hana").await;
    app.respond_at_stage_1(&tom, "faulty-equipment").await;

    let mine = |assignee: &str| pb::ListCasesRequest {
        assignee: assignee.to_owned(),
        ..Default::default()
    };
    assert_eq!(listed(&app, mine("hana")).await, [TOM, ANN]);
    assert_eq!(listed(&app, mine(" pat ")).await, [MARY]);
    assert!(
        listed(&app, mine("Hana")).await.is_empty(),
        "subjects are exact"
    );
    assert!(listed(&app, mine("nobody")).await.is_empty());
    let open_and_mine = pb::ListCasesRequest {
        status: pb::CaseStatus::Open as i32,
        ..mine("hana")
    };
    assert_eq!(listed(&app, open_and_mine).await, [ANN]);
    assert_eq!(
        listed(&app, pb::ListCasesRequest::default()).await,
        [TOM, MARY, ANN],
        "without the filter, everyone's"
    );
}

async fn a_case_is_found_by_customer_reference_exactly(db: TestDb) {
    let app = spawn_app(db).await;
    three_people(&app).await;
    let reference = |text: &str| pb::ListCasesRequest {
        customer_ref: text.to_owned(),
        ..Default::default()
    };
    assert_eq!(listed(&app, reference("CRM-2002")).await, [MARY]);
    assert_eq!(listed(&app, reference("  CRM-1001 ")).await, [ANN]);
    assert!(listed(&app, reference("CRM-2")).await.is_empty());
    assert!(listed(&app, reference("CRM-9999")).await.is_empty());
}

async fn a_case_is_found_by_email_ignoring_case(db: TestDb) {
    let app = spawn_app(db).await;
    three_people(&app).await;
    let email = |text: &str| pb::ListCasesRequest {
        email: text.to_owned(),
        ..Default::default()
    };
    assert_eq!(listed(&app, email("mary.jones@example.com")).await, [MARY]);
    assert_eq!(
        listed(&app, email(" MARY.JONES@EXAMPLE.COM ")).await,
        [MARY]
    );
    assert_eq!(listed(&app, email("Tom@Example.NET")).await, [TOM]);
    assert!(listed(&app, email("jones@example.com")).await.is_empty());
}

async fn a_case_is_found_by_phone_however_the_number_is_written(db: TestDb) {
    let app = spawn_app(db).await;
    three_people(&app).await;
    let phone = |text: &str| pb::ListCasesRequest {
        phone: text.to_owned(),
        ..Default::default()
    };
    // Mary gave 01632960001, Tom +44 1632 960002, Ann 0113 496 0000.
    for written in [
        "01632 960001",
        "01632960001",
        "+44 1632 960001",
        "+44 (0)1632 960001",
        "0044 1632-960-001",
        "(01632) 960001",
    ] {
        assert_eq!(listed(&app, phone(written)).await, [MARY], "{written}");
    }
    assert_eq!(listed(&app, phone("01632 960002")).await, [TOM]);
    assert_eq!(listed(&app, phone("01134960000")).await, [ANN]);
    assert!(listed(&app, phone("01632 960003")).await.is_empty());
}

async fn a_case_is_found_by_postcode_ignoring_case_and_spaces(db: TestDb) {
    let app = spawn_app(db).await;
    three_people(&app).await;
    let postcode = |text: &str| pb::ListCasesRequest {
        postcode: text.to_owned(),
        ..Default::default()
    };
    // Mary's was given as "ls1 4ap".
    for written in ["LS1 4AP", "ls14ap", " Ls1   4aP "] {
        assert_eq!(listed(&app, postcode(written)).await, [MARY], "{written}");
    }
    assert_eq!(listed(&app, postcode("m11ae")).await, [TOM]);
    assert!(listed(&app, postcode("LS1 4AQ")).await.is_empty());
}

async fn a_case_is_found_by_every_word_of_its_summary_ignoring_case(db: TestDb) {
    let app = spawn_app(db).await;
    three_people(&app).await;
    let text = |text: &str| pb::ListCasesRequest {
        text: text.to_owned(),
        ..Default::default()
    };
    // Ann: "Pendant alarm call not answered"; Mary: "Engineer visit was
    // late"; Tom: "Alarm pendant battery failed (100% flat)".
    assert_eq!(listed(&app, text("alarm PENDANT")).await, [TOM, ANN]);
    assert_eq!(listed(&app, text("  pendant   battery ")).await, [TOM]);
    assert_eq!(listed(&app, text("LATE")).await, [MARY]);
    assert_eq!(listed(&app, text("answer")).await, [ANN], "part of a word");
    assert!(
        listed(&app, text("alarm late")).await.is_empty(),
        "every word must match"
    );
    assert_eq!(listed(&app, text("100%")).await, [TOM]);
    assert_eq!(listed(&app, text("%")).await, [TOM], "% is not a wildcard");
    assert!(
        listed(&app, text("_")).await.is_empty(),
        "_ is not a wildcard"
    );

    // Searches combine with each other and with the other filters.
    let combined = pb::ListCasesRequest {
        phone: "0113 496 0000".to_owned(),
        ..text("alarm")
    };
    assert_eq!(listed(&app, combined).await, [ANN]);
}

async fn an_erased_complainant_is_never_found_by_their_details(db: TestDb) {
    let app = spawn_app(db).await;
    let [_, mary, _] = three_people(&app).await;
    app.handler()
        .erase_complainant(pb::EraseComplainantRequest {
            case_id: mary.clone(),
            request_id: String::new(),
            reason: "Data-subject request".to_owned(),
        })
        .await
        .unwrap();

    let searches = [
        pb::ListCasesRequest {
            customer_ref: "CRM-2002".to_owned(),
            ..Default::default()
        },
        pb::ListCasesRequest {
            email: "mary.jones@example.com".to_owned(),
            ..Default::default()
        },
        pb::ListCasesRequest {
            phone: "01632 960001".to_owned(),
            ..Default::default()
        },
        pb::ListCasesRequest {
            postcode: "LS1 4AP".to_owned(),
            ..Default::default()
        },
        pb::ListCasesRequest {
            complainant_name: "Mary".to_owned(),
            ..Default::default()
        },
        // The placeholder left in place of the person is no one either.
        pb::ListCasesRequest {
            complainant_name: "erased".to_owned(),
            ..Default::default()
        },
    ];
    for search in searches {
        assert!(listed(&app, search.clone()).await.is_empty(), "{search:?}");
    }
    // The summary was the complainant's words and went with them; the case
    // itself stays, for the statistics.
    let late = pb::ListCasesRequest {
        text: "late".to_owned(),
        ..Default::default()
    };
    assert!(listed(&app, late).await.is_empty());
    assert_eq!(app.get(&mary).await.summary, "[erased]");
}

async fn bad_search_values_are_invalid_arguments_naming_each_field(db: TestDb) {
    let app = spawn_app(db).await;
    app.open_case().await;
    let mut handler = app.handler();
    let bad = pb::ListCasesRequest {
        email: "not an email".to_owned(),
        phone: "960001".to_owned(),
        postcode: "LS1".to_owned(),
        text: "x".repeat(201),
        ..Default::default()
    };
    assert_eq!(
        violated_fields(handler.list_cases(bad).await),
        ["email", "phone", "postcode", "text"]
    );
    let longest = pb::ListCasesRequest {
        text: "x".repeat(200),
        ..Default::default()
    };
    assert!(handler.list_cases(longest).await.is_ok());
}

async fn only_the_complaints_department_and_the_stage_deciders_assign(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    for (subject, role) in [
        ("adam", Role::Adviser),
        ("crm", Role::Integration),
        ("intake", Role::Service),
    ] {
        let status = refused(
            app.client(subject, role)
                .assign_case(assign(&case.case_id, "hana", ""))
                .await,
            Code::PermissionDenied,
        );
        assert_eq!(
            status.message(),
            format!("role {} may not assign_case", role.as_str())
        );
    }
    // Stage 1 is the complaints department's: the later stages' deciders
    // do not assign it.
    for (subject, role) in [("carl", Role::CxManager), ("diana", Role::Director)] {
        refused(
            app.client(subject, role)
                .assign_case(assign(&case.case_id, subject, ""))
                .await,
            Code::PermissionDenied,
        );
    }
    assert_eq!(app.get(&case.case_id).await.assignee, "");
    assert_eq!(app.event_kinds(&case.case_id).await, ["case.received"]);

    // At stage 2 the CX Manager assigns it.
    app.respond_at_stage_1(&case.case_id, "communication").await;
    app.handler()
        .request_review(pb::RequestReviewRequest {
            case_id: case.case_id.clone(),
            desired_outcome: "A call back".to_owned(),
            unsatisfied_with: "Nobody rang".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
    let at_stage_2 = app
        .client("carl", Role::CxManager)
        .assign_case(assign(&case.case_id, "carl", ""))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(at_stage_2.assignee, "carl");

    // R5: hana issued the stage 1 response, so she neither assigns the
    // review nor is assigned it.
    refused(
        app.handler()
            .assign_case(assign(&case.case_id, "olive", ""))
            .await,
        Code::PermissionDenied,
    );
    let status = refused(
        app.client("carl", Role::CxManager)
            .assign_case(assign(&case.case_id, "hana", ""))
            .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("R5"), "{status:?}");
    assert_eq!(app.get(&case.case_id).await.assignee, "carl");
}

async fn a_bad_assignee_is_an_invalid_argument_on_assignee(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    for bad in [
        "two\nlines".to_owned(),
        "bell\u{0007}".to_owned(),
        "x".repeat(129),
    ] {
        assert_eq!(
            violated_fields(
                app.handler()
                    .assign_case(assign(&case.case_id, &bad, ""))
                    .await
            ),
            ["assignee"],
            "{bad:?}"
        );
    }
    assert_eq!(
        violated_fields(app.handler().assign_case(assign("", "hana", "")).await),
        ["case_id"]
    );
    assert_eq!(app.event_kinds(&case.case_id).await, ["case.received"]);
}

async fn a_closed_case_refuses_assignment(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    assigned(&app, &case.case_id, "hana").await;
    app.respond_at_stage_1(&case.case_id, "communication").await;
    let closed = app
        .handler()
        .close_case(pb::CloseCaseRequest {
            case_id: case.case_id.clone(),
            request_id: String::new(),
            reason: "The complainant accepted the response".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(closed.assignee, "hana", "kept as the record of who had it");

    for assignee in ["pat", ""] {
        let status = refused(
            app.handler()
                .assign_case(assign(&case.case_id, assignee, ""))
                .await,
            Code::FailedPrecondition,
        );
        assert!(status.message().contains("closed"), "{status:?}");
    }
    assert_eq!(app.get(&case.case_id).await.assignee, "hana");
}

async fn a_retried_assignment_is_applied_once(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let first = app
        .handler()
        .assign_case(assign(&case.case_id, "pat", "assign-7"))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assigned(&app, &case.case_id, "hana").await;

    // The retry answers the case as it now stands and repeats nothing: the
    // later assignment to hana stands.
    let retried = app
        .handler()
        .assign_case(assign(&case.case_id, "pat", "assign-7"))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(first.assignee, "pat");
    assert_eq!(retried.assignee, "hana");
    assert_eq!(
        app.event_kinds(&case.case_id).await,
        ["case.received", "case.assigned", "case.assigned"]
    );

    // The same key for someone else is another request.
    refused(
        app.handler()
            .assign_case(assign(&case.case_id, "olive", "assign-7"))
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(app.get(&case.case_id).await.assignee, "hana");
}

async fn the_assignment_ends_when_the_case_passes_to_another_role(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    assigned(&app, &case.case_id, "hana").await;
    app.respond_at_stage_1(&case.case_id, "communication").await;
    assert_eq!(app.get(&case.case_id).await.assignee, "hana");

    let review = app
        .handler()
        .request_review(pb::RequestReviewRequest {
            case_id: case.case_id.clone(),
            desired_outcome: "A call back".to_owned(),
            unsatisfied_with: "Nobody rang".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(review.owner_role, common::Role::CxManager as i32);
    assert_eq!(review.assignee, "");
    let timeline = app.timeline(&case.case_id).await;
    let last = timeline.events.last().unwrap();
    assert_eq!(last.kind, "case.unassigned");
    assert_eq!(
        last.details_json,
        r#"{"kind":"case.unassigned","owner_role":"cx_manager","previous_assignee":"hana"}"#
    );
    let mine = pb::ListCasesRequest {
        assignee: "hana".to_owned(),
        ..Default::default()
    };
    assert!(listed(&app, mine).await.is_empty());
}

/// The case change written to the outbox with the latest step on `case_id`.
async fn latest_change(app: &TestApp, case_id: &str) -> CaseChanged {
    let row = outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(CASE_EVENTS_TOPIC))
        .filter(outbox::Column::AggregateId.eq(uuid::Uuid::parse_str(case_id).unwrap()))
        .order_by_desc(outbox::Column::Id)
        .one(&app.db.db)
        .await
        .unwrap()
        .unwrap();
    serde_json::from_str(&row.payload).unwrap()
}

async fn the_case_change_carries_the_assignee_to_the_escalation_service(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    assert_eq!(latest_change(&app, &case.case_id).await.assignee, None);

    assigned(&app, &case.case_id, "hana").await;
    let change = latest_change(&app, &case.case_id).await;
    assert_eq!(change.assignee.as_deref(), Some("hana"));
    // No clock starts or stops, yet escalation is told, so that its alerts
    // about the case's deadlines name hana.
    let request = complaints_case::relay::clock_change(&change).expect("sent to escalation");
    assert_eq!(request.assignee, "hana");
    assert!(request.start.is_empty() && request.settle.is_empty());
    assert_eq!(request.version, 2);

    // A step that changes no clock and no assignment is not escalation's.
    app.handler()
        .add_note(crate::helpers::note(&case.case_id, "", "Rang back"))
        .await
        .unwrap();
    let noted = latest_change(&app, &case.case_id).await;
    assert_eq!(noted.assignee.as_deref(), Some("hana"));
    assert!(complaints_case::relay::clock_change(&noted).is_none());

    // Changes that move clocks carry the assignee too.
    app.respond_at_stage_1(&case.case_id, "communication").await;
    let responded = latest_change(&app, &case.case_id).await;
    let request = complaints_case::relay::clock_change(&responded).expect("clocks settle");
    assert_eq!(request.assignee, "hana");

    assigned(&app, &case.case_id, "").await;
    let cleared = latest_change(&app, &case.case_id).await;
    let request = complaints_case::relay::clock_change(&cleared).expect("sent to escalation");
    assert_eq!(request.assignee, "");
}
