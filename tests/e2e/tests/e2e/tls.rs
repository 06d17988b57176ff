//! Transport security on the production shape, end to end: the four
//! processes on a TLS-only Postgres of the test's own
//! (`sslmode=verify-full`), escalation's deadline index on a TLS-only Redis
//! of its own (`rediss://` with `COMPLAINTS_REDIS_CA_FILE`), every gRPC
//! server on TLS requiring a client certificate (mutual TLS), every peer
//! address `https://`; every certificate from one CA made for the test.
//! One complaint goes intake → case → escalation and notification → case
//! over TLS on every hop, until its acknowledgement is on the case's
//! timeline and its clocks are in the Redis index; the `complaints` client
//! shows the case's timeline over mutual TLS, and without the CA says what
//! it needs; a plaintext client, and a TLS client without a certificate,
//! are refused.
//!
//! Only where PostgreSQL's binaries and redis-server are (always in CI).

use std::net::SocketAddr;
use std::time::Duration;

use complaints_deadlines::{IndexKeys, RedisQueueConfig, redis_client};
use complaints_domain::role::Role;
use complaints_e2e::{Process, START_TIMEOUT, TempDir, binaries, clean_command, run};
use complaints_test_support::net::free_port;
use complaints_test_support::servers::{
    self, Postgres, PostgresOptions, Redis, RedisOptions, ServerTls,
};
use complaints_test_support::tls::{self, Authority, Issued};
use complaints_test_support::tokens;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{case, intake, one_on_each_channel, outputs, wait_for_event, yesterday};

const SECRET: &str = "e2e-tls-signing-secret-of-at-least-enough-bytes";
const ISSUER: &str = "https://idp.e2e.example";
const AUDIENCE: &str = "complaints-e2e";

/// How long a working suite needs at most; only bounds a broken one.
const PATIENCE: Duration = Duration::from_secs(90);

fn token(role: Role, subject: &str) -> String {
    let config = complaints_auth::AuthConfig::new(ISSUER, AUDIENCE).with_hs256_secret(SECRET);
    tokens::mint(&config, subject, role, Duration::from_secs(600))
}

struct Node {
    name: &'static str,
    service: &'static str,
    address: SocketAddr,
}

impl Node {
    fn new(name: &'static str, service: &'static str) -> Node {
        Node {
            name,
            service,
            address: format!("127.0.0.1:{}", free_port()).parse().unwrap(),
        }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}", self.address.port())
    }
}

