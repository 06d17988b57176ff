//! `complaints.case.v1.CaseService` over gRPC: decode, call one
//! [`CaseApp`] function, encode. No policy and no SQL here.

use complaints_domain::case::{
    CaseId, Command, LinkRelation, NewComplaint, RawComplaint, ReferralId, Step,
};
use complaints_domain::role::Actor;
use complaints_domain::values::{
    EmailAddress, MessageId, RegisterNumber, Text, UkPhone, UkPostcode,
};
use complaints_domain::{DomainError, FieldViolation};
use complaints_proto::complaints::case::v1::{self as pb, case_service_server::CaseService};
use complaints_rpc::mapping::{
    acknowledgement_method_from_proto, channel_from_proto, finding_from_proto, role_from_proto,
    stage_from_proto, status_from_proto,
};
use complaints_rpc::service::Stop;
use complaints_rpc::{
    AppError, date_from_proto, optional_timestamp, page_size, required_timestamp,
};
use complaints_store::cases::{CaseFilter, Outcome, PageCursor};
use complaints_store::correspondence::{Direction, Message as Filed};
use complaints_store::idempotency::RequestKey;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::app::{CaseApp, Thread};
use crate::convert;

mod clocks;
mod evidence;
mod feed;

pub use evidence::CHUNK_BYTES as EVIDENCE_CHUNK_BYTES;

/// The gRPC face of [`CaseApp`].
#[derive(Debug, Clone)]
pub struct CaseGrpc {
    app: CaseApp,
    /// Sent when the server stops taking calls: open `WatchCaseEvents`
    /// streams end, so they do not hold the shutdown up. `None`: they end
    /// only when their clients go.
    draining: Option<Stop>,
}

impl CaseGrpc {
    pub fn new(app: CaseApp) -> Self {
        Self {
            app,
            draining: None,
        }
    }

