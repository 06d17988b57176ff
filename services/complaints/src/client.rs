//! How a client command reaches the suite: where it is, who is calling, and
//! which case a person means.
//!
//! The commands themselves live by job: `submit` logs a complaint, `steps`
//! takes a case through the policy, `clocks` extends, pauses and resumes
//! its deadlines, `reading` shows cases, timelines, deadlines,
//! notices and statistics; `evidence` attaches files and lists them; `format` holds the words they print and `errors` the
//! sentences a refusal becomes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use complaints_auth::{AuthConfig, BearerToken, Claims, Secret, TokenIssuer};
use complaints_config::ClientTls;
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1::{
    self as case_pb, case_service_client::CaseServiceClient, get_case_request::Lookup,
};
use complaints_proto::complaints::escalation::v1::escalation_service_client::EscalationServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel as Transport, Endpoint};

mod clocks;
mod errors;
mod evidence;
pub mod format;
mod reading;
mod requeue;
mod steps;
mod submit;

pub use clocks::{ExtendArgs, PauseArgs, ResumeArgs, extend, pause, resume};
pub use errors::explain;
pub use evidence::{AttachArgs, attach, evidence};
pub use reading::{ListArgs, correspondence, deadlines, list, notices, show, stats, timeline};
pub use requeue::{RequeueArgs, requeue};
pub use steps::{
    AcknowledgeArgs, AnswerReferralArgs, AssignArgs, CloseArgs, EraseArgs, EscalateArgs,
    EscalateToDirectorArgs, ReferArgs, RespondArgs, ReviewArgs, TsaArgs, acknowledge,
    answer_referral, assign, close, erase, escalate, escalate_to_director, note, refer, respond,
    review, tsa,
};
pub use submit::{SubmitArgs, SubmitEmailArgs, submit, submit_email};

/// Where the suite is and who is calling.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    #[arg(
        long,
        default_value = "http://127.0.0.1:50051",
        env = "COMPLAINTS_SERVER",
        global = true
    )]
    pub server: String,
    /// The intake service's address, where it is not at --server (a
    /// deployment with a service per address; --server is then the case
    /// service's).
    #[arg(long, env = "COMPLAINTS_INTAKE_SERVER", global = true)]
    pub intake_server: Option<String>,
    /// The escalation service's address (deadlines), where it is not at
    /// --server.
    #[arg(long, env = "COMPLAINTS_ESCALATION_SERVER", global = true)]
    pub escalation_server: Option<String>,
    /// The notification service's address (notices, requeue), where it is
    /// not at --server.
    #[arg(long, env = "COMPLAINTS_NOTIFICATION_SERVER", global = true)]
    pub notification_server: Option<String>,
    /// A bearer token; without one, a development token is made for `--as`.
    #[arg(long, env = "COMPLAINTS_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// The role of the development token made when no token is given.
    #[arg(long = "as", default_value = "complaints_handler", global = true)]
    pub role: String,
    /// The CA bundle (PEM) the suite's certificate must chain to; an
    /// `https://` --server needs it.
    #[arg(long, env = "COMPLAINTS_TLS_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM), with --key-file, for a suite that asks
    /// callers for one (mutual TLS).
    #[arg(long, env = "COMPLAINTS_TLS_CLIENT_CERT_FILE", global = true)]
    pub cert_file: Option<PathBuf>,
    /// The key (PEM) of --cert-file.
    #[arg(long, env = "COMPLAINTS_TLS_CLIENT_KEY_FILE", global = true)]
    pub key_file: Option<PathBuf>,
}

/// Which service a command calls: each may have an address of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Intake,
    Case,
    Escalation,
    Notification,
}

impl Connection {
    /// Where `service` answers, and the option that said so: its own
    /// address if one was given, else --server (the embedded suite serves
    /// every service on one).
    pub fn address(&self, service: Service) -> (&str, &'static str) {
        let own = match service {
            Service::Intake => self
                .intake_server
                .as_deref()
                .map(|a| (a, "--intake-server")),
            Service::Case => None,
            Service::Escalation => self
                .escalation_server
                .as_deref()
                .map(|a| (a, "--escalation-server")),
            Service::Notification => self
                .notification_server
                .as_deref()
                .map(|a| (a, "--notification-server")),
        };
        own.unwrap_or((&self.server, "--server"))
    }

