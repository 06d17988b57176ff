//! The rules of docs/policy.md (stages, Roles, Records), one test (at least) per rule. Each
//! fails if its rule is dropped from the state machine.

use chrono::{NaiveDate, TimeZone};
use uuid::Uuid;

use super::*;
use crate::complainant::{ContactMethod, RawComplainant, RawPostalAddress};

// -- fixtures ----------------------------------------------------------------

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Monday 2 March 2026, 10:00 GMT: no bank holiday for weeks either side.
fn received() -> DateTime<Utc> {
    utc(2026, 3, 2, 10, 0)
}

fn handler() -> Actor {
    Actor::new("hannah", Role::ComplaintsHandler)
}
fn cx() -> Actor {
    Actor::new("carl", Role::CxManager)
}
fn ops() -> Actor {
    Actor::new("olive", Role::OpsLead)
}
fn director() -> Actor {
    Actor::new("diana", Role::Director)
}
fn adviser() -> Actor {
    Actor::new("adam", Role::Adviser)
}
fn integration() -> Actor {
    Actor::new("crm", Role::Integration)
}
fn service() -> Actor {
    Actor::system()
}

fn raw_complainant() -> RawComplainant {
    RawComplainant {
        full_name: "Jane Doe".into(),
        email: "jane@example.com".into(),
        phone: "07700 900123".into(),
        postal_address: Some(RawPostalAddress {
            lines: vec!["1 High Street".into()],
            town: "Leeds".into(),
            postcode: "LS1 4AP".into(),
        }),
        preferred_contact: None,
        customer_ref: String::new(),
    }
}

fn raw_email() -> RawComplaint {
    RawComplaint {
        channel: Some(Channel::Email),
        received_at: Some(received()),
        complainant: raw_complainant(),
        summary: "Pendant alarm did not connect".into(),
        details: "Pressed the button twice; nobody answered.".into(),
        recorded_by: String::new(),
        scan_reference: String::new(),
    }
}

fn register_number() -> RegisterNumber {
    RegisterNumber::new(2026, 42).unwrap()
}

fn opened() -> Transition {
    let complaint = NewComplaint::validate(raw_email(), received()).unwrap();
    Case::open(
        complaint,
        CaseId(Uuid::from_u128(1)),
        register_number(),
        &integration(),
        received(),
        &Policy::default(),
        &Calendar::default(),
    )
    .unwrap()
}

fn new_case() -> Case {
    opened().case
}

fn apply(case: &Case, command: Command, actor: &Actor) -> Result<Transition, DomainError> {
    apply_at(case, command, actor, received() + chrono::Duration::days(1))
}

