//! The process around the calls: health, shutdown, start-up checks, and
//! reaching a case service in another process.

use std::collections::HashMap;

use complaints_auth::{AuthConfig, AuthLayer, TokenVerifier};
use complaints_config::Settings;
use complaints_domain::clock::ManualClock;
use complaints_domain::role::Role;
use complaints_intake::{CaseGateway, SERVICE_NAME, application};
use complaints_proto::complaints::case::v1::case_service_server::CaseServiceServer;
use complaints_test_support::TestDb;
use tonic::transport::server::TcpIncoming;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::helpers::{
    assert_register_number, case_service, monday_morning, on_every_backend, spawn_app,
    spawn_app_with, web_complaint,
};

on_every_backend!(
    #[tokio::test]
    health_reports_serving_without_a_token_and_not_serving_on_shutdown,
    intake_reaches_a_case_service_in_another_process_with_its_service_token,
);

async fn health_reports_serving_without_a_token_and_not_serving_on_shutdown(db: TestDb) {
    let app = spawn_app(db).await;
    let mut health = HealthClient::new(app.channel().await);
    let check = health
        .check(HealthCheckRequest {
            service: SERVICE_NAME.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(check.status, ServingStatus::Serving as i32);

    let mut watch = health
        .watch(HealthCheckRequest {
            service: SERVICE_NAME.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let stopping = tokio::spawn(app.stop());
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), watch.message())
        .await
        .expect("a status change before the server stops")
        .unwrap()
        .unwrap();
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    drop(watch);
    drop(health);
    tokio::time::timeout(std::time::Duration::from_secs(10), stopping)
        .await
        .expect("the server stops once calls in flight end")
        .unwrap();
}

async fn intake_reaches_a_case_service_in_another_process_with_its_service_token(db: TestDb) {
    let clock = ManualClock::new(monday_morning());
    let case = case_service(&db, &clock).await;
    // The case service on its own port, behind authentication.
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let case_address = incoming.local_addr().unwrap();
    let verifier = TokenVerifier::new(&AuthConfig::development()).unwrap();
    let (stop_case, case_stopped) = tokio::sync::oneshot::channel::<()>();
    let case_server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(AuthLayer::new(verifier))
            .add_service(CaseServiceServer::from_arc(case.clone()))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = case_stopped.await;
            }),
    );
    // Intake configured as in production: a lazy channel, a minted token.
    let settings = Settings::from_vars(&HashMap::from([(
        "COMPLAINTS_CASE_URL".to_owned(),
        format!("http://{case_address}"),
    )]))
    .unwrap();
    let gateway = CaseGateway::from_settings(&settings).unwrap();
    let app = spawn_app_with(db, clock, case, gateway).await;

    let response = app
        .client_as(Role::Adviser)
        .await
        .submit_complaint(web_complaint("over-the-network"))
        .await
        .unwrap()
        .into_inner();

    assert_register_number(&response.register_number, 2026);
    let case = app.get_case(&response.case_id).await;
    assert_eq!(case.summary, "Pendant alarm call not answered");
    app.stop().await;
    let _ = stop_case.send(());
    case_server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_binary_refuses_to_start_with_the_development_key() {
    if std::env::var(complaints_config::env::ALLOW_DEV_KEY).is_ok_and(|v| v == "true") {
        // Straight to the file descriptor: libtest captures `eprintln!`.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr().lock(),
            b"skipped: COMPLAINTS_ALLOW_DEV_KEY=true is set in this environment\n",
        );
        return;
    }
    let settings = Settings::from_vars(&HashMap::from([(
        "COMPLAINTS_LISTEN".to_owned(),
        "127.0.0.1:0".to_owned(),
    )]))
    .unwrap();
    assert!(settings.auth.is_development());
    let error = application(
        settings,
        std::sync::Arc::new(complaints_domain::clock::SystemClock),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{error:#}").contains("COMPLAINTS_ALLOW_DEV_KEY"),
        "{error:#}"
    );
}

/// Intake keeps no table: its binary opens no database, so it starts and
/// serves with a database URL nothing answers at (and needs none).
#[tokio::test]
async fn the_binary_starts_with_a_real_key_and_no_database_and_serves_health() {
    let settings = Settings::from_vars(&HashMap::from([
        (
            "DATABASE_URL".to_owned(),
            "postgres://intake@127.0.0.1:1/nothing-listens-here".to_owned(),
        ),
        ("COMPLAINTS_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "COMPLAINTS_JWT_SECRET".to_owned(),
            "a-deployment-secret-that-is-long-enough".to_owned(),
        ),
        (
            "COMPLAINTS_JWT_ISSUER".to_owned(),
            "https://idp.example".to_owned(),
        ),
        (
            "COMPLAINTS_JWT_AUDIENCE".to_owned(),
            "complaints".to_owned(),
        ),
    ]))
    .unwrap();
    let application = application(
        settings,
        std::sync::Arc::new(complaints_domain::clock::SystemClock),
    )
    .await
    .unwrap();
    let port = application.port();
    assert_ne!(port, 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: SERVICE_NAME.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
