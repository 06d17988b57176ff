//! `spawn_app`: a fresh migrated database shared by the real case service
//! (in process, as the embedded suite runs it) and the notification
//! service's handlers, delivery worker and notice relay, built from
//! settings the way the `notification` binary builds them, with a manual
//! clock. Delivery passes and relay passes run only when a test calls them.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use complaints_case::{CaseApp, CaseGrpc};
use complaints_config::{Settings, env};
use complaints_domain::clock::{Clock, ManualClock, SystemClock};
use complaints_domain::role::{Actor, Role};
use complaints_notification::{
    CASE_TOPIC, Delivery, DeliverySettings, NoticeRelay, NotificationGrpc,
};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::case::v1::case_service_server::CaseService;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::notification::v1 as pb;
use complaints_proto::complaints::notification::v1::notification_service_server::NotificationService;
use complaints_rpc::peers::CasePeer;
use complaints_store::relay::Relay;
use complaints_test_support::TestDb;
use tokio::sync::Notify;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

use crate::smtp::{SmtpServer, smtp_available};

/// `on_every_backend!(wrap = crate::helpers::bounded; ...)`: a SQLite and a
/// Postgres variant of each test, each bounded in time by [`bounded`].
pub(crate) use complaints_test_support::on_every_backend;
pub use complaints_test_support::time::monday_morning;

/// The longest any one test may take.
const TEST_LIMIT: Duration = Duration::from_secs(120);
/// The longest one delivery or relay pass may take.
const PASS_LIMIT: Duration = Duration::from_secs(60);

/// Runs a test body, failing it if it has not finished within [`TEST_LIMIT`].
pub async fn bounded(test: impl Future<Output = ()>) {
    if tokio::time::timeout(TEST_LIMIT, test).await.is_err() {
        panic!("the test did not finish within {TEST_LIMIT:?}");
    }
}

pub const MAIL_DOMAIN: &str = "telecare.test";
pub const STAFF_DOMAIN: &str = "staff.telecare.test";

