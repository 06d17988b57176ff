//! The case service's application functions: each decodes nothing and
//! encodes nothing; it runs one domain decision through the store.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDate;
use complaints_domain::ErrorCode;
use complaints_domain::calendar::Calendar;
use complaints_domain::case::{Case, CaseId, Command, LinkRelation, NewComplaint, Step, authorize};
use complaints_domain::clock::Clock;
use complaints_domain::policy::Policy;
use complaints_domain::role::Actor;
use complaints_domain::values::{EmailAddress, RegisterNumber};
use complaints_rpc::AppError;
use complaints_rpc::service::Stop;
use complaints_store::cases::{self, CaseFilter, LinkOutcome, Outcome, PageCursor, StoredCase};
use complaints_store::correspondence::{self, Direction, Message};
use complaints_store::entity::case_events;
use complaints_store::group_commit::{self, GroupCommit};
use complaints_store::idempotency::RequestKey;
use complaints_store::{DatabaseConnection, StoreError, chain, policies};

use crate::statistics::Statistics;

mod evidence;
mod feed;

pub use evidence::{ComplaintFile, EvidenceMetadata, EvidenceStore, MAX_COMPLAINT_FILES};

/// How many cases one query of the retention run fetches.
const RETENTION_BATCH: u64 = 100;

/// What one retention run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Cases closed before this instant were due.
    pub closed_before: chrono::DateTime<chrono::Utc>,
    /// The register numbers of the cases whose complainants it erased.
    pub erased: Vec<RegisterNumber>,
}

/// Which case an incoming email continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thread {
    /// The case, whose complainant sent the email.
    Case(Box<StoredCase>),
    /// A case was found, but its complainant is not the sender (or was
    /// erased): the email must not be filed on it.
    SenderMismatch,
    /// No case knows the email's references or register number.
    NoCase,
}

/// Whether `sender` is the case's complainant's email address, ignoring
/// case. An erased complainant is nobody's.
fn is_complainant(stored: &StoredCase, sender: &EmailAddress) -> bool {
    !stored.erased
        && stored
            .case
            .complainant
            .email()
            .is_some_and(|email| email.same_address(sender))
}

/// `message` as the case's correspondence keeps it: a notice delivered
/// after erasure keeps no address or subject; an email the platform sent
/// went to the complainant's address and, for a case that came by email,
/// answered their message.
fn addressed(current: &StoredCase, message: Message) -> Message {
    if current.erased {
        Message {
            address: None,
            subject: None,
            ..message
        }
    } else if message.direction == Direction::Outbound {
        Message {
            address: message.address.or_else(|| {
                current
                    .case
                    .complainant
                    .email()
                    .map(|email| email.as_str().to_owned())
            }),
            in_reply_to: message
                .in_reply_to
                .or_else(|| current.case.thread_message_id.clone()),
            ..message
        }
    } else {
        message
    }
}

/// What a step on a case starts from ([`CaseApp::prepare`]).
struct Prepared {
    current: StoredCase,
    policy: Arc<Policy>,
    now: chrono::DateTime<chrono::Utc>,
    message: Option<Message>,
}

/// The case service: cases, register numbers, the timeline, reporting.
///
/// Cheap to clone: every field is shared.
#[derive(Clone)]
pub struct CaseApp {
    db: DatabaseConnection,
    policy: Arc<Policy>,
    /// Policies by version, for cases opened under an earlier one. A std
    /// `Mutex`: it is never held across an await.
    policies: Arc<Mutex<HashMap<String, Arc<Policy>>>>,
    calendar: Arc<Calendar>,
    clock: Arc<dyn Clock>,
    /// Woken after every committed change, so the outbox relay delivers it
    /// at once instead of at its next idle re-check.
    outbox_wake: Arc<tokio::sync::Notify>,
    /// Bumped after every committed change, so `WatchCaseEvents` streams in
    /// this process look for new events at once.
    committed: Arc<tokio::sync::watch::Sender<()>>,
    /// Days after closing when a complainant is erased; `None`: never by age.
    retention_days: Option<u32>,
    /// Where evidence bytes go; `None`: evidence is refused.
    evidence: Option<EvidenceStore>,
    /// New cases, written together when they arrive together.
    openings: Arc<Openings>,
    /// Notices delivered, recorded together when they arrive together.
    notices: Arc<Notices>,
}

/// The case service's group commit of new cases.
type Openings = GroupCommit<cases::Opening<'static>, Result<Outcome, StoreError>>;

