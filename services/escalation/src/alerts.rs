//! The words the escalation service sends: staff alerts before a due date
//! or at a breach, the complainant's day-5 referral notice, extension and
//! holding notices, the reason a broken stage 2 clock hands the review on.
//! Words only; `firing` and `clocks` decide when they go.

use complaints_deadlines::Deadline;
use complaints_domain::case::DeadlineKind;
use complaints_domain::role::Role;

use crate::relay::{AlertRequest, CaseRequest, NoticeKind};

/// Which staff alert a deadline raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StaffAlert {
    /// Ahead of the due date, to the owner.
    Warning,
    /// The due date has passed, to the owner and the escalation role.
    Breach,
}

impl StaffAlert {
    /// As the dedupe key spells it.
    fn as_str(self) -> &'static str {
        match self {
            StaffAlert::Warning => "warning",
            StaffAlert::Breach => "breach",
        }
    }
}

fn kind_words(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::Acknowledge => "the stage 1 acknowledgement",
        DeadlineKind::Resolve => "the stage 1 resolution",
        DeadlineKind::ReferralUpdate => "the day-5 referral update",
        DeadlineKind::Stage2Acknowledge => "the stage 2 acknowledgement",
        DeadlineKind::Stage2Respond => "the stage 2 response",
        DeadlineKind::Stage3Acknowledge => "the stage 3 acknowledgement",
        DeadlineKind::Stage3Respond => "the stage 3 response",
    }
}

/// An alert about `deadline` for `role`'s mailbox, and for `assignee`, the
/// person the case is assigned to, if given: a warning ahead of it or a
/// breach. Its dedupe key makes a repeat the same notification.
pub(crate) fn alert(
    deadline: &Deadline,
    role: Role,
    what: StaffAlert,
    assignee: Option<&str>,
) -> AlertRequest {
    let due = deadline.due.date.format("%A %-d %B %Y");
    let reason = match what {
        StaffAlert::Warning => format!(
            "{} {} is due by the end of {due}; {}",
            deadline.register_number,
            kind_words(deadline.kind),
            deadline.reason
        ),
        StaffAlert::Breach => format!(
            "{}: {} was due by the end of {due} and is now breached",
            deadline.register_number,
            kind_words(deadline.kind),
        ),
    };
    AlertRequest {
        case_id: deadline.case_id.to_string(),
        deadline: Some((deadline.kind, deadline.due.date)),
        breach: what == StaffAlert::Breach,
        kind: NoticeKind::InternalAlert,
        stage: deadline.stage,
        to_role: Some(role),
        assignee: assignee.map(str::to_owned),
        reason,
        dedupe_key: format!(
            "{}/{}/{}",
            deadline.deadline_id.0,
            what.as_str(),
            role.as_str()
        ),
    }
}

/// The complainant's notice that a referral to another department is still
/// open at day 5 (docs/policy.md, Stage 1, R3); the notification service
/// words it.
pub(crate) fn referral_update(deadline: &Deadline) -> AlertRequest {
    AlertRequest {
        case_id: deadline.case_id.to_string(),
        deadline: None,
        breach: false,
        kind: NoticeKind::ReferralUpdate,
        stage: deadline.stage,
        to_role: None,
        assignee: None,
        reason: String::new(),
        dedupe_key: String::new(),
    }
}

/// The complainant's notice that `deadline` (as moved) now falls due on its
/// new date, and why; `occasion` makes the dedupe key one per move (the
/// extension's request id, or the pause's instant). docs/policy.md, Working
/// days, Extensions and pauses.
pub(crate) fn extension_notice(deadline: &Deadline, reason: &str, occasion: &str) -> AlertRequest {
    AlertRequest {
        case_id: deadline.case_id.to_string(),
        deadline: Some((deadline.kind, deadline.due.date)),
        breach: false,
        kind: NoticeKind::Extension,
        stage: deadline.stage,
        to_role: None,
        assignee: None,
        reason: reason.trim().to_owned(),
        dedupe_key: format!("{}/extension/{occasion}", deadline.deadline_id.0),
    }
}

/// The complainant's holding notice when the resolution date passed
/// without an extension: we will be in touch by `next_contact`. Once per
/// deadline.
pub(crate) fn holding_update(deadline: &Deadline, next_contact: chrono::NaiveDate) -> AlertRequest {
    AlertRequest {
        case_id: deadline.case_id.to_string(),
        deadline: Some((deadline.kind, next_contact)),
        breach: false,
        kind: NoticeKind::HoldingUpdate,
        stage: deadline.stage,
        to_role: None,
        assignee: None,
        reason: String::new(),
        dedupe_key: format!("{}/holding_update", deadline.deadline_id.0),
    }
}

/// A broken stage 2 clock hands the review to the Operations Lead
/// (docs/policy.md, Stage 2, R5).
pub(crate) fn escalate_stage_2(deadline: &Deadline) -> CaseRequest {
    CaseRequest::EscalateWithinStage {
        case_id: deadline.case_id.to_string(),
        request_id: format!("breach-{}", deadline.deadline_id.0),
        reason: format!(
            "the stage 2 response was due by {} and was not issued",
            deadline.due.date
        ),
    }
}
