//! Stored cases, events and statistics in their protobuf forms.

use chrono::{DateTime, Utc};
use complaints_domain::case::{DeadlineKind, LinkRelation};
use complaints_proto::complaints::case::v1 as pb;
use complaints_rpc::mapping::{
    channel_to_proto, complainant_to_proto, deadline_kind_to_proto, finding_to_proto,
    role_to_proto, stage_to_proto, status_to_proto,
};
use complaints_rpc::{date_to_proto, duration_to_proto, timestamp_to_proto};
use complaints_store::cases::{DueState, Outcome, PageCursor, StoredCase};
use complaints_store::entity::case_events;

use crate::statistics::Statistics;

fn text(value: Option<&complaints_domain::values::Text>) -> String {
    value.map(|t| t.as_str().to_owned()).unwrap_or_default()
}

pub fn case_to_proto(stored: &StoredCase, now: DateTime<Utc>) -> pb::Case {
    let case = &stored.case;
    let overdue = case.status == complaints_domain::case::CaseStatus::Open
        && DeadlineKind::respond(case.stage).is_some_and(|kind| {
            stored
                .due_dates
                .iter()
                .any(|d| d.kind == kind && d.state == DueState::Pending && now > d.due_at)
        });
    pb::Case {
        case_id: case.id.to_string(),
        register_number: case.register_number.as_str().to_owned(),
        stage: stage_to_proto(case.stage),
        status: status_to_proto(case.status),
        channel: channel_to_proto(case.channel),
        complainant: Some(complainant_to_proto(&case.complainant)),
        summary: case.summary.as_str().to_owned(),
        details: text(case.details.as_ref()),
        received_at: Some(timestamp_to_proto(case.received_at)),
        // The contract: nobody owns a closed case.
        owner_role: if case.status == complaints_domain::case::CaseStatus::Closed {
            0
        } else {
            role_to_proto(case.owner_role)
        },
        recorded_by: text(case.recorded_by.as_ref()),
        scan_reference: text(case.scan_reference.as_ref()),
        policy_version: case.policy_version.clone(),
        acknowledged_at: case.acknowledged_at.map(timestamp_to_proto),
        referrals: case
            .referrals
            .iter()
            .map(|r| pb::Referral {
                referral_id: r.id.to_string(),
                department: r.department.as_str().to_owned(),
                question: r.question.as_str().to_owned(),
                opened_at: Some(timestamp_to_proto(r.opened_at)),
                response: text(r.response.as_ref()),
                responded_at: r.responded_at.map(timestamp_to_proto),
            })
            .collect(),
        responses: case
            .responses
            .iter()
            .map(|r| pb::StageResponse {
                stage: stage_to_proto(r.stage),
                outcome: r.outcome.as_str().to_owned(),
                upheld: finding_to_proto(r.finding),
                root_cause: r.root_cause.clone(),
                lessons_learned: text(r.lessons_learned.as_ref()),
                issued_by: r.issued_by.subject.clone(),
                issued_at: Some(timestamp_to_proto(r.issued_at)),
            })
            .collect(),
        tsa_reference: text(case.tsa_reference.as_ref()),
        closed_reason: text(case.closed_reason.as_ref()),
        updated_at: Some(timestamp_to_proto(stored.updated_at)),
        overdue,
        personal_data_erased: stored.erased,
        closed_at: case.closed_at.map(timestamp_to_proto),
        assignee: text(case.assignee.as_ref()),
        thread_message_id: case.thread_message_id.clone().unwrap_or_default(),
        needs_attention: case.needs_attention,
        possible_duplicate_of: case
            .possible_duplicate_of
            .iter()
            .map(ToString::to_string)
            .collect(),
        linked_cases: case
            .linked_cases
            .iter()
            .map(|link| pb::CaseLink {
                case_id: link.case_id.to_string(),
                register_number: link.register_number.as_str().to_owned(),
                relation: link_relation_to_proto(link.relation),
            })
            .collect(),
    }
}

pub fn link_relation_to_proto(relation: LinkRelation) -> i32 {
    match relation {
        LinkRelation::Duplicate => pb::CaseLinkRelation::Duplicate as i32,
        LinkRelation::Related => pb::CaseLinkRelation::Related as i32,
    }
}

/// `None` for `CASE_LINK_RELATION_UNSPECIFIED` and unknown values.
pub fn link_relation_from_proto(value: i32) -> Option<LinkRelation> {
    match pb::CaseLinkRelation::try_from(value).ok()? {
        pb::CaseLinkRelation::Unspecified => None,
        pb::CaseLinkRelation::Duplicate => Some(LinkRelation::Duplicate),
        pb::CaseLinkRelation::Related => Some(LinkRelation::Related),
    }
}

pub fn open_response(outcome: &Outcome, now: DateTime<Utc>) -> pb::OpenCaseResponse {
    let due = |kind: DeadlineKind| outcome.stored.due_dates.iter().find(|d| d.kind == kind);
    let acknowledge = due(DeadlineKind::Acknowledge);
    let resolve = due(DeadlineKind::Resolve);
    pb::OpenCaseResponse {
        case: Some(case_to_proto(&outcome.stored, now)),
        acknowledge_by: acknowledge.map(|d| date_to_proto(d.due_date)),
        resolve_by: resolve.map(|d| date_to_proto(d.due_date)),
        acknowledge_by_at: acknowledge.map(|d| timestamp_to_proto(d.due_at)),
        resolve_by_at: resolve.map(|d| timestamp_to_proto(d.due_at)),
        replayed: outcome.replayed,
    }
}

