//! Client commands for a person at a terminal: readable output, clear errors.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use complaints_auth::{AuthConfig, BearerToken, TokenIssuer};
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1::{
    self as case_pb, case_service_client::CaseServiceClient, get_case_request::Lookup,
};
use complaints_proto::complaints::common::v1::{self as common, Channel, ContactMethod};
use complaints_proto::complaints::intake::v1::{
    SubmitComplaintRequest, intake_service_client::IntakeServiceClient,
};
use complaints_proto::google::r#type::Date;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel as Transport;

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
}

/// A token signed with the public development key, which only the
/// embedded suite (and a deployment that allows it) accepts.
pub fn development_token(role: &str, subject: Option<&str>, hours: u64) -> anyhow::Result<String> {
    let role: Role = role
        .parse()
        .map_err(|e: complaints_domain::FieldViolation| {
            anyhow::anyhow!("--role: {}", e.description)
        })?;
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

/// A status as a person reads it, with every field violation on its own line.
fn explain(status: tonic::Status) -> anyhow::Error {
    use tonic_types::StatusExt;
    let mut message = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad) = status.get_details_bad_request() {
        message = format!("{:?}: the request was refused", status.code());
        for violation in bad.field_violations {
            message.push_str(&format!(
                "\n  {}: {}",
                violation.field, violation.description
            ));
        }
    }
    anyhow::anyhow!(message)
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// telephone, post, email or web.
    #[arg(long)]
    channel: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    /// An address line; repeat for more lines.
    #[arg(long = "address-line")]
    address_lines: Vec<String>,
    #[arg(long)]
    town: Option<String>,
    #[arg(long)]
    postcode: Option<String>,
    /// email, post or phone.
    #[arg(long)]
    prefer: Option<String>,
    #[arg(long)]
    summary: String,
    #[arg(long)]
    details: Option<String>,
    /// The adviser taking a telephone complaint.
    #[arg(long)]
    recorded_by: Option<String>,
    /// The scan reference of a letter.
    #[arg(long)]
    scan_reference: Option<String>,
    /// Idempotency key; a fresh one is made when omitted.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

fn channel(name: &str) -> anyhow::Result<Channel> {
    Ok(match name {
        "telephone" | "phone" => Channel::Telephone,
        "post" | "letter" => Channel::Post,
        "email" => Channel::Email,
        "web" => Channel::Web,
        other => anyhow::bail!("--channel {other:?}: expected telephone, post, email or web"),
    })
}

fn contact(name: Option<&str>) -> anyhow::Result<ContactMethod> {
    Ok(match name {
        None => ContactMethod::Unspecified,
        Some("email") => ContactMethod::Email,
        Some("post") => ContactMethod::Post,
        Some("phone") => ContactMethod::Phone,
        Some(other) => anyhow::bail!("--prefer {other:?}: expected email, post or phone"),
    })
}

fn date(date: Option<&Date>) -> String {
    date.map_or_else(
        || "-".to_owned(),
        |d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
    )
}

fn instant(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|ts| chrono::DateTime::from_timestamp(ts.seconds, 0))
        .map_or_else(
            || "-".to_owned(),
            |at| at.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
}

pub async fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let mut client = IntakeServiceClient::new(connect(&args.connection).await?);
    let address = (!args.address_lines.is_empty()
        || args.town.is_some()
        || args.postcode.is_some())
    .then(|| common::PostalAddress {
        lines: args.address_lines.clone(),
        town: args.town.clone().unwrap_or_default(),
        postcode: args.postcode.clone().unwrap_or_default(),
    });
    let request = SubmitComplaintRequest {
        request_id: args.request_id.clone().unwrap_or_else(|| {
            format!(
                "cli-{}",
                chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
            )
        }),
        channel: channel(&args.channel)? as i32,
        received_at: None,
        complainant: Some(common::Complainant {
            full_name: args.name.clone(),
            email: args.email.clone().unwrap_or_default(),
            phone: args.phone.clone().unwrap_or_default(),
            postal_address: address,
            preferred_contact: contact(args.prefer.as_deref())? as i32,
            customer_ref: String::new(),
        }),
        summary: args.summary.clone(),
        details: args.details.clone().unwrap_or_default(),
        recorded_by: args.recorded_by.clone().unwrap_or_default(),
        scan_reference: args.scan_reference.clone().unwrap_or_default(),
    };
    let reply = client
        .submit_complaint(request)
        .await
        .map_err(explain)?
        .into_inner();
    println!("Complaint logged: {}", reply.register_number);
    println!("  case id:          {}", reply.case_id);
    println!(
        "  acknowledge by:   {}",
        date(reply.acknowledge_by.as_ref())
    );
    println!("  resolve by:       {}", date(reply.resolve_by.as_ref()));
    Ok(())
}

