//! What a notice needs from its case: the case as the case service has it,
//! and the message context the templates render (register number, dates,
//! the stage response, the review invitation or the alert's deadline).

use chrono::{DateTime, Utc};
use complaints_domain::case::{DeadlineKind, Finding, NotifyKind};
use complaints_domain::policy::Stage;
use complaints_domain::role::Role;
use complaints_domain::values::RegisterNumber;
use complaints_notify::{
    Addressee, AlertDetails, DateChange, MessageContext, ResponseDetails, ReviewInvitation,
};
use complaints_proto::complaints::case::v1 as case_pb;
use complaints_rpc::mapping::{finding_from_proto, role_from_proto, stage_to_proto};
use tonic::Code;

use super::Delivery;
use super::failure::Failure;
use crate::entity;

impl Delivery {
    /// The notification's case, from the case service. A case that does not
    /// exist never will; a case service that cannot answer may later.
    pub(super) async fn read_case(&self, n: &entity::Model) -> Result<case_pb::Case, Failure> {
        match self.case.get_case(&n.case_id.to_string()).await {
            Ok(case) => Ok(case),
            Err(status) if status.code() == Code::NotFound => {
                Err(Failure::Permanent("the case does not exist".to_owned()))
            }
            Err(status) => Err(Failure::Transient(format!(
                "reading the case: {}",
                status.message()
            ))),
        }
    }

    /// What the templates for `kind` need, from the request and the case.
    pub(super) fn context(
        &self,
        n: &entity::Model,
        kind: NotifyKind,
        stage: Stage,
        case: &case_pb::Case,
        now: DateTime<Utc>,
    ) -> Result<MessageContext, Failure> {
        let details = n.details();
        let register_number = RegisterNumber::parse(&case.register_number)
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let mut context = MessageContext::new(register_number, stage);
        let today = self.calendar.local_date(now);
        context.owner_role = role_from_proto(case.owner_role);
        context.respond_by = details.due_date;
        if kind == NotifyKind::InternalAlert {
            let role = n
                .to_role
                .as_deref()
                .and_then(|r| r.parse::<Role>().ok())
                .unwrap_or(Role::ComplaintsHandler);
            context.alert = Some(AlertDetails {
                level: details.alert_level(),
                deadline_kind: details
                    .deadline_kind
                    .or_else(|| DeadlineKind::respond(stage))
                    .unwrap_or(DeadlineKind::Resolve),
                due: details.due_date.unwrap_or(today),
                role,
                reason: n.reason.clone(),
            });
            return Ok(context);
        }
        let name = case
            .complainant
            .as_ref()
            .map(|c| c.full_name.clone())
            .unwrap_or_default();
        context.complainant = Some(Addressee::new(name));
        if matches!(kind, NotifyKind::Extension | NotifyKind::HoldingUpdate) {
            let date = details.due_date.ok_or_else(|| {
                Failure::Permanent(format!("a {} notice needs a due date", kind.as_str()))
            })?;
            context.change = Some(DateChange {
                date,
                deadline_kind: details.deadline_kind.unwrap_or(DeadlineKind::Resolve),
                reason: match kind {
                    NotifyKind::Extension => n.reason.clone(),
                    _ => String::new(),
                },
            });
        }
        let received = case
            .received_at
            .as_ref()
            .and_then(|ts| DateTime::from_timestamp(ts.seconds, 0))
            .map(|at| self.calendar.local_date(at));
        context.received_on = match kind {
            NotifyKind::ReviewAcknowledgement => Some(today),
            _ => received,
        };
        if matches!(kind, NotifyKind::StageResponse | NotifyKind::FinalResponse) {
            let response = case
                .responses
                .iter()
                .rev()
                .find(|r| r.stage == stage_to_proto(stage))
                .ok_or_else(|| Failure::Permanent(format!("the case has no {stage} response")))?;
            let root_cause = self
                .policy
                .root_cause(&response.root_cause)
                .map_or_else(|| response.root_cause.clone(), |c| c.label.clone());
            context.response = Some(ResponseDetails {
                finding: finding_from_proto(response.upheld).unwrap_or(Finding::NotUpheld),
                outcome: response.outcome.clone(),
                root_cause,
            });
            if kind == NotifyKind::StageResponse {
                let reviewer = match stage {
                    Stage::Stage1 => self.policy.stage_2.owner,
                    _ => self.policy.stage_3.owner,
                };
                // R4, R6: the window to ask for the next stage is policy data.
                let window = self.policy.review_window_working_days;
                context.review = Some(ReviewInvitation {
                    request_by: self.calendar.add_working_days(today, window),
                    window_working_days: window,
                    reviewer,
                });
            } else {
                context.external_body = Some(self.policy.external_body.clone());
            }
        }
        Ok(context)
    }
}
