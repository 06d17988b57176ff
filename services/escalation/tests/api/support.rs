//! What the escalation tests share: the service in process over a queue,
//! case changes to send it, the alerts it queued, and a Redis server of the
//! test's own that it can stop and start.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use complaints_deadlines::DeadlineQueue;
use complaints_domain::calendar::Calendar;
use complaints_domain::clock::Clock;
use complaints_escalation::{EscalationApp, EscalationGrpc, NOTIFY_TOPIC};
use complaints_proto::complaints::common::v1 as common;
use complaints_proto::complaints::escalation::v1 as pb;
use complaints_proto::google::r#type::Date;
use complaints_rpc::peers::{CasePeer, EscalationPeer};
use complaints_store::entity::outbox;
use complaints_test_support::time::monday_morning;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

/// The escalation service over `queue` on `clock`, warning
/// `warn_before_working_days` ahead (0: no warnings); its case peer
/// answers nothing (a breach or a warning never asks it).
pub fn app(
    queue: Arc<dyn DeadlineQueue>,
    clock: Arc<dyn Clock>,
    warn_before_working_days: u32,
) -> (EscalationApp, EscalationPeer) {
    let app = EscalationApp::new(
        queue,
        Calendar::default(),
        warn_before_working_days,
        clock,
        CasePeer::in_slot("escalation", Arc::new(OnceLock::new())),
    );
    let peer = EscalationPeer::in_process("case", Arc::new(EscalationGrpc::new(app.clone())));
    (app, peer)
}

/// The stage 1 resolve clock of a case, due by the end of `due` (a
/// weekday of March 2026), so its owner is warned at the end of the working
/// day before when warnings are on.
pub fn resolve_by(due: u32) -> pb::DeadlineStart {
    let date = NaiveDate::from_ymd_opt(2026, 3, due).unwrap();
    pb::DeadlineStart {
        kind: common::DeadlineKind::Resolve as i32,
        stage: common::Stage::Stage1 as i32,
        working_days: 2,
        due_date: Some(Date {
            year: 2026,
            month: 3,
            day: i32::try_from(due).unwrap(),
        }),
        due_at: Some(prost_types::Timestamp {
            seconds: end_of(date).timestamp(),
            nanos: 0,
        }),
        reason: "working days from Monday 2 March".to_owned(),
        owner_role: common::Role::ComplaintsHandler as i32,
        escalation_role: common::Role::CxManager as i32,
        started_at: Some(prost_types::Timestamp {
            seconds: monday_morning().timestamp(),
            nanos: 0,
        }),
    }
}

/// The resolve clock settled as met.
pub fn resolve_met() -> pb::DeadlineSettlement {
    pb::DeadlineSettlement {
        kind: common::DeadlineKind::Resolve as i32,
        state: pb::DeadlineState::Met as i32,
    }
}

/// The change `version` of case `case_id`, starting and settling clocks.
pub fn change(
    case_id: &str,
    version: i64,
    start: Vec<pb::DeadlineStart>,
    settle: Vec<pb::DeadlineSettlement>,
) -> pb::ApplyCaseChangeRequest {
    pb::ApplyCaseChangeRequest {
        case_id: case_id.to_owned(),
        register_number: "CMP-2026-000001".to_owned(),
        version,
        policy_version: "2026-01".to_owned(),
        start,
        settle,
        assignee: String::new(),
    }
}

/// The end of `date` (London, GMT in March): midnight after it, UTC.
pub fn end_of(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap())
}

/// Just after the end of `day` March 2026: a clock due that day is breached.
pub fn after_end_of_march(day: u32) -> DateTime<Utc> {
    end_of(NaiveDate::from_ymd_opt(2026, 3, day).unwrap()) + chrono::Duration::seconds(1)
}

/// The staff alerts queued for the notification service, oldest first:
/// (case id, role, breach?) of each.
pub async fn alerts(db: &DatabaseConnection) -> Vec<(String, String, bool)> {
    outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(NOTIFY_TOPIC))
        .order_by_asc(outbox::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| serde_json::from_str::<Value>(&row.payload).unwrap())
        .filter(|alert| alert["kind"] == "internal_alert")
        .map(|alert| {
            (
                alert["case_id"].as_str().unwrap().to_owned(),
                alert["to_role"].as_str().unwrap().to_owned(),
                alert["breach"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// The breach alerts of `case_id` (an owner's and an escalation role's per
/// breach).
pub async fn breach_alerts_of(db: &DatabaseConnection, case_id: &str) -> usize {
    alerts(db)
        .await
        .iter()
        .filter(|(case, _, breach)| case == case_id && *breach)
        .count()
}

/// A Redis server of the test's own, on a port of its own, keeping nothing
/// on disk: stopped, it comes back empty.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    /// A server on a free port, not yet started; `None` (reported) when
    /// there is no `redis-server` to run, outside CI.
    pub fn new() -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !found {
            assert!(
                !complaints_test_support::backends::in_ci(),
                "CI=true but there is no redis-server to run"
            );
            eprintln!("SKIPPED: no redis-server on PATH to start and stop");
            return None;
        }
        Some(OwnRedis {
            port: complaints_test_support::net::free_port(),
            child: None,
            dir: tempfile::tempdir().unwrap(),
        })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it answers.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_until_answering(self.port, self.dir.path());
    }

    /// Kills the server (SIGKILL: no goodbye to its clients) and waits for
    /// it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How many members the index's sorted set under `prefix` holds.
    pub async fn indexed(&self, prefix: &str) -> u64 {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("ZCARD")
            .arg(format!("{prefix}due"))
            .query_async(&mut connection)
            .await
            .unwrap()
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for a server on `port` to accept connections (a state, not a
/// time: the bound only stops a broken server hanging the test).
fn wait_until_answering(port: u16, dir: &Path) {
    for _ in 0..500 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "redis-server on port {port} (in {}) never answered",
        dir.display()
    );
}