fn lookup(case: &str) -> Lookup {
    if case.to_ascii_uppercase().starts_with("CMP-") {
        Lookup::RegisterNumber(case.to_owned())
    } else {
        Lookup::CaseId(case.to_owned())
    }
}

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
        .context("the reply held no case")
}

fn enum_name<E: TryFrom<i32>>(value: i32, name: impl Fn(&E) -> &'static str) -> String {
    E::try_from(value).map_or_else(|_| value.to_string(), |e| name(&e).to_owned())
}

pub async fn show(connection: &Connection, case: &str) -> anyhow::Result<()> {
    let mut client = CaseServiceClient::new(connect(connection).await?);
    let case = fetch(&mut client, case).await?;
    println!("{}  ({})", case.register_number, case.case_id);
    println!("  summary:      {}", case.summary);
    println!(
        "  stage:        {}",
        enum_name(case.stage, common::Stage::as_str_name)
    );
    println!(
        "  status:       {}",
        enum_name(case.status, case_pb::CaseStatus::as_str_name)
    );
    println!(
        "  channel:      {}",
        enum_name(case.channel, Channel::as_str_name)
    );
    println!(
        "  owner:        {}",
        enum_name(case.owner_role, common::Role::as_str_name)
    );
    println!("  received:     {}", instant(case.received_at.as_ref()));
    if let Some(person) = &case.complainant {
        println!("  complainant:  {}", person.full_name);
    }
    println!(
        "  overdue:      {}",
        if case.overdue { "yes" } else { "no" }
    );
    for response in &case.responses {
        println!(
            "  response ({}): {} [{}]",
            enum_name(response.stage, common::Stage::as_str_name),
            response.outcome,
            response.root_cause
        );
    }
    Ok(())
}

pub async fn timeline(connection: &Connection, case: &str) -> anyhow::Result<()> {
    let mut client = CaseServiceClient::new(connect(connection).await?);
    let case = fetch(&mut client, case).await?;
    let reply = client
        .get_timeline(case_pb::GetTimelineRequest {
            case_id: case.case_id.clone(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "{} timeline ({} events)",
        case.register_number,
        reply.events.len()
    );
    for event in &reply.events {
        println!(
            "  {:>3}  {}  {:<28} {}  {}",
            event.sequence,
            instant(event.at.as_ref()),
            event.kind,
            event.actor,
            event.details
        );
    }
    println!(
        "hash chain: {}",
        if reply.verified { "verified" } else { "BROKEN" }
    );
    Ok(())
}

pub async fn note(connection: &Connection, case: &str, text: String) -> anyhow::Result<()> {
    let mut client = CaseServiceClient::new(connect(connection).await?);
    let found = fetch(&mut client, case).await?;
    client
        .add_note(case_pb::AddNoteRequest {
            case_id: found.case_id,
            request_id: String::new(),
            text,
        })
        .await
        .map_err(explain)?;
    println!("note added to {}", found.register_number);
    Ok(())
}

pub async fn stats(
    connection: &Connection,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> anyhow::Result<()> {
    let mut client = CaseServiceClient::new(connect(connection).await?);
    let reply = client
        .get_statistics(case_pb::GetStatisticsRequest {
            from_date: Some(complaints_rpc::date_to_proto(from)),
            to_date: Some(complaints_rpc::date_to_proto(to)),
        })
        .await
        .map_err(explain)?
        .into_inner();
    println!("Complaints received {from} to {to}: {}", reply.total);
    for (title, counts) in [
        ("by stage", &reply.by_stage),
        ("by channel", &reply.by_channel),
        ("by root cause", &reply.by_root_cause),
        ("by finding", &reply.by_finding),
    ] {
        if !counts.is_empty() {
            let list: Vec<String> = counts
                .iter()
                .map(|c| format!("{} {}", c.key, c.count))
                .collect();
            println!("  {title}: {}", list.join(", "));
        }
    }
    for sla in &reply.sla {
        println!(
            "  {}: met {}, breached {}, pending {}",
            enum_name(sla.kind, common::DeadlineKind::as_str_name),
            sla.met,
            sla.breached,
            sla.pending
        );
    }
    println!(
        "  escalated to review: {:.0}%, to the TSA: {:.0}%",
        reply.escalation_rate * 100.0,
        reply.tsa_rate * 100.0
    );
    Ok(())
}
