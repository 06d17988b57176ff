//! `complaints dev --test-clock` as a test drives it: one process, a client
//! per service and role, and time that moves only when the test says so.
//!
//! Every read here is a plain gRPC call. Nothing waits on a timer: `Advance`
//! returns once everything due on the way has fired and been delivered, so
//! a test reads the result straight after.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use complaints_auth::BearerToken;
use complaints_e2e::{Process, START_TIMEOUT, TempDir, binaries, channel, clean_command, run};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1 as escalation_pb;
use complaints_proto::complaints::escalation::v1::escalation_service_client::EscalationServiceClient;
use complaints_proto::complaints::notification::v1 as notification_pb;
use complaints_proto::complaints::notification::v1::notification_service_client::NotificationServiceClient;
use complaints_proto::complaints::testing::v1 as testing_pb;
use complaints_proto::complaints::testing::v1::clock_service_client::ClockServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::{Case, Intake, case, intake};

pub type Escalation = EscalationServiceClient<InterceptedService<Channel, BearerToken>>;
pub type Notifications = NotificationServiceClient<InterceptedService<Channel, BearerToken>>;
pub type Clock = ClockServiceClient<InterceptedService<Channel, BearerToken>>;

pub use notification_pb::{NotificationChannel, NotificationKind, NotificationState};

/// Where the embedded suite sends internal alerts: `<role>@<this>`.
pub const STAFF_DOMAIN: &str = "staff.telecare.example";

/// A token from `complaints token`, as a developer gets one.
pub use complaints_e2e::dev_token as token;

/// A running `complaints dev` and a channel to it.
pub struct Suite {
    pub process: Process,
    pub channel: Channel,
    /// Where `complaints dev` listens, for client commands.
    pub address: SocketAddr,
    data: TempDir,
    /// Tokens already made, by (role, subject): each costs a process start.
    tokens: HashMap<(String, String), String>,
}

impl Suite {
    /// Starts `complaints dev` on a free port with a fresh data folder, with
    /// or without `--test-clock`, and waits for its ready line.
    pub fn start(test_clock: bool) -> Suite {
        let data = TempDir::new("complaints-e2e-clock").unwrap();
        let mut command = clean_command(&binaries().complaints);
        command
            .current_dir(data.path())
            .arg("dev")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data.path().join("data"));
        if test_clock {
            command.arg("--test-clock");
        }
        let mut process = Process::spawn("complaints dev", command).unwrap();
        let address: SocketAddr = process
            .wait_for_line("ready: listening on ", START_TIMEOUT)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Suite {
            process,
            address,
            channel: channel(address).unwrap(),
            data,
            tokens: HashMap::new(),
        }
    }

    /// The folder `complaints dev` keeps its database and outbox in.
    pub fn data_dir(&self) -> PathBuf {
        self.data.path().join("data")
    }

    /// Where emails are written, one `<notification_id>.eml` each.
    pub fn email_outbox(&self) -> PathBuf {
        self.data_dir().join("outbox").join("email")
    }

    /// Where letters are written, one `<notification_id>.pdf` each.
    pub fn letter_outbox(&self) -> PathBuf {
        self.data_dir().join("outbox").join("letters")
    }

    fn token(&mut self, role: &str, subject: &str) -> String {
        self.tokens
            .entry((role.to_owned(), subject.to_owned()))
            .or_insert_with(|| token(role, subject))
            .clone()
    }

    fn bearer(&mut self, role: &str, subject: &str) -> BearerToken {
        BearerToken::new(self.token(role, subject)).unwrap()
    }

    pub fn intake(&mut self, role: &str, subject: &str) -> Intake {
        let token = self.token(role, subject);
        intake(&self.channel, &token)
    }

    pub fn cases(&mut self, role: &str, subject: &str) -> Case {
        let token = self.token(role, subject);
        case(&self.channel, &token)
    }

    pub fn escalation(&mut self, role: &str, subject: &str) -> Escalation {
        EscalationServiceClient::with_interceptor(self.channel.clone(), self.bearer(role, subject))
    }

    pub fn notifications(&mut self, role: &str, subject: &str) -> Notifications {
        NotificationServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer(role, subject),
        )
    }

    pub fn clock(&mut self, role: &str, subject: &str) -> Clock {
        ClockServiceClient::with_interceptor(self.channel.clone(), self.bearer(role, subject))
    }
}

/// The clients one test uses, each with the role the policy gives the step.
pub struct Clients {
    pub clock: Clock,
    pub integration: Intake,
    /// The stage 1 complaints handler, `hana`.
    pub handler: Case,
    /// The case service as the integration that relays the complainant's
    /// requests (review, escalation to a director).
    pub on_behalf: Case,
    pub escalation: Escalation,
    pub notifications: Notifications,
}

impl Clients {
    pub fn new(suite: &mut Suite) -> Clients {
        Clients {
            clock: suite.clock("complaints_handler", "hana"),
            integration: suite.intake("integration", "crm"),
            handler: suite.cases("complaints_handler", "hana"),
            on_behalf: suite.cases("integration", "crm"),
            escalation: suite.escalation("complaints_handler", "hana"),
            notifications: suite.notifications("complaints_handler", "hana"),
        }
    }

