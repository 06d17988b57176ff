//! Observability on the production shape: the four processes (`intake`,
//! `case`, `escalation`, `notification`) on Postgres, exporting spans over
//! OTLP to a receiver on loopback and serving `/metrics`.
//!
//! - One complaint is one trace: the intake call, the case service's
//!   `OpenCase`, the outbox deliveries to escalation and notification, the
//!   notification's delivery and its `RecordNotice` back to the case
//!   timeline, all under the trace the intake call began, with spans from
//!   all four services; none of those hops starts a trace of its own. The
//!   processes log at `warn`: the trace pipeline has its own filter.
//! - Every process's first scrape carries the families the dashboards and
//!   alerts use, with help text, before any call was made.
//!
//! Only when there is a Postgres (always in CI).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use complaints_domain::role::Role;
use complaints_e2e::{
    Process, START_TIMEOUT, TempDir, binaries, channel, clean_command, wait_until_serving,
};
use complaints_test_support::net::free_port;
use complaints_test_support::{TestDb, tokens};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_stream::wrappers::TcpListenerStream;

use crate::support::{case, intake, one_on_each_channel, outputs, wait_for_event, yesterday};

const SECRET: &str = "e2e-one-trace-signing-secret-of-enough-bytes";
const ISSUER: &str = "https://idp.e2e.example";
const AUDIENCE: &str = "complaints-e2e";

/// A working pipeline exports within a second of the work; this only bounds
/// how long a broken one keeps the test waiting before it fails.
const PATIENCE: Duration = Duration::from_secs(90);

fn token(role: Role, subject: &str) -> String {
    let config = complaints_auth::AuthConfig::new(ISSUER, AUDIENCE).with_hs256_secret(SECRET);
    tokens::mint(&config, subject, role, Duration::from_secs(600))
}

/// One exported span, as the receiver keeps it.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    trace_id: String,
    name: String,
}

