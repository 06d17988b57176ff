//! The production shape: `case` and `intake` as separate processes on one
//! Postgres database, intake calling the case service over gRPC with
//! short-lived tokens signed with its own key, which the case service checks
//! with the services' public keys and lets make intake's calls only.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use complaints_auth::{AuthConfig, ServiceSigner, TokenIssuer};
use complaints_domain::role::Role;
use complaints_e2e::{
    Process, START_TIMEOUT, TempDir, binaries, channel, clean_command, run, wait_until_serving,
};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_test_support::net::free_port;
use complaints_test_support::{TestDb, tokens};
use tonic::Code;

use crate::support::{
    assert_recorded, case, intake, one_on_each_channel, reflected_services, submit,
    submit_raw_email, yesterday,
};

const INTAKE: &str = "complaints.intake.v1.IntakeService";
const CASE: &str = "complaints.case.v1.CaseService";

const SECRET: &str = "e2e-production-signing-secret-of-enough-bytes";
const ISSUER: &str = "https://idp.e2e.example";
const AUDIENCE: &str = "complaints-e2e";

fn token(role: Role, subject: &str) -> String {
    let config = AuthConfig::new(ISSUER, AUDIENCE).with_hs256_secret(SECRET);
    tokens::mint(&config, subject, role, Duration::from_secs(600))
}

/// Makes each service's own key pair, as an operator would with openssl:
/// the private key in `<folder>/<service>.key`, the public one in
/// `<folder>/service-keys/<service>.pem`, the folder every process reads.
fn make_service_keys(folder: &Path, services: &[&str]) {
    let public = folder.join("service-keys");
    std::fs::create_dir_all(&public).unwrap();
    for service in services {
        let pair = rcgen::KeyPair::generate().unwrap();
        std::fs::write(folder.join(format!("{service}.key")), pair.serialize_pem()).unwrap();
        std::fs::write(public.join(format!("{service}.pem")), pair.public_key_pem()).unwrap();
    }
}

