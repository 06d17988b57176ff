//! R8-R10 over a whole journey: the complainant heard from us at every step,
//! in the policy's order (acknowledgement, day-5 update, the holding update
//! when the resolution date passed, stage 1 response, review acknowledgement
//! and response, director's acknowledgement, final response), each message by the complainant's own route (email to the one
//! who emailed, letters to the one who wrote) or, for internal alerts, to
//! a staff mailbox; every message was sent once; every email and letter is
//! in the outbox folder, each email with the notification's id as its
//! `Message-ID`. The rules in full: `docs/policy.md`.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use complaints_proto::complaints::common::v1 as common;

use crate::clock_suite::{
    NotificationChannel, NotificationKind, NotificationState, STAFF_DOMAIN, instant,
};
use crate::policy_support::{GRACE, Journey, POSTCODE, close, complainant_notices};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_went_in_policy_order_to_the_right_person_by_the_right_route() {
    let mut journey = Journey::to_the_close().await;
    let web = journey.web_complaint().await;
    close(&mut journey.c, &web.case_id).await;
    journey.c.advance(Duration::days(60)).await;
    let Journey {
        suite,
        c,
        email,
        post,
        ..
    } = &mut journey;

    let notices = complainant_notices(c, &email.case_id).await;
    let in_order: Vec<(NotificationKind, common::Stage)> =
        notices.iter().map(|n| (n.kind(), n.stage())).collect();
    use NotificationKind::{
        Acknowledgement, FinalResponse, HoldingUpdate, ReferralUpdate, ReviewAcknowledgement,
        StageResponse,
    };
    use common::Stage::{Stage1, Stage2, Stage3};
    assert_eq!(
        in_order,
        [
            (Acknowledgement, Stage1),
            (ReferralUpdate, Stage1),
            // The resolution date passed unanswered: when we will be in
            // touch next.
            (HoldingUpdate, Stage1),
            (StageResponse, Stage1),
            (ReviewAcknowledgement, Stage2),
            (StageResponse, Stage2),
            (ReviewAcknowledgement, Stage3),
            (FinalResponse, Stage3),
        ]
    );
    let sent_at: Vec<DateTime<Utc>> = notices
        .iter()
        .map(|n| instant(n.sent_at.as_ref().unwrap()))
        .collect();
    assert!(sent_at.is_sorted(), "sent in that order: {sent_at:?}");

    let mut emailed = BTreeSet::new();
    let mut posted = BTreeSet::new();
    for case in [&*email, &*post, &web] {
        for n in c.notifications(&case.case_id).await {
            assert_eq!(n.state(), NotificationState::Sent, "{n:#?}");
            assert_eq!(n.attempts, 1, "{n:#?}");
            if n.kind() == NotificationKind::InternalAlert {
                assert_eq!(n.channel(), NotificationChannel::Email, "{n:#?}");
                let role = n
                    .recipient
                    .strip_suffix(&format!("@{STAFF_DOMAIN}"))
                    .unwrap_or_else(|| panic!("an alert to a staff mailbox: {n:#?}"));
                assert!(
                    ["complaints_handler", "cx_manager", "ops_lead", "director"].contains(&role),
                    "{n:#?}"
                );
            } else if case.case_id == post.case_id {
                assert_eq!(n.channel(), NotificationChannel::Post, "{n:#?}");
                assert!(n.recipient.contains(POSTCODE), "{n:#?}");
            } else {
                assert_eq!(n.channel(), NotificationChannel::Email, "{n:#?}");
                assert_eq!(n.recipient, GRACE, "{n:#?}");
            }
            if n.channel() == NotificationChannel::Email {
                emailed.insert(n.notification_id);
            } else {
                posted.insert(n.notification_id);
            }
        }
    }
    assert_eq!(
        files(&suite.email_outbox(), "eml"),
        emailed,
        "one .eml per email sent"
    );
    assert_eq!(
        files(&suite.letter_outbox(), "pdf"),
        posted,
        "one .pdf per letter"
    );

    let acknowledgement = &notices[0];
    let eml = std::fs::read_to_string(
        suite
            .email_outbox()
            .join(format!("{}.eml", acknowledgement.notification_id)),
    )
    .unwrap();
    let message_id = header(&eml, "Message-ID").unwrap_or_else(|| panic!("no Message-ID:\n{eml}"));
    assert!(
        acknowledgement.notification_id.starts_with("ntf-")
            && message_id.starts_with(&format!("<{}@", acknowledgement.notification_id))
            && message_id.ends_with('>'),
        "the Message-ID is the notification id: {message_id}"
    );
    assert!(header(&eml, "To").unwrap().contains(GRACE), "{eml}");
    assert!(eml.contains(&email.register_number), "{eml}");
    journey.suite.process.ensure_running().unwrap();
}

/// The names (without extension) of the `extension` files in `dir`.
fn files(dir: &std::path::Path, extension: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The value of an email header (unfolded), by case-insensitive name.
fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next()?;
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}
