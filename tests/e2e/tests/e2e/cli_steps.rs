//! The `complaints` client commands, run as a person runs them against
//! `complaints dev --test-clock`: one telephone complaint taken through
//! every step of the policy to the TSA and closed, every answer read as
//! printed.
//!
//! The clock is moved to the policy tests' fixed receipt instant
//! ([`RECEIVED_AT`], Monday 13 December 2032 at 10:15 GMT), so every date the
//! commands print is written down here (worked out in `policy_support`).
//! Every command's output, refusals included, must be words: no raw enum
//! name of the contracts may appear.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use complaints_auth::BearerToken;
use complaints_e2e::{Process, START_TIMEOUT, TempDir, binaries, clean_command, run};
use complaints_proto::complaints::testing::v1 as testing_pb;
use complaints_proto::complaints::testing::v1::clock_service_client::ClockServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::policy_support::{A_MINUTE, RECEIVED_AT, at};

/// Raw enum names of the contracts, which a person must never be shown.
const RAW_NAMES: [&str; 9] = [
    "CASE_STATUS_",
    "STAGE_",
    "FINDING_",
    "ROLE_",
    "CHANNEL_",
    "DEADLINE_KIND_",
    "DEADLINE_STATE_",
    "CONTACT_METHOD_",
    "ACKNOWLEDGEMENT_METHOD_",
];

/// `complaints dev --test-clock` and the `complaints` client pointed at it.
struct Terminal {
    _suite: Process,
    _data: TempDir,
    server: String,
    clock: ClockServiceClient<InterceptedService<Channel, BearerToken>>,
}

/// What one command printed.
struct Printed {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Terminal {
    fn start() -> Terminal {
        let data = TempDir::new("complaints-e2e-cli").unwrap();
        let mut command = clean_command(&binaries().complaints);
        command
            .current_dir(data.path())
            .arg("dev")
            .args(["--listen", "127.0.0.1:0", "--test-clock"])
            .arg("--data-dir")
            .arg(data.path().join("data"));
        let mut suite = Process::spawn("complaints dev", command).unwrap();
        let address: SocketAddr = suite
            .wait_for_line("ready: listening on ", START_TIMEOUT)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let token = complaints_e2e::dev_token("complaints_handler", "hana");
        let clock = ClockServiceClient::with_interceptor(
            complaints_e2e::channel(address).unwrap(),
            BearerToken::new(token).unwrap(),
        );
        Terminal {
            _suite: suite,
            _data: data,
            server: format!("http://{address}"),
            clock,
        }
    }

    async fn now(&mut self) -> DateTime<Utc> {
        let now = self
            .clock
            .now(testing_pb::NowRequest {})
            .await
            .unwrap()
            .into_inner()
            .now
            .unwrap();
        DateTime::from_timestamp(now.seconds, 0).unwrap()
    }

    /// Moves the clock forward by `by`; everything due on the way (the
    /// acknowledgements among it) has gone out when this returns.
    async fn advance(&mut self, by: chrono::Duration) {
        self.clock
            .advance(testing_pb::AdvanceRequest {
                by: Some(prost_types::Duration {
                    seconds: by.num_seconds(),
                    nanos: 0,
                }),
            })
            .await
            .unwrap();
    }

    /// `complaints <args> --as <role>`, with no environment but `PATH`.
    fn run(&self, role: &str, args: &[&str]) -> Printed {
        let mut command: Command = clean_command(&binaries().complaints);
        command
            .args(args)
            .args(["--server", &self.server, "--as", role]);
        let output = run(command, Duration::from_secs(60)).unwrap();
        let printed = Printed {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        for raw in RAW_NAMES {
            assert!(
                !printed.stdout.contains(raw) && !printed.stderr.contains(raw),
                "`complaints {}` printed a raw enum name ({raw}):\n{}\n{}",
                args.join(" "),
                printed.stdout,
                printed.stderr
            );
        }
        printed
    }

    /// A command that must succeed; answers what it printed.
    fn ok(&self, role: &str, args: &[&str]) -> String {
        let printed = self.run(role, args);
        assert!(
            printed.success,
            "`complaints {}` as {role} failed:\n{}\n{}",
            args.join(" "),
            printed.stdout,
            printed.stderr
        );
        printed.stdout
    }

    /// A command that must be refused; answers its error.
    fn refused(&self, role: &str, args: &[&str]) -> String {
        let printed = self.run(role, args);
        assert!(
            !printed.success,
            "`complaints {}` as {role} should have been refused:\n{}",
            args.join(" "),
            printed.stdout
        );
        printed.stderr
    }
}

/// The text after `label` on the line that has it.
fn after<'a>(printed: &'a str, label: &str) -> &'a str {
    printed
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{printed}"))
        .trim()
}

