//! `complaints.notification.v1.NotificationService` over gRPC.

use std::sync::Arc;

use complaints_domain::case::{Case, NotifyKind, Step, authorize};
use complaints_domain::clock::Clock;
use complaints_domain::role::Role;
use complaints_domain::values::Text;
use complaints_domain::{DomainError, ErrorCode, FieldViolation, ServiceError};
use complaints_notify::AlertLevel;
use complaints_proto::complaints::notification::v1::{
    self as pb, notification_service_server::NotificationService,
};
use complaints_rpc::mapping::{
    deadline_kind_from_proto, notify_kind_from_proto, notify_kind_to_proto, role_from_proto,
    stage_from_proto, stage_to_proto,
};
use complaints_rpc::{
    AppError, date_from_proto, into_status, optional_timestamp, timestamp_to_proto,
};
use complaints_store::group_commit::{self, GroupCommit};
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::entity::{self, DeliveryChannel, DeliveryState, RequestDetails};
use crate::erasure::{self, EraseError, OutboxDirs};
use crate::repo::{self, NewNotification, RequestAnswer, Requested, Requeue};

/// The longest dedupe key a request may name: the width of its column.
const DEDUPE_KEY_MAX: usize = 255;

/// The most notification ids one requeue may name.
const REQUEUE_MAX_IDS: usize = 500;

#[derive(Clone)]
pub struct NotificationGrpc {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    /// Woken when a notification is queued, so delivery starts at once.
    wake: Arc<Notify>,
    /// Where delivery writes files, for erasure to delete them.
    outbox: OutboxDirs,
    /// New notifications, written together when they arrive together.
    requests: Arc<Requests>,
}

/// The notification service's group commit of requests.
type Requests = GroupCommit<Requested, RequestAnswer>;

/// The group commit of requests, as its metric names it.
pub(crate) const REQUESTS: &str = "notification.request";

/// The group commit of requests on `db`.
fn requests(db: &DatabaseConnection) -> Arc<Requests> {
    let writers = group_commit::writers_for(db);
    let db = db.clone();
    GroupCommit::new(REQUESTS, writers, group_commit::MAX_BATCH, move |batch| {
        let db = db.clone();
        async move { repo::request_all(&db, batch).await }
    })
}

impl std::fmt::Debug for NotificationGrpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationGrpc").finish_non_exhaustive()
    }
}

