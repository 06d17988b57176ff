//! Who may call, and what an unknown or malformed case gets back.

use std::time::Duration;

use complaints_auth::{AuthConfig, BearerToken, TokenIssuer};
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::case::v1::case_service_client::CaseServiceClient;
use complaints_test_support::TestDb;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::{
    auth_config, complaint, get_by_id, get_by_number, note, on_every_backend, refused, spawn_app,
    stage_response, violated_fields,
};

on_every_backend!(
    a_call_without_a_token_is_unauthenticated,
    a_token_the_deployment_did_not_sign_is_unauthenticated,
    an_expired_token_is_unauthenticated,
    health_checks_need_no_token_and_report_the_case_service_serving,
    only_the_platform_may_open_a_case,
    an_unknown_case_is_not_found,
    a_malformed_case_id_is_an_invalid_argument_on_case_id,
    a_malformed_register_number_is_an_invalid_argument,
    an_adviser_can_read_and_note_a_case_but_not_issue_a_stage_response,
    an_unknown_root_cause_is_an_invalid_argument_on_root_cause,
    a_stage_response_reports_every_missing_field_at_once,
);

async fn a_call_without_a_token_is_unauthenticated(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let mut anonymous = CaseServiceClient::new(app.channel());

    refused(
        anonymous.get_case(get_by_id(&case.case_id)).await,
        Code::Unauthenticated,
    );
    refused(
        anonymous.add_note(note(&case.case_id, "", "hello")).await,
        Code::Unauthenticated,
    );
    assert_eq!(app.event_kinds(&case.case_id).await, ["case.received"]);
}

async fn a_token_the_deployment_did_not_sign_is_unauthenticated(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    // The public development key: anyone can mint it, so production refuses it.
    let development = TokenIssuer::new(&AuthConfig::development())
        .unwrap()
        .issue("mallory", Role::Director, Duration::from_secs(600))
        .unwrap();
    let other_secret = TokenIssuer::new(
        &AuthConfig::new(auth_config().issuer, auth_config().audience)
            .with_hs256_secret("a-different-secret-of-at-least-32-bytes"),
    )
    .unwrap()
    .issue("mallory", Role::Director, Duration::from_secs(600))
    .unwrap();

    for token in [development, other_secret, "not.a.jwt".to_owned()] {
        let mut client =
            CaseServiceClient::with_interceptor(app.channel(), BearerToken::new(&token).unwrap());
        let status = refused(
            client.get_case(get_by_id(&case.case_id)).await,
            Code::Unauthenticated,
        );
        assert!(!status.message().is_empty());
    }
}

async fn an_expired_token_is_unauthenticated(db: TestDb) {
    let app = spawn_app(db).await;
    let issuer = TokenIssuer::new(&auth_config()).unwrap();
    let two_hours_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    let claims = issuer
        .claims(
            "hana",
            Role::ComplaintsHandler,
            two_hours_ago,
            Duration::from_secs(3600),
        )
        .unwrap();
    let token = BearerToken::new(issuer.sign(&claims).unwrap()).unwrap();
    let mut client = CaseServiceClient::with_interceptor(app.channel(), token);

    refused(
        client.list_cases(pb::ListCasesRequest::default()).await,
        Code::Unauthenticated,
    );
}