/// The notification service's settings: SMTP at `127.0.0.1:smtp_port`, the
/// outbox under `dir`, plus `extra` variables.
pub fn settings(dir: &std::path::Path, smtp_port: u16, extra: &[(&str, &str)]) -> Settings {
    let data_dir = dir.display().to_string();
    let outbox = dir.join("outbox").display().to_string();
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let mail_from = format!("Example Telecare Complaints <complaints@{MAIL_DOMAIN}>");
    let mut vars: HashMap<String, String> = [
        (env::DATA_DIR, data_dir.as_str()),
        (env::SMTP_URL, smtp.as_str()),
        (env::MAIL_FROM, mail_from.as_str()),
        (env::STAFF_EMAIL_DOMAIN, STAFF_DOMAIN),
        (env::OUTBOX_DIR, outbox.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (name, value) in extra {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    Settings::from_vars(&vars).expect("test settings")
}

pub struct TestApp {
    /// The clock the services run on, which tests move; for an app on the
    /// system clock ([`spawn_app_on_system_clock`]) nothing reads it.
    pub clock: ManualClock,
    /// The clock the services read.
    shared: Arc<dyn Clock>,
    settings: Settings,
    case_peer: CasePeer,
    /// The database both services write to, for looking under them.
    pub db: TestDb,
    pub case: CaseGrpc,
    pub notifications: NotificationGrpc,
    pub delivery: Delivery,
    relay: Relay,
    /// Holds the outbox folder (letters) for as long as the app lives.
    dir: tempfile::TempDir,
}

/// The notification service over `db`, sending email to an SMTP server on
/// `smtp_port` (which may have nothing listening on it).
pub async fn spawn_app(db: TestDb, smtp_port: u16) -> TestApp {
    spawn_app_with(db, smtp_port, &[]).await
}

/// [`spawn_app`] with further settings (`COMPLAINTS_*` variables).
pub async fn spawn_app_with(db: TestDb, smtp_port: u16, extra: &[(&str, &str)]) -> TestApp {
    let clock = ManualClock::new(monday_morning());
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    spawn_app_on(db, smtp_port, extra, clock, shared).await
}

/// [`spawn_app_with`] on the system clock, for what runs out in real time
/// (leases); [`TestApp::now`] and [`TestApp::advance`] do not apply.
pub async fn spawn_app_on_system_clock(
    db: TestDb,
    smtp_port: u16,
    extra: &[(&str, &str)],
) -> TestApp {
    let unused = ManualClock::new(monday_morning());
    spawn_app_on(db, smtp_port, extra, unused, Arc::new(SystemClock)).await
}

async fn spawn_app_on(
    db: TestDb,
    smtp_port: u16,
    extra: &[(&str, &str)],
    clock: ManualClock,
    shared: Arc<dyn Clock>,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path(), smtp_port, extra);
    let case_app = CaseApp::new(
        db.db.clone(),
        settings.policy.clone(),
        settings.calendar.clone(),
        shared.clone(),
    )
    .await
    .expect("start the case service");
    let case = CaseGrpc::new(case_app);
    let peer = CasePeer::in_process("notification", Arc::new(case.clone()));
    let delivery = DeliverySettings::from_config(&settings.delivery)
        .expect("delivery settings")
        .delivery(
            db.db.clone(),
            peer.clone(),
            shared.clone(),
            settings.calendar.clone(),
            settings.policy.clone(),
        );
    let relay = Relay::new(
        db.db.clone(),
        CASE_TOPIC,
        Arc::new(NoticeRelay { case: peer.clone() }),
        shared.clone(),
        Arc::new(Notify::new()),
    );
    let notifications =
        NotificationGrpc::new(db.db.clone(), shared.clone(), Arc::new(Notify::new()));
    TestApp {
        clock,
        shared,
        settings,
        case_peer: peer,
        db,
        case,
        notifications,
        delivery,
        relay,
        dir,
    }
}

/// A request as `subject` with `role` makes it, once authenticated.
pub fn as_actor<T>(message: T, subject: &str, role: Role) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(Actor::new(subject, role));
    request
}

/// A case as opened, with what the tests need of it.
#[derive(Debug, Clone)]
pub struct Opened {
    pub case_id: String,
    pub register_number: String,
    pub response: case_pb::OpenCaseResponse,
}

impl TestApp {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by).unwrap();
    }

    /// Moves the clock to just past `at`.
    pub fn advance_past(&self, at: DateTime<Utc>) {
        self.advance(at - self.now() + chrono::Duration::seconds(1));
    }

    /// Another replica's delivery worker: built from the same settings as
    /// [`TestApp::delivery`], with its own worker id and its own connection
    /// pool to the same database.
    pub async fn replica(&self) -> Delivery {
        let db = complaints_store::db::connect(&self.db.url)
            .await
            .expect("a replica's own connection to the test database");
        self.delivery_over(db)
    }

    /// A delivery worker over the test's own connection, and the count of
    /// the statements it runs whose SQL `counted` picks.
    pub fn counting_replica(
        &self,
        counted: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> (Delivery, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let (db, statements) = complaints_test_support::counting(&self.db.db, counted);
        (self.delivery_over(db), statements)
    }

    fn delivery_over(&self, db: sea_orm::DatabaseConnection) -> Delivery {
        DeliverySettings::from_config(&self.settings.delivery)
            .expect("delivery settings")
            .delivery(
                db,
                self.case_peer.clone(),
                self.shared.clone(),
                self.settings.calendar.clone(),
                self.settings.policy.clone(),
            )
    }

    /// Where letters are queued for printing.
    pub fn letters_dir(&self) -> PathBuf {
        self.dir.path().join("outbox").join("letters")
    }

    /// Opens a case as intake does (the platform's `service` principal).
    pub async fn open(&self, request: case_pb::OpenCaseRequest) -> Opened {
        let response = self
            .case
            .open_case(as_actor(request, "intake", Role::Service))
            .await
            .unwrap_or_else(|status| panic!("OpenCase refused: {status:?}"))
            .into_inner();
        let case = response.case.clone().unwrap();
        Opened {
            case_id: case.case_id,
            register_number: case.register_number,
            response,
        }
    }

    pub async fn get_case(&self, case_id: &str) -> case_pb::Case {
        let request = case_pb::GetCaseRequest {
            lookup: Some(case_pb::get_case_request::Lookup::CaseId(
                case_id.to_owned(),
            )),
        };
        self.case
            .get_case(as_actor(request, "hana", Role::ComplaintsHandler))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    /// The case's timeline events, oldest first.
    pub async fn timeline(&self, case_id: &str) -> Vec<case_pb::TimelineEvent> {
        let request = case_pb::GetTimelineRequest {
            case_id: case_id.to_owned(),
        };
        let timeline = self
            .case
            .get_timeline(as_actor(request, "hana", Role::ComplaintsHandler))
            .await
            .unwrap()
            .into_inner();
        assert!(timeline.verified, "the timeline's hash chain must verify");
        timeline.events
    }

    /// RequestNotification as the platform's services make it.
    pub async fn request(
        &self,
        request: pb::RequestNotificationRequest,
    ) -> Result<tonic::Response<pb::RequestNotificationResponse>, Status> {
        self.notifications
            .request_notification(as_actor(request, "case", Role::Service))
            .await
    }

    /// Asks for the stage 1 acknowledgement of `case`, as the case
    /// service's relay does (quoting the resolve-by date).
    pub async fn request_acknowledgement(&self, case: &Opened) -> pb::RequestNotificationResponse {
        self.request(acknowledgement(case))
            .await
            .unwrap_or_else(|status| panic!("RequestNotification refused: {status:?}"))
            .into_inner()
    }

    /// Every notification about the case, as the complaints team sees them.
    pub async fn notifications(&self, case_id: &str) -> Vec<pb::Notification> {
        let request = pb::ListNotificationsRequest {
            case_id: case_id.to_owned(),
            page_size: 100,
            page_token: String::new(),
        };
        self.notifications
            .list_notifications(as_actor(request, "hana", Role::ComplaintsHandler))
            .await
            .unwrap()
            .into_inner()
            .notifications
    }

    /// One notification about the case, by id.
    pub async fn notification(&self, case_id: &str, id: &str) -> pb::Notification {
        self.notifications(case_id)
            .await
            .into_iter()
            .find(|n| n.notification_id == id)
            .unwrap_or_else(|| panic!("no notification {id} on case {case_id}"))
    }

    pub async fn content(
        &self,
        id: &str,
    ) -> Result<tonic::Response<pb::GetNotificationContentResponse>, Status> {
        let request = pb::GetNotificationContentRequest {
            notification_id: id.to_owned(),
        };
        self.notifications
            .get_notification_content(as_actor(request, "hana", Role::ComplaintsHandler))
            .await
    }

    /// One delivery pass at the clock's "now"; how many it handled.
    pub async fn deliver(&self) -> usize {
        tokio::time::timeout(PASS_LIMIT, self.delivery.deliver_due())
            .await
            .expect("a delivery pass finishes in time")
            .expect("a delivery pass")
    }

    /// One pass of the notice relay to the case timeline; how many arrived.
    pub async fn relay(&self) -> usize {
        tokio::time::timeout(PASS_LIMIT, self.relay.run_once())
            .await
            .expect("a relay pass finishes in time")
            .expect("a relay pass")
    }

    /// The undelivered notices for the case timeline, as JSON.
    pub async fn pending_notices(&self) -> Vec<serde_json::Value> {
        complaints_store::outbox::pending(&self.db.db, CASE_TOPIC, self.now(), 100)
            .await
            .unwrap()
            .iter()
            .map(|message| serde_json::from_str(&message.payload).unwrap())
            .collect()
    }
}

/// A running test SMTP server with its own inbox, or `None` when the test
/// is to be skipped (outside CI, with no aiosmtpd to be had).
pub fn smtp_server(port: u16) -> Option<(SmtpServer, tempfile::TempDir)> {
    if !smtp_available() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(port, &dir.path().join("inbox")).unwrap();
    Some((server, dir))
}

/// An email complaint from Margaret Smith at `email`, no preference stated.
pub fn email_complaint(email: &str) -> case_pb::OpenCaseRequest {
    complaint(
        common::Channel::Email,
        common::Complainant {
            full_name: "Margaret Smith".to_owned(),
            email: email.to_owned(),
            ..common::Complainant::default()
        },
    )
}

/// Margaret Smith's address.
pub fn address() -> common::PostalAddress {
    common::PostalAddress {
        lines: vec!["Flat 2".to_owned(), "14 Rosemary Court".to_owned()],
        town: "Harrogate".to_owned(),
        postcode: "hg1 2ab".to_owned(),
    }
}

/// A posted complaint from Margaret Smith: an address, no email.
pub fn post_complaint() -> case_pb::OpenCaseRequest {
    let mut request = complaint(
        common::Channel::Post,
        common::Complainant {
            full_name: "Margaret Smith".to_owned(),
            postal_address: Some(address()),
            ..common::Complainant::default()
        },
    );
    request.scan_reference = "SCAN-2026-0042".to_owned();
    request
}

/// A complaint on `channel` from `complainant`, logged by a CRM.
pub fn complaint(
    channel: common::Channel,
    complainant: common::Complainant,
) -> case_pb::OpenCaseRequest {
    case_pb::OpenCaseRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        channel: channel as i32,
        received_at: None,
        complainant: Some(complainant),
        summary: "Pendant alarm call not answered".to_owned(),
        details: "My mother pressed her pendant on Saturday night. Nobody answered.".to_owned(),
        recorded_by: String::new(),
        scan_reference: String::new(),
        submitted_by: "crm".to_owned(),
        submitted_by_role: common::Role::Integration as i32,
        ..Default::default()
    }
}

