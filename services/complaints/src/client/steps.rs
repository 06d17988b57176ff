//! The steps that move a case through the policy, one command each: each
//! sends a fresh `request_id`, says what happened in a sentence, and shows
//! where the case now stands.

use chrono::{NaiveDateTime, TimeZone};
use clap::{Args, ValueEnum};
use complaints_proto::complaints::case::v1::{
    self as case_pb, AcknowledgementMethod, Finding, case_service_client::CaseServiceClient,
};

use super::{Authed, Connection, case_client, changed, explain, fetch, format, request_id};

/// The case service, as a step reaches it.
type Client = CaseServiceClient<Authed>;

/// The sentence saying what happened, then where the case now stands.
fn report(what: &str, case: &case_pb::Case) {
    println!("{what}");
    println!("  now: {}", format::case_state(case));
}

/// Connects, resolves `case`, and sends the one request `call` makes for its
/// case id; the reply, or the suite's refusal in words.
async fn send<Reply>(
    connection: &Connection,
    case: &str,
    call: impl AsyncFnOnce(&mut Client, String) -> Result<Reply, tonic::Status>,
) -> anyhow::Result<Reply> {
    let mut client = case_client(connection).await?;
    let found = fetch(&mut client, case).await?;
    call(&mut client, found.case_id).await.map_err(explain)
}

/// One step: `send`, whose reply carries the changed case, then the
/// sentence `sentence` makes of it and where the case now stands.
async fn run_step(
    connection: &Connection,
    case: &str,
    call: impl AsyncFnOnce(&mut Client, String) -> Result<Option<case_pb::Case>, tonic::Status>,
    sentence: impl FnOnce(&case_pb::Case) -> String,
) -> anyhow::Result<()> {
    let case = changed(send(connection, case, call).await?)?;
    report(&sentence(&case), &case);
    Ok(())
}

/// A local date and time as typed (`2026-12-03T14:05`), in the policy's
/// time zone.
pub(super) fn local_instant(text: &str) -> Result<prost_types::Timestamp, String> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .map_err(|_| format!("{text:?} is not a local date and time like 2026-12-03T14:05"))?;
    let zone = format::time_zone();
    let at = zone
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(|| format!("{text} does not exist in {zone} (the clocks went forward)"))?;
    Ok(complaints_rpc::timestamp_to_proto(
        at.with_timezone(&chrono::Utc),
    ))
}

#[derive(Debug, Args)]
pub struct ReferArgs {
    /// The case: its register number (CMP-2026-000001) or case id.
    case: String,
    /// The department asked, for example Installations.
    #[arg(long)]
    department: String,
    /// What the department is asked.
    #[arg(long)]
    question: String,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints refer`: ask another department (R3 starts its clock).
pub async fn refer(args: ReferArgs) -> anyhow::Result<()> {
    let reply = send(&args.connection, &args.case, async |client, case_id| {
        let request = case_pb::ReferToDepartmentRequest {
            case_id,
            request_id: request_id(),
            department: args.department.clone(),
            question: args.question,
        };
        Ok(client.refer_to_department(request).await?.into_inner())
    })
    .await?;
    let case = changed(reply.case)?;
    println!(
        "Referred {} to {}; the complainant is told it was referred and that updates will follow.",
        case.register_number, args.department
    );
    println!("  referral id: {}", reply.referral_id);
    println!("  now: {}", format::case_state(&case));
    Ok(())
}

#[derive(Debug, Args)]
pub struct AnswerReferralArgs {
    /// The case: its register number or case id.
    case: String,
    /// The referral answered, as `complaints refer` printed it.
    referral_id: String,
    /// The department's answer.
    #[arg(long)]
    response: String,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints answer-referral`: record a department's answer.
pub async fn answer_referral(args: AnswerReferralArgs) -> anyhow::Result<()> {
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::RecordDepartmentResponseRequest {
            case_id,
            request_id: request_id(),
            referral_id: args.referral_id.clone(),
            response: args.response,
        };
        Ok(client
            .record_department_response(request)
            .await?
            .into_inner()
            .case)
    };
    run_step(&args.connection, &args.case, call, |case| {
        let department = case
            .referrals
            .iter()
            .find(|r| r.referral_id == args.referral_id)
            .map_or("the department", |r| r.department.as_str());
        format!(
            "Recorded the answer from {department} on {}.",
            case.register_number
        )
    })
    .await
}

/// A finding, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FindingArg {
    Upheld,
    PartlyUpheld,
    NotUpheld,
}

impl From<FindingArg> for Finding {
    fn from(finding: FindingArg) -> Self {
        match finding {
            FindingArg::Upheld => Finding::Upheld,
            FindingArg::PartlyUpheld => Finding::PartlyUpheld,
            FindingArg::NotUpheld => Finding::NotUpheld,
        }
    }
}

