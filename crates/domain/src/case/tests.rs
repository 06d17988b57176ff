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
    Command::RequestReview {
        desired_outcome: "A refund of March's fee".into(),
        unsatisfied_with: "The apology did not cover the missed call".into(),
    }
}

fn to_director() -> Command {
    Command::EscalateToDirector {
        desired_outcome: "A refund of March's fee".into(),
        unsatisfied_with: "The review ignored the call logs".into(),
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
    };
    let error = apply(&stage_1_responded(), command, &integration()).unwrap_err();
    assert_eq!(fields(&error), ["desired_outcome"]);
}

#[test]
fn r4_review_without_unsatisfied_with_is_refused() {
    let command = Command::RequestReview {
        desired_outcome: "A refund".into(),
        unsatisfied_with: String::new(),
    };
    let error = apply(&stage_1_responded(), command, &integration()).unwrap_err();
    assert_eq!(fields(&error), ["unsatisfied_with"]);
    let neither = Command::RequestReview {
        desired_outcome: String::new(),
        unsatisfied_with: String::new(),
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
mark_acknowledged: complaints_handler, cx_manager, ops_lead, director, service
refer_to_department: complaints_handler, cx_manager, ops_lead, director
record_department_response: complaints_handler, cx_manager, ops_lead, director
issue_stage_response: complaints_handler, cx_manager, ops_lead, director
request_review: complaints_handler, integration
escalate_within_stage: cx_manager, service
escalate_to_director: complaints_handler, integration
record_tsa_referral: complaints_handler
close: complaints_handler, cx_manager, ops_lead, director
record_notice: service
erase_complainant: complaints_handler, service
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
    assert!(apply(&stage_2(), close(), &handler()).is_ok());
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
    for event in events {
        let value = toml::Value::try_from(&event).unwrap();
        assert_eq!(
            value.get("kind").and_then(|kind| kind.as_str()),
            Some(event.kind())
        );
        let back: Event = value.try_into().unwrap();
        assert_eq!(back, event);
    }
    assert!(Event::KINDS.iter().all(|kind| kind.starts_with("case.")));
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