pub fn event_to_proto(event: &case_events::Model) -> pb::TimelineEvent {
    let actor_role = event
        .actor_role
        .parse::<complaints_domain::role::Role>()
        .map(role_to_proto)
        .unwrap_or(0);
    pb::TimelineEvent {
        sequence: event.sequence,
        kind: event.kind.clone(),
        actor: event.actor_subject.clone(),
        actor_role,
        at: Some(timestamp_to_proto(event.at)),
        details: describe(&event.details),
        details_json: event.details.clone(),
        hash: event.hash.clone(),
        // The contract: empty for the first event (stored as the genesis hash).
        prev_hash: if event.prev_hash == complaints_store::chain::GENESIS_HASH {
            String::new()
        } else {
            event.prev_hash.clone()
        },
    }
}

/// A one-line reading of an event's details: `field: value` pairs.
fn describe(details_json: &str) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(details_json) else {
        return details_json.to_owned();
    };
    fields
        .iter()
        .filter(|(key, _)| key.as_str() != "kind")
        .map(|(key, value)| match value {
            serde_json::Value::String(s) => format!("{key}: {s}"),
            other => format!("{key}: {other}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn encode_cursor(cursor: PageCursor) -> String {
    hex::encode(format!(
        "{}:{}",
        cursor.received_at.timestamp_micros(),
        cursor.id
    ))
}

pub fn decode_cursor(token: &str) -> Option<PageCursor> {
    let text = String::from_utf8(hex::decode(token).ok()?).ok()?;
    let (micros, id) = text.split_once(':')?;
    Some(PageCursor {
        received_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id: id.parse().ok()?,
    })
}

pub fn statistics_to_proto(stats: &Statistics) -> pb::GetStatisticsResponse {
    let count = |key: String, count: u64| pb::Count {
        key,
        count: i64::try_from(count).unwrap_or(i64::MAX),
    };
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    pb::GetStatisticsResponse {
        total: n(stats.total),
        by_stage: stats
            .by_stage
            .iter()
            .map(|(stage, c)| count(stage_name(stage_to_proto(*stage)), *c))
            .collect(),
        by_channel: stats
            .by_channel
            .iter()
            .map(|(channel, c)| count(format!("CHANNEL_{}", channel.to_uppercase()), *c))
            .collect(),
        by_root_cause: stats
            .by_root_cause
            .iter()
            .map(|(code, c)| count(code.clone(), *c))
            .collect(),
        by_finding: stats
            .by_finding
            .iter()
            .map(|(finding, c)| count(format!("FINDING_{}", finding.to_uppercase()), *c))
            .collect(),
        sla: stats
            .sla
            .iter()
            .map(|(kind, sla)| pb::SlaCount {
                kind: deadline_kind_to_proto(*kind),
                met: n(sla.met),
                breached: n(sla.breached),
                pending: n(sla.pending),
            })
            .collect(),
        median_time_to_acknowledge: stats.median_time_to_acknowledge.map(duration_to_proto),
        median_time_to_resolve: stats.median_time_to_resolve.map(duration_to_proto),
        escalation_rate: stats.escalation_rate(),
        tsa_rate: stats.tsa_rate(),
        review_count: n(stats.review_count),
        director_count: n(stats.director_count),
        tsa_count: n(stats.tsa_count),
        lessons_by_root_cause: stats
            .lessons_by_root_cause
            .iter()
            .map(|(root_cause, lessons)| pb::RootCauseLessons {
                root_cause: root_cause.clone(),
                lessons: lessons
                    .iter()
                    .map(|lesson| pb::Lesson {
                        lessons_learned: lesson.text.clone(),
                        register_numbers: lesson.register_numbers.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn stage_name(stage: i32) -> String {
    complaints_proto::complaints::common::v1::Stage::try_from(stage)
        .map(|s| s.as_str_name().to_owned())
        .unwrap_or_default()
}

pub fn correspondence_to_proto(
    message: &complaints_store::correspondence::Message,
) -> pb::Correspondence {
    use complaints_store::correspondence::Direction;
    pb::Correspondence {
        direction: match message.direction {
            Direction::Inbound => pb::CorrespondenceDirection::Inbound,
            Direction::Outbound => pb::CorrespondenceDirection::Outbound,
        } as i32,
        message_id: message.message_id.clone(),
        in_reply_to: message.in_reply_to.clone().unwrap_or_default(),
        address: message.address.clone().unwrap_or_default(),
        subject: message.subject.clone().unwrap_or_default(),
        at: Some(timestamp_to_proto(message.at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_cursor_round_trips_and_garbage_is_refused() {
        let cursor = PageCursor {
            received_at: DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap(),
            id: uuid::Uuid::now_v7(),
        };
        assert_eq!(decode_cursor(&encode_cursor(cursor)), Some(cursor));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor(&hex::encode("no-colon")), None);
    }
}
