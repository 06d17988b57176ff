//! Transport security on the production shape: the four processes on
//! Postgres, every server on TLS with certificates made for the test and
//! requiring a client certificate (mutual TLS), every peer address
//! `https://`. One complaint goes intake → case → escalation and
//! notification → case over TLS on every hop, until its acknowledgement is
//! on the case's timeline; a plaintext client, and a TLS client without a
//! certificate, are refused.
//!
//! Only when there is a Postgres (always in CI).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use complaints_domain::role::Role;
use complaints_e2e::{Process, START_TIMEOUT, TempDir, binaries, clean_command};
use complaints_test_support::net::free_port;
use complaints_test_support::{TestDb, tokens};
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

/// A CA made for the test, and the files of what it signs.
struct Authority {
    ca_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let key = rcgen::KeyPair::generate().unwrap();
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Authority {
            ca_pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A certificate for `localhost`, good for serving and for calling.
    fn issue(&self, name: &str) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
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

fn write(folder: &Path, name: &str, text: &str) -> String {
    let path = folder.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A client channel over TLS, with `identity` (certificate, key) if any.
fn tls_channel(node: &Node, ca_pem: &str, identity: Option<&(String, String)>) -> Channel {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Endpoint::from_shared(node.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect_lazy()
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
async fn every_hop_speaks_mutual_tls_and_a_plaintext_client_is_refused() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let folder = TempDir::new("complaints-e2e-tls").unwrap();
    let authority = Authority::new("complaints e2e CA");
    let ca_file = write(folder.path(), "ca.pem", &authority.ca_pem);

    let case_node = Node::new("case", "complaints.case.v1.CaseService");
    let escalation_node = Node::new("escalation", "complaints.escalation.v1.EscalationService");
    let notification_node = Node::new(
        "notification",
        "complaints.notification.v1.NotificationService",
    );
    let intake_node = Node::new("intake", "complaints.intake.v1.IntakeService");
    let operator = authority.issue("operator");

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
        let (cert, key) = authority.issue(node.name);
        let cert_file = write(folder.path(), &format!("{}.crt", node.name), &cert);
        let key_file = write(folder.path(), &format!("{}.key", node.name), &key);
        let mut command = clean_command(binary);
        command
            .current_dir(folder.path())
            .env("DATABASE_URL", &db.url)
            .env("COMPLAINTS_LISTEN", node.address.to_string())
            .env("COMPLAINTS_DATA_DIR", folder.path().join(node.name))
            .env("COMPLAINTS_JWT_SECRET", SECRET)
            .env("COMPLAINTS_JWT_ISSUER", ISSUER)
            .env("COMPLAINTS_JWT_AUDIENCE", AUDIENCE)
            .env("COMPLAINTS_TLS_CERT_FILE", &cert_file)
            .env("COMPLAINTS_TLS_KEY_FILE", &key_file)
            .env("COMPLAINTS_TLS_CLIENT_CA_FILE", &ca_file)
            .env("COMPLAINTS_TLS_CA_FILE", &ca_file)
            .env("COMPLAINTS_TLS_CLIENT_CERT_FILE", &cert_file)
            .env("COMPLAINTS_TLS_CLIENT_KEY_FILE", &key_file)
            .env("RUST_LOG", "warn")
            .envs(peers.clone());
        let mut process = Process::spawn(node.name, command).unwrap();
        let channel = tls_channel(node, &authority.ca_pem, Some(&operator));
        wait_until_serving(&mut process, node, channel).await;
        processes.push(process);
    }

    // One complaint by email, through every hop, until its acknowledgement
    // is recorded back on the case's timeline.
    let request = one_on_each_channel("tls", yesterday())
        .into_iter()
        .find(|r| {
            r.complainant.as_ref().is_some_and(|c| !c.email.is_empty()) && r.recorded_by.is_empty()
        })
        .unwrap();
    let to_intake = tls_channel(&intake_node, &authority.ca_pem, Some(&operator));
    let opened = intake(&to_intake, &token(Role::Integration, "crm"))
        .submit_complaint(request)
        .await
        .unwrap()
        .into_inner();
    let to_case = tls_channel(&case_node, &authority.ca_pem, Some(&operator));
    let mut cases = case(&to_case, &token(Role::ComplaintsHandler, "hana"));
    assert!(
        wait_for_event(&mut cases, &opened.case_id, "case.notice_sent", PATIENCE).await,
        "no acknowledgement recorded over TLS:\n{}",
        outputs(&processes)
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
    let anonymous = tls_channel(&case_node, &authority.ca_pem, None);
    HealthClient::new(anonymous)
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();

    for process in &mut processes {
        let status = process.stop(Duration::from_secs(10)).unwrap();
        assert!(status.success(), "exit {status}\n{}", process.output());
    }
}
