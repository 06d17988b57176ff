//! `complaints dev`: the whole suite in one process, as a developer runs it.

use std::net::SocketAddr;
use std::time::Duration;

use complaints_e2e::{Process, START_TIMEOUT, TempDir, binaries, channel, clean_command};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::case::v1::case_service_client::CaseServiceClient;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{
    DueDates, assert_due_dates, assert_recorded, case, intake, one_on_each_channel,
    reflected_services, submit, submit_raw_email, yesterday,
};

const INTAKE: &str = "complaints.intake.v1.IntakeService";
const CASE: &str = "complaints.case.v1.CaseService";

/// A token from `complaints token`, as a developer gets one.
fn token(role: &str, subject: &str) -> String {
    let token = complaints_e2e::dev_token(role, subject);
    assert_eq!(token.split('.').count(), 3, "a JWT: {token:?}");
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_suite_takes_a_complaint_on_every_channel_and_stops_on_sigterm() {
    let data = TempDir::new("complaints-e2e-dev").unwrap();
    let mut command = clean_command(&binaries().complaints);
    command
        .current_dir(data.path())
        .arg("dev")
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data.path().join("data"));
    let mut suite = Process::spawn("complaints dev", command).unwrap();
    let address: SocketAddr = suite
        .wait_for_line("ready: listening on ", START_TIMEOUT)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(address.port(), 0, "the bound port is reported");
    let channel = channel(address).unwrap();

    // Health and reflection answer without a token.
    let mut health = HealthClient::new(channel.clone());
    for service in [INTAKE, CASE] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
    }
    let services = reflected_services(&channel).await;
    for service in [INTAKE, CASE, "grpc.health.v1.Health"] {
        assert!(
            services.iter().any(|s| s == service),
            "{service} not in {services:?}"
        );
    }
    // Everything else needs a token.
    let refused = CaseServiceClient::new(channel.clone())
        .list_cases(case_pb::ListCasesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // One complaint on each channel, and a raw email.
    let mut adviser = intake(&channel, &token("adviser", "adviser-4471"));
    let mut integration = intake(&channel, &token("integration", "crm"));
    let mut cases = case(&channel, &token("complaints_handler", "hana"));
    let requests = one_on_each_channel("dev", yesterday());
    let mut numbers = Vec::new();
    for request in requests.clone() {
        let response = submit(&mut adviser, &mut integration, request.clone()).await;
        assert_recorded(
            &mut cases,
            &request,
            &response.case_id,
            &response.register_number,
        )
        .await;
        numbers.push(response.register_number);
    }
    submit_raw_email(&mut integration, &mut cases, "dev-email-1").await;
    numbers.sort();
    numbers.dedup();
    assert_eq!(
        numbers.len(),
        4,
        "each complaint has its own register number"
    );

    // A retried submission is the same case.
    let retry = requests[3].clone();
    let first = cases
        .list_cases(case_pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .total_size;
    let again = integration
        .submit_complaint(retry.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_due_dates(
        &again,
        &DueDates::counted(
            chrono::DateTime::from_timestamp(retry.received_at.unwrap().seconds, 0).unwrap(),
        ),
    );
    let after = cases
        .list_cases(case_pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .total_size;
    assert_eq!((first, after), (5, 5));

    // SIGTERM stops it cleanly, saying so.
    let status = suite.stop(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "exit {status}\n{}", suite.output());
    assert!(
        suite.stdout().lines().any(|line| line == "stopped"),
        "{}",
        suite.output()
    );
    assert!(
        data.path().join("data").join("complaints.db").is_file(),
        "the SQLite database is in the data folder"
    );
}