/// A client channel over TLS, presenting `identity` if any.
fn tls_channel(node: &Node, ca_pem: &str, identity: Option<&Issued>) -> Channel {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    if let Some(issued) = identity {
        tls = tls.identity(Identity::from_pem(&issued.cert_pem, &issued.key_pem));
    }
    Endpoint::from_shared(node.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect_lazy()
}

/// A store's certificate from `authority`, for `localhost` and 127.0.0.1.
fn store_tls(authority: &Authority, name: &str) -> ServerTls {
    let Issued { cert_pem, key_pem } = authority.issue(name);
    ServerTls {
        cert_pem,
        key_pem,
        ca_pem: authority.ca_pem().to_owned(),
    }
}

/// `complaints timeline <case>` (which asks the case service alone)
/// against `node` as a complaints handler, with the TLS options `tls`; what
/// it printed.
async fn cli_timeline(node: &Node, case_id: &str, tls: &[&str]) -> std::process::Output {
    let mut command = clean_command(&binaries().complaints);
    command
        .args(["timeline", case_id, "--server", &node.url()])
        .args(["--token", &token(Role::ComplaintsHandler, "hana")])
        .args(tls);
    tokio::task::spawn_blocking(move || run(command, Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap()
}

/// Health over TLS until SERVING, failing with the process's output if it
/// exits or the patience runs out.
async fn wait_until_serving(process: &mut Process, node: &Node, channel: Channel) {
    let mut health = HealthClient::new(channel);
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    let mut last = String::from("no answer yet");
    while tokio::time::Instant::now() < deadline {
        process.ensure_running().unwrap();
        let request = HealthCheckRequest {
            service: node.service.to_owned(),
        };
        match tokio::time::timeout(Duration::from_secs(2), health.check(request)).await {
            Ok(Ok(response)) if response.get_ref().status == 1 => return,
            Ok(Ok(response)) => last = format!("status {}", response.get_ref().status),
            Ok(Err(status)) => last = format!("{status:?}"),
            Err(_) => last = "no answer within 2s".to_owned(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{} was not SERVING over TLS (last: {last})\n{}",
        node.name,
        process.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hop_and_both_stores_speak_tls_and_a_plaintext_client_is_refused() {
    if !servers::postgres_available() || !servers::redis_available() {
        return;
    }
    let folder = TempDir::new("complaints-e2e-tls").unwrap();
    let authority = Authority::new("complaints e2e CA");
    let postgres = Postgres::start_temporary(PostgresOptions {
        tls: Some(store_tls(&authority, "postgres")),
        ..PostgresOptions::default()
    })
    .await
    .unwrap();
    let redis = Redis::start_temporary(RedisOptions {
        tls: Some(store_tls(&authority, "redis")),
    })
    .await
    .unwrap();
    let operator = authority.issue("operator");
    let operator_files = tls::write_files(folder.path(), "operator", &operator, authority.ca_pem());
    let ca_file = operator_files.ca.display().to_string();
    let database_url = format!(
        "{}?sslmode=verify-full&sslrootcert={ca_file}",
        postgres.url()
    );
    assert!(redis.url().starts_with("rediss://"), "{}", redis.url());

    let case_node = Node::new("case", "complaints.case.v1.CaseService");
    let escalation_node = Node::new("escalation", "complaints.escalation.v1.EscalationService");
    let notification_node = Node::new(
        "notification",
        "complaints.notification.v1.NotificationService",
    );
    let intake_node = Node::new("intake", "complaints.intake.v1.IntakeService");

    let bins = binaries();
    let mut processes = Vec::new();
    // Every process knows every peer, as the shared ConfigMap says: with
    // TLS on, a peer address that is not https:// is refused at start.
    let peers = [
        ("COMPLAINTS_CASE_URL", case_node.url()),
        ("COMPLAINTS_ESCALATION_URL", escalation_node.url()),
        ("COMPLAINTS_NOTIFICATION_URL", notification_node.url()),
    ];
    for (node, binary) in [
        (&case_node, &bins.case),
        (&escalation_node, &bins.escalation),
        (&notification_node, &bins.notification),
        (&intake_node, &bins.intake),
    ] {
        let files = tls::write_files(
            folder.path(),
            node.name,
            &authority.issue(node.name),
            authority.ca_pem(),
        );
        let mut command = clean_command(binary);
        command
            .current_dir(folder.path())
            .env("DATABASE_URL", &database_url)
            .env("COMPLAINTS_LISTEN", node.address.to_string())
            .env("COMPLAINTS_DATA_DIR", folder.path().join(node.name))
            .env("COMPLAINTS_JWT_SECRET", SECRET)
            .env("COMPLAINTS_JWT_ISSUER", ISSUER)
            .env("COMPLAINTS_JWT_AUDIENCE", AUDIENCE)
            .env("COMPLAINTS_TLS_CERT_FILE", &files.cert)
            .env("COMPLAINTS_TLS_KEY_FILE", &files.key)
            .env("COMPLAINTS_TLS_CLIENT_CA_FILE", &files.ca)
            .env("COMPLAINTS_TLS_CA_FILE", &files.ca)
            .env("COMPLAINTS_TLS_CLIENT_CERT_FILE", &files.cert)
            .env("COMPLAINTS_TLS_CLIENT_KEY_FILE", &files.key)
            .env("RUST_LOG", "warn")
            .envs(peers.clone());
        if node.name == "escalation" {
            command
                .env("REDIS_URL", redis.url())
                .env("COMPLAINTS_REDIS_CA_FILE", &files.ca);
        }
        let mut process = Process::spawn(node.name, command).unwrap();
        let channel = tls_channel(node, authority.ca_pem(), Some(&operator));
        wait_until_serving(&mut process, node, channel).await;
        processes.push(process);
    }

    // Escalation built its index in the TLS Redis before serving (had it
    // not reached Redis, it would serve from the rows alone, no index built).
    let redis_config = RedisQueueConfig {
        ca_pem: Some(authority.ca_pem().to_owned()),
        ..RedisQueueConfig::default()
    };
    let keys = IndexKeys::with_prefix(&redis_config.key_prefix);
    let mut index = redis_client(&redis.url(), &redis_config)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let built: bool = redis::cmd("EXISTS")
        .arg(&keys.built)
        .query_async(&mut index)
        .await
        .unwrap();
    assert!(
        built,
        "escalation did not build its index in the TLS Redis:\n{}",
        outputs(&processes)
    );

    // One complaint by email, through every hop, until its acknowledgement
    // is recorded back on the case's timeline.
    let request = one_on_each_channel("tls", yesterday())
        .into_iter()
        .find(|r| {
            r.complainant.as_ref().is_some_and(|c| !c.email.is_empty()) && r.recorded_by.is_empty()
        })
        .unwrap();
    let to_intake = tls_channel(&intake_node, authority.ca_pem(), Some(&operator));
    let opened = intake(&to_intake, &token(Role::Integration, "crm"))
        .submit_complaint(request)
        .await
        .unwrap()
        .into_inner();
    let to_case = tls_channel(&case_node, authority.ca_pem(), Some(&operator));
    let mut cases = case(&to_case, &token(Role::ComplaintsHandler, "hana"));
    assert!(
        wait_for_event(&mut cases, &opened.case_id, "case.notice_sent", PATIENCE).await,
        "no acknowledgement recorded over TLS:\n{}",
        outputs(&processes)
    );

    // The case's clocks reach the index in the TLS Redis.
    let patience = tokio::time::Instant::now() + PATIENCE;
    loop {
        let indexed: u64 = redis::cmd("ZCARD")
            .arg(&keys.due)
            .query_async(&mut index)
            .await
            .unwrap();
        if indexed > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < patience,
            "no deadline in the TLS Redis's index:\n{}",
            outputs(&processes)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The `complaints` client over mutual TLS, as an operator runs it.
    let cert_file = operator_files.cert.display().to_string();
    let key_file = operator_files.key.display().to_string();
    let identity = ["--cert-file", &cert_file, "--key-file", &key_file];
    let with_ca = [&["--ca-file", &ca_file][..], &identity].concat();
    let shown = cli_timeline(&case_node, &opened.case_id, &with_ca).await;
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success(),
        "complaints timeline over TLS failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let heading = format!("{} timeline (", opened.register_number);
    assert!(stdout.starts_with(&heading), "{stdout}");
    assert!(stdout.contains("case.notice_sent"), "{stdout}");
    assert!(stdout.ends_with("hash chain: verified\n"), "{stdout}");
    // Without the CA it cannot check the server, and names what it needs.
    let refused = cli_timeline(&case_node, &opened.case_id, &identity).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("needs the CA bundle") && stderr.contains("--ca-file"),
        "{stderr}"
    );

    // A plaintext client gets no answer from a TLS server, nor does a TLS
    // client without a certificate from the CA.
    let plaintext = Endpoint::from_shared(format!("http://{}", case_node.address))
        .unwrap()
        .connect_lazy();
    let refused = HealthClient::new(plaintext)
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_ne!(refused.code(), tonic::Code::Ok);
    let anonymous = tls_channel(&case_node, authority.ca_pem(), None);
    HealthClient::new(anonymous)
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();

    for process in &mut processes {
        let status = process.stop(Duration::from_secs(10)).unwrap();
        assert!(status.success(), "exit {status}\n{}", process.output());
    }
}
