//! Who may submit: a token is required, and the role must be allowed.

use complaints_auth::{AuthConfig, BearerToken, TokenIssuer};
use complaints_domain::role::Role;
use complaints_proto::complaints::intake::v1::SubmitEmailRequest;
use complaints_proto::complaints::intake::v1::intake_service_client::IntakeServiceClient;
use complaints_test_support::TestDb;
use tonic::Code;

use crate::helpers::{on_every_backend, spawn_app, web_complaint};

on_every_backend!(
    #[tokio::test]
    a_call_without_a_token_is_unauthenticated,
    a_token_signed_with_another_key_is_unauthenticated,
    a_role_that_may_not_submit_is_permission_denied,
    every_submitting_role_may_submit,
    an_adviser_may_not_pass_on_raw_email,
);

async fn a_call_without_a_token_is_unauthenticated(db: TestDb) {
    let app = spawn_app(db).await;
    let mut client = IntakeServiceClient::new(app.channel().await);
    let status = client
        .submit_complaint(web_complaint("anonymous"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(app.case_count().await, 0);
}

async fn a_token_signed_with_another_key_is_unauthenticated(db: TestDb) {
    let app = spawn_app(db).await;
    let forger = TokenIssuer::new(
        &AuthConfig::development().with_hs256_secret("another-secret-that-is-long-enough-to-sign"),
    )
    .unwrap();
    let token = forger
        .issue("mallory", Role::Service, std::time::Duration::from_secs(60))
        .unwrap();
    let mut client = IntakeServiceClient::with_interceptor(
        app.channel().await,
        BearerToken::new(token).unwrap(),
    );
    let status = client
        .submit_complaint(web_complaint("forged"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(app.case_count().await, 0);
}

async fn a_role_that_may_not_submit_is_permission_denied(db: TestDb) {
    let app = spawn_app(db).await;
    for role in [Role::Director, Role::CxManager, Role::OpsLead] {
        let status = app
            .client_as(role)
            .await
            .submit_complaint(web_complaint(&format!("by-{role}")))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{role}: {status:?}");
    }
    assert_eq!(app.case_count().await, 0);
}

async fn every_submitting_role_may_submit(db: TestDb) {
    let app = spawn_app(db).await;
    let roles = [
        Role::Adviser,
        Role::ComplaintsHandler,
        Role::Integration,
        Role::Service,
    ];
    for role in roles {
        app.client_as(role)
            .await
            .submit_complaint(web_complaint(&format!("by-{role}")))
            .await
            .unwrap_or_else(|status| panic!("{role}: {status:?}"));
    }
    assert_eq!(app.case_count().await, roles.len());
}

async fn an_adviser_may_not_pass_on_raw_email(db: TestDb) {
    let app = spawn_app(db).await;
    let status = app
        .client_as(Role::Adviser)
        .await
        .submit_email(SubmitEmailRequest {
            raw_message: b"From: ann@example.org\r\nSubject: Hi\r\n\r\nBody\r\n".to_vec(),
            received_at: None,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(app.case_count().await, 0);
}
