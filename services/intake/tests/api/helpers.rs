//! `spawn_app`: a fresh migrated database, the real case service, and
//! intake's [`Application`] serving on a free port, with clients and
//! tokens for any role.

use std::net::SocketAddr;
use std::sync::Arc;

use complaints_auth::{AuthConfig, BearerToken};
use complaints_case::{CaseApp, CaseGrpc, EvidenceStore};
use complaints_domain::calendar::Calendar;
use complaints_domain::clock::{Clock, ManualClock};
use complaints_domain::policy::Policy;
use complaints_domain::role::{Actor, Role};
use complaints_intake::{CaseGateway, IntakeApp, application_with_app};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::case::v1::case_service_server::CaseService;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::intake::v1::SubmitComplaintRequest;
use complaints_proto::complaints::intake::v1::intake_service_client::IntakeServiceClient;
use complaints_test_support::server::Served;
use complaints_test_support::{TestDb, tokens};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

pub type Client = IntakeServiceClient<InterceptedService<Channel, BearerToken>>;

pub(crate) use complaints_test_support::on_every_backend;
pub use complaints_test_support::time::{monday_morning, timestamp};

pub struct TestApp {
    // First, so dropped first: a failing test's server stops before its
    // database is dropped.
    server: Served<anyhow::Error>,
    pub address: SocketAddr,
    /// Kept for the life of the app: dropping it deletes the database.
    db: TestDb,
    /// The case service's handler, to look at cases as the platform does.
    pub case: Arc<CaseGrpc>,
    /// Where the case service keeps evidence bytes, when it has a store.
    pub evidence_dir: Option<tempfile::TempDir>,
}

/// Intake in front of the real case service, in process, sharing one
/// database as in the embedded suite.
/// The case service keeps evidence under a temporary directory.
pub async fn spawn_app(db: TestDb) -> TestApp {
    let clock = ManualClock::new(monday_morning());
    let evidence_dir = tempfile::tempdir().expect("an evidence directory");
    let case = case_service_keeping_evidence(&db, &clock, evidence_dir.path()).await;
    let gateway = CaseGateway::in_process(case.clone());
    let mut app = spawn_app_with(db, clock, case, gateway).await;
    app.evidence_dir = Some(evidence_dir);
    app
}

/// [`case_service`] keeping evidence under `dir`, within the default limits.
pub async fn case_service_keeping_evidence(
    db: &TestDb,
    clock: &ManualClock,
    dir: &std::path::Path,
) -> Arc<CaseGrpc> {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let store = complaints_blobs::BlobStore::from_url(&dir.display().to_string())
        .expect("an evidence store");
    let app = CaseApp::new(db.db.clone(), Policy::default(), Calendar::default(), clock)
        .await
        .expect("start the case service")
        .with_evidence(EvidenceStore::new(
            store,
            complaints_blobs::Limits::default(),
        ));
    Arc::new(CaseGrpc::new(app))
}

/// The real case service's handler on `db`.
pub async fn case_service(db: &TestDb, clock: &ManualClock) -> Arc<CaseGrpc> {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    let app = CaseApp::new(db.db.clone(), Policy::default(), Calendar::default(), clock)
        .await
        .expect("start the case service");
    Arc::new(CaseGrpc::new(app))
}

pub async fn spawn_app_with(
    db: TestDb,
    clock: ManualClock,
    case: Arc<CaseGrpc>,
    gateway: CaseGateway,
) -> TestApp {
    let intake = IntakeApp::new(gateway, Arc::new(clock.clone()));
    let application = application_with_app(
        "127.0.0.1:0".parse().unwrap(),
        &AuthConfig::development(),
        intake,
    )
    .await
    .expect("build intake");
    let address: SocketAddr = format!("127.0.0.1:{}", application.port()).parse().unwrap();
    let server = Served::spawn(|stopped| application.run_until_stopped(stopped));
    TestApp {
        server,
        address,
        db,
        case,
        evidence_dir: None,
    }
}

impl TestApp {
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .expect("connect to intake")
    }

    pub fn token(&self, role: Role) -> BearerToken {
        tokens::bearer(&AuthConfig::development(), &format!("test-{role}"), role)
    }

    /// A client whose calls carry a token for `role`.
    pub async fn client_as(&self, role: Role) -> Client {
        IntakeServiceClient::with_interceptor(self.channel().await, self.token(role))
    }

    /// A mail gateway or CRM: the usual caller.
    pub async fn client(&self) -> Client {
        self.client_as(Role::Integration).await
    }

    /// Every case, as the case service lists them.
    pub async fn cases(&self) -> Vec<case_pb::Case> {
        let mut request = tonic::Request::new(case_pb::ListCasesRequest {
            page_size: 500,
            ..Default::default()
        });
        request
            .extensions_mut()
            .insert(Actor::new("test-reader", Role::ComplaintsHandler));
        let response = self.case.list_cases(request).await.unwrap().into_inner();
        assert_eq!(response.cases.len(), response.total_size as usize);
        response.cases
    }

    /// The database the case service keeps its records in.
    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.db.db
    }

    pub async fn case_count(&self) -> usize {
        self.cases().await.len()
    }

    pub async fn get_case(&self, case_id: &str) -> case_pb::Case {
        let mut request = tonic::Request::new(case_pb::GetCaseRequest {
            lookup: Some(case_pb::get_case_request::Lookup::CaseId(
                case_id.to_owned(),
            )),
        });
        request
            .extensions_mut()
            .insert(Actor::new("test-reader", Role::ComplaintsHandler));
        self.case
            .get_case(request)
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

/// A valid web complaint; tests change what they need.
pub fn web_complaint(request_id: &str) -> SubmitComplaintRequest {
    SubmitComplaintRequest {
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
        scanned_letter: None,
    }
}

pub fn postal_address() -> common::PostalAddress {
    common::PostalAddress {
        lines: vec!["12 Park Row".to_owned()],
        town: "Leeds".to_owned(),
        postcode: "ls1 5hd".to_owned(),
    }
}

/// The status, checked to be `INVALID_ARGUMENT`, and the fields of its
/// `google.rpc.BadRequest` violations.
pub fn violated_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
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

/// The description of the violation on `field`.
pub fn violation_on(status: &Status, field: &str) -> String {
    let details = status.get_error_details();
    details
        .bad_request()
        .and_then(|bad_request| {
            bad_request
                .field_violations
                .iter()
                .find(|violation| violation.field == field)
        })
        .map(|violation| violation.description.clone())
        .unwrap_or_else(|| panic!("no violation on {field} in {status:?}"))
}

/// `CMP-YYYY-NNNNNN`.
pub fn assert_register_number(number: &str, year: i32) {
    let prefix = format!("CMP-{year}-");
    let sequence = number
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{number:?} does not start with {prefix}"));
    assert!(
        sequence.len() == 6 && sequence.bytes().all(|b| b.is_ascii_digit()),
        "{number:?} is not CMP-YYYY-NNNNNN"
    );
}

pub fn date(year: i32, month: i32, day: i32) -> complaints_proto::google::r#type::Date {
    complaints_proto::google::r#type::Date { year, month, day }
}