fn assert_says(printed: &str, words: &str) {
    assert!(printed.contains(words), "expected {words:?} in:\n{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telephone_complaint_goes_through_the_cli_from_logging_to_the_tsa_in_words() {
    let mut terminal = Terminal::start();
    let now = terminal.now().await;
    assert!(
        now < at(RECEIVED_AT),
        "the suite's clock starts at the real time ({now}), past the story's {RECEIVED_AT}: \
         move the story (tests/e2e/tests/e2e/policy_support.rs)"
    );
    terminal.advance(at(RECEIVED_AT) - now).await;

    // Logged by an adviser on Monday 13 December 2032 at 10:15.
    let logged = terminal.ok(
        "adviser",
        &[
            "submit",
            "--channel",
            "telephone",
            "--name",
            "Mary Jones",
            "--phone",
            "01632 960001",
            "--email",
            "mary@example.com",
            "--recorded-by",
            "adviser-7",
            "--summary",
            "Pendant alarm did not connect",
            "--details",
            "Pressed twice on Saturday night",
        ],
    );
    let register = after(&logged, "Complaint logged:").to_owned();
    assert!(register.starts_with("CMP-2032-"), "{logged}");
    assert_eq!(after(&logged, "acknowledge by:"), "Thu 16 Dec 2032");
    assert_eq!(after(&logged, "resolve by:"), "Wed 29 Dec 2032");
    let case = register.as_str();

    // A minute later the acknowledgement has gone by email.
    terminal.advance(A_MINUTE).await;
    let shown = terminal.ok("complaints_handler", &["show", case]);
    assert_eq!(
        after(&shown, "where:"),
        "Stage 1 (investigation), open, with the complaints department"
    );
    assert_eq!(
        after(&shown, "received:"),
        "Mon 13 Dec 2032 10:15 GMT by telephone"
    );
    assert_eq!(
        after(&shown, "this stage:"),
        "acknowledged on Mon 13 Dec 2032"
    );
    assert_says(&shown, "acknowledge by Thu 16 Dec 2032 (met)");
    assert_says(&shown, "resolve by Wed 29 Dec 2032 (pending)");

    // The acknowledgement went, so a requeue of the case's failed notices
    // moves nothing; only the operations lead (or a CX manager) may ask,
    // and only naming which.
    let requeued = terminal.ok("ops_lead", &["requeue", "--case", case]);
    assert_says(
        &requeued,
        &format!("Nothing requeued: no failed notification of {case}"),
    );
    let since = terminal.ok(
        "ops_lead",
        &[
            "requeue",
            "--case",
            case,
            "--failed-since",
            "2032-12-13T09:00",
        ],
    );
    assert_says(&since, "that failed since Mon 13 Dec 2032 09:00 GMT");
    let handler = terminal.refused("complaints_handler", &["requeue", "--case", case]);
    assert_says(&handler, "Not allowed for your role");
    let unnamed = terminal.refused("ops_lead", &["requeue"]);
    assert_says(&unnamed, "--case");
    let deadlines = terminal.ok("complaints_handler", &["deadlines", case]);
    let resolve = deadlines
        .lines()
        .find(|line| line.trim_start().starts_with("resolve "))
        .unwrap_or_else(|| panic!("no resolve row:\n{deadlines}"));
    let resolve: Vec<&str> = resolve
        .split("  ")
        .filter(|c| !c.trim().is_empty())
        .collect();
    assert_eq!(
        resolve.iter().map(|c| c.trim()).collect::<Vec<_>>(),
        [
            "resolve",
            "Wed 29 Dec 2032",
            "pending",
            "the complaints department"
        ],
        "{deadlines}"
    );

    // Assigned to the handler, who finds it among their own cases.
    let assigned = terminal.ok(
        "complaints_handler",
        &["assign", case, "complaints_handler"],
    );
    assert_says(
        &assigned,
        &format!("Assigned {case} to complaints_handler."),
    );
    let mine = terminal.ok("complaints_handler", &["list", "--mine"]);
    assert_says(&mine, "1 case assigned to complaints_handler:");
    assert_says(&mine, case);
    let nobody = terminal.ok(
        "complaints_handler",
        &["list", "--assignee", "someone-else"],
    );
    assert_says(&nobody, "No cases assigned to someone-else match.");

    // Referred to Installations and answered.
    let referred = terminal.ok(
        "complaints_handler",
        &[
            "refer",
            case,
            "--department",
            "Installations",
            "--question",
            "Was the pendant paired after the last visit?",
        ],
    );
    assert_says(&referred, &format!("Referred {case} to Installations"));
    let referral = after(&referred, "referral id:").to_owned();
    let answered = terminal.ok(
        "complaints_handler",
        &[
            "answer-referral",
            case,
            &referral,
            "--response",
            "Not paired; an engineer re-paired it",
        ],
    );
    assert_says(
        &answered,
        &format!("Recorded the answer from Installations on {case}."),
    );

    // The resolve date moved two working days later (Thursday 30 and
    // Friday 31 December), then the clocks paused and resumed the same day.
    let extended = terminal.ok(
        "complaints_handler",
        &[
            "extend",
            case,
            "--kind",
            "resolve",
            "--days",
            "2",
            "--reason",
            "We are waiting for the engineer's report",
        ],
    );
    assert_says(
        &extended,
        &format!("Extended {case}'s resolve deadline by 2 working days;"),
    );
    assert_eq!(
        after(&extended, "now:"),
        "resolve by Fri 31 Dec 2032 (pending; first due Wed 29 Dec 2032)"
    );
    let paused = terminal.ok(
        "complaints_handler",
        &["pause", case, "--reason", "Complainant in hospital"],
    );
    assert_says(&paused, &format!("Paused the clocks of {case}:"));
    assert_says(
        &paused,
        "resolve by Fri 31 Dec 2032 (pending, paused since Mon 13 Dec 2032; first due Wed 29 Dec 2032)",
    );
    let resumed = terminal.ok(
        "complaints_handler",
        &["resume", case, "--reason", "Complainant home again"],
    );
    assert_says(
        &resumed,
        &format!(
            "Resumed the clocks of {case}: no due date moved (paused and resumed on the same day)."
        ),
    );

    // Stage 1 response.
    let responded = terminal.ok(
        "complaints_handler",
        &[
            "respond",
            case,
            "--outcome",
            "The pendant was not paired; it is now",
            "--finding",
            "partly-upheld",
            "--root-cause",
            "faulty-equipment",
            "--lessons",
            "Check pairing on every visit",
        ],
    );
    assert_says(
        &responded,
        &format!(
            "Issued the Stage 1 (investigation) response on {case}: partly upheld, root cause faulty-equipment; it is sent to the complainant."
        ),
    );
    assert_eq!(
        after(&responded, "now:"),
        "Stage 1 (investigation), responded, with the complaints department (assigned to complaints_handler)"
    );

    // A review request without a desired outcome is refused, naming the field (R4).
    let refused = terminal.refused(
        "complaints_handler",
        &[
            "review",
            case,
            "--desired-outcome",
            "",
            "--unsatisfied-with",
            "The delay",
        ],
    );
    assert_says(&refused, "The request was refused:");
    assert_says(&refused, "\n  desired_outcome: ");
    let reviewed = terminal.ok(
        "complaints_handler",
        &[
            "review",
            case,
            "--desired-outcome",
            "A replacement pendant",
            "--unsatisfied-with",
            "Nobody called back",
        ],
    );
    assert_says(
        &reviewed,
        &format!("Review requested for {case}: it moves to Stage 2 (review)."),
    );
    assert_eq!(
        after(&reviewed, "now:"),
        "Stage 2 (review), open, with the Customer Experience Manager"
    );

    // Whoever handled stage 1 does not decide stage 2 (R5).
    let not_theirs = terminal.refused(
        "complaints_handler",
        &[
            "respond",
            case,
            "--outcome",
            "x",
            "--finding",
            "upheld",
            "--root-cause",
            "communication",
        ],
    );
    assert_says(&not_theirs, "Not allowed for your role");
    let reviewed = terminal.ok(
        "cx_manager",
        &[
            "respond",
            case,
            "--outcome",
            "A replacement pendant is on its way",
            "--finding",
            "upheld",
            "--root-cause",
            "faulty-equipment",
        ],
    );
    assert_says(
        &reviewed,
        &format!("Issued the Stage 2 (review) response on {case}: upheld"),
    );
    assert_eq!(
        after(&reviewed, "now:"),
        "Stage 2 (review), responded, with the Customer Experience Manager"
    );

    // Stage 3: the director's final response (R6).
    let escalated = terminal.ok(
        "complaints_handler",
        &[
            "escalate-to-director",
            case,
            "--desired-outcome",
            "Compensation",
            "--unsatisfied-with",
            "Three weeks without a working pendant",
        ],
    );
    assert_says(
        &escalated,
        &format!("Escalated {case} to a director: it moves to Stage 3 (director)."),
    );
    assert_eq!(
        after(&escalated, "now:"),
        "Stage 3 (director), open, with a director"
    );
    let final_response = terminal.ok(
        "director",
        &[
            "respond",
            case,
            "--outcome",
            "One month's charges refunded",
            "--finding",
            "upheld",
            "--root-cause",
            "faulty-equipment",
        ],
    );
    assert_says(
        &final_response,
        "it is the final response, sent to the complainant with the way to the TSA.",
    );

    // The TSA (R7), then closed.
    let tsa = terminal.ok(
        "complaints_handler",
        &["tsa", case, "--reference", "TSA-2033-0042"],
    );
    assert_says(
        &tsa,
        &format!("Recorded that {case} was taken to the TSA (TSA reference TSA-2033-0042)."),
    );
    assert_eq!(after(&tsa, "now:"), "External (TSA), open, with a director");
    let closed = terminal.ok(
        "complaints_handler",
        &["close", case, "--reason", "The TSA concluded"],
    );
    assert_says(
        &closed,
        &format!("Closed {case} on Mon 13 Dec 2032: The TSA concluded."),
    );
    assert_eq!(after(&closed, "now:"), "External (TSA), closed");

    // The record, read back in words.
    let shown = terminal.ok("complaints_handler", &["show", case]);
    assert_says(
        &shown,
        "Stage 1 (investigation) on Mon 13 Dec 2032: partly upheld, root cause faulty-equipment",
    );
    assert_says(&shown, "Stage 2 (review) on Mon 13 Dec 2032: upheld");
    assert_says(&shown, "Stage 3 (director) on Mon 13 Dec 2032: upheld");
    assert_says(&shown, "referred, TSA reference TSA-2033-0042");
    assert_says(&shown, "on Mon 13 Dec 2032: The TSA concluded");
    assert_says(&shown, "answered on Mon 13 Dec 2032");
    let listed = terminal.ok("complaints_handler", &["list", "--status", "closed"]);
    assert_says(&listed, case);
    assert_says(&listed, "External (TSA), closed");
    terminal.ok("complaints_handler", &["timeline", case]);
    terminal.ok(
        "complaints_handler",
        &["stats", "--from", "2032-12-01", "--to", "2032-12-31"],
    );

    // A closed case takes no more steps, and says why in a sentence.
    let too_late = terminal.refused(
        "complaints_handler",
        &["refer", case, "--department", "Billing", "--question", "?"],
    );
    assert_says(&too_late, "Not possible in the case's current state:");
}
