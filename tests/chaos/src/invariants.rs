//! What must hold after a run, once the load has stopped and the system
//! has finished its work (or the drain's bound has passed): read from the
//! harness's own database (SQL), the case service (`GetTimeline`) and what
//! the SMTP server recorded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use complaints_domain::role::Role;
use complaints_proto::complaints::case::v1::GetTimelineRequest;
use complaints_proto::complaints::case::v1::case_service_client::CaseServiceClient;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tonic::transport::Channel;

use crate::cluster::{Cluster, Kind, Mail};
use crate::load::{Ledger, lock, summary, token};

/// One invariant and what broke it.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    /// How many things it looked at.
    pub checked: usize,
    pub violations: Vec<String>,
}

/// What the checks found about one complaint.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub accepted: bool,
    pub lost: bool,
    pub duplicated: bool,
    /// When the first of its repeated acknowledgements arrived (Unix
    /// seconds): what made it repeat happened then.
    pub acknowledged_again: Option<f64>,
    pub refused: bool,
}

#[derive(Debug)]
pub struct Findings {
    pub checks: Vec<Check>,
    /// By request id.
    pub outcomes: HashMap<String, Outcome>,
    /// When each email received more than once first arrived (Unix seconds).
    pub repeated_mails: Vec<f64>,
    /// Emails sent a second time because the replica that sent the first
    /// copy was SIGKILLed after the SMTP server took it and before it could
    /// record it: no violation (see [`cut_short`]), but reported.
    pub resent_after_kill: Vec<String>,
    pub drained_in: Duration,
    pub drained: bool,
}

impl Findings {
    pub fn violations(&self) -> usize {
        self.checks.iter().map(|c| c.violations.len()).sum()
    }
}

async fn rows(db: &DatabaseConnection, sql: &str) -> anyhow::Result<Vec<sea_orm::QueryResult>> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .with_context(|| format!("running {sql}"))
}

async fn count(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let rows = rows(db, sql).await?;
    match rows.first() {
        Some(row) => Ok(row.try_get_by_index::<i64>(0)?),
        None => Ok(0),
    }
}

/// The test clocks' kind, as the deadlines table spells it.
const TEST_CLOCK_KIND: &str = "stage_3_acknowledge";

fn is_acknowledgement(mail: &Mail, register_number: &str) -> bool {
    mail.subject.starts_with("Your complaint") && mail.subject.contains(register_number)
}