fn apply_at(
    case: &Case,
    command: Command,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Transition, DomainError> {
    case.apply(
        command,
        actor,
        now,
        &Policy::default(),
        &Calendar::default(),
    )
}

fn ok(case: &Case, command: Command, actor: &Actor) -> Case {
    apply(case, command, actor).unwrap().case
}

fn respond() -> Command {
    Command::IssueStageResponse {
        outcome: "We replaced the alarm unit and apologise.".into(),
        finding: Some(Finding::PartlyUpheld),
        root_cause: "faulty-equipment".into(),
        lessons_learned: "Test units after firmware updates.".into(),
    }
}

fn review() -> Command {
    review_received(None)
}

/// A review request the complainant made at `received_at` (`None`: now).
fn review_received(received_at: Option<DateTime<Utc>>) -> Command {
    Command::RequestReview {
        desired_outcome: "A refund of March's fee".into(),
        unsatisfied_with: "The apology did not cover the missed call".into(),
        received_at,
    }
}

fn to_director() -> Command {
    to_director_received(None)
}

/// A director request the complainant made at `received_at` (`None`: now).
fn to_director_received(received_at: Option<DateTime<Utc>>) -> Command {
    Command::EscalateToDirector {
        desired_outcome: "A refund of March's fee".into(),
        unsatisfied_with: "The review ignored the call logs".into(),
        received_at,
    }
}

fn refer(id: u128) -> Command {
    Command::ReferToDepartment {
        referral_id: ReferralId(Uuid::from_u128(id)),
        department: "Monitoring centre".into(),
        question: "What happened to the call at 02:14?".into(),
    }
}

fn stage_1_responded() -> Case {
    ok(&new_case(), respond(), &handler())
}
fn stage_2() -> Case {
    ok(&stage_1_responded(), review(), &integration())
}
fn stage_2_responded() -> Case {
    ok(&stage_2(), respond(), &ops())
}
fn stage_3() -> Case {
    ok(&stage_2_responded(), to_director(), &handler())
}
fn stage_3_responded() -> Case {
    ok(&stage_3(), respond(), &director())
}
fn external() -> Case {
    ok(
        &stage_3_responded(),
        Command::RecordTsaReferral {
            reference: "TSA-2026-001".into(),
        },
        &handler(),
    )
}

fn fields(error: &DomainError) -> Vec<&str> {
    match error {
        DomainError::InvalidArgument(violations) => {
            violations.iter().map(|v| v.field.as_str()).collect()
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

fn precondition(result: Result<Transition, DomainError>) -> String {
    match result {
        Err(DomainError::FailedPrecondition(message)) => message,
        other => panic!("expected FailedPrecondition, got {other:?}"),
    }
}

fn denied(result: Result<Transition, DomainError>) -> String {
    match result {
        Err(DomainError::PermissionDenied(message)) => message,
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
}

fn deadline(transition: &Transition, kind: DeadlineKind) -> &DeadlineSpec {
    transition
        .deadlines
        .iter()
        .find(|spec| spec.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} deadline in {:?}", transition.deadlines))
}

fn kinds(transition: &Transition) -> Vec<&'static str> {
    transition.events.iter().map(Event::kind).collect()
}

// -- opening: R1, R2, R3 -----------------------------------------------------

#[test]
fn r1_r2_opening_starts_acknowledge_and_resolve_clocks_from_receipt() {
    let transition = opened();
    let acknowledge = deadline(&transition, DeadlineKind::Acknowledge);
    assert_eq!(acknowledge.working_days, 3);
    assert_eq!(acknowledge.due.date, date(2026, 3, 5));
    assert_eq!(acknowledge.due.at, utc(2026, 3, 6, 0, 0));
    assert_eq!(acknowledge.stage, Stage::Stage1);
    assert_eq!(acknowledge.owner_role, Role::ComplaintsHandler);
    assert_eq!(acknowledge.escalation_role, Role::CxManager);
    assert_eq!(
        acknowledge.reason,
        Calendar::default().explain(received(), 3)
    );
    let resolve = deadline(&transition, DeadlineKind::Resolve);
    assert_eq!(resolve.working_days, 10);
    assert_eq!(resolve.due.date, date(2026, 3, 16));
}

#[test]
fn r1_opening_asks_for_an_acknowledgement_and_records_the_case() {
    let transition = opened();
    assert_eq!(
        transition.notify,
        [NotifyRequest::to_complainant(
            NotifyKind::Acknowledgement,
            Stage::Stage1
        )]
    );
    assert_eq!(kinds(&transition), ["case.received"]);
    let case = transition.case;
    assert_eq!((case.stage, case.status), (Stage::Stage1, CaseStatus::Open));
    assert_eq!(case.owner_role, Role::ComplaintsHandler);
    assert_eq!(case.policy_version, Policy::default().version);
    assert_eq!(case.register_number, register_number());
    assert_eq!(case.created_by, integration());
    assert_eq!(case.version, 1);
}

#[test]
fn r3_opening_starts_the_referral_update_clock_at_day_5() {
    let transition = opened();
    let update = deadline(&transition, DeadlineKind::ReferralUpdate);
    assert_eq!(update.working_days, 5);
    assert_eq!(update.due.date, date(2026, 3, 9));
    assert_eq!(transition.case.referral_update_due_at, update.due.at);
    assert_eq!(transition.deadlines.len(), 3);
}

#[test]
fn r3_a_referral_after_day_5_tells_the_complainant_at_once() {
    let day_5_ends = utc(2026, 3, 10, 0, 0);
    let transition = apply_at(&new_case(), refer(7), &handler(), day_5_ends).unwrap();
    assert_eq!(
        kinds(&transition),
        ["case.referred", "case.referral_update_due"]
    );
    assert_eq!(
        transition.notify,
        [NotifyRequest::to_complainant(
            NotifyKind::ReferralUpdate,
            Stage::Stage1
        )]
    );
    assert_eq!(transition.case.version, 3);
}

#[test]
fn r3_a_referral_before_day_5_leaves_the_update_to_its_clock() {
    let just_before = utc(2026, 3, 9, 23, 59);
    let transition = apply_at(&new_case(), refer(7), &handler(), just_before).unwrap();
    assert_eq!(kinds(&transition), ["case.referred"]);
    assert!(transition.notify.is_empty());
    assert_eq!(transition.case.open_referrals().count(), 1);
}

// -- stage responses -----------------------------------------------------------

#[test]
fn a_stage_response_settles_its_respond_clock() {
    let transition = apply(&new_case(), respond(), &handler()).unwrap();
    assert_eq!(
        transition.settle,
        [
            (DeadlineKind::Resolve, DeadlineOutcome::Met),
            (DeadlineKind::ReferralUpdate, DeadlineOutcome::Cancelled),
        ]
    );
    assert_eq!(
        transition.notify,
        [NotifyRequest::to_complainant(
            NotifyKind::StageResponse,
            Stage::Stage1
        )]
    );
    assert_eq!(transition.case.status, CaseStatus::Responded);
    let response = transition.case.response_for(Stage::Stage1).unwrap();
    assert_eq!(response.root_cause, "faulty-equipment");
    assert_eq!(response.finding, Finding::PartlyUpheld);
    assert_eq!(response.issued_by, handler());

    let transition = apply(&stage_2(), respond(), &cx()).unwrap();
    assert_eq!(
        transition.settle,
        [(DeadlineKind::Stage2Respond, DeadlineOutcome::Met)]
    );
}

#[test]
fn a_stage_response_is_refused_while_a_referral_is_open() {
    let referred = ok(&new_case(), refer(7), &handler());
    let message = precondition(apply(&referred, respond(), &handler()));
    assert!(
        message.contains(&Uuid::from_u128(7).to_string()),
        "{message}"
    );
    assert!(message.contains("Monitoring centre"), "{message}");

    let answered = ok(
        &referred,
        Command::RecordDepartmentResponse {
            referral_id: ReferralId(Uuid::from_u128(7)),
            response: "The call was dropped by the carrier.".into(),
        },
        &handler(),
    );
    assert_eq!(answered.open_referrals().count(), 0);
    assert!(apply(&answered, respond(), &handler()).is_ok());
}

#[test]
fn an_unknown_root_cause_is_invalid_argument_on_root_cause() {
    let command = Command::IssueStageResponse {
        outcome: "Sorted".into(),
        finding: Some(Finding::Upheld),
        root_cause: "weather".into(),
        lessons_learned: String::new(),
    };
    let error = apply(&new_case(), command, &handler()).unwrap_err();
    assert_eq!(fields(&error), ["root_cause"]);
    assert!(error.to_string().contains("faulty-equipment"), "{error}");
}

#[test]
fn a_stage_response_reports_every_bad_field() {
    let command = Command::IssueStageResponse {
        outcome: "  ".into(),
        finding: None,
        root_cause: String::new(),
        lessons_learned: "bad\u{202E}text".into(),
    };
    let error = apply(&new_case(), command, &handler()).unwrap_err();
    assert_eq!(
        fields(&error),
        ["outcome", "upheld", "root_cause", "lessons_learned"]
    );
}

#[test]
fn a_second_response_at_the_same_stage_is_refused() {
    precondition(apply(&stage_1_responded(), respond(), &handler()));
}

#[test]
fn only_the_stages_responders_issue_its_response() {
    for actor in [cx(), ops(), director()] {
        let message = denied(apply(&new_case(), respond(), &actor));
        assert!(message.contains("stage_1"), "{message}");
    }
    for actor in [adviser(), integration(), service()] {
        let message = denied(apply(&new_case(), respond(), &actor));
        assert!(message.contains(actor.role.as_str()), "{message}");
        assert!(message.contains("issue_stage_response"), "{message}");
    }
}

// -- R4: review --------------------------------------------------------------

#[test]
fn r4_review_without_desired_outcome_is_refused() {
    let command = Command::RequestReview {
        desired_outcome: " ".into(),
        unsatisfied_with: "The apology".into(),
        received_at: None,
    };
    let error = apply(&stage_1_responded(), command, &integration()).unwrap_err();
    assert_eq!(fields(&error), ["desired_outcome"]);
}

#[test]
fn r4_review_without_unsatisfied_with_is_refused() {
    let command = Command::RequestReview {
        desired_outcome: "A refund".into(),
        unsatisfied_with: String::new(),
        received_at: None,
    };
    let error = apply(&stage_1_responded(), command, &integration()).unwrap_err();
    assert_eq!(fields(&error), ["unsatisfied_with"]);
    let neither = Command::RequestReview {
        desired_outcome: String::new(),
        unsatisfied_with: String::new(),
        received_at: None,
    };
    let error = apply(&stage_1_responded(), neither, &handler()).unwrap_err();
    assert_eq!(fields(&error), ["desired_outcome", "unsatisfied_with"]);
}

#[test]
fn r4_review_before_the_stage_1_response_is_refused() {
    let message = precondition(apply(&new_case(), review(), &integration()));
    assert!(message.contains("no stage 1 response"), "{message}");
    precondition(apply(&stage_2(), review(), &integration()));
}

#[test]
fn r4_review_moves_to_stage_2_owned_by_the_cx_manager_with_clocks_from_now() {
    let now = utc(2026, 3, 20, 15, 0); // a Friday
    let transition = apply_at(&stage_1_responded(), review(), &integration(), now).unwrap();
    let case = &transition.case;
    assert_eq!((case.stage, case.status), (Stage::Stage2, CaseStatus::Open));
    assert_eq!(case.owner_role, Role::CxManager);
    assert_eq!(case.acknowledged_at, None);
    let request = case.review_request.as_ref().unwrap();
    assert_eq!(request.desired_outcome.as_str(), "A refund of March's fee");
    assert_eq!(request.requested_by, integration());
    assert_eq!(kinds(&transition), ["case.review_requested"]);
    let acknowledge = deadline(&transition, DeadlineKind::Stage2Acknowledge);
    assert_eq!(acknowledge.due.date, date(2026, 3, 25));
    assert_eq!(acknowledge.owner_role, Role::CxManager);
    assert_eq!(acknowledge.escalation_role, Role::OpsLead);
    let respond = deadline(&transition, DeadlineKind::Stage2Respond);
    // Ten working days skip Good Friday (3 April) and Easter Monday (6 April).
    assert_eq!(respond.due.date, date(2026, 4, 7));
    assert_eq!(respond.working_days, 10);
    assert_eq!(
        transition.notify[0],
        NotifyRequest::to_complainant(NotifyKind::ReviewAcknowledgement, Stage::Stage2)
    );
    assert_eq!(transition.notify[1].to_role, Some(Role::CxManager));
}

#[test]
fn stage_2_targets_come_from_the_policy() {
    let mut policy = Policy::default();
    policy.stage_2.respond_days = 20;
    let transition = stage_1_responded()
        .apply(
            review(),
            &integration(),
            utc(2026, 3, 20, 15, 0),
            &policy,
            &Calendar::default(),
        )
        .unwrap();
    assert_eq!(
        deadline(&transition, DeadlineKind::Stage2Respond).working_days,
        20
    );
}

#[test]
fn r4_a_review_keyed_in_late_runs_its_clocks_from_when_the_complainant_asked() {
    // Asked on Friday 20 March (by phone); keyed in on Tuesday 24 March.
    let asked = utc(2026, 3, 20, 15, 0);
    let keyed = utc(2026, 3, 24, 9, 30);
    let transition = apply_at(
        &stage_1_responded(),
        review_received(Some(asked)),
        &handler(),
        keyed,
    )
    .unwrap();
    let acknowledge = deadline(&transition, DeadlineKind::Stage2Acknowledge);
    assert_eq!(acknowledge.started_at, asked);
    assert_eq!(acknowledge.due.date, date(2026, 3, 25));
    assert_eq!(acknowledge.due.at, utc(2026, 3, 26, 0, 0));
    let respond = deadline(&transition, DeadlineKind::Stage2Respond);
    assert_eq!(respond.started_at, asked);
    assert_eq!(respond.due.date, date(2026, 4, 7));
    assert!(
        respond.reason.contains("after receipt on Fri 20 Mar 2026"),
        "{}",
        respond.reason
    );
    let request = transition.case.review_request.as_ref().unwrap();
    assert_eq!((request.received_at, request.requested_at), (asked, keyed));
    let Event::ReviewRequested {
        received_at,
        recorded_at,
        ..
    } = &transition.events[0]
    else {
        panic!(
            "expected case.review_requested, got {:?}",
            transition.events
        );
    };
    assert_eq!((*received_at, *recorded_at), (Some(asked), Some(keyed)));
}

#[test]
fn r4_a_review_with_no_receipt_time_runs_its_clocks_from_now() {
    let now = utc(2026, 3, 24, 9, 30);
    let transition = apply_at(&stage_1_responded(), review(), &handler(), now).unwrap();
    let acknowledge = deadline(&transition, DeadlineKind::Stage2Acknowledge);
    assert_eq!(acknowledge.started_at, now);
    assert_eq!(acknowledge.due.date, date(2026, 3, 27));
    let request = transition.case.review_request.as_ref().unwrap();
    assert_eq!((request.received_at, request.requested_at), (now, now));
}

#[test]
fn r6_a_director_request_keyed_in_late_runs_its_clocks_from_when_the_complainant_asked() {
    let asked = utc(2026, 3, 20, 15, 0);
    let keyed = utc(2026, 3, 24, 9, 30);
    let transition = apply_at(
        &stage_2_responded(),
        to_director_received(Some(asked)),
        &integration(),
        keyed,
    )
    .unwrap();
    let acknowledge = deadline(&transition, DeadlineKind::Stage3Acknowledge);
    assert_eq!(acknowledge.started_at, asked);
    assert_eq!(acknowledge.due.date, date(2026, 3, 25));
    let respond = deadline(&transition, DeadlineKind::Stage3Respond);
    assert_eq!(respond.due.date, date(2026, 4, 7));
    let request = transition.case.director_request.as_ref().unwrap();
    assert_eq!((request.received_at, request.requested_at), (asked, keyed));
    let Event::EscalatedToDirector {
        received_at,
        recorded_at,
        ..
    } = &transition.events[0]
    else {
        panic!(
            "expected case.escalated_to_director, got {:?}",
            transition.events
        );
    };
    assert_eq!((*received_at, *recorded_at), (Some(asked), Some(keyed)));
}

#[test]
fn a_request_to_go_up_a_stage_keeps_the_receipt_time_rule_of_intake() {
    let keyed = utc(2026, 3, 24, 9, 30);
    let refused = |case: &Case, command: Command| {
        let error = apply_at(case, command, &handler(), keyed).unwrap_err();
        assert_eq!(fields(&error), ["received_at"], "{error}");
        error.to_string()
    };
    let future = keyed + chrono::Duration::minutes(6);
    let message = refused(&stage_1_responded(), review_received(Some(future)));
    assert!(message.contains("must not be in the future"), "{message}");
    let message = refused(&stage_2_responded(), to_director_received(Some(future)));
    assert!(message.contains("must not be in the future"), "{message}");
    let too_old = keyed - chrono::Duration::days(367);
    let message = refused(&stage_1_responded(), review_received(Some(too_old)));
    assert!(message.contains("within the last 366 days"), "{message}");
    let skewed = keyed + chrono::Duration::minutes(5);
    assert!(
        apply_at(
            &stage_1_responded(),
            review_received(Some(skewed)),
            &handler(),
            keyed
        )
        .is_ok()
    );
}

#[test]
fn a_request_to_go_up_a_stage_cannot_be_received_before_the_response_it_answers() {
    // Every response in these fixtures was issued on 3 March at 10:00.
    let keyed = utc(2026, 3, 24, 9, 30);
    let before = utc(2026, 3, 3, 9, 59);
    let error = apply_at(
        &stage_1_responded(),
        review_received(Some(before)),
        &handler(),
        keyed,
    )
    .unwrap_err();
    assert_eq!(fields(&error), ["received_at"]);
    assert!(
        error.to_string().contains("before the stage_1 response"),
        "{error}"
    );
    let error = apply_at(
        &stage_2_responded(),
        to_director_received(Some(before)),
        &handler(),
        keyed,
    )
    .unwrap_err();
    assert_eq!(fields(&error), ["received_at"]);
    assert!(
        error.to_string().contains("before the stage_2 response"),
        "{error}"
    );
    // Asking before the stage has a response at all is a step out of order.
    precondition(apply_at(
        &new_case(),
        review_received(Some(before)),
        &handler(),
        keyed,
    ));
    let issued = utc(2026, 3, 3, 10, 0);
    assert!(
        apply_at(
            &stage_1_responded(),
            review_received(Some(issued)),
            &handler(),
            keyed
        )
        .is_ok()
    );
}

// -- R5: stage 2 ---------------------------------------------------------------

#[test]
fn r5_stage_2_responders_are_the_cx_manager_and_the_ops_lead() {
    assert!(apply(&stage_2(), respond(), &cx()).is_ok());
    assert!(apply(&stage_2(), respond(), &ops()).is_ok());
    denied(apply(
        &stage_2(),
        respond(),
        &Actor::new("harry", Role::ComplaintsHandler),
    ));
    denied(apply(&stage_2(), respond(), &director()));
}

#[test]
fn r5_escalation_within_stage_2_moves_ownership_to_the_ops_lead() {
    let command = || Command::EscalateWithinStage {
        reason: "Complex billing history".into(),
    };
    for actor in [cx(), service()] {
        let transition = apply(&stage_2(), command(), &actor).unwrap();
        assert_eq!(transition.case.owner_role, Role::OpsLead);
        assert_eq!(transition.notify[0].to_role, Some(Role::OpsLead));
        assert_eq!(kinds(&transition), ["case.escalated_within_stage"]);
        precondition(apply(&transition.case, command(), &actor));
    }
    denied(apply(&stage_2(), command(), &ops()));
    precondition(apply(&new_case(), command(), &service()));
    precondition(apply(&stage_3(), command(), &service()));
    precondition(apply(&stage_2_responded(), command(), &service()));
}

#[test]
fn r5_a_stage_1_handler_may_not_issue_the_stage_2_response() {
    // Pat answered stage 1 as a complaints handler, then became the CX Manager.
    let pat_handler = Actor::new("pat", Role::ComplaintsHandler);
    let pat_manager = Actor::new("pat", Role::CxManager);
    let answered = ok(&new_case(), respond(), &pat_handler);
    assert!(answered.stage_1_handlers.contains("pat"));
    let in_review = ok(&answered, review(), &integration());
    let message = denied(apply(&in_review, respond(), &pat_manager));
    assert!(message.contains("pat handled stage 1"), "{message}");
    assert!(apply(&in_review, respond(), &cx()).is_ok());
}

#[test]
fn r5_a_stage_1_handler_may_not_escalate_within_stage_2() {
    let pat_handler = Actor::new("pat", Role::ComplaintsHandler);
    let pat_manager = Actor::new("pat", Role::CxManager);
    let referred = ok(&new_case(), refer(7), &pat_handler);
    let answered = ok(
        &referred,
        Command::RecordDepartmentResponse {
            referral_id: ReferralId(Uuid::from_u128(7)),
            response: "Carrier fault".into(),
        },
        &handler(),
    );
    assert_eq!(
        answered.stage_1_handlers,
        BTreeSet::from(["hannah".to_owned(), "pat".to_owned()])
    );
    let in_review = ok(
        &ok(&answered, respond(), &handler()),
        review(),
        &integration(),
    );
    let command = Command::EscalateWithinStage {
        reason: "Needs the Ops Lead".into(),
    };
    denied(apply(&in_review, command.clone(), &pat_manager));
    assert!(apply(&in_review, command, &cx()).is_ok());
}

#[test]
fn r5_a_stage_1_handler_may_not_close_the_stage_2_review() {
    // Pat answered stage 1 as a complaints handler: closing the review would
    // decide it, whichever of Pat's roles asks.
    let pat_handler = Actor::new("pat", Role::ComplaintsHandler);
    let pat_manager = Actor::new("pat", Role::CxManager);
    let in_review = ok(
        &ok(&new_case(), respond(), &pat_handler),
        review(),
        &integration(),
    );
    let close = || Command::Close {
        reason: "Settled on the phone".into(),
    };
    let message = denied(apply(&in_review, close(), &pat_handler));
    assert_eq!(
        message,
        "pat handled stage 1 of case CMP-2026-000042 and may not close in its stage 2 review"
    );
    denied(apply(&in_review, close(), &pat_manager));
    let harry = Actor::new("harry", Role::ComplaintsHandler);
    assert!(apply(&in_review, close(), &harry).is_ok());
    assert!(apply(&in_review, close(), &cx()).is_ok());
    // Stage 1 is theirs to close.
    let referred = ok(&new_case(), refer(7), &pat_handler);
    assert!(apply(&referred, close(), &pat_handler).is_ok());
}

// -- R6: stage 3 ---------------------------------------------------------------

#[test]
fn r6_stage_3_straight_from_stage_1_is_refused() {
    let message = precondition(apply(&stage_1_responded(), to_director(), &handler()));
    assert!(message.contains("request a review first"), "{message}");
    precondition(apply(&new_case(), to_director(), &handler()));
}

#[test]
fn r6_escalation_to_director_before_the_stage_2_response_is_refused() {
    let message = precondition(apply(&stage_2(), to_director(), &handler()));
    assert!(message.contains("no stage 2 response"), "{message}");
}

#[test]
fn r6_escalation_to_director_needs_desired_outcome_and_unsatisfied_with() {
    let command = Command::EscalateToDirector {
        desired_outcome: String::new(),
        unsatisfied_with: "\n".into(),
        received_at: None,
    };
    let error = apply(&stage_2_responded(), command, &integration()).unwrap_err();
    assert_eq!(fields(&error), ["desired_outcome", "unsatisfied_with"]);
}

#[test]
fn r6_escalation_to_director_moves_to_stage_3_with_its_clocks() {
    let transition = apply(&stage_2_responded(), to_director(), &integration()).unwrap();
    let case = &transition.case;
    assert_eq!((case.stage, case.status), (Stage::Stage3, CaseStatus::Open));
    assert_eq!(case.owner_role, Role::Director);
    assert!(case.director_request.is_some());
    let kinds_started: Vec<_> = transition.deadlines.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds_started,
        [DeadlineKind::Stage3Acknowledge, DeadlineKind::Stage3Respond]
    );
    assert_eq!(transition.notify[1].to_role, Some(Role::Director));
}

#[test]
fn r6_only_a_director_issues_the_stage_3_response() {
    for actor in [handler(), cx(), ops()] {
        denied(apply(&stage_3(), respond(), &actor));
    }
    assert!(apply(&stage_3(), respond(), &director()).is_ok());
}

// -- R7: external --------------------------------------------------------------

#[test]
fn r7_the_final_response_names_the_tsa() {
    let transition = apply(&stage_3(), respond(), &director()).unwrap();
    assert_eq!(transition.notify.len(), 1);
    let final_response = &transition.notify[0];
    assert_eq!(final_response.kind, NotifyKind::FinalResponse);
    let body = final_response.external_body.as_ref().unwrap();
    assert_eq!(body.name, "Telecare Services Association");
    assert_eq!(body.short_name, "TSA");
}

#[test]
fn r7_a_tsa_referral_before_the_final_response_is_refused() {
    let command = || Command::RecordTsaReferral {
        reference: "TSA-1".into(),
    };
    for case in [
        new_case(),
        stage_1_responded(),
        stage_2_responded(),
        stage_3(),
    ] {
        let message = precondition(apply(&case, command(), &handler()));
        assert!(message.contains("TSA"), "{message}");
    }
}

#[test]
fn r7_a_tsa_referral_moves_the_case_to_external() {
    let case = external();
    assert_eq!(case.stage, Stage::External);
    assert_eq!(
        case.tsa_reference.as_ref().unwrap().as_str(),
        "TSA-2026-001"
    );
    assert!(case.response_for(Stage::Stage3).is_some());
}

#[test]
fn an_external_case_takes_only_notes_and_closing() {
    let case = external();
    let note = Command::AddNote {
        text: "TSA asked for the call logs".into(),
    };
    assert!(apply(&case, note, &handler()).is_ok());
    for (command, actor) in [
        (respond(), director()),
        (Command::MarkAcknowledged, service()),
        (refer(9), director()),
        (to_director(), handler()),
    ] {
        precondition(apply(&case, command, &actor));
    }
    let closed = ok(
        &case,
        Command::Close {
            reason: "TSA decision received".into(),
        },
        &handler(),
    );
    assert_eq!(closed.status, CaseStatus::Closed);
}

// -- acknowledgement, closing, erasure ------------------------------------------

#[test]
fn mark_acknowledged_settles_the_current_stage_acknowledge_clock_once() {
    let transition = apply(&new_case(), Command::MarkAcknowledged, &service()).unwrap();
    assert_eq!(
        transition.settle,
        [(DeadlineKind::Acknowledge, DeadlineOutcome::Met)]
    );
    assert_eq!(kinds(&transition), ["case.acknowledged"]);
    assert!(transition.case.acknowledged_at.is_some());

    let again = apply(&transition.case, Command::MarkAcknowledged, &service()).unwrap();
    assert!(again.is_noop());
    assert_eq!(again.case, transition.case);
    assert!(again.settle.is_empty());

    let transition = apply(&stage_2(), Command::MarkAcknowledged, &cx()).unwrap();
    assert_eq!(
        transition.settle,
        [(DeadlineKind::Stage2Acknowledge, DeadlineOutcome::Met)]
    );
    denied(apply(&stage_2(), Command::MarkAcknowledged, &handler()));
}

#[test]
fn close_cancels_every_pending_deadline() {
    let transition = apply(
        &new_case(),
        Command::Close {
            reason: "Withdrawn by the complainant".into(),
        },
        &handler(),
    )
    .unwrap();
    let cancelled: Vec<_> = transition.settle.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(cancelled, DeadlineKind::ALL);
    assert!(
        transition
            .settle
            .iter()
            .all(|(_, outcome)| *outcome == DeadlineOutcome::Cancelled)
    );
    let case = transition.case;
    assert_eq!(case.status, CaseStatus::Closed);
    assert!(case.closed_at.is_some());
    assert_eq!(
        case.closed_reason.as_ref().unwrap().as_str(),
        "Withdrawn by the complainant"
    );
}

#[test]
fn a_closed_case_refuses_every_step_but_erasure() {
    let closed = ok(
        &stage_1_responded(),
        Command::Close {
            reason: "No review requested".into(),
        },
        &handler(),
    );
    let steps = [
        (Command::AddNote { text: "x".into() }, handler()),
        (Command::MarkAcknowledged, service()),
        (refer(9), handler()),
        (respond(), handler()),
        (review(), integration()),
        (Command::Close { reason: "x".into() }, handler()),
    ];
    for (command, actor) in steps {
        let message = precondition(apply(&closed, command, &actor));
        assert!(message.contains("closed"), "{message}");
    }
    let erased = ok(
        &closed,
        Command::EraseComplainant {
            reason: "Retention period ended".into(),
        },
        &service(),
    );
    assert!(erased.complainant.is_erased());
    assert_eq!(erased.status, CaseStatus::Closed);
}

#[test]
fn erasure_anonymises_the_complainant_once_and_keeps_the_case() {
    let case = stage_1_responded();
    let command = || Command::EraseComplainant {
        reason: "Data-subject request".into(),
    };
    let transition = apply(&case, command(), &handler()).unwrap();
    let erased = &transition.case;
    assert!(erased.complainant.is_erased());
    assert_eq!(erased.complainant.email(), None);
    assert_eq!(erased.details, None);
    assert_ne!(case.summary.as_str(), "[erased]");
    assert_eq!(erased.summary.as_str(), "[erased]");
    assert!(erased.erased_at.is_some());
    assert_eq!(erased.responses, case.responses);
    assert_eq!(erased.register_number, case.register_number);
    assert_eq!(kinds(&transition), ["case.complainant_erased"]);
    precondition(apply(erased, command(), &handler()));
}

#[test]
fn department_responses_are_for_known_open_referrals() {
    let referred = ok(&new_case(), refer(7), &handler());
    let unknown = Command::RecordDepartmentResponse {
        referral_id: ReferralId(Uuid::from_u128(8)),
        response: "Answer".into(),
    };
    let error = apply(&referred, unknown, &handler()).unwrap_err();
    assert_eq!(fields(&error), ["referral_id"]);
    let answer = || Command::RecordDepartmentResponse {
        referral_id: ReferralId(Uuid::from_u128(7)),
        response: "Answer".into(),
    };
    let answered = ok(&referred, answer(), &handler());
    precondition(apply(&answered, answer(), &handler()));
    precondition(apply(&referred, refer(7), &handler()));
}

#[test]
fn notes_are_validated_and_open_to_advisers() {
    let transition = apply(
        &new_case(),
        Command::AddNote {
            text: "Caller rang back\r\nwith the device serial".into(),
        },
        &adviser(),
    )
    .unwrap();
    assert_eq!(
        transition.events,
        [Event::NoteAdded {
            text: Text::multi_line("text", "Caller rang back\nwith the device serial", 100)
                .unwrap()
        }]
    );
    let error = apply(
        &new_case(),
        Command::AddNote { text: " ".into() },
        &adviser(),
    )
    .unwrap_err();
    assert_eq!(fields(&error), ["text"]);
    denied(apply(
        &new_case(),
        Command::AddNote { text: "x".into() },
        &integration(),
    ));
}

#[test]
fn version_counts_the_events_applied() {
    let case = stage_3_responded();
    // received, stage 1 response, review, stage 2 response, director, stage 3 response
    assert_eq!(case.version, 6);
    let transition = apply(
        &case,
        Command::AddNote {
            text: "Filed".into(),
        },
        &director(),
    )
    .unwrap();
    assert_eq!(transition.case.version, 7);
}

#[test]
fn apply_does_not_touch_the_case_it_is_given() {
    let case = new_case();
    let before = case.clone();
    let _ = apply(&case, respond(), &handler()).unwrap();
    let _ = apply(&case, review(), &handler()).unwrap_err();
    assert_eq!(case, before);
}

// -- roles (docs/policy.md, Roles) -------------------------------------------------

#[test]
fn the_role_table_is_section_6() {
    let table: String = Step::ALL
        .iter()
        .map(|&step| {
            let roles: Vec<&str> = Role::ALL
                .into_iter()
                .filter(|&role| permitted(role, step))
                .map(Role::as_str)
                .collect();
            format!("{step}: {}\n", roles.join(", "))
        })
        .collect();
    let expected = "\
submit: adviser, complaints_handler, integration, service
read: adviser, complaints_handler, cx_manager, ops_lead, director, integration, service
add_note: adviser, complaints_handler, cx_manager, ops_lead, director
add_evidence: adviser, complaints_handler, cx_manager, ops_lead, director, service
mark_acknowledged: complaints_handler, cx_manager, ops_lead, director, service
record_acknowledgement: complaints_handler, cx_manager, ops_lead, director
refer_to_department: complaints_handler, cx_manager, ops_lead, director
record_department_response: complaints_handler, cx_manager, ops_lead, director
issue_stage_response: complaints_handler, cx_manager, ops_lead, director
request_review: complaints_handler, integration
escalate_within_stage: cx_manager, service
escalate_to_director: complaints_handler, integration
record_tsa_referral: complaints_handler
close: complaints_handler, cx_manager, ops_lead, director
assign_case: complaints_handler, cx_manager, ops_lead, director
record_notice: service
erase_complainant: complaints_handler, service
receive_correspondence: service
link_cases: complaints_handler, cx_manager, ops_lead, director
record_clock_change: service
";
    println!("{table}");
    assert_eq!(table, expected);
}

#[test]
fn a_refusal_by_role_names_the_role_and_the_step() {
    let message = denied(apply(
        &new_case(),
        Command::Close { reason: "x".into() },
        &adviser(),
    ));
    assert_eq!(message, "role adviser may not close");
    assert_eq!(
        authorize(Role::Integration, Step::IssueStageResponse),
        Err(DomainError::PermissionDenied(
            "role integration may not issue_stage_response".into()
        ))
    );
    let message = denied(Case::open(
        NewComplaint::validate(raw_email(), received()).unwrap(),
        CaseId(Uuid::from_u128(2)),
        register_number(),
        &director(),
        received(),
        &Policy::default(),
        &Calendar::default(),
    ));
    assert_eq!(message, "role director may not submit");
}

#[test]
fn closing_belongs_to_the_complaints_department_or_the_stage_deciders() {
    let close = || Command::Close {
        reason: "Resolved".into(),
    };
    // Not `handler()`: hannah answered stage 1 and may not close the review (R5).
    let harry = Actor::new("harry", Role::ComplaintsHandler);
    assert!(apply(&stage_2(), close(), &harry).is_ok());
    assert!(apply(&stage_3(), close(), &handler()).is_ok());
    assert!(apply(&stage_2(), close(), &ops()).is_ok());
    denied(apply(&stage_2(), close(), &director()));
    denied(apply(&new_case(), close(), &cx()));
}

// -- events ----------------------------------------------------------------------

#[test]
fn events_round_trip_through_serde_tagged_by_kind() {
    let mut events = opened().events;
    events.extend(
        apply_at(&new_case(), refer(7), &handler(), utc(2026, 3, 12, 9, 0))
            .unwrap()
            .events,
    );
    events.extend(apply(&stage_3(), respond(), &director()).unwrap().events);
    events.extend(
        apply_at(
            &stage_1_responded(),
            review_received(Some(utc(2026, 3, 3, 12, 0))),
            &handler(),
            utc(2026, 3, 4, 9, 0),
        )
        .unwrap()
        .events,
    );
    events.extend(
        apply(&stage_2_responded(), to_director(), &handler())
            .unwrap()
            .events,
    );
    events.extend(
        apply(
            &new_case(),
            acknowledged_by(AcknowledgementMethod::InPerson, "Home visit"),
            &handler(),
        )
        .unwrap()
        .events,
    );
    events.extend(
        apply(&stage_2(), review_escalation(), &cx())
            .unwrap()
            .events,
    );
    events.extend(
        external()
            .apply(
                Command::Close {
                    reason: "Done".into(),
                },
                &handler(),
                received() + chrono::Duration::days(90),
                &Policy::default(),
                &Calendar::default(),
            )
            .unwrap()
            .events,
    );
    events.extend(
        apply(
            &new_case(),
            Command::ReceiveCorrespondence {
                subject: "Re: Your complaint".into(),
            },
            &service(),
        )
        .unwrap()
        .events,
    );
    for event in events {
        let value = toml::Value::try_from(&event).unwrap();
        assert_eq!(
            value.get("kind").and_then(|kind| kind.as_str()),
            Some(event.kind())
        );
        let back: Event = value.try_into().unwrap();
        assert_eq!(back, event);
    }
    // Dotted lower-case names, as the contract describes them: the case's
    // own changes are `case.*`; what reached it from outside has its own
    // prefix (`correspondence.received`).
    assert!(Event::KINDS.iter().all(|kind| {
        kind.split_once('.').is_some_and(|(area, what)| {
            !area.is_empty()
                && !what.is_empty()
                && kind
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
        })
    }));
}

#[test]
fn requests_stored_before_receipt_times_were_kept_read_as_received_when_recorded() {
    let event: Event = toml::from_str(
        "kind = 'case.review_requested'\n\
         desired_outcome = 'A refund'\n\
         unsatisfied_with = 'The apology'\n\
         owner_role = 'cx_manager'",
    )
    .unwrap();
    let Event::ReviewRequested {
        received_at,
        recorded_at,
        ..
    } = event
    else {
        panic!("expected case.review_requested, got {event:?}");
    };
    assert_eq!((received_at, recorded_at), (None, None));

    let request: Escalation = toml::from_str(
        "desired_outcome = 'A refund'\n\
         unsatisfied_with = 'The apology'\n\
         requested_at = '2026-03-20T15:00:00Z'\n\
         requested_by = { subject = 'crm', role = 'integration' }",
    )
    .unwrap();
    assert_eq!(request.received_at, utc(2026, 3, 20, 15, 0));
    assert_eq!(request.requested_at, utc(2026, 3, 20, 15, 0));
}

fn review_escalation() -> Command {
    Command::EscalateWithinStage {
        reason: "Needs the Ops Lead".into(),
    }
}

// -- intake: R8, R9, R10 --------------------------------------------------------

fn invalid(raw: RawComplaint) -> Vec<String> {
    match NewComplaint::validate(raw, received()) {
        Err(DomainError::InvalidArgument(violations)) => {
            violations.into_iter().map(|v| v.field).collect()
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn r8_a_telephone_complaint_needs_the_adviser() {
    let raw = RawComplaint {
        channel: Some(Channel::Telephone),
        ..raw_email()
    };
    assert_eq!(invalid(raw.clone()), ["recorded_by"]);
    let complaint = NewComplaint::validate(
        RawComplaint {
            recorded_by: "Adam Adviser".into(),
            ..raw
        },
        received(),
    )
    .unwrap();
    assert_eq!(complaint.recorded_by().unwrap().as_str(), "Adam Adviser");
}

#[test]
fn r9_a_letter_needs_its_scan_reference_and_a_postal_address() {
    let raw = RawComplaint {
        channel: Some(Channel::Post),
        complainant: RawComplainant {
            postal_address: None,
            ..raw_complainant()
        },
        ..raw_email()
    };
    assert_eq!(
        invalid(raw.clone()),
        ["scan_reference", "complainant.postal_address"]
    );
    let complaint = NewComplaint::validate(
        RawComplaint {
            scan_reference: "SCAN-2026-0042".into(),
            complainant: RawComplainant {
                preferred_contact: Some(ContactMethod::Post),
                ..raw_complainant()
            },
            ..raw
        },
        received(),
    )
    .unwrap();
    assert_eq!(
        complaint.scan_reference().unwrap().as_str(),
        "SCAN-2026-0042"
    );
}

#[test]
fn r10_an_email_complaint_needs_the_complainants_email() {
    let raw = RawComplaint {
        complainant: RawComplainant {
            email: String::new(),
            ..raw_complainant()
        },
        ..raw_email()
    };
    assert_eq!(invalid(raw), ["complainant.email"]);
}

#[test]
fn r1_a_complaint_with_no_written_route_is_refused_on_email_and_postal_address() {
    let phone_only = RawComplainant {
        email: String::new(),
        postal_address: None,
        ..raw_complainant()
    };
    let by = |channel| RawComplaint {
        channel: Some(channel),
        complainant: phone_only.clone(),
        recorded_by: "Adam Adviser".into(),
        scan_reference: "SCAN-2026-0042".into(),
        ..raw_email()
    };
    for channel in Channel::ALL {
        assert_eq!(
            invalid(by(channel)),
            ["complainant.email", "complainant.postal_address"],
            "{channel}"
        );
    }
    let described = NewComplaint::validate(by(Channel::Telephone), received()).unwrap_err();
    assert!(
        described.to_string().contains("needs a written route"),
        "{described}"
    );

    // No route at all: the complainant's own check names each route once.
    let nothing = RawComplaint {
        complainant: RawComplainant {
            phone: String::new(),
            ..phone_only.clone()
        },
        ..by(Channel::Web)
    };
    assert_eq!(
        invalid(nothing),
        [
            "complainant.email",
            "complainant.phone",
            "complainant.postal_address"
        ]
    );

    // Either written route will do.
    let email_only = RawComplainant {
        email: "jane@example.com".into(),
        ..phone_only.clone()
    };
    let address_only = RawComplainant {
        postal_address: raw_complainant().postal_address,
        ..phone_only.clone()
    };
    for complainant in [email_only, address_only] {
        let raw = RawComplaint {
            complainant,
            ..by(Channel::Web)
        };
        assert!(NewComplaint::validate(raw, received()).is_ok());
    }
}

#[test]
fn intake_reports_every_bad_field_by_its_request_path() {
    let raw = RawComplaint {
        channel: None,
        received_at: Some(received() + chrono::Duration::minutes(6)),
        complainant: RawComplainant {
            full_name: String::new(),
            postal_address: Some(RawPostalAddress {
                lines: vec!["1 High Street".into()],
                town: "Leeds".into(),
                postcode: "NOT A POSTCODE".into(),
            }),
            ..raw_complainant()
        },
        summary: "two\nlines".into(),
        details: "x".repeat(Text::DETAILS_MAX + 1),
        recorded_by: String::new(),
        scan_reference: String::new(),
    };
    assert_eq!(
        invalid(raw),
        [
            "channel",
            "received_at",
            "complainant.full_name",
            "complainant.postal_address.postcode",
            "summary",
            "details",
        ]
    );
}

#[test]
fn received_at_allows_clock_skew_but_not_the_future_or_the_distant_past() {
    let at = |received_at| {
        NewComplaint::validate(
            RawComplaint {
                received_at: Some(received_at),
                ..raw_email()
            },
            received(),
        )
    };
    assert!(at(received() + chrono::Duration::minutes(5)).is_ok());
    assert!(at(received() - chrono::Duration::days(300)).is_ok());
    assert!(at(received() - chrono::Duration::days(400)).is_err());
    let now_by_default = NewComplaint::validate(
        RawComplaint {
            received_at: None,
            ..raw_email()
        },
        received(),
    )
    .unwrap();
    assert_eq!(now_by_default.received_at(), received());
    assert_eq!(
        invalid(RawComplaint {
            summary: " ".into(),
            ..raw_email()
        }),
        ["summary"]
    );
}

// -- acknowledgements given outside the platform (R1) --------------------------

fn acknowledged_by(method: AcknowledgementMethod, reference: &str) -> Command {
    Command::RecordAcknowledgement {
        method: Some(method),
        reference: reference.into(),
    }
}

#[test]
fn r1_an_acknowledgement_given_by_telephone_settles_the_clock_as_a_sent_one_does() {
    let recorded = apply(
        &new_case(),
        acknowledged_by(AcknowledgementMethod::Telephone, " Call 4471 "),
        &handler(),
    )
    .unwrap();
    assert_eq!(
        recorded.events,
        [
            Event::AcknowledgementRecorded {
                stage: Stage::Stage1,
                method: AcknowledgementMethod::Telephone,
                reference: Some(Text::single_line("reference", "Call 4471", 100).unwrap()),
            },
            Event::Acknowledged {
                stage: Stage::Stage1
            },
        ]
    );
    assert_eq!(
        recorded.settle,
        [(DeadlineKind::Acknowledge, DeadlineOutcome::Met)]
    );
    assert!(recorded.notify.is_empty());
    assert_eq!(
        recorded.case.acknowledged_at,
        Some(received() + chrono::Duration::days(1))
    );

    let sent = apply(
        &new_case(),
        notice("n-1", NotifyKind::Acknowledgement, Stage::Stage1),
        &service(),
    )
    .unwrap();
    assert_eq!(recorded.settle, sent.settle);
    assert_eq!(recorded.case.acknowledged_at, sent.case.acknowledged_at);
}

#[test]
fn a_second_acknowledgement_of_the_same_stage_is_refused_as_already_acknowledged() {
    let by_letter = ok(
        &new_case(),
        acknowledged_by(AcknowledgementMethod::Letter, ""),
        &handler(),
    );
    let message = precondition(apply(
        &by_letter,
        acknowledged_by(AcknowledgementMethod::Telephone, ""),
        &handler(),
    ));
    assert!(
        message.starts_with("stage_1 of case CMP-2026-000042 is already acknowledged"),
        "{message}"
    );
    let sent = ok(
        &new_case(),
        notice("n-1", NotifyKind::Acknowledgement, Stage::Stage1),
        &service(),
    );
    precondition(apply(
        &sent,
        acknowledged_by(AcknowledgementMethod::Email, ""),
        &handler(),
    ));

    // The next stage is acknowledged afresh.
    let in_review = ok(
        &ok(&by_letter, respond(), &handler()),
        review(),
        &integration(),
    );
    let transition = apply(
        &in_review,
        acknowledged_by(AcknowledgementMethod::InPerson, ""),
        &cx(),
    )
    .unwrap();
    assert_eq!(
        transition.settle,
        [(DeadlineKind::Stage2Acknowledge, DeadlineOutcome::Met)]
    );
}

#[test]
fn an_acknowledgement_is_recorded_by_the_stages_workers_and_never_by_the_platform() {
    let telephone = || acknowledged_by(AcknowledgementMethod::Telephone, "");
    for actor in [adviser(), integration(), service()] {
        let message = denied(apply(&new_case(), telephone(), &actor));
        assert_eq!(
            message,
            format!("role {} may not record_acknowledgement", actor.role)
        );
    }
    denied(apply(&new_case(), telephone(), &cx()));
    denied(apply(&stage_2(), telephone(), &handler()));
    assert!(apply(&stage_2(), telephone(), &ops()).is_ok());
    denied(apply(&stage_3(), telephone(), &cx()));
    assert!(apply(&stage_3(), telephone(), &director()).is_ok());
    precondition(apply(&external(), telephone(), &handler()));
}

#[test]
fn an_acknowledgement_needs_its_method_and_at_most_one_line_of_reference() {
    let with = |reference: &str| {
        apply(
            &new_case(),
            acknowledged_by(AcknowledgementMethod::Letter, reference),
            &handler(),
        )
    };
    assert_eq!(fields(&with("two\nlines").unwrap_err()), ["reference"]);
    let unspecified = Command::RecordAcknowledgement {
        method: None,
        reference: "r".repeat(101),
    };
    let error = apply(&new_case(), unspecified, &handler()).unwrap_err();
    assert_eq!(fields(&error), ["method", "reference"]);
    assert!(
        error
            .to_string()
            .contains("telephone, letter, email, in_person"),
        "{error}"
    );
    assert_eq!(fields(&with(&"r".repeat(101)).unwrap_err()), ["reference"]);
    assert!(with(&"r".repeat(100)).is_ok());
    let none = with("  ").unwrap();
    assert_eq!(
        none.events[0],
        Event::AcknowledgementRecorded {
            stage: Stage::Stage1,
            method: AcknowledgementMethod::Letter,
            reference: None,
        }
    );
}

// -- delivered notices -----------------------------------------------------------

fn notice(id: &str, kind: NotifyKind, stage: Stage) -> Command {
    Command::RecordNotice {
        notification_id: id.into(),
        kind,
        stage,
        channel: "email".into(),
        route_note: String::new(),
    }
}

#[test]
fn r1_a_delivered_acknowledgement_marks_stage_1_acknowledged_once() {
    let sent = notice("n-1", NotifyKind::Acknowledgement, Stage::Stage1);
    let transition = apply(&new_case(), sent.clone(), &service()).unwrap();
    assert!(transition.case.acknowledged_at.is_some());
    assert_eq!(
        transition.settle,
        vec![(DeadlineKind::Acknowledge, DeadlineOutcome::Met)]
    );
    let kinds: Vec<_> = transition.events.iter().map(Event::kind).collect();
    assert_eq!(kinds, ["case.notice_sent", "case.acknowledged"]);
    let again = apply(&transition.case, sent, &service()).unwrap();
    assert!(again.is_noop());
}

#[test]
fn r3_a_delivered_referral_update_keeps_the_day_5_promise_and_acknowledges_nothing() {
    let sent = notice("n-2", NotifyKind::ReferralUpdate, Stage::Stage1);
    let transition = apply(&new_case(), sent, &service()).unwrap();
    assert!(transition.case.acknowledged_at.is_none());
    assert_eq!(
        transition.settle,
        vec![(DeadlineKind::ReferralUpdate, DeadlineOutcome::Met)]
    );
    assert_eq!(transition.events.len(), 1);
}

#[test]
fn a_notice_is_recorded_even_on_a_closed_case_and_only_by_the_platform() {
    let closed = ok(
        &new_case(),
        Command::Close {
            reason: "withdrawn".into(),
        },
        &handler(),
    );
    let sent = notice("n-3", NotifyKind::Acknowledgement, Stage::Stage1);
    let transition = apply(&closed, sent.clone(), &service()).unwrap();
    assert!(transition.settle.is_empty());
    assert_eq!(transition.events.len(), 1);
    denied(apply(&new_case(), sent, &handler()));
}

// -- assignment ----------------------------------------------------------------

fn assign(assignee: &str) -> Command {
    Command::AssignCase {
        assignee: assignee.into(),
    }
}

fn assignee(case: &Case) -> Option<&str> {
    case.assignee.as_ref().map(Text::as_str)
}

#[test]
fn assigning_names_the_person_and_records_who_had_it_before() {
    let transition = apply(&new_case(), assign("  hannah "), &handler()).unwrap();
    assert_eq!(assignee(&transition.case), Some("hannah"));
    assert_eq!(
        transition.events,
        [Event::Assigned {
            assignee: Text::single_line("assignee", "hannah", 10).unwrap(),
            previous_assignee: None,
        }]
    );
    assert!(transition.deadlines.is_empty());
    assert!(transition.settle.is_empty());
    assert!(transition.notify.is_empty());
    assert_eq!(transition.case.owner_role, Role::ComplaintsHandler);

    let reassigned = apply(&transition.case, assign("pat"), &handler()).unwrap();
    assert_eq!(assignee(&reassigned.case), Some("pat"));
    assert_eq!(
        reassigned.events,
        [Event::Assigned {
            assignee: Text::single_line("assignee", "pat", 10).unwrap(),
            previous_assignee: Some(Text::single_line("assignee", "hannah", 10).unwrap()),
        }]
    );
    assert_eq!(reassigned.case.version, 3);
}

#[test]
fn an_empty_assignee_clears_the_assignment_and_repeats_change_nothing() {
    let assigned = ok(&new_case(), assign("hannah"), &handler());
    let again = apply(&assigned, assign("hannah"), &handler()).unwrap();
    assert!(again.is_noop());
    assert_eq!(again.case, assigned);

    let cleared = apply(&assigned, assign(" "), &handler()).unwrap();
    assert_eq!(assignee(&cleared.case), None);
    assert_eq!(
        cleared.events,
        [Event::Unassigned {
            previous_assignee: Text::single_line("assignee", "hannah", 10).unwrap(),
            owner_role: Role::ComplaintsHandler,
        }]
    );
    assert!(
        apply(&cleared.case, assign(""), &handler())
            .unwrap()
            .is_noop()
    );
}

#[test]
fn an_assignee_must_be_one_printable_line_of_at_most_128_characters() {
    for bad in [
        "hannah\nsmith".to_owned(),
        "tab\there".to_owned(),
        "bidi\u{202E}name".to_owned(),
        "x".repeat(129),
    ] {
        let error = apply(&new_case(), assign(&bad), &handler()).unwrap_err();
        assert_eq!(fields(&error), ["assignee"], "{bad:?}");
    }
    let longest = "x".repeat(128);
    let case = ok(&new_case(), assign(&longest), &handler());
    assert_eq!(assignee(&case), Some(longest.as_str()));
}

#[test]
fn the_complaints_department_assigns_at_any_stage_and_the_stage_deciders_at_theirs() {
    let colleague = Actor::new("hugo", Role::ComplaintsHandler);
    assert!(apply(&stage_2(), assign("carl"), &colleague).is_ok());
    assert!(apply(&stage_2(), assign("carl"), &cx()).is_ok());
    assert!(apply(&stage_2(), assign("olive"), &ops()).is_ok());
    assert!(apply(&stage_3(), assign("diana"), &director()).is_ok());
    assert!(apply(&external(), assign("diana"), &director()).is_ok());

    let message = denied(apply(&new_case(), assign("carl"), &cx()));
    assert!(message.contains("assign_case"), "{message}");
    denied(apply(&stage_2(), assign("diana"), &director()));
    for actor in [adviser(), integration(), service()] {
        let message = denied(apply(&new_case(), assign("hannah"), &actor));
        assert_eq!(
            message,
            format!("role {} may not assign_case", actor.role.as_str())
        );
    }
}

#[test]
fn a_closed_case_refuses_assignment() {
    let closed = ok(
        &new_case(),
        Command::Close {
            reason: "Withdrawn".into(),
        },
        &handler(),
    );
    let message = precondition(apply(&closed, assign("hannah"), &handler()));
    assert!(message.contains("closed"), "{message}");
    precondition(apply(&closed, assign(""), &handler()));
}

#[test]
fn an_assignment_ends_when_the_case_passes_to_another_role() {
    let assigned = ok(&stage_1_responded(), assign("hannah"), &handler());
    let review = apply(&assigned, review(), &integration()).unwrap();
    assert_eq!(assignee(&review.case), None);
    assert_eq!(kinds(&review), ["case.review_requested", "case.unassigned"]);
    assert_eq!(
        review.events[1],
        Event::Unassigned {
            previous_assignee: Text::single_line("assignee", "hannah", 10).unwrap(),
            owner_role: Role::CxManager,
        }
    );

    let with_carl = ok(&review.case, assign("carl"), &cx());
    let escalated = apply(&with_carl, review_escalation(), &cx()).unwrap();
    assert_eq!(assignee(&escalated.case), None);
    assert_eq!(
        kinds(&escalated),
        ["case.escalated_within_stage", "case.unassigned"]
    );

    // A step that keeps the owner keeps the assignee, closing included.
    let with_olive = ok(&escalated.case, assign("olive"), &ops());
    let noted = ok(&with_olive, Command::AddNote { text: "x".into() }, &ops());
    assert_eq!(assignee(&noted), Some("olive"));
    let closed = ok(
        &noted,
        Command::Close {
            reason: "Accepted".into(),
        },
        &ops(),
    );
    assert_eq!(assignee(&closed), Some("olive"));
}

#[test]
fn assignment_events_round_trip_through_serde_tagged_by_kind() {
    let assigned = apply(&new_case(), assign("hannah"), &handler()).unwrap();
    let cleared = apply(&assigned.case, assign(""), &handler()).unwrap();
    for event in assigned.events.into_iter().chain(cleared.events) {
        let value = toml::Value::try_from(&event).unwrap();
        assert_eq!(
            value.get("kind").and_then(|kind| kind.as_str()),
            Some(event.kind())
        );
        assert!(Event::KINDS.contains(&event.kind()));
        let back: Event = value.try_into().unwrap();
        assert_eq!(back, event);
    }
}

#[test]
fn r5_whoever_handled_stage_1_neither_assigns_the_stage_2_review_nor_is_assigned_it() {
    // hannah issued the stage 1 response.
    let case = stage_2();
    let message = denied(apply(&case, assign("carl"), &handler()));
    assert!(message.contains("hannah handled stage 1"), "{message}");
    let message = precondition(apply(&case, assign("hannah"), &cx()));
    assert!(message.contains("hannah handled stage 1"), "{message}");
    assert!(message.contains("R5"), "{message}");
    // At stage 3 the rule no longer applies.
    assert!(apply(&stage_3(), assign("diana"), &handler()).is_ok());
}

// -- correspondence ----------------------------------------------------------------

fn reply(subject: &str) -> Command {
    Command::ReceiveCorrespondence {
        subject: subject.into(),
    }
}

#[test]
fn a_reply_is_recorded_and_alerts_the_owner_without_starting_a_clock_or_writing_back() {
    let case = new_case();
    let transition = apply(&case, reply("Re: Your complaint"), &service()).unwrap();
    assert_eq!(kinds(&transition), ["correspondence.received"]);
    assert!(transition.deadlines.is_empty());
    assert!(transition.settle.is_empty());
    assert_eq!(
        transition.notify,
        vec![NotifyRequest::alert(
            Role::ComplaintsHandler,
            Stage::Stage1,
            format!(
                "the complainant wrote again about case {}",
                case.register_number
            ),
        )]
    );
    assert!(!transition.case.needs_attention);
    assert_eq!(transition.case.status, case.status);
}

#[test]
fn a_reply_to_a_closed_case_flags_it_for_attention_until_a_person_adds_a_note() {
    let closed = ok(
        &new_case(),
        Command::Close {
            reason: "Accepted".into(),
        },
        &handler(),
    );
    let replied = ok(&closed, reply("Re: thanks\r\nBcc: x"), &service());
    assert_eq!(replied.status, CaseStatus::Closed);
    assert!(replied.needs_attention);
    let noted = ok(
        &replied,
        Command::AddNote {
            text: "Called the complainant back.".into(),
        },
        &handler(),
    );
    assert!(!noted.needs_attention);
    assert_eq!(noted.status, CaseStatus::Closed);
    let refused = precondition(apply(
        &noted,
        Command::AddNote {
            text: "Another".into(),
        },
        &handler(),
    ));
    assert!(refused.contains("closed"), "{refused}");
}

#[test]
fn only_the_platform_files_a_reply() {
    let message = denied(apply(&new_case(), reply("Re: x"), &handler()));
    assert!(message.contains("receive_correspondence"), "{message}");
}

// -- links and possible duplicates ---------------------------------------------------

fn other_case_id() -> CaseId {
    CaseId(Uuid::from_u128(2))
}

fn link(relation: LinkRelation) -> Command {
    Command::LinkCase {
        other_case_id: other_case_id(),
        other_register_number: RegisterNumber::new(2026, 43).unwrap(),
        relation,
    }
}

#[test]
fn linking_records_the_other_case_and_its_relation_once() {
    let case = new_case();
    let transition = apply(&case, link(LinkRelation::Duplicate), &handler()).unwrap();
    assert_eq!(kinds(&transition), ["case.linked"]);
    let linked = &transition.case.linked_cases;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].case_id, other_case_id());
    assert_eq!(linked[0].register_number.as_str(), "CMP-2026-000043");
    assert_eq!(linked[0].relation, LinkRelation::Duplicate);
    assert!(transition.deadlines.is_empty() && transition.settle.is_empty());

    let again = apply(&transition.case, link(LinkRelation::Duplicate), &handler()).unwrap();
    assert!(again.is_noop(), "the same link again changes nothing");

    let related = apply(&transition.case, link(LinkRelation::Related), &cx()).unwrap();
    assert_eq!(kinds(&related), ["case.linked"]);
    assert_eq!(related.case.linked_cases.len(), 1);
    assert_eq!(related.case.linked_cases[0].relation, LinkRelation::Related);
}

#[test]
fn a_case_is_not_linked_to_itself() {
    let case = new_case();
    let command = Command::LinkCase {
        other_case_id: case.id,
        other_register_number: case.register_number.clone(),
        relation: LinkRelation::Related,
    };
    match apply(&case, command, &handler()) {
        Err(DomainError::InvalidArgument(violations)) => {
            assert_eq!(violations[0].field, "other_case_id");
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn a_closed_case_can_still_be_linked_and_advisers_cannot_link() {
    let closed = ok(
        &new_case(),
        Command::Close {
            reason: "Withdrawn".into(),
        },
        &handler(),
    );
    let transition = apply(&closed, link(LinkRelation::Duplicate), &director()).unwrap();
    assert_eq!(kinds(&transition), ["case.linked"]);
    assert_eq!(transition.case.status, CaseStatus::Closed);
    let refused = apply(&new_case(), link(LinkRelation::Related), &adviser());
    assert!(matches!(refused, Err(DomainError::PermissionDenied(_))));
}

#[test]
fn possible_duplicates_are_flagged_on_the_case_and_its_received_event_only() {
    let plain = opened();
    let flagged = opened().flag_possible_duplicates(vec![other_case_id(), plain.case.id]);
    assert_eq!(flagged.case.possible_duplicate_of, [other_case_id()]);
    assert_eq!(flagged.deadlines, plain.deadlines, "its own clocks");
    assert_eq!(flagged.notify, plain.notify);
    match &flagged.events[0] {
        Event::Received {
            possible_duplicate_of,
            ..
        } => assert_eq!(possible_duplicate_of, &[other_case_id()]),
        other => panic!("expected case.received, got {other:?}"),
    }
    assert!(matches!(
        &plain.events[0],
        Event::Received { possible_duplicate_of, .. } if possible_duplicate_of.is_empty()
    ));
}

// -- evidence ------------------------------------------------------------------

fn evidence(filename: &str) -> NewEvidence {
    NewEvidence {
        evidence_id: EvidenceId(Uuid::from_u128(7)),
        filename: filename.into(),
        media_type: "application/pdf".into(),
        description: "The invoice charging twice".into(),
        sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
        size_bytes: 2048,
        source: EvidenceSource::Upload,
    }
}

#[test]
fn evidence_is_recorded_on_the_timeline_without_its_description() {
    let transition = apply(
        &new_case(),
        Command::AddEvidence(evidence("invoice.pdf")),
        &adviser(),
    )
    .unwrap();
    assert_eq!(
        transition.events,
        [Event::EvidenceAdded {
            evidence_id: EvidenceId(Uuid::from_u128(7)),
            filename: Text::single_line("filename", "invoice.pdf", 255).unwrap(),
            media_type: "application/pdf".into(),
            sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            size_bytes: 2048,
            source: EvidenceSource::Upload,
        }]
    );
}

#[test]
fn a_closed_case_takes_no_evidence_and_integration_never_adds_it() {
    let closed = ok(
        &new_case(),
        Command::Close {
            reason: "Withdrawn".into(),
        },
        &handler(),
    );
    assert!(matches!(
        apply(&closed, Command::AddEvidence(evidence("a.pdf")), &handler()),
        Err(DomainError::FailedPrecondition(_))
    ));
    let crm = Actor::new("crm", Role::Integration);
    assert!(
        denied(apply(
            &new_case(),
            Command::AddEvidence(evidence("a.pdf")),
            &crm
        ))
        .contains("add_evidence")
    );
    assert!(
        apply(
            &new_case(),
            Command::AddEvidence(evidence("a.pdf")),
            &service()
        )
        .is_ok()
    );
}

#[test]
fn an_evidence_file_name_is_a_name_never_a_path() {
    let too_long = format!("{}.pdf", "a".repeat(252));
    for bad in [
        "",
        " ",
        "../secret.pdf",
        "a/b.pdf",
        "a\\b.pdf",
        "bell\u{7}.pdf",
        "two\nlines.pdf",
        ".",
        "..",
        too_long.as_str(),
    ] {
        let refused = apply(&new_case(), Command::AddEvidence(evidence(bad)), &handler());
        assert!(
            matches!(&refused, Err(DomainError::InvalidArgument(v)) if v[0].field == "filename"),
            "{bad:?}: {refused:?}"
        );
    }
    let longest = format!("{}.pdf", "a".repeat(251));
    assert!(
        apply(
            &new_case(),
            Command::AddEvidence(evidence(&longest)),
            &handler()
        )
        .is_ok()
    );
}

#[test]
fn a_complaint_s_files_are_added_and_refused_at_opening_counting_in_the_version() {
    let kept = evidence("invoice.pdf").validate().unwrap();
    let refused = RefusedEvidence {
        filename: "setup.exe".into(),
        source: EvidenceSource::EmailAttachment,
        reason: "evidence of media type \"application/x-msdownload\" is not accepted".into(),
    };
    let transition = opened().with_evidence(&[kept], &[refused]);
    let kinds: Vec<&str> = transition.events.iter().map(Event::kind).collect();
    assert_eq!(
        kinds,
        ["case.received", "evidence.added", "evidence.refused"]
    );
    assert_eq!(transition.case.version, 3);
}

// -- clock changes (docs/policy.md, Working days, Extensions and pauses) -----

fn extended_by_handler() -> Command {
    Command::RecordClockChange(ClockChange::Extended {
        deadline: DeadlineKind::Resolve,
        extra_working_days: 2,
        previous_due_date: date(2026, 12, 3),
        due_date: date(2026, 12, 7),
        reason: "Waiting for the engineer's report".into(),
        requested_by: "hannah".into(),
    })
}

#[test]
fn a_clock_change_is_recorded_on_the_timeline_with_who_asked_and_no_clock_moves() {
    let transition = apply(&new_case(), extended_by_handler(), &service()).unwrap();
    assert_eq!(
        transition.events,
        [Event::ClocksExtended {
            deadline: DeadlineKind::Resolve,
            extra_working_days: 2,
            previous_due_date: date(2026, 12, 3),
            due_date: date(2026, 12, 7),
            reason: Text::multi_line("reason", "Waiting for the engineer's report", 100).unwrap(),
            requested_by: Text::single_line("requested_by", "hannah", 100).unwrap(),
        }]
    );
    assert!(transition.settle.is_empty() && transition.deadlines.is_empty());
    assert!(transition.notify.is_empty());
    let paused = Command::RecordClockChange(ClockChange::Paused {
        reason: "Complainant in hospital".into(),
        requested_by: "hannah".into(),
    });
    assert_eq!(
        kinds(&apply(&new_case(), paused, &service()).unwrap()),
        ["clocks.paused"]
    );
    let resumed = Command::RecordClockChange(ClockChange::Resumed {
        paused_working_days: 2,
        reason: "Complainant home again".into(),
        requested_by: "hannah".into(),
    });
    assert_eq!(
        kinds(&apply(&new_case(), resumed, &service()).unwrap()),
        ["clocks.resumed"]
    );
}

#[test]
fn only_the_platform_records_a_clock_change_and_not_on_a_closed_case() {
    assert!(
        denied(apply(&new_case(), extended_by_handler(), &handler()))
            .contains("record_clock_change")
    );
    let closed = ok(
        &new_case(),
        Command::Close {
            reason: "Resolved by phone".into(),
        },
        &handler(),
    );
    precondition(apply(&closed, extended_by_handler(), &service()));
}

#[test]
fn a_clock_change_without_a_reason_or_asker_names_both_fields() {
    let command = Command::RecordClockChange(ClockChange::Paused {
        reason: " ".into(),
        requested_by: String::new(),
    });
    match apply(&new_case(), command, &service()) {
        Err(DomainError::InvalidArgument(violations)) => {
            let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
            assert_eq!(fields, ["reason", "requested_by"]);
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}