    /// The test clock's time.
    pub async fn now(&mut self) -> DateTime<Utc> {
        let now = self
            .clock
            .now(testing_pb::NowRequest {})
            .await
            .unwrap()
            .into_inner()
            .now
            .unwrap();
        instant(&now)
    }

    /// Moves the clock forward by `by`; returns the new time and how many
    /// deadlines fired on the way.
    pub async fn advance(&mut self, by: chrono::Duration) -> (DateTime<Utc>, i32) {
        let request = testing_pb::AdvanceRequest {
            by: Some(prost_types::Duration {
                seconds: by.num_seconds(),
                nanos: by.subsec_nanos(),
            }),
        };
        let answer = tokio::time::timeout(Duration::from_secs(60), self.clock.advance(request))
            .await
            .unwrap_or_else(|_| panic!("Advance by {by} did not return within 60 s"))
            .unwrap_or_else(|status| panic!("Advance by {by}: {status:?}"))
            .into_inner();
        let now = instant(&answer.now.unwrap());
        (now, answer.fired)
    }

    /// Moves the clock to `target` (which must be ahead of it).
    pub async fn advance_to(&mut self, target: DateTime<Utc>) -> (DateTime<Utc>, i32) {
        let now = self.now().await;
        assert!(target > now, "{target} is not ahead of the clock ({now})");
        let (after, fired) = self.advance(target - now).await;
        assert_eq!(after, target, "the clock stops where it was sent");
        (after, fired)
    }

    pub async fn case(&mut self, case_id: &str) -> case_pb::Case {
        self.handler
            .get_case(case_pb::GetCaseRequest {
                lookup: Some(case_pb::get_case_request::Lookup::CaseId(
                    case_id.to_owned(),
                )),
            })
            .await
            .unwrap_or_else(|status| panic!("GetCase {case_id}: {status:?}"))
            .into_inner()
            .case
            .unwrap()
    }

    pub async fn timeline(&mut self, case_id: &str) -> Vec<case_pb::TimelineEvent> {
        let timeline = self
            .handler
            .get_timeline(case_pb::GetTimelineRequest {
                case_id: case_id.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("GetTimeline {case_id}: {status:?}"))
            .into_inner();
        assert!(timeline.verified, "the timeline of {case_id} verifies");
        timeline.events
    }

    pub async fn deadlines(&mut self, case_id: &str) -> Vec<escalation_pb::Deadline> {
        self.escalation
            .get_deadlines(escalation_pb::GetDeadlinesRequest {
                case_id: case_id.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("GetDeadlines {case_id}: {status:?}"))
            .into_inner()
            .deadlines
    }

    /// The case's deadline of `kind`, which must exist.
    pub async fn deadline(
        &mut self,
        case_id: &str,
        kind: common::DeadlineKind,
    ) -> escalation_pb::Deadline {
        let deadlines = self.deadlines(case_id).await;
        let mut of_kind = deadlines.iter().filter(|d| d.kind == kind as i32);
        let found = of_kind
            .next()
            .unwrap_or_else(|| panic!("case {case_id} has no {kind:?} deadline: {deadlines:#?}"))
            .clone();
        assert!(of_kind.next().is_none(), "one {kind:?} deadline per case");
        found
    }

    /// Every notification about the case, oldest first, over all pages.
    pub async fn notifications(&mut self, case_id: &str) -> Vec<notification_pb::Notification> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .notifications
                .list_notifications(notification_pb::ListNotificationsRequest {
                    case_id: case_id.to_owned(),
                    page_size: 100,
                    page_token,
                })
                .await
                .unwrap_or_else(|status| panic!("ListNotifications {case_id}: {status:?}"))
                .into_inner();
            all.extend(page.notifications);
            if page.next_page_token.is_empty() {
                return all;
            }
            page_token = page.next_page_token;
        }
    }

    pub async fn content(
        &mut self,
        notification_id: &str,
    ) -> notification_pb::GetNotificationContentResponse {
        self.notifications
            .get_notification_content(notification_pb::GetNotificationContentRequest {
                notification_id: notification_id.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("GetNotificationContent {notification_id}: {status:?}"))
            .into_inner()
    }
}

pub fn instant(at: &prost_types::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap()).unwrap()
}

/// The text of a PDF, by `pdftotext` when it is on `PATH`; `None` (having
/// said why) when it is not, so the caller skips only the text checks.
pub fn pdf_text(pdf: &[u8], scratch: &Path) -> Option<String> {
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("pdftotext").is_file())
    });
    if !on_path {
        // Straight to the file descriptor: libtest captures `eprintln!`,
        // and a skipped check is said where a person sees it.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr().lock(),
            b"skipped: the check of the letter's text: pdftotext is not on PATH\n",
        );
        return None;
    }
    let file = scratch.join("letter.pdf");
    std::fs::write(&file, pdf).unwrap();
    let mut command = std::process::Command::new("pdftotext");
    command.arg("-layout").arg(&file).arg("-");
    let output = run(command, Duration::from_secs(30)).unwrap();
    assert!(
        output.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}