#[derive(Debug, Args)]
pub struct RespondArgs {
    /// The case: its register number or case id.
    case: String,
    /// The response sent to the complainant: what was found and what will be done.
    #[arg(long)]
    outcome: String,
    /// Whether the complaint is found justified.
    #[arg(long, value_enum)]
    finding: FindingArg,
    /// Root cause code from the policy's taxonomy, for example faulty-equipment.
    #[arg(long)]
    root_cause: String,
    /// What the provider will change as a result.
    #[arg(long)]
    lessons: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints respond`: issue the response that concludes the stage.
pub async fn respond(args: RespondArgs) -> anyhow::Result<()> {
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::IssueStageResponseRequest {
            case_id,
            request_id: request_id(),
            outcome: args.outcome,
            upheld: Finding::from(args.finding) as i32,
            root_cause: args.root_cause.clone(),
            lessons_learned: args.lessons.unwrap_or_default(),
        };
        Ok(client
            .issue_stage_response(request)
            .await?
            .into_inner()
            .case)
    };
    run_step(&args.connection, &args.case, call, |case| {
        let finding = format::finding(Finding::from(args.finding) as i32);
        let final_words =
            if case.stage == complaints_proto::complaints::common::v1::Stage::Stage3 as i32 {
                "; it is the final response, sent to the complainant with the way to the TSA"
            } else {
                "; it is sent to the complainant"
            };
        format!(
            "Issued the {} response on {}: {finding}, root cause {}{final_words}.",
            format::stage(case.stage),
            case.register_number,
            args.root_cause
        )
    })
    .await
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The case: its register number or case id.
    case: String,
    /// What the complainant wants to happen.
    #[arg(long)]
    desired_outcome: String,
    /// What the complainant is unsatisfied with in the stage 1 outcome.
    #[arg(long)]
    unsatisfied_with: String,
    /// When the complainant asked (local time, YYYY-MM-DDTHH:MM), for a
    /// request recorded later; the stage 2 clocks count from it.
    #[arg(long, value_parser = local_instant)]
    received_at: Option<prost_types::Timestamp>,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints review`: the complainant asks for a stage 2 review (R4).
pub async fn review(args: ReviewArgs) -> anyhow::Result<()> {
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::RequestReviewRequest {
            case_id,
            request_id: request_id(),
            desired_outcome: args.desired_outcome,
            unsatisfied_with: args.unsatisfied_with,
            received_at: args.received_at,
        };
        Ok(client.request_review(request).await?.into_inner().case)
    };
    run_step(&args.connection, &args.case, call, |case| {
        format!(
            "Review requested for {}: it moves to {}.",
            case.register_number,
            format::stage(case.stage)
        )
    })
    .await
}

#[derive(Debug, Args)]
pub struct EscalateArgs {
    /// The case: its register number or case id.
    case: String,
    /// Why the review is escalated.
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints escalate`: hand a stage 2 review to the Operations Lead (R5).
pub async fn escalate(args: EscalateArgs) -> anyhow::Result<()> {
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::EscalateWithinStageRequest {
            case_id,
            request_id: request_id(),
            reason: args.reason,
        };
        Ok(client
            .escalate_within_stage(request)
            .await?
            .into_inner()
            .case)
    };
    run_step(&args.connection, &args.case, call, |case| {
        format!(
            "Escalated {} within {} to {}.",
            case.register_number,
            format::stage(case.stage),
            format::role(case.owner_role)
        )
    })
    .await
}

#[derive(Debug, Args)]
pub struct EscalateToDirectorArgs {
    /// The case: its register number or case id.
    case: String,
    /// What the complainant wants to happen.
    #[arg(long)]
    desired_outcome: String,
    /// What the complainant is unsatisfied with in the stage 2 response.
    #[arg(long)]
    unsatisfied_with: String,
    /// When the complainant asked (local time, YYYY-MM-DDTHH:MM), for a
    /// request recorded later; the stage 3 clocks count from it.
    #[arg(long, value_parser = local_instant)]
    received_at: Option<prost_types::Timestamp>,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints escalate-to-director`: the complainant takes it to stage 3 (R6).
pub async fn escalate_to_director(args: EscalateToDirectorArgs) -> anyhow::Result<()> {
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::EscalateToDirectorRequest {
            case_id,
            request_id: request_id(),
            desired_outcome: args.desired_outcome,
            unsatisfied_with: args.unsatisfied_with,
            received_at: args.received_at,
        };
        Ok(client
            .escalate_to_director(request)
            .await?
            .into_inner()
            .case)
    };
    run_step(&args.connection, &args.case, call, |case| {
        format!(
            "Escalated {} to a director: it moves to {}.",
            case.register_number,
            format::stage(case.stage)
        )
    })
    .await
}

