//! Commands that read: a case, its timeline, its deadlines, its notices, a
//! list of cases, statistics. Nothing here changes a case.

use clap::{Args, ValueEnum};
use complaints_proto::complaints::case::v1::{self as case_pb, CaseStatus};
use complaints_proto::complaints::common::v1::{Channel, Stage};
use complaints_proto::complaints::escalation::v1::{Deadline, GetDeadlinesRequest};
use complaints_proto::complaints::notification::v1::{
    ListNotificationsRequest, NotificationState,
    notification_service_client::NotificationServiceClient,
};

use super::{Connection, Service, case_client, connect, escalation_client, explain, fetch, format};

/// The case's deadlines, soonest due first; none yet (the platform starts
/// the clocks just after the step that needs them) reads as an empty list.
async fn case_deadlines(connection: &Connection, case_id: &str) -> anyhow::Result<Vec<Deadline>> {
    let mut client = escalation_client(connection).await?;
    match client
        .get_deadlines(GetDeadlinesRequest {
            case_id: case_id.to_owned(),
        })
        .await
    {
        Ok(reply) => Ok(reply.into_inner().deadlines),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(Vec::new()),
        Err(status) => Err(explain(status)),
    }
}

pub async fn show(connection: &Connection, case: &str) -> anyhow::Result<()> {
    let mut client = case_client(connection).await?;
    let case = fetch(&mut client, case).await?;
    println!("{}  (case id {})", case.register_number, case.case_id);
    println!("  summary:      {}", case.summary);
    println!("  where:        {}", format::case_state(&case));
    println!(
        "  received:     {} by {}",
        format::instant(case.received_at.as_ref()),
        format::channel(case.channel)
    );
    if !case.recorded_by.is_empty() {
        println!("  logged by:    {}", case.recorded_by);
    }
    if !case.scan_reference.is_empty() {
        println!("  letter scan:  {}", case.scan_reference);
    }
    if (Stage::Stage1 as i32..=Stage::Stage3 as i32).contains(&case.stage) {
        println!("  this stage:   {}", format::acknowledged(&case));
    }
    match &case.complainant {
        _ if case.personal_data_erased => {
            println!("  complainant:  erased (personal data removed)");
        }
        Some(person) => {
            println!("  complainant:  {}", person.full_name);
            println!(
                "  prefers:      {}",
                format::contact_method(person.preferred_contact)
            );
        }
        None => {}
    }
    println!(
        "  overdue:      {}",
        if case.overdue { "yes" } else { "no" }
    );
    for referral in &case.referrals {
        let answer = match referral.responded_at.as_ref() {
            Some(at) => format!("answered on {}", format::instant_day(Some(at))),
            None => "awaiting an answer".to_owned(),
        };
        println!(
            "  referral:     {} on {}, {answer} (referral {})",
            referral.department,
            format::instant_day(referral.opened_at.as_ref()),
            referral.referral_id
        );
    }
    for response in &case.responses {
        println!(
            "  response:     {} on {}: {}, root cause {}, by {}",
            format::stage(response.stage),
            format::instant_day(response.issued_at.as_ref()),
            format::finding(response.upheld),
            response.root_cause,
            response.issued_by
        );
    }
    if !case.tsa_reference.is_empty() {
        println!(
            "  TSA:          referred, TSA reference {}",
            case.tsa_reference
        );
    }
    if case.status == CaseStatus::Closed as i32 {
        println!(
            "  closed:       on {}: {}",
            format::instant_day(case.closed_at.as_ref()),
            case.closed_reason
        );
    }
    for deadline in case_deadlines(connection, &case.case_id).await? {
        println!("  deadline:     {}", format::deadline(&deadline));
    }
    Ok(())
}

pub async fn timeline(connection: &Connection, case: &str) -> anyhow::Result<()> {
    let mut client = case_client(connection).await?;
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
            format::instant(event.at.as_ref()),
            event.kind,
            event.actor,
            event.details
        );
    }
    println!(
        "hash chain: {}",
        if reply.verified {
            "verified"
        } else {
            "BROKEN: the stored timeline has been altered"
        }
    );
    Ok(())
}

