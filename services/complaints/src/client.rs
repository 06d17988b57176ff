//! How a client command reaches the suite: where it is, who is calling, and
//! which case a person means.
//!
//! The commands themselves live by job: `submit` logs a complaint, `steps`
//! takes a case through the policy, `clocks` extends, pauses and resumes
//! its deadlines, `reading` shows cases, timelines, deadlines,
//! notices and statistics; `evidence` attaches files and lists them; `format` holds the words they print and `errors` the
//! sentences a refusal becomes.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use complaints_auth::{AuthConfig, BearerToken, Claims, TokenIssuer};
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1::{
    self as case_pb, case_service_client::CaseServiceClient, get_case_request::Lookup,
};
use complaints_proto::complaints::escalation::v1::escalation_service_client::EscalationServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel as Transport;

mod clocks;
mod errors;
mod evidence;
pub mod format;
mod reading;
mod steps;
mod submit;

pub use clocks::{ExtendArgs, PauseArgs, ResumeArgs, extend, pause, resume};
pub use errors::explain;
pub use evidence::{AttachArgs, attach, evidence};
pub use reading::{ListArgs, correspondence, deadlines, list, notices, show, stats, timeline};
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
    /// A bearer token; without one, a development token is made for `--as`.
    #[arg(long, env = "COMPLAINTS_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// The role of the development token made when no token is given.
    #[arg(long = "as", default_value = "complaints_handler", global = true)]
    pub role: String,
}

impl Connection {
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

async fn connect(connection: &Connection) -> anyhow::Result<Authed> {
    let channel = tonic::transport::Endpoint::from_shared(connection.server.clone())
        .context("--server is not a URL")?
        .connect()
        .await
        .with_context(|| format!("cannot reach the suite at {}", connection.server))?;
    let token = BearerToken::new(connection.token()?)?;
    Ok(InterceptedService::new(channel, token))
}

async fn case_client(connection: &Connection) -> anyhow::Result<CaseServiceClient<Authed>> {
    Ok(CaseServiceClient::new(connect(connection).await?))
}

async fn escalation_client(
    connection: &Connection,
) -> anyhow::Result<EscalationServiceClient<Authed>> {
    Ok(EscalationServiceClient::new(connect(connection).await?))
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
            token,
            role: role.to_owned(),
        }
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
