//! A CRM follows every case through `WatchCaseEvents` on `complaints dev
//! --test-clock`: it reads the events of two complaints, disconnects, and
//! while it is away the suite acknowledges both (the notification service
//! reporting each notice to the case timeline); reconnecting from the last
//! cursor it received, it gets every later event exactly once, in order.

use std::time::Duration;

use complaints_proto::complaints::case::v1 as case_pb;
use tonic::Streaming;

use crate::policy_support::Journey;

/// A working stream answers in milliseconds; this only bounds how long a
/// broken one keeps the test waiting before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

async fn take(
    stream: &mut Streaming<case_pb::WatchCaseEventsResponse>,
    count: usize,
) -> Vec<case_pb::WatchCaseEventsResponse> {
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        let next = tokio::time::timeout(PATIENCE, stream.message())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} events came: {got:#?}", got.len()))
            .unwrap()
            .expect("the stream ended early");
        got.push(next);
    }
    got
}

/// Every event of both complaints' timelines, as (case id, sequence, kind),
/// each case's in its timeline order.
async fn recorded(journey: &mut Journey) -> Vec<(String, i64, String)> {
    let mut all = Vec::new();
    for case_id in [journey.email.case_id.clone(), journey.post.case_id.clone()] {
        for event in journey.c.timeline(&case_id).await {
            all.push((case_id.clone(), event.sequence, event.kind));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_that_reconnects_from_its_last_cursor_misses_nothing_and_sees_nothing_twice() {
    let mut journey = Journey::begin().await;
    let mut crm = journey.suite.cases("integration", "crm");
    let watch = |after_cursor: String| case_pb::WatchCaseEventsRequest {
        after_cursor,
        kinds: Vec::new(),
    };

    let before = recorded(&mut journey).await;
    let mut stream = crm
        .watch_case_events(watch(String::new()))
        .await
        .unwrap()
        .into_inner();
    let mut seen = take(&mut stream, before.len()).await;
    drop(stream);

    journey.a_minute_passes().await;
    let after = recorded(&mut journey).await;
    assert!(
        after.iter().any(|(_, _, kind)| kind == "case.notice_sent"),
        "the acknowledgements reached the timelines while the CRM was away: {after:#?}"
    );
    let cursor = seen.last().unwrap().cursor.clone();
    let mut resumed = crm
        .watch_case_events(watch(cursor))
        .await
        .unwrap()
        .into_inner();
    seen.extend(take(&mut resumed, after.len() - before.len()).await);

    let mut delivered: Vec<(String, i64, String)> = seen
        .iter()
        .map(|m| {
            let event = m.event.as_ref().unwrap();
            (m.case_id.clone(), event.sequence, event.kind.clone())
        })
        .collect();
    for case_id in [&journey.email.case_id, &journey.post.case_id] {
        let in_stream: Vec<_> = delivered.iter().filter(|(c, ..)| c == case_id).collect();
        let in_timeline: Vec<_> = after.iter().filter(|(c, ..)| c == case_id).collect();
        assert_eq!(
            in_stream, in_timeline,
            "case {case_id}: every event once, in order"
        );
    }
    delivered.sort();
    let mut expected = after;
    expected.sort();
    assert_eq!(delivered, expected);
    let register_numbers: Vec<_> = seen
        .iter()
        .filter(|m| m.case_id == journey.email.case_id)
        .map(|m| m.register_number.as_str())
        .collect();
    assert!(
        register_numbers
            .iter()
            .all(|n| *n == journey.email.register_number)
    );
}