    /// `service`'s address with the TLS the options ask for: none for
    /// `http://`, the CA bundle (and client certificate) for `https://`.
    pub fn endpoint(&self, service: Service) -> anyhow::Result<Endpoint> {
        let (server, option) = self.address(service);
        let read = |option: &str, path: &Path| {
            std::fs::read_to_string(path)
                .with_context(|| format!("{option} {}: cannot read it", path.display()))
        };
        let identity = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Some((
                read("--cert-file", cert)?,
                Secret::new(read("--key-file", key)?),
            )),
            (None, None) => None,
            (Some(_), None) => anyhow::bail!("--cert-file needs --key-file"),
            (None, Some(_)) => anyhow::bail!("--key-file needs --cert-file"),
        };
        let tls = ClientTls {
            ca_pem: match &self.ca_file {
                Some(path) => Some(read("--ca-file", path)?),
                None => None,
            },
            identity,
        };
        let endpoint = Endpoint::from_shared(server.to_owned())
            .with_context(|| format!("{option} is not a URL"))?;
        match complaints_rpc::tls::client_tls(server, &tls) {
            Ok(Some(config)) => endpoint
                .tls_config(config)
                .context("the TLS options cannot be used"),
            Ok(None) => Ok(endpoint),
            Err(reason) => Err(anyhow::anyhow!(
                "{option} {server}: {}",
                reason.replace(
                    "COMPLAINTS_TLS_CA_FILE",
                    "--ca-file or COMPLAINTS_TLS_CA_FILE"
                )
            )),
        }
    }

    pub fn token(&self) -> anyhow::Result<String> {
        match &self.token {
            Some(token) => Ok(token.clone()),
            None => development_token(&self.role, None, 1),
        }
    }

    /// Who the calls are made as: the token's subject (a development token
    /// names its role). The token is only read here, not verified; the
    /// suite verifies it on every call.
    pub fn subject(&self) -> anyhow::Result<String> {
        let Some(token) = &self.token else {
            let role: Role = parse_role(&self.role)?;
            return Ok(role.as_str().to_owned());
        };
        let claims: Claims = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .context("the token given with --token is not a readable JWT")?;
        Ok(claims.sub)
    }
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    role.parse()
        .map_err(|e: complaints_domain::FieldViolation| {
            anyhow::anyhow!("--role: {}", e.description)
        })
}

/// A token signed with the public development key, which only the
/// embedded suite (and a deployment that allows it) accepts.
pub fn development_token(role: &str, subject: Option<&str>, hours: u64) -> anyhow::Result<String> {
    let role = parse_role(role)?;
    let subject = subject.unwrap_or(role.as_str());
    let issuer = TokenIssuer::new(&AuthConfig::development())?;
    Ok(issuer.issue(
        subject,
        role,
        Duration::from_secs(hours.saturating_mul(3600)),
    )?)
}

type Authed = InterceptedService<Transport, BearerToken>;

async fn connect(connection: &Connection, service: Service) -> anyhow::Result<Authed> {
    let channel = connection
        .endpoint(service)?
        .connect()
        .await
        .with_context(|| {
            let (address, option) = connection.address(service);
            format!("cannot reach the suite at {address} ({option})")
        })?;
    let token = BearerToken::new(connection.token()?)?;
    Ok(InterceptedService::new(channel, token))
}

async fn case_client(connection: &Connection) -> anyhow::Result<CaseServiceClient<Authed>> {
    Ok(CaseServiceClient::new(
        connect(connection, Service::Case).await?,
    ))
}

async fn escalation_client(
    connection: &Connection,
) -> anyhow::Result<EscalationServiceClient<Authed>> {
    Ok(EscalationServiceClient::new(
        connect(connection, Service::Escalation).await?,
    ))
}

/// A fresh idempotency key for one step: a retry of the same command is a
/// new step, so a person never collides with their own earlier keys.
fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A case named by its register number (`CMP-2026-000001`, any case) or its
/// case id.
fn lookup(case: &str) -> Lookup {
    let case = case.trim();
    if case.to_ascii_uppercase().starts_with("CMP-") {
        Lookup::RegisterNumber(case.to_ascii_uppercase())
    } else {
        Lookup::CaseId(case.to_owned())
    }
}

/// The case a person named, as it stands now.
async fn fetch(
    client: &mut CaseServiceClient<Authed>,
    case: &str,
) -> anyhow::Result<case_pb::Case> {
    client
        .get_case(case_pb::GetCaseRequest {
            lookup: Some(lookup(case)),
        })
        .await
        .map_err(explain)?
        .into_inner()
        .case
        .context("the suite answered without the case")
}