/// Waits, at most `within`, until nothing is left to do: every accepted
/// complaint acknowledged by email, no outbox row undelivered, no
/// notification queued, no test clock pending. Answers how long it took,
/// and whether it got there.
pub async fn drain(
    db: &DatabaseConnection,
    cluster: &Cluster,
    ledger: &Ledger,
    within: Duration,
) -> (Duration, bool, String) {
    let started = Instant::now();
    let registers: Vec<String> = lock(&ledger.submissions)
        .iter()
        .filter_map(|s| s.accepted.as_ref().map(|a| a.register_number.clone()))
        .collect();
    let mut last = String::new();
    while started.elapsed() < within {
        let mails = cluster.smtp.received();
        let acknowledged: HashSet<&str> = registers
            .iter()
            .filter(|r| mails.iter().any(|m| is_acknowledgement(m, r)))
            .map(String::as_str)
            .collect();
        let state = async {
            Ok::<_, anyhow::Error>((
                count(db, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL").await?,
                count(
                    db,
                    "SELECT count(*) FROM notifications WHERE state = 'queued'",
                )
                .await?,
                count(
                    db,
                    &format!(
                        "SELECT count(*) FROM deadlines WHERE kind = '{TEST_CLOCK_KIND}' \
                         AND state = 'pending'"
                    ),
                )
                .await?,
            ))
        }
        .await;
        match state {
            Ok((outbox, queued, clocks)) => {
                let unacknowledged = registers.len() - acknowledged.len();
                last = format!(
                    "{unacknowledged} accepted complaints unacknowledged, {outbox} outbox rows \
                     undelivered, {queued} notifications queued, {clocks} test clocks pending"
                );
                if unacknowledged == 0 && outbox == 0 && queued == 0 && clocks == 0 {
                    return (started.elapsed(), true, last);
                }
            }
            Err(error) => last = format!("{error:#}"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    (started.elapsed(), false, last)
}

/// Runs every check.
pub async fn check(
    db: &DatabaseConnection,
    cluster: &Cluster,
    ledger: &Ledger,
) -> anyhow::Result<(Vec<Check>, HashMap<String, Outcome>, Vec<f64>, Vec<String>)> {
    let submissions = lock(&ledger.submissions).clone();
    let clocks = lock(&ledger.clocks).clone();
    let mails = cluster.smtp.received();
    let mut checks = Vec::new();
    let mut outcomes: HashMap<String, Outcome> = HashMap::new();

    // Cases by summary (each complaint's carries its request id).
    let mut cases: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for row in rows(
        db,
        "SELECT id::text AS id, register_number, summary FROM cases WHERE summary LIKE 'chaos %'",
    )
    .await?
    {
        cases
            .entry(row.try_get::<String>("", "summary")?)
            .or_default()
            .push((
                row.try_get::<String>("", "id")?,
                row.try_get::<String>("", "register_number")?,
            ));
    }

    let notification_kills: Vec<f64> = cluster
        .replicas
        .iter()
        .filter(|r| r.kind == Kind::Notification)
        .flat_map(|r| r.killed_at.iter().copied())
        .collect();
    let mut resent_after_kill: Vec<String> = Vec::new();

    // Mail by Message-ID, and acknowledgements by register number.
    let mut by_message_id: BTreeMap<&str, Vec<&Mail>> = BTreeMap::new();
    for mail in &mails {
        by_message_id
            .entry(mail.message_id.as_str())
            .or_default()
            .push(mail);
    }

    let mut recorded = Check {
        name: "every accepted complaint is recorded exactly once, as the case it was answered with",
        checked: 0,
        violations: Vec::new(),
    };
    let mut acknowledged = Check {
        name: "every accepted complaint's acknowledgement reaches the SMTP server exactly once",
        checked: 0,
        violations: Vec::new(),
    };
    let mut refused = Check {
        name: "no complaint is refused with an answer the client may not retry",
        checked: 0,
        violations: Vec::new(),
    };
    let mut eventually = Check {
        name: "every complaint is accepted, at the latest when retried after the faults",
        checked: 0,
        violations: Vec::new(),
    };
    for submission in &submissions {
        let id = &submission.request.request_id;
        let outcome = outcomes.entry(id.clone()).or_default();
        refused.checked += 1;
        eventually.checked += 1;
        if !submission.refusals.is_empty() {
            outcome.refused = true;
            refused
                .violations
                .push(format!("{id}: {}", submission.refusals.join("; ")));
        }
        let Some(accepted) = &submission.accepted else {
            eventually
                .violations
                .push(format!("{id} was never accepted"));
            continue;
        };
        outcome.accepted = true;
        recorded.checked += 1;
        let found = cases.get(&summary(id)).cloned().unwrap_or_default();
        match found.as_slice() {
            [] => {
                outcome.lost = true;
                recorded.violations.push(format!(
                    "{id}: accepted as {} but no case holds it",
                    accepted.register_number
                ));
            }
            [(case_id, register)] => {
                if *case_id != accepted.case_id || *register != accepted.register_number {
                    recorded.violations.push(format!(
                        "{id}: answered {} ({}), recorded as {register} ({case_id})",
                        accepted.register_number, accepted.case_id
                    ));
                }
            }
            many => {
                outcome.duplicated = true;
                recorded.violations.push(format!(
                    "{id}: {} cases: {}",
                    many.len(),
                    many.iter()
                        .map(|(_, r)| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        acknowledged.checked += 1;
        let acks: Vec<&Mail> = mails
            .iter()
            .filter(|m| is_acknowledgement(m, &accepted.register_number))
            .collect();
        let distinct: HashSet<&str> = acks.iter().map(|m| m.message_id.as_str()).collect();
        if acks.is_empty() {
            acknowledged.violations.push(format!(
                "{} ({id}): no acknowledgement received",
                accepted.register_number
            ));
        } else if distinct.len() == 1 && cut_short(&acks, &notification_kills) {
            // Counted once, under the Message-ID check below.
        } else if acks.len() > 1 {
            outcome.duplicated = true;
            outcome.acknowledged_again = Some(acks[0].at);
            acknowledged.violations.push(format!(
                "{} ({id}): {} acknowledgements received ({} distinct Message-IDs)",
                accepted.register_number,
                acks.len(),
                distinct.len()
            ));
        }
    }
    checks.extend([recorded, acknowledged]);

    // Each accepted case's timeline verifies.
    checks.push(timelines(cluster, &submissions).await?);

    // Deadlines.
    let mut deadlines: HashMap<(String, String), (String, String, bool)> = HashMap::new();
    for row in rows(
        db,
        "SELECT deadline_id::text AS id, case_id::text AS case_id, kind, state, \
         fired_at IS NOT NULL AS fired FROM deadlines",
    )
    .await?
    {
        deadlines.insert(
            (
                row.try_get::<String>("", "case_id")?,
                row.try_get::<String>("", "kind")?,
            ),
            (
                row.try_get::<String>("", "id")?,
                row.try_get::<String>("", "state")?,
                row.try_get::<bool>("", "fired")?,
            ),
        );
    }
    let mut notifications: Vec<(String, String, String, String, String)> = Vec::new();
    for row in rows(
        db,
        "SELECT notification_id, dedupe_key, state, coalesce(channel, '') AS channel, \
         coalesce(last_error, '') AS last_error FROM notifications",
    )
    .await?
    {
        notifications.push((
            row.try_get::<String>("", "notification_id")?,
            row.try_get::<String>("", "dedupe_key")?,
            row.try_get::<String>("", "state")?,
            row.try_get::<String>("", "channel")?,
            row.try_get::<String>("", "last_error")?,
        ));
    }

    let mut stage1 = Check {
        name: "every accepted case's stage 1 clocks exist, the acknowledge clock met once acknowledged",
        checked: 0,
        violations: Vec::new(),
    };
    for submission in &submissions {
        let Some(accepted) = &submission.accepted else {
            continue;
        };
        stage1.checked += 1;
        for kind in ["acknowledge", "resolve"] {
            match deadlines.get(&(accepted.case_id.clone(), kind.to_owned())) {
                None => stage1
                    .violations
                    .push(format!("{}: no {kind} clock", accepted.register_number)),
                Some((_, state, _)) if kind == "acknowledge" && state != "met" => {
                    let acked = mails
                        .iter()
                        .any(|m| is_acknowledgement(m, &accepted.register_number));
                    if acked {
                        stage1.violations.push(format!(
                            "{}: acknowledged, but its acknowledge clock is {state}",
                            accepted.register_number
                        ));
                    }
                }
                Some(_) => {}
            }
        }
    }
    checks.push(stage1);

    let mut fired = Check {
        name: "every test clock fired once in effect (one breach alert per role) unless met, none lost",
        checked: 0,
        violations: Vec::new(),
    };
    let mut met_quiet = Check {
        name: "no breach alert for a deadline that was met",
        checked: 0,
        violations: Vec::new(),
    };
    for clock in &clocks {
        if !clock.errors.is_empty() {
            fired.violations.push(format!(
                "{}: the harness could not {}",
                clock.register_number,
                clock.errors.join("; ")
            ));
        }
        if clock.started.is_none() {
            continue;
        }
        fired.checked += 1;
        let Some((deadline_id, state, was_fired)) =
            deadlines.get(&(clock.case_id.clone(), TEST_CLOCK_KIND.to_owned()))
        else {
            fired.violations.push(format!(
                "{}: its test clock was started (OK) but is not in the deadlines table",
                clock.register_number
            ));
            continue;
        };
        let breach_prefix = format!("{deadline_id}/breach/");
        let breach_notices = notifications
            .iter()
            .filter(|n| n.1.starts_with(&breach_prefix))
            .count();
        let missed_mails = mails
            .iter()
            .filter(|m| {
                m.subject.starts_with("MISSED") && m.subject.contains(&clock.register_number)
            })
            .count();
        let met_in_time = clock.met.is_some_and(|met| met < clock.due_at);
        if met_in_time {
            met_quiet.checked += 1;
            if state != "met" || breach_notices > 0 || missed_mails > 0 {
                met_quiet.violations.push(format!(
                    "{}: met before it fell due, yet {state}, {breach_notices} breach \
                     notifications, {missed_mails} MISSED emails",
                    clock.register_number
                ));
            }
            continue;
        }
        match state.as_str() {
            "breached" => {
                if !was_fired || breach_notices != 2 || missed_mails != 2 {
                    fired.violations.push(format!(
                        "{}: breached (fired_at set: {was_fired}) with {breach_notices} breach \
                         notifications and {missed_mails} MISSED emails (one per role: 2)",
                        clock.register_number
                    ));
                }
            }
            // Met after its due instant, before it was fired: nothing to send.
            "met" if clock.met.is_some() && breach_notices == 0 && missed_mails == 0 => {}
            other => fired.violations.push(format!(
                "{}: due {} but {other}, with {breach_notices} breach notifications",
                clock.register_number, clock.due_at
            )),
        }
    }
    checks.extend([fired, met_quiet]);

    // Every notice exactly once at the SMTP server, none failed.
    let mut once = Check {
        name: "every email reaches the SMTP server exactly once (by Message-ID)",
        checked: by_message_id.len(),
        violations: Vec::new(),
    };
    for (message_id, copies) in &by_message_id {
        if cut_short(copies, &notification_kills) {
            resent_after_kill.push(format!(
                "{message_id}: {} to {}",
                copies[0].subject, copies[0].recipients
            ));
        } else if copies.len() > 1 {
            once.violations.push(format!(
                "{message_id} received {} times: {} to {}",
                copies.len(),
                copies[0].subject,
                copies[0].recipients
            ));
        }
    }
    let mut delivered = Check {
        name: "every notification recorded as sent by email reached the SMTP server",
        checked: 0,
        violations: Vec::new(),
    };
    let mut failed = Check {
        name: "no notification FAILED (every outage here is transient)",
        checked: notifications.len(),
        violations: Vec::new(),
    };
    for (id, key, state, channel, last_error) in &notifications {
        if state == "failed" {
            failed
                .violations
                .push(format!("{id} ({key}): failed: {last_error}"));
        }
        if state == "sent" && channel == "email" {
            delivered.checked += 1;
            let prefix = format!("<{id}@");
            if !by_message_id.keys().any(|m| m.starts_with(&prefix)) {
                delivered.violations.push(format!(
                    "{id} ({key}) is sent but the SMTP server never got it"
                ));
            }
        }
    }
    checks.extend([once, delivered, failed]);

    let mut undelivered = Check {
        name: "nothing left undelivered (outbox rows, queued notifications)",
        checked: 0,
        violations: Vec::new(),
    };
    for row in rows(
        db,
        "SELECT topic, count(*) AS n, max(attempts) AS attempts, \
         coalesce(max(last_error), '') AS last_error FROM outbox \
         WHERE delivered_at IS NULL GROUP BY topic",
    )
    .await?
    {
        undelivered.violations.push(format!(
            "outbox {}: {} rows undelivered (up to {} attempts; {})",
            row.try_get::<String>("", "topic")?,
            row.try_get::<i64>("", "n")?,
            row.try_get::<i32>("", "attempts")?,
            row.try_get::<String>("", "last_error")?
        ));
    }
    undelivered.checked = usize::try_from(count(db, "SELECT count(*) FROM outbox").await?)
        .unwrap_or_default()
        + notifications.len();
    let queued = notifications.iter().filter(|n| n.2 == "queued").count();
    if queued > 0 {
        undelivered
            .violations
            .push(format!("{queued} notifications still queued"));
    }
    checks.extend([undelivered, refused, eventually]);

    let repeated = by_message_id
        .values()
        .filter(|copies| copies.len() > 1)
        .map(|copies| copies[0].at)
        .collect();
    Ok((checks, outcomes, repeated, resent_after_kill))
}

/// How long before a SIGKILL the SMTP server may have taken a message that
/// the killed replica then had no time to record: the record follows the
/// server's answer within milliseconds; the margin covers a loaded machine.
const RECORD_WINDOW_SECONDS: f64 = 2.0;

/// Whether `copies` (one Message-ID's, in arrival order) are a message
/// sent, then sent again because its sender was SIGKILLed in between the
/// SMTP server taking it and the sender recording it: exactly two copies,
/// the first arriving at most [`RECORD_WINDOW_SECONDS`] before a kill of a
/// notification replica, the second after that kill. No worker can close
/// that window (the relay's acceptance and the database's record are two
/// systems); the second copy keeps the Message-ID, so the recipient's mail
/// client shows one. Any other repeat is a violation.
fn cut_short(copies: &[&Mail], kills: &[f64]) -> bool {
    let [first, second] = copies else {
        return false;
    };
    kills.iter().any(|&killed| {
        first.at <= killed + 0.1 && killed - first.at <= RECORD_WINDOW_SECONDS && second.at > killed
    })
}

/// `GetTimeline` for every accepted case, eight at a time: each must
/// verify.
async fn timelines(
    cluster: &Cluster,
    submissions: &[crate::load::Submission],
) -> anyhow::Result<Check> {
    let handler = token(&cluster.auth, "chaos-checker", Role::ComplaintsHandler)?;
    let channel = Channel::from_shared(format!("http://{}", cluster.address_of(Kind::Case)))?
        .timeout(Duration::from_secs(30))
        .connect_lazy();
    let client = CaseServiceClient::with_interceptor(channel, handler);
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    let mut calls = tokio::task::JoinSet::new();
    for accepted in submissions.iter().filter_map(|s| s.accepted.clone()) {
        let mut client = client.clone();
        let limit = limit.clone();
        calls.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let answer = client
                .get_timeline(GetTimelineRequest {
                    case_id: accepted.case_id.clone(),
                })
                .await;
            match answer {
                Ok(timeline) if timeline.get_ref().verified => None,
                Ok(_) => Some(format!(
                    "{}: the timeline does not verify",
                    accepted.register_number
                )),
                Err(status) => Some(format!(
                    "{}: GetTimeline failed: {:?} {}",
                    accepted.register_number,
                    status.code(),
                    status.message()
                )),
            }
        });
    }
    let mut check = Check {
        name: "every accepted case's timeline verifies (hash chain)",
        checked: calls.len(),
        violations: Vec::new(),
    };
    while let Some(result) = calls.join_next().await {
        if let Some(problem) = result.context("a timeline call")? {
            check.violations.push(problem);
        }
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(at: f64) -> Mail {
        Mail {
            at,
            message_id: "<ntf-1@telecare.example>".to_owned(),
            recipients: "c1@chaos.example".to_owned(),
            subject: "Your complaint".to_owned(),
        }
    }

    #[test]
    fn only_a_repeat_straddling_a_kill_just_after_the_first_copy_is_cut_short() {
        let kills = [100.0];
        let (just_before, after) = (mail(99.5), mail(160.0));
        assert!(cut_short(&[&just_before, &after], &kills));
        // No kill, or one long after the first copy, or before it: a
        // repeat the platform should not have made.
        assert!(!cut_short(&[&just_before, &after], &[]));
        assert!(!cut_short(&[&mail(90.0), &after], &kills));
        assert!(!cut_short(&[&mail(101.0), &mail(160.0)], &kills));
        // The second copy before the kill, or three copies.
        assert!(!cut_short(&[&just_before, &mail(99.9)], &kills));
        assert!(!cut_short(&[&just_before, &after, &mail(170.0)], &kills));
        assert!(!cut_short(&[&just_before], &kills));
    }
}