    /// The same handler, its open streams ended by `draining`.
    #[must_use]
    pub fn with_draining(mut self, draining: Stop) -> Self {
        self.draining = Some(draining);
        self
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn case_id(raw: &str) -> Result<CaseId, AppError> {
    if raw.trim().is_empty() {
        return Err(FieldViolation::new("case_id", "is required").into());
    }
    Ok(raw.parse::<CaseId>()?)
}

/// The idempotency key of a step: the RPC's name and the request's content
/// (without the key itself), so reusing a key for another step or other
/// content is refused.
fn step_key<M: Message + Clone>(
    rpc: &str,
    case_id: CaseId,
    request_id: &str,
    request: &M,
    clear: impl FnOnce(&mut M),
) -> Result<Option<RequestKey>, AppError> {
    if request_id.is_empty() {
        return Ok(None);
    }
    validate_request_id(request_id)?;
    let mut content = request.clone();
    clear(&mut content);
    let mut bytes = rpc.as_bytes().to_vec();
    bytes.push(0);
    content
        .encode(&mut bytes)
        .map_err(|e| Status::internal(e.to_string()))?;
    // Keys are the caller's per case: the same key on another case is
    // another request.
    Ok(Some(RequestKey::new(
        "case.step",
        format!("{case_id}/{request_id}"),
        &bytes,
    )))
}

fn validate_request_id(request_id: &str) -> Result<(), FieldViolation> {
    let printable = request_id.chars().all(|c| c.is_ascii_graphic());
    if request_id.is_empty() || request_id.len() > 128 || !printable {
        return Err(FieldViolation::new(
            "request_id",
            "must be 1 to 128 printable ASCII characters",
        ));
    }
    Ok(())
}

impl CaseGrpc {
    async fn run_step<M: StepRequest>(
        &self,
        request: Request<M>,
        rpc: &str,
        command: impl FnOnce(&M) -> Result<Command, AppError>,
    ) -> Result<(Outcome, pb::Case), AppError> {
        let actor = complaints_auth::actor(&request)?;
        let message = request.into_inner();
        let case_id = case_id(message.case_id())?;
        let key = step_key(
            rpc,
            case_id,
            message.request_id(),
            &message,
            StepRequest::clear_request_id,
        )?;
        let command = command(&message)?;
        let resource = match &command {
            Command::ReferToDepartment { referral_id, .. } => Some(referral_id.to_string()),
            _ => None,
        };
        let outcome = self
            .app
            .step(&actor, case_id, command, resource, key.as_ref())
            .await?;
        let case = convert::case_to_proto(&outcome.stored, self.app.now());
        Ok((outcome, case))
    }
}

/// A step's request: it names its case and may carry a retry key.
trait StepRequest: Message + Clone {
    fn case_id(&self) -> &str;
    fn request_id(&self) -> &str;
    fn clear_request_id(&mut self);
}

macro_rules! step_requests {
    ($($req:ty),* $(,)?) => {$(
        impl StepRequest for $req {
            fn case_id(&self) -> &str {
                &self.case_id
            }
            fn request_id(&self) -> &str {
                &self.request_id
            }
            fn clear_request_id(&mut self) {
                self.request_id.clear();
            }
        }
    )*};
}

step_requests!(
    pb::AddNoteRequest,
    pb::RecordAcknowledgementRequest,
    pb::ReferToDepartmentRequest,
    pb::RecordDepartmentResponseRequest,
    pb::IssueStageResponseRequest,
    pb::RequestReviewRequest,
    pb::EscalateWithinStageRequest,
    pb::EscalateToDirectorRequest,
    pb::RecordTsaReferralRequest,
    pb::CloseCaseRequest,
    pb::AssignCaseRequest,
    pb::LinkCasesRequest,
    pb::EraseComplainantRequest,
    pb::RecordClockChangeRequest,
);

#[tonic::async_trait]
impl CaseService for CaseGrpc {
    async fn get_case(&self, request: Request<pb::GetCaseRequest>) -> Reply<pb::GetCaseResponse> {
        let actor = complaints_auth::actor(&request)?;
        let stored = match request.into_inner().lookup {
            Some(pb::get_case_request::Lookup::CaseId(id)) => {
                self.app.get(&actor, case_id(&id)?).await?
            }
            Some(pb::get_case_request::Lookup::RegisterNumber(number)) => {
                let number = RegisterNumber::parse(&number).map_err(AppError::from)?;
                self.app.get_by_number(&actor, &number).await?
            }
            None => {
                return Err(AppError::from(FieldViolation::new(
                    "lookup",
                    "set case_id or register_number",
                ))
                .into());
            }
        };
        Ok(Response::new(pb::GetCaseResponse {
            case: Some(convert::case_to_proto(&stored, self.app.now())),
        }))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Reply<pb::ListCasesResponse> {
        let actor = complaints_auth::actor(&request)?;
        let m = request.into_inner();
        let (filter, after, size) = list_filter(&m, self.app.now()).map_err(AppError::from)?;
        let (page, next, total) = self.app.list(&actor, &filter, after, size).await?;
        let now = self.app.now();
        Ok(Response::new(pb::ListCasesResponse {
            cases: page
                .iter()
                .map(|c| convert::case_to_proto(c, now))
                .collect(),
            next_page_token: next.map(convert::encode_cursor).unwrap_or_default(),
            total_size: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn get_timeline(
        &self,
        request: Request<pb::GetTimelineRequest>,
    ) -> Reply<pb::GetTimelineResponse> {
        let actor = complaints_auth::actor(&request)?;
        let id = case_id(&request.get_ref().case_id)?;
        let (events, verified) = self.app.timeline(&actor, id).await?;
        Ok(Response::new(pb::GetTimelineResponse {
            events: events.iter().map(convert::event_to_proto).collect(),
            verified,
        }))
    }

    async fn add_note(&self, request: Request<pb::AddNoteRequest>) -> Reply<pb::AddNoteResponse> {
        let (_, case) = self
            .run_step(request, "AddNote", |m| {
                Ok({
                    Command::AddNote {
                        text: m.text.clone(),
                    }
                })
            })
            .await?;
        Ok(Response::new(pb::AddNoteResponse { case: Some(case) }))
    }

    async fn record_acknowledgement(
        &self,
        request: Request<pb::RecordAcknowledgementRequest>,
    ) -> Reply<pb::RecordAcknowledgementResponse> {
        let (_, case) = self
            .run_step(request, "RecordAcknowledgement", |m| {
                Ok(Command::RecordAcknowledgement {
                    method: acknowledgement_method_from_proto(m.method),
                    reference: m.reference.clone(),
                })
            })
            .await?;
        Ok(Response::new(pb::RecordAcknowledgementResponse {
            case: Some(case),
        }))
    }

    async fn refer_to_department(
        &self,
        request: Request<pb::ReferToDepartmentRequest>,
    ) -> Reply<pb::ReferToDepartmentResponse> {
        let (outcome, case) = self
            .run_step(request, "ReferToDepartment", |m| {
                Ok(Command::ReferToDepartment {
                    referral_id: ReferralId(uuid::Uuid::now_v7()),
                    department: m.department.clone(),
                    question: m.question.clone(),
                })
            })
            .await?;
        Ok(Response::new(pb::ReferToDepartmentResponse {
            referral_id: outcome.resource_id,
            case: Some(case),
        }))
    }

    async fn record_department_response(
        &self,
        request: Request<pb::RecordDepartmentResponseRequest>,
    ) -> Reply<pb::RecordDepartmentResponseResponse> {
        let (_, case) = self
            .run_step(request, "RecordDepartmentResponse", |m| {
                Ok(Command::RecordDepartmentResponse {
                    referral_id: m.referral_id.parse::<ReferralId>()?,
                    response: m.response.clone(),
                })
            })
            .await?;
        Ok(Response::new(pb::RecordDepartmentResponseResponse {
            case: Some(case),
        }))
    }

    async fn issue_stage_response(
        &self,
        request: Request<pb::IssueStageResponseRequest>,
    ) -> Reply<pb::IssueStageResponseResponse> {
        let (_, case) = self
            .run_step(request, "IssueStageResponse", |m| {
                Ok(Command::IssueStageResponse {
                    outcome: m.outcome.clone(),
                    finding: finding_from_proto(m.upheld),
                    root_cause: m.root_cause.clone(),
                    lessons_learned: m.lessons_learned.clone(),
                })
            })
            .await?;
        Ok(Response::new(pb::IssueStageResponseResponse {
            case: Some(case),
        }))
    }

    async fn request_review(
        &self,
        request: Request<pb::RequestReviewRequest>,
    ) -> Reply<pb::RequestReviewResponse> {
        let (_, case) = self
            .run_step(request, "RequestReview", |m| {
                Ok(Command::RequestReview {
                    desired_outcome: m.desired_outcome.clone(),
                    unsatisfied_with: m.unsatisfied_with.clone(),
                    // The domain checks its range (`case::receipt`).
                    received_at: optional_timestamp("received_at", m.received_at.as_ref())?,
                })
            })
            .await?;
        Ok(Response::new(pb::RequestReviewResponse {
            case: Some(case),
        }))
    }

    async fn escalate_within_stage(
        &self,
        request: Request<pb::EscalateWithinStageRequest>,
    ) -> Reply<pb::EscalateWithinStageResponse> {
        let (_, case) = self
            .run_step(request, "EscalateWithinStage", |m| {
                Ok(Command::EscalateWithinStage {
                    reason: m.reason.clone(),
                })
            })
            .await?;
        Ok(Response::new(pb::EscalateWithinStageResponse {
            case: Some(case),
        }))
    }

    async fn escalate_to_director(
        &self,
        request: Request<pb::EscalateToDirectorRequest>,
    ) -> Reply<pb::EscalateToDirectorResponse> {
        let (_, case) = self
            .run_step(request, "EscalateToDirector", |m| {
                Ok(Command::EscalateToDirector {
                    desired_outcome: m.desired_outcome.clone(),
                    unsatisfied_with: m.unsatisfied_with.clone(),
                    // The domain checks its range (`case::receipt`).
                    received_at: optional_timestamp("received_at", m.received_at.as_ref())?,
                })
            })
            .await?;
        Ok(Response::new(pb::EscalateToDirectorResponse {
            case: Some(case),
        }))
    }

    async fn record_tsa_referral(
        &self,
        request: Request<pb::RecordTsaReferralRequest>,
    ) -> Reply<pb::RecordTsaReferralResponse> {
        let (_, case) = self
            .run_step(request, "RecordTsaReferral", |m| {
                Ok(Command::RecordTsaReferral {
                    reference: m.reference.clone(),
                })
            })
            .await?;
        Ok(Response::new(pb::RecordTsaReferralResponse {
            case: Some(case),
        }))
    }

    async fn close_case(
        &self,
        request: Request<pb::CloseCaseRequest>,
    ) -> Reply<pb::CloseCaseResponse> {
        let (_, case) = self
            .run_step(request, "CloseCase", |m| {
                Ok({
                    Command::Close {
                        reason: m.reason.clone(),
                    }
                })
            })
            .await?;
        Ok(Response::new(pb::CloseCaseResponse { case: Some(case) }))
    }

    async fn assign_case(
        &self,
        request: Request<pb::AssignCaseRequest>,
    ) -> Reply<pb::AssignCaseResponse> {
        let (_, case) = self
            .run_step(request, "AssignCase", |m| {
                Ok(Command::AssignCase {
                    assignee: m.assignee.clone(),
                })
            })
            .await?;
        Ok(Response::new(pb::AssignCaseResponse { case: Some(case) }))
    }

    async fn link_cases(
        &self,
        request: Request<pb::LinkCasesRequest>,
    ) -> Reply<pb::LinkCasesResponse> {
        let actor = complaints_auth::actor(&request)?;
        let m = request.into_inner();
        let (case_id, other_case_id, relation) = link_request(&m).map_err(AppError::from)?;
        let key = step_key(
            "LinkCases",
            case_id,
            &m.request_id,
            &m,
            StepRequest::clear_request_id,
        )?;
        let outcome = self
            .app
            .link_cases(&actor, case_id, other_case_id, relation, key.as_ref())
            .await?;
        let now = self.app.now();
        Ok(Response::new(pb::LinkCasesResponse {
            case: Some(convert::case_to_proto(&outcome.case, now)),
            other_case: Some(convert::case_to_proto(&outcome.other, now)),
        }))
    }

    async fn erase_complainant(
        &self,
        request: Request<pb::EraseComplainantRequest>,
    ) -> Reply<pb::EraseComplainantResponse> {
        let (_, case) = self
            .run_step(request, "EraseComplainant", |m| {
                Ok(Command::EraseComplainant {
                    reason: m.reason.clone(),
                })
            })
            .await?;
        Ok(Response::new(pb::EraseComplainantResponse {
            case: Some(case),
        }))
    }

    async fn open_case(
        &self,
        request: Request<pb::OpenCaseRequest>,
    ) -> Reply<pb::OpenCaseResponse> {
        let caller = complaints_auth::actor(&request)?;
        complaints_domain::case::authorize(caller.role, Step::Submit).map_err(AppError::from)?;
        if caller.role != complaints_domain::role::Role::Service {
            return Err(Status::permission_denied(
                "OpenCase is internal to the platform; submit complaints through IntakeService",
            ));
        }
        let mut m = request.into_inner();
        validate_request_id(&m.request_id).map_err(AppError::from)?;
        let submitter = submitter(&m).map_err(AppError::from)?;
        let received_at = m
            .received_at
            .as_ref()
            .map(|ts| required_timestamp("received_at", Some(ts)))
            .transpose()
            .map_err(AppError::from)?;
        let raw = RawComplaint {
            channel: channel_from_proto(m.channel),
            received_at,
            complainant: complaints_rpc::mapping::raw_complainant(m.complainant.as_ref()),
            summary: m.summary.clone(),
            details: m.details.clone(),
            recorded_by: m.recorded_by.clone(),
            scan_reference: m.scan_reference.clone(),
        };
        let complaint = NewComplaint::validate(raw, self.app.now()).map_err(AppError::from)?;
        // The key covers what was complained about and when it was
        // received (intake passes on a receipt time only when its caller
        // gave one; unset, it is "now", which differs on a retry), not who
        // relayed it.
        let mut content = m.clone();
        content.request_id.clear();
        content.submitted_by.clear();
        content.submitted_by_role = 0;
        let key = RequestKey::new("case.open", m.request_id.clone(), &content.encode_to_vec());
        let message_id =
            optional_message_id("message_id", &m.message_id).map_err(AppError::from)?;
        let files = evidence::complaint_files(&mut m).map_err(AppError::from)?;
        let outcome = self
            .app
            .open_case_with_files(&caller, &submitter, complaint, &key, message_id, files)
            .await?;
        Ok(Response::new(convert::open_response(
            &outcome,
            self.app.now(),
        )))
    }

    async fn record_notice(
        &self,
        request: Request<pb::RecordNoticeRequest>,
    ) -> Reply<pb::RecordNoticeResponse> {
        let actor = complaints_auth::actor(&request)?;
        let m = request.into_inner();
        let case_id = case_id(&m.case_id)?;
        let kind = complaints_rpc::mapping::notify_kind_from_name(&m.kind).ok_or_else(|| {
            AppError::from(FieldViolation::new(
                "kind",
                "must be a NotificationKind value name such as NOTIFICATION_KIND_ACKNOWLEDGEMENT",
            ))
        })?;
        let stage = stage_from_proto(m.stage)
            .ok_or_else(|| AppError::from(FieldViolation::new("stage", "is required")))?;
        let command = Command::RecordNotice {
            notification_id: m.notification_id.clone(),
            kind,
            stage,
            channel: m.channel.clone(),
            route_note: m.route_note.clone(),
        };
        let message = optional_message_id("message_id", &m.message_id)
            .map_err(AppError::from)?
            .map(|message_id| Filed {
                case_id,
                direction: Direction::Outbound,
                message_id,
                in_reply_to: None,
                address: non_empty(&m.recipient).map(str::to_owned),
                subject: non_empty(&m.subject).map(str::to_owned),
                at: m
                    .sent_at
                    .as_ref()
                    .and_then(|ts| required_timestamp("sent_at", Some(ts)).ok())
                    .unwrap_or_else(|| self.app.now()),
            });
        let outcome = self
            .app
            .record_notice(&actor, case_id, command, message)
            .await?;
        Ok(Response::new(pb::RecordNoticeResponse {
            case: Some(convert::case_to_proto(&outcome.stored, self.app.now())),
        }))
    }

    async fn record_clock_change(
        &self,
        request: Request<pb::RecordClockChangeRequest>,
    ) -> Reply<pb::RecordClockChangeResponse> {
        let (_, case) = self
            .run_step(request, "RecordClockChange", |m| {
                Ok(Command::RecordClockChange(clocks::clock_change(m)?))
            })
            .await?;
        Ok(Response::new(pb::RecordClockChangeResponse {
            case: Some(case),
        }))
    }

    async fn list_correspondence(
        &self,
        request: Request<pb::ListCorrespondenceRequest>,
    ) -> Reply<pb::ListCorrespondenceResponse> {
        let actor = complaints_auth::actor(&request)?;
        let id = case_id(&request.get_ref().case_id)?;
        let messages = self.app.correspondence(&actor, id).await?;
        Ok(Response::new(pb::ListCorrespondenceResponse {
            messages: messages
                .iter()
                .map(convert::correspondence_to_proto)
                .collect(),
        }))
    }

    async fn find_case_by_message(
        &self,
        request: Request<pb::FindCaseByMessageRequest>,
    ) -> Reply<pb::FindCaseByMessageResponse> {
        let actor = complaints_auth::actor(&request)?;
        let m = request.into_inner();
        let (message_ids, number, sender) = thread_lookup(&m).map_err(AppError::from)?;
        let thread = self
            .app
            .find_case_by_message(&actor, &message_ids, number.as_ref(), &sender)
            .await?;
        Ok(Response::new(match thread {
            Thread::Case(stored) => pb::FindCaseByMessageResponse {
                case: Some(convert::case_to_proto(&stored, self.app.now())),
                sender_mismatch: false,
            },
            Thread::SenderMismatch => pb::FindCaseByMessageResponse {
                case: None,
                sender_mismatch: true,
            },
            Thread::NoCase => pb::FindCaseByMessageResponse::default(),
        }))
    }

    async fn add_correspondence(
        &self,
        request: Request<pb::AddCorrespondenceRequest>,
    ) -> Reply<pb::AddCorrespondenceResponse> {
        let actor = complaints_auth::actor(&request)?;
        let m = request.into_inner();
        let case_id = case_id(&m.case_id)?;
        let (sender, message) =
            filed_message(&m, case_id, self.app.now()).map_err(AppError::from)?;
        let (stored, added) = self
            .app
            .add_correspondence(&actor, case_id, &sender, message)
            .await?;
        Ok(Response::new(pb::AddCorrespondenceResponse {
            case: Some(convert::case_to_proto(&stored, self.app.now())),
            added,
        }))
    }

    async fn run_retention(
        &self,
        request: Request<pb::RunRetentionRequest>,
    ) -> Reply<pb::RunRetentionResponse> {
        let actor = complaints_auth::actor(&request)?;
        let retention = self.app.run_retention(&actor).await?;
        Ok(Response::new(pb::RunRetentionResponse {
            closed_before: Some(complaints_rpc::timestamp_to_proto(retention.closed_before)),
            register_numbers: retention
                .erased
                .iter()
                .map(|number| number.as_str().to_owned())
                .collect(),
        }))
    }

    async fn upload_evidence(
        &self,
        request: Request<tonic::Streaming<pb::UploadEvidenceRequest>>,
    ) -> Reply<pb::UploadEvidenceResponse> {
        Ok(Response::new(evidence::upload(&self.app, request).await?))
    }

    async fn list_evidence(
        &self,
        request: Request<pb::ListEvidenceRequest>,
    ) -> Reply<pb::ListEvidenceResponse> {
        Ok(Response::new(evidence::list(&self.app, request).await?))
    }

    type GetEvidenceStream = complaints_rpc::peers::EvidenceChunks;

    async fn get_evidence(
        &self,
        request: Request<pb::GetEvidenceRequest>,
    ) -> Reply<Self::GetEvidenceStream> {
        Ok(Response::new(evidence::get(&self.app, request).await?))
    }

    type WatchCaseEventsStream = complaints_rpc::peers::CaseEventStream;

    async fn watch_case_events(
        &self,
        request: Request<pb::WatchCaseEventsRequest>,
    ) -> Reply<Self::WatchCaseEventsStream> {
        Ok(Response::new(
            feed::watch(&self.app, self.draining.clone(), request).await?,
        ))
    }

    async fn get_statistics(
        &self,
        request: Request<pb::GetStatisticsRequest>,
    ) -> Reply<pb::GetStatisticsResponse> {
        let actor = complaints_auth::actor(&request)?;
        let m = request.into_inner();
        let (from, to) = date_range(&m).map_err(AppError::from)?;
        let stats = self.app.statistics(&actor, from, to).await?;
        Ok(Response::new(convert::statistics_to_proto(&stats)))
    }
}

/// Both cases and the relation of a LinkCases request, every bad field at
/// once. Linking a case to itself is the domain's to refuse.
fn link_request(m: &pb::LinkCasesRequest) -> Result<(CaseId, CaseId, LinkRelation), DomainError> {
    let mut violations = Vec::new();
    let mut id = |field: &str, raw: &str| {
        if raw.trim().is_empty() {
            violations.push(FieldViolation::new(field, "is required"));
            return None;
        }
        raw.parse::<CaseId>()
            .map_err(|v| violations.push(FieldViolation::new(field, v.description)))
            .ok()
    };
    let case = id("case_id", &m.case_id);
    let other = id("other_case_id", &m.other_case_id);
    let relation = convert::link_relation_from_proto(m.relation);
    if relation.is_none() {
        violations.push(FieldViolation::new(
            "relation",
            "must be CASE_LINK_RELATION_DUPLICATE or CASE_LINK_RELATION_RELATED",
        ));
    }
    match (case, other, relation) {
        (Some(case), Some(other), Some(relation)) if violations.is_empty() => {
            Ok((case, other, relation))
        }
        _ => Err(DomainError::InvalidArgument(violations)),
    }
}

fn submitter(m: &pb::OpenCaseRequest) -> Result<Actor, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    if m.submitted_by.trim().is_empty() {
        violations.push(FieldViolation::new("submitted_by", "is required"));
    }
    let role = role_from_proto(m.submitted_by_role);
    if role.is_none() {
        violations.push(FieldViolation::new("submitted_by_role", "is required"));
    }
    match role {
        Some(role) if violations.is_empty() => Ok(Actor::new(m.submitted_by.trim(), role)),
        _ => Err(violations),
    }
}

fn date_range(
    m: &pb::GetStatisticsRequest,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), DomainError> {
    let mut violations = Vec::new();
    let mut date = |field: &str, value: Option<&complaints_proto::google::r#type::Date>| match value
    {
        None => {
            violations.push(FieldViolation::new(field, "is required"));
            None
        }
        Some(d) => date_from_proto(field, d)
            .map_err(|v| violations.push(v))
            .ok(),
    };
    let from = date("from_date", m.from_date.as_ref());
    let to = date("to_date", m.to_date.as_ref());
    match (from, to) {
        (Some(from), Some(to)) if from > to => {
            Err(FieldViolation::new("to_date", "must not be before from_date").into())
        }
        (Some(from), Some(to)) if violations.is_empty() => Ok((from, to)),
        _ => Err(DomainError::InvalidArgument(violations)),
    }
}

fn list_filter(
    m: &pb::ListCasesRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(CaseFilter, Option<PageCursor>, u64), DomainError> {
    let mut violations = Vec::new();
    let size = page_size("page_size", m.page_size)
        .map_err(|v| violations.push(v))
        .ok();
    let after = if m.page_token.is_empty() {
        None
    } else {
        convert::decode_cursor(&m.page_token)
            .ok_or_else(|| FieldViolation::new("page_token", "is not a token this service issued"))
            .map_err(|v| violations.push(v))
            .ok()
    };
    let mut date = |field: &str, value: Option<&complaints_proto::google::r#type::Date>| {
        value.and_then(|d| {
            date_from_proto(field, d)
                .map_err(|v| violations.push(v))
                .ok()
        })
    };
    let received_from = date("received_from", m.received_from.as_ref());
    let received_to = date("received_to", m.received_to.as_ref());
    if let (Some(from), Some(to)) = (received_from, received_to)
        && from > to
    {
        violations.push(FieldViolation::new(
            "received_to",
            "must not be before received_from",
        ));
    }
    let register_number = if m.register_number.trim().is_empty() {
        None
    } else {
        RegisterNumber::parse(&m.register_number)
            .map_err(|v| violations.push(v))
            .ok()
    };
    // The person's contact details are parsed as intake parsed the stored
    // ones, so that any way of writing them finds the same cases.
    let email = non_empty(&m.email).and_then(|raw| {
        EmailAddress::parse(raw)
            .map_err(|v| violations.push(v))
            .ok()
    });
    let phone = non_empty(&m.phone)
        .and_then(|raw| UkPhone::parse(raw).map_err(|v| violations.push(v)).ok());
    let postcode = non_empty(&m.postcode)
        .and_then(|raw| UkPostcode::parse(raw).map_err(|v| violations.push(v)).ok());
    let text = m.text.trim();
    let text_chars = text.chars().count();
    if text_chars > Text::SUMMARY_MAX {
        violations.push(FieldViolation::new(
            "text",
            format!(
                "must be at most {} characters (got {text_chars})",
                Text::SUMMARY_MAX
            ),
        ));
    }
    let name = m.complainant_name.trim();
    let filter = CaseFilter {
        stage: stage_from_proto(m.stage),
        status: status_from_proto(m.status),
        channel: channel_from_proto(m.channel),
        overdue_at: m.overdue_only.then_some(now),
        received_from,
        received_to,
        register_number,
        complainant_name: (!name.is_empty()).then(|| name.to_owned()),
        assignee: non_empty(&m.assignee).map(str::to_owned),
        customer_ref: non_empty(&m.customer_ref).map(str::to_owned),
        email,
        phone,
        postcode,
        summary_words: text.split_whitespace().map(str::to_owned).collect(),
    };
    match size {
        Some(size) if violations.is_empty() => Ok((filter, after, size)),
        _ => Err(DomainError::InvalidArgument(violations)),
    }
}

/// A filter's text, trimmed; `None` when blank (proto3's "not set").
fn non_empty(raw: &str) -> Option<&str> {
    let trimmed = raw.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// The most Message-IDs a thread lookup takes (intake keeps the last ones of
/// a References header).
const MAX_THREAD_IDS: usize = 20;

/// A Message-ID as stored (without angle brackets; [`MessageId`]'s rule),
/// or `None` when blank.
fn optional_message_id(field: &str, raw: &str) -> Result<Option<String>, FieldViolation> {
    Ok(MessageId::parse_optional(field, raw)?.map(String::from))
}

fn thread_lookup(
    m: &pb::FindCaseByMessageRequest,
) -> Result<(Vec<String>, Option<RegisterNumber>, EmailAddress), DomainError> {
    let mut violations = Vec::new();
    if m.message_ids.len() > MAX_THREAD_IDS {
        violations.push(FieldViolation::new(
            "message_ids",
            format!(
                "must be at most {MAX_THREAD_IDS} (got {})",
                m.message_ids.len()
            ),
        ));
    }
    let mut message_ids = Vec::new();
    for raw in m.message_ids.iter().take(MAX_THREAD_IDS) {
        match optional_message_id("message_ids", raw) {
            Ok(Some(id)) => message_ids.push(id),
            Ok(None) => {}
            Err(violation) => violations.push(violation),
        }
    }
    let number = non_empty(&m.subject_register_number).and_then(|raw| {
        RegisterNumber::parse(raw)
            .map_err(|v| {
                violations.push(FieldViolation::new(
                    "subject_register_number",
                    v.description,
                ))
            })
            .ok()
    });
    let sender = EmailAddress::parse(&m.sender)
        .map_err(|v| violations.push(FieldViolation::new("sender", v.description)))
        .ok();
    match sender {
        Some(sender) if violations.is_empty() => Ok((message_ids, number, sender)),
        _ => Err(DomainError::InvalidArgument(violations)),
    }
}

fn filed_message(
    m: &pb::AddCorrespondenceRequest,
    case_id: CaseId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(EmailAddress, Filed), DomainError> {
    let mut violations = Vec::new();
    let message_id = match optional_message_id("message_id", &m.message_id) {
        Ok(Some(id)) => Some(id),
        Ok(None) => {
            violations.push(FieldViolation::new("message_id", "is required"));
            None
        }
        Err(violation) => {
            violations.push(violation);
            None
        }
    };
    let in_reply_to = optional_message_id("in_reply_to", &m.in_reply_to)
        .map_err(|v| violations.push(v))
        .ok()
        .flatten();
    let sender = EmailAddress::parse(&m.sender)
        .map_err(|v| violations.push(FieldViolation::new("sender", v.description)))
        .ok();
    let at = optional_timestamp("received_at", m.received_at.as_ref())
        .map_err(|v| violations.push(v))
        .ok()
        .flatten()
        .unwrap_or(now);
    match (message_id, sender) {
        (Some(message_id), Some(sender)) if violations.is_empty() => {
            let message = Filed {
                case_id,
                direction: Direction::Inbound,
                message_id,
                in_reply_to,
                address: Some(sender.as_str().to_owned()),
                subject: non_empty(&m.subject).map(str::to_owned),
                at,
            };
            Ok((sender, message))
        }
        _ => Err(DomainError::InvalidArgument(violations)),
    }
}
