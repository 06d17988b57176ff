//! The timeline's hash chain: each event's hash is
//! `sha256(prev_hash || canonical event)`, so changing, removing or
//! reordering any stored event breaks every hash after it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entity::case_events;

/// The `prev_hash` of a case's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields that are hashed, in a fixed order. `details` is already
/// canonical JSON text; `at` is written with microsecond precision, the
/// precision both databases keep.
#[derive(Serialize)]
struct Canonical<'a> {
    case_id: Uuid,
    sequence: i64,
    kind: &'a str,
    actor_subject: &'a str,
    actor_role: &'a str,
    at: String,
    details: &'a str,
}

/// The hash of one event, chained to `prev_hash`.
pub fn event_hash(prev_hash: &str, event: &case_events::Model) -> String {
    let canonical = Canonical {
        case_id: event.case_id,
        sequence: event.sequence,
        kind: &event.kind,
        actor_subject: &event.actor_subject,
        actor_role: &event.actor_role,
        at: canonical_instant(event.at),
        details: &event.details,
    };
    // Serialising a struct of strings and integers cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(&bytes);
    hex::encode(hasher.finalize())
}

/// An instant as it is stored and hashed: UTC, microsecond precision.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

fn canonical_instant(at: DateTime<Utc>) -> String {
    truncate_to_micros(at).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Where a timeline stops verifying, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timeline breaks at event {sequence}: {reason}")]
pub struct ChainBreak {
    pub sequence: i64,
    pub reason: String,
}

/// Checks a case's events, in sequence order: numbered 1, 2, 3 ... with no
/// gap, each `prev_hash` equal to the hash before, each `hash` recomputed.
pub fn verify(events: &[case_events::Model]) -> Result<(), ChainBreak> {
    let mut prev_hash = GENESIS_HASH.to_owned();
    for (expected, event) in (1_i64..).zip(events) {
        let broken = |reason: String| ChainBreak {
            sequence: event.sequence,
            reason,
        };
        if event.sequence != expected {
            return Err(broken(format!("expected sequence {expected}")));
        }
        if event.prev_hash != prev_hash {
            return Err(broken("does not follow the event before it".to_owned()));
        }
        if event_hash(&prev_hash, event) != event.hash {
            return Err(broken("content does not match its hash".to_owned()));
        }
        prev_hash.clone_from(&event.hash);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn chain(n: i64) -> Vec<case_events::Model> {
        let case_id = Uuid::nil();
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|sequence| {
                let mut event = case_events::Model {
                    case_id,
                    sequence,
                    kind: "case.note_added".to_owned(),
                    actor_subject: "alice".to_owned(),
                    actor_role: "complaints_handler".to_owned(),
                    at: Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap(),
                    details: format!("{{\"text\":\"note {sequence}\"}}"),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                event.hash = event_hash(&prev, &event);
                prev.clone_from(&event.hash);
                event
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(()));
    }

    #[test]
    fn editing_an_event_is_detected_at_that_event() {
        let mut events = chain(5);
        events[2].details = "{\"text\":\"rewritten\"}".to_owned();
        assert_eq!(verify(&events).unwrap_err().sequence, 3);
    }

    #[test]
    fn rehashing_an_edited_event_is_detected_at_the_next() {
        let mut events = chain(5);
        events[2].actor_subject = "mallory".to_owned();
        events[2].hash = event_hash(&events[1].hash, &events[2]);
        assert_eq!(verify(&events).unwrap_err().sequence, 4);
    }

    #[test]
    fn removing_an_event_is_detected() {
        let mut events = chain(5);
        events.remove(1);
        assert_eq!(verify(&events).unwrap_err().sequence, 3);
    }
}
