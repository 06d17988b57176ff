//! `WatchCaseEvents`: timeline events across cases, streamed from a cursor
//! and then as they are committed.

use std::time::Duration;

use complaints_domain::FieldViolation;
use complaints_proto::complaints::case::v1 as pb;
use complaints_rpc::AppError;
use complaints_rpc::peers::CaseEventStream;
use complaints_rpc::service::Stop;
use complaints_store::feed::{FeedCursor, FeedEvent};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status};

use crate::app::CaseApp;
use crate::convert;

/// Events read per query, and the most a slow client has queued.
const PAGE: u64 = 200;

/// How often a caught-up stream looks again when nothing in this process
/// woke it: events committed by another replica, or held back behind a
/// transaction that was still running.
const LOOK_AGAIN: Duration = Duration::from_secs(1);

/// Checks the request and reads the first page before answering, so a bad
/// cursor or a refused caller fails the call itself; then streams until the
/// client goes, the database fails (UNAVAILABLE: reconnect from the last
/// cursor) or the server starts shutting down (the stream ends; reconnect,
/// to another replica, from the last cursor).
pub(super) async fn watch(
    app: &CaseApp,
    draining: Option<Stop>,
    request: Request<pb::WatchCaseEventsRequest>,
) -> Result<CaseEventStream, AppError> {
    let actor = complaints_auth::actor(&request)?;
    let m = request.into_inner();
    let kinds = KindFilter::new(m.kinds)?;
    let cursor: FeedCursor = m
        .after_cursor
        .parse()
        .map_err(|_| FieldViolation::new("after_cursor", "is not a cursor this service gave"))?;
    let first = app.events_after(&actor, cursor, PAGE).await?;
    let (tx, rx) = mpsc::channel(PAGE as usize);
    let app = app.clone();
    let mut commits = app.watch_commits();
    tokio::spawn(async move {
        let mut page = first;
        let mut cursor = cursor;
        loop {
            let caught_up = page.len() < PAGE as usize;
            for event in page {
                cursor = event.cursor;
                if kinds.matches(&event.event.kind) && tx.send(Ok(to_proto(event))).await.is_err() {
                    return;
                }
            }
            if caught_up {
                tokio::select! {
                    () = stopped(draining.as_ref()) => return,
                    () = tx.closed() => return,
                    _ = commits.changed() => {}
                    () = tokio::time::sleep(LOOK_AGAIN) => {}
                }
            }
            if draining.as_ref().is_some_and(Stop::is_stopped) {
                return;
            }
            page = match app.events_after(&actor, cursor, PAGE).await {
                Ok(page) => page,
                Err(error) => {
                    let _ = tx.send(Err(Status::from(error))).await;
                    return;
                }
            };
        }
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

async fn stopped(draining: Option<&Stop>) {
    match draining {
        Some(stop) => stop.stopped().await,
        None => std::future::pending().await,
    }
}

fn to_proto(event: FeedEvent) -> pb::WatchCaseEventsResponse {
    pb::WatchCaseEventsResponse {
        cursor: event.cursor.to_string(),
        case_id: event.event.case_id.to_string(),
        register_number: event.register_number,
        event: Some(convert::event_to_proto(&event.event)),
    }
}

/// Which kinds a watcher asked for: exact names, or prefixes written with a
/// trailing `*`; none means every kind.
#[derive(Debug, Default)]
struct KindFilter {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl KindFilter {
    fn new(kinds: Vec<String>) -> Result<Self, Vec<FieldViolation>> {
        let mut filter = KindFilter::default();
        let mut violations = Vec::new();
        for (i, kind) in kinds.into_iter().enumerate() {
            let kind = kind.trim().to_owned();
            match kind.strip_suffix('*') {
                _ if kind.is_empty() => {
                    violations.push(FieldViolation::new(
                        format!("kinds[{i}]"),
                        "must not be empty",
                    ));
                }
                Some(prefix) => filter.prefixes.push(prefix.to_owned()),
                None => filter.exact.push(kind),
            }
        }
        if violations.is_empty() {
            Ok(filter)
        } else {
            Err(violations)
        }
    }

    fn matches(&self, kind: &str) -> bool {
        (self.exact.is_empty() && self.prefixes.is_empty())
            || self.exact.iter().any(|k| k == kind)
            || self.prefixes.iter().any(|p| kind.starts_with(p.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_exactly_or_by_prefix() {
        let filter = KindFilter::new(vec!["case.received".into(), "deadline.*".into()]).unwrap();
        assert!(filter.matches("case.received"));
        assert!(filter.matches("deadline.breached"));
        assert!(!filter.matches("case.closed"));
        assert!(!filter.matches("note.added"));
        assert!(KindFilter::new(Vec::new()).unwrap().matches("note.added"));
    }

    #[test]
    fn an_empty_kind_is_refused_by_its_place() {
        let violations = KindFilter::new(vec!["case.received".into(), " ".into()]).unwrap_err();
        assert_eq!(violations[0].field, "kinds[1]");
    }
}
