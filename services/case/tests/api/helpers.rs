//! `spawn_app`: a fresh migrated database and the case service's production
//! [`Application`] serving on a free port, with a manual clock, and clients
//! carrying tokens for any subject and role.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use chrono::{DateTime, Utc};
use complaints_auth::{AuthConfig, BearerToken};
use complaints_case::application;
use complaints_config::{Settings, env};
use complaints_domain::clock::{Clock, ManualClock};
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1 as pb;
use complaints_proto::complaints::case::v1::case_service_client::CaseServiceClient;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::google::r#type::Date;
use complaints_test_support::server::Served;
use complaints_test_support::{TestDb, tokens};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

pub type Client = CaseServiceClient<InterceptedService<Channel, BearerToken>>;

pub(crate) use complaints_test_support::on_every_backend;
pub use complaints_test_support::time::{monday_morning, timestamp};

/// The test deployment's signing key: not the development key, which the
/// production `Application` refuses.
const SECRET: &str = "case-service-integration-tests-signing-secret";
const ISSUER: &str = "https://idp.test.example";
const AUDIENCE: &str = "complaints-case-tests";

/// The token configuration of the served test deployment.
pub fn auth_config() -> AuthConfig {
    AuthConfig::new(ISSUER, AUDIENCE).with_hs256_secret(SECRET)
}

pub struct TestApp {
    // First, so dropped first: a failing test's server stops before its
    // database is dropped.
    server: Served<anyhow::Error>,
    pub clock: ManualClock,
    /// The database the service writes to, for looking under the service.
    pub db: TestDb,
    channel: Channel,
    /// Where the service keeps evidence bytes (`COMPLAINTS_EVIDENCE_URL`),
    /// removed with the app.
    pub evidence_dir: tempfile::TempDir,
}

/// The case service as the `case` binary builds it, from settings naming
/// `db`, a free port and a test signing key, with a manual clock at
/// [`monday_morning`].
pub async fn spawn_app(db: TestDb) -> TestApp {
    spawn_app_with(db, &[]).await
}

/// [`spawn_app`] with further settings (`COMPLAINTS_*` variables).
pub async fn spawn_app_with(db: TestDb, extra: &[(&str, &str)]) -> TestApp {
    let evidence_dir = tempfile::tempdir().expect("an evidence directory");
    let settings = settings(&db, evidence_dir.path(), extra);
    let clock = ManualClock::new(monday_morning());
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let application = application(settings, shared)
        .await
        .expect("build the case service");
    let address: SocketAddr = format!("127.0.0.1:{}", application.port()).parse().unwrap();
    let server = Served::spawn(|stopped| application.run_until_stopped(stopped));
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_lazy();
    TestApp {
        server,
        clock,
        db,
        channel,
        evidence_dir,
    }
}