/// The case a step's reply carries.
fn changed(case: Option<case_pb::Case>) -> anyhow::Result<case_pb::Case> {
    case.context("the suite answered without the case")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn connection(role: &str, token: Option<String>) -> Connection {
        Connection {
            server: "http://127.0.0.1:50051".to_owned(),
            intake_server: None,
            escalation_server: None,
            notification_server: None,
            token,
            role: role.to_owned(),
            ca_file: None,
            cert_file: None,
            key_file: None,
        }
    }

    fn refusal(connection: &Connection) -> String {
        connection.endpoint(Service::Case).unwrap_err().to_string()
    }

    #[test]
    fn an_https_server_needs_the_ca_bundle_and_a_certificate_needs_its_key() {
        let mut secure = connection("complaints_handler", None);
        secure.server = "https://complaints.internal:443".to_owned();
        let without_ca = refusal(&secure);
        assert!(without_ca.contains("--ca-file"), "{without_ca}");

        let folder = tempfile::tempdir().unwrap();
        let ca = folder.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate yet").unwrap();
        secure.ca_file = Some(ca.clone());
        secure.cert_file = Some(ca.clone());
        assert_eq!(refusal(&secure), "--cert-file needs --key-file");

        secure.cert_file = None;
        secure.ca_file = Some(folder.path().join("missing.pem"));
        let unreadable = refusal(&secure);
        assert!(
            unreadable.starts_with("--ca-file") && unreadable.contains("missing.pem"),
            "{unreadable}"
        );

        let mut plain = connection("complaints_handler", None);
        plain.ca_file = Some(ca);
        let plaintext = refusal(&plain);
        assert!(plaintext.contains("https://"), "{plaintext}");
        plain.ca_file = None;
        plain.endpoint(Service::Case).unwrap();
    }

    /// With a service per address, each command's calls go to its
    /// service's: --server is the case service's and the default for all.
    #[test]
    fn each_service_is_called_at_its_own_address_else_at_the_server() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            connection: Connection,
        }
        let embedded =
            <Cli as clap::Parser>::try_parse_from(["complaints", "--server", "http://suite:50051"])
                .unwrap()
                .connection;
        for service in [
            Service::Intake,
            Service::Case,
            Service::Escalation,
            Service::Notification,
        ] {
            assert_eq!(
                embedded.address(service),
                ("http://suite:50051", "--server")
            );
        }
        let separate = <Cli as clap::Parser>::try_parse_from([
            "complaints",
            "--server",
            "http://case:50051",
            "--intake-server",
            "http://intake:50051",
            "--escalation-server",
            "http://escalation:50051",
            "--notification-server",
            "not a url",
        ])
        .unwrap()
        .connection;
        assert_eq!(
            separate.address(Service::Case),
            ("http://case:50051", "--server")
        );
        assert_eq!(
            separate.address(Service::Intake),
            ("http://intake:50051", "--intake-server")
        );
        assert_eq!(
            separate.address(Service::Escalation),
            ("http://escalation:50051", "--escalation-server")
        );
        let refused = separate
            .endpoint(Service::Notification)
            .unwrap_err()
            .to_string();
        assert_eq!(refused, "--notification-server is not a URL");
    }

    #[test]
    fn mine_is_the_subject_of_the_token_given() {
        let token = development_token("cx_manager", Some("hana"), 1).unwrap();
        assert_eq!(
            connection("complaints_handler", Some(token))
                .subject()
                .unwrap(),
            "hana"
        );
    }

    #[test]
    fn mine_without_a_token_is_the_development_token_s_subject_its_role() {
        assert_eq!(connection("ops_lead", None).subject().unwrap(), "ops_lead");
        assert!(connection("nobody", None).subject().is_err());
    }

    #[test]
    fn a_register_number_is_looked_up_as_one_and_anything_else_as_a_case_id() {
        assert_eq!(
            lookup(" cmp-2026-000001 "),
            Lookup::RegisterNumber("CMP-2026-000001".to_owned())
        );
        assert_eq!(
            lookup("01a22afa-e801-7476-b047-19e360724ff0"),
            Lookup::CaseId("01a22afa-e801-7476-b047-19e360724ff0".to_owned())
        );
    }
}