/// The group commit of new cases, as its metric names it.
pub(crate) const OPENINGS: &str = "case.open";

/// The case service's group commit of delivered notices (`RecordNotice`).
type Notices = GroupCommit<cases::Change, Result<Outcome, StoreError>>;

/// The group commit of delivered notices, as its metric names it.
pub(crate) const NOTICES: &str = "case.record_notice";

/// A group commit of case writes on `db`, named `name`, whose batches
/// `write` writes (new cases; steps on distinct cases). Each batch wakes
/// the outbox relay (`outbox_wake`) itself once written, so its messages
/// leave even when a caller gave up waiting for its answer.
fn case_writes<I, W, F>(
    name: &'static str,
    db: &DatabaseConnection,
    calendar: &Arc<Calendar>,
    outbox_wake: &Arc<tokio::sync::Notify>,
    write: W,
) -> Arc<GroupCommit<I, Result<Outcome, StoreError>>>
where
    I: Send + 'static,
    W: Fn(DatabaseConnection, Arc<Calendar>, Vec<I>) -> F + Send + Sync + 'static,
    F: Future<Output = Vec<Result<Outcome, StoreError>>> + Send + 'static,
{
    let writers = group_commit::writers_for(db);
    let (db, calendar, outbox_wake) = (db.clone(), calendar.clone(), outbox_wake.clone());
    GroupCommit::new(name, writers, group_commit::MAX_BATCH, move |batch| {
        let written = write(db.clone(), calendar.clone(), batch);
        let outbox_wake = outbox_wake.clone();
        async move {
            let written = written.await;
            outbox_wake.notify_one();
            written
        }
    })
}

impl std::fmt::Debug for CaseApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseApp")
            .field("policy_version", &self.policy.version)
            .field("calendar", &self.calendar)
            .finish_non_exhaustive()
    }
}

impl CaseApp {
    /// Records `policy` as the one in force (refusing a changed policy that
    /// kept its version) and returns the service.
    pub async fn new(
        db: DatabaseConnection,
        policy: Policy,
        calendar: Calendar,
        clock: Arc<dyn Clock>,
    ) -> Result<CaseApp, StoreError> {
        policies::record(&db, &policy, clock.now()).await?;
        let policy = Arc::new(policy);
        let mut known = HashMap::new();
        known.insert(policy.version.clone(), policy.clone());
        let calendar = Arc::new(calendar);
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        Ok(CaseApp {
            openings: case_writes(
                OPENINGS,
                &db,
                &calendar,
                &outbox_wake,
                |db, calendar, batch| async move { cases::open_cases(&db, &calendar, batch).await },
            ),
            notices: case_writes(
                NOTICES,
                &db,
                &calendar,
                &outbox_wake,
                |db, calendar, batch| async move { cases::apply_together(&db, &calendar, batch).await },
            ),
            db,
            policy,
            policies: Arc::new(Mutex::new(known)),
            calendar,
            clock,
            outbox_wake,
            committed: Arc::new(tokio::sync::watch::Sender::new(())),
            retention_days: None,
            evidence: None,
        })
    }

    /// The service with a retention period (`COMPLAINTS_RETENTION_DAYS`).
    #[must_use]
    pub fn with_retention(mut self, days: Option<u32>) -> Self {
        self.retention_days = days;
        self
    }