/// A production process's command: settings from the environment only,
/// signing its calls to the others with its own key.
fn service(
    name: &str,
    binary: &Path,
    folder: &Path,
    database_url: &str,
    listen: SocketAddr,
) -> Command {
    let mut command = clean_command(binary);
    command
        .current_dir(folder)
        .env("DATABASE_URL", database_url)
        .env("COMPLAINTS_LISTEN", listen.to_string())
        .env("COMPLAINTS_JWT_SECRET", SECRET)
        .env("COMPLAINTS_JWT_ISSUER", ISSUER)
        .env("COMPLAINTS_JWT_AUDIENCE", AUDIENCE)
        .env(
            "COMPLAINTS_SERVICE_KEY_FILE",
            folder.join(format!("{name}.key")),
        )
        .env(
            "COMPLAINTS_SERVICE_PUBLIC_KEYS_DIR",
            folder.join("service-keys"),
        );
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_and_case_as_separate_processes_on_postgres_open_and_read_back_complaints() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let folder = TempDir::new("complaints-e2e-production").unwrap();
    let case_address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let intake_address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    make_service_keys(folder.path(), &["intake", "case"]);

    let mut case_process = Process::spawn(
        "case",
        service(
            "case",
            &binaries().case,
            folder.path(),
            &db.url,
            case_address,
        ),
    )
    .unwrap();
    wait_until_serving(&mut case_process, case_address, CASE, START_TIMEOUT)
        .await
        .unwrap();
    let mut intake_command = service(
        "intake",
        &binaries().intake,
        folder.path(),
        &db.url,
        intake_address,
    );
    // Intake keeps no table: as in production, it gets no database.
    intake_command
        .env_remove("DATABASE_URL")
        .env("COMPLAINTS_CASE_URL", format!("http://{case_address}"));
    let mut intake_process = Process::spawn("intake", intake_command).unwrap();
    wait_until_serving(&mut intake_process, intake_address, INTAKE, START_TIMEOUT)
        .await
        .unwrap();

    let to_intake = channel(intake_address).unwrap();
    let to_case = channel(case_address).unwrap();
    assert!(
        reflected_services(&to_intake)
            .await
            .iter()
            .any(|s| s == INTAKE)
    );
    assert!(reflected_services(&to_case).await.iter().any(|s| s == CASE));

    // The public development key is refused in production.
    let development = TokenIssuer::new(&AuthConfig::development())
        .unwrap()
        .issue("mallory", Role::Integration, Duration::from_secs(600))
        .unwrap();
    let requests = one_on_each_channel("prod", yesterday());
    let refused = intake(&to_intake, &development)
        .submit_complaint(requests[3].clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // Submitted through intake, read back from the case service.
    let mut adviser = intake(&to_intake, &token(Role::Adviser, "adviser-4471"));
    let mut integration = intake(&to_intake, &token(Role::Integration, "crm"));
    let mut cases = case(&to_case, &token(Role::ComplaintsHandler, "hana"));
    let mut opened = Vec::new();
    for request in &requests {
        let response = submit(&mut adviser, &mut integration, request.clone()).await;
        let case = assert_recorded(
            &mut cases,
            request,
            &response.case_id,
            &response.register_number,
        )
        .await;
        opened.push(case);
    }
    // The intake service opened each case for its submitter.
    let timeline = cases
        .get_timeline(case_pb::GetTimelineRequest {
            case_id: opened[0].case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(timeline.events[0].actor, "adviser-4471");
    submit_raw_email(&mut integration, &mut cases, "prod-email-1").await;

    // A retried request is the same case; the same id for another
    // complaint is refused.
    let retried = integration
        .submit_complaint(requests[3].clone())
        .await
        .unwrap()
        .into_inner();
    assert!(retried.replayed);
    assert_eq!(retried.case_id, opened[3].case_id);
    assert_eq!(retried.register_number, opened[3].register_number);
    let mut other = requests[3].clone();
    other.summary = "A different complaint".to_owned();
    let clash = integration.submit_complaint(other).await.unwrap_err();
    assert_eq!(clash.code(), Code::AlreadyExists, "{clash:?}");
    let listed = cases
        .list_cases(case_pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 5);

    // Intake's own key is good for intake's calls, never a person's step.
    let intake_key = std::fs::read_to_string(folder.path().join("intake.key")).unwrap();
    let as_intake = ServiceSigner::own_key(
        &AuthConfig::new(ISSUER, AUDIENCE).with_service_signing_key(intake_key),
        "intake",
    )
    .unwrap()
    .sign()
    .unwrap();
    let close = case_pb::CloseCaseRequest {
        case_id: opened[0].case_id.clone(),
        request_id: "close-as-intake".to_owned(),
        reason: "resolved".to_owned(),
    };
    let denied = case(&to_case, &as_intake)
        .close_case(close.clone())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    // Nor does the shared secret make a service any more.
    let shared = case(&to_case, &token(Role::Service, "intake"))
        .close_case(close)
        .await
        .unwrap_err();
    assert_eq!(shared.code(), Code::Unauthenticated, "{shared:?}");

    // The command line with a service per address: --server is the case
    // service's, and a complaint logged goes to --intake-server.
    let cli = |role: Role, args: &[&str]| {
        let mut command = clean_command(&binaries().complaints);
        command
            .args(args)
            .args(["--server", &format!("http://{case_address}")])
            .env("COMPLAINTS_TOKEN", token(role, "adviser-4471"));
        let output = run(command, Duration::from_secs(60)).unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    };
    let submit_args = [
        "submit",
        "--channel",
        "telephone",
        "--name",
        "Mary Jones",
        "--phone",
        "01632 960001",
        "--email",
        "mary@example.com",
        "--recorded-by",
        "adviser-4471",
        "--summary",
        "Pendant alarm did not connect",
    ];
    let (logged, said) = cli(Role::Adviser, &submit_args);
    assert!(
        !logged && said.contains("does not serve this call"),
        "the case service takes no complaint: {said}"
    );
    let intake_server = format!("http://{intake_address}");
    let (logged, said) = cli(
        Role::Adviser,
        &[&submit_args[..], &["--intake-server", &intake_server]].concat(),
    );
    assert!(logged && said.contains("Complaint logged: CMP-"), "{said}");
    let number = said
        .split_whitespace()
        .find(|word| word.starts_with("CMP-"))
        .unwrap()
        .to_owned();
    let (shown, said) = cli(Role::ComplaintsHandler, &["timeline", &number]);
    assert!(shown && said.contains("case.received"), "{said}");

    // Both stop cleanly on SIGTERM.
    for process in [&mut intake_process, &mut case_process] {
        let status = process.stop(Duration::from_secs(10)).unwrap();
        assert!(status.success(), "exit {status}\n{}", process.output());
        assert!(process.stderr().contains("stopped"), "{}", process.output());
    }
}