async fn health_checks_need_no_token_and_report_the_case_service_serving(db: TestDb) {
    let app = spawn_app(db).await;
    let mut health = HealthClient::new(app.channel());

    let response = health
        .check(HealthCheckRequest {
            service: complaints_case::SERVICE_NAME.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(response.status, ServingStatus::Serving as i32);
    assert_eq!(
        complaints_case::SERVICE_NAME,
        "complaints.case.v1.CaseService"
    );
    app.stop().await;
}

async fn only_the_platform_may_open_a_case(db: TestDb) {
    let app = spawn_app(db).await;
    for role in [
        Role::Integration,
        Role::Adviser,
        Role::ComplaintsHandler,
        Role::Director,
    ] {
        let status = refused(
            app.client("someone", role)
                .open_case(complaint(&format!("open-as-{role}")))
                .await,
            Code::PermissionDenied,
        );
        assert!(!status.message().is_empty(), "{role}");
    }

    let listed = app
        .handler()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 0, "a refused call writes nothing");
}

async fn an_unknown_case_is_not_found(db: TestDb) {
    let app = spawn_app(db).await;
    app.open_case().await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut client = app.handler();

    refused(client.get_case(get_by_id(&unknown)).await, Code::NotFound);
    refused(
        client.get_case(get_by_number("CMP-2026-999999")).await,
        Code::NotFound,
    );
    refused(
        client
            .get_timeline(pb::GetTimelineRequest {
                case_id: unknown.clone(),
            })
            .await,
        Code::NotFound,
    );
    refused(
        client.add_note(note(&unknown, "", "hello")).await,
        Code::NotFound,
    );
    refused(
        client
            .issue_stage_response(stage_response(&unknown, "late-response"))
            .await,
        Code::NotFound,
    );
    refused(
        client
            .close_case(pb::CloseCaseRequest {
                case_id: unknown,
                request_id: String::new(),
                reason: "withdrawn".to_owned(),
            })
            .await,
        Code::NotFound,
    );
}

async fn a_malformed_case_id_is_an_invalid_argument_on_case_id(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.handler();

    for malformed in ["not-a-uuid", "", "12345"] {
        assert_eq!(
            violated_fields(client.get_case(get_by_id(malformed)).await),
            ["case_id"],
            "{malformed:?}"
        );
        assert_eq!(
            violated_fields(
                client
                    .get_timeline(pb::GetTimelineRequest {
                        case_id: malformed.to_owned(),
                    })
                    .await
            ),
            ["case_id"]
        );
        assert_eq!(
            violated_fields(client.add_note(note(malformed, "", "hello")).await),
            ["case_id"]
        );
    }
    assert_eq!(
        violated_fields(client.get_case(pb::GetCaseRequest { lookup: None }).await),
        ["lookup"]
    );
}

async fn a_malformed_register_number_is_an_invalid_argument(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = app.handler();

    let status = refused(
        client.get_case(get_by_number("2026/17")).await,
        Code::InvalidArgument,
    );
    assert!(!status.message().is_empty());
    refused(
        client
            .list_cases(pb::ListCasesRequest {
                register_number: "nonsense".to_owned(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
    );
}

async fn an_adviser_can_read_and_note_a_case_but_not_issue_a_stage_response(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;
    let mut adviser = app.client("adam", Role::Adviser);

    adviser.get_case(get_by_id(&case.case_id)).await.unwrap();
    adviser
        .add_note(note(&case.case_id, "", "Complainant rang to chase."))
        .await
        .unwrap();
    let status = refused(
        adviser
            .issue_stage_response(stage_response(&case.case_id, "late-response"))
            .await,
        Code::PermissionDenied,
    );
    assert!(status.message().contains("adviser"), "{status:?}");
    refused(
        adviser
            .close_case(pb::CloseCaseRequest {
                case_id: case.case_id.clone(),
                request_id: String::new(),
                reason: "resolved on the phone".to_owned(),
            })
            .await,
        Code::PermissionDenied,
    );

    let case = app.get(&case.case_id).await;
    assert_eq!(case.status, pb::CaseStatus::Open as i32);
    assert!(case.responses.is_empty());
    assert_eq!(
        app.event_kinds(&case.case_id).await,
        ["case.received", "case.note_added"]
    );
}

async fn an_unknown_root_cause_is_an_invalid_argument_on_root_cause(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;

    let result = app
        .handler()
        .issue_stage_response(stage_response(&case.case_id, "gremlins"))
        .await;

    assert_eq!(violated_fields(result), ["root_cause"]);
    assert_eq!(
        app.get(&case.case_id).await.status,
        pb::CaseStatus::Open as i32
    );
    // Every code of the default taxonomy is accepted.
    for code in [
        "faulty-equipment",
        "missed-alarm-call",
        "late-response",
        "installation",
        "billing-error",
        "staff-conduct",
        "communication",
        "policy",
        "other",
    ] {
        let case = app.open_case().await;
        let responded = app.respond_at_stage_1(&case.case_id, code).await;
        assert_eq!(responded.responses[0].root_cause, code);
    }
}

async fn a_stage_response_reports_every_missing_field_at_once(db: TestDb) {
    let app = spawn_app(db).await;
    let case = app.open_case().await;

    let mut fields = violated_fields(
        app.handler()
            .issue_stage_response(pb::IssueStageResponseRequest {
                case_id: case.case_id.clone(),
                ..Default::default()
            })
            .await,
    );
    fields.sort();

    assert_eq!(fields, ["outcome", "root_cause", "upheld"]);
}
