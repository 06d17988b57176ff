//! The command line: `complaints dev`, `token` and the client commands, as clap parses them.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::client::{self, Connection};
use crate::embedded::{DevOptions, Embedded};

#[derive(Debug, Parser)]
#[command(
    name = "complaints",
    version,
    about = "The complaints platform's front door"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole suite in this process: every service on one address,
    /// SQLite under the data folder.
    Dev {
        #[arg(long, default_value = "127.0.0.1:50051", env = "COMPLAINTS_LISTEN")]
        listen: SocketAddr,
        #[arg(long, default_value = "data", env = "COMPLAINTS_DATA_DIR")]
        data_dir: PathBuf,
        /// Start a clock that moves only through complaints.testing.v1.ClockService.
        #[arg(long)]
        test_clock: bool,
    },
    /// Print a bearer token that the embedded suite accepts.
    Token {
        /// adviser, complaints_handler, cx_manager, ops_lead, director, integration or service.
        #[arg(long)]
        role: String,
        /// Who the token names; defaults to the role.
        #[arg(long)]
        subject: Option<String>,
        /// How long the token is good for.
        #[arg(long, default_value_t = 12)]
        hours: u64,
    },
    /// Load `IntakeService/SubmitComplaint`: N calls in flight or a fixed
    /// rate; prints accepted/s, latency percentiles and errors by code.
    Bench(Box<crate::bench::BenchArgs>),
    /// Log a complaint.
    Submit(Box<client::SubmitArgs>),
    /// Pass on a raw email (an .eml file) as the mail gateway does: a new
    /// complaint, or a reply filed on the case it answers.
    SubmitEmail(client::SubmitEmailArgs),
    /// Show a case, by case id or register number.
    Show {
        case: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Show a case's timeline.
    Timeline {
        case: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Add a note to a case.
    Note {
        case: String,
        text: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Statistics over the cases received between two dates (YYYY-MM-DD).
    Stats {
        #[arg(long)]
        from: chrono::NaiveDate,
        #[arg(long)]
        to: chrono::NaiveDate,
        #[command(flatten)]
        connection: Connection,
    },
    /// List cases, newest received first, by assignee, state or complainant.
    List(Box<client::ListArgs>),
    /// Show a case's deadlines: what, due by when, and how each stands.
    Deadlines {
        case: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Show every letter, email and staff alert about a case, and whether it went.
    Notices {
        case: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Show a case's emails both ways, oldest first, and what each answered.
    Correspondence {
        case: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Name the person who has a case for its role ("" clears it).
    Assign(client::AssignArgs),
    /// Record an acknowledgement given outside the platform (telephone, letter, ...).
    Acknowledge(client::AcknowledgeArgs),
    /// Refer the complaint to another department; prints the referral id.
    Refer(client::ReferArgs),
    /// Record a department's answer to a referral.
    AnswerReferral(client::AnswerReferralArgs),
    /// Issue the response that concludes the case's current stage.
    Respond(client::RespondArgs),
    /// Record the complainant's request for a stage 2 review.
    Review(client::ReviewArgs),
    /// Escalate a stage 2 review to the Customer Service Operations Lead.
    Escalate(client::EscalateArgs),
    /// Record the complainant's request to escalate to a director (stage 3).
    EscalateToDirector(client::EscalateToDirectorArgs),
    /// Record that the complainant took the complaint to the TSA.
    Tsa(client::TsaArgs),
    /// Close a case; its pending deadlines stop.
    Close(client::CloseArgs),
    /// Erase the complainant's personal data from a case.
    Erase(client::EraseArgs),
    /// Put FAILED notifications back in the queue, to be sent at once (after
    /// an outage that outlasted the retry window): by --case, --failed-since
    /// and --id, every one given must hold. Operations lead or CX manager.
    Requeue(client::RequeueArgs),
    /// Move one of a case's pending deadlines later by working days.
    Extend(client::ExtendArgs),
    /// Pause a case's clocks: nothing falls due until they are resumed.
    Pause(client::PauseArgs),
    /// Resume a case's paused clocks; due dates move by the days paused.
    Resume(client::ResumeArgs),
    /// Add a file to a case as evidence (its media type guessed from the
    /// extension unless --media-type is given).
    Attach(client::AttachArgs),
    /// List a case's evidence: name, type, size, SHA-256, who added it and when.
    Evidence {
        case: String,
        #[command(flatten)]
        connection: Connection,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev {
            listen,
            data_dir,
            test_clock,
        } => dev(listen, data_dir, test_clock).await,
        Command::Token {
            role,
            subject,
            hours,
        } => {
            println!(
                "{}",
                client::development_token(&role, subject.as_deref(), hours)?
            );
            Ok(())
        }
        Command::Bench(args) => crate::bench::bench(*args).await,
        Command::Submit(args) => client::submit(*args).await,
        Command::SubmitEmail(args) => client::submit_email(args).await,
        Command::Show { case, connection } => client::show(&connection, &case).await,
        Command::Timeline { case, connection } => client::timeline(&connection, &case).await,
        Command::Note {
            case,
            text,
            connection,
        } => client::note(&connection, &case, text).await,
        Command::Stats {
            from,
            to,
            connection,
        } => client::stats(&connection, from, to).await,
        Command::List(args) => client::list(*args).await,
        Command::Deadlines { case, connection } => client::deadlines(&connection, &case).await,
        Command::Notices { case, connection } => client::notices(&connection, &case).await,
        Command::Correspondence { case, connection } => {
            client::correspondence(&connection, &case).await
        }
        Command::Assign(args) => client::assign(args).await,
        Command::Acknowledge(args) => client::acknowledge(args).await,
        Command::Refer(args) => client::refer(args).await,
        Command::AnswerReferral(args) => client::answer_referral(args).await,
        Command::Respond(args) => client::respond(args).await,
        Command::Review(args) => client::review(args).await,
        Command::Escalate(args) => client::escalate(args).await,
        Command::EscalateToDirector(args) => client::escalate_to_director(args).await,
        Command::Tsa(args) => client::tsa(args).await,
        Command::Close(args) => client::close(args).await,
        Command::Erase(args) => client::erase(args).await,
        Command::Requeue(args) => client::requeue(args).await,
        Command::Extend(args) => client::extend(args).await,
        Command::Pause(args) => client::pause(args).await,
        Command::Resume(args) => client::resume(args).await,
        Command::Attach(args) => client::attach(args).await,
        Command::Evidence { case, connection } => client::evidence(&connection, &case).await,
    }
}

async fn dev(listen: SocketAddr, data_dir: PathBuf, test_clock: bool) -> anyhow::Result<()> {
    let settings = complaints_config::Settings::load().context("settings")?;
    let telemetry = complaints_telemetry::init(complaints_telemetry::TelemetryOptions {
        service: "complaints",
        log_filter: &settings.log_filter,
        trace_filter: &settings.trace_filter,
        log_json: settings.log_json,
        metrics_listen: settings.metrics_listen,
    })?;
    let development_key = settings.auth.is_development();
    let suite = Embedded::build(
        DevOptions {
            listen,
            data_dir: data_dir.clone(),
            test_clock,
        },
        settings,
    )
    .await?;
    let address = suite.address();
    println!("complaints suite (embedded) on {address}");
    println!("  data folder: {}", data_dir.display());
    if development_key {
        println!("  accepting development tokens: `complaints token --role complaints_handler`");
    }
    if test_clock {
        println!("  test clock on: complaints.testing.v1.ClockService/Advance moves time");
    }
    println!("ready: listening on {address}");
    suite
        .run_until_stopped(complaints_rpc::shutdown_signal())
        .await?;
    println!("stopped");
    telemetry.shutdown();
    Ok(())
}
