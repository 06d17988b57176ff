//! `complaints.escalation.v1.EscalationService` over gRPC.

use complaints_deadlines::{Deadline, DeadlineFilter, DeadlineState, PageRequest};
use complaints_domain::case::{Case, CaseId, DeadlineOutcome, Step, authorize};
use complaints_domain::role::Role;
use complaints_domain::values::Text;
use complaints_domain::{DomainError, FieldViolation};
use complaints_proto::complaints::escalation::v1::{
    self as pb, escalation_service_server::EscalationService,
};
use complaints_rpc::mapping::{
    deadline_kind_from_proto, deadline_kind_to_proto, role_from_proto, role_to_proto,
    stage_from_proto, stage_to_proto,
};
use complaints_rpc::{
    AppError, date_from_proto, date_to_proto, into_status, required_timestamp,
    timestamp_from_proto, timestamp_to_proto,
};
use tonic::{Request, Response, Status};

use crate::app::EscalationApp;
use crate::clocks::Extension;
use crate::scheduling::{ClockChange, Start};

#[derive(Debug, Clone)]
pub struct EscalationGrpc {
    app: EscalationApp,
}

impl EscalationGrpc {
    pub fn new(app: EscalationApp) -> Self {
        Self { app }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn case_id(raw: &str) -> Result<CaseId, Status> {
    if raw.trim().is_empty() {
        return Err(AppError::from(FieldViolation::new("case_id", "is required")).into());
    }
    raw.parse::<CaseId>().map_err(|v| AppError::from(v).into())
}

fn state_to_proto(state: DeadlineState) -> i32 {
    (match state {
        DeadlineState::Pending => pb::DeadlineState::Pending,
        DeadlineState::Met => pb::DeadlineState::Met,
        DeadlineState::Breached => pb::DeadlineState::Breached,
        DeadlineState::Cancelled => pb::DeadlineState::Cancelled,
    }) as i32
}

pub fn deadline_to_proto(d: &Deadline) -> pb::Deadline {
    pb::Deadline {
        deadline_id: d.deadline_id.0.to_string(),
        case_id: d.case_id.to_string(),
        register_number: d.register_number.clone(),
        kind: deadline_kind_to_proto(d.kind),
        stage: stage_to_proto(d.stage),
        due_date: Some(date_to_proto(d.due.date)),
        due_at: Some(timestamp_to_proto(d.due.at)),
        state: state_to_proto(d.state),
        policy_version: d.policy_version.clone(),
        working_days: i32::try_from(d.working_days).unwrap_or(i32::MAX),
        reason: d.reason.clone(),
        created_at: Some(timestamp_to_proto(d.created_at)),
        fired_at: d.fired_at.map(timestamp_to_proto),
        owner_role: role_to_proto(d.owner_role),
        escalation_role: role_to_proto(d.escalation_role),
        original_due_date: Some(date_to_proto(d.original_due.date)),
        original_due_at: Some(timestamp_to_proto(d.original_due.at)),
        paused_at: d.held_at.map(timestamp_to_proto),
    }
}

fn page(page_size: i32, page_token: &str) -> Result<PageRequest, Status> {
    let size = complaints_rpc::page_size("page_size", page_size).map_err(AppError::from)?;
    Ok(PageRequest {
        page_size: u32::try_from(size).unwrap_or(PageRequest::MAX_SIZE),
        page_token: (!page_token.is_empty()).then(|| page_token.to_owned()),
    })
}

fn start_from_proto(start: &pb::DeadlineStart, index: usize) -> Result<Start, Vec<FieldViolation>> {
    let field = |name: &str| format!("start[{index}].{name}");
    let mut violations = Vec::new();
    let kind = deadline_kind_from_proto(start.kind);
    if kind.is_none() {
        violations.push(FieldViolation::new(field("kind"), "is required"));
    }
    let stage = stage_from_proto(start.stage);
    if stage.is_none() {
        violations.push(FieldViolation::new(field("stage"), "is required"));
    }
    let date = start
        .due_date
        .as_ref()
        .map(|d| date_from_proto(&field("due_date"), d))
        .transpose()
        .map_err(|v| violations.push(v))
        .ok()
        .flatten();
    let at = required_timestamp(&field("due_at"), start.due_at.as_ref())
        .map_err(|v| violations.push(v))
        .ok();
    // The instant the case service counted from; only checked here: the
    // due date and instant it sent are the clock.
    let started_at = start
        .started_at
        .as_ref()
        .map(|ts| timestamp_from_proto(&field("started_at"), ts))
        .transpose()
        .map_err(|v| violations.push(v))
        .ok()
        .flatten();
    if let (Some(started_at), Some(at)) = (started_at, at)
        && started_at > at
    {
        violations.push(FieldViolation::new(
            field("started_at"),
            format!(
                "must not be after due_at (it is {}, due_at is {})",
                started_at.to_rfc3339(),
                at.to_rfc3339()
            ),
        ));
    }
    match (kind, stage, date, at) {
        (Some(kind), Some(stage), Some(date), Some(at)) if violations.is_empty() => Ok(Start {
            kind,
            stage,
            working_days: u32::try_from(start.working_days).unwrap_or(0),
            due: complaints_domain::calendar::Due { date, at },
            reason: start.reason.clone(),
            owner_role: role_from_proto(start.owner_role).unwrap_or(Role::ComplaintsHandler),
            escalation_role: role_from_proto(start.escalation_role).unwrap_or(Role::CxManager),
        }),
        _ => {
            if violations.is_empty() {
                violations.push(FieldViolation::new(field("due_date"), "is required"));
            }
            Err(violations)
        }
    }
}

#[tonic::async_trait]
impl EscalationService for EscalationGrpc {
    async fn get_deadlines(
        &self,
        request: Request<pb::GetDeadlinesRequest>,
    ) -> Reply<pb::GetDeadlinesResponse> {
        let actor = complaints_auth::actor(&request)?;
        authorize(actor.role, Step::Read).map_err(AppError::from)?;
        let id = case_id(&request.get_ref().case_id)?;
        let mut deadlines = self.app.deadlines_of(id).await.map_err(into_status)?;
        if deadlines.is_empty() {
            return Err(Status::not_found(format!(
                "no deadlines are known for case {id}"
            )));
        }
        deadlines.sort_by_key(|d| d.due.at);
        Ok(Response::new(pb::GetDeadlinesResponse {
            deadlines: deadlines.iter().map(deadline_to_proto).collect(),
        }))
    }

    async fn list_breaches(
        &self,
        request: Request<pb::ListBreachesRequest>,
    ) -> Reply<pb::ListBreachesResponse> {
        let actor = complaints_auth::actor(&request)?;
        authorize(actor.role, Step::Read).map_err(AppError::from)?;
        let m = request.into_inner();
        let filter = DeadlineFilter {
            kind: deadline_kind_from_proto(m.kind),
            due_from: m
                .since
                .as_ref()
                .map(|ts| timestamp_from_proto("since", ts))
                .transpose()
                .map_err(AppError::from)?,
            ..DeadlineFilter::default()
        };
        let found = self
            .app
            .queue()
            .list_breaches(&filter, &page(m.page_size, &m.page_token)?)
            .await
            .map_err(into_status)?;
        Ok(Response::new(pb::ListBreachesResponse {
            deadlines: found.deadlines.iter().map(deadline_to_proto).collect(),
            next_page_token: found.next_page_token.unwrap_or_default(),
        }))
    }

    async fn list_due_soon(
        &self,
        request: Request<pb::ListDueSoonRequest>,
    ) -> Reply<pb::ListDueSoonResponse> {
        let actor = complaints_auth::actor(&request)?;
        authorize(actor.role, Step::Read).map_err(AppError::from)?;
        let m = request.into_inner();
        let until = match &m.within {
            None => self.app.end_of_next_working_day(),
            Some(within) if within.seconds == 0 && within.nanos == 0 => {
                self.app.end_of_next_working_day()
            }
            Some(within) if within.seconds < 0 || within.nanos < 0 => {
                return Err(
                    AppError::from(FieldViolation::new("within", "must not be negative")).into(),
                );
            }
            Some(within) => {
                let until = chrono::TimeDelta::try_seconds(within.seconds)
                    .and_then(|span| {
                        span.checked_add(&chrono::TimeDelta::nanoseconds(i64::from(within.nanos)))
                    })
                    .and_then(|span| self.app.now().checked_add_signed(span));
                match until {
                    Some(until) => until,
                    None => {
                        return Err(AppError::from(FieldViolation::new(
                            "within",
                            "is too long: the end of the window is beyond the dates kept",
                        ))
                        .into());
                    }
                }
            }
        };
        let found = self
            .app
            .queue()
            .list_due_soon(
                until,
                &DeadlineFilter::default(),
                &page(m.page_size, &m.page_token)?,
            )
            .await
            .map_err(into_status)?;
        Ok(Response::new(pb::ListDueSoonResponse {
            deadlines: found.deadlines.iter().map(deadline_to_proto).collect(),
            next_page_token: found.next_page_token.unwrap_or_default(),
        }))
    }

    async fn apply_case_change(
        &self,
        request: Request<pb::ApplyCaseChangeRequest>,
    ) -> Reply<pb::ApplyCaseChangeResponse> {
        let actor = complaints_auth::actor(&request)?;
        if actor.role != Role::Service {
            return Err(AppError::from(DomainError::PermissionDenied(
                "ApplyCaseChange is internal to the platform".to_owned(),
            ))
            .into());
        }
        let m = request.into_inner();
        let id = case_id(&m.case_id)?;
        let mut violations = Vec::new();
        let mut start = Vec::new();
        for (i, s) in m.start.iter().enumerate() {
            match start_from_proto(s, i) {
                Ok(s) => start.push(s),
                Err(mut v) => violations.append(&mut v),
            }
        }
        let mut settle = Vec::new();
        for (i, s) in m.settle.iter().enumerate() {
            let kind = deadline_kind_from_proto(s.kind);
            let outcome = match pb::DeadlineState::try_from(s.state) {
                Ok(pb::DeadlineState::Met) => Some(DeadlineOutcome::Met),
                Ok(pb::DeadlineState::Cancelled) => Some(DeadlineOutcome::Cancelled),
                _ => None,
            };
            match (kind, outcome) {
                (Some(kind), Some(outcome)) => settle.push((kind, outcome)),
                _ => violations.push(FieldViolation::new(
                    format!("settle[{i}]"),
                    "needs a kind and a state of MET or CANCELLED",
                )),
            }
        }
        let assignee = if m.assignee.trim().is_empty() {
            None
        } else {
            Text::single_line("assignee", &m.assignee, Case::ASSIGNEE_MAX)
                .map_err(|v| violations.push(v))
                .ok()
        };
        if !violations.is_empty() {
            return Err(AppError::from(violations).into());
        }
        let (started, settled) = self
            .app
            .apply_case_change(ClockChange {
                case_id: id,
                version: m.version,
                register_number: m.register_number,
                policy_version: m.policy_version,
                start,
                settle,
                assignee: assignee.map(Text::into_string),
            })
            .await?;
        Ok(Response::new(pb::ApplyCaseChangeResponse {
            started: i32::try_from(started).unwrap_or(i32::MAX),
            settled: i32::try_from(settled).unwrap_or(i32::MAX),
        }))
    }

    async fn extend_deadline(
        &self,
        request: Request<pb::ExtendDeadlineRequest>,
    ) -> Reply<pb::ExtendDeadlineResponse> {
        let actor = complaints_auth::actor(&request)?;
        let m = request.into_inner();
        let id = case_id(&m.case_id)?;
        let Some(kind) = deadline_kind_from_proto(m.kind) else {
            return Err(AppError::from(FieldViolation::new("kind", "is required")).into());
        };
        let extended = self
            .app
            .extend_deadline(
                &actor,
                Extension {
                    case_id: id,
                    kind,
                    extra_working_days: m.extra_working_days,
                    reason: m.reason,
                    request_id: m.request_id,
                },
            )
            .await
            .map_err(into_status)?;
        Ok(Response::new(pb::ExtendDeadlineResponse {
            deadline: Some(deadline_to_proto(&extended.deadline)),
            extended: extended.extended,
        }))
    }

    async fn pause_clocks(
        &self,
        request: Request<pb::PauseClocksRequest>,
    ) -> Reply<pb::PauseClocksResponse> {
        let actor = complaints_auth::actor(&request)?;
        let m = request.into_inner();
        let id = case_id(&m.case_id)?;
        let paused = self
            .app
            .pause_clocks(&actor, id, &m.reason)
            .await
            .map_err(into_status)?;
        Ok(Response::new(pb::PauseClocksResponse {
            deadlines: paused.iter().map(deadline_to_proto).collect(),
        }))
    }

    async fn resume_clocks(
        &self,
        request: Request<pb::ResumeClocksRequest>,
    ) -> Reply<pb::ResumeClocksResponse> {
        let actor = complaints_auth::actor(&request)?;
        let m = request.into_inner();
        let id = case_id(&m.case_id)?;
        let (resumed, days) = self
            .app
            .resume_clocks(&actor, id, &m.reason)
            .await
            .map_err(into_status)?;
        Ok(Response::new(pb::ResumeClocksResponse {
            deadlines: resumed.iter().map(deadline_to_proto).collect(),
            working_days_paused: i32::try_from(days).unwrap_or(i32::MAX),
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn start(started_at: Option<chrono::DateTime<Utc>>) -> pb::DeadlineStart {
        let due_at = Utc.with_ymd_and_hms(2026, 3, 26, 0, 0, 0).unwrap();
        pb::DeadlineStart {
            kind: deadline_kind_to_proto(complaints_domain::case::DeadlineKind::Stage2Acknowledge),
            stage: stage_to_proto(complaints_domain::policy::Stage::Stage2),
            working_days: 3,
            due_date: Some(date_to_proto(due_at.date_naive() - chrono::Days::new(1))),
            due_at: Some(timestamp_to_proto(due_at)),
            reason: "3 working days after receipt on Fri 20 Mar 2026".to_owned(),
            owner_role: role_to_proto(Role::CxManager),
            escalation_role: role_to_proto(Role::OpsLead),
            started_at: started_at.map(timestamp_to_proto),
        }
    }

    #[test]
    fn a_clock_may_start_before_it_is_recorded_or_say_nothing_of_its_start() {
        let asked = Utc.with_ymd_and_hms(2026, 3, 20, 15, 0, 0).unwrap();
        assert!(start_from_proto(&start(Some(asked)), 0).is_ok());
        assert!(start_from_proto(&start(None), 0).is_ok());
    }

    #[test]
    fn a_clock_that_starts_after_it_is_due_is_refused_on_started_at() {
        let late = Utc.with_ymd_and_hms(2026, 3, 27, 9, 0, 0).unwrap();
        let violations = start_from_proto(&start(Some(late)), 2).unwrap_err();
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["start[2].started_at"]);
    }
}
