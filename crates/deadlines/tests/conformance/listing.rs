use complaints_deadlines::{DeadlineFilter, DeadlineState, FireOutcome, PageRequest, QueueError};
use complaints_domain::case::DeadlineKind;
use complaints_domain::role::Role;

use crate::support::*;

crate::conformance!(
    a_cases_deadlines_come_soonest_first,
    deadlines_due_soon_page_through_in_due_order,
    breaches_page_through_most_recent_first_and_filter_by_role,
    a_page_token_from_elsewhere_is_refused,
);

async fn a_cases_deadlines_come_soonest_first(h: Harness) {
    let case = new_case();
    h.queue
        .schedule_many(vec![
            deadline(case, DeadlineKind::Resolve, t0() + hours(10)),
            deadline(case, DeadlineKind::Acknowledge, t0() + hours(3)),
            deadline(case, DeadlineKind::ReferralUpdate, t0() + hours(5)),
        ])
        .await
        .unwrap();
    h.queue
        .schedule(deadline(new_case(), DeadlineKind::Acknowledge, t0()))
        .await
        .unwrap();

    let kinds: Vec<_> = h
        .queue
        .get(case)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.kind)
        .collect();

    assert_eq!(
        kinds,
        vec![
            DeadlineKind::Acknowledge,
            DeadlineKind::ReferralUpdate,
            DeadlineKind::Resolve
        ]
    );
    assert!(h.queue.get(new_case()).await.unwrap().is_empty());
}

async fn deadlines_due_soon_page_through_in_due_order(h: Harness) {
    // Ten due an hour apart, two of them at the same instant.
    let mut due = many(10, |i| t0() + hours(i as i64));
    due[5].due.at = due[4].due.at;
    due[9].owner_role = Role::Director;
    h.queue.schedule_many(due).await.unwrap();
    let until = t0() + hours(8);

    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let answer = h
            .queue
            .list_due_soon(until, &DeadlineFilter::default(), &page)
            .await
            .unwrap();
        assert!(answer.deadlines.len() <= 3);
        seen.extend(answer.deadlines);
        match answer.next_page_token {
            Some(token) => page.page_token = Some(token),
            None => break,
        }
    }

    assert_eq!(seen.len(), 9, "due by {until}: hours 0 to 8");
    assert!(seen.windows(2).all(|pair| pair[0].due.at <= pair[1].due.at));
    assert!(seen.iter().all(|d| d.state == DeadlineState::Pending));
    let directors = h
        .queue
        .list_due_soon(
            t0() + hours(24),
            &DeadlineFilter {
                owner_role: Some(Role::Director),
                ..DeadlineFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(directors.deadlines.len(), 1);
    assert_eq!(directors.next_page_token, None);
}

async fn breaches_page_through_most_recent_first_and_filter_by_role(h: Harness) {
    let now = t0();
    let mut due = many(7, |i| now - hours(i as i64 + 1));
    for late in due.iter_mut().take(2) {
        late.escalation_role = Role::OpsLead;
    }
    h.queue.schedule_many(due).await.unwrap();
    h.queue
        .schedule(deadline(
            new_case(),
            DeadlineKind::Acknowledge,
            now + hours(1),
        ))
        .await
        .unwrap();
    let worker = worker("w1");
    let claimed = h.queue.claim_due(now, 10, &worker, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 7);
    for (n, claim) in claimed.iter().enumerate() {
        let outcome = if n == 0 {
            FireOutcome::Met
        } else {
            FireOutcome::Breached
        };
        h.queue
            .complete_fire(claim.deadline.deadline_id, &worker, outcome, now)
            .await
            .unwrap();
    }

    let first = h
        .queue
        .list_breaches(&DeadlineFilter::default(), &PageRequest::first(4))
        .await
        .unwrap();
    let second = h
        .queue
        .list_breaches(
            &DeadlineFilter::default(),
            &PageRequest {
                page_size: 4,
                page_token: first.next_page_token.clone(),
            },
        )
        .await
        .unwrap();
    let ops_lead = h
        .queue
        .list_breaches(
            &DeadlineFilter {
                escalation_role: Some(Role::OpsLead),
                ..DeadlineFilter::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();

    assert_eq!(first.deadlines.len(), 4);
    assert_eq!(second.deadlines.len(), 2, "six breached, one fired as met");
    assert_eq!(second.next_page_token, None);
    let all: Vec<_> = first.deadlines.iter().chain(&second.deadlines).collect();
    assert!(all.windows(2).all(|pair| pair[0].due.at >= pair[1].due.at));
    assert!(all.iter().all(|d| d.state == DeadlineState::Breached));
    assert_eq!(ops_lead.deadlines.len(), 2);
    assert!(
        ops_lead
            .deadlines
            .iter()
            .all(|d| d.escalation_role == Role::OpsLead)
    );
}

async fn a_page_token_from_elsewhere_is_refused(h: Harness) {
    let page = PageRequest {
        page_size: 10,
        page_token: Some("not-a-token".to_owned()),
    };
    assert!(matches!(
        h.queue
            .list_breaches(&DeadlineFilter::default(), &page)
            .await,
        Err(QueueError::InvalidArgument {
            field: "page_token",
            ..
        })
    ));
}
