//! Notices the notification service reports at once (`RecordNotice`) are
//! recorded together (group commit): each reaches its own case, in fewer
//! transactions than notices.

use complaints_domain::case::{Command, NotifyKind};
use complaints_domain::policy::Stage;
use complaints_domain::role::{Actor, Role};
use complaints_store::idempotency::RequestKey;
use complaints_test_support::TestDb;
use complaints_test_support::complaints::web_complaint as complaint;

use crate::helpers::{counting_service, on_every_backend, spawn_app};

on_every_backend!(notices_reported_at_once_each_reach_their_case_and_share_transactions);

const AT_ONCE: u32 = 40;

async fn notices_reported_at_once_each_reach_their_case_and_share_transactions(db: TestDb) {
    let app = spawn_app(db).await;
    let (service, event_inserts) =
        counting_service(&app, |sql| sql.starts_with(r#"INSERT INTO "case_events""#)).await;
    let intake = Actor::new("intake", Role::Service);
    let crm = Actor::new("crm", Role::Integration);
    let mut cases = Vec::new();
    for n in 1..=AT_ONCE {
        let key = RequestKey::new("case.open", format!("crm-{n}"), &n.to_be_bytes());
        let opened = service.open_case(&intake, &crm, complaint(n), &key).await;
        cases.push(opened.expect("a case").stored.case.id);
    }
    event_inserts.store(0, std::sync::atomic::Ordering::SeqCst);

    let notification = Actor::new("notification", Role::Service);
    let calls: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(n, &case_id)| {
            let (service, notification) = (service.clone(), notification.clone());
            tokio::spawn(async move {
                let command = Command::RecordNotice {
                    notification_id: format!("ack-{n}"),
                    kind: NotifyKind::Acknowledgement,
                    stage: Stage::Stage1,
                    channel: "email".to_owned(),
                    route_note: String::new(),
                };
                service
                    .record_notice(&notification, case_id, command, None)
                    .await
            })
        })
        .collect();
    for (call, case_id) in calls.into_iter().zip(&cases) {
        let outcome = call.await.unwrap().expect("every notice is recorded");
        assert_eq!(
            outcome.stored.case.id, *case_id,
            "each call got its own case"
        );
        assert!(outcome.stored.case.acknowledged_at.is_some());
    }
    let transactions = event_inserts.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        transactions < AT_ONCE as usize,
        "{AT_ONCE} notices at once took {transactions} transactions"
    );
}