    pub fn retention_days(&self) -> Option<u32> {
        self.retention_days
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The relay of this service's outbox, delivering to `delivery`.
    pub fn outbox_relay(
        &self,
        delivery: crate::relay::CaseChangeDelivery,
    ) -> complaints_store::relay::Relay {
        complaints_store::relay::Relay::new(
            self.db.clone(),
            complaints_store::cases::CASE_EVENTS_TOPIC,
            Arc::new(delivery),
            self.clock.clone(),
            self.outbox_wake.clone(),
        )
    }

    /// Opens a case for a complaint intake accepted on behalf of `submitter`.
    pub async fn open_case(
        &self,
        caller: &Actor,
        submitter: &Actor,
        complaint: NewComplaint,
        key: &RequestKey,
    ) -> Result<Outcome, AppError> {
        self.open_case_from_message(caller, submitter, complaint, key, None)
            .await
    }

    /// [`CaseApp::open_case`] for a complaint that came by email with
    /// `message_id` (without angle brackets): the email is recorded as the
    /// first message of the case's correspondence, from the complainant,
    /// with the summary as its subject, and becomes the case's thread.
    pub async fn open_case_from_message(
        &self,
        caller: &Actor,
        submitter: &Actor,
        complaint: NewComplaint,
        key: &RequestKey,
        message_id: Option<String>,
    ) -> Result<Outcome, AppError> {
        self.open_case_with_files(caller, submitter, complaint, key, message_id, Vec::new())
            .await
    }

    /// [`CaseApp::open_case_from_message`], keeping the files that came
    /// with the complaint (an email's attachments, a letter's scan) as its
    /// evidence: each stored within the evidence limits and recorded with
    /// an `evidence.added` event in the opening transaction; each the
    /// limits refuse is left out, and an `evidence.refused` event names it
    /// and says why. On a retry of an opened request, the files' bytes are
    /// the ones already stored.
    pub async fn open_case_with_files(
        &self,
        caller: &Actor,
        submitter: &Actor,
        complaint: NewComplaint,
        key: &RequestKey,
        message_id: Option<String>,
        files: Vec<ComplaintFile>,
    ) -> Result<Outcome, AppError> {
        authorize(caller.role, Step::Submit)?;
        let files = self.keep_files(files).await?;
        let opened = self
            .open_case_keeping(caller, submitter, complaint, key, message_id, &files)
            .await;
        if opened.as_ref().is_err() {
            self.forget_files(&files.kept).await;
        }
        opened
    }

    async fn open_case_keeping(
        &self,
        caller: &Actor,
        submitter: &Actor,
        complaint: NewComplaint,
        key: &RequestKey,
        message_id: Option<String>,
        files: &evidence::KeptFiles,
    ) -> Result<Outcome, AppError> {
        authorize(caller.role, Step::Submit)?;
        let now = self.clock.now();
        let policy = self.policy.clone();
        let calendar = self.calendar.clone();
        let received_at = complaint.received_at();
        let original = message_id.clone().map(|message_id| Message {
            case_id: CaseId(uuid::Uuid::nil()),
            direction: Direction::Inbound,
            message_id,
            in_reply_to: None,
            address: complaint
                .complainant()
                .email()
                .map(|email| email.as_str().to_owned()),
            subject: Some(complaint.summary().as_str().to_owned()),
            at: received_at,
        });
        let (kept, refused) = (files.kept.clone(), files.refused.clone());
        let actor = submitter.clone();
        let opening = cases::Opening {
            received_at,
            actor: submitter.clone(),
            now,
            key: Some(key.clone()),
            original,
            evidence: files.kept.clone(),
            trace_context: complaints_telemetry::current_trace_context(),
            // Decided again, with another number and id, if its batch does
            // not commit and it is tried alone.
            build: Box::new(move |number| {
                let mut transition = Case::open(
                    complaint.clone(),
                    CaseId(uuid::Uuid::now_v7()),
                    number,
                    &actor,
                    now,
                    &policy,
                    &calendar,
                )?;
                transition.case.thread_message_id.clone_from(&message_id);
                Ok(transition.with_evidence(&kept, &refused))
            }),
        };
        let outcome = self
            .openings
            .submit(opening)
            .await
            .map_err(AppError::service)??;
        self.committed();
        Ok(outcome)
    }

    pub async fn get(&self, actor: &Actor, case_id: CaseId) -> Result<StoredCase, AppError> {
        authorize(actor.role, Step::Read)?;
        Ok(cases::load(&self.db, case_id).await?)
    }

    pub async fn get_by_number(
        &self,
        actor: &Actor,
        number: &RegisterNumber,
    ) -> Result<StoredCase, AppError> {
        authorize(actor.role, Step::Read)?;
        Ok(cases::load_by_register_number(&self.db, number).await?)
    }

    pub async fn list(
        &self,
        actor: &Actor,
        filter: &CaseFilter,
        after: Option<PageCursor>,
        page_size: u64,
    ) -> Result<(Vec<StoredCase>, Option<PageCursor>, u64), AppError> {
        authorize(actor.role, Step::Read)?;
        let (page, next) = cases::list(&self.db, filter, after, page_size).await?;
        let total = cases::count(&self.db, filter).await?;
        Ok((page, next, total))
    }

    /// The timeline, and whether its hash chain verifies.
    pub async fn timeline(
        &self,
        actor: &Actor,
        case_id: CaseId,
    ) -> Result<(Vec<case_events::Model>, bool), AppError> {
        authorize(actor.role, Step::Read)?;
        let events = cases::timeline(&self.db, case_id).await?;
        let verified = match chain::verify(&events) {
            Ok(()) => true,
            Err(broken) => {
                tracing::error!(%case_id, %broken, "timeline does not verify");
                false
            }
        };
        Ok((events, verified))
    }

    /// Runs one step. `resource` names what the step made (a referral id);
    /// by default the case id.
    pub async fn step(
        &self,
        actor: &Actor,
        case_id: CaseId,
        command: Command,
        resource: Option<String>,
        key: Option<&RequestKey>,
    ) -> Result<Outcome, AppError> {
        self.step_recording(actor, case_id, command, resource, key, None)
            .await
    }

    /// [`CaseApp::step`], also recording `message` in the case's
    /// correspondence in the same transaction (once per Message-ID).
    pub async fn step_recording(
        &self,
        actor: &Actor,
        case_id: CaseId,
        command: Command,
        resource: Option<String>,
        key: Option<&RequestKey>,
        message: Option<Message>,
    ) -> Result<Outcome, AppError> {
        let Prepared {
            current,
            policy,
            now,
            message,
        } = self.prepare(actor, case_id, &command, message).await?;
        let calendar = self.calendar.clone();
        let resource_id = resource.unwrap_or_else(|| case_id.to_string());
        let alongside = cases::Alongside {
            key,
            message: message.as_ref(),
            evidence: None,
        };
        let outcome = cases::apply(
            &self.db,
            &calendar,
            current,
            actor,
            now,
            alongside,
            |stored| {
                let transition =
                    stored
                        .case
                        .apply(command.clone(), actor, now, &policy, &calendar)?;
                Ok((transition, resource_id.clone()))
            },
        )
        .await?;
        self.committed();
        // Erasure removed the case's evidence records in its transaction;
        // their bytes go from the blob store now that it has committed.
        self.forget_evidence_bytes(&outcome.erased_evidence).await;
        Ok(outcome)
    }

    /// What a step starts from: the caller may take it, the case as
    /// stored, its policy, the time, and `message` as the case's
    /// correspondence will keep it ([`addressed`]).
    async fn prepare(
        &self,
        actor: &Actor,
        case_id: CaseId,
        command: &Command,
        message: Option<Message>,
    ) -> Result<Prepared, AppError> {
        authorize(actor.role, command.step())?;
        let current = cases::load(&self.db, case_id).await?;
        let policy = self.policy_for(&current.case.policy_version).await?;
        let message = message.map(|message| addressed(&current, message));
        Ok(Prepared {
            current,
            policy,
            now: self.clock.now(),
            message,
        })
    }

    /// Records a notice the notification service delivered
    /// ([`Command::RecordNotice`]) with its email in the correspondence:
    /// [`CaseApp::step_recording`] without an idempotency key (a notice is
    /// recorded once by its notification id), written together with the
    /// other notices that arrive meanwhile.
    pub async fn record_notice(
        &self,
        actor: &Actor,
        case_id: CaseId,
        command: Command,
        message: Option<Message>,
    ) -> Result<Outcome, AppError> {
        let Prepared {
            current,
            policy,
            now,
            message,
        } = self.prepare(actor, case_id, &command, message).await?;
        let calendar = self.calendar.clone();
        let decider = actor.clone();
        let change = cases::Change {
            current,
            actor: actor.clone(),
            now,
            message,
            trace_context: complaints_telemetry::current_trace_context(),
            decide: Box::new(move |stored| {
                let transition =
                    stored
                        .case
                        .apply(command.clone(), &decider, now, &policy, &calendar)?;
                Ok((transition, case_id.to_string()))
            }),
        };
        let outcome = self
            .notices
            .submit(change)
            .await
            .map_err(AppError::service)??;
        self.committed();
        Ok(outcome)
    }

    /// The case's correspondence, oldest first.
    pub async fn correspondence(
        &self,
        actor: &Actor,
        case_id: CaseId,
    ) -> Result<Vec<Message>, AppError> {
        authorize(actor.role, Step::Read)?;
        // NOT_FOUND for an unknown case, not an empty list.
        cases::load(&self.db, case_id).await?;
        Ok(correspondence::list(&self.db, case_id).await?)
    }

    /// The case an incoming email continues: by the Message-IDs it answers
    /// (`message_ids`, without brackets, nearest parent last), else by the
    /// register number in its subject; returned only when `sender` is its
    /// complainant.
    pub async fn find_case_by_message(
        &self,
        actor: &Actor,
        message_ids: &[String],
        register_number: Option<&RegisterNumber>,
        sender: &EmailAddress,
    ) -> Result<Thread, AppError> {
        authorize(actor.role, Step::ReceiveCorrespondence)?;
        let mut stored = None;
        if let Some(case_id) = correspondence::case_of_messages(&self.db, message_ids).await? {
            stored = Some(cases::load(&self.db, case_id).await?);
        } else if let Some(number) = register_number {
            match cases::load_by_register_number(&self.db, number).await {
                Ok(found) => stored = Some(found),
                Err(StoreError::NotFound(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(match stored {
            None => Thread::NoCase,
            Some(stored) if is_complainant(&stored, sender) => Thread::Case(Box::new(stored)),
            Some(_) => Thread::SenderMismatch,
        })
    }

    /// Files the complainant's further email on its case: its
    /// correspondence, its timeline (`correspondence.received`, with the
    /// subject only) and an alert to its owner role, in one transaction.
    /// Returns the case and whether the email was new; an email already
    /// filed (its Message-ID known to the case) changes nothing. Refused
    /// (FAILED_PRECONDITION) when `message.address` is not the case's
    /// complainant's email address.
    pub async fn add_correspondence(
        &self,
        actor: &Actor,
        case_id: CaseId,
        sender: &EmailAddress,
        message: Message,
    ) -> Result<(StoredCase, bool), AppError> {
        authorize(actor.role, Step::ReceiveCorrespondence)?;
        let current = cases::load(&self.db, case_id).await?;
        if !is_complainant(&current, sender) {
            return Err(complaints_domain::DomainError::FailedPrecondition(format!(
                "the sender is not the complainant of case {}",
                current.case.register_number
            ))
            .into());
        }
        if correspondence::has_message(&self.db, case_id, &message.message_id).await? {
            return Ok((current, false));
        }
        let message_id = message.message_id.clone();
        let command = Command::ReceiveCorrespondence {
            subject: message.subject.clone().unwrap_or_default(),
        };
        let message = Message {
            case_id,
            direction: Direction::Inbound,
            ..message
        };
        match self
            .step_recording(actor, case_id, command, None, None, Some(message))
            .await
        {
            Ok(outcome) => Ok((outcome.stored, true)),
            // A concurrent delivery of the same email filed it first.
            Err(error) if correspondence::has_message(&self.db, case_id, &message_id).await? => {
                tracing::info!(%case_id, %error, "email already filed by a concurrent call");
                Ok((cases::load(&self.db, case_id).await?, false))
            }
            Err(error) => Err(error),
        }
    }

    /// Links two cases with `relation`: the same `LinkCase` step on each,
    /// naming the other, stored together (docs/policy.md, Records).
    pub async fn link_cases(
        &self,
        actor: &Actor,
        case_id: CaseId,
        other_case_id: CaseId,
        relation: LinkRelation,
        key: Option<&RequestKey>,
    ) -> Result<LinkOutcome, AppError> {
        authorize(actor.role, Step::LinkCases)?;
        // Each case is decided under its own policy.
        let case_version = cases::load(&self.db, case_id).await?.case.policy_version;
        let other_version = cases::load(&self.db, other_case_id)
            .await?
            .case
            .policy_version;
        let case_policy = self.policy_for(&case_version).await?;
        let other_policy = self.policy_for(&other_version).await?;
        let now = self.clock.now();
        let calendar = self.calendar.clone();
        let outcome = cases::link(
            &self.db,
            &calendar,
            case_id,
            other_case_id,
            actor,
            now,
            key,
            |case, other| {
                let link_to = |stored: &StoredCase| Command::LinkCase {
                    other_case_id: stored.case.id,
                    other_register_number: stored.case.register_number.clone(),
                    relation,
                };
                let for_case =
                    case.case
                        .apply(link_to(other), actor, now, &case_policy, &calendar)?;
                let for_other =
                    other
                        .case
                        .apply(link_to(case), actor, now, &other_policy, &calendar)?;
                Ok((for_case, for_other))
            },
        )
        .await?;
        self.committed();
        Ok(outcome)
    }

    /// The statistics of the cases received from `from` to `to` (local
    /// dates, inclusive) as of now, aggregated by the database: the work
    /// here does not grow with the number of cases in the range.
    pub async fn statistics(
        &self,
        actor: &Actor,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Statistics, AppError> {
        authorize(actor.role, Step::Read)?;
        let figures =
            cases::statistics_received_between(&self.db, from, to, self.clock.now()).await?;
        Ok(Statistics::from(figures))
    }

    /// Erases the complainants of the cases closed longer ago than the
    /// retention period (docs/policy.md, Records), each by the same
    /// `EraseComplainant` step a handler takes, recorded as `actor`'s.
    /// Returns the cutoff and the register numbers erased; a case erased
    /// meanwhile by someone else is skipped.
    pub async fn run_retention(&self, actor: &Actor) -> Result<Retention, AppError> {
        self.retention(actor, None).await
    }

    /// [`CaseApp::run_retention`], ending between cases once `stop` is
    /// sent: what was erased by then is returned, the rest waits for the
    /// next run.
    pub async fn run_retention_until(
        &self,
        actor: &Actor,
        stop: &Stop,
    ) -> Result<Retention, AppError> {
        self.retention(actor, Some(stop)).await
    }

    async fn retention(&self, actor: &Actor, stop: Option<&Stop>) -> Result<Retention, AppError> {
        authorize(actor.role, Step::EraseComplainant)?;
        let Some(days) = self.retention_days else {
            return Err(complaints_domain::DomainError::FailedPrecondition(
                "no retention period is configured (COMPLAINTS_RETENTION_DAYS)".to_owned(),
            )
            .into());
        };
        let closed_before = self.clock.now() - chrono::Duration::days(i64::from(days));
        let mut erased = Vec::new();
        loop {
            let due =
                cases::closed_before_with_personal_data(&self.db, closed_before, RETENTION_BATCH)
                    .await?;
            let batch = due.len();
            for case_id in due {
                if stop.is_some_and(Stop::is_stopped) {
                    return Ok(Retention {
                        closed_before,
                        erased,
                    });
                }
                let command = Command::EraseComplainant {
                    reason: format!("The retention period of {days} days after closing ended."),
                };
                match self.step(actor, case_id, command, None, None).await {
                    Ok(outcome) => erased.push(outcome.stored.case.register_number),
                    Err(AppError::Service(error))
                        if error.error_code() == ErrorCode::FailedPrecondition =>
                    {
                        tracing::info!(%case_id, "retention skipped a case already erased");
                    }
                    Err(error) => return Err(error),
                }
            }
            if batch < usize::try_from(RETENTION_BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
        Ok(Retention {
            closed_before,
            erased,
        })
    }

    async fn policy_for(&self, version: &str) -> Result<Arc<Policy>, AppError> {
        if let Some(policy) = self.known_policy(version) {
            return Ok(policy);
        }
        let policy = Arc::new(policies::load(&self.db, version).await?);
        self.policies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(version.to_owned(), policy.clone());
        Ok(policy)
    }

    fn known_policy(&self, version: &str) -> Option<Arc<Policy>> {
        self.policies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(version)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use complaints_domain::clock::ManualClock;
    use complaints_domain::role::Role;
    use complaints_test_support::TestDb;
    use complaints_test_support::complaints::web_complaint;
    use complaints_test_support::time::monday_morning;

    use super::*;

    /// A caller that stops waiting for its answer once its complaint is in
    /// a batch never wakes the relay itself; the batch does, or the case's
    /// messages would wait for the relay's poll.
    #[tokio::test]
    async fn a_batch_of_new_cases_wakes_the_relay_when_its_caller_gave_up() {
        let db = TestDb::sqlite().await;
        let app = CaseApp::new(
            db.db.clone(),
            Policy::default(),
            Calendar::default(),
            Arc::new(ManualClock::new(monday_morning())),
        )
        .await
        .unwrap();
        let complaint = web_complaint(1);
        let (intake, crm) = (
            Actor::new("intake", Role::Service),
            Actor::new("crm", Role::Integration),
        );
        let key = RequestKey::new("case.open", "crm-1", b"1");

        // Polled once, which queues it for a batch, then dropped.
        let gave_up = tokio::time::timeout(
            Duration::ZERO,
            app.open_case(&intake, &crm, complaint, &key),
        )
        .await;
        assert!(gave_up.is_err(), "answered at the first poll");

        tokio::time::timeout(Duration::from_secs(10), app.outbox_wake.notified())
            .await
            .expect("the batch woke no relay");
        let opened = cases::count(&app.db, &CaseFilter::default()).await.unwrap();
        assert_eq!(opened, 1, "the batch was written");
    }
}