/// `complaints deadlines CASE`: every clock of the case as a table.
pub async fn deadlines(connection: &Connection, case: &str) -> anyhow::Result<()> {
    let mut client = case_client(connection).await?;
    let case = fetch(&mut client, case).await?;
    let deadlines = case_deadlines(connection, &case.case_id).await?;
    if deadlines.is_empty() {
        println!("{} has no deadlines yet.", case.register_number);
        return Ok(());
    }
    println!(
        "{} deadlines ({}):",
        case.register_number,
        format::case_state(&case)
    );
    println!("  {:<28} {:<17} {:<10} who", "what", "due by", "state");
    for deadline in &deadlines {
        println!(
            "  {:<28} {:<17} {:<10} {}",
            format::deadline_kind(deadline.kind),
            format::proto_day(deadline.due_date.as_ref()),
            format::deadline_state(deadline.state),
            format::role(deadline.owner_role),
        );
        let mut notes = Vec::new();
        if let Some(moved) = format::deadline_moved(deadline) {
            notes.push(moved);
        }
        if let Some(paused) = format::deadline_paused(deadline) {
            notes.push(paused);
        }
        if !notes.is_empty() {
            println!("  {:<28} ({})", ' ', notes.join("; "));
        }
    }
    Ok(())
}

/// `complaints notices CASE`: every letter, email and staff alert about the
/// case, oldest first, and whether it went.
pub async fn notices(connection: &Connection, case: &str) -> anyhow::Result<()> {
    let found = fetch(&mut case_client(connection).await?, case).await?;
    let mut client =
        NotificationServiceClient::new(connect(connection, Service::Notification).await?);
    let mut notices = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_notifications(ListNotificationsRequest {
                case_id: found.case_id.clone(),
                page_size: 100,
                page_token,
            })
            .await
            .map_err(explain)?
            .into_inner();
        notices.extend(page.notifications);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if notices.is_empty() {
        println!("Nothing has been sent about {} yet.", found.register_number);
        return Ok(());
    }
    println!("Notices about {}, oldest first:", found.register_number);
    for notice in &notices {
        let mut state = format::notification_state(notice.state);
        if notice.state == NotificationState::Sent as i32 {
            state = format!("sent {}", format::instant(notice.sent_at.as_ref()));
        } else if !notice.last_error.is_empty() {
            state = format!(
                "{state} after {} attempts: {}",
                notice.attempts, notice.last_error
            );
        }
        println!(
            "  {}  {} ({}) by {} to {}: {state}",
            format::instant(notice.created_at.as_ref()),
            format::notification_kind(notice.kind),
            format::stage(notice.stage),
            format::notification_channel(notice.channel),
            notice.recipient,
        );
    }
    Ok(())
}

/// `complaints correspondence CASE`: the case's emails and letters both
/// ways, oldest first, as mail clients thread them.
pub async fn correspondence(connection: &Connection, case: &str) -> anyhow::Result<()> {
    let mut client = case_client(connection).await?;
    let found = fetch(&mut client, case).await?;
    let messages = client
        .list_correspondence(case_pb::ListCorrespondenceRequest {
            case_id: found.case_id.clone(),
        })
        .await
        .map_err(explain)?
        .into_inner()
        .messages;
    if messages.is_empty() {
        println!("No emails or letters on {} yet.", found.register_number);
        return Ok(());
    }
    println!("Correspondence of {}, oldest first:", found.register_number);
    for message in &messages {
        let subject = if message.subject.is_empty() {
            "(no subject kept)"
        } else {
            message.subject.as_str()
        };
        println!(
            "  {}  {}: {subject}",
            format::instant(message.at.as_ref()),
            format::correspondence_direction(message.direction),
        );
        if !message.in_reply_to.is_empty() {
            println!("      in reply to <{}>", message.in_reply_to);
        }
    }
    Ok(())
}

/// A status, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Open,
    Responded,
    Closed,
}

impl From<StatusArg> for CaseStatus {
    fn from(status: StatusArg) -> Self {
        match status {
            StatusArg::Open => CaseStatus::Open,
            StatusArg::Responded => CaseStatus::Responded,
            StatusArg::Closed => CaseStatus::Closed,
        }
    }
}

/// A stage, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StageArg {
    #[value(name = "1")]
    One,
    #[value(name = "2")]
    Two,
    #[value(name = "3")]
    Three,
    External,
}

impl From<StageArg> for Stage {
    fn from(stage: StageArg) -> Self {
        match stage {
            StageArg::One => Stage::Stage1,
            StageArg::Two => Stage::Stage2,
            StageArg::Three => Stage::Stage3,
            StageArg::External => Stage::External,
        }
    }
}

/// A channel, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ChannelArg {
    Telephone,
    Post,
    Email,
    Web,
}

