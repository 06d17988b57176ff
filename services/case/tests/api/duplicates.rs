//! Possible duplicates and linked cases: a complaint from a person with
//! another open case is flagged (never merged), staff link cases as
//! duplicates or related, and closing a duplicate settles its clocks and
//! keeps its timeline.

use chrono::Duration;
use complaints_domain::case::{CaseId, DeadlineKind};
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1 as escalation_pb;
use complaints_store::cases::{CASE_EVENTS_TOPIC, CaseChanged, DueState};
use complaints_store::entity::outbox;
use complaints_test_support::TestDb;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tonic::Code;

use crate::helpers::{TestApp, complaint, on_every_backend, refused, spawn_app, violated_fields};

on_every_backend!(
    each_matching_rule_flags_the_other_open_case,
    a_shared_postcode_alone_or_a_shared_name_alone_flags_nothing,
    a_closed_case_is_not_a_possible_duplicate,
    an_erased_complainant_is_never_a_possible_duplicate,
    the_flag_survives_a_retried_open_case_and_is_on_the_timeline,
    linking_records_the_link_on_both_cases_and_both_timelines,
    linking_again_either_way_or_with_the_same_request_id_changes_nothing,
    another_relation_replaces_the_link_on_both_cases,
    a_case_is_not_linked_to_itself_and_the_relation_is_required,
    linking_an_unknown_case_is_not_found,
    only_the_complaints_department_and_the_deciders_link_cases,
    closing_a_duplicate_cancels_its_clocks_and_keeps_its_timeline,
);

/// A web complaint from `name`, reachable as given; empty means not given.
fn from(
    request_id: &str,
    name: &str,
    email: &str,
    phone: &str,
    customer_ref: &str,
    postcode: &str,
) -> pb::OpenCaseRequest {
    let mut request = complaint(request_id);
    request.complainant = Some(common::Complainant {
        full_name: name.to_owned(),
        email: email.to_owned(),
        phone: phone.to_owned(),
        postal_address: (!postcode.is_empty()).then(|| common::PostalAddress {
            lines: vec!["12 Park Row".to_owned()],
            town: "Leeds".to_owned(),
            postcode: postcode.to_owned(),
        }),
        preferred_contact: common::ContactMethod::Unspecified as i32,
        customer_ref: customer_ref.to_owned(),
    });
    request
}

/// Opens `request` and returns its case.
async fn opened(app: &TestApp, request: pb::OpenCaseRequest) -> pb::Case {
    app.open(request).await.case.unwrap()
}

fn link(
    case_id: &str,
    other_case_id: &str,
    relation: pb::CaseLinkRelation,
) -> pb::LinkCasesRequest {
    pb::LinkCasesRequest {
        case_id: case_id.to_owned(),
        other_case_id: other_case_id.to_owned(),
        relation: relation as i32,
        request_id: String::new(),
    }
}

/// `hana` links the two cases.
async fn linked(app: &TestApp, request: pb::LinkCasesRequest) -> (pb::Case, pb::Case) {
    let response = app
        .handler()
        .link_cases(request)
        .await
        .unwrap()
        .into_inner();
    (response.case.unwrap(), response.other_case.unwrap())
}