/// The stage 1 acknowledgement of `case`, as the case service asks for it.
pub fn acknowledgement(case: &Opened) -> pb::RequestNotificationRequest {
    pb::RequestNotificationRequest {
        case_id: case.case_id.clone(),
        kind: pb::NotificationKind::Acknowledgement as i32,
        stage: common::Stage::Stage1 as i32,
        deadline_kind: common::DeadlineKind::Resolve as i32,
        due_date: case.response.resolve_by,
        ..pb::RequestNotificationRequest::default()
    }
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

/// The fields of an `INVALID_ARGUMENT` status's `google.rpc.BadRequest`.
pub fn violated_fields<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
) -> Vec<String> {
    let status = refused(result, Code::InvalidArgument);
    let details = status.get_error_details();
    let bad_request = details
        .bad_request()
        .unwrap_or_else(|| panic!("no BadRequest detail in {status:?}"));
    let mut fields: Vec<String> = bad_request
        .field_violations
        .iter()
        .map(|violation| violation.field.clone())
        .collect();
    fields.sort();
    fields
}

/// The notification's state, for short assertions.
pub fn state(n: &pb::Notification) -> pb::NotificationState {
    pb::NotificationState::try_from(n.state).unwrap()
}

pub fn kind(n: &pb::Notification) -> pb::NotificationKind {
    pb::NotificationKind::try_from(n.kind).unwrap()
}

pub fn channel(n: &pb::Notification) -> pb::NotificationChannel {
    pb::NotificationChannel::try_from(n.channel).unwrap()
}

/// The timeline events of `kind`, their details as JSON.
pub fn events_of(events: &[case_pb::TimelineEvent], kind: &str) -> Vec<serde_json::Value> {
    events
        .iter()
        .filter(|event| event.kind == kind)
        .map(|event| serde_json::from_str(&event.details_json).unwrap())
        .collect()
}