#[derive(Debug, Args)]
pub struct TsaArgs {
    /// The case: its register number or case id.
    case: String,
    /// The TSA's reference for the complaint.
    #[arg(long)]
    reference: String,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints tsa`: record that the complainant went to the TSA (R7).
pub async fn tsa(args: TsaArgs) -> anyhow::Result<()> {
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::RecordTsaReferralRequest {
            case_id,
            request_id: request_id(),
            reference: args.reference,
        };
        Ok(client.record_tsa_referral(request).await?.into_inner().case)
    };
    run_step(&args.connection, &args.case, call, |case| {
        format!(
            "Recorded that {} was taken to the TSA (TSA reference {}).",
            case.register_number, case.tsa_reference
        )
    })
    .await
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// The case: its register number or case id.
    case: String,
    /// Why the case is closed, for example "complainant accepted the response".
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints close`: close the case; its pending clocks stop.
pub async fn close(args: CloseArgs) -> anyhow::Result<()> {
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::CloseCaseRequest {
            case_id,
            request_id: request_id(),
            reason: args.reason,
        };
        Ok(client.close_case(request).await?.into_inner().case)
    };
    run_step(&args.connection, &args.case, call, |case| {
        format!(
            "Closed {} on {}: {}.",
            case.register_number,
            format::instant_day(case.closed_at.as_ref()),
            case.closed_reason.trim_end_matches('.')
        )
    })
    .await
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The case: its register number or case id.
    case: String,
    /// Why the data is erased, for example "erasure request".
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints erase`: erase the complainant's personal data.
pub async fn erase(args: EraseArgs) -> anyhow::Result<()> {
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::EraseComplainantRequest {
            case_id,
            request_id: request_id(),
            reason: args.reason,
        };
        Ok(client.erase_complainant(request).await?.into_inner().case)
    };
    run_step(&args.connection, &args.case, call, |case| {
        format!(
            "Erased the complainant's personal data from {}; its stage, dates and findings are kept.",
            case.register_number
        )
    })
    .await
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The case: its register number or case id.
    case: String,
    /// Who is to have the case (their token subject); "" clears the assignment.
    person: String,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints assign`: name the person who has the case for its role.
pub async fn assign(args: AssignArgs) -> anyhow::Result<()> {
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::AssignCaseRequest {
            case_id,
            assignee: args.person,
            request_id: request_id(),
        };
        Ok(client.assign_case(request).await?.into_inner().case)
    };
    run_step(&args.connection, &args.case, call, |case| {
        if case.assignee.is_empty() {
            format!("{} is assigned to nobody.", case.register_number)
        } else {
            format!("Assigned {} to {}.", case.register_number, case.assignee)
        }
    })
    .await
}

/// How the complainant was told, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MethodArg {
    Telephone,
    Letter,
    Email,
    InPerson,
}

impl From<MethodArg> for AcknowledgementMethod {
    fn from(method: MethodArg) -> Self {
        match method {
            MethodArg::Telephone => AcknowledgementMethod::Telephone,
            MethodArg::Letter => AcknowledgementMethod::Letter,
            MethodArg::Email => AcknowledgementMethod::Email,
            MethodArg::InPerson => AcknowledgementMethod::InPerson,
        }
    }
}

#[derive(Debug, Args)]
pub struct AcknowledgeArgs {
    /// The case: its register number or case id.
    case: String,
    /// How the complainant was told.
    #[arg(long, value_enum)]
    method: MethodArg,
    /// A call reference or the letter's file reference.
    #[arg(long)]
    reference: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

/// `complaints acknowledge`: record an acknowledgement given outside the
/// platform (R1 at stage 1).
pub async fn acknowledge(args: AcknowledgeArgs) -> anyhow::Result<()> {
    let method = AcknowledgementMethod::from(args.method);
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::RecordAcknowledgementRequest {
            case_id,
            method: method as i32,
            reference: args.reference.clone().unwrap_or_default(),
            request_id: request_id(),
        };
        Ok(client
            .record_acknowledgement(request)
            .await?
            .into_inner()
            .case)
    };
    run_step(&args.connection, &args.case, call, |case| {
        let reference = args
            .reference
            .as_ref()
            .map(|r| format!(" (reference {r})"))
            .unwrap_or_default();
        format!(
            "Recorded that {} at {} was acknowledged {}{reference}: {}.",
            case.register_number,
            format::stage(case.stage),
            format::acknowledgement_method(method as i32),
            format::acknowledged(case)
        )
    })
    .await
}

/// `complaints note`: add a note to the case's timeline.
pub async fn note(connection: &Connection, case: &str, text: String) -> anyhow::Result<()> {
    let call = async |client: &mut Client, case_id| {
        let request = case_pb::AddNoteRequest {
            case_id,
            request_id: request_id(),
            text,
        };
        Ok(client.add_note(request).await?.into_inner().case)
    };
    run_step(connection, case, call, |case| {
        format!("Added a note to {}.", case.register_number)
    })
    .await
}