fn the_link(to: &pb::Case, relation: pb::CaseLinkRelation) -> Vec<pb::CaseLink> {
    vec![pb::CaseLink {
        case_id: to.case_id.clone(),
        register_number: to.register_number.clone(),
        relation: relation as i32,
    }]
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

async fn each_matching_rule_flags_the_other_open_case(db: TestDb) {
    let app = spawn_app(db).await;
    let ann = opened(
        &app,
        from(
            "ann",
            "Ann Jones",
            "ann.jones@example.org",
            "0113 496 0000",
            "CRM-1001",
            "",
        ),
    )
    .await;
    assert!(ann.possible_duplicate_of.is_empty());
    // Later receipts, so that "oldest first" is Ann's first case.
    app.advance(Duration::minutes(1));
    let bob = opened(
        &app,
        from("bob", "Bob Brown", "bob@example.org", "", "", "LS1 4AP"),
    )
    .await;
    assert!(
        bob.possible_duplicate_of.is_empty(),
        "nothing in common with Ann"
    );

    let same_email = from("email", "A. Jones", "ANN.JONES@Example.org", "", "", "");
    let same_phone = from(
        "phone",
        "Annie Jones",
        "annie@example.net",
        "+44 113 496 0000",
        "",
        "",
    );
    let same_reference = from("ref", "J. Jones", "j.jones@example.net", "", "CRM-1001", "");
    let same_name_and_postcode = from("name", "bob  BROWN", "robert@example.net", "", "", "ls14ap");
    for (rule, request, expected) in [
        ("email, ignoring case", same_email, &ann),
        ("phone, as a number", same_phone, &ann),
        ("customer reference", same_reference, &ann),
        ("name and postcode", same_name_and_postcode, &bob),
    ] {
        let case = opened(&app, request).await;
        assert_eq!(
            case.possible_duplicate_of,
            vec![expected.case_id.clone()],
            "{rule}"
        );
        assert_eq!(
            case.status,
            pb::CaseStatus::Open as i32,
            "{rule}: a case of its own"
        );
        assert_ne!(case.case_id, expected.case_id, "{rule}");
        assert_eq!(
            app.get(&case.case_id).await.possible_duplicate_of,
            vec![expected.case_id.clone()],
            "{rule}: kept on the case"
        );
    }

    // Ann's three other complaints, oldest first.
    let fourth = opened(
        &app,
        from("all", "Ann Jones", "ann.jones@example.org", "", "", ""),
    )
    .await;
    assert_eq!(fourth.possible_duplicate_of.len(), 2, "{fourth:?}");
    assert_eq!(fourth.possible_duplicate_of[0], ann.case_id);
}

async fn a_shared_postcode_alone_or_a_shared_name_alone_flags_nothing(db: TestDb) {
    let app = spawn_app(db).await;
    opened(
        &app,
        from("bob", "Bob Brown", "bob@example.org", "", "", "LS1 4AP"),
    )
    .await;
    let neighbour = opened(
        &app,
        from(
            "carol",
            "Carol Brown",
            "carol@example.net",
            "",
            "",
            "LS1 4AP",
        ),
    )
    .await;
    assert!(neighbour.possible_duplicate_of.is_empty());
    let namesake = opened(
        &app,
        from(
            "other-bob",
            "Bob Brown",
            "b.brown@example.net",
            "",
            "",
            "LS2 7HY",
        ),
    )
    .await;
    assert!(namesake.possible_duplicate_of.is_empty());
}

async fn a_closed_case_is_not_a_possible_duplicate(db: TestDb) {
    let app = spawn_app(db).await;
    let earlier = app.open_case().await;
    app.handler()
        .close_case(pb::CloseCaseRequest {
            case_id: earlier.case_id.clone(),
            request_id: String::new(),
            reason: "Resolved on the phone".to_owned(),
        })
        .await
        .unwrap();
    let again = app.open_case().await;
    assert!(again.possible_duplicate_of.is_empty(), "{again:?}");
}

async fn an_erased_complainant_is_never_a_possible_duplicate(db: TestDb) {
    let app = spawn_app(db).await;
    let earlier = app.open_case().await;
    app.handler()
        .erase_complainant(pb::EraseComplainantRequest {
            case_id: earlier.case_id.clone(),
            request_id: String::new(),
            reason: "Erasure request".to_owned(),
        })
        .await
        .unwrap();
    let again = app.open_case().await;
    assert!(again.possible_duplicate_of.is_empty(), "{again:?}");
}

async fn the_flag_survives_a_retried_open_case_and_is_on_the_timeline(db: TestDb) {
    let app = spawn_app(db).await;
    let earlier = app.open_case().await;
    let first = app.open(complaint("retried")).await;
    assert_eq!(
        first.case.as_ref().unwrap().possible_duplicate_of,
        vec![earlier.case_id.clone()]
    );
    // Even once the earlier case is closed, a retry returns what was found.
    app.handler()
        .close_case(pb::CloseCaseRequest {
            case_id: earlier.case_id.clone(),
            request_id: String::new(),
            reason: "Duplicate of a later call".to_owned(),
        })
        .await
        .unwrap();
    let retried = app.open(complaint("retried")).await;
    assert!(retried.replayed);
    let (first_case, retried_case) = (first.case.as_ref().unwrap(), retried.case.unwrap());
    assert_eq!(retried_case.case_id, first_case.case_id);
    assert_eq!(
        retried_case.possible_duplicate_of,
        vec![earlier.case_id.clone()]
    );

    let case_id = first.case.unwrap().case_id;
    let timeline = app.timeline(&case_id).await;
    assert!(timeline.verified);
    assert!(
        timeline.events[0].details_json.contains(&format!(
            r#""possible_duplicate_of":["{}"]"#,
            earlier.case_id
        )),
        "{}",
        timeline.events[0].details_json
    );
}

async fn linking_records_the_link_on_both_cases_and_both_timelines(db: TestDb) {
    let app = spawn_app(db).await;
    let first = app.open_case().await;
    let second = app.open_case().await;

    let (case, other) = linked(
        &app,
        link(
            &second.case_id,
            &first.case_id,
            pb::CaseLinkRelation::Duplicate,
        ),
    )
    .await;
    assert_eq!(case.case_id, second.case_id);
    assert_eq!(
        case.linked_cases,
        the_link(&first, pb::CaseLinkRelation::Duplicate)
    );
    assert_eq!(other.case_id, first.case_id);
    assert_eq!(
        other.linked_cases,
        the_link(&second, pb::CaseLinkRelation::Duplicate)
    );
    assert_eq!(
        app.get(&first.case_id).await.linked_cases,
        the_link(&second, pb::CaseLinkRelation::Duplicate)
    );

    for (case, to) in [(&second, &first), (&first, &second)] {
        let timeline = app.timeline(&case.case_id).await;
        assert!(timeline.verified);
        let last = timeline.events.last().unwrap();
        assert_eq!(last.kind, "case.linked");
        assert_eq!(last.actor, "hana");
        assert_eq!(
            last.details_json,
            format!(
                r#"{{"kind":"case.linked","other_case_id":"{}","other_register_number":"{}","relation":"duplicate"}}"#,
                to.case_id, to.register_number
            )
        );
    }
    // Nothing for the clocks: the escalation service is not troubled.
    let change = latest_change(&app, &second.case_id).await;
    assert!(complaints_case::relay::clock_change(&change).is_none());
    // Both keep their own clocks.
    assert_eq!(case.status, pb::CaseStatus::Open as i32);
    assert_eq!(other.status, pb::CaseStatus::Open as i32);
}

async fn linking_again_either_way_or_with_the_same_request_id_changes_nothing(db: TestDb) {
    let app = spawn_app(db).await;
    let first = app.open_case().await;
    let second = app.open_case().await;
    let mut request = link(
        &first.case_id,
        &second.case_id,
        pb::CaseLinkRelation::Related,
    );
    request.request_id = "link-once".to_owned();
    let (case, other) = linked(&app, request.clone()).await;

    let (again, again_other) = linked(&app, request.clone()).await;
    assert_eq!(again.linked_cases, case.linked_cases);
    assert_eq!(again_other.linked_cases, other.linked_cases);
    let (reversed, reversed_other) = linked(
        &app,
        link(
            &second.case_id,
            &first.case_id,
            pb::CaseLinkRelation::Related,
        ),
    )
    .await;
    assert_eq!(reversed.linked_cases, other.linked_cases);
    assert_eq!(reversed_other.linked_cases, case.linked_cases);

    for id in [&first.case_id, &second.case_id] {
        assert_eq!(
            app.event_kinds(id).await,
            ["case.received", "case.linked"],
            "one link event each"
        );
    }
    // The same request id for something else is refused.
    request.relation = pb::CaseLinkRelation::Duplicate as i32;
    refused(app.handler().link_cases(request).await, Code::AlreadyExists);
}

async fn another_relation_replaces_the_link_on_both_cases(db: TestDb) {
    let app = spawn_app(db).await;
    let first = app.open_case().await;
    let second = app.open_case().await;
    linked(
        &app,
        link(
            &first.case_id,
            &second.case_id,
            pb::CaseLinkRelation::Related,
        ),
    )
    .await;
    let (case, other) = linked(
        &app,
        link(
            &second.case_id,
            &first.case_id,
            pb::CaseLinkRelation::Duplicate,
        ),
    )
    .await;
    assert_eq!(
        case.linked_cases,
        the_link(&first, pb::CaseLinkRelation::Duplicate)
    );
    assert_eq!(
        other.linked_cases,
        the_link(&second, pb::CaseLinkRelation::Duplicate)
    );
    let last = app.timeline(&first.case_id).await.events.pop().unwrap();
    assert!(
        last.details_json
            .contains(r#""previous_relation":"related""#),
        "{}",
        last.details_json
    );
}

async fn a_case_is_not_linked_to_itself_and_the_relation_is_required(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let to_itself = app
        .handler()
        .link_cases(link(
            &case.case_id,
            &case.case_id,
            pb::CaseLinkRelation::Related,
        ))
        .await;
    assert_eq!(violated_fields(to_itself), ["other_case_id"]);

    let nothing = app
        .handler()
        .link_cases(link("", "", pb::CaseLinkRelation::Unspecified))
        .await;
    assert_eq!(
        violated_fields(nothing),
        ["case_id", "other_case_id", "relation"]
    );
    assert_eq!(app.event_kinds(&case.case_id).await, ["case.received"]);
}

async fn linking_an_unknown_case_is_not_found(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let unknown = CaseId(uuid::Uuid::now_v7()).to_string();
    for request in [
        link(&case.case_id, &unknown, pb::CaseLinkRelation::Duplicate),
        link(&unknown, &case.case_id, pb::CaseLinkRelation::Duplicate),
    ] {
        refused(app.handler().link_cases(request).await, Code::NotFound);
    }
    assert!(app.get(&case.case_id).await.linked_cases.is_empty());
}

async fn only_the_complaints_department_and_the_deciders_link_cases(db: TestDb) {
    let app = spawn_app(db).await;
    let first = app.open_case().await;
    let second = app.open_case().await;
    let request = link(
        &first.case_id,
        &second.case_id,
        pb::CaseLinkRelation::Related,
    );
    for role in [Role::Adviser, Role::Integration, Role::Service] {
        let status = refused(
            app.client("someone", role)
                .link_cases(request.clone())
                .await,
            Code::PermissionDenied,
        );
        assert!(status.message().contains("link_cases"), "{status:?}");
    }
    assert!(app.get(&first.case_id).await.linked_cases.is_empty());
    for role in [Role::CxManager, Role::OpsLead, Role::Director] {
        let response = app
            .client("someone", role)
            .link_cases(request.clone())
            .await;
        assert!(response.is_ok(), "{role}: {response:?}");
    }
}

async fn closing_a_duplicate_cancels_its_clocks_and_keeps_its_timeline(db: TestDb) {
    let app = spawn_app(db).await;
    let original = app.open_case().await;
    let duplicate = app.open_case().await;
    assert_eq!(
        duplicate.possible_duplicate_of,
        vec![original.case_id.clone()]
    );
    linked(
        &app,
        link(
            &duplicate.case_id,
            &original.case_id,
            pb::CaseLinkRelation::Duplicate,
        ),
    )
    .await;
    let closed = app
        .handler()
        .close_case(pb::CloseCaseRequest {
            case_id: duplicate.case_id.clone(),
            request_id: String::new(),
            reason: "Duplicate of the earlier complaint".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(closed.status, pb::CaseStatus::Closed as i32);
    assert_eq!(
        closed.linked_cases,
        the_link(&original, pb::CaseLinkRelation::Duplicate)
    );

    // The close's outbox message settles every clock as cancelled, so the
    // escalation service never fires them.
    let change = latest_change(&app, &duplicate.case_id).await;
    let request = complaints_case::relay::clock_change(&change).expect("sent to escalation");
    let cancelled = |kind: common::DeadlineKind| escalation_pb::DeadlineSettlement {
        kind: kind as i32,
        state: escalation_pb::DeadlineState::Cancelled as i32,
    };
    for kind in [
        common::DeadlineKind::Acknowledge,
        common::DeadlineKind::Resolve,
        common::DeadlineKind::ReferralUpdate,
    ] {
        assert!(
            request.settle.contains(&cancelled(kind)),
            "{kind:?}: {request:?}"
        );
    }
    let stored =
        complaints_store::cases::load(&app.db.db, duplicate.case_id.parse::<CaseId>().unwrap())
            .await
            .unwrap();
    assert!(
        stored
            .due_dates
            .iter()
            .all(|due| due.state == DueState::Cancelled),
        "{:?}",
        stored.due_dates
    );
    assert!(
        stored
            .due_dates
            .iter()
            .any(|due| due.kind == DeadlineKind::Resolve)
    );

    // Past the resolution date, the duplicate is not overdue; the original,
    // whose clocks run on, is.
    app.advance(Duration::days(30));
    assert!(!app.get(&duplicate.case_id).await.overdue);
    assert!(app.get(&original.case_id).await.overdue);

    let timeline = app.timeline(&duplicate.case_id).await;
    assert!(timeline.verified, "the duplicate's timeline still verifies");
    let kinds: Vec<_> = timeline.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["case.received", "case.linked", "case.closed"]);
}