impl From<ChannelArg> for Channel {
    fn from(channel: ChannelArg) -> Self {
        match channel {
            ChannelArg::Telephone => Channel::Telephone,
            ChannelArg::Post => Channel::Post,
            ChannelArg::Email => Channel::Email,
            ChannelArg::Web => Channel::Web,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only cases assigned to this person (a token subject).
    #[arg(long, conflicts_with = "mine")]
    assignee: Option<String>,
    /// Only cases assigned to you (the token's subject).
    #[arg(long)]
    mine: bool,
    #[arg(long, value_enum)]
    status: Option<StatusArg>,
    #[arg(long, value_enum)]
    stage: Option<StageArg>,
    #[arg(long, value_enum)]
    channel: Option<ChannelArg>,
    /// Only cases with a deadline passed and its step outstanding.
    #[arg(long)]
    overdue: bool,
    /// Only cases received on or after this date (YYYY-MM-DD).
    #[arg(long)]
    from: Option<chrono::NaiveDate>,
    /// Only cases received on or before this date (YYYY-MM-DD).
    #[arg(long)]
    to: Option<chrono::NaiveDate>,
    /// Only cases whose complainant's name contains this.
    #[arg(long)]
    name: Option<String>,
    /// Only cases of the complainant with this customer reference.
    #[arg(long)]
    customer_ref: Option<String>,
    /// Only cases of the complainant with this email address.
    #[arg(long)]
    email: Option<String>,
    /// Only cases of the complainant with this UK phone number.
    #[arg(long)]
    phone: Option<String>,
    /// Only cases of the complainant with this postcode.
    #[arg(long)]
    postcode: Option<String>,
    /// Only cases whose summary contains every one of these words.
    #[arg(long)]
    text: Option<String>,
    /// How many cases to show (the suite's default is 50).
    #[arg(long, default_value_t = 0)]
    limit: i32,
    /// Where to continue, as printed at the end of the previous page.
    #[arg(long)]
    page: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints list`: cases matching the filters, newest received first.
pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let assignee = if args.mine {
        Some(args.connection.subject()?)
    } else {
        args.assignee.clone()
    };
    let request = case_pb::ListCasesRequest {
        stage: args.stage.map_or(Stage::Unspecified, Stage::from) as i32,
        status: args
            .status
            .map_or(CaseStatus::Unspecified, CaseStatus::from) as i32,
        channel: args.channel.map_or(Channel::Unspecified, Channel::from) as i32,
        overdue_only: args.overdue,
        received_from: args.from.map(complaints_rpc::date_to_proto),
        received_to: args.to.map(complaints_rpc::date_to_proto),
        complainant_name: args.name.clone().unwrap_or_default(),
        page_size: args.limit,
        page_token: args.page.clone().unwrap_or_default(),
        assignee: assignee.clone().unwrap_or_default(),
        customer_ref: args.customer_ref.clone().unwrap_or_default(),
        email: args.email.clone().unwrap_or_default(),
        phone: args.phone.clone().unwrap_or_default(),
        postcode: args.postcode.clone().unwrap_or_default(),
        text: args.text.clone().unwrap_or_default(),
        ..case_pb::ListCasesRequest::default()
    };
    let mut client = case_client(&args.connection).await?;
    let reply = client
        .list_cases(request)
        .await
        .map_err(explain)?
        .into_inner();
    let whose = match &assignee {
        Some(person) => format!(" assigned to {person}"),
        None => String::new(),
    };
    match reply.total_size {
        0 => println!("No cases{whose} match."),
        1 => println!("1 case{whose}:"),
        n => println!("{n} cases{whose}, newest first:"),
    }
    for case in &reply.cases {
        println!(
            "  {}  received {}  {}{}",
            case.register_number,
            format::instant_day(case.received_at.as_ref()),
            format::case_state(case),
            if case.overdue { ", OVERDUE" } else { "" }
        );
        println!("      {}", case.summary);
    }
    if !reply.next_page_token.is_empty() {
        println!("More: add --page {}", reply.next_page_token);
    }
    Ok(())
}

pub async fn stats(
    connection: &Connection,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> anyhow::Result<()> {
    let mut client = case_client(connection).await?;
    let reply = client
        .get_statistics(case_pb::GetStatisticsRequest {
            from_date: Some(complaints_rpc::date_to_proto(from)),
            to_date: Some(complaints_rpc::date_to_proto(to)),
        })
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "Complaints received {} to {}: {}",
        format::day(from),
        format::day(to),
        reply.total
    );
    for (title, counts) in [
        ("by stage", &reply.by_stage),
        ("by channel", &reply.by_channel),
        ("by root cause", &reply.by_root_cause),
        ("by finding", &reply.by_finding),
    ] {
        if !counts.is_empty() {
            let list: Vec<String> = counts
                .iter()
                .map(|c| format!("{} {}", format::count_key(&c.key), c.count))
                .collect();
            println!("  {title}: {}", list.join(", "));
        }
    }
    for sla in &reply.sla {
        println!(
            "  {}: met {}, breached {}, pending {}",
            format::deadline_kind(sla.kind),
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