impl NotificationGrpc {
    /// A handler whose erasure deletes no files: use
    /// [`NotificationGrpc::with_outbox`] where delivery writes them.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>, wake: Arc<Notify>) -> Self {
        Self {
            requests: requests(&db),
            db,
            clock,
            wake,
            outbox: OutboxDirs::default(),
        }
    }

    /// The folders delivery writes `.eml` and `.pdf` files into, which
    /// `EraseCaseNotifications` deletes from.
    #[must_use]
    pub fn with_outbox(mut self, outbox: OutboxDirs) -> Self {
        self.outbox = outbox;
        self
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// Why a notification call failed, as the caller sees it.
#[derive(Debug, thiserror::Error)]
enum NotificationError {
    #[error("notification store failure: {0}")]
    Store(#[from] sea_orm::DbErr),
    #[error("notification {0} not found")]
    NotFound(String),
    #[error("notification {id} has no content yet: it is {state}")]
    NoContentYet { id: String, state: String },
    #[error("the content of notification {0} was erased with the complainant's personal data")]
    Erased(String),
    #[error("erasing the case's notifications: {0}")]
    Erasure(#[from] EraseError),
}

impl ServiceError for NotificationError {
    fn error_code(&self) -> ErrorCode {
        match self {
            NotificationError::Store(_) => ErrorCode::Unavailable,
            NotificationError::NotFound(_) | NotificationError::Erased(_) => ErrorCode::NotFound,
            NotificationError::Erasure(_) => ErrorCode::Unavailable,
            NotificationError::NoContentYet { .. } => ErrorCode::FailedPrecondition,
        }
    }

    fn public_message(&self) -> String {
        match self {
            NotificationError::Store(_) | NotificationError::Erasure(_) => {
                "the notification store could not complete the call; it is safe to retry".to_owned()
            }
            other => other.to_string(),
        }
    }
}

fn db_status(error: sea_orm::DbErr) -> Status {
    into_status(NotificationError::from(error))
}

fn to_proto(n: &entity::Model) -> pb::Notification {
    let channel = match n.channel() {
        Some(DeliveryChannel::Email) => pb::NotificationChannel::Email,
        Some(DeliveryChannel::Post) => pb::NotificationChannel::Post,
        None => pb::NotificationChannel::Unspecified,
    };
    let state = match n.state() {
        Some(DeliveryState::Sent) => pb::NotificationState::Sent,
        Some(DeliveryState::Failed) => pb::NotificationState::Failed,
        Some(DeliveryState::Queued) | None => pb::NotificationState::Queued,
    };
    pb::Notification {
        notification_id: n.notification_id.clone(),
        case_id: n.case_id.to_string(),
        kind: n.kind().map(notify_kind_to_proto).unwrap_or_default(),
        channel: channel as i32,
        recipient: n.recipient.clone().unwrap_or_default(),
        state: state as i32,
        attempts: n.attempts,
        last_error: n.last_error.clone().unwrap_or_default(),
        created_at: Some(timestamp_to_proto(n.created_at)),
        sent_at: n.sent_at.map(timestamp_to_proto),
        stage: n.stage().map(stage_to_proto).unwrap_or_default(),
        subject: n.subject.clone().unwrap_or_default(),
        failed_at: match n.state() {
            Some(DeliveryState::Failed) => n.failed_at.map(timestamp_to_proto),
            _ => None,
        },
    }
}

fn case_id(raw: &str) -> Result<uuid::Uuid, Status> {
    raw.trim().parse::<uuid::Uuid>().map_err(|_| {
        AppError::from(FieldViolation::new("case_id", "must be a case id (a UUID)")).into()
    })
}

#[tonic::async_trait]
impl NotificationService for NotificationGrpc {
    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Reply<pb::ListNotificationsResponse> {
        let actor = complaints_auth::actor(&request)?;
        authorize(actor.role, Step::Read).map_err(AppError::from)?;
        let m = request.into_inner();
        let id = case_id(&m.case_id)?;
        let size = complaints_rpc::page_size("page_size", m.page_size).map_err(AppError::from)?;
        let after = (!m.page_token.is_empty()).then_some(m.page_token.as_str());
        let mut found = repo::of_case(&self.db, id, after, size + 1)
            .await
            .map_err(db_status)?;
        let next = if found.len() as u64 > size {
            found.truncate(usize::try_from(size).unwrap_or(usize::MAX));
            found.last().map(|n| n.notification_id.clone())
        } else {
            None
        };
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: found.iter().map(to_proto).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn get_notification_content(
        &self,
        request: Request<pb::GetNotificationContentRequest>,
    ) -> Reply<pb::GetNotificationContentResponse> {
        let actor = complaints_auth::actor(&request)?;
        authorize(actor.role, Step::Read).map_err(AppError::from)?;
        let id = request.into_inner().notification_id;
        if id.trim().is_empty() {
            return Err(
                AppError::from(FieldViolation::new("notification_id", "is required")).into(),
            );
        }
        let found = repo::get(&self.db, id.trim()).await.map_err(db_status)?;
        let Some(n) = found else {
            return Err(into_status(NotificationError::NotFound(id)));
        };
        if n.erased_at.is_some() {
            return Err(into_status(NotificationError::Erased(id)));
        }
        let Some(body) = n.body.clone() else {
            return Err(into_status(NotificationError::NoContentYet {
                id,
                state: n.state.to_string(),
            }));
        };
        let extension = if n.content_type.as_deref() == Some("application/pdf") {
            "pdf"
        } else {
            "txt"
        };
        Ok(Response::new(pb::GetNotificationContentResponse {
            content_type: n.content_type.clone().unwrap_or_default(),
            subject: n.subject.clone().unwrap_or_default(),
            body,
            file_name: format!("{}.{extension}", n.notification_id),
        }))
    }

    async fn request_notification(
        &self,
        request: Request<pb::RequestNotificationRequest>,
    ) -> Reply<pb::RequestNotificationResponse> {
        let actor = complaints_auth::actor(&request)?;
        if actor.role != Role::Service {
            return Err(AppError::from(DomainError::PermissionDenied(
                "RequestNotification is internal to the platform".to_owned(),
            ))
            .into());
        }
        let m = request.into_inner();
        let mut violations = Vec::new();
        let case = m.case_id.trim().parse::<uuid::Uuid>().map_err(|_| {
            violations.push(FieldViolation::new("case_id", "must be a case id (a UUID)"));
        });
        let kind = notify_kind_from_proto(m.kind);
        if kind.is_none() {
            violations.push(FieldViolation::new("kind", "is required"));
        }
        let stage = stage_from_proto(m.stage);
        if stage.is_none() {
            violations.push(FieldViolation::new("stage", "is required"));
        }
        let to_role = role_from_proto(m.to_role);
        if kind == Some(NotifyKind::InternalAlert) && to_role.is_none() {
            violations.push(FieldViolation::new(
                "to_role",
                "is required for an internal alert",
            ));
        }
        let due_date = m
            .due_date
            .as_ref()
            .map(|d| date_from_proto("due_date", d))
            .transpose()
            .map_err(|v| violations.push(v))
            .ok()
            .flatten();
        if matches!(
            kind,
            Some(NotifyKind::Acknowledgement | NotifyKind::ReviewAcknowledgement)
        ) && m.due_date.is_none()
        {
            violations.push(FieldViolation::new(
                "due_date",
                "is required for an acknowledgement: it tells the complainant when we will respond",
            ));
        }
        if matches!(
            kind,
            Some(NotifyKind::Extension | NotifyKind::HoldingUpdate)
        ) && m.due_date.is_none()
        {
            violations.push(FieldViolation::new(
                "due_date",
                "is required for an extension or a holding update: it is the date the complainant is given",
            ));
        }
        let assignee = if m.assignee.trim().is_empty() {
            None
        } else {
            Text::single_line("assignee", &m.assignee, Case::ASSIGNEE_MAX)
                .map_err(|v| violations.push(v))
                .ok()
                .map(|text| text.as_str().to_owned())
        };
        if m.dedupe_key.trim().chars().count() > DEDUPE_KEY_MAX {
            violations.push(FieldViolation::new(
                "dedupe_key",
                format!("must be at most {DEDUPE_KEY_MAX} characters"),
            ));
        }
        let (Ok(case), Some(kind), Some(stage), true) = (case, kind, stage, violations.is_empty())
        else {
            return Err(AppError::from(violations).into());
        };
        let dedupe_key = if m.dedupe_key.trim().is_empty() {
            match to_role {
                Some(role) if kind == NotifyKind::InternalAlert => {
                    format!(
                        "{case}/{}/{}/{}",
                        kind.as_str(),
                        stage.as_str(),
                        role.as_str()
                    )
                }
                _ => format!("{case}/{}/{}", kind.as_str(), stage.as_str()),
            }
        } else {
            m.dedupe_key.trim().to_owned()
        };
        let alert_level = match pb::AlertLevel::try_from(m.alert_level) {
            Ok(pb::AlertLevel::Breach) => Some(AlertLevel::Breach),
            Ok(pb::AlertLevel::Warning) => Some(AlertLevel::Warning),
            Ok(pb::AlertLevel::Assigned) => Some(AlertLevel::Assigned),
            Ok(pb::AlertLevel::Correspondence) => Some(AlertLevel::Correspondence),
            _ => None,
        };
        let details = RequestDetails::new(
            deadline_kind_from_proto(m.deadline_kind),
            due_date,
            alert_level,
        )
        .with_assignee(assignee);
        let requested = Requested::now(
            NewNotification {
                dedupe_key,
                case_id: case,
                kind,
                stage,
                to_role,
                reason: m.reason.clone(),
                details,
            },
            self.clock.now(),
        );
        let (notification_id, created) = self
            .requests
            .submit(requested)
            .await
            .map_err(into_status)?
            .map_err(db_status)?;
        if created {
            self.wake.notify_one();
        }
        Ok(Response::new(pb::RequestNotificationResponse {
            notification_id,
            created,
        }))
    }

    async fn erase_case_notifications(
        &self,
        request: Request<pb::EraseCaseNotificationsRequest>,
    ) -> Reply<pb::EraseCaseNotificationsResponse> {
        let actor = complaints_auth::actor(&request)?;
        if actor.role != Role::Service {
            return Err(AppError::from(DomainError::PermissionDenied(
                "EraseCaseNotifications is internal to the platform".to_owned(),
            ))
            .into());
        }
        let case = case_id(&request.into_inner().case_id)?;
        let erased = erasure::erase_case(&self.db, &self.outbox, case, self.clock.now())
            .await
            .map_err(|e| into_status(NotificationError::from(e)))?;
        tracing::info!(
            case_id = %case,
            rows = erased.rows,
            files = erased.files,
            "erased the case's notifications"
        );
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(Response::new(pb::EraseCaseNotificationsResponse {
            erased: n(erased.rows),
            files_deleted: n(erased.files),
        }))
    }

    async fn requeue_notifications(
        &self,
        request: Request<pb::RequeueNotificationsRequest>,
    ) -> Reply<pb::RequeueNotificationsResponse> {
        let actor = complaints_auth::actor(&request)?;
        if !matches!(actor.role, Role::OpsLead | Role::CxManager) {
            return Err(AppError::from(DomainError::PermissionDenied(
                "RequeueNotifications is for the ops_lead and cx_manager roles".to_owned(),
            ))
            .into());
        }
        let m = request.into_inner();
        let which = requeue_selection(&m).map_err(AppError::from)?;
        let requeued = repo::requeue(&self.db, &which, self.clock.now())
            .await
            .map_err(db_status)?;
        if requeued > 0 {
            self.wake.notify_one();
        }
        tracing::info!(
            by = %actor.subject,
            requeued,
            ids = which.ids.len(),
            case_id = ?which.case_id,
            failed_since = ?which.failed_since,
            "requeued failed notifications"
        );
        Ok(Response::new(pb::RequeueNotificationsResponse {
            requeued: i64::try_from(requeued).unwrap_or(i64::MAX),
        }))
    }
}

/// What a requeue request selects, checked: at least one selector, at most
/// [`REQUEUE_MAX_IDS`] well-formed ids, a case id and an instant that are
/// ones. Every violation is named.
fn requeue_selection(m: &pb::RequeueNotificationsRequest) -> Result<Requeue, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    if m.notification_ids.len() > REQUEUE_MAX_IDS {
        violations.push(FieldViolation::new(
            "notification_ids",
            format!("names more than {REQUEUE_MAX_IDS} notifications; requeue by case_id or failed_since"),
        ));
    }
    let mut ids = Vec::with_capacity(m.notification_ids.len());
    for (i, id) in m.notification_ids.iter().enumerate() {
        match complaints_notify::NotificationId::parse(id.trim()) {
            Ok(_) => ids.push(id.trim().to_owned()),
            Err(_) => violations.push(FieldViolation::new(
                format!("notification_ids[{i}]"),
                "must be a notification id",
            )),
        }
    }
    let case_id = if m.case_id.trim().is_empty() {
        None
    } else {
        m.case_id
            .trim()
            .parse::<uuid::Uuid>()
            .map_err(|_| {
                violations.push(FieldViolation::new("case_id", "must be a case id (a UUID)"));
            })
            .ok()
    };
    let failed_since = optional_timestamp("failed_since", m.failed_since.as_ref())
        .map_err(|v| violations.push(v))
        .ok()
        .flatten();
    if m.notification_ids.is_empty() && m.case_id.trim().is_empty() && m.failed_since.is_none() {
        violations.push(FieldViolation::new(
            "notification_ids",
            "name the notifications to requeue: notification_ids, case_id or failed_since (all failed since then)",
        ));
    }
    if violations.is_empty() {
        Ok(Requeue {
            ids,
            case_id,
            failed_since,
        })
    } else {
        Err(violations)
    }
}