/// An OTLP trace receiver: keeps every span it is sent.
#[derive(Debug, Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Exported>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
                .map(|value| match value {
                    Value::StringValue(name) => name.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    kept.push(Exported {
                        service: service.clone(),
                        trace_id: span.trace_id.iter().map(|b| format!("{b:02x}")).collect(),
                        name: span.name,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    async fn start(self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(self))
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        address
    }

    fn spans(&self) -> Vec<Exported> {
        self.spans.lock().unwrap().clone()
    }
}

struct Node {
    name: &'static str,
    service: &'static str,
    address: SocketAddr,
    metrics: SocketAddr,
}

fn node(name: &'static str, service: &'static str) -> Node {
    let at = |port: u16| format!("127.0.0.1:{port}").parse().unwrap();
    Node {
        name,
        service,
        address: at(free_port()),
        metrics: at(free_port()),
    }
}

fn command(binary: &Path, folder: &Path, db_url: &str, otlp: SocketAddr, node: &Node) -> Command {
    let mut command = clean_command(binary);
    command
        .current_dir(folder)
        .env("DATABASE_URL", db_url)
        .env("COMPLAINTS_LISTEN", node.address.to_string())
        .env("COMPLAINTS_METRICS_LISTEN", node.metrics.to_string())
        .env("COMPLAINTS_DATA_DIR", folder.join(node.name))
        .env("COMPLAINTS_JWT_SECRET", SECRET)
        .env("COMPLAINTS_JWT_ISSUER", ISSUER)
        .env("COMPLAINTS_JWT_AUDIENCE", AUDIENCE)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("RUST_LOG", "warn")
        .env("COMPLAINTS_TRACE_FILTER", "info");
    command
}

/// `GET /metrics`, as Prometheus scrapes it.
async fn scrape(address: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_complaint_is_one_trace_through_all_four_services_and_metrics_are_there_from_the_start()
{
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let folder = TempDir::new("complaints-e2e-one-trace").unwrap();
    let receiver = Receiver::default();
    let otlp = receiver.clone().start().await;

    let case_node = node("case", "complaints.case.v1.CaseService");
    let escalation_node = node("escalation", "complaints.escalation.v1.EscalationService");
    let notification_node = node(
        "notification",
        "complaints.notification.v1.NotificationService",
    );
    let intake_node = node("intake", "complaints.intake.v1.IntakeService");
    let url = |node: &Node| format!("http://{}", node.address);
    let bins = binaries();
    let mut processes = Vec::new();
    for (node, binary, peers) in [
        (
            &case_node,
            &bins.case,
            vec![
                ("COMPLAINTS_ESCALATION_URL", url(&escalation_node)),
                ("COMPLAINTS_NOTIFICATION_URL", url(&notification_node)),
            ],
        ),
        (
            &escalation_node,
            &bins.escalation,
            vec![
                ("COMPLAINTS_CASE_URL", url(&case_node)),
                ("COMPLAINTS_NOTIFICATION_URL", url(&notification_node)),
            ],
        ),
        (
            &notification_node,
            &bins.notification,
            vec![("COMPLAINTS_CASE_URL", url(&case_node))],
        ),
        (
            &intake_node,
            &bins.intake,
            vec![("COMPLAINTS_CASE_URL", url(&case_node))],
        ),
    ] {
        let mut command = command(binary, folder.path(), &db.url, otlp, node);
        command.envs(peers);
        let mut process = Process::spawn(node.name, command).unwrap();
        wait_until_serving(&mut process, node.address, node.service, START_TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:#}\n{}", node.name, process.output()));
        processes.push(process);
    }

    // The first scrape, before any call: every family is there, with help.
    let everywhere = [
        "# HELP grpc_server_requests_total",
        "# HELP grpc_server_request_duration_seconds",
        "complaints_build_info{",
    ];
    let own: [(&Node, &[&str]); 4] = [
        (&intake_node, &[]),
        (
            &case_node,
            &[
                r#"complaints_outbox_pending{topic="case.events"} 0"#,
                "complaints_outbox_oldest_age_seconds{",
                "# HELP complaints_group_commit_batch_size",
            ],
        ),
        (
            &escalation_node,
            &[
                "complaints_deadlines_pending",
                "complaints_deadlines_breached_total{",
                "complaints_deadline_firing_lag_seconds",
                r#"complaints_outbox_pending{topic="escalation.notify"}"#,
                r#"complaints_group_commit_batch_size_count{name="escalation.case_change"} 0"#,
            ],
        ),
        (
            &notification_node,
            &[
                "complaints_notifications_pending",
                "complaints_notifications_sent_total{",
                "complaints_notifications_failed_total{",
                "complaints_notification_retries_total{",
                r#"complaints_outbox_pending{topic="notification.case"}"#,
                r#"complaints_group_commit_batch_size_count{name="notification.request"} 0"#,
            ],
        ),
    ];
    for (node, families) in own {
        let page = scrape(node.metrics).await;
        for family in everywhere.iter().chain(families) {
            assert!(
                page.contains(family),
                "{}: no {family:?} in its first scrape:\n{page}",
                node.name
            );
        }
        assert!(
            page.contains(&format!(r#"service="{}""#, node.service)),
            "{}: its calls are counted from 0:\n{page}",
            node.name
        );
    }

    // One complaint by email: opened, clocks started, acknowledged, the
    // acknowledgement recorded on the case's timeline.
    let request = one_on_each_channel("one-trace", yesterday())
        .into_iter()
        .find(|r| {
            r.complainant.as_ref().is_some_and(|c| !c.email.is_empty()) && r.recorded_by.is_empty()
        })
        .unwrap();
    let opened = intake(
        &channel(intake_node.address).unwrap(),
        &token(Role::Integration, "crm"),
    )
    .submit_complaint(request)
    .await
    .unwrap()
    .into_inner();
    let mut cases = case(
        &channel(case_node.address).unwrap(),
        &token(Role::ComplaintsHandler, "hana"),
    );
    assert!(
        wait_for_event(&mut cases, &opened.case_id, "case.notice_sent", PATIENCE).await,
        "no acknowledgement recorded:\n{}",
        outputs(&processes)
    );

    // The new case was written by the group commit, alone.
    let page = scrape(case_node.metrics).await;
    assert!(
        page.contains(r#"complaints_group_commit_batch_size_count{name="case.open"} 1"#),
        "one case opened, in one transaction of its own:\n{page}"
    );

    // Every hop, in the one trace the intake call began.
    let hops = [
        (
            "intake",
            "complaints.intake.v1.IntakeService/SubmitComplaint",
        ),
        ("case", "complaints.case.v1.CaseService/OpenCase"),
        (
            "escalation",
            "complaints.escalation.v1.EscalationService/ApplyCaseChange",
        ),
        (
            "notification",
            "complaints.notification.v1.NotificationService/RequestNotification",
        ),
        ("notification", "notification.deliver"),
        ("case", "complaints.case.v1.CaseService/RecordNotice"),
    ];
    let traced = tokio::time::timeout(PATIENCE, async {
        loop {
            let spans = receiver.spans();
            let trace = spans
                .iter()
                .find(|s| s.name == hops[0].1)
                .map(|s| s.trace_id.clone());
            if let Some(trace) = trace {
                let in_trace: BTreeSet<(String, String)> = spans
                    .iter()
                    .filter(|s| s.trace_id == trace)
                    .map(|s| (s.service.clone(), s.name.clone()))
                    .collect();
                if hops.iter().all(|(service, name)| {
                    in_trace.contains(&((*service).to_owned(), (*name).to_owned()))
                }) {
                    return (trace, spans);
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let (trace, spans) = traced.unwrap_or_else(|_| {
        let mut by_trace: HashMap<String, Vec<String>> = HashMap::new();
        for span in receiver.spans() {
            by_trace
                .entry(span.trace_id)
                .or_default()
                .push(format!("{}: {}", span.service, span.name));
        }
        panic!("the hops are not all in one trace: {by_trace:#?}")
    });
    let services: BTreeSet<&str> = spans
        .iter()
        .filter(|s| s.trace_id == trace)
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(
        services,
        BTreeSet::from(["case", "escalation", "intake", "notification"])
    );
    // No hop began a trace of its own.
    for (_, name) in &hops[1..] {
        let elsewhere: Vec<_> = spans
            .iter()
            .filter(|s| s.name == *name && s.trace_id != trace)
            .collect();
        assert!(
            elsewhere.is_empty(),
            "{name} also in other traces: {elsewhere:#?}"
        );
    }
    for process in &mut processes {
        process.stop(START_TIMEOUT).unwrap();
    }
}
