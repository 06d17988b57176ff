//! The run's tables: per fault (how many times injected, complaints
//! accepted while it lasted, lost, duplicated, refused, time to recover),
//! then per invariant.

use std::fmt::Write;
use std::time::Duration;

use crate::faults::Injection;
use crate::invariants::{Findings, Outcome};
use crate::load::Submission;

/// The examples shown per violated invariant.
const EXAMPLES: usize = 5;

#[derive(Debug, Default, Clone, Copy)]
struct Row {
    accepted: usize,
    lost: usize,
    duplicated: usize,
    refused: usize,
    /// Emails received a second time.
    repeated_mails: usize,
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

/// The report as Markdown tables (readable as plain text too).
///
/// Each fault has a window, from its injection until the next fault's
/// (the last one's until the load stopped), which takes in its recovery
/// and what follows. A complaint counts in the window it was first sent in,
/// except that an acknowledgement received twice counts where its first
/// copy arrived (what made it repeat happened then, say a send whose
/// record failed); so does an email received twice.
/// Before the first fault is the warm-up.
pub fn render(
    header: &str,
    injections: &[Injection],
    submissions: &[Submission],
    findings: &Findings,
    recover_within: Duration,
) -> String {
    // Slot 0 is the warm-up; slot i + 1 the window of injection i.
    let slot = |at: f64| -> usize {
        injections
            .iter()
            .rposition(|i| i.started <= at)
            .map_or(0, |index| index + 1)
    };
    let mut rows: Vec<Row> = vec![Row::default(); injections.len() + 1];
    let mut total = Row::default();
    let empty = Outcome::default();
    for submission in submissions {
        let outcome = findings
            .outcomes
            .get(&submission.request.request_id)
            .unwrap_or(&empty);
        let row = &mut rows[slot(submission.first_sent)];
        row.accepted += usize::from(outcome.accepted);
        row.lost += usize::from(outcome.lost);
        row.refused += usize::from(outcome.refused);
        if outcome.duplicated {
            let again = outcome.acknowledged_again.unwrap_or(submission.first_sent);
            rows[slot(again)].duplicated += 1;
        }
        total.accepted += usize::from(outcome.accepted);
        total.lost += usize::from(outcome.lost);
        total.refused += usize::from(outcome.refused);
        total.duplicated += usize::from(outcome.duplicated);
    }
    for &again in &findings.repeated_mails {
        rows[slot(again)].repeated_mails += 1;
        total.repeated_mails += 1;
    }
    let warmup = rows[0];

    let mut out = String::new();
    let _ = writeln!(out, "{header}\n");
    let _ = writeln!(
        out,
        "| fault | times injected | lasted | complaints accepted | lost | duplicated | refused (not retryable) | emails received twice | time to recover |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for (injection, row) in injections.iter().zip(&rows[1..]) {
        let recovered = match injection.recovered_in {
            Some(took) => seconds(took),
            None => format!("not within {}", seconds(recover_within)),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            injection.fault.name(),
            injection.times,
            seconds(Duration::from_secs_f64(
                (injection.lifted - injection.started).max(0.0)
            )),
            row.accepted,
            row.lost,
            row.duplicated,
            row.refused,
            row.repeated_mails,
            recovered
        );
    }
    let _ = writeln!(
        out,
        "| (warm-up, no fault) | 0 | | {} | {} | {} | {} | {} | |",
        warmup.accepted, warmup.lost, warmup.duplicated, warmup.refused, warmup.repeated_mails
    );
    let _ = writeln!(
        out,
        "| **total** | {} | | {} | {} | {} | {} | {} | |",
        injections.iter().map(|i| i.times).sum::<u32>(),
        total.accepted,
        total.lost,
        total.duplicated,
        total.refused,
        total.repeated_mails
    );
    let _ = writeln!(
        out,
        "\nDrain after the load stopped: {} ({}).\n",
        seconds(findings.drained_in),
        if findings.drained {
            "everything finished"
        } else {
            "bound reached with work left"
        }
    );
    let _ = writeln!(out, "| invariant | checked | violations |");
    let _ = writeln!(out, "|---|---|---|");
    for check in &findings.checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            check.name,
            check.checked,
            check.violations.len()
        );
    }
    if !findings.resent_after_kill.is_empty() {
        let _ = writeln!(
            out,
            "\nSent again after SIGKILL cut their sender off between the SMTP server taking \
             them and the record ({}, counted under emails received twice; the same \
             Message-ID, so a mail client shows one):",
            findings.resent_after_kill.len()
        );
        for resent in findings.resent_after_kill.iter().take(EXAMPLES) {
            let _ = writeln!(out, "  - {resent}");
        }
    }
    for injection in injections.iter().filter(|i| !i.problems.is_empty()) {
        let _ = writeln!(
            out,
            "\n{} while injecting or lifting:",
            injection.fault.name()
        );
        for problem in &injection.problems {
            let first = problem.lines().next().unwrap_or_default();
            let _ = writeln!(out, "  - {first}");
        }
    }
    for check in findings.checks.iter().filter(|c| !c.violations.is_empty()) {
        let _ = writeln!(
            out,
            "\nVIOLATED: {} ({}), for example:",
            check.name,
            check.violations.len()
        );
        for violation in check.violations.iter().take(EXAMPLES) {
            let _ = writeln!(out, "  - {violation}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;
    use crate::invariants::Check;

    fn injection(fault: Fault, started: f64) -> Injection {
        Injection {
            fault,
            times: 1,
            started,
            lifted: started + 5.0,
            recovered_in: Some(Duration::from_secs(1)),
            problems: Vec::new(),
        }
    }

    fn submission(id: &str, first_sent: f64) -> Submission {
        Submission {
            request: crate::load::complaint(1, 1),
            first_sent,
            accepted: None,
            refusals: Vec::new(),
            probe: false,
        }
        .with_id(id)
    }

    impl Submission {
        fn with_id(mut self, id: &str) -> Submission {
            self.request.request_id = id.to_owned();
            self
        }
    }

    #[test]
    fn a_complaint_counts_where_it_was_sent_and_a_repeat_where_it_arrived() {
        let injections = [
            injection(Fault::SmtpDown, 100.0),
            injection(Fault::SmtpTimeout, 200.0),
        ];
        let submissions = [
            submission("warm", 50.0),
            submission("lost", 150.0),
            submission("twice", 190.0),
        ];
        let accepted = Outcome {
            accepted: true,
            ..Outcome::default()
        };
        let findings = Findings {
            checks: vec![Check {
                name: "an invariant",
                checked: 3,
                violations: vec!["broken".to_owned()],
            }],
            outcomes: [
                ("warm".to_owned(), accepted),
                (
                    "lost".to_owned(),
                    Outcome {
                        lost: true,
                        ..accepted
                    },
                ),
                (
                    "twice".to_owned(),
                    Outcome {
                        duplicated: true,
                        acknowledged_again: Some(210.0),
                        ..accepted
                    },
                ),
            ]
            .into(),
            repeated_mails: vec![210.0, 240.0],
            resent_after_kill: Vec::new(),
            drained_in: Duration::from_secs(3),
            drained: true,
        };
        let text = render(
            "header",
            &injections,
            &submissions,
            &findings,
            Duration::from_secs(60),
        );
        // smtp-down: two accepted in its window, one lost; smtp-timeout:
        // the repeat of the acknowledgement and both repeated emails.
        assert!(
            text.contains("| smtp-down | 1 | 5.0 s | 2 | 1 | 0 | 0 | 0 | 1.0 s |"),
            "{text}"
        );
        assert!(
            text.contains("| smtp-timeout | 1 | 5.0 s | 0 | 0 | 1 | 0 | 2 | 1.0 s |"),
            "{text}"
        );
        assert!(
            text.contains("| (warm-up, no fault) | 0 | | 1 | 0 | 0 | 0 | 0 | |"),
            "{text}"
        );
        assert!(text.contains("VIOLATED: an invariant (1)"), "{text}");
    }
}
