//! A case named to a person (docs/policy.md, Roles): over gRPC against
//! `complaints dev --test-clock`, a handler's "my cases" list holds exactly
//! the case assigned to them, staff find a person's case by their phone
//! number, postcode or customer reference, and the warning before the
//! assigned case's resolution date goes to that person's staff mailbox
//! while the unassigned case's goes to the role's. Both complaints are
//! received on Monday 13 December 2032 at 10:15 and due to be resolved by
//! the end of Wednesday 29 December; the warning goes one working day
//! ahead, at the end of Friday 24 December (`policy_support`'s timetable).

use std::collections::BTreeSet;

use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::intake::v1::{SubmitComplaintRequest, SubmitComplaintResponse};
use complaints_test_support::time::timestamp;

use crate::clock_suite::{Clients, Suite};
use crate::policy_support::{
    A_MINUTE, RECEIVED_AT, RESOLVE, RESOLVE_WARNED_FROM, about, alerts, at, move_clock_to,
    recipients, staff, stage_1_due_dates, subject, submit,
};

/// Hazel's complaint, by the web form, with every way staff look her up.
fn hazels_complaint() -> SubmitComplaintRequest {
    SubmitComplaintRequest {
        request_id: "assignment-hazel".to_owned(),
        channel: common::Channel::Web as i32,
        received_at: Some(timestamp(at(RECEIVED_AT))),
        complainant: Some(common::Complainant {
            full_name: "Hazel Quinn".to_owned(),
            email: "hazel.quinn@example.org".to_owned(),
            phone: "01632 960001".to_owned(),
            postal_address: Some(common::PostalAddress {
                lines: vec!["4 Park Row".to_owned()],
                town: "Leeds".to_owned(),
                postcode: "LS1 4AP".to_owned(),
            }),
            preferred_contact: common::ContactMethod::Unspecified as i32,
            customer_ref: "TC-000417".to_owned(),
        }),
        summary: "Pendant alarm did not connect".to_owned(),
        details: "The pendant was pressed twice and nobody answered.".to_owned(),
        recorded_by: String::new(),
        scan_reference: String::new(),
        scanned_letter: None,
    }
}

/// Owen's complaint, by the web form: someone else entirely.
fn owens_complaint() -> SubmitComplaintRequest {
    SubmitComplaintRequest {
        request_id: "assignment-owen".to_owned(),
        channel: common::Channel::Web as i32,
        received_at: Some(timestamp(at(RECEIVED_AT))),
        complainant: Some(common::Complainant {
            full_name: "Owen Barr".to_owned(),
            email: "owen.barr@example.org".to_owned(),
            phone: "01632 960777".to_owned(),
            postal_address: Some(common::PostalAddress {
                lines: vec!["9 Quay Street".to_owned()],
                town: "Bristol".to_owned(),
                postcode: "BS1 4DJ".to_owned(),
            }),
            preferred_contact: common::ContactMethod::Unspecified as i32,
            customer_ref: "TC-000999".to_owned(),
        }),
        summary: "Engineer visit missed".to_owned(),
        details: "Nobody came on the day we agreed.".to_owned(),
        recorded_by: String::new(),
        scan_reference: String::new(),
        scanned_letter: None,
    }
}

/// The ids of the cases `filter` lists, as Hana sees them.
async fn listed(c: &mut Clients, filter: case_pb::ListCasesRequest) -> Vec<String> {
    let response = c
        .handler
        .list_cases(filter.clone())
        .await
        .unwrap_or_else(|status| panic!("ListCases {filter:?}: {status:?}"))
        .into_inner();
    assert_eq!(response.total_size as usize, response.cases.len());
    response
        .cases
        .into_iter()
        .map(|case| case.case_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assigned_case_is_in_its_handlers_list_is_found_by_the_persons_details_and_warns_them() {
    let mut suite = Suite::start(true);
    let mut c = Clients::new(&mut suite);
    move_clock_to(&mut c, RECEIVED_AT).await;
    let hazel: SubmitComplaintResponse =
        submit(&mut c, &hazels_complaint(), &stage_1_due_dates()).await;
    let owen = submit(&mut c, &owens_complaint(), &stage_1_due_dates()).await;
    c.advance(A_MINUTE).await;

    // Hana, a complaints handler, takes Hazel's case.
    let assigned = c
        .handler
        .assign_case(case_pb::AssignCaseRequest {
            case_id: hazel.case_id.clone(),
            assignee: "hana".to_owned(),
            request_id: "hana-takes-hazel".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(assigned.assignee, "hana");

    // "My cases": exactly that one.
    let mine = case_pb::ListCasesRequest {
        assignee: "hana".to_owned(),
        ..Default::default()
    };
    assert_eq!(listed(&mut c, mine).await, [hazel.case_id.as_str()]);
    let nobodys = case_pb::ListCasesRequest {
        assignee: "harry".to_owned(),
        ..Default::default()
    };
    assert!(listed(&mut c, nobodys).await.is_empty());

    // Hazel's case by her phone number (written any way), her postcode
    // (any case, any spacing) and her customer reference.
    for filter in [
        case_pb::ListCasesRequest {
            phone: "01632960001".to_owned(),
            ..Default::default()
        },
        case_pb::ListCasesRequest {
            phone: "+44 1632 960001".to_owned(),
            ..Default::default()
        },
        case_pb::ListCasesRequest {
            postcode: "ls14ap".to_owned(),
            ..Default::default()
        },
        case_pb::ListCasesRequest {
            customer_ref: "TC-000417".to_owned(),
            ..Default::default()
        },
    ] {
        assert_eq!(
            listed(&mut c, filter).await,
            [hazel.case_id.as_str()],
            "Hazel's case, and only hers"
        );
    }
    let owens = case_pb::ListCasesRequest {
        customer_ref: "TC-000999".to_owned(),
        ..Default::default()
    };
    assert_eq!(listed(&mut c, owens).await, [owen.case_id.as_str()]);

    // A minute after the warning instant (the end of Friday 24 December):
    // Hazel's case warns Hana herself; Owen's, unassigned, the role.
    c.advance_to(at(RESOLVE_WARNED_FROM) + A_MINUTE).await;
    let words = "Resolve the complaint (stage 1)";
    let hazels_alerts = alerts(&mut c, &hazel.case_id).await;
    let warning = about(
        &hazels_alerts,
        &subject("Due soon", words, &hazel, &RESOLVE),
    );
    assert_eq!(
        recipients(&warning),
        BTreeSet::from(["hana@staff.telecare.example".to_owned()]),
        "the assigned handler is warned: {hazels_alerts:#?}"
    );
    let owens_alerts = alerts(&mut c, &owen.case_id).await;
    let warning = about(&owens_alerts, &subject("Due soon", words, &owen, &RESOLVE));
    assert_eq!(
        recipients(&warning),
        BTreeSet::from([staff("complaints_handler")]),
        "an unassigned case warns its owner role: {owens_alerts:#?}"
    );
    suite.process.ensure_running().unwrap();
}