/// The settings [`spawn_app_with`] gives the service: `db`, evidence kept
/// in `evidence_dir`, a free port, the test signing key, and `extra`.
pub fn settings(db: &TestDb, evidence_dir: &std::path::Path, extra: &[(&str, &str)]) -> Settings {
    let evidence_url = evidence_dir.display().to_string();
    let vars: HashMap<String, String> = [
        (env::DATABASE_URL, db.url.as_str()),
        (env::EVIDENCE_URL, evidence_url.as_str()),
        (env::LISTEN, "127.0.0.1:0"),
        (env::JWT_SECRET, SECRET),
        (env::JWT_ISSUER, ISSUER),
        (env::JWT_AUDIENCE, AUDIENCE),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Settings::from_vars(&vars).expect("test settings")
}

/// A case service of a test's own over `app`'s database, and the count of
/// the statements it runs whose SQL `counted` picks.
pub async fn counting_service(
    app: &TestApp,
    counted: impl Fn(&str) -> bool + Send + Sync + 'static,
) -> (complaints_case::CaseApp, Arc<AtomicUsize>) {
    let (db, statements) = complaints_test_support::counting(&app.db.db, counted);
    let settings = settings(&app.db, app.evidence_dir.path(), &[]);
    let clock: Arc<dyn Clock> = Arc::new(app.clock.clone());
    let service = complaints_case::CaseApp::new(db, settings.policy, settings.calendar, clock)
        .await
        .expect("a case service over the test's database");
    (service, statements)
}

impl TestApp {
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub fn token(&self, subject: &str, role: Role) -> BearerToken {
        tokens::bearer(&auth_config(), subject, role)
    }

    /// A client whose calls carry a token naming `subject` as `role`.
    pub fn client(&self, subject: &str, role: Role) -> Client {
        CaseServiceClient::with_interceptor(self.channel(), self.token(subject, role))
    }

    /// The complaints department: `hana`, who handles stage 1.
    pub fn handler(&self) -> Client {
        self.client("hana", Role::ComplaintsHandler)
    }

    /// The platform itself (intake opening cases, retention erasing them).
    pub fn platform(&self) -> Client {
        self.client("intake", Role::Service)
    }

    /// The service's "now".
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Moves the service's clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by).unwrap();
    }

    /// Opens `request` as intake would, and returns the response.
    pub async fn open(&self, request: pb::OpenCaseRequest) -> pb::OpenCaseResponse {
        self.platform()
            .open_case(request)
            .await
            .unwrap_or_else(|status| panic!("OpenCase refused: {status:?}"))
            .into_inner()
    }

    /// Opens a web complaint from Ann Jones and returns the case.
    pub async fn open_case(&self) -> pb::Case {
        self.open(complaint(&uuid::Uuid::new_v4().to_string()))
            .await
            .case
            .unwrap()
    }

    pub async fn get(&self, case_id: &str) -> pb::Case {
        self.handler()
            .get_case(get_by_id(case_id))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    pub async fn timeline(&self, case_id: &str) -> pb::GetTimelineResponse {
        self.handler()
            .get_timeline(pb::GetTimelineRequest {
                case_id: case_id.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// The kinds of the case's timeline events, oldest first.
    pub async fn event_kinds(&self, case_id: &str) -> Vec<String> {
        self.timeline(case_id)
            .await
            .events
            .into_iter()
            .map(|event| event.kind)
            .collect()
    }

    /// `hana` issues the stage 1 response (not upheld, `root_cause`).
    pub async fn respond_at_stage_1(&self, case_id: &str, root_cause: &str) -> pb::Case {
        self.handler()
            .issue_stage_response(stage_response(case_id, root_cause))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    /// Stops the server as SIGTERM would, and waits for it to finish.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// A valid web complaint from Ann Jones, logged by a CRM; tests change what
/// they need.
pub fn complaint(request_id: &str) -> pb::OpenCaseRequest {
    pb::OpenCaseRequest {
        request_id: request_id.to_owned(),
        channel: common::Channel::Web as i32,
        received_at: None,
        complainant: Some(common::Complainant {
            full_name: "Ann Jones".to_owned(),
            email: "ann.jones@example.org".to_owned(),
            phone: "0113 496 0000".to_owned(),
            postal_address: None,
            preferred_contact: common::ContactMethod::Unspecified as i32,
            customer_ref: "CRM-1001".to_owned(),
        }),
        summary: "Pendant alarm call not answered".to_owned(),
        details: "My mother pressed her pendant on Saturday night.\nNobody answered.".to_owned(),
        recorded_by: String::new(),
        scan_reference: String::new(),
        submitted_by: "crm".to_owned(),
        submitted_by_role: common::Role::Integration as i32,
        ..Default::default()
    }
}

pub fn get_by_id(case_id: &str) -> pb::GetCaseRequest {
    pb::GetCaseRequest {
        lookup: Some(pb::get_case_request::Lookup::CaseId(case_id.to_owned())),
    }
}

pub fn get_by_number(number: &str) -> pb::GetCaseRequest {
    pb::GetCaseRequest {
        lookup: Some(pb::get_case_request::Lookup::RegisterNumber(
            number.to_owned(),
        )),
    }
}

pub fn stage_response(case_id: &str, root_cause: &str) -> pb::IssueStageResponseRequest {
    pb::IssueStageResponseRequest {
        case_id: case_id.to_owned(),
        request_id: String::new(),
        outcome: "We checked the call logs and the alarm was answered within 60 seconds."
            .to_owned(),
        upheld: pb::Finding::NotUpheld as i32,
        root_cause: root_cause.to_owned(),
        lessons_learned: String::new(),
    }
}

pub fn note(case_id: &str, request_id: &str, text: &str) -> pb::AddNoteRequest {
    pb::AddNoteRequest {
        case_id: case_id.to_owned(),
        request_id: request_id.to_owned(),
        text: text.to_owned(),
    }
}

pub fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// The status of a call that had to fail, checked to have `code`.
pub fn refused<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
    code: Code,
) -> Status {
    match result {
        Ok(response) => panic!("expected {code:?}, got {:?}", response.into_inner()),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// The fields of an `INVALID_ARGUMENT` status's `google.rpc.BadRequest`
/// violations.
pub fn violated_fields<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
) -> Vec<String> {
    let status = refused(result, Code::InvalidArgument);
    let details = status.get_error_details();
    let bad_request = details
        .bad_request()
        .unwrap_or_else(|| panic!("no BadRequest detail in {status:?}"));
    bad_request
        .field_violations
        .iter()
        .map(|violation| violation.field.clone())
        .collect()
}
