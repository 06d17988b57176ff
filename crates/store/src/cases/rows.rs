//! How a stored case maps to its rows: the case row with its snapshot, and
//! the complainant row that holds the personal data apart.

use chrono::{DateTime, Utc};
use complaints_domain::calendar::Calendar;
use complaints_domain::case::{Case, DeadlineKind};
use complaints_domain::complainant::Complainant;
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::StoredCase;
use super::due_dates::{DueDate, DueState};
use crate::StoreError;
use crate::entity::{cases, complainants};

/// The stored part of a case row that is not in a column of its own.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    case: Case,
    due_dates: Vec<DueDate>,
}

pub(super) fn case_row(
    stored: &StoredCase,
    calendar: &Calendar,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<cases::ActiveModel, StoreError> {
    let case = &stored.case;
    let respond_due_at = DeadlineKind::respond(case.stage).and_then(|kind| {
        stored
            .due_dates
            .iter()
            .rev()
            .find(|d| d.kind == kind && d.state == DueState::Pending)
            .map(|d| d.due_at)
    });
    let mut snapshot_case = case.clone();
    // Personal data lives in `complainants` only, so erasure reaches it all.
    snapshot_case.complainant = Complainant::anonymised();
    let snapshot = serde_json::to_string(&Snapshot {
        case: snapshot_case,
        due_dates: stored.due_dates.clone(),
    })
    .map_err(StoreError::corrupt)?;
    Ok(cases::ActiveModel {
        id: Set(case.id.as_uuid()),
        register_number: Set(case.register_number.as_str().to_owned()),
        stage: Set(case.stage.as_str().to_owned()),
        status: Set(case.status.as_str().to_owned()),
        channel: Set(case.channel.as_str().to_owned()),
        owner_role: Set(case.owner_role.as_str().to_owned()),
        assignee: Set(case.assignee.as_ref().map(|a| a.as_str().to_owned())),
        received_at: Set(case.received_at),
        received_on: Set(calendar.local_date(case.received_at).to_string()),
        summary: Set(case.summary.as_str().to_owned()),
        policy_version: Set(case.policy_version.clone()),
        version: Set(i64::try_from(case.version).map_err(StoreError::corrupt)?),
        respond_due_at: Set(respond_due_at),
        acknowledged_at: Set(case.acknowledged_at),
        closed_at: Set(case.closed_at),
        snapshot: Set(snapshot),
        created_at: Set(created_at),
        updated_at: Set(now),
    })
}

pub(super) fn complainant_row(
    case_id: Uuid,
    complainant: &Complainant,
    erased_at: Option<DateTime<Utc>>,
) -> Result<complainants::ActiveModel, StoreError> {
    let address = complainant
        .postal_address()
        .map(|address| serde_json::to_string(&address.to_raw()))
        .transpose()
        .map_err(StoreError::corrupt)?;
    Ok(complainants::ActiveModel {
        case_id: Set(case_id),
        full_name: Set(complainant.full_name().as_str().to_owned()),
        email: Set(complainant.email().map(|e| e.as_str().to_owned())),
        phone: Set(complainant.phone().map(|p| p.e164().to_owned())),
        postal_address: Set(address),
        postcode: Set(complainant
            .postal_address()
            .map(|address| address.postcode().as_str().to_owned())),
        preferred_contact: Set(complainant.preferred_contact().as_str().to_owned()),
        customer_ref: Set(complainant.customer_ref().map(|r| r.as_str().to_owned())),
        erased_at: Set(erased_at),
    })
}

pub(super) fn decode(row: &cases::Model) -> Result<StoredCase, StoreError> {
    let snapshot: Snapshot = serde_json::from_str(&row.snapshot).map_err(StoreError::corrupt)?;
    Ok(StoredCase {
        case: snapshot.case,
        due_dates: snapshot.due_dates,
        erased: false,
        updated_at: row.updated_at,
    })
}
