//! Commands that move a case's clocks: extend one deadline, pause them all,
//! resume them.

use clap::{Args, ValueEnum};
use complaints_proto::complaints::common::v1::DeadlineKind;
use complaints_proto::complaints::escalation::v1::{
    Deadline, ExtendDeadlineRequest, PauseClocksRequest, ResumeClocksRequest,
};

use super::{Connection, case_client, escalation_client, explain, fetch, format, request_id};

/// A deadline, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Acknowledge,
    Resolve,
    ReferralUpdate,
    #[value(name = "stage-2-acknowledge")]
    Stage2Acknowledge,
    #[value(name = "stage-2-respond")]
    Stage2Respond,
    #[value(name = "stage-3-acknowledge")]
    Stage3Acknowledge,
    #[value(name = "stage-3-respond")]
    Stage3Respond,
}

impl From<KindArg> for DeadlineKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Acknowledge => DeadlineKind::Acknowledge,
            KindArg::Resolve => DeadlineKind::Resolve,
            KindArg::ReferralUpdate => DeadlineKind::ReferralUpdate,
            KindArg::Stage2Acknowledge => DeadlineKind::Stage2Acknowledge,
            KindArg::Stage2Respond => DeadlineKind::Stage2Respond,
            KindArg::Stage3Acknowledge => DeadlineKind::Stage3Acknowledge,
            KindArg::Stage3Respond => DeadlineKind::Stage3Respond,
        }
    }
}

fn list(deadlines: &[Deadline]) {
    for deadline in deadlines {
        println!("  {}", format::deadline(deadline));
    }
}

#[derive(Debug, Args)]
pub struct ExtendArgs {
    /// The case: its register number or case id.
    case: String,
    /// Which pending deadline to move.
    #[arg(long, value_enum)]
    kind: KindArg,
    /// How many working days later.
    #[arg(long)]
    days: i32,
    /// Why, in words the complainant reads in the notice of the new date.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints extend`: move one pending deadline later.
pub async fn extend(args: ExtendArgs) -> anyhow::Result<()> {
    let found = fetch(&mut case_client(&args.connection).await?, &args.case).await?;
    let mut client = escalation_client(&args.connection).await?;
    let reply = client
        .extend_deadline(ExtendDeadlineRequest {
            case_id: found.case_id,
            kind: DeadlineKind::from(args.kind) as i32,
            extra_working_days: args.days,
            reason: args.reason,
            request_id: request_id(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    let deadline = reply
        .deadline
        .ok_or_else(|| anyhow::anyhow!("the suite answered without the deadline"))?;
    let days = if args.days == 1 {
        "1 working day".to_owned()
    } else {
        format!("{} working days", args.days)
    };
    println!(
        "Extended {}'s {} deadline by {days}; the complainant is sent the new date.",
        found.register_number,
        format::deadline_kind(deadline.kind)
    );
    println!("  now: {}", format::deadline(&deadline));
    Ok(())
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// The case: its register number or case id.
    case: String,
    /// Why, for the record (for example "complainant in hospital").
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints pause`: stop the case's clocks until resumed.
pub async fn pause(args: PauseArgs) -> anyhow::Result<()> {
    let found = fetch(&mut case_client(&args.connection).await?, &args.case).await?;
    let mut client = escalation_client(&args.connection).await?;
    let reply = client
        .pause_clocks(PauseClocksRequest {
            case_id: found.case_id,
            reason: args.reason,
        })
        .await
        .map_err(explain)?
        .into_inner();
    println!(
        "Paused the clocks of {}: nothing falls due or is warned about until they are resumed.",
        found.register_number
    );
    list(&reply.deadlines);
    Ok(())
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The case: its register number or case id.
    case: String,
    /// Why, in words the complainant reads when a due date moves.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints resume`: restart the case's paused clocks, each due date
/// moved by the working days they were paused.
pub async fn resume(args: ResumeArgs) -> anyhow::Result<()> {
    let found = fetch(&mut case_client(&args.connection).await?, &args.case).await?;
    let mut client = escalation_client(&args.connection).await?;
    let reply = client
        .resume_clocks(ResumeClocksRequest {
            case_id: found.case_id,
            reason: args.reason,
        })
        .await
        .map_err(explain)?
        .into_inner();
    let moved = match reply.working_days_paused {
        0 => "no due date moved (paused and resumed on the same day)".to_owned(),
        1 => "each due date moved 1 working day later".to_owned(),
        n => format!("each due date moved {n} working days later"),
    };
    println!("Resumed the clocks of {}: {moved}.", found.register_number);
    list(&reply.deadlines);
    Ok(())
}
