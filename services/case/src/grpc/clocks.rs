//! Decoding `RecordClockChange`: the escalation service's report of a move
//! of a case's clocks, into the domain's [`ClockChange`].

use complaints_domain::FieldViolation;
use complaints_domain::case::ClockChange;
use complaints_proto::complaints::case::v1 as pb;
use complaints_rpc::mapping::deadline_kind_from_proto;
use complaints_rpc::{AppError, date_from_proto};

/// The change the request reports, every missing or bad field named. The
/// request id is required: it is what makes the escalation service's
/// repeats harmless.
pub(super) fn clock_change(m: &pb::RecordClockChangeRequest) -> Result<ClockChange, AppError> {
    let mut violations = Vec::new();
    if m.request_id.trim().is_empty() {
        violations.push(FieldViolation::new(
            "request_id",
            "is required: `<deadline or case id>/<change id>`",
        ));
    }
    let reason = m.reason.clone();
    let requested_by = m.requested_by.clone();
    let change = match pb::ClockChangeKind::try_from(m.change) {
        Ok(pb::ClockChangeKind::Extended) => {
            let deadline = deadline_kind_from_proto(m.deadline_kind);
            if deadline.is_none() {
                violations.push(FieldViolation::new(
                    "deadline_kind",
                    "is required for an extension",
                ));
            }
            let extra_working_days = u32::try_from(m.extra_working_days)
                .ok()
                .filter(|days| *days >= 1);
            if extra_working_days.is_none() {
                violations.push(FieldViolation::new(
                    "extra_working_days",
                    "must be at least 1 for an extension",
                ));
            }
            let previous_due_date = required_date(
                "previous_due_date",
                m.previous_due_date.as_ref(),
                &mut violations,
            );
            let due_date = required_date("due_date", m.due_date.as_ref(), &mut violations);
            match (deadline, extra_working_days, previous_due_date, due_date) {
                (
                    Some(deadline),
                    Some(extra_working_days),
                    Some(previous_due_date),
                    Some(due_date),
                ) => Some(ClockChange::Extended {
                    deadline,
                    extra_working_days,
                    previous_due_date,
                    due_date,
                    reason,
                    requested_by,
                }),
                _ => None,
            }
        }
        Ok(pb::ClockChangeKind::Paused) => Some(ClockChange::Paused {
            reason,
            requested_by,
        }),
        Ok(pb::ClockChangeKind::Resumed) => match u32::try_from(m.paused_working_days) {
            Ok(paused_working_days) => Some(ClockChange::Resumed {
                paused_working_days,
                reason,
                requested_by,
            }),
            Err(_) => {
                violations.push(FieldViolation::new(
                    "paused_working_days",
                    "must not be negative",
                ));
                None
            }
        },
        Ok(pb::ClockChangeKind::Unspecified) | Err(_) => {
            violations.push(FieldViolation::new(
                "change",
                "must be CLOCK_CHANGE_KIND_EXTENDED, _PAUSED or _RESUMED",
            ));
            None
        }
    };
    match change {
        Some(change) if violations.is_empty() => Ok(change),
        _ => Err(violations.into()),
    }
}

fn required_date(
    field: &str,
    date: Option<&complaints_proto::google::r#type::Date>,
    violations: &mut Vec<FieldViolation>,
) -> Option<chrono::NaiveDate> {
    let Some(date) = date else {
        violations.push(FieldViolation::new(field, "is required for an extension"));
        return None;
    };
    date_from_proto(field, date)
        .map_err(|violation| violations.push(violation))
        .ok()
}
