//! `complaints submit`: log a complaint taken by telephone, post, email or
//! the web; `complaints submit-email`: pass a raw email on as a mail
//! gateway does.

use clap::Args;
use complaints_proto::complaints::common::v1::{self as common, Channel, ContactMethod};
use complaints_proto::complaints::intake::v1::{
    EmailOutcome, SubmitComplaintRequest, SubmitEmailRequest,
    intake_service_client::IntakeServiceClient,
};

use super::{Connection, Service, connect, explain, format, request_id};

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
    /// The provider's own customer reference (CRM account or service-user number).
    #[arg(long)]
    customer_ref: Option<String>,
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

pub async fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let mut client = IntakeServiceClient::new(connect(&args.connection, Service::Intake).await?);
    let address = (!args.address_lines.is_empty()
        || args.town.is_some()
        || args.postcode.is_some())
    .then(|| common::PostalAddress {
        lines: args.address_lines.clone(),
        town: args.town.clone().unwrap_or_default(),
        postcode: args.postcode.clone().unwrap_or_default(),
    });
    let request = SubmitComplaintRequest {
        request_id: args.request_id.clone().unwrap_or_else(request_id),
        channel: channel(&args.channel)? as i32,
        received_at: None,
        complainant: Some(common::Complainant {
            full_name: args.name.clone(),
            email: args.email.clone().unwrap_or_default(),
            phone: args.phone.clone().unwrap_or_default(),
            postal_address: address,
            preferred_contact: contact(args.prefer.as_deref())? as i32,
            customer_ref: args.customer_ref.clone().unwrap_or_default(),
        }),
        summary: args.summary.clone(),
        details: args.details.clone().unwrap_or_default(),
        recorded_by: args.recorded_by.clone().unwrap_or_default(),
        scan_reference: args.scan_reference.clone().unwrap_or_default(),
        scanned_letter: None,
    };
    let reply = client
        .submit_complaint(request)
        .await
        .map_err(explain)?
        .into_inner();
    if reply.replayed {
        println!(
            "Already logged (the same request was sent before): {}",
            reply.register_number
        );
    } else {
        println!("Complaint logged: {}", reply.register_number);
    }
    println!("  case id:          {}", reply.case_id);
    println!(
        "  acknowledge by:   {}",
        format::proto_day(reply.acknowledge_by.as_ref())
    );
    println!(
        "  resolve by:       {}",
        format::proto_day(reply.resolve_by.as_ref())
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct SubmitEmailArgs {
    /// The message as received (RFC 5322: headers and body), e.g. an `.eml`
    /// file.
    file: std::path::PathBuf,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints submit-email FILE`: a new complaint, or a reply filed on the
/// case it answers.
pub async fn submit_email(args: SubmitEmailArgs) -> anyhow::Result<()> {
    let raw_message = std::fs::read(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let mut client = IntakeServiceClient::new(connect(&args.connection, Service::Intake).await?);
    let reply = client
        .submit_email(SubmitEmailRequest {
            raw_message,
            received_at: None,
            request_id: String::new(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    let again = if reply.replayed {
        " (the same message was passed on before)"
    } else {
        ""
    };
    if reply.outcome == EmailOutcome::AddedToCase as i32 {
        println!(
            "Filed on {} as the complainant's reply{again}: no new case, no clock restarted.",
            reply.register_number
        );
        println!("  case id:          {}", reply.case_id);
        return Ok(());
    }
    println!(
        "Complaint logged from the email{again}: {}",
        reply.register_number
    );
    println!("  case id:          {}", reply.case_id);
    println!(
        "  acknowledge by:   {}",
        format::proto_day(reply.acknowledge_by.as_ref())
    );
    println!(
        "  resolve by:       {}",
        format::proto_day(reply.resolve_by.as_ref())
    );
    Ok(())
}
